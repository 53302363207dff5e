"""Each loss against a hand computation in float64, stability, and the saturation facts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import losses

REAL = np.array([1.5, -2.0, 0.25])
FAKE = np.array([0.5, 3.0, -1.0, -4.0])


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


HAND = {
    "minimax_d": -np.mean(np.log(sigmoid(REAL))) - np.mean(np.log(1 - sigmoid(FAKE))),
    "minimax_g": np.mean(np.log(1 - sigmoid(FAKE))),
    "non_saturating_g": -np.mean(np.log(sigmoid(FAKE))),
    "wasserstein_d": FAKE.mean() - REAL.mean(),
    "wasserstein_g": -FAKE.mean(),
    "hinge_d": np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)),
    "hinge_g": -FAKE.mean(),
    "least_squares_d": 0.5 * np.mean((REAL - 1) ** 2) + 0.5 * np.mean(FAKE**2),
    "least_squares_g": 0.5 * np.mean((FAKE - 1) ** 2),
    "relativistic_d": -np.mean(np.log(sigmoid(REAL - FAKE.mean())))
    - np.mean(np.log(1 - sigmoid(FAKE - REAL.mean()))),
    "relativistic_g": -np.mean(np.log(sigmoid(FAKE - REAL.mean())))
    - np.mean(np.log(1 - sigmoid(REAL - FAKE.mean()))),
    # Pairs (REAL[i], FAKE[i]): the first three fakes.
    "pairing_d": -np.mean(np.log(sigmoid(REAL - FAKE[:3]))),
    "pairing_g": -np.mean(np.log(sigmoid(FAKE[:3] - REAL))),
}

LOSSES = {
    "minimax_d": lambda r, f: losses.minimax_discriminator_loss(r, f),
    "minimax_g": lambda r, f: losses.minimax_generator_loss(f),
    "non_saturating_g": lambda r, f: losses.non_saturating_generator_loss(f),
    "wasserstein_d": losses.wasserstein_discriminator_loss,
    "wasserstein_g": lambda r, f: losses.wasserstein_generator_loss(f),
    "hinge_d": losses.hinge_discriminator_loss,
    "hinge_g": lambda r, f: losses.hinge_generator_loss(f),
    "least_squares_d": losses.least_squares_discriminator_loss,
    "least_squares_g": lambda r, f: losses.least_squares_generator_loss(f),
    "relativistic_d": losses.relativistic_average_discriminator_loss,
    "relativistic_g": losses.relativistic_average_generator_loss,
    "pairing_d": lambda r, f: losses.relativistic_pairing_discriminator_loss(r, f[:len(r)]),
    "pairing_g": lambda r, f: losses.relativistic_pairing_generator_loss(r, f[:len(r)]),
}


def test_pairing_compares_each_pair_where_the_average_game_compares_with_the_mean():
  real, fake = jnp.array([2.0, -1.0]), jnp.array([0.0, 1.0])
  # Pairs: differences 2 and -2; against the other batch's mean 0.5: 1.5 and -1.5.
  np.testing.assert_allclose(losses.relativistic_pairing_discriminator_loss(real, fake),
                             np.mean(np.log1p(np.exp(-np.array([2.0, -2.0])))), rtol=1e-6)
  average = losses.relativistic_average_discriminator_loss(real, fake)
  assert not np.isclose(losses.relativistic_pairing_discriminator_loss(real, fake), average)
  # Shifting every logit by the same amount leaves the pairing loss as it is.
  np.testing.assert_allclose(losses.relativistic_pairing_discriminator_loss(real + 7, fake + 7),
                             losses.relativistic_pairing_discriminator_loss(real, fake),
                             rtol=1e-6)
  # Swapping the pairs changes it: the pairing, not only the two sets, matters.
  assert not np.isclose(losses.relativistic_pairing_discriminator_loss(real, fake[::-1]),
                        losses.relativistic_pairing_discriminator_loss(real, fake))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_equals_hand_computation(name):
  value = LOSSES[name](jnp.asarray(REAL, jnp.float32), jnp.asarray(FAKE, jnp.float32))
  assert value.shape == ()
  np.testing.assert_allclose(value, HAND[name], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_and_gradient_finite_at_extreme_logits(name):
  extreme = jnp.array([100.0, -100.0], jnp.float32)
  value, grads = jax.value_and_grad(LOSSES[name], argnums=(0, 1))(extreme, -extreme)
  assert np.isfinite(value)
  assert all(np.all(np.isfinite(g)) for g in grads)


def test_saturating_generator_gradient_vanishes_where_non_saturating_does_not():
  # D(G(z)) = sigmoid(-10) ~ 4.5e-5: the discriminator rejects the samples confidently.
  rejected = jnp.full((8,), -10.0)
  saturating = jax.grad(losses.minimax_generator_loss)(rejected)
  non_saturating = jax.grad(losses.non_saturating_generator_loss)(rejected)
  # d/dl log(1 - sigmoid(l)) = -sigmoid(l): vanishes; d/dl -log sigmoid(l) = -(1 - sigmoid(l)).
  np.testing.assert_allclose(saturating * 8, -sigmoid(-10.0), rtol=1e-5)
  np.testing.assert_allclose(non_saturating * 8, -(1 - sigmoid(-10.0)), rtol=1e-5)
  assert np.max(np.abs(saturating * 8)) < 1e-4
  assert np.min(np.abs(non_saturating * 8)) > 0.99


def test_minimax_game_is_zero_sum_on_fake_term():
  fake = jnp.asarray(FAKE, jnp.float32)
  d_fake_term = losses.minimax_discriminator_loss(jnp.full((1,), 1e4), fake)
  np.testing.assert_allclose(losses.minimax_generator_loss(fake), -d_fake_term, rtol=1e-6)


def test_feature_matching_is_squared_distance_of_means():
  real = jnp.array([[1.0, 2.0], [3.0, 4.0]])
  fake = jnp.array([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]])
  # Means (2, 3) and (1, 2): squared distance 2.
  np.testing.assert_allclose(losses.feature_matching_loss(real, fake), 2.0)


def test_losses_average_over_ensemble_members():
  real = jnp.asarray(np.stack([REAL, REAL + 1.0]), jnp.float32)
  fake = jnp.asarray(np.stack([FAKE[:3], FAKE[1:]]), jnp.float32)
  members = [losses.hinge_discriminator_loss(real[i], fake[i]) for i in range(2)]
  np.testing.assert_allclose(losses.hinge_discriminator_loss(real, fake), np.mean(members), rtol=1e-6)
