"""Factories of pure train steps `(state, batch, key) -> (state, metrics)`.

Three ways to play the game:

* alternating (Goodfellow et al. 2014, Algorithm 1; WGAN; WGAN-GP): k
  discriminator updates, each on its own real minibatch and fresh latents, run in
  one `lax.scan`, then one generator update;
* simultaneous: both players' gradients from one evaluation of the game;
* unrolled (Metz et al. 2017): the generator's loss is taken through k
  differentiable discriminator updates.

`batch` holds the step's real minibatches stacked along axis 0:
`[d_steps * B, *data_shape]`, minibatch i being rows `i*B:(i+1)*B`.

A discriminator update leaves every generator leaf (parameters, collections,
optimizer state) untouched, and a generator update every discriminator leaf: the
other player is used in train mode (dropout on, batch statistics from the batch),
but its collection updates are dropped.

The generator's forward pass runs once per generator update: it is taken with
`jax.vjp`, so its backward pass needs no second forward, and with `reuse_fake`
(as in the PyTorch DCGAN example) the fake batch of the last discriminator update
is that same forward pass.

Jit the step at the call site with the state donated:
`step = jax.jit(make_train_step(gan), donate_argnums=0)`.
"""

import functools
from typing import Callable, Optional, Union

import jax
import jax.numpy as jnp
import optax

from gan_jax.games import DiscriminatorOutput
from gan_jax.nets import split_output
from gan_jax.state import GAN, GANState

Penalty = Callable[..., jax.Array]
# A penalty's coefficient: a number, or a schedule of the train step (`state.step`),
# e.g. R3GAN's cosine decay of gamma (`transforms.cosine_schedule`).
Weight = Union[float, jax.Array, Callable[[jax.Array], jax.Array]]


def _weight_at(weight: Weight, step: jax.Array):
  return weight(step) if callable(weight) else weight


def _discriminate(gan: GAN, params, collections, x, rng):
  out, collections = gan.discriminator.apply(params, collections, x, rng=rng, train=True)
  return DiscriminatorOutput(*split_output(out)), collections


def _generate(gan: GAN, params, collections, z, rng):
  return gan.generator.apply(params, collections, z, rng=rng, train=True)


def _discriminator_loss(gan, penalty, penalty_weight, d_params, d_collections, real, fake, key):
  """The discriminator's objective; returns (loss, (new collections, metrics))."""
  real_rng, fake_rng, penalty_rng, penalty_key = jax.random.split(key, 4)
  real_out, collections = _discriminate(gan, d_params, d_collections, real, real_rng)
  fake_out, collections = _discriminate(gan, d_params, collections, fake, fake_rng)
  game_loss = gan.game.discriminator_loss(real_out, fake_out)
  metrics = {
      "d_loss": game_loss,
      "real_logits": jnp.mean(real_out.logits),
      "fake_logits": jnp.mean(fake_out.logits),
  }
  loss = game_loss
  metrics["penalty"] = jnp.zeros(())
  if penalty is not None:
    critic = lambda x: _discriminate(gan, d_params, d_collections, x, penalty_rng)[0].logits
    value = penalty(critic, real, fake, penalty_key)
    metrics["penalty"] = value
    loss = loss + penalty_weight * value
  return loss, (collections, metrics)


def make_discriminator_step(
    gan: GAN, *, penalty: Optional[Penalty] = None, penalty_weight: Weight = 0.0
):
  """One discriminator update: `(state, real [B, ...], key, fake=None) -> (state, metrics)`.

  Samples fresh latents and generates the fake batch unless `fake` is given.
  Only discriminator leaves of the state change.

  Args:
    gan: the `GAN` specification.
    penalty: a function of `gan_jax.penalties` (or any with its signature), or None.
    penalty_weight: its coefficient (10 for WGAN-GP), or a schedule of `state.step`.
  """

  def step(state: GANState, real, key, fake=None):
    z_key, g_rng, loss_key = jax.random.split(key, 3)
    if fake is None:
      z = gan.latents(z_key, real.shape[0])
      fake, _ = _generate(gan, state.g_params, state.g_collections, z, g_rng)
    fake = jax.lax.stop_gradient(fake)
    weight = _weight_at(penalty_weight, state.step)
    grads, (collections, metrics) = jax.grad(
        functools.partial(_discriminator_loss, gan, penalty, weight), has_aux=True
    )(state.d_params, state.d_collections, real, fake, loss_key)
    updates, opt_state = gan.d_optimizer.update(grads, state.d_opt_state, state.d_params)
    metrics["d_grad_norm"] = optax.tree.norm(grads)
    return state.replace(
        d_params=optax.apply_updates(state.d_params, updates),
        d_collections=collections,
        d_opt_state=opt_state,
    ), metrics

  return step


def _generator_forward(gan: GAN, state: GANState, key, num):
  """The fake batch, the generator's vjp and its updated collections."""
  z_key, g_rng = jax.random.split(key)
  z = gan.latents(z_key, num)
  return jax.vjp(
      lambda p: _generate(gan, p, state.g_collections, z, g_rng), state.g_params, has_aux=True
  )


def _generator_loss_on_fake(gan: GAN, state: GANState, real, fake, key):
  """The generator's loss as a function of the fake batch, against the current D."""
  fake_rng, real_rng = jax.random.split(key)
  fake_out, _ = _discriminate(gan, state.d_params, state.d_collections, fake, fake_rng)
  real_out = None
  if gan.game.generator_needs_real:
    real_out, _ = _discriminate(gan, state.d_params, state.d_collections, real, real_rng)
  return gan.game.generator_loss(real_out, fake_out)


def _apply_generator_grads(gan: GAN, state: GANState, grads, collections, loss):
  updates, opt_state = gan.g_optimizer.update(grads, state.g_opt_state, state.g_params)
  return state.replace(
      g_params=optax.apply_updates(state.g_params, updates),
      g_collections=collections,
      g_opt_state=opt_state,
  ), {"g_loss": loss, "g_grad_norm": optax.tree.norm(grads)}


def make_generator_step(gan: GAN):
  """One generator update: `(state, real [B, ...], key, forward=None) -> (state, metrics)`.

  `real` is read only by games whose generator loss needs data (feature matching,
  relativistic losses); its batch size sets the number of samples. `forward`, a
  `(fake, vjp_fn, collections)` triple from an earlier forward pass of the same
  generator parameters, is reused instead of running the generator again. Only
  generator leaves of the state change.
  """

  def step(state: GANState, real, key, forward=None):
    forward_key, loss_key = jax.random.split(key)
    if forward is None:
      forward = _generator_forward(gan, state, forward_key, real.shape[0])
    fake, vjp_fn, collections = forward
    loss, fake_grads = jax.value_and_grad(
        lambda f: _generator_loss_on_fake(gan, state, real, f, loss_key)
    )(fake)
    (grads,) = vjp_fn(fake_grads)
    return _apply_generator_grads(gan, state, grads, collections, loss)

  return step


def _split_minibatches(batch, d_steps):
  if batch.shape[0] % d_steps:
    raise ValueError(
        f"batch of {batch.shape[0]} rows does not split into d_steps={d_steps} minibatches."
    )
  return batch.reshape((d_steps, batch.shape[0] // d_steps) + batch.shape[1:])


def _scan_discriminator_steps(d_step, state, reals, keys):
  def body(state, xs):
    real, key = xs
    return d_step(state, real, key)

  # unroll=True keeps the k updates one scan in the program, laid out straight: XLA's
  # CPU backend runs convolutions inside a while loop several times slower (a WGAN-GP
  # DCGAN step: 17 s rolled, 3 s unrolled), and k is small.
  return jax.lax.scan(body, state, (reals, keys), unroll=True)


def make_alternating_step(
    gan: GAN,
    *,
    d_steps: int = 1,
    penalty: Optional[Penalty] = None,
    penalty_weight: Weight = 0.0,
    reuse_fake: bool = True,
    g_steps: int = 1,
):
  """k discriminator updates, then `g_steps` generator updates (Algorithm 1: 1).

  Args:
    gan: the `GAN` specification.
    d_steps: k, discriminator (critic) updates per generator update (5 in WGAN
      and WGAN-GP, 1 in DCGAN).
    penalty: a gradient penalty for the discriminator, or None.
    penalty_weight: its coefficient.
    reuse_fake: the generator update reuses the fake batch (and forward pass) of
      the last discriminator update, as the PyTorch DCGAN example does; when
      False it samples fresh latents, as Algorithm 1 of Goodfellow et al. does.
    g_steps: generator updates per step, one after another on the same latents
      (each with a fresh forward pass of the updated generator). The DCGAN code of
      VEEGAN's and PacGAN's Stacked MNIST runs takes 2, "to make sure that d_loss
      does not go to zero".

  Returns:
    `step(state, batch [d_steps * B, ...], key) -> (state, metrics)`; the metrics
    are the last updates'.
  """
  if d_steps < 1:
    raise ValueError(f"d_steps must be >= 1, got {d_steps}.")
  if g_steps < 1:
    raise ValueError(f"g_steps must be >= 1, got {g_steps}.")
  d_step = make_discriminator_step(gan, penalty=penalty, penalty_weight=penalty_weight)
  g_step = make_generator_step(gan)

  def step(state: GANState, batch, key):
    reals = _split_minibatches(batch, d_steps)
    d_key, g_key = jax.random.split(key)
    d_keys = jax.random.split(d_key, d_steps)
    if d_steps > 1:
      state, _ = _scan_discriminator_steps(d_step, state, reals[:-1], d_keys[:-1])
    # The same latents and generator rng the last discriminator step would draw.
    z_key, g_rng, _ = jax.random.split(d_keys[-1], 3)

    def shared_forward(state):
      return jax.vjp(
          lambda p: _generate(gan, p, state.g_collections, gan.latents(z_key, reals.shape[1]), g_rng),
          state.g_params,
          has_aux=True,
      )

    forward = shared_forward(state) if reuse_fake else None
    state, d_metrics = d_step(state, reals[-1], d_keys[-1], None if forward is None else forward[0])
    for i in range(g_steps):
      if reuse_fake and i:
        forward = shared_forward(state)
      # Without reuse_fake, g_key draws the same latents for every update.
      state, g_metrics = g_step(state, reals[-1], g_key, forward)
    return state.replace(step=state.step + 1), {**d_metrics, **g_metrics}

  return step


def make_simultaneous_step(
    gan: GAN, *, penalty: Optional[Penalty] = None, penalty_weight: Weight = 0.0
):
  """Both players' gradients from one evaluation of the game, applied together.

  One generator forward and one discriminator forward on real and fake; the
  discriminator's vjp is pulled back twice (once for each player's loss), the
  generator's once. Pair with `transforms.optimistic_adam` for a min-max method.

  Returns:
    `step(state, batch [B, ...], key) -> (state, metrics)`.
  """

  def step(state: GANState, batch, key):
    forward_key, real_rng, fake_rng, penalty_rng, penalty_key = jax.random.split(key, 5)
    fake, g_vjp, g_collections = _generator_forward(gan, state, forward_key, batch.shape[0])

    def game_outputs(d_params, fake):
      real_out, collections = _discriminate(gan, d_params, state.d_collections, batch, real_rng)
      fake_out, collections = _discriminate(gan, d_params, collections, fake, fake_rng)
      return (real_out, fake_out), collections

    (real_out, fake_out), d_vjp, d_collections = jax.vjp(
        game_outputs, state.d_params, fake, has_aux=True
    )
    d_loss, d_cotangent = jax.value_and_grad(gan.game.discriminator_loss, argnums=(0, 1))(
        real_out, fake_out
    )
    d_grads, _ = d_vjp(d_cotangent)
    needs_real = gan.game.generator_needs_real
    g_loss, g_cotangent = jax.value_and_grad(
        lambda r, f: gan.game.generator_loss(r if needs_real else None, f), argnums=(0, 1)
    )(real_out, fake_out)
    _, fake_grads = d_vjp(g_cotangent)
    (g_grads,) = g_vjp(fake_grads)

    metrics = {
        "d_loss": d_loss,
        "real_logits": jnp.mean(real_out.logits),
        "fake_logits": jnp.mean(fake_out.logits),
        "penalty": jnp.zeros(()),
    }
    if penalty is not None:
      fixed_fake = jax.lax.stop_gradient(fake)

      def weighted_penalty(d_params):
        critic = lambda x: _discriminate(gan, d_params, state.d_collections, x, penalty_rng)[0].logits
        return penalty(critic, batch, fixed_fake, penalty_key)

      value, penalty_grads = jax.value_and_grad(weighted_penalty)(state.d_params)
      weight = _weight_at(penalty_weight, state.step)
      d_grads = jax.tree.map(lambda g, p: g + weight * p, d_grads, penalty_grads)
      metrics["penalty"] = value

    d_updates, d_opt_state = gan.d_optimizer.update(d_grads, state.d_opt_state, state.d_params)
    state, g_metrics = _apply_generator_grads(gan, state, g_grads, g_collections, g_loss)
    metrics["d_grad_norm"] = optax.tree.norm(d_grads)
    return state.replace(
        step=state.step + 1,
        d_params=optax.apply_updates(state.d_params, d_updates),
        d_collections=d_collections,
        d_opt_state=d_opt_state,
    ), {**metrics, **g_metrics}

  return step


def make_unrolled_step(
    gan: GAN,
    *,
    unroll_steps: int = 5,
    d_steps: int = 1,
    penalty: Optional[Penalty] = None,
    penalty_weight: Weight = 0.0,
):
  """Unrolled GAN: the generator's loss through k differentiable D updates.

  The generator minimises its loss against theta_D^K, the discriminator after
  `unroll_steps` updates with its own optimizer from its current parameters, and
  the gradient flows through those updates (including the fake batch each of them
  sees). In a zero-sum game (minimax, Wasserstein: `Game.zero_sum`) that loss is
  the paper's f_K (eq. 10), minus the discriminator's game loss against
  theta_D^K, data term included: theta_D^K depends on the generator, so its
  score of the data does too (the logged g_loss is that value). In other games it
  is the generator's own loss against theta_D^K. The discriminator takes its
  ordinary update(s) from the same state, as in eq. (11) of the paper (the two
  updates are computed from the same parameters).

  The gradient goes through the discriminator optimizer's own update, so that
  optimizer must be differentiable everywhere: for Adam, `optax.adam(...,
  eps_root=1e-8)` (with the default eps_root=0 the derivative of sqrt at a zero
  second moment is infinite and the generator's gradient becomes NaN).

  Args:
    gan: the `GAN` specification.
    unroll_steps: K (5 or 10 in the paper's 2-D mixture experiments).
    d_steps: ordinary discriminator updates per step.
    penalty, penalty_weight: as in `make_alternating_step` (also inside the unroll).

  Returns:
    `step(state, batch [d_steps * B, ...], key) -> (state, metrics)`.

  References:
    Metz et al., 2017, Unrolled Generative Adversarial Networks.
  """
  if unroll_steps < 1:
    raise ValueError(f"unroll_steps must be >= 1, got {unroll_steps}.")
  d_step = make_discriminator_step(gan, penalty=penalty, penalty_weight=penalty_weight)
  def surrogate(g_params, state, real, key):
    d_loss = functools.partial(_discriminator_loss, gan, penalty,
                               _weight_at(penalty_weight, state.step))
    forward_key, unroll_key, loss_key = jax.random.split(key, 3)
    z_key, g_rng = jax.random.split(forward_key)
    fake, g_collections = _generate(
        gan, g_params, state.g_collections, gan.latents(z_key, real.shape[0]), g_rng
    )

    def unroll(carry, key):
      d_params, opt_state = carry
      grads, _ = jax.grad(d_loss, has_aux=True)(
          d_params, state.d_collections, real, fake, key
      )
      updates, opt_state = gan.d_optimizer.update(grads, opt_state, d_params)
      return (optax.apply_updates(d_params, updates), opt_state), None

    (d_params, _), _ = jax.lax.scan(
        unroll, (state.d_params, state.d_opt_state), jax.random.split(unroll_key, unroll_steps)
    )
    if gan.game.zero_sum:  # f_K: minus D's game loss (no penalty) against theta_D^K.
      d_game_loss, _ = _discriminator_loss(gan, None, 0.0, d_params, state.d_collections,
                                           real, fake, loss_key)
      return -d_game_loss, g_collections
    unrolled = state.replace(d_params=d_params)
    return _generator_loss_on_fake(gan, unrolled, real, fake, loss_key), g_collections

  def step(state: GANState, batch, key):
    reals = _split_minibatches(batch, d_steps)
    d_key, g_key = jax.random.split(key)
    (g_loss, g_collections), g_grads = jax.value_and_grad(surrogate, has_aux=True)(
        state.g_params, state, reals[-1], g_key
    )
    state, d_metrics = _scan_discriminator_steps(
        d_step, state, reals, jax.random.split(d_key, d_steps)
    )
    d_metrics = jax.tree.map(lambda m: m[-1], d_metrics)
    state, g_metrics = _apply_generator_grads(gan, state, g_grads, g_collections, g_loss)
    return state.replace(step=state.step + 1), {**d_metrics, **g_metrics}

  return step


def make_train_step(
    gan: GAN,
    *,
    update: str = "alternating",
    d_steps: int = 1,
    unroll_steps: int = 5,
    penalty: Optional[Penalty] = None,
    penalty_weight: Weight = 0.0,
    reuse_fake: bool = True,
    g_steps: int = 1,
):
  """The train step for an update scheme named by `update`.

  Args:
    gan: the `GAN` specification.
    update: "alternating", "simultaneous" or "unrolled".
    d_steps: discriminator updates per step (alternating, unrolled).
    unroll_steps: K for "unrolled".
    penalty: a gradient penalty, or None.
    penalty_weight: its coefficient.
    reuse_fake: see `make_alternating_step`.
    g_steps: generator updates per step (alternating); see `make_alternating_step`.

  Returns:
    `step(state, batch, key) -> (state, metrics)`.
  """
  if update == "alternating":
    return make_alternating_step(
        gan, d_steps=d_steps, penalty=penalty, penalty_weight=penalty_weight,
        reuse_fake=reuse_fake, g_steps=g_steps,
    )
  if g_steps != 1:
    raise ValueError(f"g_steps={g_steps} needs update='alternating'.")
  if update == "simultaneous":
    if d_steps != 1:
      raise ValueError("simultaneous updates take d_steps=1.")
    return make_simultaneous_step(gan, penalty=penalty, penalty_weight=penalty_weight)
  if update == "unrolled":
    return make_unrolled_step(
        gan, unroll_steps=unroll_steps, d_steps=d_steps, penalty=penalty,
        penalty_weight=penalty_weight,
    )
  raise ValueError(
      f"unknown update {update!r}: choose one of 'alternating', 'simultaneous', 'unrolled'."
  )


def make_multi_step(train_step, num_steps: Optional[int] = None):
  """Fuses `num_steps` train steps into one compiled program (`lax.scan`).

  For small models, where dispatching one step at a time costs more than the step
  itself. Step i uses `jax.random.fold_in(key, state.step)`, so a fused run draws
  the same keys as single steps called with `fold_in(key, step)`.

  Args:
    train_step: `(state, batch, key) -> (state, metrics)`.
    num_steps: the steps of one call; None: as many as `batches` holds (a jitted
      call then compiles once per distinct count).

  Returns:
    `multi(state, batches [num_steps, ...], key) -> (state, metrics of the last step)`.
  """

  def body(state, batch, key):
    return train_step(state, batch, jax.random.fold_in(key, state.step))

  def multi(state: GANState, batches, key):
    length = batches.shape[0] if num_steps is None else num_steps
    if length == 1:
      # No loop at all: XLA's CPU backend runs convolutions inside a while loop
      # (even of one iteration) many times slower than at the top level.
      return body(state, batches[0], key)
    state, metrics = jax.lax.scan(lambda s, b: body(s, b, key), state, batches, length=length)
    return state, jax.tree.map(lambda m: m[-1], metrics)

  return multi
