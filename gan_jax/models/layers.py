"""Layers that GAN discriminators share: maxout, minibatch discrimination, spectral norm.

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
import jax.numpy as jnp

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
