"""Gradient penalties: zero where the theory says, per-example, batch-size free."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import penalties

UNIT_W = jnp.array([0.5, 0.5, 0.5, 0.5])  # ||w|| = 1 exactly in float32.


def linear_critic(w):
  return lambda x: x @ w


def nonlinear_critic(x):
  w = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
  return jnp.tanh(x @ w) @ jnp.array([1.0, -2.0, 0.5]) + jnp.sum(x**2, axis=-1)


def data(n, seed):
  k1, k2 = jax.random.split(jax.random.key(seed))
  return jax.random.normal(k1, (n, 4)), jax.random.normal(k2, (n, 4)) + 2.0


@pytest.mark.parametrize("n", [1, 3, 64])
@pytest.mark.parametrize("one_sided", [False, True])
def test_gradient_penalty_zero_for_unit_norm_linear_critic(n, one_sided):
  real, fake = data(n, 0)
  value = penalties.gradient_penalty(
      linear_critic(UNIT_W), real, fake, jax.random.key(1), one_sided=one_sided
  )
  assert value == 0.0


@pytest.mark.parametrize("name", ["gradient", "dragan"])
def test_unit_gradient_penalties_zero_for_unit_norm_linear_critic(name):
  real, fake = data(16, 2)
  assert penalties.PENALTIES[name](linear_critic(UNIT_W), real, fake, jax.random.key(0)) == 0.0


def test_gradient_penalty_values_for_linear_critic():
  real, fake = data(8, 3)
  key = jax.random.key(0)
  double = linear_critic(2 * UNIT_W)
  half = linear_critic(0.5 * UNIT_W)
  np.testing.assert_allclose(penalties.gradient_penalty(double, real, fake, key), 1.0)
  np.testing.assert_allclose(penalties.gradient_penalty(double, real, fake, key, target=2.0), 0.0)
  np.testing.assert_allclose(penalties.gradient_penalty(half, real, fake, key), 0.25)
  assert penalties.gradient_penalty(half, real, fake, key, one_sided=True) == 0.0
  np.testing.assert_allclose(penalties.r1_penalty(double, real, fake, key), 4.0)
  np.testing.assert_allclose(penalties.r2_penalty(half, real, fake, key), 0.25)
  np.testing.assert_allclose(penalties.r1_r2_penalty(double, real, fake, key), 8.0)


@pytest.mark.parametrize("name", sorted(penalties.PENALTIES))
def test_penalty_is_per_example_and_does_not_change_with_batch_size(name):
  # real == fake makes every interpolation the same point, whatever the random draws.
  x, _ = data(6, 4)
  key = jax.random.key(5)
  fn = penalties.PENALTIES[name]
  if name == "dragan":  # its perturbation scale is the batch std: tile keeps it fixed.
    whole = fn(nonlinear_critic, x, x, key, scale=0.0)
    tiled = fn(nonlinear_critic, jnp.tile(x, (3, 1)), jnp.tile(x, (3, 1)), key, scale=0.0)
    singles = [fn(nonlinear_critic, x[i : i + 1], x[i : i + 1], key, scale=0.0) for i in range(6)]
  else:
    whole = fn(nonlinear_critic, x, x, key)
    tiled = fn(nonlinear_critic, jnp.tile(x, (3, 1)), jnp.tile(x, (3, 1)), key)
    singles = [fn(nonlinear_critic, x[i : i + 1], x[i : i + 1], key) for i in range(6)]
  np.testing.assert_allclose(whole, tiled, rtol=1e-5)
  np.testing.assert_allclose(whole, np.mean(singles), rtol=1e-5)


def test_penalty_gradient_is_finite_at_zero_input_gradient():
  real, fake = data(4, 6)

  def value(a):
    return penalties.gradient_penalty(lambda x: a * (x @ UNIT_W), real, fake, jax.random.key(0))

  grad = jax.grad(value)(0.0)
  # d/da (|a| - 1)^2 at a = 0 from the safe norm's zero branch: finite, not NaN.
  assert np.isfinite(grad)
  np.testing.assert_allclose(value(0.0), 1.0)
