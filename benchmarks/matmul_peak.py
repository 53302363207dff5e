"""The machine's practical float32 peak: FLOP/s of a large square matmul.

`2 n^3` floating-point operations per `n x n` float32 matmul, timed for JAX (jitted
`jnp.dot`, XLA's CPU backend) and PyTorch (`torch.mm`, when installed), the median
of interleaved repeats after warm-up. `benchmarks/run.py` divides each step's
FLOPs (from XLA's cost analysis) by its time and by this peak to tell how much of
the machine a GAN step uses.

Usage:

  python -m benchmarks.matmul_peak [--sizes 2048 4096] [--repeats 7]
"""

import argparse

from benchmarks import timing
from gan_jax import xla_cpu


def matmul_fns(n: int) -> dict:
  """name -> zero-argument callable running one `n x n` float32 matmul."""
  import gan_jax  # pylint: disable=g-import-not-at-top,unused-import  # its XLA CPU flags
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  matmul = jax.jit(jnp.dot)
  fns = {"jax": lambda: jax.block_until_ready(matmul(a, b))}
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    return fns
  ta, tb = torch.randn(n, n), torch.randn(n, n)
  fns["torch"] = lambda: torch.mm(ta, tb)
  return fns


def peak_flops(sizes=(2048, 4096), repeats: int = 7,
               best: bool = False) -> dict[str, dict[int, float]]:
  """framework -> size -> FLOP/s of a float32 `size x size` matmul.

  The median of `repeats`, or with `best` the fastest: a peak to compare other
  work against, less sensitive to a busy stretch of the machine.
  """
  results = {}
  for n in sizes:
    times = timing.interleaved(matmul_fns(n), repeats=repeats)
    for name, ts in times.items():
      seconds = min(ts) if best else timing.median_ms(ts) / 1e3
      results.setdefault(name, {})[n] = 2 * n ** 3 / seconds
  return results


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096])
  parser.add_argument("--repeats", type=int, default=7)
  args = parser.parse_args(argv)
  timing.passive_openmp()
  results = peak_flops(args.sizes, args.repeats)
  print(f"float32 square matmul, median of {args.repeats}. {timing.machine()}\n")
  print(timing.markdown_table(
      ["framework"] + [f"n={n} GFLOP/s" for n in args.sizes],
      [[name] + [by_size[n] / 1e9 for n in args.sizes] for name, by_size in results.items()]))


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  main()
