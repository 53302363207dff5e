"""The sub-pixel layers equal their Flax layers: same params, outputs, gradients.

SubpixelConvTranspose is nn.ConvTranspose(padding="SAME"); SpaceToDepthConv is
nn.Conv(padding="SAME"), down to the second derivatives a gradient penalty takes.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.models.subpixel import SpaceToDepthConv
from gan_jax.models.subpixel import SubpixelConvTranspose

KEY = jax.random.key(0)


def _normal(shape, seed):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _init(module, x, seed=5):
  """Random params shaped like `module.init`'s, without compiling an initializer."""
  shapes = jax.eval_shape(module.init, KEY, x)
  leaves, tree = jax.tree.flatten(shapes)
  return jax.tree.unflatten(tree, [_normal(leaf.shape, seed + i) for i, leaf in enumerate(leaves)])


def _apply(module, params, x):
  return jax.jit(module.apply)(params, x)  # one compilation instead of one per op


def _pair(features, kernel_size=(4, 4), strides=(2, 2), use_bias=False):
  reference = nn.ConvTranspose(features, kernel_size, strides=strides, padding="SAME",
                               use_bias=use_bias)
  subpixel = SubpixelConvTranspose(features, kernel_size, strides, use_bias=use_bias)
  return reference, subpixel


@pytest.mark.parametrize("in_features, features, side", [
    (3, 5, 7),    # 7x7 -> 14x14 (DCGAN's 28x28 generator)
    (8, 4, 4),    # 4x4 -> 8x8 (its 32x32 and 64x64 generators)
    (16, 1, 14),  # 14x14 -> 28x28, a single output channel (the image layer)
    (4, 6, (5, 6)),
])
@pytest.mark.parametrize("use_bias", [False, True])
def test_outputs_and_gradients_equal_conv_transpose(in_features, features, side, use_bias):
  height, width = (side, side) if isinstance(side, int) else side
  x = _normal((3, height, width, in_features), 1)
  reference, subpixel = _pair(features, use_bias=use_bias)
  params = _init(reference, x)
  assert (jax.tree.map(jnp.shape, jax.eval_shape(subpixel.init, KEY, x))
          == jax.tree.map(jnp.shape, params))  # interchangeable checkpoints
  cotangent = _normal((3, 2 * height, 2 * width, features), 2)

  def loss(module):
    return lambda params, x: jnp.vdot(module.apply(params, x), cotangent)

  np.testing.assert_allclose(_apply(subpixel, params, x), _apply(reference, params, x),
                             rtol=1e-5, atol=1e-5)
  (want_params, want_x), (got_params, got_x) = (
      jax.jit(jax.grad(loss(module), argnums=(0, 1)))(params, x)
      for module in (reference, subpixel))
  np.testing.assert_allclose(got_x, want_x, rtol=1e-5, atol=1e-4)
  for name in want_params["params"]:
    np.testing.assert_allclose(got_params["params"][name], want_params["params"][name],
                               rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kernel_size, strides, shape", [
    ((3, 3), (2, 2), (2, 4, 5, 3)),
    ((2, 2), (2, 2), (2, 3, 4, 3)),
    ((6, 6), (3, 3), (2, 3, 3, 2)),
    ((3, 3), (1, 1), (2, 4, 4, 2)),
    ((5,), (2,), (2, 6, 3)),
    ((4, 4, 4), (2, 2, 2), (1, 3, 2, 3, 2)),
])
def test_other_kernels_and_strides(kernel_size, strides, shape):
  x = _normal(shape, 3)
  reference, subpixel = _pair(4, kernel_size, strides, use_bias=True)
  params = _init(reference, x)
  np.testing.assert_allclose(_apply(subpixel, params, x), _apply(reference, params, x),
                             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(7, 7, 3), (2, 3, 7, 7, 3)])
def test_batch_dimensions_like_conv_transpose(shape):
  x = _normal(shape, 4)
  reference, subpixel = _pair(2)
  params = _init(reference, x)
  np.testing.assert_allclose(_apply(subpixel, params, x), _apply(reference, params, x),
                             rtol=1e-5, atol=1e-5)


def test_equals_pytorch_conv_transpose2d_with_flipped_kernel():
  # PyTorch's ConvTranspose2d(k=4, stride=2, padding=1), NCHW weight [in, out, 4, 4],
  # by its definition: input pixel i scatters x[i] * W[t] to output 2i - 1 + t.
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 5, 6, 3)).astype(np.float32)
  weight = rng.normal(size=(3, 4, 4, 4)).astype(np.float32)
  padded = np.zeros((2, 2 * 5 + 2, 2 * 6 + 2, 4), np.float32)  # one pixel of padding
  for i in range(5):
    for j in range(6):
      padded[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4] += np.einsum(
          "bc,cohw->bhwo", x[:, i, j], weight)
  want = padded[:, 1:-1, 1:-1]
  kernel = weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)
  got = SubpixelConvTranspose(4).apply({"params": {"kernel": jnp.asarray(kernel)}}, x)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_kernel_smaller_than_stride_is_rejected():
  with pytest.raises(ValueError, match="kernel_size >= strides"):
    jax.eval_shape(SubpixelConvTranspose(2, (1, 1), (2, 2)).init, KEY, jnp.ones((1, 3, 3, 1)))


@pytest.mark.parametrize("in_features, features, side", [
    (1, 4, 28),   # DCGAN's first critic layer, 28x28 -> 14x14
    (3, 5, 14),   # its second, 14x14 -> 7x7
    (4, 2, 7),    # odd input: 7x7 -> 4x4
    (2, 3, (5, 6)),
])
def test_space_to_depth_conv_equals_conv_up_to_gradient_penalty(in_features, features, side):
  height, width = (side, side) if isinstance(side, int) else side
  x = _normal((3, height, width, in_features), 6)
  reference = nn.Conv(features, (4, 4), strides=(2, 2), padding="SAME")
  fast = SpaceToDepthConv(features)
  params = _init(reference, x)
  assert (jax.tree.map(jnp.shape, jax.eval_shape(fast.init, KEY, x))
          == jax.tree.map(jnp.shape, params))
  cotangent = _normal(reference.apply(params, x).shape, 7)

  def penalty(module):
    # A gradient penalty's shape: the parameters' gradient of a function of the
    # input gradient, itself a function of the parameters.
    def input_grad_norm(params, x):
      grad = jax.grad(lambda x: jnp.vdot(jnp.tanh(module.apply(params, x)), cotangent))(x)
      return jnp.sum(grad ** 2)
    return jax.jit(jax.value_and_grad(input_grad_norm, argnums=(0, 1)))

  np.testing.assert_allclose(_apply(fast, params, x), _apply(reference, params, x),
                             rtol=1e-5, atol=1e-5)
  (want, (want_params, want_x)), (got, (got_params, got_x)) = (
      penalty(module)(params, x) for module in (reference, fast))
  np.testing.assert_allclose(got, want, rtol=1e-5)

  def assert_close(got, want):  # float32 rounding, relative to the largest entry
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())

  assert_close(got_x, want_x)
  for name in want_params["params"]:
    assert_close(got_params["params"][name], want_params["params"][name])


@pytest.mark.parametrize("kernel_size, strides, shape", [
    ((3, 3), (2, 2), (2, 7, 8, 3)),
    ((5, 5), (2, 2), (2, 9, 6, 2)),
    ((3, 3), (1, 1), (2, 5, 5, 2)),
    ((2, 2), (3, 3), (2, 7, 7, 2)),
    ((4,), (2,), (2, 9, 3)),
    ((4, 4, 4), (2, 2, 2), (1, 5, 4, 6, 2)),
])
def test_space_to_depth_conv_other_kernels_and_strides(kernel_size, strides, shape):
  x = _normal(shape, 8)
  reference = nn.Conv(4, kernel_size, strides=strides, padding="SAME")
  params = _init(reference, x)
  np.testing.assert_allclose(_apply(SpaceToDepthConv(4, kernel_size, strides), params, x),
                             _apply(reference, params, x), rtol=1e-5, atol=1e-5)
