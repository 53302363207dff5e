"""The small Stacked MNIST networks of Metz et al. (2017), whose discriminator is weak on purpose.

Unrolled GANs measure mode collapse on Stacked MNIST with a discriminator a
fraction of the generator's size. The networks here are those of PacGAN's
reproduction of that setting (`stacked_MNIST_experiments/unrolled_GAN_experiment`):

  G: z -> Dense 4x4x64 -> BN, ReLU -> 3x3 stride-2 transposed convolutions to
     7x7x32, 14x14x16, 28x28x8 (each BN, ReLU) -> 3x3 stride-1 convolution to the
     image's channels -> tanh;
  D: three 3x3 stride-2 convolutions (2, 4, 8 channels for "D = 1/4 G"; 4, 8, 16 for
     "D = 1/2 G"), each BN and LeakyReLU(0.3) -> linear logit.

Every layer has a bias (also before batch norm, as there). Weights start N(0, 0.02)
(the convolutions truncated at 2 std, the transposed convolutions and dense layers
not), biases zero; batch norm has momentum 0.9 and eps 1e-5 and, as every network
here, samples with its running averages (PacGAN's code samples with batch statistics).
The transposed convolutions are TensorFlow's `conv2d_transpose` to a given output
size (4 -> 7 is not a doubling), `adjoint.ConvTransposeTo`.

References:
  Metz et al., 2017, "Unrolled Generative Adversarial Networks", ICLR,
    https://arxiv.org/abs/1611.02163
  Lin et al., 2018, "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS; code: https://github.com/fjxmlzn/PacGAN
"""

import functools
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from gan_jax import nets
from gan_jax.models import adjoint
from gan_jax.models import layers

_normal = nn.initializers.normal(0.02)
_truncated = nn.initializers.truncated_normal(0.02)
_BatchNorm = functools.partial(layers.BatchNorm, momentum=0.9, epsilon=1e-5)
# The discriminator's channels, by its size relative to the generator.
DISCRIMINATOR_WIDTHS = {"quarter": (2, 4, 8), "half": (4, 8, 16)}
_SIDES = (7, 14, 28)  # The generator's transposed convolutions' output sides.


class MetzGenerator(nn.Module):
  """`[B, latent_dim]` -> `[B, 28, 28, C]` in [-1, 1]."""

  channels: int = 3

  @nn.compact
  def __call__(self, z, train: bool):
    norm = functools.partial(_BatchNorm, use_running_average=not train)
    x = nn.Dense(4 * 4 * 64, kernel_init=_normal)(z).reshape(-1, 4, 4, 64)
    x = nn.relu(norm()(x))
    for features, side in zip((32, 16, 8), _SIDES):
      x = nn.relu(norm()(adjoint.ConvTransposeTo(features, side)(x)))
    x = nn.Conv(self.channels, (3, 3), padding="SAME", kernel_init=_truncated)(x)
    return nn.tanh(x)


class MetzDiscriminator(nn.Module):
  """`[B, 28, 28, C]` -> `(logits [B], features [B, 4 * 4 * widths[-1]])`."""

  widths: Sequence[int] = DISCRIMINATOR_WIDTHS["quarter"]

  @nn.compact
  def __call__(self, x, train: bool):
    for features in self.widths:
      x = nn.Conv(features, (3, 3), strides=(2, 2), padding="SAME", kernel_init=_truncated)(x)
      x = nn.leaky_relu(_BatchNorm(use_running_average=not train)(x), 0.3)
    features = x.reshape(x.shape[0], -1)
    return nn.Dense(1, kernel_init=_normal)(features)[:, 0], features


def _image_channels(image_shape: Sequence[int]) -> int:
  image_shape = tuple(image_shape)
  if image_shape[:2] != (28, 28) or len(image_shape) != 3:
    raise ValueError(f"the Metz et al. networks make 28x28 images, got {image_shape}")
  return image_shape[-1]


def metz_generator(image_shape: Sequence[int] = (28, 28, 3)) -> nets.Network:
  """The Metz et al. (2017) Stacked MNIST generator (in PacGAN's code).

  Latents `[B, latent_dim]` (the paper: 256) -> images `[B, 28, 28, C]` in [-1, 1]:
  Dense 4x4x64 -> 7x7x32 -> 14x14x16 -> 28x28x8 -> 28x28xC, 3x3 kernels, batch norm
  and ReLU between, tanh out.

  Args:
    image_shape: `(28, 28, C)`.

  Returns:
    A `Network` whose collections hold `batch_stats`.

  References:
    Metz et al., 2017, https://arxiv.org/abs/1611.02163
  """
  return nets.from_flax(MetzGenerator(_image_channels(image_shape)))


def metz_discriminator(image_shape: Sequence[int] = (28, 28, 3),
                       size: str = "quarter") -> nets.Network:
  """The Metz et al. (2017) small Stacked MNIST discriminator (in PacGAN's code).

  Images `[B, 28, 28, C]` -> `(logits [B], features [B, 128])` for `size="quarter"`
  (2, 4, 8 channels: "D = 1/4 G"), `[B, 256]` for "half" (4, 8, 16): three 3x3
  stride-2 convolutions, each with batch norm and LeakyReLU(0.3), then a linear logit.

  Args:
    image_shape: `(28, 28, C)` (C = 3 * M for packs of M Stacked MNIST images).
    size: "quarter" or "half", the discriminator's size relative to the generator's
      in Metz et al.'s Table 2.

  Returns:
    A `Network` whose collections hold `batch_stats`.

  References:
    Metz et al., 2017, https://arxiv.org/abs/1611.02163
  """
  _image_channels(image_shape)
  if size not in DISCRIMINATOR_WIDTHS:
    raise ValueError(f"unknown size {size!r}: choose one of {sorted(DISCRIMINATOR_WIDTHS)}")
  return nets.from_flax(MetzDiscriminator(DISCRIMINATOR_WIDTHS[size]))
