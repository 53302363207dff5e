"""The MNIST model of the original GAN paper (pylearn2 config `mnist.yaml`).

Generator: two ReLU layers of 1200 units and a sigmoid output, so samples are in
[0, 1]. Discriminator: two maxout layers (240 units of 5 pieces) with dropout (keep
probability 0.8 on the input, 0.5 on the hidden layers; kept units are scaled by
1 / keep, as the config's input scales 1.25 and 2 do) and a logit. Weights start
uniform in [-irange, irange] with the config's irange (0.05 for G, 0.005 for D).
Not reproduced: the generator's output bias, which the config sets from the
data's pixel marginals.

References:
  Goodfellow et al., 2014, "Generative adversarial nets",
    https://arxiv.org/abs/1406.2661, code: https://github.com/goodfeli/adversarial
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax import nets
from gan_jax.models import layers


def _irange(r):
  """pylearn2's `irange`: weights uniform in [-r, r]."""
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -r, r)
  return init


class GoodfellowMNISTGenerator(nn.Module):
  """`[B, latent_dim]` -> `[B, 28, 28, 1]` in [0, 1]."""

  @nn.compact
  def __call__(self, z, train: bool):
    del train
    h = nn.relu(nn.Dense(1200, kernel_init=_irange(0.05))(z))
    h = nn.relu(nn.Dense(1200, kernel_init=_irange(0.05))(h))
    x = nn.sigmoid(nn.Dense(784, kernel_init=_irange(0.05))(h))
    return x.reshape(-1, 28, 28, 1)


class GoodfellowMNISTDiscriminator(nn.Module):
  """`[B, 28, 28, 1]` -> `(logits [B], features [B, 240])`."""

  spectral_norm: bool = False

  @nn.compact
  def __call__(self, x, train: bool):
    def maxout(h):
      layer = layers.Maxout(240, 5, kernel_init=_irange(0.005))
      return layers.maybe_spectral_norm(layer, self.spectral_norm, train=train)(h)

    h = x.reshape(x.shape[0], -1)
    h = maxout(nn.Dropout(0.2, deterministic=not train)(h))
    h = maxout(nn.Dropout(0.5, deterministic=not train)(h))
    features = h
    h = nn.Dropout(0.5, deterministic=not train)(h)
    dense = nn.Dense(1, kernel_init=_irange(0.005))
    logits = layers.maybe_spectral_norm(dense, self.spectral_norm, train=train)(h)
    return logits[:, 0], features


def goodfellow_mnist_generator() -> nets.Network:
  """Goodfellow et al. (2014)'s MNIST generator.

  Latents `[B, latent_dim]` (the paper: 100) -> images `[B, 28, 28, 1]` in [0, 1]:
  Dense 1200 ReLU -> Dense 1200 ReLU -> Dense 784 sigmoid.

  Returns:
    A `Network` without collections.

  References:
    Goodfellow et al., 2014, https://arxiv.org/abs/1406.2661
  """
  return nets.from_flax(GoodfellowMNISTGenerator())


def goodfellow_mnist_discriminator(spectral_norm: bool = False) -> nets.Network:
  """Goodfellow et al. (2014)'s MNIST maxout discriminator.

  Images `[B, 28, 28, 1]` -> `(logits [B], features [B, 240])`: dropout (keep 0.8)
  -> Maxout 240x5 -> dropout (keep 0.5) -> Maxout 240x5 (the features) -> dropout
  (keep 0.5) -> Dense 1. Dropout draws from the `dropout` RNG stream and is active
  only with `train=True`.

  Args:
    spectral_norm: spectrally normalise the maxout and output layers (`batch_stats`
      collection; not in the paper).

  Returns:
    A `Network`; its collections are `{}` unless `spectral_norm`.

  References:
    Goodfellow et al., 2014, https://arxiv.org/abs/1406.2661
    Goodfellow et al., 2013, "Maxout networks", https://arxiv.org/abs/1302.4389
  """
  return nets.from_flax(GoodfellowMNISTDiscriminator(spectral_norm))
