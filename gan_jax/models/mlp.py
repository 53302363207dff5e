"""Multilayer perceptrons for low-dimensional toy data (mixtures of Gaussians, rings)."""

from typing import Callable, Sequence

import flax.linen as nn

from gan_jax import nets
from gan_jax.models import layers


class MLPGenerator(nn.Module):
  """`[B, latent_dim]` -> `[B, output_dim]`: hidden dense layers, linear output."""

  output_dim: int
  hidden: Sequence[int] = (128, 128)
  activation: Callable = nn.relu

  @nn.compact
  def __call__(self, z, train: bool):
    del train
    for features in self.hidden:
      z = self.activation(nn.Dense(features)(z))
    return nn.Dense(self.output_dim)(z)


class MLPDiscriminator(nn.Module):
  """`[B, ...]` -> `(logits [B], features [B, hidden[-1]])`."""

  hidden: Sequence[int] = (128, 128)
  activation: Callable = nn.relu
  spectral_norm: bool = False
  minibatch_kernels: int = 0
  minibatch_kernel_dim: int = 3

  @nn.compact
  def __call__(self, x, train: bool):
    h = x.reshape(x.shape[0], -1)
    for features in self.hidden:
      h = self.activation(
          layers.maybe_spectral_norm(nn.Dense(features), self.spectral_norm, train=train)(h))
    features = h
    if self.minibatch_kernels:
      h = layers.MinibatchDiscrimination(self.minibatch_kernels, self.minibatch_kernel_dim)(h)
    logits = layers.maybe_spectral_norm(nn.Dense(1), self.spectral_norm, train=train)(h)
    return logits[:, 0], features


def mlp_generator(output_dim: int, hidden: Sequence[int] = (128, 128),
                  activation: str = "relu") -> nets.Network:
  """An MLP generator for low-dimensional data.

  Latents `[B, latent_dim]` -> samples `[B, output_dim]` (linear output, so the
  samples live in the data's own scale).

  Args:
    output_dim: dimension of a sample.
    hidden: widths of the hidden layers.
    activation: a name in `layers.ACTIVATIONS`.

  Returns:
    A `Network` without collections.

  References:
    Goodfellow et al., 2014, "Generative adversarial nets",
      https://arxiv.org/abs/1406.2661
  """
  return nets.from_flax(MLPGenerator(output_dim, tuple(hidden), layers.activation(activation)))


def mlp_discriminator(hidden: Sequence[int] = (128, 128), activation: str = "relu",
                      spectral_norm: bool = False, minibatch_kernels: int = 0,
                      minibatch_kernel_dim: int = 3) -> nets.Network:
  """An MLP discriminator for low-dimensional data.

  Samples `[B, ...]` (flattened) -> `(logits [B], features [B, hidden[-1]])`; the
  features are the last hidden layer, before any minibatch features.

  Args:
    hidden: widths of the hidden layers (at least one).
    activation: a name in `layers.ACTIVATIONS`.
    spectral_norm: spectrally normalise the hidden and logit layers (`batch_stats`
      collection).
    minibatch_kernels: if positive, a `MinibatchDiscrimination` layer with this many
      kernels feeds the logit.
    minibatch_kernel_dim: dimension of each minibatch kernel.

  Returns:
    A `Network`; its collections are `{}` unless `spectral_norm`.

  References:
    Salimans et al., 2016, "Improved techniques for training GANs",
      https://arxiv.org/abs/1606.03498 (minibatch discrimination)
    Miyato et al., 2018, https://arxiv.org/abs/1802.05957 (spectral normalization)
  """
  if not hidden:
    raise ValueError("mlp_discriminator needs at least one hidden layer")
  return nets.from_flax(MLPDiscriminator(
      tuple(hidden), layers.activation(activation), spectral_norm,
      minibatch_kernels, minibatch_kernel_dim))
