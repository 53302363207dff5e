"""Benchmark: the 5x5 DCGAN of VEEGAN's and PacGAN's Stacked MNIST code, gan_jax and PyTorch.

One train step at batch 64 on 28x28x3 images: a discriminator update on real and
fake batches, then a generator update on the same fakes (non-saturating loss, Adam),
for `gan_jax.models.tf_dcgan` (whose small-image layers run by taps on CPU,
`adjoint.taps_conv`) and for the same network in PyTorch (TensorFlow's 'SAME'
padding by explicit pads and crops), with 1 and 2 PyTorch threads. Medians of
interleaved repeats after warm-up; gan_jax's FLOP/s (XLA's count) against the
measured float32 matmul peak.

Usage:

  python -m benchmarks.stacked_dcgan [--repeats 7]
"""

import argparse

from benchmarks import matmul_peak
from benchmarks import timing
from gan_jax import xla_cpu

BATCH = 64


def jax_step():
  """A zero-argument callable running one gan_jax step, and the step's FLOP count."""
  import jax  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  import gan_jax as gj  # pylint: disable=g-import-not-at-top
  from gan_jax import models  # pylint: disable=g-import-not-at-top

  gan = gj.GAN(generator=models.tf_dcgan_generator(),
               discriminator=models.tf_dcgan_discriminator(),
               g_optimizer=optax.adam(2e-4, b1=0.5), d_optimizer=optax.adam(2e-4, b1=0.5),
               game=gj.games.non_saturating(), latent_dim=100,
               latent_sampler=gj.uniform_latents)
  real = jax.random.uniform(jax.random.key(0), (BATCH, 28, 28, 3))
  holder = {"state": gj.init_state(gan, jax.random.key(1), real)}
  train = gj.make_alternating_step(gan)
  analysis = jax.jit(train).lower(holder["state"], real, jax.random.key(2)).compile()
  cost = analysis.cost_analysis()
  flops = float((cost[0] if isinstance(cost, (list, tuple)) else cost)["flops"])
  step = jax.jit(train, donate_argnums=0)

  def run():
    holder["state"], metrics = step(holder["state"], real, jax.random.key(2))
    jax.block_until_ready(metrics)

  return run, flops


def torch_step(threads: int):
  """A zero-argument callable running one PyTorch step with `threads` threads."""
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top
  import torch.nn.functional as F  # pylint: disable=g-import-not-at-top

  def same(x, k=5, s=2):  # TensorFlow's 'SAME' padding of a stride-2 convolution
    n = x.shape[-1]
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return F.pad(x, (total // 2, total - total // 2) * 2)

  channels = [3, 64, 128, 256, 512]
  d_convs = nn.ModuleList([nn.Conv2d(channels[i], channels[i + 1], 5, 2) for i in range(4)])
  d_norms = nn.ModuleList([nn.BatchNorm2d(c) for c in channels[2:]])
  d_out = nn.Linear(2 * 2 * 512, 1)
  g_in, g_norm0 = nn.Linear(100, 2 * 2 * 512), nn.BatchNorm2d(512)
  g_channels, sides = [512, 256, 128, 64, 3], [4, 7, 14, 28]
  g_convs = nn.ModuleList([nn.ConvTranspose2d(g_channels[i], g_channels[i + 1], 5, 2)
                           for i in range(4)])
  g_norms = nn.ModuleList([nn.BatchNorm2d(c) for c in g_channels[1:4]])

  def discriminate(x):
    for i, conv in enumerate(d_convs):
      x = conv(same(x))
      x = F.leaky_relu(d_norms[i - 1](x) if i else x, 0.2)
    return d_out(x.flatten(1))[:, 0]

  def generate(z):
    x = F.relu(g_norm0(g_in(z).view(-1, 512, 2, 2)))
    for i, conv in enumerate(g_convs):  # TensorFlow's conv2d_transpose to `side`: a crop
      crop = ((x.shape[-1] - 1) * 2 + 5 - sides[i]) // 2
      x = conv(x)[:, :, crop:crop + sides[i], crop:crop + sides[i]]
      x = torch.tanh(x) if i == 3 else F.relu(g_norms[i](x))
    return x

  d_params = [*d_convs.parameters(), *d_norms.parameters(), *d_out.parameters()]
  g_params = [*g_in.parameters(), *g_norm0.parameters(), *g_convs.parameters(),
              *g_norms.parameters()]
  d_opt = torch.optim.Adam(d_params, 2e-4, betas=(0.5, 0.999))
  g_opt = torch.optim.Adam(g_params, 2e-4, betas=(0.5, 0.999))
  real = torch.rand(BATCH, 3, 28, 28)
  assert generate(torch.zeros(2, 100)).shape == (2, 3, 28, 28)

  def run():
    torch.set_num_threads(threads)
    fake = generate(torch.rand(BATCH, 100) * 2 - 1)
    d_loss = F.softplus(-discriminate(real)).mean() + F.softplus(discriminate(fake.detach())).mean()
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    g_loss = F.softplus(-discriminate(fake)).mean()
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()

  return run


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=7)
  args = parser.parse_args(argv)
  xla_cpu.apply_defaults()
  timing.passive_openmp()
  run, flops = jax_step()
  fns = {"gan_jax": run, "PyTorch, 1 thread": torch_step(1), "PyTorch, 2 threads": torch_step(2)}
  times = timing.interleaved(fns, repeats=args.repeats)
  peak = max(max(sizes.values()) for sizes in matmul_peak.peak_flops(repeats=3).values())
  print(timing.machine())
  fastest = min(timing.median_ms(times[name]) for name in fns if name != "gan_jax")
  rows = []
  for name, ts in times.items():
    ms = timing.median_ms(ts)
    rows.append([name, ms, f"{ms / fastest:.2f}x",
                 f"{flops / (ms / 1e3) / peak:.0%}" if name == "gan_jax" else "—"])
  print(timing.markdown_table(
      ["5x5 TF DCGAN step, batch 64", "ms/step", "÷ fastest PyTorch", "% of matmul peak"], rows))
  print(f"matmul peak {peak / 1e9:.1f} GFLOP/s; gan_jax step {flops / 1e9:.2f} GFLOP (XLA's count)")


if __name__ == "__main__":
  main()
