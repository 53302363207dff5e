"""The adjoint layers equal their Flax layers: same params, outputs, gradients.

AdjointConv is nn.Conv(padding="SAME") and AdjointConvTranspose is
nn.ConvTranspose(padding="SAME"), down to the second derivatives a gradient
penalty takes; what differs is which convolutions compute the derivatives.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax.models import adjoint
from gan_jax.models.adjoint import AdjointConv, AdjointConvTranspose

KEY = jax.random.key(0)
CASES = [((4, 4), (2, 2)), ((3, 3), (2, 2)), ((5, 5), (2, 2)), ((3, 3), (1, 1)),
         ((3, 3), (3, 3)), ((4, 3), (2, 1)), ((2, 2), (2, 2))]


def _normal(shape, seed):
  return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def _pair(transpose, kernel_size, strides, use_bias=True):
  if transpose:
    return (nn.ConvTranspose(5, kernel_size, strides, padding="SAME", use_bias=use_bias),
            AdjointConvTranspose(5, kernel_size, strides, use_bias=use_bias))
  return (nn.Conv(5, kernel_size, strides, padding="SAME", use_bias=use_bias),
          AdjointConv(5, kernel_size, strides, use_bias=use_bias))


def _derivatives(module, params, x, weights):
  """Output, gradients of `<sin(y), w>` and of the penalty `|d/dx|^2` (params and x)."""
  loss = lambda p, x: jnp.sum(jnp.sin(module.apply(p, x)) * weights)
  penalty = lambda p, x: jnp.sum(jax.grad(loss, argnums=1)(p, x) ** 2)
  return jax.jit(lambda p, x: (module.apply(p, x), jax.grad(loss, (0, 1))(p, x),
                               jax.grad(penalty, (0, 1))(p, x)))(params, x)


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("kernel_size,strides", CASES)
@pytest.mark.parametrize("shape", [(2, 7, 7, 3), (2, 8, 6, 3)])
def test_adjoint_layers_equal_flax_to_second_derivatives(transpose, kernel_size, strides, shape):
  reference, layer = _pair(transpose, kernel_size, strides)
  x = _normal(shape, 1)
  params = reference.init(KEY, x)
  assert (jax.tree.map(jnp.shape, layer.init(KEY, x)) == jax.tree.map(jnp.shape, params))
  out_shape = jax.eval_shape(reference.apply, params, x).shape
  weights = _normal(out_shape, 2)
  expected = jax.tree.leaves(_derivatives(reference, params, x, weights))
  got = jax.tree.leaves(_derivatives(layer, params, x, weights))
  for a, b in zip(expected, got):
    assert a.shape == b.shape
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * float(jnp.max(jnp.abs(a))))


def test_adjoint_layers_one_spatial_axis_and_no_bias():
  for transpose, kernel_size in ((False, (3,)), (True, (4,))):
    reference, layer = _pair(transpose, kernel_size, (2,), use_bias=False)
    x = _normal((2, 9, 3), 3)
    params = reference.init(KEY, x)
    weights = _normal(jax.eval_shape(reference.apply, params, x).shape, 4)
    for a, b in zip(jax.tree.leaves(_derivatives(reference, params, x, weights)),
                    jax.tree.leaves(_derivatives(layer, params, x, weights))):
      np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * float(jnp.max(jnp.abs(a))))


def test_conv_adjoint_is_the_adjoint():
  # <conv(x, K), g> == <x, conv_adjoint(g, K)> for random x, g.
  strides, padding = (2, 2), ((1, 1), (1, 1))
  x, kernel = _normal((2, 8, 8, 3), 6), _normal((4, 4, 3, 5), 7)
  y = adjoint.conv(x, kernel, strides, padding)
  g = _normal(y.shape, 8)
  back = adjoint.conv_adjoint(g, kernel, x.shape, strides, padding)
  np.testing.assert_allclose(jnp.vdot(y, g), jnp.vdot(x, back), rtol=1e-5)


@pytest.mark.parametrize("kernel_size,strides,spatial,padding", [
    ((4, 4), (2, 2), (14, 14), ((1, 1), (1, 1))),   # DCGAN's layer
    ((4, 4), (2, 2), (7, 9), ((2, 0), (0, 1))),     # odd sizes, asymmetric padding
    ((4, 2), (2, 1), (6, 5), ((1, 2), (0, 1))),     # one axis of stride 1
    ((6, 6), (3, 3), (9, 8), ((1, 2), (2, 3))),
    ((2, 2), (2, 2), (8, 8), ((0, 0), (0, 0))),
    ((4,), (4,), (11,), ((0, 1),)),                 # one spatial axis
    ((4, 4, 4), (2, 2, 2), (6, 5, 6), ((1, 1), (1, 2), (2, 1))),
])
def test_phase_adjoint_equals_input_gradient(kernel_size, strides, spatial, padding):
  # The CPU form of conv_adjoint (stride-1 convolutions per phase) against JAX's
  # input gradient of the strided convolution, and conv_adjoint itself (which
  # picks the phase form on CPU) against both.
  x_shape = (2,) + spatial + (3,)
  kernel = _normal(kernel_size + (3, 5), 9)
  out_shape = jax.eval_shape(lambda x: adjoint.conv(x, kernel, strides, padding),
                             jax.ShapeDtypeStruct(x_shape, jnp.float32)).shape
  g = _normal(out_shape, 10)
  expected = adjoint._lax_adjoint(g, kernel, x_shape, strides, padding)
  assert adjoint._phases_apply(kernel_size, strides)
  for got in (adjoint._phase_adjoint(g, kernel, x_shape, strides, padding),
              jax.jit(adjoint.conv_adjoint, static_argnums=(2, 3, 4))(
                  g, kernel, x_shape, strides, padding)):
    assert got.shape == expected.shape == x_shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_phase_adjoint_applies_only_to_strides_dividing_the_kernel():
  assert adjoint._phases_apply((4, 4), (2, 2))
  assert not adjoint._phases_apply((3, 3), (2, 2))  # 3 taps over 2 phases
  assert not adjoint._phases_apply((3, 3), (1, 1))  # no phases to split


def test_adjoint_transpose_rejects_kernel_smaller_than_stride():
  with pytest.raises(ValueError, match="kernel_size >= strides"):
    AdjointConvTranspose(4, (2, 2), (3, 3)).init(KEY, jnp.ones((1, 4, 4, 2)))


def test_adjoint_transpose_equals_pytorch_conv_transpose2d_with_flipped_kernel():
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
  layer = AdjointConvTranspose(4, use_bias=False)
  got = layer.apply({"params": {"kernel": jnp.asarray(kernel)}}, x)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size,strides,spatial,padding", [
    ((5, 5), (2, 2), (4, 4), ((1, 2), (1, 2))),     # TF DCGAN's 4x4 -> 2x2 layer ('SAME')
    ((5, 5), (2, 2), (7, 7), ((2, 2), (2, 2))),     # its 7x7 -> 4x4 layer
    ((3, 3), (1, 1), (6, 5), ((1, 1), (0, 2))),     # stride 1, asymmetric padding
    ((4, 2), (3, 1), (9, 4), ((0, 0), (0, 0))),     # 'VALID', unequal strides
    ((3,), (2,), (9,), ((1, 1),)),                  # one spatial axis
])
def test_taps_conv_equals_the_convolution_to_second_derivatives(kernel_size, strides, spatial,
                                                                padding):
  """The convolution as one matrix product of its input's taps: the same map, input and
  kernel gradients, and the gradients of a penalty on the input gradient."""
  x = _normal((2,) + spatial + (3,), 11)
  kernel = _normal(kernel_size + (3, 4), 12)
  lax_conv = lambda x, k: adjoint._lax_conv(x, k, strides, padding)
  taps = lambda x, k: adjoint.taps_conv(x, k, strides, padding)
  weights = _normal(jax.eval_shape(lax_conv, x, kernel).shape, 13)

  def derivatives(f):
    loss = lambda x, k: jnp.sum(jnp.sin(f(x, k)) * weights)
    penalty = lambda x, k: jnp.sum(jax.grad(loss)(x, k) ** 2)
    return jax.jit(lambda x, k: (f(x, k), jax.grad(loss, (0, 1))(x, k),
                                 jax.grad(penalty, (0, 1))(x, k)))(x, kernel)

  for a, b in zip(jax.tree.leaves(derivatives(lax_conv)), jax.tree.leaves(derivatives(taps))):
    assert a.shape == b.shape
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * float(jnp.max(jnp.abs(a))))


def test_taps_forms_equal_the_convolution_and_its_adjoint_where_they_are_chosen():
  """conv_or_taps and conv_adjoint_or_taps (taps on CPU) against conv and conv_adjoint."""
  assert adjoint.taps_pay(7, 5) and adjoint.taps_pay(4, 5)
  assert not adjoint.taps_pay(14, 5) and not adjoint.taps_pay(7, 3)
  strides, padding = (2, 2), ((1, 2), (1, 2))
  x, kernel = _normal((3, 4, 4, 6), 14), _normal((5, 5, 6, 8), 15)
  y = jax.jit(lambda x, k: adjoint.conv_or_taps(x, k, strides, padding, taps=True))(x, kernel)
  np.testing.assert_allclose(y, adjoint.conv(x, kernel, strides, padding), rtol=1e-5, atol=1e-5)
  g = _normal(y.shape, 16)
  back = jax.jit(lambda g, k: adjoint.conv_adjoint_or_taps(g, k, x.shape, strides, padding,
                                                           taps=True))(g, kernel)
  np.testing.assert_allclose(back, adjoint.conv_adjoint(g, kernel, x.shape, strides, padding),
                             rtol=1e-5, atol=1e-5)
  # The same derivatives through the platform choice, and on CPU no convolution at all.
  for taps in (True, False):
    loss = lambda x, k: jnp.sum(jnp.sin(adjoint.conv_or_taps(x, k, strides, padding, taps=taps)))
    for a, b in zip(jax.jit(jax.grad(loss, (0, 1)))(x, kernel),
                    jax.grad(lambda x, k: jnp.sum(jnp.sin(adjoint.conv(x, k, strides, padding))),
                             (0, 1))(x, kernel)):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    if jax.default_backend() == "cpu":
      compiled = jax.jit(jax.grad(loss, (0, 1))).lower(x, kernel).compile().as_text()
      assert (" convolution(" in compiled) is not taps  # the HLO op, not a name
