"""DCGAN generator and discriminator (Radford et al., 2015) for 28, 32 and 64 pixels.

The generator projects the latent to a 4x4 map (7x7 for 28x28 images) and doubles
the resolution with stride-2 4x4 transposed convolutions, halving the features each
time; BatchNorm and ReLU follow every layer but the tanh output. The discriminator
mirrors it with stride-2 4x4 convolutions and LeakyReLU(0.2), without normalization
on the first layer. All kernels start N(0, 0.02) and BatchNorm scales N(1, 0.02).
BatchNorm keeps running averages with momentum 0.9 (PyTorch's 0.1); it is
`layers.BatchNorm`, flax's layer with its sums computed as matrix products
(the same variables and checkpoints, faster on CPU).

Mixed precision: with `dtype="bfloat16"` (or "float16") every layer computes in that
dtype while the parameters stay float32 (and so do the optimizer's updates and
checkpoints). Normalization layers still compute their statistics in float32 (flax
promotes them to at least float32), and the outputs come back in float32: the
generator's tanh, the discriminator's features, minibatch distances and logit, and
so every loss.

References:
  Radford et al., 2015, "Unsupervised representation learning with deep
    convolutional generative adversarial networks", https://arxiv.org/abs/1511.06434
"""

import functools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax import nets
from gan_jax.models import layers
from gan_jax.models.adjoint import AdjointConv, AdjointConvTranspose

# Image size -> (side of the projected map, number of stride-2 layers).
_LAYOUTS = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
_NORMALIZATIONS = ("batch", "layer", "none")
# Exactly equivalent forms of the stride-2 4x4 transposed convolution and strided
# convolution (same parameters, outputs and gradients): Flax's own layers, and the
# adjoint forms (adjoint.py), whose derivatives of every order are fast convolutions
# on XLA's CPU backend (a DCGAN generator's kernel gradient; a gradient penalty's
# second derivatives).
_UPSAMPLINGS = {"transpose": nn.ConvTranspose, "adjoint": AdjointConvTranspose}
_DOWNSAMPLINGS = {"conv": nn.Conv, "adjoint": AdjointConv}
# Computation dtypes of the factories' `dtype` argument (None: float32 everywhere).
_DTYPES = ("bfloat16", "float16", "float32")

_kernel_init = nn.initializers.normal(0.02)


def _scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


_BatchNorm = functools.partial(layers.BatchNorm, momentum=0.9, scale_init=_scale_init)


def _layout(image_shape: Sequence[int]) -> tuple[int, int]:
  height, width, _ = image_shape
  if height != width or height not in _LAYOUTS:
    raise ValueError(
        f"DCGAN supports images of shape (S, S, C) with S in {sorted(_LAYOUTS)}, "
        f"got {tuple(image_shape)}")
  return _LAYOUTS[height]


def _compute_dtype(dtype: str | None) -> jnp.dtype | None:
  """The factories' `dtype` name as a `jnp.dtype` (None stays None)."""
  if dtype is None:
    return None
  if dtype not in _DTYPES:
    raise ValueError(f"unknown dtype {dtype!r}; choose one of {_DTYPES} or None")
  return jnp.dtype(dtype)


def _upsample(features: int, index: int, *, kind: str, use_bias: bool = False,
              dtype: jnp.dtype | None = None) -> nn.Module:
  """The generator's stride-2 upsampling layer: [B, H, W, C] -> [B, 2H, 2W, features].

  Named `ConvTranspose_{index}` whatever its kind, so both kinds share parameter
  names, initial values and checkpoints.
  """
  padding = dict(padding="SAME") if kind == "transpose" else {}  # the others: always SAME
  return _UPSAMPLINGS[kind](features, (4, 4), strides=(2, 2), use_bias=use_bias,
                            kernel_init=_kernel_init, dtype=dtype,
                            name=f"ConvTranspose_{index}", **padding)


class DCGANGenerator(nn.Module):
  """`[B, latent_dim]` -> `[B, *image_shape]` in [-1, 1], float32.

  `dtype` is the computation dtype of every layer (None: inferred, float32);
  parameters are float32 whatever it is.
  """

  image_shape: tuple[int, int, int]
  base_features: int = 64
  upsample: str = "transpose"
  dtype: jnp.dtype | None = None

  @nn.compact
  def __call__(self, z, train: bool):
    side, num_up = _layout(self.image_shape)
    norm = functools.partial(_BatchNorm, use_running_average=not train, dtype=self.dtype)
    upsample = functools.partial(_upsample, kind=self.upsample, dtype=self.dtype)
    features = self.base_features * 2 ** (num_up - 1)
    x = nn.Dense(side * side * features, use_bias=False, kernel_init=_kernel_init,
                 dtype=self.dtype)(z)
    x = nn.relu(norm()(x.reshape(-1, side, side, features)))
    for i in range(num_up - 1):
      features //= 2
      x = nn.relu(norm()(upsample(features, i)(x)))
    x = upsample(self.image_shape[-1], num_up - 1, use_bias=True)(x)
    if self.dtype is not None:  # tanh in float32: the images (and losses) stay float32.
      x = x.astype(jnp.float32)
    return nn.tanh(x)


class DCGANDiscriminator(nn.Module):
  """`[B, *image_shape]` -> `(logits [B], features [B, F])`, both float32.

  `dtype` is the computation dtype of the convolutions and normalizations (None:
  inferred, float32); the minibatch layer and the logit always compute in float32,
  and parameters are float32 whatever it is.
  """

  image_shape: tuple[int, int, int]
  base_features: int = 64
  normalization: str = "batch"
  spectral_norm: bool = False
  minibatch_kernels: int = 0
  minibatch_kernel_dim: int = 5
  downsample: str = "conv"
  dtype: jnp.dtype | None = None

  @nn.compact
  def __call__(self, x, train: bool):
    _, num_down = _layout(self.image_shape)
    for i in range(num_down):
      normalized = i > 0 and self.normalization != "none"
      options = dict(use_bias=not normalized, kernel_init=_kernel_init, dtype=self.dtype)
      if self.downsample == "conv":
        conv = nn.Conv(self.base_features * 2 ** i, (4, 4), strides=(2, 2), padding="SAME",
                       **options)
      else:  # Named as nn.Conv would be: the same parameter tree and checkpoints.
        conv = _DOWNSAMPLINGS[self.downsample](self.base_features * 2 ** i, (4, 4),
                                               strides=(2, 2), name=f"Conv_{i}", **options)
      x = layers.maybe_spectral_norm(conv, self.spectral_norm, train=train)(x)
      if normalized and self.normalization == "batch":
        x = _BatchNorm(use_running_average=not train, dtype=self.dtype)(x)
      elif normalized:  # per-example statistics over (H, W, C), per-channel affine
        x = nn.LayerNorm(reduction_axes=(-3, -2, -1), dtype=self.dtype)(x)
      x = nn.leaky_relu(x, 0.2)
    features = x.reshape(x.shape[0], -1)
    if self.dtype is not None:
      # The minibatch distances (exp of L1 norms), the logit and the losses need
      # float32; both layers then infer it from their input and float32 parameters.
      features = features.astype(jnp.float32)
    h = features
    if self.minibatch_kernels:
      h = layers.MinibatchDiscrimination(self.minibatch_kernels, self.minibatch_kernel_dim)(h)
    dense = nn.Dense(1, kernel_init=_kernel_init)
    logits = layers.maybe_spectral_norm(dense, self.spectral_norm, train=train)(h)
    return logits[:, 0], features


def dcgan_generator(image_shape: Sequence[int], base_features: int = 64,
                    upsample: str = "transpose", dtype: str | None = None) -> nets.Network:
  """The DCGAN generator.

  Latents `[B, latent_dim]` -> images `[B, S, S, C]` in [-1, 1], `S` in {28, 32, 64}.
  For 64x64: Dense -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64xC (with
  `base_features=64`); 32x32 drops the widest layer; 28x28 starts from 7x7x128.

  Args:
    image_shape: `(S, S, C)`.
    base_features: features of the last hidden layer; each layer closer to the
      latent doubles them.
    upsample: "transpose" (`nn.ConvTranspose`) or "adjoint"
      (`AdjointConvTranspose`): the same layer, parameters and checkpoints,
      computed two ways; on CPU "adjoint" trains much faster (the configs' choice).
    dtype: the layers' computation dtype, "bfloat16", "float16" or "float32"; None
      (the default) and "float32" compute in float32. Parameters, batch statistics
      and the output images are float32 whatever it is.

  Returns:
    A `Network` whose collections hold `batch_stats` (updated when `train=True`).

  References:
    Radford et al., 2015, https://arxiv.org/abs/1511.06434
  """
  image_shape = tuple(image_shape)
  _layout(image_shape)
  if upsample not in _UPSAMPLINGS:
    raise ValueError(f"unknown upsample {upsample!r}: choose one of {sorted(_UPSAMPLINGS)}")
  return nets.from_flax(DCGANGenerator(image_shape, base_features, upsample,
                                       _compute_dtype(dtype)))


def dcgan_discriminator(image_shape: Sequence[int], base_features: int = 64,
                        normalization: str = "batch", spectral_norm: bool = False,
                        minibatch_kernels: int = 0,
                        minibatch_kernel_dim: int = 5,
                        downsample: str = "conv",
                        dtype: str | None = None) -> nets.Network:
  """The DCGAN discriminator (or, without batch norm, a WGAN-GP critic).

  Images `[B, S, S, C]` -> `(logits [B], features [B, F])`, with `F = (S/2^n)^2 *
  base_features * 2^(n-1)` the flattened last convolution (`n` = 2, 3, 4 for `S` =
  28, 32, 64). Stride-2 4x4 convolutions doubling the features, LeakyReLU(0.2),
  normalization on all but the first; then an optional minibatch discrimination
  layer and a dense logit.

  Args:
    image_shape: `(S, S, C)`, `S` in {28, 32, 64}.
    base_features: features of the first convolution.
    normalization: "batch" (DCGAN), or "layer" or "none" for gradient-penalty
      critics, whose per-example input gradients batch statistics would mix.
    spectral_norm: spectrally normalise every convolution and the logit layer.
    minibatch_kernels: if positive, minibatch discrimination with this many kernels
      before the logit (Salimans et al. used 100 kernels of dimension 5).
    minibatch_kernel_dim: dimension of each minibatch kernel.
    downsample: "conv" (`nn.Conv`) or "adjoint" (`AdjointConv`): the same layer and
      parameters computed two ways; "adjoint" makes a gradient penalty's second
      derivatives much faster on CPU (the configs' choice).
    dtype: the computation dtype of the convolutions and normalizations,
      "bfloat16", "float16" or "float32"; None (the default) and "float32" compute
      in float32. Parameters, collections, the minibatch layer, the logits and the
      features are float32 whatever it is.

  Returns:
    A `Network`; its collections hold `batch_stats` when `normalization="batch"` or
    `spectral_norm`, else `{}`.

  References:
    Radford et al., 2015, https://arxiv.org/abs/1511.06434
    Gulrajani et al., 2017, "Improved training of Wasserstein GANs",
      https://arxiv.org/abs/1704.00028 (no batch norm in the critic)
    Miyato et al., 2018, https://arxiv.org/abs/1802.05957
  """
  image_shape = tuple(image_shape)
  _layout(image_shape)
  if normalization not in _NORMALIZATIONS:
    raise ValueError(f"unknown normalization {normalization!r}; choose one of {_NORMALIZATIONS}")
  if downsample not in _DOWNSAMPLINGS:
    raise ValueError(f"unknown downsample {downsample!r}; choose one of {sorted(_DOWNSAMPLINGS)}")
  return nets.from_flax(DCGANDiscriminator(image_shape, base_features, normalization,
                                           spectral_norm, minibatch_kernels,
                                           minibatch_kernel_dim, downsample,
                                           _compute_dtype(dtype)))
