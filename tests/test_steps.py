"""Train steps: who changes what, scan equals sequence, no retracing, exact gradients."""


import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gan_jax as gj

LATENT = 3


class Generator(nn.Module):
  """A small generator with batch norm, so it has mutable collections."""

  @nn.compact
  def __call__(self, z, train):
    h = nn.Dense(16)(z)
    h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
    return nn.Dense(2)(nn.relu(h))


class Critic(nn.Module):
  """A small critic with dropout, returning (logits, features)."""

  dropout: float = 0.0

  @nn.compact
  def __call__(self, x, train):
    h = nn.tanh(nn.Dense(16)(x))
    h = nn.Dropout(self.dropout, deterministic=not train)(h)
    return nn.Dense(1)(h)[:, 0], h


def make_gan(game=None, g_opt=None, d_opt=None, dropout=0.0, latent_sampler=gj.normal_latents):
  return gj.GAN(
      generator=gj.from_flax(Generator()),
      discriminator=gj.from_flax(Critic(dropout)),
      g_optimizer=g_opt or optax.chain(optax.adam(1e-2), gj.ema_params(0.9)),
      d_optimizer=d_opt or optax.adam(1e-2),
      game=game or gj.games.non_saturating(),
      latent_dim=LATENT,
      latent_sampler=latent_sampler,
  )


def fixed_latents(key, num, dim):
  """Latents that ignore the step's key. With no dropout and a penalty that ignores
  it too, a step's result depends on no key at all, so a test recomputes it without
  knowing how the step splits its key (a private detail a refactor may change)."""
  del key
  return jax.random.normal(jax.random.key(11), (num, dim))


def fixed_key_gradient_penalty(critic_fn, real, fake, key):
  del key
  return gj.penalties.gradient_penalty(critic_fn, real, fake, jax.random.key(12))


def real_batch(n, seed=0):
  return jax.random.normal(jax.random.key(seed), (n, 2)) * 0.5 + 2.0


def generator_leaves(state):
  return jax.tree.leaves((state.g_params, state.g_collections, state.g_opt_state))


def discriminator_leaves(state):
  return jax.tree.leaves((state.d_params, state.d_collections, state.d_opt_state))


def assert_trees_identical(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def assert_trees_close(a, b, **kw):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), **kw)


def trees_differ(a, b):
  return any(not np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def gan():
  return make_gan(dropout=0.25)


@pytest.fixture(scope="module")
def state(gan):
  return gj.init_state(gan, jax.random.key(0), real_batch(8))


def test_discriminator_update_leaves_every_generator_leaf_bit_identical(gan, state):
  step = jax.jit(gj.make_discriminator_step(gan, penalty=gj.penalties.r1_penalty, penalty_weight=1.0))
  new, _ = step(state, real_batch(8), jax.random.key(1))
  assert_trees_identical(generator_leaves(state), generator_leaves(new))
  assert trees_differ(discriminator_leaves(state), discriminator_leaves(new))


def test_generator_update_leaves_every_discriminator_leaf_bit_identical(gan, state):
  step = jax.jit(gj.make_generator_step(gan))
  new, _ = step(state, real_batch(8), jax.random.key(1))
  assert_trees_identical(discriminator_leaves(state), discriminator_leaves(new))
  assert trees_differ(generator_leaves(state), generator_leaves(new))
  # The generator's own batch-norm statistics do move in its update.
  assert trees_differ(jax.tree.leaves(state.g_collections), jax.tree.leaves(new.g_collections))


def momentum_gan(game=None, dropout=0.0):
  """A GAN whose optimizers keep state (momentum, EMA) but do not amplify rounding.

  Two different programs computing the same steps (a scan and a sequence of
  calls, one fused call and separate ones) round differently. Adam's first
  updates are about `lr * sign(g)`: a parameter whose exact gradient is zero
  (the Wasserstein critic's output bias, a bias before batch norm) gets +-lr
  from rounding noise alone, so only a linear update rule makes "the same
  steps" a fact with a tolerance on every CPU.
  """
  return make_gan(game=game, dropout=dropout,
                  g_opt=optax.chain(optax.sgd(1e-2, momentum=0.9), gj.ema_params(0.9)),
                  d_opt=optax.sgd(1e-2, momentum=0.9))


@pytest.mark.parametrize("penalty", [None, fixed_key_gradient_penalty])
def test_k_scanned_critic_steps_equal_k_sequential_steps(penalty):
  k, b = 3, 8
  gan = momentum_gan(game=gj.games.wasserstein())._replace(latent_sampler=fixed_latents)
  state = gj.init_state(gan, jax.random.key(0), real_batch(b))
  batch = real_batch(k * b, seed=7)
  key = jax.random.key(3)
  scanned, metrics = jax.jit(
      gj.make_alternating_step(gan, d_steps=k, penalty=penalty, penalty_weight=10.0, reuse_fake=False)
  )(state, batch, key)

  d_step = jax.jit(gj.make_discriminator_step(gan, penalty=penalty, penalty_weight=10.0))
  g_step = jax.jit(gj.make_generator_step(gan))
  sequential = state
  for i in range(k):  # Any keys: nothing in these steps draws from them.
    sequential, d_metrics = d_step(sequential, batch[i * b : (i + 1) * b], jax.random.key(i))
  sequential, _ = g_step(sequential, batch[-b:], jax.random.key(k))

  assert int(scanned.step) == 1
  assert_trees_close(scanned.replace(step=0), sequential.replace(step=0), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(metrics["d_loss"], d_metrics["d_loss"], rtol=1e-5)


def test_reused_fake_is_the_fake_the_last_critic_step_drew():
  gan = momentum_gan(dropout=0.25)
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  batch = real_batch(16, seed=2)
  key = jax.random.key(4)
  fresh, _ = jax.jit(gj.make_alternating_step(gan, d_steps=2, reuse_fake=False))(state, batch, key)
  reused, _ = jax.jit(gj.make_alternating_step(gan, d_steps=2, reuse_fake=True))(state, batch, key)
  # Same discriminator trajectory either way; only the generator's latents differ.
  assert_trees_close(fresh.d_params, reused.d_params, rtol=1e-5, atol=1e-6)
  assert trees_differ(jax.tree.leaves(fresh.g_params), jax.tree.leaves(reused.g_params))


@pytest.mark.parametrize("reuse_fake", [False, True])
def test_g_steps_are_generator_updates_one_after_another_on_the_same_latents(reuse_fake):
  """g_steps=2 (VEEGAN's and PacGAN's DCGAN code): one discriminator update, then two
  generator updates, the second with the updated generator on the first's latents."""
  gan = momentum_gan(dropout=0.25)
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  batch, key = real_batch(8, seed=2), jax.random.key(4)
  twice, metrics = jax.jit(
      gj.make_alternating_step(gan, reuse_fake=reuse_fake, g_steps=2))(state, batch, key)
  once, _ = jax.jit(gj.make_alternating_step(gan, reuse_fake=reuse_fake))(state, batch, key)
  # The same discriminator update; the first generator update is the one-step rule's.
  assert_trees_close(twice.d_params, once.d_params, rtol=1e-5, atol=1e-6)
  d_key, g_key = jax.random.split(key)
  if reuse_fake:  # The latents of the discriminator update, as in the one-step rule.
    z_key, g_rng, _ = jax.random.split(jax.random.split(d_key, 1)[0], 3)
    z = gan.latents(z_key, 8)
    def forward(s):
      return jax.vjp(lambda p: gan.generator.apply(p, s.g_collections, z, rng=g_rng, train=True),
                     s.g_params, has_aux=True)
    again, last = jax.jit(lambda s: gj.make_generator_step(gan)(s, batch, g_key, forward(s)))(once)
  else:  # The same key: the same latents and dropout masks.
    again, last = jax.jit(gj.make_generator_step(gan))(once, batch, g_key)
  assert_trees_close(twice.g_params, again.g_params, rtol=1e-5, atol=1e-6)
  assert_trees_close(twice.g_collections, again.g_collections, rtol=1e-5, atol=1e-6)
  assert trees_differ(jax.tree.leaves(twice.g_params), jax.tree.leaves(once.g_params))
  np.testing.assert_allclose(metrics["g_loss"], last["g_loss"], rtol=1e-5)
  assert int(twice.step) == 1


def test_g_steps_below_one_or_outside_alternating_updates_are_refused(gan):
  with pytest.raises(ValueError, match="g_steps must be >= 1"):
    gj.make_alternating_step(gan, g_steps=0)
  with pytest.raises(ValueError, match="needs update='alternating'"):
    gj.make_train_step(gan, update="simultaneous", g_steps=2)


@pytest.mark.parametrize("update", ["alternating", "simultaneous", "unrolled"])
def test_step_does_not_retrace(update):
  gan = make_gan(d_opt=optax.adam(1e-2, eps_root=1e-8))
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  d_steps = 2 if update == "alternating" else 1
  step = jax.jit(
      chex.assert_max_traces(gj.make_train_step(gan, update=update, d_steps=d_steps, unroll_steps=2), n=1),
      donate_argnums=0,
  )
  for i in range(3):
    state, metrics = step(state, real_batch(8 * d_steps, seed=i), jax.random.key(i))
  assert int(state.step) == 3
  expected = {"d_loss", "g_loss", "penalty", "real_logits", "fake_logits", "d_grad_norm", "g_grad_norm"}
  assert set(metrics) == expected
  assert all(np.isfinite(v) for v in metrics.values())


def sgd_gan(game):
  return make_gan(game=game, g_opt=optax.sgd(1.0), d_opt=optax.sgd(1.0),
                  latent_sampler=fixed_latents)


@pytest.mark.parametrize("game", [gj.games.non_saturating(), gj.games.relativistic_average()])
def test_simultaneous_step_applies_both_exact_gradients(game):
  gan = sgd_gan(game)
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  real = real_batch(8, seed=5)
  key = jax.random.key(6)
  new, metrics = jax.jit(gj.make_simultaneous_step(gan))(state, real, key)

  # Recompute with plain jax.grad of the composed game (no key matters: fixed latents,
  # no dropout): real first, then fake through the statistics the real batch left.
  z, rng = gan.latents(None, 8), jax.random.key(0)

  def outputs(g_params, d_params):
    fake, _ = gan.generator.apply(g_params, state.g_collections, z, rng=rng, train=True)
    r, cols = gan.discriminator.apply(d_params, state.d_collections, real, rng=rng, train=True)
    f, _ = gan.discriminator.apply(d_params, cols, fake, rng=rng, train=True)
    return gj.DiscriminatorOutput(*r), gj.DiscriminatorOutput(*f)

  d_grads = jax.grad(lambda d: game.discriminator_loss(*outputs(state.g_params, d)))(state.d_params)
  g_grads = jax.grad(lambda g: game.generator_loss(*outputs(g, state.d_params)))(state.g_params)
  assert_trees_close(new.d_params, jax.tree.map(jnp.subtract, state.d_params, d_grads), rtol=1e-5, atol=1e-6)
  assert_trees_close(new.g_params, jax.tree.map(jnp.subtract, state.g_params, g_grads), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(metrics["g_grad_norm"], optax.tree.norm(g_grads), rtol=1e-5)


def _unrolled_by_hand(gan, state, real, lr):
  """The unroll of `make_unrolled_step(gan, unroll_steps=1)` with SGD(lr) for D, fixed
  latents and no dropout (no key matters): `(g_params -> (theta_D^1, fake), logits)`."""
  z, rng = gan.latents(None, real.shape[0]), jax.random.key(0)

  def logits(d_params, x):
    out, _ = gan.discriminator.apply(d_params, state.d_collections, x, rng=rng, train=True)
    return gj.DiscriminatorOutput(*out)

  def unrolled(g_params):
    fake, _ = gan.generator.apply(g_params, state.g_collections, z, rng=rng, train=True)
    d_loss = lambda d: gan.game.discriminator_loss(logits(d, real), logits(d, fake))
    grads = jax.grad(d_loss)(state.d_params)
    return jax.tree.map(lambda p, g: p - lr * g, state.d_params, grads), fake

  return unrolled, logits


@pytest.mark.parametrize("game", ["non_saturating", "least_squares", "minimax", "wasserstein"])
def test_unrolled_generator_gradient_goes_through_the_discriminator_update(game):
  # A zero-sum game's generator minimises Metz et al.'s f_K (eq. 10): minus D's loss
  # against theta_D^K, its data term too; any other game's its own loss against it.
  lr = 0.5
  gan = make_gan(game=gj.games.GAMES[game](), g_opt=optax.sgd(1.0), d_opt=optax.sgd(lr),
                 latent_sampler=fixed_latents)
  assert gan.game.zero_sum == (game in ("minimax", "wasserstein"))
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  real = real_batch(8, seed=8)
  new, metrics = jax.jit(gj.make_unrolled_step(gan, unroll_steps=1))(state, real,
                                                                     jax.random.key(9))
  unrolled, logits = _unrolled_by_hand(gan, state, real, lr)

  def fakes_only(g_params):  # The generator's own loss against theta_D^1.
    d_params, fake = unrolled(g_params)
    return gan.game.generator_loss(None, logits(d_params, fake))

  def value(g_params):  # f(theta_G, theta_D^1) = -L_D(theta_D^1).
    d_params, fake = unrolled(g_params)
    return -gan.game.discriminator_loss(logits(d_params, real), logits(d_params, fake))

  surrogate = value if gan.game.zero_sum else fakes_only
  g_grads = jax.grad(surrogate)(state.g_params)
  assert_trees_close(new.g_params, jax.tree.map(jnp.subtract, state.g_params, g_grads),
                     rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(metrics["g_loss"], surrogate(state.g_params), rtol=1e-5)

  def plain(g_params):  # Against the current D: the unroll carries information.
    fake, _ = gan.generator.apply(g_params, state.g_collections, gan.latents(None, 8),
                                  rng=jax.random.key(0), train=True)
    return gan.game.generator_loss(None, logits(state.d_params, fake))

  differs = lambda f: optax.tree.norm(jax.tree.map(jnp.subtract, jax.grad(f)(state.g_params),
                                                   g_grads))
  assert differs(plain) > 1e-4
  if gan.game.zero_sum:  # The data term moves with theta_D^1: leaving it out changes it.
    assert differs(fakes_only) > 1e-4


def test_unrolled_generator_looks_ahead_on_the_last_real_minibatch():
  # With d_steps = 2 the step's batch holds two minibatches; the unroll (and f_K's data
  # term) sees the last, the one the ordinary discriminator updates end on.
  lr = 0.5
  gan = make_gan(game=gj.games.minimax(), g_opt=optax.sgd(1.0), d_opt=optax.sgd(lr),
                 latent_sampler=fixed_latents)
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  batch = real_batch(16, seed=8)
  new, _ = jax.jit(gj.make_unrolled_step(gan, unroll_steps=1, d_steps=2))(state, batch,
                                                                          jax.random.key(9))
  unrolled, logits = _unrolled_by_hand(gan, state, batch[8:], lr)

  def value(g_params):
    d_params, fake = unrolled(g_params)
    return -gan.game.discriminator_loss(logits(d_params, batch[8:]), logits(d_params, fake))

  g_grads = jax.grad(value)(state.g_params)
  assert_trees_close(new.g_params, jax.tree.map(jnp.subtract, state.g_params, g_grads),
                     rtol=1e-4, atol=1e-6)


def test_only_the_minimax_and_wasserstein_games_are_zero_sum():
  zero_sum = {name for name, game in gj.games.GAMES.items() if game().zero_sum}
  assert zero_sum == {"minimax", "wasserstein"}
  assert not gj.games.feature_matching(gj.games.minimax()).zero_sum


def test_wgan_step_with_clipping_keeps_critic_in_the_box():
  gan = make_gan(
      game=gj.games.wasserstein(),
      d_opt=optax.chain(optax.rmsprop(5e-3), gj.clip_params(0.01)),
  )
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  step = jax.jit(gj.make_alternating_step(gan, d_steps=5), donate_argnums=0)
  for i in range(3):
    state, _ = step(state, real_batch(40, seed=i), jax.random.key(i))
  for leaf in jax.tree.leaves(state.d_params):
    assert jnp.max(jnp.abs(leaf)) <= np.float32(0.01)


def test_penalty_is_reported_apart_from_the_game_loss(gan, state):
  step = jax.jit(gj.make_discriminator_step(gan, penalty=gj.penalties.gradient_penalty, penalty_weight=10.0))
  _, m = step(state, real_batch(8), jax.random.key(1))
  unpenalised = jax.jit(gj.make_discriminator_step(gan))
  _, m0 = unpenalised(state, real_batch(8), jax.random.key(1))
  np.testing.assert_allclose(m["d_loss"], m0["d_loss"], rtol=1e-6)
  assert m["penalty"] > 0 and m0["penalty"] == 0


def test_multi_step_equals_single_steps_with_folded_keys():
  gan = momentum_gan(dropout=0.25)
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  step = gj.make_alternating_step(gan)
  batches = jnp.stack([real_batch(8, seed=i) for i in range(3)])
  key = jax.random.key(11)
  fused, _ = jax.jit(gj.make_multi_step(step, 3))(state, batches, key)
  single = state
  jstep = jax.jit(step)
  for i in range(3):
    single, _ = jstep(single, batches[i], jax.random.fold_in(key, i))
  assert_trees_close(fused, single, rtol=1e-5, atol=1e-6)


def test_sample_uses_ema_parameters_when_tracked(gan, state):
  step = jax.jit(gj.make_alternating_step(gan))
  for i in range(3):
    state, _ = step(state, real_batch(8, seed=i), jax.random.key(i))
  ema = gj.sample(gan, state, jax.random.key(0), 5)
  raw = gj.sample(gan, state, jax.random.key(0), 5, ema=False)
  assert ema.shape == (5, 2)
  assert not np.allclose(ema, raw)
  assert_trees_identical(jax.tree.leaves(gj.generator_params(state)), jax.tree.leaves(gj.ema_of(state.g_opt_state)))


def test_an_nnx_critic_plugs_into_the_same_step():
  from flax import nnx

  from gan_jax import models

  class LinearCritic(nnx.Module):
    def __init__(self, rngs):
      self.linear = nnx.Linear(4, 1, use_bias=False, rngs=rngs)
      self.linear.kernel[...] = jnp.full((4, 1), 0.5)  # unit norm

    def __call__(self, x):
      return self.linear(x)[:, 0]

  gan = gj.GAN(
      generator=models.mlp_generator(4, hidden=(8,)),
      discriminator=models.from_nnx(LinearCritic(nnx.Rngs(0))),
      g_optimizer=optax.sgd(1e-2),
      d_optimizer=optax.sgd(1e-2),
      game=gj.games.wasserstein(),
      latent_dim=2,
  )
  real = jax.random.normal(jax.random.key(0), (16, 4))
  state = gj.init_state(gan, jax.random.key(1), real)
  new, metrics = jax.jit(
      gj.make_train_step(gan, d_steps=2, penalty=gj.penalties.gradient_penalty, penalty_weight=10.0)
  )(state, real, jax.random.key(2))
  # A critic step on the NNX unit-norm linear critic sees a gradient penalty of exactly 0.
  d_step = jax.jit(gj.make_discriminator_step(gan, penalty=gj.penalties.gradient_penalty, penalty_weight=10.0))
  _, m1 = d_step(state, real[:8], jax.random.key(3))
  assert m1["penalty"] == 0.0
  assert not np.allclose(new.d_params["linear"]["kernel"], state.d_params["linear"]["kernel"])
  assert all(np.isfinite(v) for v in metrics.values())


@pytest.mark.parametrize("update", ["alternating", "simultaneous", "unrolled"])
def test_a_scheduled_penalty_weight_is_its_value_at_the_state_step(update):
  """A schedule of `state.step` as the weight acts as the constant it takes there."""
  gan = sgd_gan(gj.games.non_saturating())
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  state = state.replace(step=jnp.asarray(7, jnp.int32))
  make = lambda weight: jax.jit(gj.make_train_step(
      gan, update=update, unroll_steps=2, penalty=gj.penalties.r1_r2_penalty,
      penalty_weight=weight))
  args = (state, real_batch(8, seed=3), jax.random.key(4))
  scheduled, m_scheduled = make(lambda step: 0.5 * step)(*args)
  constant, m_constant = make(3.5)(*args)
  zero, _ = make(0.0)(*args)
  assert_trees_close(scheduled.d_params, constant.d_params, rtol=1e-5, atol=1e-6)
  assert_trees_close(scheduled.g_params, constant.g_params, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(m_scheduled["penalty"], m_constant["penalty"], rtol=1e-6)
  assert trees_differ(jax.tree.leaves(zero.d_params), jax.tree.leaves(constant.d_params))


def test_refreshed_batch_stats_are_those_of_the_frozen_generator():
  """200 training-mode passes of 100 latents at momentum 0.9 forget stale averages (5
  added to each): the running mean of the first layer, w . z + b with z ~ N(0, I), lands
  on b, its running variance on the mean batch variance (99/100) |w|^2; parameters and
  optimizer states do not move, and 0 passes change nothing."""
  gan = make_gan()
  state = gj.init_state(gan, jax.random.key(0), real_batch(8))
  state = state.replace(g_collections=jax.tree.map(lambda x: x + 5.0, state.g_collections))
  new = jax.jit(lambda s: gj.refresh_batch_stats(gan, s, jax.random.key(3), 200, 100,
                                                 ema=False))(state)
  dense = state.g_params["Dense_0"]
  stats = new.g_collections["batch_stats"]["BatchNorm_0"]
  # Sampling noise of the averages: about 0.023 |w| for the mean, 0.033 |w|^2 for the variance.
  np.testing.assert_allclose(stats["mean"], dense["bias"], atol=0.15)
  np.testing.assert_allclose(stats["var"], 0.99 * jnp.sum(dense["kernel"] ** 2, axis=0), rtol=0.2)
  assert_trees_identical(jax.tree.leaves((state.g_params, state.g_opt_state, state.d_params)),
                         jax.tree.leaves((new.g_params, new.g_opt_state, new.d_params)))
  assert gj.refresh_batch_stats(gan, state, jax.random.key(3), 0, 100) is state
  # ema=True reads the EMA parameters, not the raw ones: zeroing the raw ones changes nothing.
  trained, _ = jax.jit(gj.make_alternating_step(gan))(state, real_batch(8), jax.random.key(5))
  refresh = jax.jit(lambda s: gj.refresh_batch_stats(gan, s, jax.random.key(3), 20, 100))
  zeroed = trained.replace(g_params=jax.tree.map(jnp.zeros_like, trained.g_params))
  assert_trees_identical(jax.tree.leaves(refresh(trained).g_collections),
                         jax.tree.leaves(refresh(zeroed).g_collections))
  raw = jax.jit(lambda s: gj.refresh_batch_stats(gan, s, jax.random.key(3), 20, 100, ema=False))
  assert trees_differ(jax.tree.leaves(raw(trained).g_collections),
                      jax.tree.leaves(raw(zeroed).g_collections))
  with pytest.raises(ValueError, match="num_batches >= 0"):
    gj.refresh_batch_stats(gan, state, jax.random.key(3), -1, 100)
