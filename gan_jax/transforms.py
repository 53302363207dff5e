"""The game's update rules as optax `GradientTransformation`s.

Each is chained like any optax transformation, e.g. WGAN's critic optimizer is

  optax.chain(optax.rmsprop(5e-5), clip_params(0.01))

and a generator optimizer with an exponential moving average of its weights is

  optax.chain(optax.adam(1e-4, b1=0.5, b2=0.9), ema_params(0.999))

Transformations that act on the parameters after the update (clipping, EMA) read
`params` and must come last in the chain.
"""

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax


def clip_params(c: float) -> optax.GradientTransformation:
  """Keeps every parameter in [-c, c] after the update (WGAN weight clipping).

  The returned updates move each parameter to `clip(param + update, -c, c)`.
  Because `apply_updates` computes `param + update` in floating point, a naive
  `clip(...) - param` can land one rounding error outside the box; the update is
  nudged by ulps until `param + update` is inside it exactly.

  Args:
    c: the clipping bound (0.01 in Arjovsky et al. 2017).

  Returns:
    A `GradientTransformation` that needs `params` in `update`; chain it last.

  References:
    Arjovsky et al., 2017, Wasserstein GAN (Algorithm 1, line 7).
  """
  if isinstance(c, (int, float)) and c <= 0:  # a traced c (populations) is not checked.
    raise ValueError(f"clip_params needs c > 0, got {c}.")

  def clipped_update(u, p):
    hi = jnp.asarray(c, p.dtype)
    u = jnp.clip(p + u, -hi, hi) - p
    for _ in range(3):  # Each pass moves `p + u` by at least one ulp of the result.
      r = p + u
      u = jnp.where(r > hi, jnp.nextafter(u, jnp.asarray(-jnp.inf, u.dtype)), u)
      u = jnp.where(r < -hi, jnp.nextafter(u, jnp.asarray(jnp.inf, u.dtype)), u)
    return u

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("clip_params needs params: pass them to update().")
    return jax.tree.map(clipped_update, updates, params), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def max_norm_params(max_norm: float, *, eps: float = 1e-7) -> optax.GradientTransformation:
  """Projects each unit's incoming weights into a ball: the max-norm constraint.

  After the update, every kernel (a parameter with two or more axes, the last one
  indexing output units) has each unit's weight vector, the slice `W[..., j]`,
  rescaled to norm at most `max_norm`; biases (one axis) are left alone. This is
  pylearn2's `max_col_norm`, which the maxout networks and the discriminator of
  the original GAN use:

    W[..., j] <- W[..., j] * min(||W[..., j]||, max_norm) / (eps + ||W[..., j]||).

  Args:
    max_norm: the largest norm of a unit's weights (1.9365 in Goodfellow et al.
      2014's MNIST discriminator).
    eps: pylearn2's guard against a zero norm.

  Returns:
    A `GradientTransformation` that needs `params` in `update`; chain it last.

  References:
    Srebro and Shraibman, 2005, Rank, Trace-Norm and Max-Norm;
    Hinton et al., 2012, Improving neural networks by preventing co-adaptation
      of feature detectors; Goodfellow et al., 2013, Maxout Networks.
  """
  if isinstance(max_norm, (int, float)) and max_norm <= 0:  # traced: unchecked.
    raise ValueError(f"max_norm_params needs max_norm > 0, got {max_norm}.")

  def project(u, p):
    if p.ndim < 2:
      return u
    w = p + u
    norms = jnp.sqrt(jnp.sum(jnp.square(w), axis=tuple(range(w.ndim - 1))))
    scale = jnp.minimum(norms, max_norm) / (eps + norms)
    return w * scale.astype(w.dtype) - p

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("max_norm_params needs params: pass them to update().")
    return jax.tree.map(project, updates, params), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def cosine_schedule(start, end, steps: int) -> optax.Schedule:
  """`start` -> `end` along half a cosine over `steps` counts, then `end`.

    value(t) = end + (start - end) * (1 + cos(pi * min(t, steps) / steps)) / 2.

  Unlike `optax.cosine_decay_schedule` the end may lie above the start (R3GAN
  raises Adam's beta2 from 0.9 to 0.99 while it lowers the learning rate and gamma).

  References:
    Huang et al., 2024, The GAN is dead; long live the GAN! A Modern GAN Baseline
    (`cosine_decay_with_warmup` of its training loop, without warm-up).
  """
  if steps < 1:
    raise ValueError(f"cosine_schedule needs steps >= 1, got {steps}.")

  def schedule(count):
    fraction = jnp.minimum(jnp.asarray(count, jnp.float32), steps) / steps
    return end + (start - end) * 0.5 * (1.0 + jnp.cos(jnp.pi * fraction))

  return schedule


class EmaParamsState(NamedTuple):
  """The exponential moving average of the parameters after each update."""

  ema: optax.Params


class ScheduledEmaParamsState(NamedTuple):
  """The EMA of the parameters and the update count its scheduled decay reads."""

  count: jax.Array
  ema: optax.Params


def ema_params(decay) -> optax.GradientTransformation:
  """Tracks an exponential moving average of the parameters (generator EMA).

  Leaves the updates unchanged and keeps, in its state,

    ema_0 = params_0,   ema_t = decay * ema_{t-1} + (1 - decay) * params_t,

  where params_t = params_{t-1} + updates_t, i.e. the closed form
  ema_t = decay^t params_0 + (1 - decay) sum_{i=1..t} decay^(t-i) params_i.
  `ema_of(opt_state)` reads it back; sampling and evaluation use it.

  Args:
    decay: in [0, 1); 0.999 is common for image GANs. Or a schedule of the update
      count t (0 at the first update), e.g. `ema_halflife_schedule` (R3GAN's EMA,
      whose half-life grows over the run); its state then counts updates.

  Returns:
    A `GradientTransformation` that needs `params` in `update`; chain it last.

  References:
    Yazici et al., 2019, The Unusual Effectiveness of Averaging in GAN Training;
    Karras et al., 2018, Progressive Growing of GANs.
  """
  scheduled = callable(decay)
  if isinstance(decay, (int, float)) and not 0.0 <= decay < 1.0:  # traced: unchecked.
    raise ValueError(f"ema_params needs 0 <= decay < 1, got {decay}.")

  def init_fn(params):
    # A copy, not an alias: a donated state must not hold one buffer twice.
    ema = jax.tree.map(lambda p: jnp.array(p, copy=True), params)
    if scheduled:
      return ScheduledEmaParamsState(count=jnp.zeros((), jnp.int32), ema=ema)
    return EmaParamsState(ema=ema)

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("ema_params needs params: pass them to update().")
    new_params = optax.apply_updates(params, updates)
    rate = decay(state.count) if scheduled else decay
    ema = optax.incremental_update(new_params, state.ema, step_size=1.0 - rate)
    if scheduled:
      return updates, ScheduledEmaParamsState(count=optax.safe_increment(state.count), ema=ema)
    return updates, EmaParamsState(ema=ema)

  return optax.GradientTransformation(init_fn, update_fn)


def ema_halflife_schedule(halflife: float, steps: int = 0) -> optax.Schedule:
  """An EMA decay whose half-life, in updates, grows from 0 to `halflife`.

    decay(t) = 0.5 ** (1 / h(t)),   h(t) = cosine_schedule(0, halflife, steps)(t)

  (h = halflife throughout when `steps` is 0). At h = 0 the average is the current
  parameters. R3GAN's loop does this with h in images, `ema_nimg`, growing along
  the same cosine as its learning rate.
  """
  if halflife <= 0:
    raise ValueError(f"ema_halflife_schedule needs halflife > 0, got {halflife}.")
  growth = cosine_schedule(0.0, halflife, steps) if steps else (lambda count: halflife)

  def schedule(count):
    return jnp.power(0.5, 1.0 / jnp.maximum(growth(count), 1e-8))

  return schedule


def ema_of(opt_state) -> Optional[optax.Params]:
  """The EMA parameters tracked by `ema_params` inside `opt_state`, or None."""
  kinds = (EmaParamsState, ScheduledEmaParamsState)
  found = [
      s
      for s in jax.tree.leaves(opt_state, is_leaf=lambda s: isinstance(s, kinds))
      if isinstance(s, kinds)
  ]
  if len(found) > 1:
    raise ValueError("opt_state holds more than one ema_params state.")
  return found[0].ema if found else None


class PlayerOptimizers(NamedTuple):
  generator: optax.GradientTransformation
  discriminator: optax.GradientTransformation


def two_timescale(
    make_optimizer: Callable[..., optax.GradientTransformation] = optax.adam,
    *,
    generator_lr: float = 1e-4,
    discriminator_lr: float = 4e-4,
    **kwargs: Any,
) -> PlayerOptimizers:
  """The two time-scale update rule: one optimizer per player, with its own rate.

  Example:
    opts = two_timescale(optax.adam, generator_lr=1e-4, discriminator_lr=4e-4, b1=0., b2=0.9)
    gan = GAN(..., g_optimizer=opts.generator, d_optimizer=opts.discriminator)

  Args:
    make_optimizer: an optax optimizer factory taking the learning rate first.
    generator_lr: the generator's learning rate.
    discriminator_lr: the discriminator's learning rate (faster, in TTUR).
    **kwargs: passed to `make_optimizer` for both players.

  Returns:
    `PlayerOptimizers(generator, discriminator)`.

  References:
    Heusel et al., 2017, GANs Trained by a Two Time-Scale Update Rule Converge to a
    Local Nash Equilibrium.
  """
  return PlayerOptimizers(
      generator=make_optimizer(generator_lr, **kwargs),
      discriminator=make_optimizer(discriminator_lr, **kwargs),
  )


def optimistic_adam(learning_rate, *, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                    **kwargs) -> optax.GradientTransformation:
  """Optimistic Adam, an update rule made for min-max games (`optax.optimistic_adam_v2`).

  Extrapolates with the previous gradient, which damps the rotation of
  simultaneous gradient play around an equilibrium. Use it for both players,
  ideally with `make_train_step(..., update="simultaneous")`.

  References:
    Daskalakis et al., 2018, Training GANs with Optimism.
  """
  return optax.optimistic_adam_v2(learning_rate, b1=b1, b2=b2, eps=eps, **kwargs)


def optimistic_gradient_descent(learning_rate, **kwargs) -> optax.GradientTransformation:
  """Optimistic gradient descent (`optax.optimistic_gradient_descent`).

  x_{t+1} = x_t - lr * (2 g_t - g_{t-1}): the past-extragradient method, which
  converges on bilinear games where simultaneous gradient descent spirals out.

  References:
    Daskalakis et al., 2018, Training GANs with Optimism;
    Gidel et al., 2019, A Variational Inequality Perspective on GANs.
  """
  return optax.optimistic_gradient_descent(learning_rate, **kwargs)



# The update rules a config names (`g_optimizer.name`), one line each: a factory
# called with the learning rate and those of `HYPERPARAMETERS` its signature names.
OPTIMIZERS = {
    "adam": optax.adam,
    "rmsprop": optax.rmsprop,
    "sgd": optax.sgd,
    "optimistic_adam": optimistic_adam,
}
HYPERPARAMETERS = ("b1", "b2", "eps", "decay", "momentum", "initial_scale")
# Switches of an update rule's form (not values): passed where its signature names them.
FORMS = ("eps_in_sqrt",)
