"""The defaults every config starts from, and the helpers configs share.

A config file imports this module, calls `get_config()` and changes only what its
paper does differently. Every field is listed here, so `--config.FIELD=VALUE`
works for any of them from any config. Names (games, models, datasets,
optimizers, penalties) are looked up in the registries of `experiments/builders.py`;
an unknown name stops the run with the list of valid ones.

Config arguments (`--config=configs/x.py:ARG`) are comma-separated `key=value`
pairs or bare words for booleans, e.g. `configs/wgan_gp.py:dataset=cifar10,runlocal`.
"""

import ml_collections

from gan_jax import data as gdata
from gan_jax import models

# Datasets generated in-process, with the constructor arguments of their protocol:
# the keyword defaults of their functions in gan_jax.data.


def get_config() -> ml_collections.ConfigDict:
  """The shared defaults: a small GAN on the 2-D ring, which needs no download."""
  config = ml_collections.ConfigDict()
  config.seed = 0  # Parameters, latents and data order all derive from it.
  # Seeds seed .. seed + num_seeds - 1 train as one population: one compiled program
  # with a member axis (see experiments/populations.py); metrics.jsonl reports each
  # metric's mean and spread over the seeds, members/seed=S/ each seed's own.
  config.num_seeds = 1

  # The loop. Logging, evaluation and checkpoints happen after steps that are
  # multiples of their interval, and after the last step.
  config.num_steps = 10_000
  config.steps_per_call = 1  # Train steps fused into one compiled call (small models).
  config.log_every = 100
  config.eval_every = 1_000  # Evaluation metrics and a picture in samples/.
  config.checkpoint_every = 1_000
  config.keep_checkpoints = 3
  config.checkpoint_async = True  # Write checkpoint files in a background thread.
  # False: stop at the first non-finite loss. True: skip non-finite updates
  # (optax.apply_if_finite) and stop only when parameters become non-finite.
  config.skip_nonfinite = False
  config.max_consecutive_nonfinite = 10
  config.progress = True  # A progress bar on a terminal, a line per log otherwise.
  config.tensorboard = True

  config.data = ml_collections.ConfigDict()
  # A toy name (gaussian_1d, ring, grid, swiss_roll), a tensorflow-datasets name
  # (mnist, fashion_mnist, cifar10, celeb_a, ...), "idx", "npz" or "stacked_mnist"
  # (three MNIST digits as colour channels, 1,000 modes).
  config.data.name = "ring"
  # Local files: a folder of MNIST-format IDX files (for "idx", "mnist",
  # "fashion_mnist", "stacked_mnist") or an .npz file with uint8 images under "x" (for "npz").
  # Empty: load a tensorflow-datasets name from TFDS's data dir.
  config.data.dir = ""
  config.data.split = "train"
  config.data.image_size = 0  # Crop and resize images to this side; 0 keeps their size.
  config.data.batch_size = 64  # Per discriminator update; a step reads d_steps of them.
  # The images' float range, "tanh" ([-1, 1]) or "sigmoid" ([0, 1]); empty: the
  # generator's output range. (The TensorFlow DCGAN code of VEEGAN and PacGAN trains
  # its tanh generator against [0, 1] images.)
  config.data.scale = ""
  config.data.params = ml_collections.ConfigDict(gdata.toy_defaults("ring"))
  # Toy data: 0 draws fresh points every step; N trains on N points drawn once, each
  # pack of model.pack members drawn from them with replacement (PacGAN's protocol).
  config.data.fixed_points = 0

  config.model = ml_collections.ConfigDict()
  config.model.generator = "mlp"
  config.model.discriminator = "mlp"
  config.model.latent_dim = 2
  config.model.latent = "normal"  # "normal": N(0, I); "uniform": U[-scale, scale].
  config.model.latent_scale = 1.0
  config.model.pack = 1  # PacGAN: the discriminator judges packs of this many samples.
  # Training-mode generator passes per batch, each with its own batch statistics
  # (PacGAN's code makes a pack's members in one pass each: set it to the pack).
  config.model.generator_passes = 1
  # Keyword arguments of the generator and discriminator factories.
  config.model.g = ml_collections.ConfigDict(dict(hidden=(128, 128), activation="relu"))
  config.model.d = ml_collections.ConfigDict(dict(hidden=(128, 128), activation="relu"))

  config.game = "non_saturating"
  config.update_rule = "alternating"  # "alternating", "simultaneous" or "unrolled".
  config.d_steps = 1  # k: discriminator updates per generator update.
  config.unroll_steps = 5  # For update="unrolled".
  config.reuse_fake = True  # The generator update reuses the last D update's fakes.
  config.g_steps = 1  # Generator updates per step, on the same latents (alternating).
  config.penalty = "none"  # "none", "gradient", "r1", "r2", "r1_r2", "dragan".
  config.penalty_weight = 0.0
  # "cosine": the weight follows half a cosine from penalty_weight to
  # penalty_weight_final over the run's num_steps (R3GAN's gamma schedule).
  config.penalty_schedule = "constant"
  config.penalty_weight_final = 0.0

  config.g_optimizer = optimizer(lr=1e-4)
  config.d_optimizer = optimizer(lr=1e-4)

  config.eval = ml_collections.ConfigDict()
  config.eval.num_samples = 2_500  # Samples scored by the evaluation metrics.
  config.eval.num_pictures = 64  # A fixed latent batch, drawn for every picture.
  # Training-mode passes of the frozen generator (data.batch_size latents each) that
  # re-estimate its batch-norm averages before every evaluation and picture
  # (gan_jax.refresh_batch_stats); PacGAN's code: 50. 0: sample with the averages as trained.
  config.eval.bn_refresh_batches = 0
  return config


def optimizer(name: str = "adam", lr: float = 1e-4, **overrides) -> ml_collections.ConfigDict:
  """One player's optimizer; every field exists so that any can be overridden."""
  fields = dict(
      name=name,  # "adam", "rmsprop", "sgd", "optimistic_adam".
      lr=lr,
      b1=0.9,  # adam, optimistic_adam
      b2=0.999,  # adam, optimistic_adam
      eps=1e-8,
      decay=0.9,  # rmsprop's moving average of squared gradients
      initial_scale=0.0,  # rmsprop's first value of that average (PyTorch 0, TF1 1)
      # rmsprop's g / sqrt(avg + eps) (optax, TF1), or False: g / (sqrt(avg) + eps) (PyTorch).
      eps_in_sqrt=True,
      momentum=0.0,  # sgd, rmsprop
      # lr * lr_decay ** (updates // lr_decay_every), never below lr_min; 1.0: constant.
      lr_decay=1.0,
      lr_decay_every=1,
      lr_min=0.0,
      # "cosine": lr -> lr_final and (adam, when b2_final > 0) b2 -> b2_final along
      # half a cosine over schedule_steps updates (0: the whole run), as R3GAN does.
      schedule="constant",
      lr_final=0.0,
      b2_final=0.0,
      schedule_steps=0,
      clip=0.0,  # WGAN weight clipping to [-clip, clip] after each update; 0: off.
      # Each unit's incoming weights rescaled to norm <= max_norm after each update
      # (pylearn2's max_col_norm); 0: off.
      max_norm=0.0,
      # Momentum (sgd, rmsprop) ramped linearly to momentum_final over
      # momentum_ramp_steps updates (pylearn2's MomentumAdjustor); 0: constant.
      momentum_final=0.0,
      momentum_ramp_steps=0,
      ema=0.0,  # Decay of an EMA of the parameters (generator); 0: off.
      # Instead of `ema`, an EMA half-life in updates, grown from 0 along the
      # schedule's cosine when schedule="cosine" (R3GAN's ema_nimg / batch); 0: off.
      ema_halflife=0.0,
  )
  unknown = set(overrides) - set(fields)
  if unknown:
    raise ValueError(f"unknown optimizer fields {sorted(unknown)}; use {sorted(fields)}")
  fields.update(overrides)
  return ml_collections.ConfigDict(fields)


def parse_arg(arg, **defaults) -> ml_collections.ConfigDict:
  """Parses a config argument `"k1=v1,k2,..."` against typed defaults.

  Bare words set booleans to True; every value takes its default's type.

  Args:
    arg: the text after the colon in `--config=configs/x.py:ARG` (or None).
    **defaults: the accepted keys and their default values.

  Returns:
    A ConfigDict of the defaults, overridden by `arg`.

  Raises:
    ValueError: an unknown key or a value of the wrong type, naming the keys.
  """
  parsed = dict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, has_value, value = item.partition("=")
    if key not in defaults:
      raise ValueError(
          f"unknown config argument {key!r}; this config takes {', '.join(sorted(defaults))}"
      )
    default = defaults[key]
    if not has_value:
      if not isinstance(default, bool):
        raise ValueError(f"config argument {key!r} needs a value ({key}=...)")
      parsed[key] = True
    elif isinstance(default, bool):
      if value.lower() not in ("true", "false", "1", "0"):
        raise ValueError(f"config argument {key}={value}: expected true or false")
      parsed[key] = value.lower() in ("true", "1")
    else:
      try:
        parsed[key] = type(default)(value)
      except ValueError:
        raise ValueError(
            f"config argument {key}={value}: expected a {type(default).__name__}"
        ) from None
  return ml_collections.ConfigDict(parsed)


def set_dataset(config: ml_collections.ConfigDict, dataset: str) -> None:
  """Points `config.data` at a dataset named by a config argument.

  `dataset` is a toy name, a tensorflow-datasets name, `idx:DIR` (MNIST-format
  files in DIR), `npz:FILE` (uint8 images under "x" in FILE) or
  `stacked_mnist[:DIR]` (Stacked MNIST from the IDX digits in DIR, or from TFDS).
  """
  kind, _, location = dataset.partition(":")
  if kind == "stacked_mnist":
    config.data.name, config.data.dir = kind, location
  elif kind in ("idx", "npz"):
    if not location:
      raise ValueError(f"dataset={kind}: needs a location, e.g. dataset={kind}:/path/to/data")
    config.data.name, config.data.dir = kind, location
  elif kind in gdata.TOY_DATASETS:
    config.data.name = kind
    config.data.params = ml_collections.ConfigDict(gdata.toy_defaults(kind))
  else:
    config.data.name = dataset
  if kind not in gdata.TOY_DATASETS:
    config.data.params = ml_collections.ConfigDict()


def image_models(config: ml_collections.ConfigDict, arch: str, **d_fields) -> None:
  """Sets both networks to the convolutional `arch` ("dcgan" or "resnet").

  Every keyword argument of the registered factories becomes a config field (so each
  can be overridden: --config.model.d.base_features=32), at the factory's default
  unless `_IMAGE_CHOICES` or `d_fields` say otherwise.

  Args:
    config: the config to change.
    arch: the name of both networks in the model registries.
    **d_fields: the discriminator's keyword arguments (normalization, spectral_norm...).
  """
  g_choices, d_choices = _IMAGE_CHOICES[arch]
  g = {**models.GENERATORS[arch].defaults, **g_choices}
  d = {**models.DISCRIMINATORS[arch].defaults, **d_choices}
  unknown = set(d_fields) - set(d)
  if unknown:
    raise ValueError(f"{arch} discriminators take {sorted(d)}, not {sorted(unknown)}")
  config.model.generator = config.model.discriminator = arch
  config.model.g = ml_collections.ConfigDict(g)
  config.model.d = ml_collections.ConfigDict({**d, **d_fields})


# The configs' choices where they differ from the factories' defaults. "adjoint"
# computes the transposed (generator) and strided (discriminator) convolutions with
# derivatives, of every order, that are fast convolutions: the same parameters,
# outputs and checkpoints as the Flax layers ("transpose", "conv"), and the fastest
# form to train on CPU. dtype is the layers' computation dtype ("bfloat16" for mixed
# precision on a GPU or TPU; parameters stay float32): a string, not None, as a
# config field has one type.
_IMAGE_CHOICES = {
    "dcgan": (dict(upsample="adjoint", dtype="float32"),
              dict(downsample="adjoint", dtype="float32")),
    "resnet": ({}, {}),
    "metz": ({}, {}),
    "tf_dcgan": ({}, {}),
}


def toy_models(config: ml_collections.ConfigDict, hidden, *, latent_dim: int = 2) -> None:
  """Sets both networks to ReLU MLPs with `hidden` widths (for toy datasets)."""
  config.model.generator = config.model.discriminator = "mlp"
  config.model.g = ml_collections.ConfigDict(dict(hidden=tuple(hidden), activation="relu"))
  config.model.d = ml_collections.ConfigDict(dict(hidden=tuple(hidden), activation="relu"))
  config.model.latent_dim = latent_dim


def is_toy(config: ml_collections.ConfigDict) -> bool:
  """Whether the config's data are generated in-process (low-dimensional)."""
  return config.data.name in gdata.TOY_DATASETS


def runlocal(config: ml_collections.ConfigDict, num_steps: int = 20) -> None:
  """Shrinks a config to a few steps for a quick check of the whole pipeline."""
  config.num_steps = num_steps
  config.steps_per_call = 1
  config.log_every = config.eval_every = config.checkpoint_every = max(num_steps // 2, 1)
  config.data.batch_size = min(config.data.batch_size, 12)  # Divisible by packs of 1-4.
  config.eval.num_samples = 256
  config.eval.num_pictures = 16
