"""Throughput of a population of N toy-mixture runs in one program against N sequential runs.

  python -m benchmarks.population [--members 8] [--steps 500] [--repeats 3]

Both sides train the same N WGAN-GP MLP pairs (2-D ring, 5 critic steps, batch 256,
different seeds and learning rates) for the same number of steps, each side fused
into `lax.scan` chunks so neither pays Python dispatch per step; the figure is
steps per second summed over members, median of `--repeats` runs after a warm-up.
"""

import argparse
import statistics
import time

import jax
import numpy as np
import optax

import gan_jax as gj
from gan_jax import data, models, parallel
from gan_jax import xla_cpu

D_STEPS, BATCH, CHUNK = 5, 256, 50


def build_gan(h):
  return gj.GAN(
      generator=models.mlp_generator(2),
      discriminator=models.mlp_discriminator(),
      g_optimizer=optax.adam(h["lr"], b1=0.0, b2=0.9),
      d_optimizer=optax.adam(h["lr"], b1=0.0, b2=0.9),
      game=gj.games.wasserstein(),
      latent_dim=2,
  )


def build_step(h):
  step = gj.make_train_step(build_gan(h), d_steps=D_STEPS, penalty=gj.penalties.gradient_penalty,
                            penalty_weight=10.0)
  return gj.make_multi_step(step, CHUNK)


def chunks(seed, steps):
  source = data.SyntheticDataset(data.ring(), batch_size=D_STEPS * BATCH, seed=seed)
  for start in range(0, steps, CHUNK):
    yield np.stack([source.batch_at(s) for s in range(start, start + CHUNK)])


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--members", type=int, default=8)
  parser.add_argument("--steps", type=int, default=500)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  members = [{"lr": float(lr)} for lr in np.geomspace(1e-4, 1e-3, args.members)]
  hparams = parallel.stack_hparams(members)
  example = next(chunks(0, CHUNK))[0]
  batches = [list(chunks(seed, args.steps)) for seed in range(args.members)]
  stacked = [np.stack(c) for c in zip(*batches)]

  pop_step = jax.jit(parallel.make_population_step(build_step), donate_argnums=0)
  keys = jax.vmap(jax.random.key)(np.arange(args.members))

  def run_population():
    states = parallel.init_population(lambda k, h: gj.init_state(build_gan(h), k, example), keys, hparams)
    for chunk in stacked:
      states, metrics = pop_step(states, chunk, keys, hparams)
    jax.block_until_ready(metrics)

  solo_steps = [jax.jit(build_step(h), donate_argnums=0) for h in members]

  def run_sequential():
    for i, h in enumerate(members):
      state = gj.init_state(build_gan(h), jax.random.key(i), example)
      for chunk in batches[i]:
        state, metrics = solo_steps[i](state, chunk, jax.random.key(i))
      jax.block_until_ready(metrics)

  results = {}
  for name, fn in [("population (one program)", run_population), ("sequential runs", run_sequential)]:
    fn()  # compile and warm up
    times = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      fn()
      times.append(time.perf_counter() - start)
    results[name] = statistics.median(times)

  total = args.members * args.steps
  print(f"{args.members} members x {args.steps} steps (WGAN-GP ring, 5 critic steps, batch {BATCH}), "
        f"{jax.device_count()} x {jax.devices()[0].device_kind}")
  print("| mode | median wall (s) | member-steps/s |")
  print("|---|---|---|")
  for name, t in results.items():
    print(f"| {name} | {t:.2f} | {total / t:.0f} |")
  print(f"population speed-up: {results['sequential runs'] / results['population (one program)']:.2f}x")


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  main()
