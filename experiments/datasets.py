"""The data of a run: toy distributions, image files, TFDS; batches at any step.

`build_data` reads `config.data` into a `Data`: its `DataSpec` (what the networks
see), its source (an `ArrayDataset`, `SyntheticDataset` or `FixedSyntheticDataset`
that yields the batch of any step), and the mixture a toy run is evaluated against.
"""

import inspect
from typing import Any, NamedTuple, Optional

import jax
import numpy as np

from gan_jax import data as gdata
from experiments import resources
from experiments.errors import UserError
from experiments.plugins import is_import_path, lookup


# Datasets read from MNIST-format IDX files when `data.dir` is set.
IDX_DATASETS = ("idx", "mnist", "fashion_mnist")
# Stacked MNIST: this many three-digit colour images per split, built from the MNIST
# digits of `data.dir` (IDX files) or of TFDS "mnist" with a fixed seed.
STACKED_MNIST_SIZE = {"train": 128_000, "train+test": 128_000, "test": 26_000}


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
    source: an `ArrayDataset`/`SyntheticDataset`/`FixedSyntheticDataset`; `batch_at(step)`
      returns the step's `d_steps` minibatches, `[d_steps * B, ...]` (uint8 for images).
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


def stacked_mnist(config, split: str, num: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """`num` Stacked MNIST images of `split` (None: the protocol's count) and their labels.

  `split` may pool MNIST splits: "train+test" draws from all 70,000 digits, as the
  TensorFlow DCGAN code of VEEGAN's and PacGAN's runs does. Labels are
  100 * l0 + 10 * l1 + l2, l_c the digit in channel c.
  """
  parts = [gdata.load_idx(config.data.dir, part) if config.data.dir
           else gdata.load_tfds("mnist", part) for part in split.split("+")]
  digits = np.concatenate([images for images, _ in parts])
  labels = np.concatenate([labels for _, labels in parts])
  if num is None:
    num = STACKED_MNIST_SIZE.get(split, len(digits))
  # The seed is fixed (not config.seed): every run trains on the same images.
  return gdata.stacked_mnist(digits, labels, num=num, seed=STACKED_MNIST_SIZE["train"])


def load_images(config) -> np.ndarray:
  name, directory, split = config.data.name, config.data.dir, config.data.split
  if name == "stacked_mnist":
    images, _ = stacked_mnist(config, split)
  elif name in IDX_DATASETS and (directory or name == "idx"):
    if not directory:
      raise UserError("data.name='idx' needs data.dir, a folder of MNIST-format IDX files "
                      "(--config.data.dir=DIR)")
    images, _ = gdata.load_idx(directory, split)
  elif name == "npz":
    if not directory:
      raise UserError("data.name='npz' needs data.dir, the path of an .npz file with uint8 "
                      "images under 'x' (--config.data.dir=FILE)")
    images, _ = gdata.load_npz(directory, split)
  else:
    images, _ = gdata.load_tfds(name, split, data_dir=directory or None,
                                image_size=config.data.image_size or None)
  size = config.data.image_size
  if size and images.shape[1:3] != (size, size):
    images = np.stack([gdata.center_crop_resize(image, size) for image in images])
  return images


def build_data(config, *, d_steps: int, whole_batch: bool = False, members: int = 1) -> Data:
  """Loads or generates the config's data (nothing is written).

  Args:
    config: the run's config.
    d_steps: discriminator minibatches per step; a step's batch is
      `[d_steps * data.batch_size, ...]`.
    whole_batch: every process reads the whole global batch (a population split
      over processes by member), not its share of it.
    members: the population's members; the memory check counts a fixed toy set
      (`data.fixed_points`) for each, as each reseeds the source.

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
  if config.data.fixed_points < 0:
    raise UserError(f"data.fixed_points must be >= 0 (0: fresh points every step), got "
                    f"{config.data.fixed_points}")
  if config.data.fixed_points and not is_toy(config.data.name):
    raise UserError(f"data.fixed_points={config.data.fixed_points} draws a set from a toy "
                    f"distribution, but data.name={config.data.name!r} is stored data; set "
                    "--config.data.fixed_points=0")
  process = (dict(process_index=0, process_count=1) if whole_batch else
             dict(process_index=jax.process_index(), process_count=jax.process_count()))
  if config.data.fixed_points:
    rows, pack, count = d_steps * batch_size, max(config.model.pack, 1), process["process_count"]
    if rows % (pack * count):
      raise UserError(f"data.fixed_points gives each of {count} process(es) whole packs of "
                      f"model.pack={pack}, but a step's d_steps x data.batch_size = {rows} "
                      f"examples do not split so; make it a multiple of {pack * count} "
                      "(--config.data.batch_size)")
    if config.data.fixed_points < rows // pack:
      raise UserError(f"data.fixed_points={config.data.fixed_points} holds fewer packs than "
                      f"the {rows // pack} of a step (d_steps x data.batch_size / model.pack); "
                      f"set --config.data.fixed_points>={rows // pack} or lower "
                      "--config.data.batch_size")
  num_reference = max(config.eval.num_samples, config.eval.num_pictures)
  try:
    if is_toy(config.data.name):
      sampler = _toy_sampler(config)
      if not (isinstance(sampler, gdata.Mixture) or callable(sampler)):
        raise UserError(f"data.name={config.data.name!r} returned a {type(sampler).__name__}, "
                        "not a gan_jax.data.Mixture or a sampler (rng, num) -> [num, D] points")
      dim = gdata.sample_points(sampler, np.random.default_rng(0), 1).shape[1:]
      resources.check_data(config, dim, points=True, members=members)
      if config.data.fixed_points:  # PacGAN's set, drawn once, in fixed packs.
        source = gdata.FixedSyntheticDataset(
            sampler, num_points=config.data.fixed_points, pack=config.model.pack,
            batch_size=d_steps * batch_size, seed=config.seed, **process)
      else:
        source = gdata.SyntheticDataset(sampler, batch_size=d_steps * batch_size,
                                        seed=config.seed, **process)
      # The stream of step 1's fresh batch (kept: the records' evaluations drew it so).
      reference = gdata.sample_points(sampler, np.random.default_rng([config.seed, 1]),
                                      num_reference)
      mixture = sampler if isinstance(sampler, gdata.Mixture) else None
      return Data(DataSpec("points", reference.shape[1:]), source, mixture, reference)
    images = load_images(config)
    resources.check_data(config, images.shape[1:], points=False)
    source = gdata.ArrayDataset(images, batch_size=d_steps * batch_size, seed=config.seed,
                                **process)
    return Data(DataSpec("image", images.shape[1:]), source, None, images[:num_reference])
  except gdata.DataError as e:
    raise UserError(str(e)) from None
