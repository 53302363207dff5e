"""Programs the parallel tests run in fresh processes (device count and the
distributed runtime are fixed when JAX starts, so they cannot run in pytest's own).

  python tests/parallel_programs.py data_parallel OUT.npz
  python tests/parallel_programs.py process OUT.npz COORDINATOR NUM_PROCESSES PROCESS_ID [DIE_AFTER]
"""

import os
import sys

import jax
import numpy as np
import optax

import gan_jax as gj
from gan_jax import data, models, parallel
from gan_jax import xla_cpu

STEPS = 3
GLOBAL_BATCH = 32


def toy_gan():
  """A small WGAN-GP MLP pair with a generator EMA."""
  return gj.GAN(
      generator=models.mlp_generator(2, hidden=(32, 32)),
      discriminator=models.mlp_discriminator(hidden=(32, 32)),
      # SGD, not Adam: Adam turns float-level noise in a near-zero gradient into a
      # step of size lr, which would hide what the comparison is about.
      g_optimizer=optax.chain(optax.sgd(1e-2, momentum=0.5), gj.ema_params(0.9)),
      d_optimizer=optax.sgd(1e-2, momentum=0.5),
      game=gj.games.wasserstein(),
      latent_dim=4,
  )


def train_step(gan):
  return gj.make_train_step(gan, d_steps=2, penalty=gj.penalties.gradient_penalty, penalty_weight=10.0)


def flat(state):
  return {str(i): np.asarray(x) for i, x in enumerate(jax.tree.leaves(parallel.fetch(state)))}


def data_parallel(out):
  """Single-device and 8-device steps on the same global batches."""
  gan = toy_gan()
  source = data.SyntheticDataset(data.ring(), batch_size=2 * GLOBAL_BATCH, seed=0)
  state = gj.init_state(gan, jax.random.key(0), source.batch_at(0))
  single = jax.jit(train_step(gan))
  mesh = parallel.data_mesh()
  assert mesh.devices.size == 8, mesh
  sharded = jax.jit(parallel.make_data_parallel_step(train_step(gan), mesh), donate_argnums=0)
  s1, s8 = state, parallel.replicate(state, mesh)
  for i in range(STEPS):
    key = jax.random.fold_in(jax.random.key(1), i)
    s1, m1 = single(s1, source.batch_at(i), key)
    s8, m8 = sharded(s8, parallel.shard_batch(source.batch_at(i), mesh), key)
  # A population of 8 members with the member axis split over the 8 devices.
  hparams = parallel.stack_hparams([{"gp": float(g)} for g in range(8)])
  build = lambda h: gj.make_train_step(gan, d_steps=2, penalty=gj.penalties.gradient_penalty,
                                       penalty_weight=h["gp"])
  members = jax.tree.map(lambda x: np.stack([x] * 8), state)
  batches = np.stack([source.batch_at(i) for i in range(8)])
  keys = jax.random.split(jax.random.key(2), 8)
  pop = parallel.make_population_step(build)
  p1, _ = jax.jit(pop)(members, batches, keys, hparams)
  p8, _ = jax.jit(parallel.make_sharded_population_step(pop, mesh))(members, batches, keys, hparams)
  np.savez(out, **{"single/" + k: v for k, v in flat(s1).items()},
           **{"sharded/" + k: v for k, v in flat(s8).items()},
           **{"single/pop" + k: v for k, v in flat(p1).items()},
           **{"sharded/pop" + k: v for k, v in flat(p8).items()},
           pop_shards=np.asarray(len(p8.d_params["Dense_0"]["kernel"].sharding.device_set)),
           shards=np.asarray(len(s8.g_params["Dense_0"]["kernel"].sharding.device_set)),
           m1=np.asarray(m1["d_loss"]), m8=np.asarray(parallel.fetch(m8)["d_loss"]))


def process(out, coordinator, num_processes, process_id, die_after=None):
  """One process of a multi-process run (or the whole run when num_processes == 1)."""
  num_processes, process_id = int(num_processes), int(process_id)
  if num_processes > 1:
    parallel.initialize_distributed(coordinator, num_processes, process_id, heartbeat_timeout_seconds=5)
  gan = toy_gan()
  source = data.SyntheticDataset(
      data.ring(), batch_size=2 * GLOBAL_BATCH, seed=0,
      process_index=jax.process_index(), process_count=jax.process_count(),
  )
  mesh = parallel.data_mesh()
  state = parallel.replicate(gj.init_state(gan, jax.random.key(0), source.batch_at(0)), mesh)
  step = jax.jit(parallel.make_data_parallel_step(train_step(gan), mesh), donate_argnums=0)
  with parallel.exit_on_peer_failure():
    for i in range(STEPS if die_after is None else 1000):
      if die_after is not None and process_id == 1 and i == int(die_after):
        os._exit(1)  # a peer dies mid-run
      state, metrics = step(state, parallel.shard_batch(source.batch_at(i), mesh),
                            jax.random.fold_in(jax.random.key(1), i))
      parallel.fetch(metrics)
  if process_id == 0:
    np.savez(out, **flat(state))


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  {"data_parallel": data_parallel, "process": process}[sys.argv[1]](*sys.argv[2:])
