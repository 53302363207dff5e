"""The PyTorch baselines: the same GANs as gan_jax's, step for step, on CPU.

Four workloads, each mirroring gan_jax's models and configs layer for layer so
that the two frameworks do the same arithmetic:

* DCGAN on 28x28x1 (MNIST-shaped) images, as `configs/dcgan.py` with
  `gan_jax.models.dcgan_generator((28, 28, 1))` / `dcgan_discriminator(...)`:
  G: Linear(100 -> 7*7*128, no bias), BN, ReLU, ConvTranspose(128 -> 64, 4, 2, 1),
  BN, ReLU, ConvTranspose(64 -> 1, 4, 2, 1, bias), tanh;
  D: Conv(1 -> 64, 4, 2, 1, bias), LeakyReLU(0.2), Conv(64 -> 128, 4, 2, 1), BN,
  LeakyReLU(0.2), Linear(6272 -> 1). Kernels N(0, 0.02), BN scales N(1, 0.02).
  Adam(2e-4, betas (0.5, 0.999)), the non-saturating loss through
  BCE-with-logits, one generator forward per step whose output, detached, is the
  discriminator's fake batch and then feeds the generator update: the loop of
  pytorch/examples `dcgan/main.py`.
* WGAN-GP with the same networks, as `configs/wgan_gp.py`: 5 critic updates per
  generator update, each on its own real batch and fresh fakes; penalty weight 10
  on (||grad D(x_hat)|| - 1)^2 at per-example uniform interpolates; Adam(1e-4,
  betas (0.5, 0.9)); a 128-D latent; batch 64. The critic's normalization is
  `CRITIC_NORMALIZATION` below: "none", as in `configs/wgan_gp.py` ("layer" is
  mirrored by `GroupNorm(1, C)`: statistics over (C, H, W) per example and a
  per-channel affine, which is what gan_jax's `normalization="layer"` computes).
* The 2-D ring of 8 Gaussians, with ReLU MLPs of `configs/ring.py`'s widths: G an MLP 2 -> 4 x 400 ReLU
  -> 2, D an MLP 2 -> 3 x 200 ReLU -> 1, Adam(1e-4, betas (0.5, 0.999)), batch
  100, the non-saturating loss, reusing the fake batch; timed end to end over
  thousands of steps.
* `configs/ring.py` itself (PacGAN's setting): G 2 -> 4 x [Linear(400, no bias),
  BatchNorm1d(eps 1e-4, momentum 0.05, i.e. gan_jax's 0.95), ReLU] -> Linear(2); D three
  maxout layers (Linear(200 * 5) and the maximum over 5 contiguous pieces) ->
  Linear(1); weights N(0, 0.02), biases 0; Adam(1e-4, betas (0.8, 0.999)) for
  both players, which step simultaneously: both gradients from one generator
  forward and one discriminator forward on the real and on the fake batch, the
  generator's non-saturating loss; batch 100; timed end to end. (One departure
  that leaves the trajectory alone: BatchNorm1d's running variance takes the
  unbiased batch variance, x 100 / 99; gan_jax's, like flax's, the biased one.)

Data are fixed tensors of the right shape (the step's cost does not depend on
their values); loading is not timed, in either framework.

Usage (`pip install -r benchmarks/requirements.txt` first):

  python -m benchmarks.torch_dcgan [--repeats 10]

References:
  pytorch/examples, dcgan/main.py.
  Gulrajani et al., 2017, "Improved training of Wasserstein GANs",
    https://arxiv.org/abs/1704.00028 (Algorithm 1)
"""

import argparse

import numpy as np

from benchmarks import timing

DCGAN_LATENT, WGAN_GP_LATENT, BASE_FEATURES = 100, 128, 64
CRITIC_NORMALIZATION = "none"  # gan_jax's dcgan_discriminator(normalization=...)
RING_HIDDEN_G, RING_HIDDEN_D, RING_BATCH = (400,) * 4, (200,) * 3, 100


def _torch():
  import torch  # pylint: disable=g-import-not-at-top
  return torch


def dcgan_generator(latent_dim: int, base_features: int = BASE_FEATURES):
  """`[B, latent_dim]` -> `[B, 1, 28, 28]`, as gan_jax's DCGAN generator for 28x28."""
  nn = _torch().nn
  wide = 2 * base_features
  return nn.Sequential(
      nn.Linear(latent_dim, 7 * 7 * wide, bias=False), nn.Unflatten(1, (wide, 7, 7)),
      nn.BatchNorm2d(wide), nn.ReLU(True),
      nn.ConvTranspose2d(wide, base_features, 4, 2, 1, bias=False),
      nn.BatchNorm2d(base_features), nn.ReLU(True),
      nn.ConvTranspose2d(base_features, 1, 4, 2, 1, bias=True), nn.Tanh())


def dcgan_discriminator(normalization: str = "batch", base_features: int = BASE_FEATURES):
  """`[B, 1, 28, 28]` -> logits `[B]`, as gan_jax's DCGAN discriminator for 28x28."""
  nn = _torch().nn
  wide = 2 * base_features
  norm = {"batch": lambda: nn.BatchNorm2d(wide),
          "layer": lambda: nn.GroupNorm(1, wide, eps=1e-6),  # flax LayerNorm's epsilon
          "none": nn.Identity}[normalization]
  return nn.Sequential(
      nn.Conv2d(1, base_features, 4, 2, 1, bias=True), nn.LeakyReLU(0.2, True),
      nn.Conv2d(base_features, wide, 4, 2, 1, bias=normalization == "none"), norm(),
      nn.LeakyReLU(0.2, True), nn.Flatten(), nn.Linear(7 * 7 * wide, 1), nn.Flatten(0))


def _dcgan_init(module):
  nn = _torch().nn
  if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
    nn.init.normal_(module.weight, 0.0, 0.02)
    if module.bias is not None:
      nn.init.zeros_(module.bias)
  elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
    nn.init.normal_(module.weight, 1.0, 0.02)
    nn.init.zeros_(module.bias)


def mlp(sizes):
  """Linear layers of `sizes` with ReLU between them (none after the last)."""
  nn = _torch().nn
  layers = []
  for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
    layers += [nn.Linear(fan_in, fan_out), nn.ReLU(True)]
  return nn.Sequential(*layers[:-1])


def ring_data(num: int, seed: int = 0) -> np.ndarray:
  """`[num, 2]` float32 samples of 8 Gaussians (std 0.01) on the unit circle."""
  rng = np.random.default_rng(seed)
  angles = 2 * np.pi * rng.integers(0, 8, num) / 8
  centers = np.stack([np.cos(angles), np.sin(angles)], axis=1)
  return (centers + 0.01 * rng.normal(size=(num, 2))).astype(np.float32)


def images(num: int, seed: int = 0) -> np.ndarray:
  """`[num, 28, 28, 1]` float32 in [-1, 1] (NHWC; the torch steps transpose them)."""
  return np.random.default_rng(seed).uniform(-1, 1, (num, 28, 28, 1)).astype(np.float32)


def make_dcgan_step(batch_size: int, seed: int = 0):
  """One DCGAN step of pytorch/examples dcgan on a fixed real batch; returns `step()`."""
  torch = _torch()
  torch.manual_seed(seed)
  g, d = dcgan_generator(DCGAN_LATENT), dcgan_discriminator("batch")
  g.apply(_dcgan_init)
  d.apply(_dcgan_init)
  g_opt = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
  d_opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
  real = torch.from_numpy(images(batch_size, seed)).permute(0, 3, 1, 2).contiguous()
  step = dcgan_step(g, d, g_opt, d_opt)
  return lambda: step(real, torch.randn(batch_size, DCGAN_LATENT))


def dcgan_step(g, d, g_opt, d_opt):
  """`step(real, z) -> (d_loss, g_loss)`: the loop body of pytorch/examples dcgan."""
  torch = _torch()
  bce = torch.nn.BCEWithLogitsLoss()

  def step(real, z):
    ones, zeros = torch.ones(real.shape[0]), torch.zeros(real.shape[0])
    d.zero_grad(set_to_none=True)
    d_real = bce(d(real), ones)
    d_real.backward()
    fake = g(z)
    d_fake = bce(d(fake.detach()), zeros)
    d_fake.backward()
    d_opt.step()
    g.zero_grad(set_to_none=True)
    g_loss = bce(d(fake), ones)  # non-saturating: -log D(G(z))
    g_loss.backward()
    g_opt.step()
    return d_real + d_fake, g_loss

  return step


def make_wgan_gp_step(batch_size: int = 64, critic_steps: int = 5,
                      penalty_weight: float = 10.0, seed: int = 0):
  """One WGAN-GP generator step (with its `critic_steps` critic steps); returns `step()`."""
  torch = _torch()
  torch.manual_seed(seed)
  g, d = dcgan_generator(WGAN_GP_LATENT), dcgan_discriminator(CRITIC_NORMALIZATION)
  g.apply(_dcgan_init)
  d.apply(_dcgan_init)
  g_opt = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.9))
  d_opt = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.5, 0.9))
  reals = torch.from_numpy(images(critic_steps * batch_size, seed)).permute(0, 3, 1, 2)
  reals = reals.contiguous().view(critic_steps, batch_size, 1, 28, 28)

  def step():
    for real in reals:
      with torch.no_grad():
        fake = g(torch.randn(batch_size, WGAN_GP_LATENT))
      d.zero_grad(set_to_none=True)
      eps = torch.rand(batch_size, 1, 1, 1)
      x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
      (grad,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
      penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
      d_loss = d(fake).mean() - d(real).mean() + penalty_weight * penalty
      d_loss.backward()
      d_opt.step()
    g.zero_grad(set_to_none=True)
    g_loss = -d(g(torch.randn(batch_size, WGAN_GP_LATENT))).mean()
    g_loss.backward()
    g_opt.step()
    return d_loss, g_loss

  return step


def maxout(fan_in: int, units: int, pieces: int):
  """Linear(fan_in, units * pieces), then the maximum of each unit's contiguous pieces."""
  nn = _torch().nn

  class Maxout(nn.Module):

    def __init__(self):
      super().__init__()
      self.linear = nn.Linear(fan_in, units * pieces)

    def forward(self, x):
      return self.linear(x).view(-1, units, pieces).amax(-1)

  return Maxout()


def pacgan_networks(hidden_g=RING_HIDDEN_G, hidden_d=RING_HIDDEN_D, pieces: int = 5,
                    batch_norm_epsilon: float = 1e-4):
  """`configs/ring.py`'s pair: a batch-norm MLP generator (PacGAN's epsilon) and a maxout
  discriminator.

  The same arithmetic as gan_jax's, but for BatchNorm1d's running variance, which
  averages unbiased batch variances (only sampling with the averages sees it).
  """
  nn = _torch().nn
  g_layers, fan_in = [], 2
  for width in hidden_g:
    g_layers += [nn.Linear(fan_in, width, bias=False),
                 nn.BatchNorm1d(width, eps=batch_norm_epsilon, momentum=0.05), nn.ReLU(True)]
    fan_in = width
  g = nn.Sequential(*g_layers, nn.Linear(fan_in, 2))
  d_layers, fan_in = [], 2
  for width in hidden_d:
    d_layers.append(maxout(fan_in, width, pieces))
    fan_in = width
  d = nn.Sequential(*d_layers, nn.Linear(fan_in, 1))
  for module in list(g.modules()) + list(d.modules()):
    if isinstance(module, nn.Linear):
      nn.init.normal_(module.weight, 0.0, 0.02)
      if module.bias is not None:
        nn.init.zeros_(module.bias)
  return g, d


def pacgan_ring_step(g, d, g_opt, d_opt):
  """`step(real, z) -> (d_loss, g_loss)`: one simultaneous update of both players.

  Both gradients come from one generator forward and one discriminator forward on
  the real and on the fake batch (the non-saturating generator loss); each
  parameter's `.grad` holds its gradient after the step.
  """
  torch = _torch()
  bce = torch.nn.BCEWithLogitsLoss()
  d_params, g_params = list(d.parameters()), list(g.parameters())

  def step(real, z):
    fake = g(z)
    real_logits, fake_logits = d(real), d(fake)
    ones, zeros = torch.ones_like(real_logits), torch.zeros_like(fake_logits)
    d_loss = bce(real_logits, ones) + bce(fake_logits, zeros)
    g_loss = bce(fake_logits, ones)
    d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
    g_grads = torch.autograd.grad(g_loss, g_params)
    for p, grad in zip(d_params + g_params, d_grads + g_grads):
      p.grad = grad
    d_opt.step()
    g_opt.step()
    return d_loss, g_loss

  return step


def make_pacgan_ring_run(num_steps: int, seed: int = 0):
  """`run()` trains `configs/ring.py`'s GAN, simultaneous updates, for `num_steps` steps."""
  torch = _torch()
  torch.manual_seed(seed)
  g, d = pacgan_networks()
  g_opt = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.8, 0.999))
  d_opt = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.8, 0.999))
  step = pacgan_ring_step(g, d, g_opt, d_opt)
  data = torch.from_numpy(ring_data(num_steps * RING_BATCH, seed)).view(num_steps, RING_BATCH, 2)

  def run():
    for real in data:
      d_loss, g_loss = step(real, torch.randn(RING_BATCH, 2))
    return d_loss, g_loss

  return run


def make_ring_run(num_steps: int, seed: int = 0):
  """`run()` trains the ring GAN for `num_steps` steps on pre-drawn data."""
  torch = _torch()
  torch.manual_seed(seed)
  g, d = mlp((2,) + RING_HIDDEN_G + (2,)), mlp((2,) + RING_HIDDEN_D + (1,))
  g_opt = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.999))
  d_opt = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.5, 0.999))
  bce = torch.nn.BCEWithLogitsLoss()
  data = torch.from_numpy(ring_data(num_steps * RING_BATCH, seed)).view(num_steps, RING_BATCH, 2)
  ones, zeros = torch.ones(RING_BATCH, 1), torch.zeros(RING_BATCH, 1)

  def run():
    for real in data:
      d.zero_grad(set_to_none=True)
      fake = g(torch.randn(RING_BATCH, 2))
      d_loss = bce(d(real), ones) + bce(d(fake.detach()), zeros)
      d_loss.backward()
      d_opt.step()
      g.zero_grad(set_to_none=True)
      g_loss = bce(d(fake), ones)
      g_loss.backward()
      g_opt.step()
    return d_loss, g_loss

  return run


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--repeats", type=int, default=10)
  parser.add_argument("--ring-steps", type=int, default=2000)
  args = parser.parse_args(argv)
  timing.passive_openmp()
  torch = _torch()
  rows = []
  for name, step in [("DCGAN batch 64", make_dcgan_step(64)),
                     ("DCGAN batch 128", make_dcgan_step(128)),
                     ("WGAN-GP batch 64, 5 critic steps", make_wgan_gp_step())]:
    rows.append([name, timing.median_ms(timing.interleaved({name: step},
                                                           repeats=args.repeats)[name])])
  run = make_ring_run(args.ring_steps)
  ring = timing.interleaved({"ring": run}, repeats=3, warmup=1)["ring"]
  rows.append([f"ring MLP GAN, {args.ring_steps} steps: per step",
               timing.median_ms(ring) / args.ring_steps])
  pacgan = timing.interleaved({"pacgan": make_pacgan_ring_run(args.ring_steps)}, repeats=3,
                              warmup=1)["pacgan"]
  rows.append([f"configs/ring.py (PacGAN), {args.ring_steps} steps: per step",
               timing.median_ms(pacgan) / args.ring_steps])
  print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; median of "
        f"{args.repeats}. {timing.machine()}\n")
  print(timing.markdown_table(["workload", "ms per step"], rows))


if __name__ == "__main__":
  main()
