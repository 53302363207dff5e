"""From a config to the objects of a run: the `Experiment`, its GAN and jitted step.

The parts have their own modules: `datasets` (the data), `networks` (generator and
discriminator), `optimizers` (each player's update rule), `plugins` (a user's code
by import path). Every name is looked up in the library's registries; an unknown
name, an impossible value or data that cannot be read raises `UserError` with one
line naming the problem and the fix. `build` validates and builds everything,
tracing the train step once, without writing anything, so the runner can refuse a
bad config before it touches the workdir; `architecture_differences` says whether
a workdir's checkpoints fit a config.
"""

from typing import Any, Callable, NamedTuple, Optional

import flax
import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import ml_collections
import numpy as np

import gan_jax
from gan_jax import data as gdata
from gan_jax import games
from gan_jax import models
from gan_jax import parallel
from gan_jax import penalties
from gan_jax import transforms
from experiments import datasets
from experiments import networks
from experiments import optimizers
from experiments.datasets import Data, DataSpec
from experiments.errors import UserError, require
from experiments.plugins import call_plugin, is_import_path, lookup


UPDATES = ("alternating", "simultaneous", "unrolled")


def _penalties() -> dict:
  """The registered penalties (read when needed, so a registration is seen) and "none"."""
  return {"none": None, **penalties.PENALTIES}


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
  require(config.seed >= 0, "seed", config.seed, ">= 0")
  require(config.num_steps >= 1, "num_steps", config.num_steps, ">= 1")
  n = config.steps_per_call
  require(n >= 1, "steps_per_call", n, ">= 1")
  for field in ("num_steps", "log_every", "eval_every", "checkpoint_every"):
    require(config[field] >= 1, field, config[field], ">= 1")
    require(config[field] % n == 0, field, config[field],
           f"a multiple of steps_per_call={n}")
  require(config.keep_checkpoints >= 1, "keep_checkpoints", config.keep_checkpoints, ">= 1")
  require(config.max_consecutive_nonfinite >= 1, "max_consecutive_nonfinite",
         config.max_consecutive_nonfinite, ">= 1")
  require(config.d_steps >= 1, "d_steps", config.d_steps, ">= 1")
  require(config.g_steps >= 1, "g_steps", config.g_steps, ">= 1")
  if config.update_rule != "alternating":
    require(config.g_steps == 1, "g_steps", config.g_steps,
            f"1 with update_rule={config.update_rule!r}")
  require(config.unroll_steps >= 1, "unroll_steps", config.unroll_steps, ">= 1")
  require(config.penalty_weight >= 0, "penalty_weight", config.penalty_weight, ">= 0")
  require(config.model.latent_dim >= 1, "model.latent_dim", config.model.latent_dim, ">= 1")
  require(config.model.latent_scale > 0, "model.latent_scale", config.model.latent_scale, "> 0")
  require(config.model.pack >= 1, "model.pack", config.model.pack, ">= 1 (1 = no packing)")
  require(config.data.batch_size % config.model.pack == 0, "data.batch_size",
         config.data.batch_size, f"divisible by model.pack={config.model.pack}")
  passes = config.model.generator_passes
  require(passes >= 1, "model.generator_passes", passes, ">= 1 (1 = one pass)")
  require(passes == 1 or (config.data.batch_size % passes == 0
                          and config.data.batch_size // passes >= 2),
          "data.batch_size", config.data.batch_size,
          f"divisible by model.generator_passes={passes} into passes of >= 2 latents")
  require(config.eval.num_samples >= 2, "eval.num_samples", config.eval.num_samples, ">= 2")
  require(config.eval.num_pictures >= 1, "eval.num_pictures", config.eval.num_pictures, ">= 1")
  require(config.eval.bn_refresh_batches >= 0, "eval.bn_refresh_batches",
          config.eval.bn_refresh_batches, ">= 0 (0: no refresh)")
  if config.update_rule == "simultaneous":
    require(config.d_steps == 1, "d_steps", config.d_steps, "1 with update='simultaneous'")
  require(config.penalty_schedule in optimizers.SCHEDULES, "penalty_schedule",
         repr(config.penalty_schedule), " or ".join(map(repr, optimizers.SCHEDULES)))
  require(config.penalty_weight_final >= 0, "penalty_weight_final",
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
  sampler = lookup(networks.LATENTS, config.model.latent, "model.latent")(config.model.latent_scale)
  discriminator = networks.build_network(config, spec, "d")
  if config.model.pack > 1:
    discriminator = models.packed(discriminator, config.model.pack)
  generator = networks.build_network(config, spec, "g", data)
  if config.model.generator_passes > 1:
    generator = models.in_passes(generator, config.model.generator_passes)
  return gan_jax.GAN(
      generator=generator,
      discriminator=discriminator,
      g_optimizer=optimizers.build_optimizer(config, "g_optimizer", hparams),
      d_optimizer=optimizers.build_optimizer(config, "d_optimizer", hparams),
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
  penalty = lookup(_penalties(), config.penalty, "penalty")
  step = gan_jax.make_train_step(
      gan, update=config.update_rule, d_steps=config.d_steps, unroll_steps=config.unroll_steps,
      penalty=penalty, penalty_weight=penalty_weight(config, hparams),
      reuse_fake=config.reuse_fake, g_steps=config.g_steps,
  )
  return gan_jax.make_multi_step(step)  # As many steps as a call's batches hold.


def check(config) -> None:
  """Checks the config's values that need no data; raises UserError."""
  _check_loop(config)
  if config.update_rule not in UPDATES:
    raise UserError(f"unknown update {config.update_rule!r}: choose one of {', '.join(UPDATES)} "
                    "(--config.update_rule=NAME)")
  penalty = lookup(_penalties(), config.penalty, "penalty")
  if is_import_path(config.penalty) and not callable(penalty):
    raise UserError(f"penalty={config.penalty!r} is a {type(penalty).__name__}, not a function "
                    "(critic_fn, real, fake, key) -> scalar")
  for field in ("g_optimizer", "d_optimizer"):
    optimizers.build_optimizer(config, field)


def build(config, *, whole_batch: bool = False, members: int = 1) -> Experiment:
  """Validates the config and builds the run; reads data but writes nothing.

  The train step is traced once (`jax.eval_shape`), so shape errors in the
  networks surface here rather than after the workdir is written.

  Args:
    config: the run's config.
    whole_batch: every process reads the whole global batch (see `build_data`).
    members: the population's members, for the data's memory check (see `build_data`).

  Raises:
    UserError: anything wrong with the config or the data.
  """
  check(config)
  data = datasets.build_data(config, d_steps=config.d_steps, whole_batch=whole_batch,
                             members=members)
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
  experiment = Experiment(config, data, gan, networks.output_scale(config), train, None,
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
