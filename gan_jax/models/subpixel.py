"""Strided convolutions computed on sub-pixel phases, for fast gradients on CPU.

`SubpixelConvTranspose` is `nn.ConvTranspose(..., padding="SAME")` computed as
stride-1 convolutions, one per output phase; `SpaceToDepthConv` is
`nn.Conv(..., padding="SAME")` computed as a matmul on the space-to-depth input.
Both keep the Flax layer's parameters, outputs and gradients.

A transposed convolution with stride `s` writes every output pixel from a fixed
subset of the kernel taps, chosen by the pixel's position modulo `s` (its *phase*).
Along one axis with flax's 'SAME' padding (`lax.conv_transpose`), kernel size `k`
and `a = ceil((k + s - 2) / 2)` taps of padding before the dilated input,

  y[s * m + r] = sum_{t = r0, r0 + s, ... < k} x[m + (r + t - a) / s] K[t],
  r0 = (a - r) mod s,

so each of the `s^2` phases of a 2-D output is an ordinary stride-1 convolution of
the low-resolution input with the sub-sampled kernel `K[r0y::s, r0x::s]`, and the
output interleaves the phases (depth-to-space). For DCGAN's 4x4, stride 2 layer,
`a = 2` and

  y[2m]     = x[m - 1] K[0] + x[m]     K[2],
  y[2m + 1] = x[m]     K[1] + x[m + 1] K[3],

four 2x2 convolutions. The sum is the same, term for term, as the one
`nn.ConvTranspose` computes; nothing is approximated and the number of
multiply-adds is the same. What changes is speed: XLA's CPU backend computes the
kernel gradient of a convolution with input dilation (which is how a transposed
convolution is lowered) on a slow generic path, about 10x slower than the same
gradient of the stride-1 phases (see `benchmarks/conv_transpose.py`).

PyTorch's `ConvTranspose2d(kernel_size=4, stride=2, padding=1)` (the DCGAN layer)
computes the same map with the kernel flipped: a weight `W` of shape
`[in, out, 4, 4]` corresponds to `kernel = W[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)`.

References:
  Shi et al., 2016, "Real-time single image and video super-resolution using an
    efficient sub-pixel convolutional neural network", https://arxiv.org/abs/1609.05158
  Odena et al., 2016, "Deconvolution and checkerboard artifacts",
    https://distill.pub/2016/deconv-checkerboard/
  Dumoulin and Visin, 2016, "A guide to convolution arithmetic for deep learning",
    https://arxiv.org/abs/1603.07285
"""

import itertools
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
from flax.linen import dtypes
from jax import lax


def _phases(kernel_size: int, stride: int) -> list[tuple[int, tuple[int, int]]]:
  """Per output phase `r` along one axis: (first kernel tap, (low, high) input padding).

  The phase's taps are `first, first + stride, ...`; padding the input by
  `(low, high)` (negative crops) makes a 'VALID' stride-1 convolution with them
  produce exactly the phase's outputs, one per input position.
  """
  # lax.conv_transpose's 'SAME': a dilated input padded by `before` on the left.
  before = kernel_size - 1 if stride > kernel_size - 1 else -(-(kernel_size + stride - 2) // 2)
  phases = []
  for r in range(stride):
    first = (before - r) % stride
    taps = len(range(first, kernel_size, stride))
    offset = (r + first - before) // stride  # input offset of the first tap
    phases.append((first, (-offset, offset + taps - 1)))
  return phases


class SubpixelConvTranspose(nn.Module):
  """`nn.ConvTranspose(features, kernel_size, strides, padding="SAME")` as sub-pixel convs.

  Same parameters (`kernel` of shape `[*kernel_size, in_features, features]`, optional
  `bias`), same outputs and gradients as the Flax layer, computed as `prod(strides)`
  stride-1 convolutions of the low-resolution input whose outputs are interleaved
  (see the module docstring). Input `[..., *spatial, in_features]` -> output
  `[..., *(spatial * strides), features]`; leading batch dimensions are handled like
  `nn.ConvTranspose` (flattened, or added when missing).

  Example:

    >>> import jax
    >>> layer = SubpixelConvTranspose(64)
    >>> x = jnp.ones((8, 7, 7, 128))
    >>> variables = layer.init(jax.random.key(0), x)
    >>> variables["params"]["kernel"].shape
    (4, 4, 128, 64)
    >>> layer.apply(variables, x).shape
    (8, 14, 14, 64)

  Attributes:
    features: number of output channels.
    kernel_size: spatial kernel shape, each at least the stride.
    strides: upsampling factor per spatial axis.
    use_bias: whether to add a bias.
    dtype: computation dtype (default: inferred from inputs and params).
    param_dtype: parameter dtype.
    precision: `lax` precision of the convolutions.
    kernel_init: initializer of the kernel (Flax's `ConvTranspose` default).
    bias_init: initializer of the bias.
  """

  features: int
  kernel_size: Sequence[int] = (4, 4)
  strides: Sequence[int] = (2, 2)
  use_bias: bool = False
  dtype: jnp.dtype | None = None
  param_dtype: jnp.dtype = jnp.float32
  precision: lax.PrecisionLike = None
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, inputs: jnp.ndarray) -> jnp.ndarray:
    """Upsamples `[..., *spatial, C_in]` to `[..., *(spatial * strides), features]`."""
    kernel_size = tuple(self.kernel_size)
    strides = tuple(self.strides)
    ndim = len(kernel_size)
    if not 1 <= ndim <= 3 or len(strides) != ndim or any(
        k < s for k, s in zip(kernel_size, strides)):
      raise ValueError(f"SubpixelConvTranspose needs 1 to 3 spatial axes, one stride per "
                       f"axis and kernel_size >= strides, got {kernel_size}, {strides}")
    batch_shape = inputs.shape[:-(ndim + 1)]
    x = inputs.reshape((-1,) + inputs.shape[-(ndim + 1):])
    kernel = self.param("kernel", self.kernel_init, kernel_size + (x.shape[-1], self.features),
                        self.param_dtype)
    bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            if self.use_bias else None)
    x, kernel, bias = dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)

    spatial = "DHW"[-ndim:]
    dimension_numbers = ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")
    per_axis = [_phases(k, s) for k, s in zip(kernel_size, strides)]
    outputs = []
    for phase in itertools.product(*per_axis):  # row-major over (r_1, ..., r_ndim)
      taps = tuple(slice(first, None, s) for (first, _), s in zip(phase, strides))
      outputs.append(lax.conv_general_dilated(
          x, kernel[taps], (1,) * ndim, [padding for _, padding in phase],
          dimension_numbers=dimension_numbers, precision=self.precision))
    # [prod(s), B, *n, C] -> [B, n_1, s_1, ..., n_d, s_d, C] -> [B, *(n * s), C]
    y = jnp.stack(outputs).reshape(strides + outputs[0].shape)
    y = y.transpose([ndim] + [a for i in range(ndim) for a in (ndim + 1 + i, i)] + [2 * ndim + 1])
    y = y.reshape((y.shape[0],) + tuple(n * s for n, s in zip(x.shape[1:-1], strides))
                  + (self.features,))
    if bias is not None:
      y = y + bias
    return y.reshape(batch_shape + y.shape[1:])


class SpaceToDepthConv(nn.Module):
  """`nn.Conv(features, kernel_size, strides, padding="SAME")` as one matmul.

  A stride-`s` convolution reads, for output `m`, the input pixels
  `s * m + t - a` (`t` a kernel tap, `a` the 'SAME' padding before). Writing
  `t = s * q + r`, those are pixel `r` of block `m + q` of the padded input cut into
  `s x s` blocks: the same convolution is a stride-1 convolution with a
  `ceil(k / s)`-sized kernel on the space-to-depth input (`s^2 C` channels), here
  computed as a single matmul of its `ceil(k / s)^2` shifted copies (im2col). For
  DCGAN's 4x4, stride-2 layer that is a `[B * H/2 * W/2, 16 C] @ [16 C, features]`
  matmul, with exactly the original multiply-adds.

  Why: every derivative of a matmul is a matmul. The gradient penalty of WGAN-GP
  differentiates the critic's input gradient with respect to its kernels; for a
  strided `lax.conv` that second derivative is a window-reversed convolution that
  XLA's CPU backend runs on a slow generic path (3-4x slower critic updates; see
  `benchmarks/`). Without a penalty the plain convolution is a little faster on
  CPU, so prefer this layer for penalised critics.

  Same parameters as `nn.Conv` (`kernel` `[*kernel_size, in_features, features]`,
  optional `bias`). Input `[B, *spatial, in_features]` -> output
  `[B, *ceil(spatial / strides), features]`.

  Attributes:
    features: number of output channels.
    kernel_size: spatial kernel shape.
    strides: stride per spatial axis.
    use_bias: whether to add a bias.
    dtype: computation dtype (default: inferred from inputs and params).
    param_dtype: parameter dtype.
    precision: `lax` precision of the matmul.
    kernel_init: initializer of the kernel (Flax's `Conv` default).
    bias_init: initializer of the bias.
  """

  features: int
  kernel_size: Sequence[int] = (4, 4)
  strides: Sequence[int] = (2, 2)
  use_bias: bool = True
  dtype: jnp.dtype | None = None
  param_dtype: jnp.dtype = jnp.float32
  precision: lax.PrecisionLike = None
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, inputs: jnp.ndarray) -> jnp.ndarray:
    """Convolves `[B, *spatial, C_in]` to `[B, *ceil(spatial / strides), features]`."""
    kernel_size, strides = tuple(self.kernel_size), tuple(self.strides)
    ndim = len(kernel_size)
    if len(strides) != ndim or inputs.ndim != ndim + 2:
      raise ValueError(f"SpaceToDepthConv needs one stride per kernel axis and inputs "
                       f"[B, *spatial, C], got {kernel_size}, {strides}, {inputs.shape}")
    batch, spatial, channels = inputs.shape[0], inputs.shape[1:-1], inputs.shape[-1]
    kernel = self.param("kernel", self.kernel_init, kernel_size + (channels, self.features),
                        self.param_dtype)
    bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
            if self.use_bias else None)
    x, kernel, bias = dtypes.promote_dtype(inputs, kernel, bias, dtype=self.dtype)

    out = [-(-n // s) for n, s in zip(spatial, strides)]
    blocks = [-(-k // s) for k, s in zip(kernel_size, strides)]  # kernel extent in blocks
    # 'SAME' (as lax.padtype_to_pads): the total padding, its smaller half first;
    # then pad (or crop) the far side to whole blocks.
    before = [max((o - 1) * s + k - n, 0) // 2
              for o, s, k, n in zip(out, strides, kernel_size, spatial)]
    after = [(o + q - 1) * s - n - b
             for o, q, s, n, b in zip(out, blocks, strides, spatial, before)]
    x = lax.pad(x, jnp.zeros((), x.dtype),
                [(0, 0, 0)] + [(b, a, 0) for b, a in zip(before, after)] + [(0, 0, 0)])
    # Space to depth: [B, *(m * s), C] -> [B, m_1, s_1, ..., C] -> [B, *m, prod(s) * C].
    grid = [o + q - 1 for o, q in zip(out, blocks)]
    x = x.reshape([batch] + [d for m, s in zip(grid, strides) for d in (m, s)] + [channels])
    x = x.transpose([0] + [1 + 2 * i for i in range(ndim)] + [2 + 2 * i for i in range(ndim)]
                    + [2 * ndim + 1])
    x = x.reshape([batch] + grid + [-1])
    # The kernel likewise: tap t = s * q + r -> [*blocks, prod(s) * C, features].
    kernel = jnp.pad(kernel, [(0, q * s - k) for q, s, k in zip(blocks, strides, kernel_size)]
                     + [(0, 0), (0, 0)])
    kernel = kernel.reshape([d for q, s in zip(blocks, strides) for d in (q, s)]
                            + [channels, self.features])
    kernel = kernel.transpose([2 * i for i in range(ndim)] + [2 * i + 1 for i in range(ndim)]
                              + [2 * ndim, 2 * ndim + 1])
    # im2col over the block offsets, then one matmul.
    columns = jnp.concatenate(
        [x[(slice(None),) + tuple(slice(q, q + o) for q, o in zip(offset, out))]
         for offset in itertools.product(*(range(q) for q in blocks))], axis=-1)
    y = lax.dot_general(columns, kernel.reshape(-1, self.features),
                        (((columns.ndim - 1,), (0,)), ((), ())), precision=self.precision)
    return y if bias is None else y + bias
