"""The game's optax transformations: clipping, EMA, TTUR, optimism."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gan_jax import transforms


def random_tree(seed, scale):
  k1, k2 = jax.random.split(jax.random.key(seed))
  return {"w": scale * jax.random.normal(k1, (5, 7)), "b": scale * jax.random.normal(k2, (7,))}


@pytest.mark.parametrize("c", [0.01, 0.1, 1.0])
def test_weight_clipping_keeps_every_parameter_in_the_box(c):
  opt = optax.chain(optax.rmsprop(5e-2), transforms.clip_params(c))
  params = random_tree(0, 3.0)  # starts far outside the box.
  state = opt.init(params)
  for i in range(20):
    grads = random_tree(i + 1, 10.0)
    updates, state = opt.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    bound = np.float32(c)  # the box in the parameters' own dtype.
    for leaf in jax.tree.leaves(params):
      assert jnp.max(leaf) <= bound and jnp.min(leaf) >= -bound
  # Inside the box the rule is the identity: one small step moves params like rmsprop alone.
  inner = {"w": jnp.full((3,), c / 2)}
  updates, _ = transforms.clip_params(c).update({"w": jnp.full((3,), c / 8)}, optax.EmptyState(), inner)
  np.testing.assert_allclose(optax.apply_updates(inner, updates)["w"], 0.625 * c, rtol=1e-6)


def test_clipping_moves_parameters_to_clip_of_update():
  params = random_tree(3, 1.0)
  step = random_tree(4, 1.0)
  updates, _ = transforms.clip_params(0.5).update(step, optax.EmptyState(), params)
  got = optax.apply_updates(params, updates)
  want = jax.tree.map(lambda p, u: jnp.clip(p + u, -0.5, 0.5), params, step)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(g, w, atol=1e-7)


def test_ema_matches_closed_form():
  decay = 0.9
  opt = optax.chain(optax.sgd(0.1), transforms.ema_params(decay))
  params = random_tree(0, 1.0)
  state = opt.init(params)
  history = [params]
  for i in range(6):
    updates, state = opt.update(random_tree(10 + i, 1.0), state, params)
    params = optax.apply_updates(params, updates)
    history.append(params)
  t = len(history) - 1
  for name in params:
    seq = np.stack([np.asarray(h[name], np.float64) for h in history])
    closed = decay**t * seq[0] + (1 - decay) * sum(decay ** (t - i) * seq[i] for i in range(1, t + 1))
    np.testing.assert_allclose(transforms.ema_of(state)[name], closed, rtol=1e-5, atol=1e-6)


def test_ema_leaves_updates_unchanged_and_is_absent_when_not_chained():
  params = random_tree(0, 1.0)
  grads = random_tree(1, 1.0)
  plain = optax.adam(1e-2)
  chained = optax.chain(optax.adam(1e-2), transforms.ema_params(0.5))
  u1, s1 = plain.update(grads, plain.init(params), params)
  u2, s2 = chained.update(grads, chained.init(params), params)
  for a, b in zip(jax.tree.leaves(u1), jax.tree.leaves(u2)):
    np.testing.assert_array_equal(a, b)
  assert transforms.ema_of(s1) is None
  assert transforms.ema_of(s2) is not None


def test_two_timescale_gives_each_player_its_rate():
  opts = transforms.two_timescale(optax.sgd, generator_lr=1e-4, discriminator_lr=4e-4)
  grads = {"w": jnp.ones((2,))}
  g, _ = opts.generator.update(grads, opts.generator.init(grads))
  d, _ = opts.discriminator.update(grads, opts.discriminator.init(grads))
  np.testing.assert_allclose(g["w"], -1e-4)
  np.testing.assert_allclose(d["w"], -4e-4)


def play_bilinear_game(opt, steps):
  """Plays min_x max_y x*y from (1, 1); returns the final distance to the equilibrium (0, 0)."""

  def body(carry, _):
    x, y, sx, sy = carry
    ux, sx = opt.update(y, sx, x)  # d/dx (x*y)
    uy, sy = opt.update(-x, sy, y)  # y ascends: d/dy -(x*y)
    return (x + ux, y + uy, sx, sy), None

  x = y = jnp.array(1.0)
  (x, y, _, _), _ = jax.lax.scan(body, (x, y, opt.init(x), opt.init(y)), None, length=steps)
  return float(jnp.hypot(x, y))


def test_optimistic_updates_approach_the_equilibrium_where_plain_ones_spiral_out():
  start = np.sqrt(2.0)
  assert play_bilinear_game(optax.sgd(0.05), 200) > start
  assert play_bilinear_game(optax.adam(0.01), 2000) > start
  assert play_bilinear_game(transforms.optimistic_gradient_descent(0.05), 2000) < 0.2
  assert play_bilinear_game(transforms.optimistic_adam(0.01, b1=0.0), 2000) < 0.5 * start


def test_max_norm_params_caps_each_units_incoming_weights_and_leaves_biases():
  params = {"kernel": jnp.array([[3.0, 0.1], [4.0, 0.1]]), "bias": jnp.array([10.0, 10.0])}
  step = {"kernel": jnp.zeros((2, 2)), "bias": jnp.zeros(2)}
  updates, _ = transforms.max_norm_params(2.0).update(step, optax.EmptyState(), params)
  new = optax.apply_updates(params, updates)
  norms = jnp.linalg.norm(new["kernel"], axis=0)
  np.testing.assert_allclose(norms[0], 2.0, rtol=1e-6)  # 5 -> 2, direction kept
  np.testing.assert_allclose(new["kernel"][:, 0] / norms[0], [0.6, 0.8], rtol=1e-6)
  np.testing.assert_allclose(new["kernel"][:, 1], params["kernel"][:, 1], rtol=1e-5)
  np.testing.assert_array_equal(new["bias"], params["bias"])
  with pytest.raises(ValueError, match="max_norm > 0"):
    transforms.max_norm_params(0.0)


def test_cosine_schedule_runs_half_a_cosine_between_its_ends_either_way():
  down = transforms.cosine_schedule(2e-4, 5e-5, 100)
  up = transforms.cosine_schedule(0.9, 0.99, 100)
  counts = jnp.array([0, 25, 50, 100, 1000])
  # value(t) = end + (start - end) (1 + cos(pi t / T)) / 2; constant after T.
  expected = lambda a, b: b + (a - b) * 0.5 * (1 + np.cos(np.pi * np.minimum(counts, 100) / 100))
  np.testing.assert_allclose(down(counts), expected(2e-4, 5e-5), rtol=1e-5)
  np.testing.assert_allclose(up(counts), expected(0.9, 0.99), rtol=1e-6)
  assert float(down(50)) == pytest.approx((2e-4 + 5e-5) / 2, rel=1e-5)
  with pytest.raises(ValueError, match="steps >= 1"):
    transforms.cosine_schedule(1.0, 0.0, 0)


def test_a_scheduled_ema_decay_follows_its_schedule_update_by_update():
  """ema_t = d(t-1) ema_{t-1} + (1 - d(t-1)) params_t with d read at the update count."""
  decay = lambda count: 0.5 + 0.1 * count
  opt = optax.chain(optax.sgd(0.1), transforms.ema_params(decay))
  params = {"w": jnp.array([1.0, -2.0])}
  state = opt.init(params)
  expected = params["w"]
  for t in range(4):
    updates, state = opt.update({"w": jnp.array([1.0, 3.0])}, state, params)
    params = optax.apply_updates(params, updates)
    expected = decay(t) * expected + (1 - decay(t)) * params["w"]
    np.testing.assert_allclose(transforms.ema_of(state)["w"], expected, rtol=1e-6)


def test_ema_halflife_schedule_halves_the_weight_of_the_past_every_halflife():
  constant = transforms.ema_halflife_schedule(50.0)
  np.testing.assert_allclose(float(constant(7)) ** 50, 0.5, rtol=1e-5)
  growing = transforms.ema_halflife_schedule(40.0, steps=100)
  assert float(growing(0)) == 0.0  # Half-life 0: the average is the parameters.
  np.testing.assert_allclose(float(growing(50)) ** 20, 0.5, rtol=1e-5)  # Half way: h = 20.
  np.testing.assert_allclose(float(growing(500)) ** 40, 0.5, rtol=1e-5)
