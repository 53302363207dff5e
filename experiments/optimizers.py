"""One player's optimizer from its config field: the update rule and its parts.

The update rule is a registered factory (`gan_jax.transforms.OPTIMIZERS`) or a
user's by import path; the config adds a learning-rate schedule, parameter
constraints (max norm, clipping) and an EMA, each checked to be possible first.
"""

import inspect

import optax

from gan_jax import transforms
from experiments.errors import UserError, require
from experiments.plugins import call_plugin, is_import_path, lookup


def _scheduled(factory, learning_rate, **hyperparams):
  """`factory(learning_rate, **hyperparams)`; a schedule among `hyperparams` (a
  momentum ramp, R3GAN's beta2) is evaluated at the update count."""
  if any(callable(value) for value in hyperparams.values()):
    forms = tuple(name for name in hyperparams if name in transforms.FORMS)
    return optax.inject_hyperparams(factory, static_args=forms)(
        learning_rate=learning_rate, **hyperparams)
  return factory(learning_rate, **hyperparams)


# Optimizer fields whose zero switches a part off (momentum, a floor on the decayed
# learning rate, clipping, EMA): zero or not is structure, the value itself is data.
SWITCHES = ("momentum", "lr_min", "clip", "ema", "max_norm", "momentum_final")
SCHEDULES = ("constant", "cosine")


def build_optimizer(config, field: str, hparams=None) -> optax.GradientTransformation:
  """One player's optimizer from `config[field]` (`g_optimizer` or `d_optimizer`).

  Args:
    config: the run's config; its values are checked here.
    field: "g_optimizer" or "d_optimizer".
    hparams: optional traced values by dotted field (`{"d_optimizer.lr": x}`) that
      replace the config's in the optimizer (a population member's; see
      experiments/populations.py). Which parts exist still follows the config.
  """
  c = config[field]
  make = lookup(transforms.OPTIMIZERS, c.name, f"{field}.name")
  require(c.lr > 0, f"{field}.lr", c.lr, "> 0")
  require(0 <= c.b1 < 1, f"{field}.b1", c.b1, "in [0, 1)")
  require(0 <= c.b2 < 1, f"{field}.b2", c.b2, "in [0, 1)")
  require(c.eps >= 0, f"{field}.eps", c.eps, ">= 0")
  require(0 <= c.decay < 1, f"{field}.decay", c.decay, "in [0, 1)")
  require(0 <= c.momentum < 1, f"{field}.momentum", c.momentum, "in [0, 1)")
  require(c.initial_scale >= 0, f"{field}.initial_scale", c.initial_scale, ">= 0")
  require(0 < c.lr_decay <= 1, f"{field}.lr_decay", c.lr_decay, "in (0, 1] (1 = constant)")
  require(c.lr_decay_every >= 1, f"{field}.lr_decay_every", c.lr_decay_every, ">= 1")
  require(0 <= c.lr_min <= c.lr, f"{field}.lr_min", c.lr_min, f"in [0, lr={c.lr}]")
  require(c.clip >= 0, f"{field}.clip", c.clip, ">= 0 (0 = no clipping)")
  require(0 <= c.ema < 1, f"{field}.ema", c.ema, "in [0, 1) (0 = no EMA)")
  require(c.max_norm >= 0, f"{field}.max_norm", c.max_norm, ">= 0 (0 = no constraint)")
  require(0 <= c.momentum_final < 1, f"{field}.momentum_final", c.momentum_final,
         "in [0, 1) (0 = constant momentum)")
  require(c.momentum_ramp_steps >= 0, f"{field}.momentum_ramp_steps", c.momentum_ramp_steps,
         ">= 0")
  require(c.schedule in SCHEDULES, f"{field}.schedule", repr(c.schedule),
         " or ".join(map(repr, SCHEDULES)))
  require(c.lr_final >= 0, f"{field}.lr_final", c.lr_final, ">= 0")
  require(0 <= c.b2_final < 1, f"{field}.b2_final", c.b2_final, "in [0, 1) (0 = constant b2)")
  require(c.schedule_steps >= 0, f"{field}.schedule_steps", c.schedule_steps,
         ">= 0 (0 = the whole run)")
  if c.schedule == "constant" and (c.lr_final or c.b2_final):
    raise UserError(f"{field}.lr_final/b2_final are the ends of a schedule, but "
                    f"{field}.schedule='constant'; set --config.{field}.schedule=cosine")
  if c.schedule == "cosine" and c.lr_decay < 1:
    raise UserError(f"{field}.schedule='cosine' and {field}.lr_decay={c.lr_decay} both "
                    f"schedule the learning rate; keep one (--config.{field}.lr_decay=1)")
  require(c.ema_halflife >= 0, f"{field}.ema_halflife", c.ema_halflife, ">= 0 (0 = off)")
  if c.ema and c.ema_halflife:
    raise UserError(f"{field}.ema={c.ema} and {field}.ema_halflife={c.ema_halflife} both set "
                    f"the EMA; keep one (--config.{field}.ema=0)")
  if c.b2_final and c.name != "adam":
    raise UserError(f"{field}.b2_final schedules adam's b2, not {c.name}'s; set "
                    f"{field}.b2_final=0")
  if c.momentum_final and not (c.momentum and c.momentum_ramp_steps):
    raise UserError(f"{field}.momentum_final={c.momentum_final} needs a starting "
                    f"{field}.momentum > 0 and {field}.momentum_ramp_steps > 0 to ramp over")
  hparams = hparams or {}

  def value(name):
    if name in SWITCHES and not c[name]:
      return None
    return hparams.get(f"{field}.{name}", c[name])

  lr = value("lr")
  if c.lr_decay < 1:
    lr = optax.exponential_decay(lr, transition_steps=c.lr_decay_every, decay_rate=c.lr_decay,
                                 staircase=True, end_value=value("lr_min"))
  values = value
  updates = c.schedule_steps or config.num_steps * (
      config.d_steps if field == "d_optimizer" else 1)
  if c.schedule == "cosine":
    lr = transforms.cosine_schedule(value("lr"), c.lr_final, updates)
    if c.b2_final:
      b2 = transforms.cosine_schedule(value("b2"), c.b2_final, updates)
      values = lambda name: b2 if name == "b2" else value(name)
  if c.momentum_final:  # A schedule of the update count, like the decayed learning rate.
    if c.name not in ("sgd", "rmsprop"):
      raise UserError(f"{field}.momentum_final ramps the momentum of sgd or rmsprop, not "
                      f"{c.name}; set {field}.momentum_final=0")
    ramp = optax.linear_schedule(value("momentum"), value("momentum_final"),
                                 c.momentum_ramp_steps)
    values = lambda name: ramp if name == "momentum" else value(name)
  if is_import_path(c.name):
    parts = [call_plugin(make, c.name, f"{field}.name", optax.GradientTransformation, lr)]
  else:
    taken = inspect.signature(make).parameters
    forms = {name: bool(c[name]) for name in transforms.FORMS if name in taken}
    parts = [_scheduled(make, lr, **{name: values(name) for name in transforms.HYPERPARAMETERS
                                     if name in taken}, **forms)]
  if c.max_norm:
    parts.append(transforms.max_norm_params(value("max_norm")))
  if c.clip:
    parts.append(transforms.clip_params(value("clip")))
  if c.ema:
    parts.append(transforms.ema_params(value("ema")))
  elif c.ema_halflife:
    parts.append(transforms.ema_params(transforms.ema_halflife_schedule(
        c.ema_halflife, updates if c.schedule == "cosine" else 0)))
  optimizer = optax.chain(*parts) if len(parts) > 1 else parts[0]
  if config.skip_nonfinite:
    optimizer = optax.apply_if_finite(optimizer, config.max_consecutive_nonfinite)
  return optimizer
