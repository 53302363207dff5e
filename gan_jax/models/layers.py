"""Layers GAN networks share: batch norm, maxout, minibatch discrimination, spectral norm.

References:
  Goodfellow et al., 2013, "Maxout networks", https://arxiv.org/abs/1302.4389
  Salimans et al., 2016, "Improved techniques for training GANs",
    https://arxiv.org/abs/1606.03498
  Miyato et al., 2018, "Spectral normalization for generative adversarial networks",
    https://arxiv.org/abs/1802.05957
"""

import functools
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

ACTIVATIONS = {
    "relu": nn.relu,
    "leaky_relu": functools.partial(nn.leaky_relu, negative_slope=0.2),
    "tanh": nn.tanh,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "swish": nn.swish,
    "softplus": nn.softplus,
}


def activation(name: str) -> Callable:
  """Returns the activation function called `name` (one of `ACTIVATIONS`)."""
  if name not in ACTIVATIONS:
    raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
  return ACTIVATIONS[name]


def _row_mean(rows):
  """The mean of `[N, C]` rows as a matrix product (see `BatchNorm`)."""
  return jnp.full((rows.shape[0],), 1.0 / rows.shape[0], rows.dtype) @ rows


def _batch_statistics(rows):
  """Mean and biased variance (`E[x^2] - E[x]^2`, clipped at zero) of `[N, C]` rows."""
  mean = _row_mean(rows)
  return mean, jnp.maximum(0.0, _row_mean(rows * rows) - mean * mean)


@jax.custom_vjp
def _batch_normalize(rows, scale, bias, epsilon):
  """`(rows - mean) / sqrt(var + epsilon) * scale + bias` with the rows' own statistics."""
  mean, var = _batch_statistics(rows)
  return (rows - mean) * (lax.rsqrt(var + epsilon) * scale) + bias


def _batch_normalize_fwd(rows, scale, bias, epsilon):
  mean, var = _batch_statistics(rows)
  inverse = lax.rsqrt(var + epsilon)
  normalized = (rows - mean) * inverse
  return normalized * scale + bias, (normalized, inverse, scale, epsilon)


def _batch_normalize_bwd(residuals, dy):
  # The textbook batch-norm gradient, its sums over rows as matrix products:
  # dx = scale / sigma * (dy - mean(dy) - x_hat * mean(dy * x_hat)).
  normalized, inverse, scale, epsilon = residuals
  mean_dy, mean_dy_normalized = _row_mean(dy), _row_mean(dy * normalized)
  dx = (dy - mean_dy - normalized * mean_dy_normalized) * (inverse * scale)
  count = dy.shape[0]
  return dx, count * mean_dy_normalized, count * mean_dy, jnp.zeros_like(epsilon)


_batch_normalize.defvjp(_batch_normalize_fwd, _batch_normalize_bwd)


@jax.custom_vjp
def add_bias(y, bias):
  """`y + bias` over the last axis, the bias gradient a matrix product (see `BatchNorm`)."""
  return y + bias


def _add_bias_fwd(y, bias):
  return y + bias, None


def _add_bias_bwd(_, dy):
  rows = dy.reshape(-1, dy.shape[-1])
  return dy, rows.shape[0] * _row_mean(rows)


add_bias.defvjp(_add_bias_fwd, _add_bias_bwd)


class BatchNorm(nn.Module):
  """`nn.BatchNorm` over every axis but the features, its sums as matrix products.

  The same variables (`params`: `scale`, `bias`; `batch_stats`: `mean`, `var`), the
  same running averages (`momentum`), the same float32 statistics (mean and
  `E[x^2] - E[x]^2`, clipped at zero) and the same outputs and gradients to float
  rounding. Every sum over the batch, forward and backward (the statistics, the
  gradients of `scale` and `bias`, the mean terms of the input gradient), is a
  product of the `[N, C]` rows with a vector of `1 / N`: XLA's CPU backend splits a
  reduction over a long axis into a slow windowed reduction, and with them the
  layer, forward and backward, ran about 4x slower on DCGAN's feature maps
  (`benchmarks/README.md`). Under `jit` with a sharded batch the products are
  reduced across devices as the sums would be. The input gradient is the textbook
  closed form (a custom VJP), differentiable again.

  Attributes:
    use_running_average: normalise with the running averages instead of the batch
      statistics (and leave them unchanged); may be given at call time instead.
    momentum: decay of the running averages.
    epsilon: added to the variance.
    dtype: the output's dtype (default: the input's, promoted with the parameters).
    param_dtype: dtype of `scale` and `bias`.
    scale_init: initializer of `scale`.
    bias_init: initializer of `bias`.
  """

  use_running_average: bool | None = None
  momentum: float = 0.99
  epsilon: float = 1e-5
  dtype: jnp.dtype | None = None
  param_dtype: jnp.dtype = jnp.float32
  scale_init: nn.initializers.Initializer = nn.initializers.ones_init()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, x, use_running_average: bool | None = None):
    use_running_average = nn.merge_param(
        "use_running_average", self.use_running_average, use_running_average)
    features = x.shape[-1]
    stats_dtype = jnp.promote_types(x.dtype, jnp.float32)
    running_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), stats_dtype)
    running_var = self.variable("batch_stats", "var", jnp.ones, (features,), stats_dtype)
    scale = self.param("scale", self.scale_init, (features,), self.param_dtype)
    bias = self.param("bias", self.bias_init, (features,), self.param_dtype)
    dtype = self.dtype or jnp.result_type(x, scale, bias)
    rows = x.reshape(-1, features).astype(stats_dtype)
    if use_running_average:
      y = ((rows - running_mean.value) * (lax.rsqrt(running_var.value + self.epsilon) * scale)
           + bias)
    else:
      y = _batch_normalize(rows, scale.astype(stats_dtype), bias.astype(stats_dtype),
                           jnp.asarray(self.epsilon, stats_dtype))
      if not self.is_initializing():
        mean, var = jax.tree.map(lax.stop_gradient, _batch_statistics(rows))
        running_mean.value = self.momentum * running_mean.value + (1 - self.momentum) * mean
        running_var.value = self.momentum * running_var.value + (1 - self.momentum) * var
    return y.reshape(x.shape).astype(dtype)


def maybe_spectral_norm(layer: nn.Module, enabled: bool, *, train: bool) -> Callable:
  """Returns `layer`, or `layer` with every weight matrix spectrally normalised.

  Call it inside a compact `__call__`: `x = maybe_spectral_norm(nn.Dense(1), sn,
  train=train)(x)`. The power-iteration vectors `u` and the estimates `sigma` live in
  the `batch_stats` collection and advance only when `train=True`; every call runs
  one power iteration from the stored `u`. Kernels of rank > 2 (convolutions) are
  normalised as the matrix `kernel.reshape(-1, out_features)`.

  Args:
    layer: an unbound Linen module (Dense, Conv, Maxout, ...).
    enabled: whether to normalise.
    train: whether to store the new power-iteration state.

  Returns:
    A callable with the layer's own signature.
  """
  if not enabled:
    return layer
  return functools.partial(nn.SpectralNorm(layer), update_stats=train)


class Maxout(nn.Module):
  """A dense maxout layer: `h_i = max_k (x W + b)_{i, k}`.

  Input `[..., A]` -> output `[..., units]`; the `units * pieces` linear outputs are
  grouped as `[units, pieces]` (pieces contiguous, as in pylearn2).

  Attributes:
    units: number of output units.
    pieces: number of linear pieces each unit takes the maximum of.
    kernel_init: initializer of the `[A, units * pieces]` kernel.
  """

  units: int
  pieces: int
  kernel_init: Callable = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x):
    z = nn.Dense(self.units * self.pieces, kernel_init=self.kernel_init)(x)
    return z.reshape(*z.shape[:-1], self.units, self.pieces).max(axis=-1)


class MinibatchDiscrimination(nn.Module):
  """Minibatch discrimination (Salimans et al., 2016, section 3.2).

  With `M_i = x_i T` reshaped to `[num_kernels, kernel_dim]` (`T` in
  `R^{A x num_kernels x kernel_dim}`), `c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1)`
  and `o(x_i)_b = sum_j c_b(x_i, x_j)` (the sum includes `j = i`), the layer returns
  `concat([x_i, o(x_i)])`. Each example's output depends on the whole batch, which
  lets the discriminator see a collapsed (too similar) batch of samples.

  Input `[B, A]` -> output `[B, A + num_kernels]`.

  Attributes:
    num_kernels: `B` in the paper, the number of similarity features.
    kernel_dim: `C` in the paper, the dimension each similarity is measured in.
    kernel_init: initializer of `T` (as a `[A, num_kernels * kernel_dim]` matrix);
      the small N(0, 0.02) of the reference code keeps `o` informative at the start.
  """

  num_kernels: int
  kernel_dim: int
  kernel_init: Callable = nn.initializers.normal(0.02)

  @nn.compact
  def __call__(self, x):
    m = nn.Dense(self.num_kernels * self.kernel_dim, use_bias=False,
                 kernel_init=self.kernel_init, name="T")(x)
    m = m.reshape(x.shape[0], self.num_kernels, self.kernel_dim)
    l1 = jnp.abs(m[:, None] - m[None, :]).sum(axis=-1)  # [B, B, num_kernels]
    o = jnp.exp(-l1).sum(axis=1)
    return jnp.concatenate([x, o], axis=-1)
