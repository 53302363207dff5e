"""Multilayer perceptrons for low-dimensional toy data (mixtures of Gaussians, rings)."""

from typing import Callable, Sequence

import flax.linen as nn

from gan_jax import nets
from gan_jax.models import layers


def _kernel_init(init_std: float, orthogonal_gain: float = 0.0):
  """Orthogonal weights times `orthogonal_gain` (TensorFlow's orthogonal_initializer),
  else N(0, init_std^2) weights (PacGAN's IsotropicGaussian), or flax's default for 0."""
  if orthogonal_gain:
    return nn.initializers.orthogonal(scale=orthogonal_gain)
  return nn.initializers.normal(init_std) if init_std else nn.initializers.lecun_normal()


class MLPGenerator(nn.Module):
  """`[B, latent_dim]` -> `[B, output_dim]`: hidden dense layers, linear output.

  With `batch_norm`, each hidden layer is dense without bias (batch norm's shift
  takes its place), batch norm, then the activation.
  """

  output_dim: int
  hidden: Sequence[int] = (128, 128)
  activation: Callable = nn.relu
  batch_norm: bool = False
  init_std: float = 0.0
  batch_norm_momentum: float = 0.95
  batch_norm_epsilon: float = 1e-5
  orthogonal_gain: float = 0.0

  @nn.compact
  def __call__(self, z, train: bool):
    kernel_init = _kernel_init(self.init_std, self.orthogonal_gain)
    for features in self.hidden:
      z = nn.Dense(features, use_bias=not self.batch_norm, kernel_init=kernel_init)(z)
      if self.batch_norm:
        z = layers.BatchNorm(use_running_average=not train, momentum=self.batch_norm_momentum,
                             epsilon=self.batch_norm_epsilon)(z)
      z = self.activation(z)
    return nn.Dense(self.output_dim, kernel_init=kernel_init)(z)


class MLPDiscriminator(nn.Module):
  """`[B, ...]` -> `(logits [B], features [B, hidden[-1]])`."""

  hidden: Sequence[int] = (128, 128)
  activation: Callable = nn.relu
  spectral_norm: bool = False
  minibatch_kernels: int = 0
  minibatch_kernel_dim: int = 3
  maxout_pieces: int = 0
  init_std: float = 0.0
  orthogonal_gain: float = 0.0

  @nn.compact
  def __call__(self, x, train: bool):
    kernel_init = _kernel_init(self.init_std, self.orthogonal_gain)
    h = x.reshape(x.shape[0], -1)
    for features in self.hidden:
      if self.maxout_pieces:
        h = layers.Maxout(features, self.maxout_pieces, kernel_init=kernel_init)(h)
      else:
        h = self.activation(layers.maybe_spectral_norm(
            nn.Dense(features, kernel_init=kernel_init), self.spectral_norm, train=train)(h))
    features = h
    if self.minibatch_kernels:
      h = layers.MinibatchDiscrimination(self.minibatch_kernels, self.minibatch_kernel_dim)(h)
    logits = layers.maybe_spectral_norm(nn.Dense(1, kernel_init=kernel_init), self.spectral_norm,
                                        train=train)(h)
    return logits[:, 0], features


def mlp_generator(output_dim: int, hidden: Sequence[int] = (128, 128),
                  activation: str = "relu", batch_norm: bool = False,
                  init_std: float = 0.0, batch_norm_epsilon: float = 1e-5,
                  orthogonal_gain: float = 0.0) -> nets.Network:
  """An MLP generator for low-dimensional data.

  Latents `[B, latent_dim]` -> samples `[B, output_dim]` (linear output, so the
  samples live in the data's own scale).

  Args:
    output_dim: dimension of a sample.
    hidden: widths of the hidden layers.
    activation: a name in `layers.ACTIVATIONS`.
    batch_norm: hidden layers as dense (no bias) -> batch norm -> activation, the
      PacGAN/VEEGAN generator; running averages with momentum 0.95 (PacGAN's
      0.05 update) are used when sampling.
    init_std: weights drawn from N(0, init_std^2) (PacGAN: 0.02); 0 keeps flax's
      LeCun normal. Biases start at zero.
    batch_norm_epsilon: added to the batch variance (PacGAN's code: 1e-4).
    orthogonal_gain: if positive, every weight matrix starts orthogonal times this
      gain instead (the unrolled GAN's and LSGAN's mixture code: 1.4).

  Returns:
    A `Network`; its collections are `{}` unless `batch_norm` (`batch_stats`).

  References:
    Goodfellow et al., 2014, "Generative adversarial nets",
      https://arxiv.org/abs/1406.2661
    Lin et al., 2018, "PacGAN", https://arxiv.org/abs/1712.04086 (batch norm, init)
  """
  return nets.from_flax(MLPGenerator(output_dim, tuple(hidden), layers.activation(activation),
                                     batch_norm, init_std,
                                     batch_norm_epsilon=batch_norm_epsilon,
                                     orthogonal_gain=orthogonal_gain))


def mlp_discriminator(hidden: Sequence[int] = (128, 128), activation: str = "relu",
                      spectral_norm: bool = False, minibatch_kernels: int = 0,
                      minibatch_kernel_dim: int = 3, maxout_pieces: int = 0,
                      init_std: float = 0.0, orthogonal_gain: float = 0.0) -> nets.Network:
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
    maxout_pieces: if positive, each hidden layer is a maxout layer of this many
      linear pieces per unit (PacGAN's LinearMaxout, 5 pieces); `activation` and
      `spectral_norm` then do not apply to the hidden layers.
    init_std: weights drawn from N(0, init_std^2) (PacGAN: 0.02); 0 keeps flax's
      LeCun normal. Biases start at zero.
    orthogonal_gain: if positive, every weight matrix starts orthogonal times this
      gain instead (the unrolled GAN's and LSGAN's mixture code: 1.4).

  Returns:
    A `Network`; its collections are `{}` unless `spectral_norm`.

  References:
    Salimans et al., 2016, "Improved techniques for training GANs",
      https://arxiv.org/abs/1606.03498 (minibatch discrimination)
    Miyato et al., 2018, https://arxiv.org/abs/1802.05957 (spectral normalization)
    Goodfellow et al., 2013, "Maxout networks", https://arxiv.org/abs/1302.4389
  """
  if not hidden:
    raise ValueError("mlp_discriminator needs at least one hidden layer")
  return nets.from_flax(MLPDiscriminator(
      tuple(hidden), layers.activation(activation), spectral_norm,
      minibatch_kernels, minibatch_kernel_dim, maxout_pieces, init_std, orthogonal_gain))
