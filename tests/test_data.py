"""Tests for gan_jax.data: determinism, sharding, distributions, file formats, TFDS."""

import gzip
import io
import json
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core import constants as tfds_constants

from gan_jax import data

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


# ---------------------------------------------------------------------------
# ArrayDataset / SyntheticDataset


def _indexed_images(n):
  """`[n, 2]` int64 "images" whose rows are their own index, so batches reveal indices."""
  return np.stack([np.arange(n), -np.arange(n)], axis=1)


def test_batch_at_is_deterministic_and_equals_resumed_iteration():
  images = _indexed_images(103)
  a = data.ArrayDataset(images, batch_size=10, seed=7)
  b = data.ArrayDataset(images, batch_size=10, seed=7)
  uninterrupted = [batch for _, batch in zip(range(35), a)]
  for s in (0, 9, 10, 11, 23, 34):
    np.testing.assert_array_equal(b.batch_at(s), uninterrupted[s])
    resumed = data.ArrayDataset(images, batch_size=10, seed=7).iterate(s)
    for offset in range(35 - s):
      np.testing.assert_array_equal(next(resumed), uninterrupted[s + offset])
  # Out of order access gives the same batches as in-order access.
  np.testing.assert_array_equal(b.batch_at(3), uninterrupted[3])
  other_seed = data.ArrayDataset(images, batch_size=10, seed=8)
  assert not np.array_equal(other_seed.batch_at(0), uninterrupted[0])


def test_shards_are_disjoint_and_concatenate_to_global_batch():
  images = _indexed_images(64)
  global_ds = data.ArrayDataset(images, batch_size=12, seed=3)
  shards = [data.ArrayDataset(images, batch_size=12, seed=3, process_index=p, process_count=2)
            for p in range(2)]
  for step in range(20):  # crosses several epochs
    parts = [shard.batch_at(step) for shard in shards]
    assert all(part.shape == (6, 2) for part in parts)
    assert not set(parts[0][:, 0]) & set(parts[1][:, 0])
    np.testing.assert_array_equal(np.concatenate(parts), global_ds.batch_at(step))


def test_each_epoch_visits_every_kept_example_once():
  n, batch_size = 50, 8  # 6 steps per epoch, 2 examples dropped per epoch
  ds = data.ArrayDataset(_indexed_images(n), batch_size=batch_size, seed=0)
  assert ds.steps_per_epoch == n // batch_size
  epochs = []
  for epoch in range(3):
    seen = np.concatenate([ds.batch_at(epoch * ds.steps_per_epoch + i)[:, 0]
                           for i in range(ds.steps_per_epoch)])
    assert len(np.unique(seen)) == len(seen) == n - n % batch_size
    np.testing.assert_array_equal(np.sort(seen), np.sort(ds.order(epoch)[:len(seen)]))
    epochs.append(seen)
  assert not np.array_equal(epochs[0], epochs[1])  # reshuffled each epoch


def test_dataset_argument_errors():
  images = np.zeros((10, 2), np.uint8)
  with pytest.raises(data.DataError, match="larger than the dataset"):
    data.ArrayDataset(images, batch_size=11, seed=0)
  with pytest.raises(data.DataError, match="not divisible by process_count"):
    data.ArrayDataset(images, batch_size=5, seed=0, process_index=0, process_count=2)
  with pytest.raises(data.DataError, match="process_index"):
    data.ArrayDataset(images, batch_size=4, seed=0, process_index=2, process_count=2)
  with pytest.raises(data.DataError, match="non-negative"):
    data.ArrayDataset(images, batch_size=4, seed=0).batch_at(-1)


def test_synthetic_dataset_is_a_function_of_seed_and_step_whatever_the_processes():
  mixture = data.grid()
  ds = data.SyntheticDataset(mixture, batch_size=8, seed=1)
  first = [batch for _, batch in zip(range(5), ds)]
  assert first[0].shape == (8, 2) and first[0].dtype == np.float32
  np.testing.assert_array_equal(next(ds.iterate(3)), first[3])
  np.testing.assert_array_equal(ds.batch_at(4), first[4])
  assert not np.array_equal(first[0], first[1])
  shards = [data.SyntheticDataset(mixture, batch_size=8, seed=1, process_index=p, process_count=2)
            for p in range(2)]
  a, b = (shard.batch_at(0) for shard in shards)
  assert a.shape == b.shape == (4, 2) and not np.array_equal(a, b)
  np.testing.assert_array_equal(np.concatenate([a, b]), ds.batch_at(0))
  roll = data.SyntheticDataset(data.swiss_roll(), batch_size=6, seed=0)
  np.testing.assert_array_equal(roll.batch_at(2), roll.batch_at(2))


def test_a_fixed_synthetic_set_is_drawn_once_in_fixed_packs():
  """PacGAN's toy training set: N points drawn once, member k of the N packs a resample of
  them with replacement; epochs reshuffle whole packs; a pure function of (seed, step)."""
  n, pack, batch = 1_000, 2, 40  # 20 packs a batch, 50 steps an epoch
  ds = data.FixedSyntheticDataset(data.grid(), num_points=n, pack=pack, batch_size=batch, seed=3)
  assert ds.steps_per_epoch == 50 and ds.batch_at(0).shape == (batch, 2)
  epochs = [np.concatenate([ds.batch_at(e * 50 + i) for i in range(50)]).reshape(n, pack, 2)
            for e in range(2)]
  as_set = lambda packs: {p.tobytes() for p in packs}
  assert as_set(epochs[0]) == as_set(epochs[1]) == as_set(ds.packs)  # the same N packs
  assert not np.array_equal(epochs[0], epochs[1])  # in another order
  # The 2N members are drawn from N points: 1 - (1 - 1/N)^2N ~ 86.5% of them appear
  # (spread about 0.9 in a hundred at N = 1,000: the bound is over 4 spreads).
  points = np.unique(ds.packs.reshape(-1, 2), axis=0)
  assert abs(len(points) / n - (1 - (1 - 1 / n) ** (2 * n))) < 0.04
  assert np.abs(ds.packs[:, 0] - ds.packs[:, 1]).max() > 0  # members drawn apart
  again = data.FixedSyntheticDataset(data.grid(), num_points=n, pack=pack, batch_size=batch,
                                     seed=3)
  np.testing.assert_array_equal(again.batch_at(77), ds.batch_at(77))
  other = ds.reseeded(4)
  assert not np.array_equal(other.packs, ds.packs)
  np.testing.assert_array_equal(other.batch_at(5), data.FixedSyntheticDataset(
      data.grid(), num_points=n, pack=pack, batch_size=batch, seed=4).batch_at(5))
  shards = [data.FixedSyntheticDataset(data.grid(), num_points=n, pack=pack, batch_size=batch,
                                       seed=3, process_index=p, process_count=2)
            for p in range(2)]
  np.testing.assert_array_equal(np.concatenate([s.batch_at(9) for s in shards]), ds.batch_at(9))
  # Packs of 1 are a resample too: 1 - (1 - 1/N)^N ~ 63.2% of the points appear (spread
  # about 0.3 in a hundred at N = 10,000: the bound is over 6 spreads).
  single = data.FixedSyntheticDataset(data.ring(), num_points=10_000, batch_size=100, seed=0)
  distinct = len(np.unique(single.packs.reshape(-1, 2), axis=0)) / 10_000
  assert abs(distinct - (1 - (1 - 1e-4) ** 10_000)) < 0.02
  roll = data.FixedSyntheticDataset(data.swiss_roll(), num_points=50, batch_size=10, seed=0)
  assert roll.batch_at(0).shape == (10, 2)
  # Every packing degree of a seed packs the same N points (drawn apart, the 6N members of
  # packs of 2 and 4 would hold about 1.85N distinct points).
  pack4 = data.FixedSyntheticDataset(data.grid(), num_points=n, pack=4, batch_size=40, seed=3)
  assert len(np.unique(np.concatenate([pack4.packs, ds.packs], 1).reshape(-1, 2), axis=0)) <= n
  with pytest.raises(data.DataError, match="whole packs of 3 .* a multiple of 3"):
    data.FixedSyntheticDataset(data.grid(), num_points=n, pack=3, batch_size=40, seed=0)
  with pytest.raises(data.DataError, match="whole packs of 4 for each of 4 .* multiple of 16"):
    data.FixedSyntheticDataset(data.grid(), num_points=n, pack=4, batch_size=8, seed=0,
                               process_count=4)
  with pytest.raises(data.DataError, match="num_points >= 1"):
    data.FixedSyntheticDataset(data.grid(), num_points=0, batch_size=40, seed=0)
  with pytest.raises(data.DataError, match="20 packs of 2, more than the 10 packs"):
    data.FixedSyntheticDataset(data.grid(), num_points=10, pack=2, batch_size=40, seed=0)
  with pytest.raises(data.DataError, match="needs a Mixture or a sampler"):
    data.FixedSyntheticDataset(3, num_points=10, batch_size=4, seed=0)


def test_to_float_and_back():
  levels = np.arange(256, dtype=np.uint8)
  tanh = data.to_float(levels, "tanh")
  sigmoid = data.to_float(levels, "sigmoid")
  assert tanh.dtype == sigmoid.dtype == np.float32
  assert (tanh[0], tanh[-1], sigmoid[0], sigmoid[-1]) == (-1.0, 1.0, 0.0, 1.0)
  np.testing.assert_array_equal(data.to_uint8(tanh, "tanh"), levels)
  np.testing.assert_array_equal(data.to_uint8(sigmoid, "sigmoid"), levels)
  np.testing.assert_array_equal(data.to_uint8(np.array([-3.0, 3.0]), "tanh"), [0, 255])
  with pytest.raises(data.DataError, match="unknown data scale"):
    data.to_float(levels, "relu")
  with pytest.raises(data.DataError, match="uint8"):
    data.to_float(tanh)


# ---------------------------------------------------------------------------
# Synthetic distributions


def _nearest_mode(x, centers):
  return np.argmin(((x[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)


@pytest.mark.parametrize("mixture, num_modes", [
    (data.gaussian_1d(), 1),
    (data.ring(), 8),
    (data.grid(), 25),
])
def test_mixture_modes_means_and_stds(mixture, num_modes):
  n = 50_000
  x = data.sample_mixture(mixture, np.random.default_rng(0), n)
  assert x.shape == (n, mixture.centers.shape[1]) and x.dtype == np.float32
  assert mixture.num_modes == num_modes
  modes = _nearest_mode(x, mixture.centers)
  counts = np.bincount(modes, minlength=num_modes)
  # Uniform weights: each count is Binomial(n, 1/K); 5 standard deviations.
  p = 1.0 / num_modes
  assert np.all(np.abs(counts - n * p) < 5 * np.sqrt(n * p * (1 - p)) + 1)
  for k in range(num_modes):
    members = x[modes == k]
    # Standard errors: std/sqrt(m) for the mean, std/sqrt(2m) for the std.
    np.testing.assert_allclose(members.mean(0), mixture.centers[k],
                               atol=5 * mixture.std / np.sqrt(len(members)))
    np.testing.assert_allclose(members.std(0), mixture.std,
                               atol=5 * mixture.std / np.sqrt(2 * len(members)))


def test_mixture_geometry():
  np.testing.assert_array_equal(data.gaussian_1d().centers, [[4.0]])
  assert data.gaussian_1d().std == 0.5
  ring = data.ring(num_modes=8, radius=2.0)
  np.testing.assert_allclose(np.linalg.norm(ring.centers, axis=1), 2.0, rtol=1e-6)
  np.testing.assert_allclose(ring.centers[0], [2.0, 0.0], atol=1e-6)
  grid = data.grid()
  assert grid.centers.shape == (25, 2) and grid.std == 0.05
  assert set(map(tuple, grid.centers.tolist())) == {
      (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}


def test_swiss_roll():
  x = data.swiss_roll(noise=0.0)(np.random.default_rng(0), 2000)
  assert x.shape == (2000, 2) and x.dtype == np.float32
  radius = np.linalg.norm(x, axis=1) * 7.5  # noiseless: |(t cos t, t sin t)| = t
  assert radius.min() >= 1.5 * np.pi - 1e-3 and radius.max() <= 4.5 * np.pi + 1e-3
  assert np.abs(x).max() < 2.0


def test_sample_points_draws_a_mixture_or_a_sampler():
  ring = data.ring()
  np.testing.assert_array_equal(data.sample_points(ring, np.random.default_rng(3), 5),
                                data.sample_mixture(ring, np.random.default_rng(3), 5))
  points = data.sample_points(lambda rng, n: rng.standard_normal((n, 3)),
                              np.random.default_rng(3), 5)
  assert points.dtype == np.float32
  np.testing.assert_array_equal(points, np.random.default_rng(3).standard_normal((5, 3))
                                .astype(np.float32))


# ---------------------------------------------------------------------------
# Local files


def _idx_bytes(array):
  header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
  return header + array.astype(np.uint8).tobytes()


def _write_idx_pair(directory, split_prefix, images, labels, *, compress, middle=""):
  opener = gzip.open if compress else open
  suffix = ".gz" if compress else ""
  with opener(directory / f"{split_prefix}-images{middle}-idx3-ubyte{suffix}", "wb") as f:
    f.write(_idx_bytes(images))
  with opener(directory / f"{split_prefix}-labels{middle}-idx1-ubyte{suffix}", "wb") as f:
    f.write(_idx_bytes(labels))


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)  # non-square catches H/W swaps
  labels = rng.integers(0, 10, 7).astype(np.uint8)
  _write_idx_pair(tmp_path, "train", images, labels, compress=compress)
  _write_idx_pair(tmp_path, "t10k", images[:3], labels[:3], compress=compress, middle="-first3")
  got_images, got_labels = data.load_idx(tmp_path, "train")
  assert got_images.shape == (7, 5, 4, 1) and got_images.dtype == np.uint8
  np.testing.assert_array_equal(got_images[..., 0], images)
  np.testing.assert_array_equal(got_labels, labels)
  assert got_labels.dtype == np.int64
  test_images, _ = data.load_idx(tmp_path, "test")
  np.testing.assert_array_equal(test_images[..., 0], images[:3])


def test_idx_splits_slice_as_tensorflow_datasets_writes_them(tmp_path):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
  labels = np.arange(7, dtype=np.uint8)
  _write_idx_pair(tmp_path, "train", images, labels, compress=False)
  for split, part in (("train[:3]", slice(None, 3)), ("train[2:]", slice(2, None)),
                      ("train[-2:]", slice(-2, None)), ("train[1:-1]", slice(1, -1)),
                      ("train[:]", slice(None))):
    got_images, got_labels = data.load_idx(tmp_path, split)
    np.testing.assert_array_equal(got_images[..., 0], images[part])
    np.testing.assert_array_equal(got_labels, labels[part])
  with pytest.raises(data.DataError, match="selects none of the 7 images"):
    data.load_idx(tmp_path, "train[7:]")
  for bad in ("train[:3", "train[a:b]", "train[::2]", "train[50%:]", "train[-:5]", "train[]"):
    with pytest.raises(data.DataError, match=r"cannot read the slice.*\[start:stop\]"):
      data.load_idx(tmp_path, bad)
  with pytest.raises(data.DataError, match=r"unknown IDX split.*train\[:10000\]"):
    data.load_idx(tmp_path, "validation[:3]")


def test_idx_errors(tmp_path):
  with pytest.raises(data.DataError, match="does not exist"):
    data.load_idx(tmp_path / "missing")
  with pytest.raises(data.DataError, match="no file matching"):
    data.load_idx(tmp_path)
  images = np.zeros((4, 3, 3), np.uint8)
  labels = np.zeros(4, np.uint8)
  _write_idx_pair(tmp_path, "train", images, labels, compress=False)
  bad = tmp_path / "train-images-idx3-ubyte"
  bad.write_bytes(b"\x08\x03\x00\x00" + _idx_bytes(images)[4:])  # wrong magic
  with pytest.raises(data.DataError, match="not an IDX file"):
    data.load_idx(tmp_path)
  bad.write_bytes(_idx_bytes(images)[:-5])  # truncated
  with pytest.raises(data.DataError, match="truncated or corrupt"):
    data.load_idx(tmp_path)
  bad.write_bytes(_idx_bytes(images[:3]))  # 3 images, 4 labels
  with pytest.raises(data.DataError, match="3 images but"):
    data.load_idx(tmp_path)
  with pytest.raises(data.DataError, match="unknown IDX split"):
    data.load_idx(tmp_path, "validation")


def test_real_mnist_files():
  if not MNIST_DIR.is_dir():
    pytest.skip(f"real MNIST files not found at {MNIST_DIR}")
  test_images, test_labels = data.load_idx(MNIST_DIR, "test")
  assert test_images.shape == (10_000, 28, 28, 1) and test_images.dtype == np.uint8
  np.testing.assert_array_equal(np.bincount(test_labels),
                                [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
  train_images, train_labels = data.load_idx(MNIST_DIR, "train")
  assert train_images.shape == (22_699, 28, 28, 1)
  np.testing.assert_array_equal(train_labels[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
  assert train_images.max() == 255 and train_images.min() == 0


def test_npz(tmp_path):
  images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
  np.savez(tmp_path / "d.npz", x=images, y=np.array([3, 1]))
  got, labels = data.load_npz(tmp_path / "d.npz", labels_key="y")
  np.testing.assert_array_equal(got, images[..., None])
  np.testing.assert_array_equal(labels, [3, 1])
  assert data.load_npz(tmp_path / "d.npz")[1] is None
  with pytest.raises(data.DataError, match="no array 'images'"):
    data.load_npz(tmp_path / "d.npz", images_key="images")
  np.savez(tmp_path / "f.npz", x=images / 255.0)
  with pytest.raises(data.DataError, match="uint8"):
    data.load_npz(tmp_path / "f.npz")


def test_npz_slices(tmp_path):
  images, labels = np.arange(5 * 2 * 2, dtype=np.uint8).reshape(5, 2, 2), np.arange(5) * 7
  np.savez(tmp_path / "d.npz", x=images, y=labels)
  for split, part in (("train[:3]", slice(None, 3)), ("train[-2:]", slice(-2, None)),
                      ("train[1:-1]", slice(1, -1)), ("train", slice(None))):
    got, got_labels = data.load_npz(tmp_path / "d.npz", split, labels_key="y")
    np.testing.assert_array_equal(got, images[part][..., None])
    np.testing.assert_array_equal(got_labels, labels[part])
  # An archive has one set of images: another split name is an error, never the same images.
  for split, message in (("test", "one set of images"), ("train[3:3]", "selects none of the 5"),
                         ("train[x]", "cannot read the slice")):
    with pytest.raises(data.DataError, match=re.escape(message)) as e:
      data.load_npz(tmp_path / "d.npz", split)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------
# tensorflow-datasets


def test_tfds_unprepared_dataset_says_how_to_fix(tmp_path, monkeypatch):
  with pytest.raises(data.DataError, match=r"not prepared.*tfds build mnist") as e:
    data.load_tfds("mnist", "train", data_dir=tmp_path)
  assert "\n" not in str(e.value)
  assert "IDX/.npz" in str(e.value)
  # Without data_dir TFDS takes another path (and fails differently) inside data_source.
  monkeypatch.setattr(tfds_constants, "DATA_DIR", str(tmp_path / "default"))
  with pytest.raises(data.DataError, match=r"not prepared \(nothing at .*default.*tfds build"):
    data.load_tfds("cifar10", "train")


def test_tfds_unknown_name():
  with pytest.raises(data.DataError, match="unknown tensorflow-datasets name"):
    data.load_tfds("no_such_dataset_xyz", "train")


def _png(array):
  buffer = io.BytesIO()
  PIL.Image.fromarray(array).save(buffer, format="PNG")
  return buffer.getvalue()


@pytest.fixture(scope="module")
def local_mnist_dir(tmp_path_factory):
  """A data_dir holding a tiny dataset named "mnist" in ArrayRecord files, built here.

  It stands in for `tfds build mnist --file_format=array_record` run elsewhere: the
  registered MNIST builder then reads it back. Images are given as PNG bytes
  because encoding arrays needs TensorFlow.
  """
  data_dir = tmp_path_factory.mktemp("tfds")
  sizes = {"train": 20, "test": 7}

  with tfds.core.registered.skip_registration():

    class LocalMnist(tfds.core.GeneratorBasedBuilder):
      name = "mnist"
      VERSION = tfds.core.Version("3.0.1")
      code_path = None  # no source file to look up checksums next to

      def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(28, 28, 1)),
                "label": tfds.features.ClassLabel(num_classes=10),
            }),
            supervised_keys=("image", "label"))

      def _split_generators(self, dl_manager):
        return {split: self._generate_examples(n) for split, n in sizes.items()}

      def _generate_examples(self, n):
        for i in range(n):
          # The digit is written into the pixels so the test can match images to labels.
          image = np.full((28, 28), 10 * (i % 10), np.uint8)
          yield i, {"image": _png(image), "label": i % 10}

  LocalMnist(data_dir=data_dir, file_format="array_record").download_and_prepare()
  return data_dir, sizes


def test_tfds_reads_locally_built_dataset(local_mnist_dir):
  data_dir, sizes = local_mnist_dir
  for split, n in sizes.items():
    images, labels = data.load_tfds("mnist", split, data_dir=data_dir)
    assert images.shape == (n, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    np.testing.assert_array_equal(images[:, 0, 0, 0], 10 * labels)
    np.testing.assert_array_equal(np.sort(labels), np.sort(np.arange(n) % 10))
  images, _ = data.load_tfds("mnist", "train[:5]", data_dir=data_dir)
  assert images.shape == (5, 28, 28, 1)
  small, _ = data.load_tfds("mnist", "test", data_dir=data_dir, image_size=14)
  assert small.shape == (7, 14, 14, 1)
  with pytest.raises(data.DataError, match="Unknown split 'validation'"):
    data.load_tfds("mnist", "validation", data_dir=data_dir)


def test_tfds_dataset_stored_without_random_access(local_mnist_dir, tmp_path):
  data_dir, _ = local_mnist_dir
  copy = tmp_path / "tfrecord_dir"
  shutil.copytree(data_dir, copy)
  info_path = copy / "mnist" / "3.0.1" / "dataset_info.json"
  info = json.loads(info_path.read_text())
  info["fileFormat"] = "tfrecord"  # as left by a plain `tfds build mnist`
  info_path.write_text(json.dumps(info))
  with pytest.raises(data.DataError, match="stored as tfrecord.*--file_format=array_record"):
    data.load_tfds("mnist", "train", data_dir=copy)


@pytest.mark.parametrize("name, shape, labelled", [
    ("mnist", (28, 28, 1), True),
    ("fashion_mnist", (28, 28, 1), True),
    ("cifar10", (32, 32, 3), True),
    ("celeb_a", (64, 64, 3), False),
])
def test_tfds_mocked_datasets(name, shape, labelled):
  with tfds.testing.mock_data(num_examples=4):
    images, labels = data.load_tfds(name, "train")
  assert images.shape == (4, *shape) and images.dtype == np.uint8
  if labelled:
    assert labels.shape == (4,) and labels.min() >= 0 and labels.max() < 10
  else:
    assert labels is None


# ---------------------------------------------------------------------------
# Stacked MNIST


def test_stacked_mnist_labels_decode_to_channel_digits():
  n = 30
  labels = np.arange(n) % 10
  # Digit i is the constant image i, so every channel reveals which digit it holds.
  images = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 28, 28, 1))
  stacked, stacked_labels = data.stacked_mnist(images, labels, num=500, seed=0)
  assert stacked.shape == (500, 28, 28, 3) and stacked.dtype == np.uint8
  assert stacked_labels.shape == (500,)
  assert stacked_labels.min() >= 0 and stacked_labels.max() < 1000
  source = stacked[:, 0, 0, :]  # [num, 3] digit indices
  digits = labels[source]
  np.testing.assert_array_equal(stacked_labels,
                                100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2])
  np.testing.assert_array_equal(stacked_labels // 100, digits[:, 0])
  np.testing.assert_array_equal(stacked_labels // 10 % 10, digits[:, 1])
  np.testing.assert_array_equal(stacked_labels % 10, digits[:, 2])
  assert np.all((stacked == stacked[:, :1, :1, :]).all(axis=(1, 2)))  # channels are whole digits
  again, _ = data.stacked_mnist(images, labels, num=500, seed=0)
  np.testing.assert_array_equal(again, stacked)
  # Uniform over 1000 modes: 5000 draws leave about 1000 * exp(-5) = 7 modes unseen.
  _, many = data.stacked_mnist(images, labels, num=5000, seed=1)
  assert len(np.unique(many)) > 980


def test_stacked_mnist_rejects_bad_labels():
  with pytest.raises(data.DataError, match="0..9"):
    data.stacked_mnist(np.zeros((3, 28, 28), np.uint8), np.array([0, 1, 10]), num=2, seed=0)


@pytest.mark.parametrize("scale", sorted(data.SCALES))
def test_to_unit_range_inverts_to_float_onto_pixels_over_255(scale):
  levels = np.arange(256, dtype=np.uint8)
  np.testing.assert_allclose(data.to_unit_range(data.to_float(levels, scale), scale),
                             levels / 255.0, atol=1e-6)
  outside = data.to_unit_range(np.array([-5.0, 5.0]), scale)  # Beyond the range: clipped.
  np.testing.assert_array_equal(outside, [0.0, 1.0])
  points = np.array([[-3.0, 7.0]], np.float32)
  np.testing.assert_array_equal(data.to_unit_range(points, None), points)


def test_each_toy_datasets_defaults_are_its_functions_and_build_it():
  assert set(data.TOY_DATASETS) >= {"gaussian_1d", "ring", "grid", "swiss_roll"}
  for name, factory in data.TOY_DATASETS.items():
    defaults = data.toy_defaults(name)
    assert defaults, name  # every toy has a protocol
    built = factory(**defaults)
    assert isinstance(built, data.Mixture) or callable(built), name
  assert data.toy_defaults("ring") == {"num_modes": 8, "radius": 1.0, "std": 0.01}
