"""The DCGAN of the TensorFlow DCGAN code that VEEGAN's and PacGAN's Stacked MNIST runs use.

VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018) measure mode collapse
on Stacked MNIST with the DCGAN of `carpedm20/DCGAN-tensorflow`, at 28x28
(PacGAN's `stacked_MNIST_experiments/VEEGAN_experiment/model.py`). It is not the
28x28 DCGAN of `dcgan.py` (a 7x7 projection and two 4x4 upsamplings):

  G: z -> Dense to ceil(side / 16)^2 x 8F -> BN, ReLU -> four 5x5 stride-2
     transposed convolutions, each to the side the discriminator's convolutions
     pass through (28: 2 -> 4 -> 7 -> 14 -> 28) with 4F, 2F, F, C channels, BN and
     ReLU between -> tanh;
  D: four 5x5 stride-2 'SAME' convolutions with F, 2F, 4F, 8F channels, LeakyReLU
     0.2, batch norm on all but the first -> linear logit (F = 64).

Every layer has a bias (also before batch norm, as there). Weights start N(0, 0.02)
(the convolutions truncated at 2 std, the transposed convolutions and the dense
layers not), biases zero; batch norm has momentum 0.9, eps 1e-5, a scale and an
offset. The reference code trains this tanh generator against images in [0, 1]
(`X / 255`); `configs/stacked_mnist.py` does the same with `--config.data.scale`.

References:
  Radford et al., 2016, "Unsupervised Representation Learning with Deep
    Convolutional Generative Adversarial Networks", ICLR.
  Srivastava et al., 2017, "VEEGAN: Reducing Mode Collapse in GANs using Implicit
    Variational Learning", NeurIPS.
  Lin et al., 2018, "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS; code: https://github.com/fjxmlzn/PacGAN
"""

import functools
from typing import Sequence

import flax.linen as nn
from jax import lax

from gan_jax import nets
from gan_jax.models import adjoint
from gan_jax.models import layers

_normal = nn.initializers.normal(0.02)
_truncated = nn.initializers.truncated_normal(0.02)
_BatchNorm = functools.partial(layers.BatchNorm, momentum=0.9, epsilon=1e-5)
NUM_LAYERS = 4  # Stride-2 layers of each network.


def sides(side: int) -> tuple[int, ...]:
  """The sides of the discriminator's activations, from the image's down: 28 -> (28, 14, 7, 4, 2)."""
  out = [side]
  for _ in range(NUM_LAYERS):
    out.append(-(-out[-1] // 2))
  return tuple(out)


class TFDCGANGenerator(nn.Module):
  """`[B, latent_dim]` -> `[B, side, side, channels]` in [-1, 1]."""

  side: int = 28
  channels: int = 3
  base_features: int = 64

  @nn.compact
  def __call__(self, z, train: bool):
    norm = functools.partial(_BatchNorm, use_running_average=not train)
    path = sides(self.side)[::-1]  # 2, 4, 7, 14, 28
    width = self.base_features * 2 ** (NUM_LAYERS - 1)
    x = nn.Dense(path[0] * path[0] * width, kernel_init=_normal)(z)
    x = nn.relu(norm()(x.reshape(-1, path[0], path[0], width)))
    for i, side in enumerate(path[1:]):
      last = i == NUM_LAYERS - 1
      features = self.channels if last else width // 2 ** (i + 1)
      x = adjoint.ConvTransposeTo(features, side, kernel_size=5)(x)
      x = nn.tanh(x) if last else nn.relu(norm()(x))
    return x


class Conv(nn.Module):
  """`nn.Conv(features, (k, k), strides=2, padding="SAME")`: the same parameters and map,
  by taps on CPU where `adjoint.taps_pay` says (XLA's slow path there)."""

  features: int
  kernel_size: int = 5

  @nn.compact
  def __call__(self, x):
    k = self.kernel_size
    kernel = self.param("kernel", _truncated, (k, k, x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    padding = tuple(lax.padtype_to_pads(x.shape[1:3], (k, k), (2, 2), "SAME"))
    y = adjoint.conv_or_taps(x, kernel, (2, 2), padding, taps=adjoint.taps_pay(x.shape[1], k))
    return layers.add_bias(y, bias)


class TFDCGANDiscriminator(nn.Module):
  """`[B, side, side, C]` -> `(logits [B], features [B, ceil(side / 16)^2 * 8F])`."""

  base_features: int = 64

  @nn.compact
  def __call__(self, x, train: bool):
    for i in range(NUM_LAYERS):
      x = Conv(self.base_features * 2 ** i)(x)
      if i:
        x = _BatchNorm(use_running_average=not train)(x)
      x = nn.leaky_relu(x, 0.2)
    features = x.reshape(x.shape[0], -1)
    return nn.Dense(1, kernel_init=_normal)(features)[:, 0], features


def _square(image_shape: Sequence[int]) -> tuple[int, int]:
  image_shape = tuple(image_shape)
  if len(image_shape) != 3 or image_shape[0] != image_shape[1] or image_shape[0] < 16:
    raise ValueError(f"the TensorFlow DCGAN makes square images of side >= 16 [H, H, C], "
                     f"got {image_shape}")
  return image_shape[0], image_shape[-1]


def tf_dcgan_generator(image_shape: Sequence[int] = (28, 28, 3),
                       base_features: int = 64) -> nets.Network:
  """The generator of the TensorFlow DCGAN code (VEEGAN's and PacGAN's Stacked MNIST).

  Latents `[B, latent_dim]` (the reference: 100, uniform on [-1, 1]) -> images
  `[B, H, H, C]` in [-1, 1]: Dense to ceil(H / 16)^2 x 8F, then four 5x5 stride-2
  transposed convolutions (TensorFlow's, to sizes that need not double: 28x28 goes
  through 2, 4, 7, 14), batch norm and ReLU between, tanh out.

  Args:
    image_shape: `(H, H, C)`.
    base_features: F, the last hidden layer's channels (the reference's gf_dim, 64).

  Returns:
    A `Network` whose collections hold `batch_stats`.

  References:
    Lin et al., 2018, https://github.com/fjxmlzn/PacGAN
  """
  side, channels = _square(image_shape)
  return nets.from_flax(TFDCGANGenerator(side, channels, base_features))


def tf_dcgan_discriminator(image_shape: Sequence[int] = (28, 28, 3),
                           base_features: int = 64) -> nets.Network:
  """The discriminator of the TensorFlow DCGAN code (VEEGAN's and PacGAN's Stacked MNIST).

  Images `[B, H, H, C]` (C = 3 * M for packs of M Stacked MNIST images) ->
  `(logits [B], features [B, ceil(H / 16)^2 * 8F])`: four 5x5 stride-2 convolutions
  with F, 2F, 4F, 8F channels, batch norm on all but the first, LeakyReLU 0.2.

  Args:
    image_shape: `(H, H, C)`.
    base_features: F (the reference's df_dim, 64).

  Returns:
    A `Network` whose collections hold `batch_stats`.

  References:
    Lin et al., 2018, https://github.com/fjxmlzn/PacGAN
  """
  _square(image_shape)
  return nets.from_flax(TFDCGANDiscriminator(base_features))
