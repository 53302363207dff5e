"""Populations: runs that differ only in traced values train as one compiled program.

Values such as the seed, the learning rates and the gradient-penalty weight enter
the train step as data, not as structure: N runs that differ only in them share
one program, `jax.vmap`ped over a leading member axis of the state, the batches,
the keys and the hyperparameters. On an accelerator that is far faster than N
runs one after another while each run alone leaves the device idle (small models).

A config becomes a population in two ways:

  --config.num_seeds=N          # seeds seed, seed + 1, ..., seed + N - 1
  --sweep                       # get_sweep() members that differ only in TRACED_FIELDS

`plan` groups the members of a sweep: members whose configs agree on everything
but `TRACED_FIELDS` form one population; the rest stay separate runs. Whether a
switch is on (momentum, lr_min, clip, EMA, penalty weight: zero or not) is
structure, so `ema=0` and `ema=0.999` members are separate runs.

A population's workdir holds one checkpoint of the stacked state,
`metrics.jsonl` with each metric's mean over the members and its spread
(`NAME/std`, `NAME/min`, `NAME/max`), and `members/NAME/` with each member's own
`metrics.jsonl`, `samples/` and `tensorboard/`. Each member trains exactly as its
standalone run with the same config would (to float rounding).
"""

import json
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import ml_collections
import numpy as np

import gan_jax
from gan_jax import parallel
from experiments import builders
from experiments import optimizers
from experiments import sweeps
from experiments.builders import UserError

_OPTIMIZER_FIELDS = ("lr", "b1", "b2", "eps", "decay", "momentum", "lr_min", "clip", "ema",
                     "max_norm", "momentum_final")
# The config fields a population's members may differ in.
TRACED_FIELDS = ("seed", "penalty_weight", *(f"{player}.{field}" for player in (
    "g_optimizer", "d_optimizer") for field in _OPTIMIZER_FIELDS))
HPARAM_FIELDS = TRACED_FIELDS[1:]  # The seed becomes keys and data, not a hyperparameter.


def _get(config, dotted: str):
  node = config
  for part in dotted.split("."):
    node = node[part]
  return node


def signature(config: ml_collections.ConfigDict) -> str:
  """What the members of one population share: everything but the traced values."""
  tree = config.to_dict()
  tree.pop("num_seeds", None)
  for field in TRACED_FIELDS:
    *parents, leaf = field.split(".")
    node = tree
    for part in parents:
      node = node[part]
    value = node.pop(leaf)
    if leaf in optimizers.SWITCHES or leaf == "penalty_weight":
      node[leaf + " is on"] = bool(value)
  return json.dumps(tree, sort_keys=True, default=str)


class Member(NamedTuple):
  name: str  # its folder under the job's workdir (members/NAME), e.g. "seed=1"
  config: ml_collections.ConfigDict


class Job(NamedTuple):
  """One run, or one population of runs in a single program."""

  name: str  # its folder under a sweep's workdir
  members: tuple  # of Member: one for a single run

  @property
  def is_population(self) -> bool:
    return len(self.members) > 1


def _with_seeds(config, overrides: list[dict]) -> list[dict]:
  """Each override once per seed when `config.num_seeds > 1`."""
  if config.num_seeds == 1:
    return overrides
  return [{**o, "seed": o.get("seed", config.seed) + i}
          for o in overrides for i in range(config.num_seeds)]


def plan(config: ml_collections.ConfigDict, overrides: Optional[list[dict]] = None) -> list[Job]:
  """The jobs of a run (`overrides=None`) or of a sweep's members, in order.

  Members that differ only in `TRACED_FIELDS` become one population job, named
  after the overrides they share ("population" when they share none); the others
  are single-run jobs named after their overrides.

  Raises:
    UserError: `num_seeds` < 1, or an override the config cannot take.
  """
  if config.num_seeds < 1:
    raise UserError(f"num_seeds={config.num_seeds} is impossible: it must be >= 1 "
                    "(--config.num_seeds=N trains seeds seed .. seed + N - 1 as one population)")
  groups: dict[str, list] = {}
  for override in _with_seeds(config, overrides or [{}]):
    name = sweeps.member_name(override)
    try:
      member_config = sweeps.apply_override(config, override)
    except (KeyError, TypeError, ValueError) as e:
      raise UserError(f"sweep member {name}: {str(e).strip(chr(34))}; fix get_sweep()") from None
    member_config.num_seeds = 1
    groups.setdefault(signature(member_config), []).append((override, member_config))
  jobs, taken = [], set()
  for group in groups.values():
    if len(group) == 1:
      override, member_config = group[0]
      name = sweeps.member_name(override)
      jobs.append(Job(name, (Member(name, member_config),)))
      continue
    shared = {k: v for k, v in group[0][0].items()
              if k not in TRACED_FIELDS and all(o.get(k) == v for o, _ in group)}
    name = sweeps.member_name(shared) if shared else "population"
    suffix = 2
    while name in taken:
      name, suffix = f"{name.rsplit('~', 1)[0]}~{suffix}", suffix + 1
    members = tuple(
        Member(sweeps.member_name({k: v for k, v in o.items() if k not in shared}), c)
        for o, c in group)
    jobs.append(Job(name, members))
    taken.add(name)
  return jobs


# --- Building a population ----------------------------------------------------


class Population(NamedTuple):
  """N runs of one config that differ only in traced values, as one program.

  Attributes:
    config: the first member's config (the loop, data and models of all).
    members: the `Member`s.
    experiment: the first member's `builders.Experiment` (its GAN samples for
      any member: sampling reads no optimizer hyperparameter).
    hparams: `{field: f32[N]}` of `HPARAM_FIELDS`.
    member_experiments: each member as an `Experiment` (its config, its seed's
      data source and evaluation key), for its batches and its evaluation.
    train: `(states, batches [N, steps_per_call, rows, ...], keys [N]) ->
      (states, metrics {name: [N]})`, jitted.
    abstract_state: the stacked state as `jax.ShapeDtypeStruct`s.
    init_key, train_key: `[N]` keys, each member's own (from its seed).
    mesh: the devices when more than one; the members are split over them when
      N is a multiple of their number, otherwise each batch is.
    layout: None (one device), "members" or "batch".
  """

  config: ml_collections.ConfigDict
  members: tuple
  experiment: builders.Experiment
  hparams: dict
  member_experiments: tuple
  train: Callable
  abstract_state: Any
  init_key: jax.Array
  train_key: jax.Array
  mesh: Optional[Mesh]
  layout: Optional[str]

  @property
  def writer(self) -> bool:
    return jax.process_index() == 0

  @property
  def size(self) -> int:
    return len(self.members)

  def init_state(self):
    # A jax array: under eval_shape a numpy constant would reach custom_vjp layers
    # (adjoint convolutions) uncanonicalised, which JAX refuses.
    examples = jnp.asarray(np.stack([e.example() for e in self.member_experiments]))
    data = self.experiment.data
    spec = data.spec

    def init(key, example, hparams):
      gan = builders.build_gan(self.config, spec, hparams, data=data)
      return gan_jax.init_state(gan, key, example)

    return jax.vmap(init)(self.init_key, examples, self.hparams)

  def start_state(self):
    state = self.init_state()
    return state if self.mesh is None else parallel.place(state, self._state_sharding())

  def _state_sharding(self):
    return NamedSharding(self.mesh, P(parallel.DATA) if self.layout == "members" else P())

  def batches(self, step: int, num: int, members=None) -> np.ndarray:
    """`[len(members), num, rows, ...]`: each member's own batches (all by default)."""
    members = range(self.size) if members is None else members
    return np.stack([self.member_experiments[i].batches(step, num) for i in members])

  def device_batches(self, step: int, num: int):
    if self.mesh is None:
      return self.batches(step, num)
    if self.layout == "batch":  # This process's rows of every member's batch.
      return parallel.shard_batch(self.batches(step, num), self.mesh, batch_axis=2)
    rows = self.config.d_steps * self.config.data.batch_size
    shape = (self.size, num, rows, *self.experiment.data.spec.shape)
    sharding = NamedSharding(self.mesh, P(parallel.DATA))
    return jax.make_array_from_callback(
        shape, sharding, lambda index: self.batches(step, num, range(self.size)[index[0]]))


def build(members: tuple) -> Population:
  """Builds the population of `members` (configs that differ only in TRACED_FIELDS).

  Raises:
    UserError: a member's config is invalid, or the population cannot be split
      over the devices.
  """
  first = members[0].config
  for member in members:
    try:
      builders.check(member.config)
    except UserError as e:
      raise UserError(f"population member {member.name}: {e}") from None
  n, devices = len(members), jax.devices()
  rows = first.d_steps * first.data.batch_size
  layout = None
  if len(devices) > 1:
    layout = "members" if n % len(devices) == 0 else "batch"
    if layout == "batch" and rows % len(devices):
      raise UserError(
          f"a population of {n} members on {len(devices)} devices splits each batch, but "
          f"d_steps * data.batch_size = {rows} rows do not split over them; use a multiple of "
          f"{len(devices)} members or of {len(devices)} rows (--config.data.batch_size)")
  # The first member's experiment validates the networks against the data; a
  # "members" layout reads whole batches (each process builds its own members').
  experiment = builders.build(first, whole_batch=layout == "members", members=n)
  member_experiments = tuple(
      experiment._replace(config=m.config, eval_key=builders.keys(m.config.seed)[2],
                          data=experiment.data._replace(
                              source=experiment.data.source.reseeded(m.config.seed)))
      for m in members)
  hparams = {field: np.asarray([_get(m.config, field) for m in members], np.float32)
             for field in HPARAM_FIELDS}
  seeds = np.asarray([m.config.seed for m in members])
  init_key, train_key, _ = jax.vmap(builders.keys)(seeds)
  spec = experiment.data.spec

  population_step = parallel.make_population_step(
      lambda h: builders.make_multi_step(first, builders.build_gan(first, spec, h), h))
  mesh = None if layout is None else parallel.data_mesh(devices)
  if mesh is not None:  # [N, steps, rows, ...] batches: their rows are axis 2.
    population_step = parallel.make_sharded_population_step(population_step, mesh,
                                                            split=layout, batch_axis=2)
  train_fn = jax.jit(lambda states, batches, keys: population_step(states, batches, keys,
                                                                   hparams),
                     donate_argnums=0)
  population = Population(first, tuple(members), experiment, hparams, member_experiments,
                          train_fn, None, init_key, train_key, mesh, layout)
  abstract_state = jax.eval_shape(population.init_state)
  if mesh is not None:
    sharding = population._state_sharding()  # pylint: disable=protected-access
    abstract_state = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding), abstract_state)
  return population._replace(abstract_state=abstract_state)


def spread(records: list[dict]) -> dict:
  """Each metric's mean over the members, with `NAME/std`, `NAME/min`, `NAME/max`."""
  out = {}
  for name in records[0]:
    values = np.asarray([r[name] for r in records], np.float64)
    out[name] = float(np.mean(values))
    out[f"{name}/std"] = float(np.std(values))
    out[f"{name}/min"] = float(np.min(values))
    out[f"{name}/max"] = float(np.max(values))
  return out


def member_values(config: ml_collections.ConfigDict) -> dict:
  """The traced values of one member's config, by dotted field."""
  return {field: _get(config, field) for field in TRACED_FIELDS}
