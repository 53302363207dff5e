"""Micro-benchmark: DCGAN's stride-2 4x4 transposed convolution, forward and backward.

Times, for 128 -> 64 channels and batch 64 at 7x7 -> 14x14 and 14x14 -> 28x28:

* `nn.ConvTranspose(64, (4, 4), strides=(2, 2), padding="SAME", use_bias=False)`;
* `gan_jax.models.adjoint.AdjointConvTranspose(64, use_bias=False)`, the same map as
  the adjoint of a strided convolution (four stride-1 2x2 convolutions on CPU);
* PyTorch's `ConvTranspose2d(128, 64, 4, stride=2, padding=1, bias=False)` (NCHW),
  when PyTorch is installed (`pip install -r benchmarks/requirements.txt`);

the forward pass alone and forward + backward (gradients with respect to the kernel
and the input), each the median of interleaved repeats after warm-up. The JAX rows
run twice, in two subprocesses: with XLA's default CPU backend and with
`XLA_FLAGS=--xla_cpu_experimental_onednn_custom_call=true` (XLA reads its flags once,
before JAX is imported, hence the subprocesses).

Usage:

  python -m benchmarks.conv_transpose [--repeats 15]
"""

import argparse
import json
import os
import subprocess
import sys

from benchmarks import timing
from gan_jax import xla_cpu

ONEDNN = "--xla_cpu_experimental_onednn_custom_call=true"
BATCH, IN_FEATURES, FEATURES, KERNEL = 64, 128, 64, 4
SIDES = (7, 14)


def _jax_fns(side):
  """name -> (forward, forward + backward) zero-argument callables."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from gan_jax.models.adjoint import AdjointConvTranspose  # pylint: disable=g-import-not-at-top

  x = jax.random.normal(jax.random.key(0), (BATCH, side, side, IN_FEATURES))
  cotangent = jax.random.normal(jax.random.key(1), (BATCH, 2 * side, 2 * side, FEATURES))
  modules = {
      "jax nn.ConvTranspose": nn.ConvTranspose(FEATURES, (KERNEL, KERNEL), strides=(2, 2),
                                               padding="SAME", use_bias=False),
      "jax AdjointConvTranspose": AdjointConvTranspose(FEATURES, use_bias=False),
  }
  params = modules["jax AdjointConvTranspose"].init(jax.random.key(2), x)
  fns = {}
  for name, module in modules.items():
    forward = jax.jit(module.apply)
    # value_and_grad: the loss needs the forward output (a bare grad of this linear
    # loss would let XLA drop the forward pass, which PyTorch's timing includes).
    backward = jax.jit(jax.value_and_grad(
        lambda p, x, m=module: jnp.vdot(m.apply(p, x), cotangent), argnums=(0, 1)))
    fns[name] = (lambda f=forward: jax.block_until_ready(f(params, x)),
                 lambda f=backward: jax.block_until_ready(f(params, x)))
  return fns


def _torch_fns(side):
  import torch  # pylint: disable=g-import-not-at-top

  torch.manual_seed(0)
  layer = torch.nn.ConvTranspose2d(IN_FEATURES, FEATURES, KERNEL, stride=2, padding=1,
                                   bias=False)
  x = torch.randn(BATCH, IN_FEATURES, side, side, requires_grad=True)
  cotangent = torch.randn(BATCH, FEATURES, 2 * side, 2 * side)

  def forward():
    with torch.no_grad():
      layer(x)

  def forward_backward():
    x.grad, layer.weight.grad = None, None
    layer(x).backward(cotangent)

  return {f"torch ConvTranspose2d ({torch.get_num_threads()} threads)":
          (forward, forward_backward)}


def _have_torch():
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


def _worker(with_torch, repeats):
  """Prints one JSON row per (implementation, size) for this process's XLA flags."""
  flags = os.environ.get("XLA_FLAGS", "") or "default"
  for side in SIDES:
    fns = _jax_fns(side)
    if with_torch:
      fns.update(_torch_fns(side))
    calls = {}
    for name, (forward, forward_backward) in fns.items():
      calls[(name, "fwd")] = forward
      calls[(name, "fwd+bwd")] = forward_backward
    times = timing.interleaved(calls, repeats=repeats)
    for name in fns:
      print(json.dumps({
          "implementation": name if name.startswith("torch") else f"{name} [XLA {flags}]",
          "shape": f"{side}x{side}x{IN_FEATURES} -> {2 * side}x{2 * side}x{FEATURES}",
          "fwd_ms": timing.median_ms(times[(name, "fwd")]),
          "fwd_bwd_ms": timing.median_ms(times[(name, "fwd+bwd")]),
      }), flush=True)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--repeats", type=int, default=15)
  parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--with-torch", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  timing.passive_openmp()
  if args.worker:
    _worker(args.with_torch, args.repeats)
    return

  rows = []
  for flags, with_torch in (("", _have_torch()), (ONEDNN, False)):
    env = dict(os.environ, XLA_FLAGS=" ".join(filter(None, [os.environ.get("XLA_FLAGS"), flags])))
    command = [sys.executable, "-m", "benchmarks.conv_transpose", "--worker",
               "--repeats", str(args.repeats)] + (["--with-torch"] if with_torch else [])
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    rows += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
  if not _have_torch():
    print("PyTorch is not installed: pip install -r benchmarks/requirements.txt")
  rows.sort(key=lambda r: (len(r["shape"]), r["shape"], r["implementation"]))
  print(f"Transposed convolution, batch {BATCH}, {KERNEL}x{KERNEL} kernel, stride 2; "
        f"median ms of {args.repeats}. {timing.machine()}\n")
  print(timing.markdown_table(
      ["shape", "implementation", "fwd ms", "fwd+bwd ms"],
      [[r["shape"], r["implementation"], r["fwd_ms"], r["fwd_bwd_ms"]] for r in rows]))


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  main()
