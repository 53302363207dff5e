"""The end-to-end table of `benchmarks/run.py` on a CUDA GPU: gan_jax against PyTorch.

  python -m benchmarks.gpu [--repeats 20] [--ring-steps 2000] [--dtype bfloat16]

The same workloads and models as `benchmarks.run` (DCGAN batch 64 and 128, WGAN-GP
with 5 critic steps, the ring MLP GAN end to end), both frameworks on the GPU in one
process, float32 storage.

`--dtype float32` (the default): both use TF32 tensor cores for float32 matrix
products and convolutions (JAX's default precision on GPU; PyTorch with
`allow_tf32`), so the peak they are compared with is the measured TF32 matmul rate;
the bf16 rate is printed beside it.

`--dtype bfloat16`: mixed precision for the DCGAN and WGAN-GP workloads. gan_jax's
networks compute in bfloat16 (`dtype="bfloat16"`: float32 parameters, optimizer,
normalization statistics, logits and losses); PyTorch's steps run under
`torch.autocast("cuda", dtype=torch.bfloat16)`. Their peak fraction is against the
measured bf16 matmul rate. The ring's MLPs stay float32 in both frameworks (their
fraction is against the TF32 rate, marked so in the table).

PyTorch steps end with `torch.cuda.synchronize()`, gan_jax steps with
`block_until_ready`.
"""

import argparse
import contextlib
import types

import numpy as np

from benchmarks import run as end_to_end
from benchmarks import timing
from benchmarks import torch_dcgan
from gan_jax import xla_cpu


# Workloads whose networks compute in the `--dtype` (the ring's MLPs stay float32).
_MIXED_PRECISION_WORKLOADS = ("dcgan64", "dcgan128", "wgan_gp")


def _torch_on_cuda(dtype: str = "float32"):
  """Points `torch_dcgan`'s PyTorch code at the GPU and makes its steps synchronous.

  Args:
    dtype: "float32", or "bfloat16" to run the DCGAN and WGAN-GP steps under
      `torch.autocast` (bf16 convolutions and matmuls, float32 weights). The whole
      step runs under it, backward and optimizer included: `torch_dcgan`'s steps do
      not separate their forward passes, and the backward ops take the dtypes of
      the forward ones either way.

  Returns:
    The GPU's name.
  """
  import torch  # pylint: disable=g-import-not-at-top

  torch.set_default_device("cuda")
  torch.backends.cuda.matmul.allow_tf32 = True
  torch.backends.cudnn.allow_tf32 = True
  torch.backends.cudnn.benchmark = True
  from_numpy = torch.from_numpy
  torch.from_numpy = lambda array: from_numpy(array).cuda()

  def synchronized(make, autocast: bool):
    def make_synchronized(*args, **kwargs):
      fn = make(*args, **kwargs)

      def run():
        with (torch.autocast("cuda", dtype=torch.bfloat16) if autocast
              else contextlib.nullcontext()):
          out = fn()
        torch.cuda.synchronize()
        return out

      return run

    return make_synchronized

  mixed = dtype == "bfloat16"
  for name, autocast in (("make_dcgan_step", mixed), ("make_wgan_gp_step", mixed),
                         ("make_ring_run", False)):
    setattr(torch_dcgan, name, synchronized(getattr(torch_dcgan, name), autocast))
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
  parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                      help="computation dtype of the DCGAN and WGAN-GP networks "
                           "(bfloat16: gan_jax dtype='bfloat16', PyTorch autocast)")
  args = parser.parse_args(argv)
  mixed = args.dtype == "bfloat16"
  device = _torch_on_cuda(args.dtype)
  peaks = matmul_peaks()
  options = types.SimpleNamespace(
      upsampling=list(end_to_end.UPSAMPLINGS), no_donate=False, torch_threads=[1],
      repeats=args.repeats, ring_steps=args.ring_steps, dtype=args.dtype if mixed else None)
  peak_name = "bf16" if mixed else "tf32"
  print(f"{device}; measured matmul peak: {peaks['tf32'] / 1e12:.0f} TFLOP/s TF32, "
        f"{peaks['bf16'] / 1e12:.0f} TFLOP/s bf16")
  print(f"compute dtype: {args.dtype}" + (
      " (DCGAN and WGAN-GP; gan_jax dtype='bfloat16' with float32 parameters, PyTorch "
      "under torch.autocast; the ring MLPs stay float32)" if mixed
      else " (TF32 matmuls and convolutions)"))
  header = ["workload", "implementation", "median ms/step", "vs PyTorch", "TFLOP/s",
            f"of {peak_name.upper()} peak"]
  rows = []
  for workload in end_to_end.WORKLOADS:
    results = end_to_end.bench_workload(workload, options)
    torch_ms = min(r.ms for r in results if r.implementation.startswith("PyTorch"))
    # Each row against the peak of the dtype it computes in.
    in_dtype = workload in _MIXED_PRECISION_WORKLOADS or not mixed
    peak = peaks[peak_name if in_dtype else "tf32"]
    for r in results:
      rate = r.flops / (r.ms / 1e3) if r.flops else None
      fraction = (f"{rate / peak:.1%}" + ("" if in_dtype else " (of TF32)")) if rate else ""
      rows.append([workload, r.implementation.replace(" (1 thread)", ""), f"{r.ms:.2f}",
                   f"{torch_ms / r.ms:.2f}x",
                   f"{rate / 1e12:.2f}" if rate else "", fraction])
  print(timing.markdown_table(header, rows))


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  main()
