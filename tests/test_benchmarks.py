"""The PyTorch baselines of the benchmarks compute gan_jax's steps.

`benchmarks/torch_dcgan.py` mirrors the timed gan_jax steps layer for layer, so that
a ratio of times compares the same arithmetic. Here both sides start from the same
parameters, see the same real batch and latents, and take one step with SGD in
place of the benchmarks' Adam (whose first update is about lr * sign(gradient) and
would hide a wrong gradient): each parameter's change is then -lr times its
gradient, which must agree up to float32 rounding. (The DCGAN's generator learns
against the updated discriminator, so there the rate stays small enough to leave
its loss unsaturated.)
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gan_jax
from benchmarks import run as bench
from benchmarks import torch_dcgan
from configs import common
from configs import ring
from experiments import builders, datasets

torch = pytest.importorskip("torch")
DCGAN_LR = 1e-3  # small enough that the updated critic leaves the generator a gradient


def _fixed_latents(gan, z):
  return gan._replace(latent_sampler=lambda key, num, dim: jnp.asarray(z))


def _close(ours, theirs, before, name):
  """Agreement within 1% of the step's largest change of the tensor (`ours - before`).

  A wrong layout, loss or layer changes a gradient by a factor; the two frameworks'
  float32 sums, in different orders through several layers, stay well inside this.
  """
  ours, theirs, before = np.asarray(ours), _numpy(theirs), np.asarray(before)
  assert ours.shape == theirs.shape == before.shape, name
  assert np.abs(ours - before).max() > 0, name  # the step moved it
  np.testing.assert_allclose(ours, theirs, rtol=0, atol=_tolerance(ours, before), err_msg=name)


def _numpy(x):
  return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _tolerance(ours, before):
  ours, before = np.asarray(ours), np.asarray(before)
  ulps = 4 * np.finfo(np.float32).eps * np.abs(ours).max()  # storing the sum rounds it
  return 0.01 * np.abs(ours - before).max() + ulps


def test_the_pacgan_ring_mirror_takes_the_step_of_configs_ring():
  config = ring.get_config()
  config.g_optimizer = common.optimizer("sgd", lr=1.0)
  config.d_optimizer = common.optimizer("sgd", lr=1.0)
  real = torch_dcgan.ring_data(torch_dcgan.RING_BATCH, seed=3)
  z = np.random.default_rng(4).normal(size=(torch_dcgan.RING_BATCH, 2)).astype(np.float32)
  gan = _fixed_latents(builders.build_gan(config, datasets.DataSpec("points", (2,))), z)
  state = gan_jax.init_state(gan, jax.random.key(0), jnp.asarray(real))
  step = jax.jit(builders.make_multi_step(config, gan))
  new, metrics = step(state, jnp.asarray(real)[None], jax.random.key(1))

  g, d = torch_dcgan.pacgan_networks()
  layers = _pacgan_layers(g, d)
  _copy(layers, state)
  sgd = lambda module: torch.optim.SGD(module.parameters(), lr=1.0)
  d_loss, g_loss = torch_dcgan.pacgan_ring_step(g, d, sgd(g), sgd(d))(
      torch.from_numpy(real), torch.from_numpy(z))

  np.testing.assert_allclose(metrics["d_loss"], d_loss.item(), rtol=1e-5)
  np.testing.assert_allclose(metrics["g_loss"], g_loss.item(), rtol=1e-5)
  _compare(layers, new, state, pieces=config.model.d.maxout_pieces)
  batch = torch_dcgan.RING_BATCH
  stats = new.g_collections["batch_stats"]
  for i, m in enumerate(m for m in g if isinstance(m, torch.nn.BatchNorm1d)):
    ones = np.ones(m.num_features, np.float32)
    _close(stats[f"BatchNorm_{i}"]["mean"], m.running_mean, 0 * ones, f"G BatchNorm_{i} mean")
    # BatchNorm1d averages the unbiased batch variance (the documented departure).
    biased = (m.running_var - 0.95) * (batch - 1) / batch + 0.95
    _close(stats[f"BatchNorm_{i}"]["var"], biased, ones, f"G BatchNorm_{i} var")


def _pacgan_layers(g, d):
  """`{name: (module, player, params -> {field: array in torch's layout})}`."""
  a = np.asarray
  layers = {}
  dense = [m for m in g if isinstance(m, torch.nn.Linear)]
  for i, m in enumerate(dense):
    layers[f"G Dense_{i}"] = (m, "g", lambda p, i=i: {"weight": a(p[f"Dense_{i}"]["kernel"]).T})
  layers["G Dense_4"] = (dense[-1], "g", lambda p: {"weight": a(p["Dense_4"]["kernel"]).T,
                                                   "bias": a(p["Dense_4"]["bias"])})
  for i, m in enumerate(m for m in g if isinstance(m, torch.nn.BatchNorm1d)):
    layers[f"G BatchNorm_{i}"] = (m, "g", lambda p, i=i: {
        "weight": a(p[f"BatchNorm_{i}"]["scale"]), "bias": a(p[f"BatchNorm_{i}"]["bias"])})
  for i, m in enumerate(list(d)[:-1]):  # Linear(units * pieces), pieces contiguous
    layers[f"D Maxout_{i}"] = (m.linear, "d", lambda p, i=i: {
        "weight": a(p[f"Maxout_{i}"]["Dense_0"]["kernel"]).T,
        "bias": a(p[f"Maxout_{i}"]["Dense_0"]["bias"])})
  layers["D Dense_0"] = (d[-1], "d", lambda p: {"weight": a(p["Dense_0"]["kernel"]).T,
                                               "bias": a(p["Dense_0"]["bias"])})
  return layers


def _copy(layers, state):
  """Sets the torch modules to the gan_jax state's parameters."""
  with torch.no_grad():
    for module, player, to_torch in layers.values():
      for field, value in to_torch(getattr(state, f"{player}_params")).items():
        getattr(module, field).copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _compare(layers, new, old, pieces=None):
  """`_close` for every layer; a maxout layer's (`pieces`: their number) pieces of one
  unit are compared by their sum, which does not depend on which piece wins."""
  for name, (module, player, to_torch) in layers.items():
    ours, before = (to_torch(getattr(s, f"{player}_params")) for s in (new, old))
    for field, value in ours.items():
      theirs = getattr(module, field)
      if pieces and "Maxout" in name:
        by_unit = lambda x: np.asarray(x).reshape(-1, pieces, *x.shape[1:]).sum(1)
        _close(by_unit(value), by_unit(_numpy(theirs)), by_unit(before[field]),
               f"{name}.{field}, summed over pieces")
        # A near tie between two pieces may pick a different winner: rarely.
        routed = np.abs(np.asarray(value) - _numpy(theirs)) <= _tolerance(value, before[field])
        assert routed.mean() > 0.99, f"{name}.{field}: {routed.mean():.4f} of pieces agree"
      else:
        _close(value, theirs, before[field], f"{name}.{field}")


def test_the_dcgan_mirror_takes_the_step_of_the_dcgan_benchmark():
  batch, latent = 8, torch_dcgan.DCGAN_LATENT
  g_net, d_net = bench._dcgan_networks("adjoint", "batch", "adjoint")
  z = np.random.default_rng(4).normal(size=(batch, latent)).astype(np.float32)
  gan = _fixed_latents(gan_jax.GAN(g_net, d_net, optax.sgd(DCGAN_LR), optax.sgd(DCGAN_LR),
                                   gan_jax.games.non_saturating(), latent_dim=latent), z)
  real = torch_dcgan.images(batch, seed=5)
  state = gan_jax.init_state(gan, jax.random.key(0), jnp.asarray(real))
  new, metrics = jax.jit(gan_jax.make_train_step(gan))(state, jnp.asarray(real), jax.random.key(1))

  g, d = torch_dcgan.dcgan_generator(latent), torch_dcgan.dcgan_discriminator("batch")
  layers = _dcgan_layers(g, d)
  _copy(layers, state)
  sgd = lambda module: torch.optim.SGD(module.parameters(), lr=DCGAN_LR)
  step = torch_dcgan.dcgan_step(g, d, sgd(g), sgd(d))
  d_loss, g_loss = step(torch.from_numpy(real).permute(0, 3, 1, 2).contiguous(),
                        torch.from_numpy(z))

  np.testing.assert_allclose(metrics["d_loss"], d_loss.item(), rtol=1e-5)
  np.testing.assert_allclose(metrics["g_loss"], g_loss.item(), rtol=1e-5)
  _compare(layers, new, state)
  stats = new.g_collections["batch_stats"]
  for i, m in enumerate((g[2], g[5])):  # one training-mode pass of the generator
    ones = np.ones(m.num_features, np.float32)
    _close(stats[f"BatchNorm_{i}"]["mean"], m.running_mean, 0 * ones, f"G BatchNorm_{i} mean")
    count = batch * (7 * 7 if i == 0 else 14 * 14)  # BatchNorm2d: the unbiased variance
    biased = (m.running_var - 0.9) * (count - 1) / count + 0.9
    _close(stats[f"BatchNorm_{i}"]["var"], biased, ones, f"G BatchNorm_{i} var")


def _dcgan_layers(g, d):
  """As `_pacgan_layers`, for the DCGAN pair on 28x28x1."""
  a = np.asarray
  wide = 2 * torch_dcgan.BASE_FEATURES

  def chw_rows(kernel):  # flax flattens (H, W, C), torch (C, H, W)
    return a(kernel).reshape(7, 7, wide, -1).transpose(2, 0, 1, 3).reshape(7 * 7 * wide, -1)

  def conv_transpose(kernel):  # torch's (in, out, H, W) kernel is flax's flipped
    return a(kernel)[::-1, ::-1].transpose(2, 3, 0, 1)

  def norm(name):
    return lambda p: {"weight": a(p[name]["scale"]), "bias": a(p[name]["bias"])}

  return {
      "G Dense_0": (g[0], "g", lambda p: {"weight": chw_rows(a(p["Dense_0"]["kernel"]).T)}),
      "G BatchNorm_0": (g[2], "g", norm("BatchNorm_0")),
      "G ConvTranspose_0": (g[4], "g", lambda p: {
          "weight": conv_transpose(p["ConvTranspose_0"]["kernel"])}),
      "G BatchNorm_1": (g[5], "g", norm("BatchNorm_1")),
      "G ConvTranspose_1": (g[7], "g", lambda p: {
          "weight": conv_transpose(p["ConvTranspose_1"]["kernel"]),
          "bias": a(p["ConvTranspose_1"]["bias"])}),
      "D Conv_0": (d[0], "d", lambda p: {"weight": a(p["Conv_0"]["kernel"]).transpose(3, 2, 0, 1),
                                         "bias": a(p["Conv_0"]["bias"])}),
      "D Conv_1": (d[2], "d", lambda p: {"weight": a(p["Conv_1"]["kernel"]).transpose(3, 2, 0, 1)}),
      "D BatchNorm_0": (d[3], "d", norm("BatchNorm_0")),
      "D Dense_0": (d[6], "d", lambda p: {"weight": chw_rows(p["Dense_0"]["kernel"]).T,
                                          "bias": a(p["Dense_0"]["bias"])}),
  }
