"""The CIFAR-10 ResNet pair of SNGAN (Miyato et al., 2018; Gulrajani et al., 2017).

Generator: Dense to 4x4xF, up-blocks (BN, ReLU, nearest 2x upsampling, conv3x3, BN,
ReLU, conv3x3, plus a 1x1-conv shortcut of the upsampled input), BN, ReLU, conv3x3,
tanh. Discriminator: an "optimized" first block, a down-block, two plain blocks,
ReLU, global sum pooling and a dense logit, spectrally normalised throughout.
Residual convolutions start Glorot-uniform with gain sqrt(2), shortcuts with gain 1,
as in the Chainer reference code.

References:
  Miyato et al., 2018, "Spectral normalization for generative adversarial networks",
    https://arxiv.org/abs/1802.05957
  Gulrajani et al., 2017, "Improved training of Wasserstein GANs",
    https://arxiv.org/abs/1704.00028
"""

import functools
from typing import Sequence

import flax.linen as nn

from gan_jax import nets
from gan_jax.models import layers

_residual_init = nn.initializers.variance_scaling(2.0, "fan_avg", "uniform")
_shortcut_init = nn.initializers.xavier_uniform()
_BatchNorm = functools.partial(layers.BatchNorm, momentum=0.9)


def _upsample(x):  # nearest neighbour, [B, H, W, C] -> [B, 2H, 2W, C]
  return x.repeat(2, axis=1).repeat(2, axis=2)


def _downsample(x):
  return nn.avg_pool(x, (2, 2), strides=(2, 2))


def _num_blocks(image_shape: Sequence[int]) -> int:
  height, width, _ = image_shape
  blocks = (height // 4).bit_length() - 1
  if height != width or height < 8 or height != 4 * 2 ** blocks:
    raise ValueError(f"resnet_generator needs (S, S, C) images with S = 4 * 2^k >= 8 "
                     f"(32 in the paper), got {tuple(image_shape)}")
  return blocks


class _GeneratorBlock(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x, train: bool):
    norm = functools.partial(_BatchNorm, use_running_average=not train)
    conv = functools.partial(nn.Conv, self.features, (3, 3), kernel_init=_residual_init)
    h = conv()(_upsample(nn.relu(norm()(x))))
    h = conv()(nn.relu(norm()(h)))
    return h + nn.Conv(self.features, (1, 1), kernel_init=_shortcut_init)(_upsample(x))


class _DiscriminatorBlock(nn.Module):
  features: int
  downsample: bool
  optimized: bool = False  # the first block: no pre-activation, pool before the shortcut
  spectral_norm: bool = True

  @nn.compact
  def __call__(self, x, train: bool):
    def conv(size, init):
      layer = nn.Conv(self.features, (size, size), kernel_init=init)
      return layers.maybe_spectral_norm(layer, self.spectral_norm, train=train)

    h = x if self.optimized else nn.relu(x)
    h = conv(3, _residual_init)(nn.relu(conv(3, _residual_init)(h)))
    if self.downsample:
      h = _downsample(h)
    if self.optimized:
      shortcut = conv(1, _shortcut_init)(_downsample(x))
    elif self.downsample or x.shape[-1] != self.features:
      shortcut = conv(1, _shortcut_init)(x)
      shortcut = _downsample(shortcut) if self.downsample else shortcut
    else:
      shortcut = x
    return h + shortcut


class ResNetGenerator(nn.Module):
  """`[B, latent_dim]` -> `[B, *image_shape]` in [-1, 1]."""

  image_shape: tuple[int, int, int] = (32, 32, 3)
  features: int = 256

  @nn.compact
  def __call__(self, z, train: bool):
    x = nn.Dense(4 * 4 * self.features, kernel_init=_shortcut_init)(z)
    x = x.reshape(-1, 4, 4, self.features)
    for _ in range(_num_blocks(self.image_shape)):
      x = _GeneratorBlock(self.features)(x, train)
    x = nn.relu(_BatchNorm(use_running_average=not train)(x))
    x = nn.Conv(self.image_shape[-1], (3, 3), kernel_init=_shortcut_init)(x)
    return nn.tanh(x)


class ResNetDiscriminator(nn.Module):
  """`[B, H, W, C]` -> `(logits [B], features [B, features])`."""

  features: int = 128
  spectral_norm: bool = True

  @nn.compact
  def __call__(self, x, train: bool):
    block = functools.partial(_DiscriminatorBlock, self.features,
                              spectral_norm=self.spectral_norm)
    x = block(downsample=True, optimized=True)(x, train)
    x = block(downsample=True)(x, train)
    x = block(downsample=False)(x, train)
    x = block(downsample=False)(x, train)
    features = nn.relu(x).sum(axis=(1, 2))
    dense = nn.Dense(1, kernel_init=_shortcut_init)
    logits = layers.maybe_spectral_norm(dense, self.spectral_norm, train=train)(features)
    return logits[:, 0], features


def resnet_generator(image_shape: Sequence[int] = (32, 32, 3),
                     features: int = 256) -> nets.Network:
  """The SNGAN CIFAR-10 ResNet generator.

  Latents `[B, latent_dim]` (the paper: 128) -> images `[B, S, S, C]` in [-1, 1]:
  Dense to 4x4xF, log2(S/4) up-blocks (3 for 32x32), BN, ReLU, conv3x3, tanh.

  Args:
    image_shape: `(S, S, C)` with `S = 4 * 2^k`; the paper uses (32, 32, 3).
    features: channels of every block (256 in SNGAN, 128 in WGAN-GP).

  Returns:
    A `Network` whose collections hold `batch_stats` (updated when `train=True`).

  References:
    Miyato et al., 2018, https://arxiv.org/abs/1802.05957
    Gulrajani et al., 2017, https://arxiv.org/abs/1704.00028
  """
  image_shape = tuple(image_shape)
  _num_blocks(image_shape)
  return nets.from_flax(ResNetGenerator(image_shape, features))


def resnet_discriminator(features: int = 128, spectral_norm: bool = True) -> nets.Network:
  """The SNGAN CIFAR-10 ResNet discriminator.

  Images `[B, H, W, C]` (32x32 in the paper) -> `(logits [B], features [B, F])`:
  optimized block (H/2), down-block (H/4), two plain blocks, ReLU, global sum
  pooling (the features), dense logit.

  Args:
    features: channels of every block.
    spectral_norm: spectrally normalise every convolution and the logit layer
      (`batch_stats` collection); without it the network has no collections.

  Returns:
    A `Network`.

  References:
    Miyato et al., 2018, https://arxiv.org/abs/1802.05957
  """
  return nets.from_flax(ResNetDiscriminator(features, spectral_norm))
