"""Image datasets from local files: MNIST-format IDX files and `.npz` archives.

Both loaders return `(images, labels)`: images uint8 `[N, H, W, C]` (0..255)
and labels int64 `[N]`. Nothing is downloaded; a user points the config at a
copy of the files they already have.

IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a big-endian header
of two zero bytes, a type byte (0x08 = uint8), the number of dimensions, then one
uint32 per dimension, then the data in C order. Files may be gzip-compressed.
"""

import gzip
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from gan_jax.data.errors import DataError

# IDX type byte -> numpy dtype (big-endian for multi-byte types).
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# Split name -> the file-name prefix MNIST uses for it.
_IDX_PREFIXES = {"train": "train", "test": "t10k"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: os.PathLike | str) -> np.ndarray:
  """Reads one IDX file, gzip-compressed or not (detected from its first bytes).

  Args:
    path: the file.

  Returns:
    The array with the shape and dtype its header declares (native byte order).

  Raises:
    DataError: when the file is missing, its magic number is not an IDX one, or
      its size does not match its header.
  """
  path = Path(path)
  if not path.is_file():
    raise DataError(f"IDX file {path} does not exist; check the data directory in the config")
  raw = path.read_bytes()
  if raw[:2] == _GZIP_MAGIC:
    try:
      raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
      raise DataError(f"{path} is a damaged gzip file ({e}); download or copy it again") from None
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
    raise DataError(f"{path} is not an IDX file (magic number {raw[:4].hex() or 'missing'}); "
                    "point the config at MNIST-format files such as train-images-idx3-ubyte.gz")
  dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
  header_size = 4 + 4 * ndim
  if len(raw) < header_size:
    raise DataError(f"{path} has a truncated IDX header ({len(raw)} bytes for {ndim} "
                    "dimensions); copy the file again")
  shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
  expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
  if len(raw) != expected:
    raise DataError(f"{path} holds {len(raw)} bytes but its IDX header {shape} says {expected}; "
                    "the file is truncated or corrupt, copy it again")
  data = np.frombuffer(raw, dtype, offset=header_size).reshape(shape)
  return data.astype(dtype.newbyteorder("="), copy=True)


def _find_one(directory: Path, pattern: str) -> Path:
  """The one file matching `pattern`; `x` next to `x.gz` counts as one (the plain file wins)."""
  matches = sorted(p for p in directory.glob(pattern) if p.is_file())
  if not matches:
    raise DataError(f"no file matching {pattern} in {directory}; copy the MNIST-format IDX files "
                    "there (e.g. train-images-idx3-ubyte.gz) or point the config at the right "
                    "directory")
  stems = {p.name.removesuffix(".gz") for p in matches}
  if len(stems) > 1:
    names = ", ".join(p.name for p in matches)
    raise DataError(f"several files match {pattern} in {directory} ({names}); keep one of them")
  plain = [p for p in matches if not p.name.endswith(".gz")]
  return plain[0] if plain else matches[0]


def split_slice(split: str) -> tuple[str, slice]:
  """A split's name and slice as tensorflow-datasets writes them, integers only.

  "train[:11349]" -> ("train", slice(None, 11349)); "test" -> ("test", slice(None)).

  Raises:
    DataError: brackets that hold no `start:stop` slice (steps and percentages too).
  """
  name, bracket, rest = split.partition("[")
  if not bracket:
    return split, slice(None)
  bounds = re.fullmatch(r"(-?\d+)?:(-?\d+)?\]", rest)
  if bounds is None:
    raise DataError(f"cannot read the slice in split {split!r}; write integers as "
                    "[start:stop], e.g. train[:10000] or test[5000:]")
  return name, slice(*(int(bound) if bound else None for bound in bounds.groups()))


def load_idx(directory: os.PathLike | str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
  """Loads an MNIST-format split (MNIST, Fashion-MNIST, KMNIST, EMNIST...) from IDX files.

  Looks in `directory` for `train-images*idx3*` and `train-labels*idx1*` (split
  "train") or `t10k-images*idx3*` and `t10k-labels*idx1*` (split "test"), so the
  standard names (`train-images-idx3-ubyte[.gz]`) and re-packed subsets
  (`train-images-first22699-idx3-ubyte.gz`) both load.

  Args:
    directory: the folder holding the IDX files.
    split: "train" or "test", or a slice of one as tensorflow-datasets writes it
      ("train[:11349]": the first 11,349 images; "train[-2000:]": the last 2,000).

  Returns:
    `(images, labels)`: uint8 `[N, H, W, 1]` and int64 `[N]`.

  Raises:
    DataError: missing directory or files, bad headers, or images and labels
      whose counts disagree.
  """
  name, part = split_slice(split)
  if name not in _IDX_PREFIXES:
    raise DataError(f"unknown IDX split {split!r}; use one of {sorted(_IDX_PREFIXES)}, or a "
                    "slice of one such as 'train[:10000]'")
  directory = Path(directory).expanduser()
  if not directory.is_dir():
    raise DataError(f"IDX data directory {directory} does not exist; set the config's data "
                    "directory to a folder holding the MNIST-format files")
  prefix = _IDX_PREFIXES[name]
  image_path = _find_one(directory, f"{prefix}-images*idx3*")
  label_path = _find_one(directory, f"{prefix}-labels*idx1*")
  images, labels = read_idx(image_path), read_idx(label_path)
  if images.ndim != 3 or images.dtype != np.uint8:
    raise DataError(f"{image_path} holds {images.dtype} {images.shape}, expected uint8 [N, H, W]; "
                    "point the config at an images file")
  if labels.ndim != 1:
    raise DataError(f"{label_path} holds shape {labels.shape}, expected [N]; point the config at "
                    "a labels file")
  if len(images) != len(labels):
    raise DataError(f"{image_path.name} has {len(images)} images but {label_path.name} has "
                    f"{len(labels)} labels; use files from the same release")
  images, labels = _take(images, labels, part, split, image_path.name)
  return images[..., None], labels.astype(np.int64)


def _take(images, labels, part: slice, split: str, source: str):
  """`images[part]` and `labels[part]` (None stays None); none selected: a DataError."""
  total, images = len(images), images[part]
  if not len(images):
    raise DataError(f"split {split!r} selects none of the {total} images of {source}; give a "
                    "slice within them")
  return images, None if labels is None else labels[part]


def load_npz(
    path: os.PathLike | str,
    split: str = "train",
    *,
    images_key: str = "x",
    labels_key: Optional[str] = None,
) -> tuple[np.ndarray, Optional[np.ndarray]]:
  """Loads images (and optionally labels) from a `.npz` archive.

  Write one with `np.savez(path, x=images_uint8, y=labels)`.

  Args:
    path: the `.npz` file.
    split: "train", the archive's one set of images, or a slice of it as
      tensorflow-datasets writes it ("train[:5000]").
    images_key: the array of uint8 images, `[N, H, W]` or `[N, H, W, C]`.
    labels_key: the array of integer labels `[N]`, or None for unlabelled data.

  Returns:
    `(images, labels)`: uint8 `[N, H, W, C]` and int64 `[N]` (None without
    `labels_key`).

  Raises:
    DataError: missing file or key, images that are not uint8 or not 3-/4-D,
      labels of the wrong length, a split other than "train" or an empty slice.
  """
  name, part = split_slice(split)
  if name != "train":
    raise DataError(f"split {split!r}: an .npz archive holds one set of images, split 'train'; "
                    "use train or a slice of it, e.g. train[:5000]")
  path = Path(path).expanduser()
  if not path.is_file():
    raise DataError(f".npz file {path} does not exist; point the config at an existing file")
  if not zipfile.is_zipfile(path):  # np.load would read any other file as a pickle.
    raise DataError(f"{path} is not an .npz archive (not a zip file); write it with "
                    "np.savez(path, x=images)")
  try:
    with np.load(path, allow_pickle=False) as archive:
      keys = list(archive.keys())
      for key in (images_key, labels_key):
        if key is not None and key not in archive:
          raise DataError(f"{path} has no array {key!r} (it has {keys}); store the images "
                          f"under {images_key!r}: np.savez(path, {images_key}=images)")
      images = archive[images_key]
      labels = archive[labels_key] if labels_key is not None else None
  except DataError:
    raise
  except ValueError as e:
    if "allow_pickle" in str(e):  # An object array: numpy would have to unpickle it.
      raise DataError(f"{path} holds an object array (pickled Python objects, never loaded); "
                      "store the images as a uint8 array: np.savez(path, x=images)") from None
    raise DataError(f"{path} is a damaged .npz archive ({_first_line(e)}); write it again "
                    "with np.savez") from None
  except Exception as e:  # pylint: disable=broad-except  (a damaged member fails anywhere)
    raise DataError(f"{path} is a damaged or truncated .npz archive ({_first_line(e)}); write "
                    "it again with np.savez") from None
  if images.dtype != np.uint8:
    raise DataError(f"{path}[{images_key!r}] is {images.dtype}; store images as uint8 0..255 "
                    "(e.g. np.round(x * 255).astype(np.uint8) for [0, 1] floats)")
  if images.ndim == 3:
    images = images[..., None]
  if images.ndim != 4:
    raise DataError(f"{path}[{images_key!r}] has shape {images.shape}; store images as "
                    "[N, H, W] or [N, H, W, C]")
  if labels is not None:
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
      raise DataError(f"{path}[{labels_key!r}] is {labels.dtype} {labels.shape}; store integer "
                      f"labels of shape [{len(images)}]")
    labels = labels.astype(np.int64)
  return _take(images, labels, part, split, path.name)


def _first_line(error: Exception) -> str:
  text = str(error).strip()
  return (text.splitlines()[0] if text else type(error).__name__)[:160]
