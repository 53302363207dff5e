"""End-to-end train-step benchmark: gan_jax against PyTorch, in one process.

For each workload, the median wall-clock time of one train step (after warm-up,
the implementations interleaved so that a busy stretch of the machine slows all of
them alike), gan_jax's time over PyTorch's, and the FLOPs of the step as counted
by XLA's cost analysis of the compiled step: the achieved FLOP/s and their fraction
of the machine's measured float32 matmul peak (`benchmarks/matmul_peak.py`).

Workloads (the models and settings of `configs/`, mirrored in PyTorch by
`benchmarks/torch_dcgan.py`):

* `dcgan64`, `dcgan128`: DCGAN on 28x28x1 images (MNIST-shaped), batch 64 / 128,
  non-saturating loss, Adam(2e-4, beta1 0.5), one D and one G update per step,
  the fake batch reused for the G update (`make_train_step(gan)`);
* `wgan_gp`: WGAN-GP with the same networks (critic without normalization, its
  strided convolutions in their adjoint form as in configs/wgan_gp.py), 5 critic
  updates with a gradient penalty of weight 10 per generator update, batch 64
  (`make_train_step(gan, d_steps=5, penalty=gradient_penalty, ...)`);
* `ring`: the ring of 8 Gaussians with ReLU MLPs of `configs/ring.py`'s widths (G 4 x 400,
  D 3 x 200; the config itself now has batch norm and maxout units), timed end to end
  over `--ring-steps` steps; gan_jax fuses 100 steps per dispatch
  (`make_multi_step`), PyTorch runs its Python loop; this pair is the
  plain MLPs of the ring before the config took PacGAN's networks;
* `pacgan_ring`: the step of `configs/ring.py` itself (PacGAN's setting: batch-norm
  MLP generator, maxout discriminator, simultaneous Adam updates with beta1 0.8),
  timed the same way: the step of the results runs, configured for 400k steps.

gan_jax's DCGAN generator is timed in each form of its transposed convolution
(`--upsampling`): `upsample="transpose"` (`nn.ConvTranspose`, plain Flax) and
"adjoint" (`AdjointConvTranspose`, gan_jax/models/adjoint.py, the configs'
choice), the same layer computed two ways; with "adjoint" the discriminator's strided
convolutions are `AdjointConv`s too (the configs' networks), with the others
`nn.Conv`s. The step is jitted with its state donated, as
`experiments/run.py` does. PyTorch runs with 1 and with 2 intra-op
threads (`--torch-threads`): on a busy 2-core machine its OpenMP threads wait on
each other, and one thread can be the faster.

Usage (PyTorch is optional: `pip install -r benchmarks/requirements.txt`):

  python -m benchmarks.run
  python -m benchmarks.run --workloads dcgan64 ring --repeats 5
  XLA_FLAGS=--xla_cpu_experimental_onednn_custom_call=true python -m benchmarks.run

Times depend on what else the machine runs: the header prints its load average.
"""

import argparse
import os
import sys
from typing import Callable, NamedTuple, Optional

from benchmarks import matmul_peak
from benchmarks import timing
from benchmarks import torch_dcgan
from gan_jax import xla_cpu

IMAGE_SHAPE = (28, 28, 1)
RING_STEPS_PER_CALL = 100
UPSAMPLINGS = ("transpose", "adjoint")
_LABELS = {"transpose": "nn.ConvTranspose", "adjoint": "adjoint"}


def _dcgan_networks(upsample: str, normalization: str, downsample: str = "conv",
                    dtype: Optional[str] = None):
  """gan_jax's DCGAN pair; `dtype` is their computation dtype (None: float32)."""
  from gan_jax import models  # pylint: disable=g-import-not-at-top

  return (models.dcgan_generator(IMAGE_SHAPE, upsample=upsample, dtype=dtype),
          models.dcgan_discriminator(IMAGE_SHAPE, normalization=normalization,
                                     downsample=downsample, dtype=dtype))


class JaxStep:
  """A compiled gan_jax step with its state: `run()` does one call and blocks.

  Attributes:
    flops: floating-point operations per train step, by default XLA's count for
      `step_fn` (divided by `steps_per_call`); `flops_fn(state, batches, key)`
      replaces that count where the step runs a `lax.scan`, whose body XLA counts
      once.
  """

  def __init__(self, gan, step_fn, batches, *, steps_per_call: int = 1, donate: bool = True,
               flops_fn: Optional[Callable[..., float]] = None):
    import jax  # pylint: disable=g-import-not-at-top
    import gan_jax  # pylint: disable=g-import-not-at-top

    self._jax = jax
    self._batches = jax.device_put(batches)
    self._key = jax.random.key(1)
    example = batches[0] if steps_per_call > 1 else batches
    self._state = gan_jax.init_state(gan, jax.random.key(0), example)
    jitted = jax.jit(step_fn, donate_argnums=0 if donate else ())
    self._step = jitted.lower(self._state, self._batches, self._key).compile()
    if flops_fn is None:
      self.flops = _flops(step_fn, self._state, self._batches, self._key) / steps_per_call
    else:
      self.flops = flops_fn(self._state, self._batches, self._key)

  def run(self, batches=None):
    """One call on `batches` (default: the example batches given at construction)."""
    batches = self._batches if batches is None else batches
    self._state, metrics = self._step(self._state, batches, self._key)
    self._jax.block_until_ready((self._state, metrics))


def _flops(fn, *args) -> float:
  """XLA's FLOP count of `fn(*args)` (a `lax.scan` body counts once, not per trip)."""
  import jax  # pylint: disable=g-import-not-at-top
  analysis = jax.jit(fn).lower(*args).compile().cost_analysis()
  if isinstance(analysis, (list, tuple)):  # older JAX: one dict per device
    analysis = analysis[0]
  return float(analysis["flops"])


def _adam(lr, b2=0.999):
  import optax  # pylint: disable=g-import-not-at-top
  return optax.adam(lr, b1=0.5, b2=b2)


def jax_dcgan(batch_size: int, upsample: str, donate: bool = True,
              dtype: Optional[str] = None) -> JaxStep:
  """DCGAN on 28x28x1, as configs/dcgan.py (layers computing in `dtype`, default float32).

  With `upsample="adjoint"` the discriminator's strided convolutions take their
  adjoint form too, as in the configs; the other forms keep Flax's `nn.Conv`.
  """
  import gan_jax  # pylint: disable=g-import-not-at-top

  downsample = "adjoint" if upsample == "adjoint" else "conv"
  g, d = _dcgan_networks(upsample, "batch", downsample, dtype=dtype)
  gan = gan_jax.GAN(g, d, _adam(2e-4), _adam(2e-4), gan_jax.games.non_saturating(),
                    latent_dim=torch_dcgan.DCGAN_LATENT)
  return JaxStep(gan, gan_jax.make_train_step(gan), torch_dcgan.images(batch_size),
                 donate=donate)


def jax_wgan_gp(upsample: str, batch_size: int = 64, critic_steps: int = 5,
                donate: bool = True, dtype: Optional[str] = None) -> JaxStep:
  """WGAN-GP on 28x28x1, as configs/wgan_gp.py (critic normalization as PyTorch's).

  The critic's strided convolutions take their adjoint form, as in
  configs/wgan_gp.py (the same parameters and arithmetic). The layers compute in
  `dtype` (default float32).
  """
  import gan_jax  # pylint: disable=g-import-not-at-top

  g, d = _dcgan_networks(upsample, torch_dcgan.CRITIC_NORMALIZATION, "adjoint",
                         dtype=dtype)
  gan = gan_jax.GAN(g, d, _adam(1e-4, 0.9), _adam(1e-4, 0.9), gan_jax.games.wasserstein(),
                    latent_dim=torch_dcgan.WGAN_GP_LATENT)
  options = dict(penalty=gan_jax.penalties.gradient_penalty, penalty_weight=10.0)
  step = gan_jax.make_train_step(gan, d_steps=critic_steps, reuse_fake=False, **options)
  one = gan_jax.make_train_step(gan, d_steps=1, reuse_fake=False, **options)
  critic = gan_jax.make_discriminator_step(gan, **options)

  def flops(state, batches, key):
    # The critic updates run in a lax.scan, whose body XLA counts once: count a step
    # with one critic update, plus the other critic updates one by one.
    real = batches[:batch_size]
    return _flops(one, state, real, key) + (critic_steps - 1) * _flops(critic, state, real, key)

  return JaxStep(gan, step, torch_dcgan.images(critic_steps * batch_size), donate=donate,
                 flops_fn=flops)


def jax_ring(num_steps: int, donate: bool = True):
  """A ring GAN of configs/ring.py's widths (ReLU MLPs), `RING_STEPS_PER_CALL` steps per call.

  Returns:
    `(runner, data)`: `runner.run(data[i])` runs steps `i * RING_STEPS_PER_CALL`
    onwards; `data` is `[calls, RING_STEPS_PER_CALL, RING_BATCH, 2]`, on device.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import gan_jax  # pylint: disable=g-import-not-at-top
  from gan_jax import models  # pylint: disable=g-import-not-at-top

  gan = gan_jax.GAN(
      models.mlp_generator(2, hidden=torch_dcgan.RING_HIDDEN_G),
      models.mlp_discriminator(hidden=torch_dcgan.RING_HIDDEN_D),
      _adam(1e-4), _adam(1e-4), gan_jax.games.non_saturating(), latent_dim=2)
  step = gan_jax.make_train_step(gan)
  calls = max(num_steps // RING_STEPS_PER_CALL, 1)
  data = torch_dcgan.ring_data(calls * RING_STEPS_PER_CALL * torch_dcgan.RING_BATCH)
  data = data.reshape(calls, RING_STEPS_PER_CALL, torch_dcgan.RING_BATCH, 2)
  multi = gan_jax.make_multi_step(step, RING_STEPS_PER_CALL)
  runner = JaxStep(gan, multi, data[0], steps_per_call=RING_STEPS_PER_CALL, donate=donate,
                   flops_fn=lambda state, batches, key: _flops(step, state, batches[0], key))
  return runner, jax.device_put(data)


def jax_pacgan_ring(num_steps: int, donate: bool = True):
  """`configs/ring.py`'s GAN (PacGAN's setting), `RING_STEPS_PER_CALL` steps per call.

  The networks and update of the config, built as the runner builds them
  (`experiments.builders.build_gan`); returns `(runner, data)` as `jax_ring`.
  """
  import jax  # pylint: disable=g-import-not-at-top
  from configs import ring  # pylint: disable=g-import-not-at-top
  from experiments import builders, datasets  # pylint: disable=g-import-not-at-top

  config = ring.get_config()
  gan = builders.build_gan(config, datasets.DataSpec("points", (2,)))
  multi = builders.make_multi_step(config, gan)  # The runner's steps, as many as a call holds.
  calls = max(num_steps // RING_STEPS_PER_CALL, 1)
  data = torch_dcgan.ring_data(calls * RING_STEPS_PER_CALL * torch_dcgan.RING_BATCH)
  data = data.reshape(calls, RING_STEPS_PER_CALL, torch_dcgan.RING_BATCH, 2)
  # One step's FLOPs: the same steps on a call of one batch (a scan body counts once).
  runner = JaxStep(gan, multi, data[0], steps_per_call=RING_STEPS_PER_CALL, donate=donate,
                   flops_fn=lambda state, batches, key: _flops(multi, state, batches[:1], key))
  return runner, jax.device_put(data)


class Row(NamedTuple):
  workload: str
  implementation: str
  ms: float
  flops: Optional[float]  # per train step


def _have_torch() -> bool:
  try:
    import torch  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return True


def _with_threads(threads: int, fn):
  """`fn` run with PyTorch's intra-op thread count set to `threads`."""
  import torch  # pylint: disable=g-import-not-at-top

  def run():
    torch.set_num_threads(threads)
    return fn()

  return run


def bench_workload(name: str, args) -> list[Row]:
  """Times one workload's implementations, interleaved.

  Args:
    name: one of `WORKLOADS`.
    args: the options of `main` (`upsampling`, `torch_threads`, `repeats`,
      `ring_steps`, `no_donate`), and optionally `dtype`, the computation dtype of
      gan_jax's DCGAN networks (absent or None: float32; `benchmarks/gpu.py` sets it).

  Returns:
    One `Row` per implementation.
  """
  torch_ok = _have_torch()
  dtype = getattr(args, "dtype", None)
  impls, flops, per_call = {}, {}, 1
  if name in ("dcgan64", "dcgan128", "wgan_gp"):
    for upsample in args.upsampling:
      label = f"gan_jax ({_LABELS[upsample]})"
      if name == "wgan_gp":
        step = jax_wgan_gp(upsample, donate=not args.no_donate, dtype=dtype)
      else:
        step = jax_dcgan(int(name[5:]), upsample, donate=not args.no_donate, dtype=dtype)
      impls[label], flops[label] = step.run, step.flops
    for threads in args.torch_threads if torch_ok else ():
      impls[f"PyTorch ({threads} thread{'s' * (threads > 1)})"] = _with_threads(
          threads, torch_dcgan.make_wgan_gp_step() if name == "wgan_gp"
          else torch_dcgan.make_dcgan_step(int(name[5:])))
    times = timing.interleaved(impls, repeats=args.repeats)
  elif name in ("ring", "pacgan_ring"):
    build = jax_ring if name == "ring" else jax_pacgan_ring
    runner, data = build(args.ring_steps, donate=not args.no_donate)
    per_call = data.shape[0] * RING_STEPS_PER_CALL

    def jax_run():
      for batches in data:
        runner.run(batches)

    impls[f"gan_jax ({RING_STEPS_PER_CALL} steps per call)"] = jax_run
    flops[f"gan_jax ({RING_STEPS_PER_CALL} steps per call)"] = runner.flops
    for threads in args.torch_threads if torch_ok else ():
      impls[f"PyTorch ({threads} thread{'s' * (threads > 1)})"] = _with_threads(
          threads, (torch_dcgan.make_ring_run if name == "ring"
                    else torch_dcgan.make_pacgan_ring_run)(per_call))
    times = timing.interleaved(impls, repeats=max(args.repeats // 3, 3), warmup=1)
  else:
    raise ValueError(f"unknown workload {name!r}; choose from {WORKLOADS}")
  model_flops = next(iter(flops.values()))  # the same arithmetic in every implementation
  return [Row(name, impl, timing.median_ms(ts) / per_call, flops.get(impl, model_flops))
          for impl, ts in times.items()]


WORKLOADS = ("dcgan64", "dcgan128", "wgan_gp", "ring", "pacgan_ring")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
  parser.add_argument("--upsampling", nargs="+", default=list(UPSAMPLINGS), choices=UPSAMPLINGS,
                      help="gan_jax DCGAN generator variants to time")
  parser.add_argument("--repeats", type=int, default=10)
  parser.add_argument("--ring-steps", type=int, default=2000)
  parser.add_argument("--torch-threads", type=int, nargs="+", default=[1, 2],
                      help="PyTorch intra-op thread counts to time (one row each)")
  parser.add_argument("--no-donate", action="store_true", help="jit without donating the state")
  args = parser.parse_args(argv)
  timing.passive_openmp()

  import gan_jax  # pylint: disable=g-import-not-at-top,unused-import  # sets XLA's CPU flags
  import jax  # pylint: disable=g-import-not-at-top
  header = timing.machine()
  peaks = matmul_peak.peak_flops(sizes=(2048,), repeats=10, best=True)
  peak = max(by_size[2048] for by_size in peaks.values())  # the machine's, any framework
  rows = []
  for name in args.workloads:
    rows += bench_workload(name, args)
    print(f"{name}: " + ", ".join(f"{r.implementation} {r.ms:.2f} ms" for r in rows
                                  if r.workload == name), file=sys.stderr, flush=True)
  torch_ms = {}  # the fastest PyTorch row of each workload
  for r in rows:
    if r.implementation.startswith("PyTorch"):
      torch_ms[r.workload] = min(r.ms, torch_ms.get(r.workload, float("inf")))

  print(f"# gan_jax vs PyTorch train steps\n\n{header}\n"
        f"jax {jax.__version__}, XLA_FLAGS={os.environ.get('XLA_FLAGS', '') or '(none)'}"
        + (f", torch {__import__('torch').__version__} "
           f"(OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']})" if _have_torch()
           else ", PyTorch not installed") + "\n")
  print("float32 matmul peak (2048^2, fastest of 10): "
        + ", ".join(f"{k} {v[2048] / 1e9:.1f} GFLOP/s" for k, v in peaks.items()) + "\n")
  print(f"Median of {args.repeats} steps after warm-up (ring: of whole runs, per step); "
        "'vs PyTorch': time over the fastest PyTorch row; FLOPs from XLA's cost analysis "
        "of the gan_jax step (the same arithmetic for PyTorch); % of the faster matmul peak.\n")
  table = []
  for r in rows:
    ratio = r.ms / torch_ms[r.workload] if r.workload in torch_ms else float("nan")
    achieved = r.flops / (r.ms / 1e3)
    table.append([r.workload, r.implementation, f"{r.ms:.2f}" if r.ms < 10 else r.ms,
                  f"{ratio:.2f}x", r.flops / 1e9 if r.flops >= 1e8 else f"{r.flops / 1e9:.4f}",
                  achieved / 1e9, f"{100 * achieved / peak:.0f}%"])
  print(timing.markdown_table(
      ["workload", "implementation", "ms/step", "vs PyTorch", "GFLOP/step", "GFLOP/s",
       "% of peak"], table))


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  main()
