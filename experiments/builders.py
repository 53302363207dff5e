"""From a config to the objects of a run: data, networks, optimizers, the jitted step.

Every name in a config is looked up in a plain dict here (or in the library's own
registry); an unknown name, an impossible value or data that cannot be read raises
`UserError` with one line naming the problem and the fix. `build` validates and
builds everything, tracing the train step once, without writing anything, so the
runner can refuse a bad config before it touches the workdir.
"""

import importlib
import inspect
from typing import Any, Callable, NamedTuple, Optional

import flax
import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import ml_collections
import numpy as np
import optax

import gan_jax
from gan_jax import data as gdata
from gan_jax import games
from gan_jax import models
from gan_jax import parallel
from gan_jax import penalties
from gan_jax import transforms
from experiments import resources
from experiments.errors import UserError  # pylint: disable=unused-import  (re-exported)




def is_import_path(name) -> bool:
  """Whether a config name is an import path, `module:attribute`, not a built-in's name."""
  return isinstance(name, str) and ":" in name


def load_import_path(path: str, field: str):
  """The object at `module:attribute` (a user's own game, model, dataset...).

  Raises:
    UserError: one line naming the module or attribute that is missing.
  """
  module_name, _, attribute = path.partition(":")
  example = f"--config.{field}=my_lab.module:name"
  if not module_name or not attribute:
    raise UserError(f"{field}={path!r}: an import path is module:attribute ({example})")
  try:
    module = importlib.import_module(module_name)
  except ImportError as e:
    raise UserError(f"{field}={path!r}: cannot import {module_name!r} ({e}); put its folder "
                    "on PYTHONPATH or install it") from None
  except Exception as e:  # pylint: disable=broad-except  (a user's module failing)
    raise UserError(f"{field}={path!r}: importing {module_name!r} raised "
                    f"{type(e).__name__}: {e}") from None
  value = module
  for part in attribute.split("."):
    if not hasattr(value, part):
      raise UserError(f"{field}={path!r}: module {module_name!r} has no {attribute!r}")
    value = getattr(value, part)
  return value


def call_plugin(factory, path: str, field: str, expected: type, *args, **kwargs):
  """`factory(*args, **kwargs)` of a user's import path, checked to be an `expected`."""
  name = {games.Game: "a gan_jax.Game", gan_jax.Network: "a gan_jax.Network",
          optax.GradientTransformation: "an optax.GradientTransformation"}[expected]
  if not callable(factory):
    raise UserError(f"{field}={path!r} is {type(factory).__name__}, not a function returning "
                    f"{name}")
  try:
    value = factory(*args, **kwargs)
  except TypeError as e:
    raise UserError(f"{field}={path!r} cannot be called with {kwargs or args or 'no arguments'}: "
                    f"{e}") from None
  if not isinstance(value, expected):
    raise UserError(f"{field}={path!r} returned {type(value).__name__}; it must return {name}")
  return value


def lookup(registry: dict, name: str, field: str):
  """`registry[name]`, the object at an import path `module:attribute`, or a UserError
  listing the valid names for `field`."""
  if is_import_path(name):
    return load_import_path(name, field)
  try:
    return registry[name]
  except (KeyError, TypeError):
    raise UserError(
        f"unknown {field} {str(name)[:60]!r}: choose one of {', '.join(sorted(registry))} "
        f"(--config.{field}=NAME)"
    ) from None


# --- Data -------------------------------------------------------------------

# Datasets read from MNIST-format IDX files when `data.dir` is set.
IDX_DATASETS = ("idx", "mnist", "fashion_mnist")
# Stacked MNIST: this many three-digit colour images per split, built from the MNIST
# digits of `data.dir` (IDX files) or of TFDS "mnist" with a fixed seed.
STACKED_MNIST_SIZE = {"train": 128_000, "test": 26_000}


class DataSpec(NamedTuple):
  """What the networks need to know about the data.

  Attributes:
    kind: "image" (`[H, W, C]` uint8 on disk) or "points" (`[D]` float coordinates).
    shape: the shape of one example.
  """

  kind: str
  shape: tuple


class Data(NamedTuple):
  """A run's data.

  Attributes:
    spec: its `DataSpec`.
    source: an `ArrayDataset`/`SyntheticDataset`; `batch_at(step)` returns the
      step's `d_steps` minibatches, `[d_steps * B, ...]` (uint8 for images).
    mixture: the `Mixture` that generated toy data (its modes are counted), or None.
    reference: real examples for evaluation and pictures: `[N, D]` float32 points,
      or up to N uint8 images.
  """

  spec: DataSpec
  source: Any
  mixture: Optional[gdata.Mixture]
  reference: np.ndarray


def is_toy(name) -> bool:
  """Points generated in-process: a built-in toy, or a user's factory by import path."""
  return name in gdata.TOY_DATASETS or is_import_path(name)


def _toy_sampler(config):
  factory = lookup(gdata.TOY_DATASETS, config.data.name, "data.name")
  params = dict(config.data.params)
  for key, value in params.items():
    if isinstance(value, list):
      params[key] = tuple(value)
  try:
    inspect.signature(factory).bind(**params)
  except TypeError:
    accepted = ", ".join(inspect.signature(factory).parameters)
    raise UserError(
        f"data.params {sorted(params)} do not fit data.name={config.data.name!r}, which "
        f"takes {accepted}; fix --config.data.params"
    ) from None
  return factory(**params)


def _load_images(config) -> np.ndarray:
  name, directory, split = config.data.name, config.data.dir, config.data.split
  if name == "stacked_mnist":
    if directory:
      digits, labels = gdata.load_idx(directory, split)
    else:
      digits, labels = gdata.load_tfds("mnist", split)
    num = STACKED_MNIST_SIZE.get(split, len(digits))
    # The seed is fixed (not config.seed): every run trains on the same images.
    images, _ = gdata.stacked_mnist(digits, labels, num=num, seed=STACKED_MNIST_SIZE["train"])
  elif name in IDX_DATASETS and (directory or name == "idx"):
    if not directory:
      raise UserError("data.name='idx' needs data.dir, a folder of MNIST-format IDX files "
                      "(--config.data.dir=DIR)")
    images, _ = gdata.load_idx(directory, split)
  elif name == "npz":
    if not directory:
      raise UserError("data.name='npz' needs data.dir, the path of an .npz file with uint8 "
                      "images under 'x' (--config.data.dir=FILE)")
    images, _ = gdata.load_npz(directory)
  else:
    images, _ = gdata.load_tfds(name, split, data_dir=directory or None,
                                image_size=config.data.image_size or None)
  size = config.data.image_size
  if size and images.shape[1:3] != (size, size):
    images = np.stack([gdata.center_crop_resize(image, size) for image in images])
  return images


def build_data(config, *, d_steps: int, whole_batch: bool = False) -> Data:
  """Loads or generates the config's data (nothing is written).

  Args:
    config: the run's config.
    d_steps: discriminator minibatches per step; a step's batch is
      `[d_steps * data.batch_size, ...]`.
    whole_batch: every process reads the whole global batch (a population split
      over processes by member), not its share of it.

  Raises:
    UserError: unknown dataset, bad parameters, missing files.
  """
  batch_size = config.data.batch_size
  if batch_size < 1:
    raise UserError(f"data.batch_size must be >= 1, got {batch_size}; "
                    "set --config.data.batch_size to a positive integer")
  if config.data.image_size < 0:
    raise UserError(f"data.image_size must be >= 0 (0 keeps the stored size), got "
                    f"{config.data.image_size}")
  num_reference = max(config.eval.num_samples, config.eval.num_pictures)
  process = (dict(process_index=0, process_count=1) if whole_batch else
             dict(process_index=jax.process_index(), process_count=jax.process_count()))
  try:
    if is_toy(config.data.name):
      sampler = _toy_sampler(config)
      if not (isinstance(sampler, gdata.Mixture) or callable(sampler)):
        raise UserError(f"data.name={config.data.name!r} returned a {type(sampler).__name__}, "
                        "not a gan_jax.data.Mixture or a sampler (rng, num) -> [num, D] points")
      dim = np.shape(gdata.sample_mixture(sampler, np.random.default_rng(0), 1)[0]
                     if isinstance(sampler, gdata.Mixture) else sampler(np.random.default_rng(0), 1)[0])
      resources.check_data(config, dim, points=True)
      source = gdata.SyntheticDataset(sampler, batch_size=d_steps * batch_size,
                                      seed=config.seed, **process)
      rng = np.random.default_rng([config.seed, 1])  # Not the training stream (seed, step, p).
      if isinstance(sampler, gdata.Mixture):
        reference = gdata.sample_mixture(sampler, rng, num_reference)
        mixture = sampler
      else:
        reference, mixture = np.asarray(sampler(rng, num_reference), np.float32), None
      return Data(DataSpec("points", reference.shape[1:]), source, mixture, reference)
    images = _load_images(config)
    resources.check_data(config, images.shape[1:], points=False)
    source = gdata.ArrayDataset(images, batch_size=d_steps * batch_size, seed=config.seed,
                                **process)
    return Data(DataSpec("image", images.shape[1:]), source, None, images[:num_reference])
  except gdata.DataError as e:
    raise UserError(str(e)) from None


# --- Networks ---------------------------------------------------------------


LATENTS = {
    "normal": lambda scale: lambda key, num, dim: scale * gan_jax.normal_latents(key, num, dim),
    "uniform": lambda scale: lambda key, num, dim: scale * gan_jax.uniform_latents(key, num, dim),
}


def _network(config, spec: DataSpec, role: str, data: Optional[Data] = None):
  """Builds the generator ("g") or discriminator ("d") named in the config.

  `data` supplies data-dependent initial values (`output_bias="marginals"`); without
  it they are left at their defaults (enough where a checkpoint is restored).
  """
  name_field = {"g": "generator", "d": "discriminator"}[role]
  registry = {"g": models.GENERATORS, "d": models.DISCRIMINATORS}[role]
  name = config.model[name_field]
  if is_import_path(name):
    model = _plugin_model(name, f"model.{name_field}", spec.kind)
  else:
    model = lookup(registry, name, f"model.{name_field}")
  if model.kind != spec.kind:
    what = "images" if spec.kind == "image" else f"{spec.shape[0]}-D points"
    valid = sorted(n for n, m in registry.items() if m.kind == spec.kind)
    raise UserError(
        f"model.{name_field}={name!r} is for {model.kind} data but data.name="
        f"{config.data.name!r} holds {what}; use one of {', '.join(valid)}"
    )
  kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.model[role].items()}
  if "output_bias" in kwargs:  # "marginals" (the paper's initialisation) or "zeros".
    if kwargs["output_bias"] not in ("marginals", "zeros"):
      raise UserError(f"model.{role}.output_bias={kwargs['output_bias']!r}: use 'marginals' "
                      "(the logit of the data's mean pixels) or 'zeros'")
    marginals = kwargs["output_bias"] == "marginals" and data is not None
    kwargs["output_bias"] = (models.sigmoid_bias_from_marginals(data.source.images)
                             if marginals else None)
  if model.shape_arg == "output_dim":
    kwargs["output_dim"] = int(np.prod(spec.shape))
  elif model.shape_arg == "image_shape":
    kwargs["image_shape"] = tuple(spec.shape)
  try:
    inspect.signature(model.factory).bind(**kwargs)
  except TypeError:
    accepted = [p for p in model.parameters if p != model.shape_arg]
    raise UserError(
        f"model.{role} fields {sorted(config.model[role])} do not fit model.{name_field}="
        f"{name!r}, which takes {', '.join(accepted) or 'no arguments'}; fix --config.model.{role}"
    ) from None
  if is_import_path(name):
    return call_plugin(model.factory, name, f"model.{name_field}", gan_jax.Network, **kwargs)
  try:
    return model.factory(**kwargs)
  except ValueError as e:
    raise UserError(f"model.{name_field}={name!r} with {kwargs}: {e}") from None


def _plugin_model(path: str, field: str, kind: str) -> models.Model:
  """A user's network factory by import path, described from its signature."""
  try:
    return models.Model.describe(load_import_path(path, field), kind)
  except ValueError as e:
    raise UserError(f"{field}={path!r}: {e}") from None


def output_scale(config) -> Optional[str]:
  """The generator's output range for images ("tanh" or "sigmoid"); None for points."""
  if is_import_path(config.model.generator):
    if is_toy(config.data.name):
      return None
    return _plugin_model(config.model.generator, "model.generator", "image").output_scale
  return lookup(models.GENERATORS, config.model.generator, "model.generator").output_scale


# --- Optimizers ---------------------------------------------------------------

def _scheduled(factory, learning_rate, **hyperparams):
  """`factory(learning_rate, **hyperparams)`; a schedule among `hyperparams` (a
  momentum ramp, R3GAN's beta2) is evaluated at the update count."""
  if any(callable(value) for value in hyperparams.values()):
    return optax.inject_hyperparams(factory)(learning_rate=learning_rate, **hyperparams)
  return factory(learning_rate, **hyperparams)


# Optimizer fields whose zero switches a part off (momentum, a floor on the decayed
# learning rate, clipping, EMA): zero or not is structure, the value itself is data.
SWITCHES = ("momentum", "lr_min", "clip", "ema", "max_norm", "momentum_final")
SCHEDULES = ("constant", "cosine")


def _check(condition: bool, field: str, value, requirement: str) -> None:
  if not condition:
    raise UserError(f"{field}={value} is impossible: it must be {requirement} "
                    f"(--config.{field}=...)")


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
  _check(c.lr > 0, f"{field}.lr", c.lr, "> 0")
  _check(0 <= c.b1 < 1, f"{field}.b1", c.b1, "in [0, 1)")
  _check(0 <= c.b2 < 1, f"{field}.b2", c.b2, "in [0, 1)")
  _check(c.eps >= 0, f"{field}.eps", c.eps, ">= 0")
  _check(0 <= c.decay < 1, f"{field}.decay", c.decay, "in [0, 1)")
  _check(0 <= c.momentum < 1, f"{field}.momentum", c.momentum, "in [0, 1)")
  _check(0 < c.lr_decay <= 1, f"{field}.lr_decay", c.lr_decay, "in (0, 1] (1 = constant)")
  _check(c.lr_decay_every >= 1, f"{field}.lr_decay_every", c.lr_decay_every, ">= 1")
  _check(0 <= c.lr_min <= c.lr, f"{field}.lr_min", c.lr_min, f"in [0, lr={c.lr}]")
  _check(c.clip >= 0, f"{field}.clip", c.clip, ">= 0 (0 = no clipping)")
  _check(0 <= c.ema < 1, f"{field}.ema", c.ema, "in [0, 1) (0 = no EMA)")
  _check(c.max_norm >= 0, f"{field}.max_norm", c.max_norm, ">= 0 (0 = no constraint)")
  _check(0 <= c.momentum_final < 1, f"{field}.momentum_final", c.momentum_final,
         "in [0, 1) (0 = constant momentum)")
  _check(c.momentum_ramp_steps >= 0, f"{field}.momentum_ramp_steps", c.momentum_ramp_steps,
         ">= 0")
  _check(c.schedule in SCHEDULES, f"{field}.schedule", repr(c.schedule),
         " or ".join(map(repr, SCHEDULES)))
  _check(c.lr_final >= 0, f"{field}.lr_final", c.lr_final, ">= 0")
  _check(0 <= c.b2_final < 1, f"{field}.b2_final", c.b2_final, "in [0, 1) (0 = constant b2)")
  _check(c.schedule_steps >= 0, f"{field}.schedule_steps", c.schedule_steps,
         ">= 0 (0 = the whole run)")
  if c.schedule == "constant" and (c.lr_final or c.b2_final):
    raise UserError(f"{field}.lr_final/b2_final are the ends of a schedule, but "
                    f"{field}.schedule='constant'; set --config.{field}.schedule=cosine")
  if c.schedule == "cosine" and c.lr_decay < 1:
    raise UserError(f"{field}.schedule='cosine' and {field}.lr_decay={c.lr_decay} both "
                    f"schedule the learning rate; keep one (--config.{field}.lr_decay=1)")
  _check(c.ema_halflife >= 0, f"{field}.ema_halflife", c.ema_halflife, ">= 0 (0 = off)")
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
    parts = [_scheduled(make, lr, **{name: values(name) for name in transforms.HYPERPARAMETERS
                                     if name in taken})]
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


# --- The run ------------------------------------------------------------------

PENALTIES = {"none": None, **penalties.PENALTIES}
UPDATES = ("alternating", "simultaneous", "unrolled")


def _check_finite(config) -> None:
  """Every number in the config is finite: inf is refused like NaN (which no bound admits)."""
  def walk(node, prefix):
    for key, value in node.items():
      if isinstance(value, (dict, ml_collections.ConfigDict)):
        walk(value, f"{prefix}{key}.")
      elif isinstance(value, float) and not np.isfinite(value):
        raise UserError(f"{prefix}{key}={value} is impossible: it must be a finite number "
                        f"(--config.{prefix}{key}=...)")
  walk(config, "")


def _check_loop(config) -> None:
  _check_finite(config)
  _check(config.seed >= 0, "seed", config.seed, ">= 0")
  _check(config.num_steps >= 1, "num_steps", config.num_steps, ">= 1")
  n = config.steps_per_call
  _check(n >= 1, "steps_per_call", n, ">= 1")
  for field in ("num_steps", "log_every", "eval_every", "checkpoint_every"):
    _check(config[field] >= 1, field, config[field], ">= 1")
    _check(config[field] % n == 0, field, config[field],
           f"a multiple of steps_per_call={n}")
  _check(config.keep_checkpoints >= 1, "keep_checkpoints", config.keep_checkpoints, ">= 1")
  _check(config.max_consecutive_nonfinite >= 1, "max_consecutive_nonfinite",
         config.max_consecutive_nonfinite, ">= 1")
  _check(config.d_steps >= 1, "d_steps", config.d_steps, ">= 1")
  _check(config.unroll_steps >= 1, "unroll_steps", config.unroll_steps, ">= 1")
  _check(config.penalty_weight >= 0, "penalty_weight", config.penalty_weight, ">= 0")
  _check(config.model.latent_dim >= 1, "model.latent_dim", config.model.latent_dim, ">= 1")
  _check(config.model.latent_scale > 0, "model.latent_scale", config.model.latent_scale, "> 0")
  _check(config.model.pack >= 1, "model.pack", config.model.pack, ">= 1 (1 = no packing)")
  _check(config.data.batch_size % config.model.pack == 0, "data.batch_size",
         config.data.batch_size, f"divisible by model.pack={config.model.pack}")
  _check(config.eval.num_samples >= 2, "eval.num_samples", config.eval.num_samples, ">= 2")
  _check(config.eval.num_pictures >= 1, "eval.num_pictures", config.eval.num_pictures, ">= 1")
  if config.update_rule == "simultaneous":
    _check(config.d_steps == 1, "d_steps", config.d_steps, "1 with update='simultaneous'")
  _check(config.penalty_schedule in SCHEDULES, "penalty_schedule",
         repr(config.penalty_schedule), " or ".join(map(repr, SCHEDULES)))
  _check(config.penalty_weight_final >= 0, "penalty_weight_final",
         config.penalty_weight_final, ">= 0")
  if config.penalty_schedule == "constant" and config.penalty_weight_final:
    raise UserError(f"penalty_weight_final={config.penalty_weight_final} is the end of a "
                    "schedule, but penalty_schedule='constant'; set "
                    "--config.penalty_schedule=cosine")
  if config.penalty == "none" and config.penalty_weight:
    raise UserError(f"penalty_weight={config.penalty_weight} but penalty='none'; set "
                    f"--config.penalty to one of {', '.join(sorted(penalties.PENALTIES))}")
  if config.penalty != "none" and not config.penalty_weight:
    raise UserError(f"penalty={config.penalty!r} with penalty_weight=0 does nothing; set "
                    "--config.penalty_weight > 0 or --config.penalty=none")


class Experiment(NamedTuple):
  """Everything a run needs, built from its config.

  Attributes:
    config: the config it was built from.
    data: the `Data`.
    gan: the `gan_jax.GAN`.
    scale: the image scale of the generator's output (None for points).
    train: `jax.jit(make_multi_step(step, steps_per_call), donate_argnums=0)`:
      `(state, batches [steps_per_call, d_steps * B, ...], key) -> (state, metrics)`;
      step s uses `fold_in(key, s)`.
    abstract_state: the `GANState` as `jax.ShapeDtypeStruct`s (for restoring).
    init_key, train_key, eval_key: the base key of each purpose.
  """

  config: ml_collections.ConfigDict
  data: Data
  gan: gan_jax.GAN
  scale: Optional[str]
  train: Callable
  abstract_state: Any
  init_key: jax.Array
  train_key: jax.Array
  eval_key: jax.Array
  mesh: Optional[Mesh] = None  # data parallelism over every device of every process

  @property
  def writer(self) -> bool:
    """Whether this process writes the run's files and evaluates it."""
    return jax.process_index() == 0

  def start_state(self):
    """A fresh state, placed on the run's devices."""
    return self.place(self.init_state())

  def place(self, state):
    """`state` (host or device arrays) on the run's devices."""
    return jax.device_put(state) if self.mesh is None else parallel.replicate(state, self.mesh)

  def init_state(self):
    return gan_jax.init_state(self.gan, self.init_key, self.example())

  def device_batches(self, step: int, num: int):
    """`batches`, split over the mesh when there is one (each process reads its rows)."""
    batches = self.batches(step, num)
    return batches if self.mesh is None else parallel.shard_batch(batches, self.mesh, batch_axis=1)

  def example(self) -> np.ndarray:
    """A few examples in the model's scale; parameter shapes depend on nothing else."""
    return self.batches(0, 1)[0, : example_rows(self.config)]

  def batches(self, step: int, num: int) -> np.ndarray:
    """The model-scale batches of steps `step .. step + num - 1`, `[num, d_steps * B, ...]`."""
    batches = [self.data.source.batch_at(s) for s in range(step, step + num)]
    if self.scale is not None:
      batches = [gdata.to_float(b, self.scale) for b in batches]
    return np.stack(batches)


def example_rows(config) -> int:
  """Rows of the example batch that initialises the networks (a multiple of the packing)."""
  return 2 * config.model.pack


def build_gan(config, spec: DataSpec, hparams=None, data: Optional[Data] = None) -> gan_jax.GAN:
  """The `GAN` of the config for data described by `spec`.

  Args:
    config: the run's config.
    spec: the data's `DataSpec`.
    hparams: traced optimizer values (see `build_optimizer`).
    data: the run's `Data`, for data-dependent initial values (see `_network`).
  """
  game = lookup(games.GAMES, config.game, "game")
  game = (call_plugin(game, config.game, "game", games.Game) if is_import_path(config.game)
          else game())
  sampler = lookup(LATENTS, config.model.latent, "model.latent")(config.model.latent_scale)
  discriminator = _network(config, spec, "d")
  if config.model.pack > 1:
    discriminator = models.packed(discriminator, config.model.pack)
  return gan_jax.GAN(
      generator=_network(config, spec, "g", data),
      discriminator=discriminator,
      g_optimizer=build_optimizer(config, "g_optimizer", hparams),
      d_optimizer=build_optimizer(config, "d_optimizer", hparams),
      game=game,
      latent_dim=config.model.latent_dim,
      latent_sampler=sampler,
  )


def keys(seed: int):
  """`(init_key, train_key, eval_key)`: one base key per purpose, from the seed."""
  root = jax.random.key(seed)
  return tuple(jax.random.fold_in(root, i) for i in range(3))


def penalty_weight(config, hparams=None):
  """The penalty's coefficient: a number, or a schedule of the train step ("cosine")."""
  weight = (hparams or {}).get("penalty_weight", config.penalty_weight)
  if config.penalty_schedule == "cosine":
    return transforms.cosine_schedule(weight, config.penalty_weight_final, config.num_steps)
  return weight


def make_multi_step(config, gan: gan_jax.GAN, hparams=None) -> Callable:
  """The config's `steps_per_call` train steps as one function (not jitted).

  `hparams` may hold a traced "penalty_weight" (a population member's).
  """
  penalty = lookup(PENALTIES, config.penalty, "penalty")
  step = gan_jax.make_train_step(
      gan, update=config.update_rule, d_steps=config.d_steps, unroll_steps=config.unroll_steps,
      penalty=penalty, penalty_weight=penalty_weight(config, hparams),
      reuse_fake=config.reuse_fake,
  )
  return gan_jax.make_multi_step(step)  # As many steps as a call's batches hold.


def check(config) -> None:
  """Checks the config's values that need no data; raises UserError."""
  _check_loop(config)
  if config.update_rule not in UPDATES:
    raise UserError(f"unknown update {config.update_rule!r}: choose one of {', '.join(UPDATES)} "
                    "(--config.update_rule=NAME)")
  penalty = lookup(PENALTIES, config.penalty, "penalty")
  if is_import_path(config.penalty) and not callable(penalty):
    raise UserError(f"penalty={config.penalty!r} is a {type(penalty).__name__}, not a function "
                    "(critic_fn, real, fake, key) -> scalar")
  for field in ("g_optimizer", "d_optimizer"):
    build_optimizer(config, field)


def build(config, *, whole_batch: bool = False) -> Experiment:
  """Validates the config and builds the run; reads data but writes nothing.

  The train step is traced once (`jax.eval_shape`), so shape errors in the
  networks surface here rather than after the workdir is written.

  Args:
    config: the run's config.
    whole_batch: every process reads the whole global batch (see `build_data`).

  Raises:
    UserError: anything wrong with the config or the data.
  """
  check(config)
  data = build_data(config, d_steps=config.d_steps, whole_batch=whole_batch)
  gan = build_gan(config, data.spec, data=data)
  multi_step = make_multi_step(config, gan)
  mesh = None
  if jax.device_count() > 1:
    # Data parallel over all devices: the global batch rows are split over the mesh.
    rows = config.d_steps * config.data.batch_size
    if rows % jax.device_count():
      raise UserError(
          f"d_steps * data.batch_size = {rows} rows do not split over {jax.device_count()} "
          f"devices; pick --config.data.batch_size as a multiple of {jax.device_count()}")
    mesh = parallel.data_mesh()
    multi_step = parallel.make_data_parallel_step(multi_step, mesh, batch_axis=1)
  train = jax.jit(multi_step, donate_argnums=0)
  init_key, train_key, eval_key = keys(config.seed)
  experiment = Experiment(config, data, gan, output_scale(config), train, None,
                          init_key, train_key, eval_key, mesh)
  example = experiment.example()
  try:
    abstract_state = jax.eval_shape(lambda: experiment.init_state())
    # The generator's samples must have the data's shape before the discriminator sees
    # either (otherwise it is built for one and fed the other).
    made = jax.eval_shape(
        lambda state: gan_jax.sample(gan, state, jax.random.key(0), 2, ema=False),
        abstract_state).shape[1:]
    if tuple(made) != tuple(data.spec.shape):
      raise UserError(
          f"model.generator={config.model.generator!r} makes samples of shape {tuple(made)} "
          f"but the data ({config.data.name}) holds {tuple(data.spec.shape)}; choose a "
          "generator for this data or data of that shape")
    batches = jax.ShapeDtypeStruct(
        (config.steps_per_call, config.d_steps * config.data.batch_size, *example.shape[1:]),
        jnp.float32)
    jax.eval_shape(train, abstract_state, batches, train_key)
  except (ValueError, TypeError, flax.errors.FlaxError) as e:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    raise UserError(
        f"the networks do not fit the data {tuple(data.spec.shape)} ({first}); check "
        "model.generator/model.discriminator and their fields against data.name"
    ) from None
  if mesh is not None:  # restore straight into the replicated layout
    replicated = NamedSharding(mesh, PartitionSpec())
    abstract_state = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=replicated), abstract_state)
  return experiment._replace(abstract_state=abstract_state)


# Fields that fix the shapes of the state: a checkpoint trained with other values
# cannot be resumed under this config.
ARCHITECTURE_FIELDS = ("model", "data.name", "data.image_size", "data.params",
                       "g_optimizer.name", "d_optimizer.name", "g_optimizer.ema",
                       "d_optimizer.ema", "g_optimizer.clip", "d_optimizer.clip",
                       "g_optimizer.max_norm", "d_optimizer.max_norm",
                       "g_optimizer.momentum_final", "d_optimizer.momentum_final",
                       "g_optimizer.b2_final", "d_optimizer.b2_final",
                       "g_optimizer.ema_halflife", "d_optimizer.ema_halflife",
                       "skip_nonfinite", "resolved.data_shape")


def _get(tree: dict, dotted: str):
  for part in dotted.split("."):
    if not isinstance(tree, dict) or part not in tree:
      return None
    tree = tree[part]
  return tree


def normalize(value):
  """JSON round trips turn tuples into lists; compare them as equals."""
  if isinstance(value, (list, tuple)):
    return [normalize(v) for v in value]
  if isinstance(value, dict):
    return {k: normalize(v) for k, v in value.items()}
  return value


# Network fields that leave the state as it is: a checkpoint resumes under any value
# (the computation dtype; parameters stay float32).
# Fields that change how a network computes, not its parameters: the computation
# dtype, and the two forms of DCGAN's strided convolutions (tested to share
# parameters, outputs and gradients).
STATE_NEUTRAL_FIELDS = ("dtype", "upsample", "downsample")


def _without_neutral(value):
  if isinstance(value, dict):
    return {k: _without_neutral(v) for k, v in value.items() if k not in STATE_NEUTRAL_FIELDS}
  return value


def architecture_differences(saved: dict, config: dict) -> list[str]:
  """The architecture fields whose values differ, as `field: saved -> new` strings."""
  differences = []
  for field in ARCHITECTURE_FIELDS:
    old = _without_neutral(normalize(_get(saved, field)))
    new = _without_neutral(normalize(_get(config, field)))
    if old != new:
      if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
          if old.get(key) != new.get(key):
            differences.append(f"{field}.{key}: {old.get(key)} -> {new.get(key)}")
      else:
        differences.append(f"{field}: {old} -> {new}")
  return differences
