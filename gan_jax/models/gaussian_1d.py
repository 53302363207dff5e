"""The 1-D Gaussian toy pair of the AYLIEN "gan-intro" tutorial.

The data are N(4, 0.5^2) samples; the generator sees stratified uniform noise. The
discriminator is deliberately stronger than the generator, and its minibatch
discrimination layer is what keeps the generator from collapsing onto the mode.

References:
  AYLIEN, 2016, "An introduction to generative adversarial networks (with code in
    TensorFlow)", https://github.com/AYLIEN/gan-intro
  Salimans et al., 2016, "Improved techniques for training GANs",
    https://arxiv.org/abs/1606.03498
"""

import flax.linen as nn

from gan_jax import nets
from gan_jax.models import layers

# The tutorial's `linear` draws weights from N(0, 1) and starts biases at zero.
_init = nn.initializers.normal(1.0)


class Gaussian1DGenerator(nn.Module):
  """`[B, latent_dim]` -> `[B, 1]`: linear, softplus, linear."""

  hidden: int = 4

  @nn.compact
  def __call__(self, z, train: bool):
    del train
    h = nn.softplus(nn.Dense(self.hidden, kernel_init=_init, name="g0")(z))
    return nn.Dense(1, kernel_init=_init, name="g1")(h)


class Gaussian1DDiscriminator(nn.Module):
  """`[B, 1]` -> `(logits [B], features [B, F])`: a tanh MLP of width `2 * hidden`."""

  hidden: int = 4
  minibatch: bool = True
  spectral_norm: bool = False

  @nn.compact
  def __call__(self, x, train: bool):
    def dense(features, name):
      layer = nn.Dense(features, kernel_init=_init, name=name)
      return layers.maybe_spectral_norm(layer, self.spectral_norm, train=train)

    h = nn.tanh(dense(2 * self.hidden, "d0")(x))
    h = nn.tanh(dense(2 * self.hidden, "d1")(h))
    # Without minibatch features the discriminator needs a third layer to have
    # enough capacity to separate the two distributions.
    if self.minibatch:
      h = layers.MinibatchDiscrimination(5, 3, name="minibatch")(h)
    else:
      h = nn.tanh(dense(2 * self.hidden, "d2")(h))
    return dense(1, "d3")(h)[:, 0], h


def gaussian_1d_generator(hidden: int = 4) -> nets.Network:
  """The gan-intro generator: latents `[B, latent_dim]` -> samples `[B, 1]`.

  `linear(hidden) -> softplus -> linear(1)`, weights N(0, 1) as in the tutorial.

  Args:
    hidden: width of the hidden layer.

  Returns:
    A `Network` without collections.

  References:
    https://github.com/AYLIEN/gan-intro
  """
  return nets.from_flax(Gaussian1DGenerator(hidden))


def gaussian_1d_discriminator(hidden: int = 4, minibatch: bool = True,
                              spectral_norm: bool = False) -> nets.Network:
  """The gan-intro discriminator: samples `[B, 1]` -> `(logits [B], features [B, F])`.

  `d0 -> tanh -> d1 -> tanh`, then minibatch discrimination with 5 kernels of
  dimension 3 (`F = 2 * hidden + 5`) or, without it, `d2 -> tanh` (`F = 2 * hidden`);
  then a linear logit (the tutorial's sigmoid lives in the loss).

  Args:
    hidden: half the width of the hidden layers.
    minibatch: use minibatch discrimination.
    spectral_norm: spectrally normalise the dense layers (`batch_stats` collection).

  Returns:
    A `Network`; its collections are `{}` unless `spectral_norm`.

  References:
    https://github.com/AYLIEN/gan-intro
    Salimans et al., 2016, https://arxiv.org/abs/1606.03498
  """
  return nets.from_flax(Gaussian1DDiscriminator(hidden, minibatch, spectral_norm))
