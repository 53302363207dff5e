"""Convolutions whose derivatives, of every order, are ordinary strided convolutions.

A convolution `y = conv(x, K)` is linear in each argument. Its three products are

  forward:           y  = conv(x, K)             (a strided convolution),
  input gradient:    dx = conv^T(dy, K)          (its adjoint: a transposed convolution),
  kernel gradient:   dK = kgrad(x, dy)           (a correlation of input and output),

and a transposed convolution is the input gradient of a strided one. XLA's CPU
backend runs the strided convolution, its adjoint and its kernel gradient on fast
(Eigen / YNNPACK) paths, but JAX's automatic derivatives of the adjoint are
convolutions with dilated inputs *and* kernels, which run on a slow generic path:

* the kernel gradient of `nn.ConvTranspose` (a DCGAN generator's backward pass);
* the second derivatives of `nn.Conv` that the WGAN-GP gradient penalty takes
  (the derivative of the critic's input gradient with respect to its kernels).

`conv` and `conv_adjoint` below carry custom VJPs that name the product each
derivative is, by linearity: for `y = conv^T(g, K)`, `<y, c> = <g, conv(c, K)>`,
so `dg = conv(c, K)` and `dK = kgrad(c, g)`. Every derivative is then one of the
three fast products, to any order, and the values are those of `lax.conv_general_dilated`
and its VJP (the same operations, term for term). On CPU the adjoint of a
convolution whose kernel extents are multiples of its strides (DCGAN's 4x4, stride
2) is computed as one stride-1 convolution per phase of its output positions, the
same multiply-adds, faster there than XLA's convolution of a dilated input.

`AdjointConv` and `AdjointConvTranspose` are `nn.Conv` and `nn.ConvTranspose` with
`padding="SAME"` computed this way: the same parameters, outputs and gradients
(their bias gradients are matrix products too, `layers.add_bias`).
`ConvTransposeTo` is TensorFlow's `conv2d_transpose` to a given output size (the
DCGAN-tensorflow and Metz et al. generators'), the same adjoint.

`taps_conv` is the strided convolution as one matrix product of the input's taps
(im2col), whose derivatives are slices, pads and matrix products. XLA's CPU
convolutions fall to a slow path, about 0.5 GFLOP/s on 2 cores, for large kernels
on small images: the 5x5 stride-2 convolution from 4x4x256 to 2x2x512 (batch 64)
took 3.5 s, by taps 43 ms; the input gradient of the one from 7x7x128 to 4x4x256
1.5 s, by taps 80 ms. `conv_or_taps` and `ConvTransposeTo` take taps on CPU where
`taps_pay` says (an image side under twice the kernel's), XLA's convolution elsewhere.
On a GPU the three products are cuDNN calls either way.

PyTorch's `ConvTranspose2d(kernel_size=4, stride=2, padding=1)` (the DCGAN layer)
computes the map of `AdjointConvTranspose(features)` with the kernel flipped: a
weight `W` of shape `[in, out, 4, 4]` is `kernel = W[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)`.

References:
  Dumoulin and Visin, 2016, "A guide to convolution arithmetic for deep learning",
    https://arxiv.org/abs/1603.07285
  Odena et al., 2016, "Deconvolution and checkerboard artifacts",
    https://distill.pub/2016/deconv-checkerboard/
"""

import functools
import itertools
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen import dtypes
from jax import lax

from gan_jax.models import layers

Padding = tuple[tuple[int, int], ...]


def _dimension_numbers(ndim: int) -> tuple[str, str, str]:
  spatial = "DHW"[-ndim:]
  return ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")


def _lax_conv(x, kernel, strides: tuple[int, ...], padding: Padding):
  return lax.conv_general_dilated(x, kernel, strides, padding,
                                  dimension_numbers=_dimension_numbers(len(strides)))


def _kernel_gradient(x, g, kernel, strides, padding):
  """d<g, conv(x, K)>/dK, JAX's own kernel gradient of the strided convolution."""
  return jax.vjp(lambda k: _lax_conv(x, k, strides, padding), kernel)[1](g)[0]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv(x, kernel, strides: tuple[int, ...], padding: Padding):
  """`lax.conv_general_dilated(x, kernel, strides, padding)` (NHWC, HWIO), fast to any order.

  Args:
    x: `[B, *spatial, C_in]`.
    kernel: `[*kernel_size, C_in, C_out]`.
    strides: one stride per spatial axis.
    padding: `(low, high)` per spatial axis.

  Returns:
    `[B, *out_spatial, C_out]`.
  """
  return _lax_conv(x, kernel, strides, padding)


def _conv_fwd(x, kernel, strides, padding):
  return conv(x, kernel, strides, padding), (x, kernel)


def _conv_bwd(strides, padding, residuals, g):
  x, kernel = residuals
  return (conv_adjoint(g, kernel, x.shape, strides, padding),
          _kernel_gradient(x, g, kernel, strides, padding))


conv.defvjp(_conv_fwd, _conv_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_adjoint(g, kernel, x_shape: tuple[int, ...], strides: tuple[int, ...],
                 padding: Padding):
  """The adjoint of `conv(., kernel, strides, padding)` on inputs of `x_shape`, at `g`.

  That is the input gradient of the strided convolution, `[B, *out_spatial, C_out]`
  -> `x_shape`, or equally a transposed convolution of `g`.
  """
  if _phases_apply(kernel.shape[:-2], strides):
    return lax.platform_dependent(
        g, kernel, cpu=lambda g, k: _phase_adjoint(g, k, x_shape, strides, padding),
        default=lambda g, k: _lax_adjoint(g, k, x_shape, strides, padding))
  return _lax_adjoint(g, kernel, x_shape, strides, padding)


def _lax_adjoint(g, kernel, x_shape, strides, padding):
  """`conv_adjoint` as JAX's input gradient: a convolution of the dilated `g`."""
  zeros = jnp.zeros(x_shape, g.dtype)
  return jax.vjp(lambda x: _lax_conv(x, kernel, strides, padding), zeros)[1](g)[0]


def _phases_apply(kernel_size: Sequence[int], strides: Sequence[int]) -> bool:
  """Whether `_phase_adjoint` applies: a stride above 1, each kernel extent a multiple."""
  return (any(s > 1 for s in strides)
          and all(k % s == 0 for k, s in zip(kernel_size, strides)))


def _phase_adjoint(g, kernel, x_shape, strides, padding):
  """`conv_adjoint` as one stride-1 convolution per phase of the input positions.

  XLA's CPU backend runs `_lax_adjoint`'s convolution of the dilated `g` at about
  two thirds of the rate of the strided convolution (DCGAN's 64 <-> 128 channel
  layer, batch 128: 15.4 ms against 9.5); split by phases, the same multiply-adds
  run as stride-1 convolutions at nearly the strided one's rate (10.4 ms).

  Along one axis the strided convolution reads `x[s*o + k - low]`, so
  `dx[s*m + r] = sum_t g[m + c - t] K[r0 + s*t]` with `r0 = (r + low) mod s` and
  `c = (r + low - r0) / s`: for each phase `r`, a 'VALID' stride-1 convolution of
  `g` (padded; a negative pad crops) with the taps `r0, r0 + s, ...` mirrored and
  the channel axes swapped. The phases are then interleaved (depth-to-space).
  """
  ndim = len(strides)
  quotients = [k // s for k, s in zip(kernel.shape[:ndim], strides)]
  sizes = [-(-n // s) for n, s in zip(x_shape[1:-1], strides)]  # positions per phase
  kernel = jnp.swapaxes(kernel, -1, -2)  # [*kernel_size, C_out, C_in]
  phases = []
  for phase in itertools.product(*(range(s) for s in strides)):
    taps, pads = [], []
    for r, (low, _), s, nq, size, n in zip(phase, padding, strides, quotients, sizes,
                                           g.shape[1:-1]):
      r0 = (r + low) % s
      c = (r + low - r0) // s
      taps.append(slice(r0 + s * (nq - 1), r0 - 1 if r0 else None, -s))  # mirrored
      pads.append((nq - 1 - c, size + c - n))
    phases.append(lax.conv_general_dilated(g, kernel[tuple(taps)], (1,) * ndim, pads,
                                           dimension_numbers=_dimension_numbers(ndim)))
  # [B, *sizes, *strides, C_in], then each spatial axis interleaved with its phase axis.
  channels = kernel.shape[-1]
  x = jnp.stack(phases, axis=-2).reshape(phases[0].shape[:-1] + tuple(strides) + (channels,))
  order = [0] + [a for i in range(ndim) for a in (1 + i, 1 + ndim + i)] + [2 * ndim + 1]
  x = x.transpose(order).reshape(
      (g.shape[0],) + tuple(m * s for m, s in zip(sizes, strides)) + (channels,))
  return x[(slice(None),) + tuple(slice(0, n) for n in x_shape[1:-1])]


def _adjoint_fwd(g, kernel, x_shape, strides, padding):
  return conv_adjoint(g, kernel, x_shape, strides, padding), (g, kernel)


def _adjoint_bwd(x_shape, strides, padding, residuals, c):
  del x_shape
  g, kernel = residuals
  return (conv(c, kernel, strides, padding),
          _kernel_gradient(c, g, kernel, strides, padding))


conv_adjoint.defvjp(_adjoint_fwd, _adjoint_bwd)


def _same_transpose_padding(kernel_size: int, stride: int) -> tuple[int, int]:
  """Padding of the strided convolution whose adjoint is a 'SAME' `lax.conv_transpose`.

  `lax.conv_transpose(padding="SAME")` pads the dilated input by `(a, k + s - 2 - a)`
  with `a = k - 1` if `s > k - 1`, else `ceil((k + s - 2) / 2)`; the adjoint of a
  stride-`s` convolution with padding `(low, high)` pads it by `(k - 1 - low, ...)`,
  so `low = k - 1 - a`; `high` makes `H * s` inputs give `H` outputs.
  """
  if stride > kernel_size - 1:
    before = kernel_size - 1
  else:
    before = -(-(kernel_size + stride - 2) // 2)
  low = kernel_size - 1 - before
  return low, kernel_size - stride - low


class _AdjointLayer(nn.Module):
  """Attributes shared by `AdjointConv` and `AdjointConvTranspose`."""

  features: int
  kernel_size: Sequence[int] = (4, 4)
  strides: Sequence[int] = (2, 2)
  use_bias: bool = True
  dtype: jnp.dtype | None = None
  param_dtype: jnp.dtype = jnp.float32
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

  def _params(self, inputs):
    """Checks shapes; returns `(x, kernel, bias, kernel_size, strides)`, promoted."""
    kernel_size, strides = tuple(self.kernel_size), tuple(self.strides)
    ndim = len(kernel_size)
    if not 1 <= ndim <= 3 or len(strides) != ndim or inputs.ndim != ndim + 2:
      raise ValueError(f"{type(self).__name__} needs 1 to 3 spatial axes, one stride per "
                       f"kernel axis and inputs [B, *spatial, C], got {kernel_size}, "
                       f"{strides}, {inputs.shape}")
    kernel = self.param("kernel", self.kernel_init,
                        kernel_size + (inputs.shape[-1], self.features), self.param_dtype)
    bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            if self.use_bias else None)
    x, kernel, bias = dtypes.promote_dtype(inputs, kernel, bias, dtype=self.dtype)
    return x, kernel, bias, kernel_size, strides


class AdjointConv(_AdjointLayer):
  """`nn.Conv(features, kernel_size, strides, padding="SAME")` through `conv`.

  The same parameters (`kernel` `[*kernel_size, C_in, features]`, optional `bias`),
  outputs and gradients as the Flax layer; its second derivatives (a gradient
  penalty's) are strided convolutions and their kernel gradients. Input
  `[B, *spatial, C_in]` -> `[B, *ceil(spatial / strides), features]`.
  """

  @nn.compact
  def __call__(self, inputs: jnp.ndarray) -> jnp.ndarray:
    x, kernel, bias, kernel_size, strides = self._params(inputs)
    padding = tuple(lax.padtype_to_pads(x.shape[1:-1], kernel_size, strides, "SAME"))
    y = conv(x, kernel, strides, padding)
    return y if bias is None else layers.add_bias(y, bias)


class AdjointConvTranspose(_AdjointLayer):
  """`nn.ConvTranspose(features, kernel_size, strides, padding="SAME")` through `conv_adjoint`.

  The same parameters (`kernel` `[*kernel_size, C_in, features]`, optional `bias`),
  outputs and gradients as the Flax layer: the layer is the adjoint of a strided
  convolution with the kernel mirrored and its feature axes swapped, so its input
  gradient is that strided convolution and its kernel gradient that convolution's.
  Input `[B, *spatial, C_in]` -> `[B, *(spatial * strides), features]`; each kernel
  extent at least its stride.
  """

  @nn.compact
  def __call__(self, inputs: jnp.ndarray) -> jnp.ndarray:
    x, kernel, bias, kernel_size, strides = self._params(inputs)
    if any(k < s for k, s in zip(kernel_size, strides)):
      raise ValueError(f"AdjointConvTranspose needs kernel_size >= strides, got "
                       f"{kernel_size}, {strides}")
    ndim = len(kernel_size)
    mirrored = jnp.swapaxes(kernel[(slice(None, None, -1),) * ndim], -1, -2)
    padding = tuple(_same_transpose_padding(k, s) for k, s in zip(kernel_size, strides))
    out_shape = (x.shape[0],) + tuple(n * s for n, s in zip(x.shape[1:-1], strides)) + (
        self.features,)
    y = conv_adjoint(x, mirrored, out_shape, strides, padding)
    return y if bias is None else layers.add_bias(y, bias)


class ConvTransposeTo(nn.Module):
  """A stride-2 transposed convolution to `[B, side, side, features]`, as TensorFlow's.

  TensorFlow's `conv2d_transpose(x, kernel, output_shape, strides=2, padding="SAME")`:
  the adjoint of the 'SAME' stride-2 convolution from `side` to `ceil(side / 2)`, so
  `side` may be odd (4 -> 7) and the pixels line up as there. `kernel` is
  `[k, k, features, C_in]` (TensorFlow's layout for this layer); a bias is added.
  On CPU, by taps where `taps_pay(side, k)`.
  """

  features: int
  side: int
  kernel_size: int = 3
  kernel_init: nn.initializers.Initializer = nn.initializers.normal(0.02)

  @nn.compact
  def __call__(self, x):
    k = self.kernel_size
    kernel = self.param("kernel", self.kernel_init, (k, k, self.features, x.shape[-1]))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    out_shape = (x.shape[0], self.side, self.side, self.features)
    if x.shape[1:3] != (-(-self.side // 2),) * 2:
      raise ValueError(f"ConvTransposeTo({self.side}) needs a {-(-self.side // 2)}-pixel "
                       f"input, got {x.shape}")
    padding = tuple(lax.padtype_to_pads(out_shape[1:3], (k, k), (2, 2), "SAME"))
    y = conv_adjoint_or_taps(x, kernel, out_shape, (2, 2), padding,
                             taps=taps_pay(self.side, k))
    return layers.add_bias(y, bias)


def taps_conv(x, kernel, strides: tuple[int, ...], padding: Padding):
  """`lax.conv_general_dilated(x, kernel, strides, padding)` (NHWC, HWIO) as one matrix product.

  Every kernel offset's strided slice of the padded input, side by side, is
  `[B, *out_spatial, prod(kernel_size) * C_in]`; times the kernel as a
  `[prod(kernel_size) * C_in, C_out]` matrix, that is the convolution (im2col).
  Padding must be non-negative.
  """
  ndim = len(strides)
  kernel_size = kernel.shape[:ndim]
  x = jnp.pad(x, ((0, 0),) + tuple(tuple(p) for p in padding) + ((0, 0),))
  out = [(n - k) // s + 1 for n, k, s in zip(x.shape[1:-1], kernel_size, strides)]
  taps = [x[(slice(None),) + tuple(slice(o, o + s * (m - 1) + 1, s)
                                   for o, s, m in zip(offset, strides, out))]
          for offset in itertools.product(*(range(k) for k in kernel_size))]
  return jnp.concatenate(taps, axis=-1) @ kernel.reshape(-1, kernel.shape[-1])


def taps_pay(side: int, kernel_size: int) -> bool:
  """Whether a stride-2 convolution from `side` pixels runs faster by taps on CPU.

  Measured on 2 cores (batch 64, 5x5 kernels): XLA's convolutions are the faster from
  28 and 14 pixels (forward 30 ms against 88 from 14x14x64), by taps from 7 and 4,
  where XLA's take a slow path (module docstring). The rule: a side under twice
  the kernel.
  """
  return side < 2 * kernel_size


def conv_or_taps(x, kernel, strides: tuple[int, ...], padding: Padding, *, taps: bool):
  """`conv(x, kernel, strides, padding)`, by `taps_conv` on CPU when `taps`."""
  if not taps:
    return conv(x, kernel, strides, padding)
  return lax.platform_dependent(
      x, kernel, cpu=lambda x, k: taps_conv(x, k, strides, padding),
      default=lambda x, k: conv(x, k, strides, padding))


def _taps_adjoint(g, kernel, x_shape, strides, padding):
  """`conv_adjoint` as the transpose of `taps_conv`: slices become pads, all differentiable."""
  zeros = jnp.zeros(x_shape, g.dtype)
  return jax.vjp(lambda x: taps_conv(x, kernel, strides, padding), zeros)[1](g)[0]


def conv_adjoint_or_taps(g, kernel, x_shape: tuple[int, ...], strides: tuple[int, ...],
                         padding: Padding, *, taps: bool):
  """`conv_adjoint(g, kernel, x_shape, strides, padding)`, by taps on CPU when `taps`."""
  if not taps:
    return conv_adjoint(g, kernel, x_shape, strides, padding)
  return lax.platform_dependent(
      g, kernel, cpu=lambda g, k: _taps_adjoint(g, k, x_shape, strides, padding),
      default=lambda g, k: conv_adjoint(g, k, x_shape, strides, padding))
