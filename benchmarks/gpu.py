"""The end-to-end table of `benchmarks/run.py` on a CUDA GPU: gan_jax against PyTorch.

  python -m benchmarks.gpu [--repeats 20] [--ring-steps 2000]

The same workloads and models as `benchmarks.run` (DCGAN batch 64 and 128, WGAN-GP
with 5 critic steps, the ring MLP GAN end to end), both frameworks on the GPU in one
process, float32 storage. Both use TF32 tensor cores for float32 matrix products
and convolutions (JAX's default precision on GPU; PyTorch with `allow_tf32`), so
the peak they are compared with is the measured TF32 matmul rate; the bf16 rate is
printed beside it. PyTorch steps end with `torch.cuda.synchronize()`, gan_jax steps
with `block_until_ready`.
"""

import argparse
import types

import numpy as np

from benchmarks import run as end_to_end
from benchmarks import timing
from benchmarks import torch_dcgan


def _torch_on_cuda():
  """Points `torch_dcgan`'s PyTorch code at the GPU and makes its steps synchronous."""
  import torch  # pylint: disable=g-import-not-at-top

  torch.set_default_device("cuda")
  torch.backends.cuda.matmul.allow_tf32 = True
  torch.backends.cudnn.allow_tf32 = True
  torch.backends.cudnn.benchmark = True
  from_numpy = torch.from_numpy
  torch.from_numpy = lambda array: from_numpy(array).cuda()

  def synchronized(make):
    def make_synchronized(*args, **kwargs):
      fn = make(*args, **kwargs)

      def run():
        out = fn()
        torch.cuda.synchronize()
        return out

      return run

    return make_synchronized

  for name in ("make_dcgan_step", "make_wgan_gp_step", "make_ring_run"):
    setattr(torch_dcgan, name, synchronized(getattr(torch_dcgan, name)))
  return torch.cuda.get_device_name()


def matmul_peaks(n: int = 8192, repeats: int = 10) -> dict:
  """Measured FLOP/s of an n x n x n product in JAX: float32 (TF32) and bfloat16."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  peaks = {}
  for name, dtype in (("tf32", jnp.float32), ("bf16", jnp.bfloat16)):
    a = jax.random.normal(jax.random.key(0), (n, n), dtype)
    f = jax.jit(lambda x: x @ x)
    times = timing.interleaved({name: lambda: f(a).block_until_ready()}, repeats=repeats)[name]
    peaks[name] = 2 * n**3 / np.median(times)
  return peaks


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--repeats", type=int, default=20)
  parser.add_argument("--ring-steps", type=int, default=2000)
  args = parser.parse_args(argv)
  device = _torch_on_cuda()
  peaks = matmul_peaks()
  options = types.SimpleNamespace(
      upsampling=list(end_to_end.UPSAMPLINGS), no_donate=False, torch_threads=[1],
      repeats=args.repeats, ring_steps=args.ring_steps)
  print(f"{device}; measured matmul peak: {peaks['tf32'] / 1e12:.0f} TFLOP/s TF32, "
        f"{peaks['bf16'] / 1e12:.0f} TFLOP/s bf16")
  header = ["workload", "implementation", "median ms/step", "vs PyTorch", "TFLOP/s",
            "of TF32 peak"]
  rows = []
  for workload in end_to_end.WORKLOADS:
    results = end_to_end.bench_workload(workload, options)
    torch_ms = min(r.ms for r in results if r.implementation.startswith("PyTorch"))
    for r in results:
      rate = r.flops / (r.ms / 1e3) if r.flops else None
      rows.append([workload, r.implementation.replace(" (1 thread)", ""), f"{r.ms:.2f}",
                   f"{torch_ms / r.ms:.2f}x",
                   f"{rate / 1e12:.2f}" if rate else "",
                   f"{rate / peaks['tf32']:.1%}" if rate else ""])
  print(timing.markdown_table(header, rows))


if __name__ == "__main__":
  main()
