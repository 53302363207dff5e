"""The MNIST model of the original GAN paper (pylearn2 config `mnist.yaml`).

Generator: two ReLU layers of 1200 units and a sigmoid output, so samples are in
[0, 1]. Discriminator: two maxout layers (240 units of 5 pieces) with dropout (keep
probability 0.8 on the input, 0.5 on the hidden layers; kept units are scaled by
1 / keep, as the config's input scales 1.25 and 2 do) and a logit. Weights start
uniform in [-irange, irange] with the config's irange (0.05 for G, 0.005 for D).
The generator's output bias may start at the logit of the data's mean pixel
intensities, as the config's `init_sigmoid_bias_from_marginals` does.

References:
  Goodfellow et al., 2014, "Generative adversarial nets",
    https://arxiv.org/abs/1406.2661, code: https://github.com/goodfeli/adversarial
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import nets
from gan_jax.models import layers


def _irange(r):
  """pylearn2's `irange`: weights uniform in [-r, r]."""
  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -r, r)
  return init


class GoodfellowMNISTGenerator(nn.Module):
  """`[B, latent_dim]` -> `[B, 28, 28, 1]` in [0, 1]."""

  output_bias: tuple | None = None  # 784 initial output biases; None: zeros.

  @nn.compact
  def __call__(self, z, train: bool):
    del train
    h = nn.relu(nn.Dense(1200, kernel_init=_irange(0.05))(z))
    h = nn.relu(nn.Dense(1200, kernel_init=_irange(0.05))(h))
    bias_init = nn.initializers.zeros_init()
    if self.output_bias is not None:
      bias = jnp.asarray(self.output_bias, jnp.float32)
      bias_init = lambda key, shape, dtype=jnp.float32: bias.astype(dtype).reshape(shape)
    x = nn.sigmoid(nn.Dense(784, kernel_init=_irange(0.05), bias_init=bias_init)(h))
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


def sigmoid_bias_from_marginals(images) -> tuple:
  """pylearn2's `init_sigmoid_bias_from_marginals`: the logit of each pixel's mean.

  Args:
    images: training images `[N, 28, 28, 1]` in [0, 1] (or uint8 in 0..255).

  Returns:
    784 biases, so that an untrained generator outputs the mean image.
  """
  x = np.asarray(images, np.float64).reshape(len(images), -1)
  if np.asarray(images).dtype == np.uint8:
    x = x / 255.0
  mean = np.clip(x.mean(axis=0), 1e-7, 1 - 1e-7)
  return tuple(float(v) for v in np.log(mean / (1 - mean)))


def goodfellow_mnist_generator(output_bias=None) -> nets.Network:
  """Goodfellow et al. (2014)'s MNIST generator.

  Latents `[B, latent_dim]` (the paper: 100) -> images `[B, 28, 28, 1]` in [0, 1]:
  Dense 1200 ReLU -> Dense 1200 ReLU -> Dense 784 sigmoid.

  Args:
    output_bias: 784 initial biases of the output layer, e.g.
      `sigmoid_bias_from_marginals(train_images)` as in the paper; None: zeros.

  Returns:
    A `Network` without collections.

  References:
    Goodfellow et al., 2014, https://arxiv.org/abs/1406.2661
  """
  if output_bias is not None:
    output_bias = tuple(float(b) for b in np.asarray(output_bias).reshape(-1))
    if len(output_bias) != 784:
      raise ValueError(f"output_bias needs 784 values, got {len(output_bias)}")
  return nets.from_flax(GoodfellowMNISTGenerator(output_bias))


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
