"""Deterministic, resumable, sharded sources of numpy batches.

A source is a pure function of the step: `batch_at(step)` depends only on the
seed and the step, so a run resumed from a checkpoint at step s calls
`iterate(s)` and sees exactly the batches the uninterrupted run would have seen;
no iterator state needs checkpointing.

`batch_size` is always the GLOBAL batch. With several processes (hosts), each
takes its own contiguous `batch_size // process_count` slice of the global
batch, so the slices of all processes concatenate, in process order, to the
one-process batch. Pass `process_index=jax.process_index()` and
`process_count=jax.process_count()` at the call site; nothing here imports jax.

Images stay uint8 on the host; convert each batch with `to_float` right before
it is fed to the step (a float copy of a whole dataset would take 4x the memory).

Example:

  data = ArrayDataset(images, batch_size=256, seed=0,
                      process_index=jax.process_index(),
                      process_count=jax.process_count())
  for step, batch in enumerate(data.iterate(start_step), start=start_step):
    state, metrics = train_step(state, to_float(batch), jax.random.fold_in(key, step))
"""

from typing import Iterator, Optional, Union

import numpy as np

from gan_jax.data.errors import DataError
from gan_jax.data.synthetic import Mixture, Sampler, sample_points

# Name of a data scale -> (divisor, offset) with float = uint8 / divisor + offset;
# dividing (not multiplying by a rounded reciprocal) maps 255 to exactly 1.0.
SCALES = {
    "tanh": (127.5, -1.0),  # [-1, 1], for generators ending in tanh
    "sigmoid": (255.0, 0.0),  # [0, 1], for generators ending in sigmoid
}


def _scale(scale: str) -> tuple[float, float]:
  if scale not in SCALES:
    raise DataError(f"unknown data scale {scale!r}; use one of {sorted(SCALES)}")
  return SCALES[scale]


def to_float(images: np.ndarray, scale: str = "tanh") -> np.ndarray:
  """Maps uint8 images 0..255 to float32 in [-1, 1] ("tanh") or [0, 1] ("sigmoid").

  Args:
    images: uint8 array of any shape, e.g. a batch `[B, H, W, C]`.
    scale: "tanh" or "sigmoid".

  Returns:
    float32 array of the same shape; 0 maps to the low end, 255 to 1.
  """
  divisor, offset = _scale(scale)
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise DataError(f"to_float expects uint8 images, got {images.dtype}; "
                    "convert only raw 0..255 batches")
  return images.astype(np.float32) / np.float32(divisor) + np.float32(offset)


def to_uint8(images, scale: str = "tanh") -> np.ndarray:
  """Inverse of `to_float`: rounds to the nearest level and clips to 0..255.

  Args:
    images: float array (numpy or jax) in the data scale, any shape.
    scale: "tanh" or "sigmoid", as given to `to_float`.

  Returns:
    uint8 numpy array of the same shape.
  """
  divisor, offset = _scale(scale)
  levels = (np.asarray(images, np.float32) - offset) * divisor
  return np.clip(np.rint(levels), 0, 255).astype(np.uint8)


def to_unit_range(samples, scale: Optional[str]) -> np.ndarray:
  """Generator outputs in the data `scale` as [0, 1] float32 pixels, clipped; points
  (`scale` None) unchanged. The affine map of `to_float`: pixel 0 -> 0, 255 -> 1."""
  samples = np.asarray(samples, np.float32)
  if scale is None:
    return samples
  divisor, offset = _scale(scale)
  out = samples - offset  # float32, one copy: evaluation converts 26,000 images at once
  out *= np.float32(divisor / 255.0)
  return np.clip(out, 0.0, 1.0, out=out)


class _StepIndexed:
  """Iteration for sources defined by `batch_at(step)`."""

  def batch_at(self, step: int) -> np.ndarray:
    raise NotImplementedError

  def iterate(self, start_step: int = 0) -> Iterator[np.ndarray]:
    """Yields `batch_at(start_step)`, `batch_at(start_step + 1)`, ... forever."""
    step = _check_step(start_step)
    while True:
      yield self.batch_at(step)
      step += 1

  def __iter__(self) -> Iterator[np.ndarray]:
    return self.iterate(0)


def _check_step(step) -> int:
  if int(step) != step or step < 0:
    raise DataError(f"steps count from 0, got {step}; pass a non-negative integer step")
  return int(step)


def _check_sharding(batch_size: int, seed: int, process_index: int, process_count: int) -> int:
  """Validates the arguments shared by all sources; returns the per-process batch size."""
  if batch_size < 1:
    raise DataError(f"batch_size must be >= 1, got {batch_size}")
  if seed < 0:
    raise DataError(f"data seed must be a non-negative integer, got {seed}")
  if process_count < 1 or not 0 <= process_index < process_count:
    raise DataError(f"process_index {process_index} is outside 0..process_count-1 "
                    f"(process_count={process_count}); pass jax.process_index()/process_count()")
  if batch_size % process_count:
    raise DataError(f"global batch_size {batch_size} is not divisible by process_count "
                    f"{process_count}; use a multiple of {process_count}")
  return batch_size // process_count


def _check_source(mixture_or_sampler, owner: str) -> None:
  if not isinstance(mixture_or_sampler, Mixture) and not callable(mixture_or_sampler):
    raise DataError(f"{owner} needs a Mixture or a sampler (rng, n) -> [n, D], "
                    f"got {type(mixture_or_sampler).__name__}")


class ArrayDataset(_StepIndexed):
  """Batches of an in-memory array, reshuffled every epoch, indexed by step.

  The global batch at step s is a pure function of (seed, s): with N examples and
  global batch B there are `N // B` steps per epoch (the last N mod B examples of
  each epoch's order are dropped); step s belongs to epoch e = s // (N // B), whose
  order is `np.random.default_rng([seed, e]).permutation(N)`, and takes the
  (s mod (N // B))-th block of B indices of that order. Each process returns its
  contiguous slice `[process_index * B/P, (process_index + 1) * B/P)` of that block.

  Args:
    images: `[N, ...]` array (kept as given, typically uint8 `[N, H, W, C]`).
    batch_size: the global batch B, summed over processes.
    seed: non-negative integer seed of the shuffling.
    process_index: this process's index; pass `jax.process_index()`.
    process_count: the number of processes; pass `jax.process_count()`.

  Raises:
    DataError: B larger than N, B not divisible by the process count, or an
      invalid process index or seed.
  """

  def __init__(self, images: np.ndarray, *, batch_size: int, seed: int,
               process_index: int = 0, process_count: int = 1):
    self.local_batch_size = _check_sharding(batch_size, seed, process_index, process_count)
    if batch_size > len(images):
      raise DataError(f"batch_size {batch_size} is larger than the dataset ({len(images)} "
                      "examples); lower batch_size or load more data")
    self.images = images
    self.batch_size = batch_size
    self.seed = seed
    self.process_index = process_index
    self.process_count = process_count
    self.steps_per_epoch = len(images) // batch_size
    # One cached permutation: consecutive steps share an epoch, and the cache
    # does not change what batch_at returns.
    self._epoch, self._order = None, None

  def reseeded(self, seed: int) -> "ArrayDataset":
    """The same examples and batches in the order of another seed."""
    return ArrayDataset(self.images, batch_size=self.batch_size, seed=seed,
                        process_index=self.process_index, process_count=self.process_count)

  @property
  def num_examples(self) -> int:
    return len(self.images)

  def order(self, epoch: int) -> np.ndarray:
    """The permutation `[N]` of example indices that epoch `epoch` visits."""
    if epoch != self._epoch:
      rng = np.random.default_rng([self.seed, epoch])
      self._epoch, self._order = epoch, rng.permutation(len(self.images))
    return self._order

  def indices_at(self, step: int) -> np.ndarray:
    """Indices `[B / process_count]` of this process's examples at `step`."""
    epoch, position = divmod(_check_step(step), self.steps_per_epoch)
    start = position * self.batch_size + self.process_index * self.local_batch_size
    return self.order(epoch)[start:start + self.local_batch_size]

  def batch_at(self, step: int) -> np.ndarray:
    """This process's batch `[B / process_count, ...]` at `step` (a copy)."""
    return self.images[self.indices_at(step)]


class FixedSyntheticDataset(_StepIndexed):
  """A training set drawn once from a mixture or sampler, in fixed packs, as PacGAN's.

  PacGAN's toy experiments train on `num_points` points drawn once: member k of the
  `num_points` packs of `pack` members is a resample of those points with replacement,
  drawn for each k (its `GaussianPackingMixture`; with packs of 1 only about 63% of the
  points are ever used, 1 - e^-m of them with packs of m). The points are a pure
  function of (seed, num_points), so every packing degree of a seed packs the same
  points (PacGAN draws a new set for every packing degree and trial); the packs, of
  (seed, num_points, pack). Each epoch reshuffles the packs, not their members, as
  `ArrayDataset` reshuffles examples: a batch of B examples holds B/pack whole packs,
  pack j in rows `j*pack .. j*pack + pack - 1`, which `gan_jax.models.pack` joins again.

  Args:
    mixture_or_sampler: a `Mixture`, or a `Sampler` `(rng, n) -> [n, D]`.
    num_points: the size N of the set (PacGAN: 100,000).
    pack: the members of a pack, m (the discriminator's packing degree).
    batch_size: the global batch B in examples (B/m packs), summed over processes.
    seed, process_index, process_count: as `ArrayDataset`'s; each process takes a
      contiguous share of the packs.

  Raises:
    DataError: N or m under 1, B not divisible by m, B/m packs more than N or not
      divisible by the process count, a bad seed or process index.

  References:
    Lin et al., 2018, https://arxiv.org/abs/1712.04086 (code: fjxmlzn/PacGAN,
      `synthetic_data_experiments/PacGAN/pacgan/datasets.py`).
  """

  def __init__(self, mixture_or_sampler: Union[Mixture, Sampler], *, num_points: int,
               pack: int = 1, batch_size: int, seed: int, process_index: int = 0,
               process_count: int = 1):
    _check_source(mixture_or_sampler, "FixedSyntheticDataset")
    if num_points < 1 or pack < 1:
      raise DataError(f"a fixed set needs num_points >= 1 and packs of >= 1, got "
                      f"num_points={num_points}, pack={pack}")
    self.local_batch_size = _check_sharding(batch_size, seed, process_index, process_count)
    packs_per_batch = batch_size // pack
    if batch_size % pack or packs_per_batch % process_count:
      raise DataError(f"a batch of {batch_size} examples does not split into whole packs of "
                      f"{pack} for each of {process_count} process(es); use a multiple of "
                      f"{pack * process_count}")
    if packs_per_batch > num_points:
      raise DataError(f"a batch of {batch_size} examples is {packs_per_batch} packs of "
                      f"{pack}, more than the {num_points} packs of the fixed set; draw at "
                      f"least {packs_per_batch} points or lower batch_size")
    # Streams apart from a step's [seed, step] and an epoch's [seed, epoch].
    points = sample_points(mixture_or_sampler, np.random.default_rng([seed, num_points, 1]),
                           num_points)
    members = np.random.default_rng([seed, num_points, pack, 2]).integers(
        0, num_points, size=(num_points, pack))
    self.source, self.num_points, self.pack = mixture_or_sampler, num_points, pack
    self.batch_size, self.seed = batch_size, seed
    self.process_index, self.process_count = process_index, process_count
    self.packs = points[members]  # [N, m, D]
    self._order = ArrayDataset(self.packs, batch_size=packs_per_batch, seed=seed,
                               process_index=process_index, process_count=process_count)
    self.steps_per_epoch = self._order.steps_per_epoch

  def reseeded(self, seed: int) -> "FixedSyntheticDataset":
    """The same protocol with another seed: another set, another order (the same
    seed returns this source: its set is not drawn again)."""
    if seed == self.seed:
      return self
    return FixedSyntheticDataset(self.source, num_points=self.num_points, pack=self.pack,
                                 batch_size=self.batch_size, seed=seed,
                                 process_index=self.process_index,
                                 process_count=self.process_count)

  def batch_at(self, step: int) -> np.ndarray:
    """This process's examples `[B / process_count, D]` at `step`, packs in rows."""
    packs = self._order.batch_at(step)
    return packs.reshape(-1, *packs.shape[2:])


class SyntheticDataset(_StepIndexed):
  """Fresh samples of a mixture or sampler at every step, indexed by step.

  The global batch at step s is drawn with `np.random.default_rng([seed, s])`
  and process p keeps its contiguous slice of it, so the global batch is a pure
  function of (seed, s) whatever the number of processes: a run on two hosts sees
  exactly the data of a run on one. (Every process draws the whole global batch;
  for synthetic data that costs microseconds.)

  Args:
    mixture_or_sampler: a `Mixture`, or a `Sampler` `(rng, n) -> [n, D]`
      such as `swiss_roll()`.
    batch_size: the global batch B, summed over processes.
    seed: non-negative integer seed.
    process_index: this process's index; pass `jax.process_index()`.
    process_count: the number of processes; pass `jax.process_count()`.
  """

  def __init__(self, mixture_or_sampler: Union[Mixture, Sampler], *, batch_size: int, seed: int,
               process_index: int = 0, process_count: int = 1):
    self.local_batch_size = _check_sharding(batch_size, seed, process_index, process_count)
    _check_source(mixture_or_sampler, "SyntheticDataset")
    self.source = mixture_or_sampler
    self.batch_size = batch_size
    self.seed = seed
    self.process_index = process_index
    self.process_count = process_count

  def reseeded(self, seed: int) -> "SyntheticDataset":
    """The same source with another seed: other points at every step."""
    return SyntheticDataset(self.source, batch_size=self.batch_size, seed=seed,
                            process_index=self.process_index, process_count=self.process_count)

  def batch_at(self, step: int) -> np.ndarray:
    """This process's batch `[B / process_count, D]` float32 at `step`."""
    rng = np.random.default_rng([self.seed, _check_step(step)])
    batch = sample_points(self.source, rng, self.batch_size)
    start = self.process_index * self.local_batch_size
    return batch[start : start + self.local_batch_size]
