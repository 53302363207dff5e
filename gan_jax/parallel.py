"""The same train step on one device, many devices and many hosts; populations of runs.

Data parallelism is `jit` over a one-axis device mesh (`"data"`): the state is
replicated, the global batch is split along its first axis, and XLA's SPMD
partitioner inserts the all-reduces. The step keeps its global-batch meaning:
losses, gradients, batch-norm statistics and metrics are means over the global
batch, so a data-parallel step equals the single-device step on the same global
batch (to float tolerance). Random draws inside the step (latents, penalty
interpolation, dropout) are taken for the global batch from one key, so every
device draws different values, while parameter initialisation and the EMA, which
come from replicated keys and replicated parameters, agree everywhere.

Across hosts the same code runs in every process after `initialize_distributed`;
each process reads its own slice of the global batch (`ArrayDataset(...,
process_index=jax.process_index(), process_count=jax.process_count())`) and
`shard_batch` assembles the global array.

A population is N runs of one architecture and loss in one compiled program: the
train step is `vmap`ped over a leading member axis of the state, the batch, the
key and the traced hyperparameters (learning rates, betas, penalty weight, EMA
decay), and that member axis can itself be sharded over the mesh.
"""

import contextlib
import os
import sys
from typing import Any, Callable, Mapping, Optional

import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA = "data"
MEMBERS = "members"


def initialize_distributed(
    coordinator_address: Optional[str] = None,
    num_processes: Optional[int] = None,
    process_id: Optional[int] = None,
    *,
    heartbeat_timeout_seconds: int = 100,
    initialization_timeout: int = 300,
) -> None:
  """Starts JAX's distributed runtime when the job has several processes.

  With no arguments JAX detects the cluster itself (TPU pod slices, Slurm, Open
  MPI); with a coordinator address it takes the explicit triple. A single-process
  job (no arguments and no cluster in the environment) is left alone. If a peer
  dies, the others are stopped by the runtime after `heartbeat_timeout_seconds`
  instead of waiting forever in a collective.

  Args:
    coordinator_address: "host:port" of process 0, or None to auto-detect.
    num_processes: total number of processes.
    process_id: this process's index in [0, num_processes).
    heartbeat_timeout_seconds: how long a silent peer is waited for.
    initialization_timeout: how long to wait for all processes to join.
  """
  explicit = coordinator_address is not None
  in_cluster = any(
      v in os.environ
      for v in ("SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "TPU_WORKER_HOSTNAMES", "MEGASCALE_COORDINATOR_ADDRESS")
  )
  if not explicit and not in_cluster:
    return
  jax.distributed.initialize(
      coordinator_address=coordinator_address,
      num_processes=num_processes,
      process_id=process_id,
      heartbeat_timeout_seconds=heartbeat_timeout_seconds,
      initialization_timeout=initialization_timeout,
  )


@contextlib.contextmanager
def exit_on_peer_failure(note: str = ""):
  """Turns a collective that failed because a peer process died into a clear exit.

  In a multi-process job, a `JaxRuntimeError` inside the block prints one line
  naming the failure and ends this process with status 1 at once, instead of a
  traceback followed by a wait on the runtime's shutdown barrier for the dead
  peer. In a single-process job the error propagates unchanged.

  Args:
    note: appended to the line (e.g. where this process's runtime log went).
  """
  try:
    yield
  except jax.errors.JaxRuntimeError as e:
    if jax.process_count() == 1:
      raise
    reason = str(e).strip().splitlines()[0]
    reason = reason.replace("Error dispatching computation: ", "")[:200]
    sys.stderr.write(
        f"error: process {jax.process_index()} of {jax.process_count()}: a collective failed "
        f"({reason}); another process has probably died, see its log; stopping this one"
        f"{'; ' + note if note else ''}.\n"
    )
    sys.stderr.flush()
    os._exit(1)


def data_mesh(devices=None) -> Mesh:
  """A one-axis mesh named "data" over `devices` (all devices of all processes by default)."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA,))


def place(tree, sharding):
  """Places the host values of `tree` (the same in every process) as arrays of `sharding`."""
  def one(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])
  return jax.tree.map(one, tree)


def replicate(tree, mesh: Mesh):
  """Places every leaf of `tree` on every device of `mesh` (the same value in every process)."""
  return place(tree, NamedSharding(mesh, P()))


def _batch_spec(batch_axis: int) -> P:
  return P(*([None] * batch_axis), DATA)


def shard_batch(local_batch, mesh: Mesh, batch_axis: int = 0):
  """Assembles the global batch from this process's rows `[B / process_count, ...]`.

  Process p's rows become rows `p * B/process_count ...` of the global batch, the
  order in which `ArrayDataset`/`SyntheticDataset` split a global batch.
  `batch_axis` is the axis of the rows (1 for `[steps, B, ...]` stacks of
  `make_multi_step`).
  """
  sharding = NamedSharding(mesh, _batch_spec(batch_axis))
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), local_batch
  )


def _constrained(fn: Callable, mesh: Mesh, in_specs: tuple, out_specs: tuple) -> Callable:
  """`fn` with each argument and output held to its PartitionSpec on `mesh` (a spec
  applies to every leaf of its argument): under `jit` the partitioner lays the
  program out from these, whatever devices the inputs arrive on."""
  def hold(tree, spec):
    return jax.lax.with_sharding_constraint(tree, NamedSharding(mesh, spec))

  def constrained(*args):
    if len(args) != len(in_specs):
      raise TypeError(f"expected {len(in_specs)} arguments, got {len(args)}")
    outs = fn(*(hold(a, spec) for a, spec in zip(args, in_specs)))
    return tuple(hold(o, spec) for o, spec in zip(outs, out_specs))

  return constrained


def make_data_parallel_step(train_step: Callable, mesh: Mesh, *, batch_axis: int = 0) -> Callable:
  """`train_step` with a replicated state and a batch split over the mesh.

  Jit it at the call site, like every step factory's result:
  `jax.jit(make_data_parallel_step(step, mesh), donate_argnums=0)`.

  Args:
    train_step: `(state, batch, key) -> (state, metrics)` from `make_train_step`
      (or `make_multi_step`, with `batch_axis=1`).
    mesh: a mesh with a "data" axis (`data_mesh()`).
    batch_axis: the axis of the batch that holds the examples.

  Returns:
    `(state, batch, key) -> (state, metrics)`; pass it a `replicate`d state, a
    `shard_batch`ed batch and a `replicate`d key; metrics come back replicated.
  """
  return _constrained(train_step, mesh, (P(), _batch_spec(batch_axis), P()), (P(), P()))


def fetch(tree) -> Any:
  """Brings replicated arrays to this host as numpy (safe in multi-process jobs)."""

  def local(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      x = x.addressable_data(0)
    return np.asarray(x)

  return jax.tree.map(local, tree)


def gather(tree) -> Any:
  """Host copies of whole global arrays, also those split over processes.

  Unlike `fetch`, a collective when an array spans processes: every process
  must call it.
  """
  def one(x):
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)

  return jax.tree.map(one, tree)


# Populations ---------------------------------------------------------------------


def stack_hparams(members: list[Mapping[str, float]]) -> dict:
  """[{"lr": 1e-4, ...}, {"lr": 2e-4, ...}] -> {"lr": f32[2], ...} (same keys in every member)."""
  keys = set(members[0])
  if any(set(m) != keys for m in members):
    raise ValueError("every population member must set the same hyperparameters.")
  return {k: jnp.asarray([m[k] for m in members], jnp.float32) for k in sorted(keys)}


def init_population(init_fn: Callable, keys: jax.Array, hparams: Mapping[str, jax.Array]):
  """Initialises N members at once: `vmap(init_fn)(keys [N], hparams {name: [N]})`.

  Args:
    init_fn: `(key, hparams) -> state` for one member (its hyperparameters traced).
    keys: `[N]` PRNG keys, one per member (its seed).
    hparams: each hyperparameter as an array `[N]`.

  Returns:
    The state with a leading member axis on every leaf.
  """
  return jax.vmap(init_fn)(keys, dict(hparams))


def make_population_step(build_step: Callable) -> Callable:
  """N train steps as one: `vmap` over members of state, batch, key and hyperparameters.

  Args:
    build_step: `hparams -> step`, building one member's train step from its traced
      hyperparameters, e.g.
      `lambda h: make_train_step(make_gan(lr=h["lr"]), penalty_weight=h["gp"], ...)`.
      Only values that can be traced may vary (learning rates, betas, penalty
      weight, EMA decay); architecture and loss stay separate runs.

  Returns:
    `step(states [N, ...], batches [N, ...], keys [N], hparams {name: [N]}) ->
    (states, metrics {name: [N]})`; jit it at the call site (or with
    `make_sharded_population_step` to spread members over devices).
  """

  def member_step(state, batch, key, hparams):
    return build_step(hparams)(state, batch, key)

  return jax.vmap(member_step)


def make_sharded_population_step(population_step: Callable, mesh: Mesh, *,
                                 split: str = "members", batch_axis: int = 1) -> Callable:
  """A population step spread over `mesh`'s first axis; jit it at the call site.

  Args:
    population_step: from `make_population_step`, `(states, batches, keys, hparams)
      -> (states, metrics)`.
    mesh: a one-axis mesh (`data_mesh()`).
    split: "members": every member lives on one device, the member axis of every
      argument and output split over the mesh (the number of members a multiple of
      the devices); "batch": every member on every device, each member's batch
      split over the mesh along `batch_axis` (states, keys, hyperparameters and
      metrics replicated).
    batch_axis: the axis of the batches holding each member's examples (1 for
      `[N, B, ...]`, 2 for `make_multi_step`'s `[N, steps, B, ...]`).

  Returns:
    The population step, its arguments and outputs held to that layout.
  """
  axis = mesh.axis_names[0]
  if split == "members":
    return _constrained(population_step, mesh, (P(axis),) * 4, (P(axis),) * 2)
  if split == "batch":
    rows = P(*([None] * batch_axis), axis)
    return _constrained(population_step, mesh, (P(), rows, P(), P()), (P(), P()))
  raise ValueError(f"split={split!r}: use 'members' or 'batch'")
