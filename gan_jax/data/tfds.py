"""Image datasets from tensorflow-datasets, read without TensorFlow.

`load_tfds` reads a prepared dataset through `tfds.data_source` (random access
to ArrayRecord files, decoded with numpy/PIL), so only `tensorflow-datasets`,
not TensorFlow, is needed at training time. Nothing is downloaded: prepare the
data once on a machine with internet, in the ArrayRecord format,

  tfds build mnist --file_format=array_record --data_dir=DIR

and copy DIR to where `data_dir` (default `~/tensorflow_datasets` or
`$TFDS_DATA_DIR`) points.

Any TFDS dataset with an "image" feature loads; `DATASETS` holds the ones whose
label and image size are set here (CelebA is center-cropped to a square and
resized to 64x64, as in most GAN papers). TFDS split strings work as usual,
e.g. `split="train[:10%]"`.
"""

import os
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np
import PIL.Image
from gan_jax.data.errors import DataError


class _Spec(NamedTuple):
  label_key: Optional[str]  # None for unlabelled data
  image_size: Optional[int] = None  # square side to crop and resize to; None keeps the size


# Datasets whose labels and image size are known; other TFDS image datasets use
# their "label" feature when present and their stored size.
DATASETS = {
    "mnist": _Spec(label_key="label"),  # 28x28x1, 10 classes
    "fashion_mnist": _Spec(label_key="label"),  # 28x28x1, 10 classes
    "cifar10": _Spec(label_key="label"),  # 32x32x3, 10 classes
    "celeb_a": _Spec(label_key=None, image_size=64),  # 218x178x3 -> 64x64x3
}


def center_crop_resize(image: np.ndarray, size: int) -> np.ndarray:
  """Crops the central square of `image` `[H, W, C]`, resizes it to `[size, size, C]` (bicubic)."""
  height, width, channels = image.shape
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  pil = PIL.Image.fromarray(image[..., 0] if channels == 1 else image)
  pil = pil.crop((left, top, left + side, top + side))
  if side != size:
    pil = pil.resize((size, size), PIL.Image.Resampling.BICUBIC)
  return np.asarray(pil, np.uint8).reshape(size, size, channels)


def _explain(name: str, data_dir: Optional[str], error: Exception) -> DataError:
  """Turns an error of `tfds.data_source` into a one-line DataError with the fix.

  TFDS reports an unprepared dataset in several ways (an unsupported TFRecord
  format, an empty split dict), so the builder is asked what is on disk.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from tensorflow_datasets.core import file_adapters  # pylint: disable=g-import-not-at-top

  builder = tfds.builder(name, data_dir=data_dir)
  # builder.data_dir is ROOT/name[/config]/version.
  root = Path(builder.data_dir).parents[2 if builder.builder_config else 1]
  if not builder.is_prepared():
    return DataError(
        f"tensorflow-datasets {name!r} is not prepared (nothing at {builder.data_dir}) and nothing "
        f"is downloaded here: on a machine with internet run `tfds build {name} "
        f"--file_format=array_record --data_dir=DIR` (or python -c \"import tensorflow_datasets as "
        f"tfds; tfds.builder('{name}', data_dir='DIR', file_format='array_record')"
        f".download_and_prepare()\") and copy DIR's contents into {root}, or point the config at "
        f"local IDX/.npz files")
  stored = builder.info.available_file_formats()
  if not stored & set(file_adapters.FileFormat.with_random_access()):
    return DataError(
        f"tensorflow-datasets {name!r} at {builder.data_dir} is stored as "
        f"{', '.join(sorted(f.value for f in stored)) or 'an unknown format'}, which has no random "
        f"access; rebuild it with `tfds build {name} --file_format=array_record "
        f"--data_dir={root}` (or point the config at local IDX/.npz files)")
  message = str(error.args[0] if error.args else error).splitlines()[0].rstrip(".")
  return DataError(f"tensorflow-datasets {name!r} at {builder.data_dir}: {message}; "
                   "check the split name and the data_dir")


def load_tfds(
    name: str,
    split: str = "train",
    *,
    data_dir: Optional[os.PathLike | str] = None,
    image_size: Optional[int] = None,
) -> tuple[np.ndarray, Optional[np.ndarray]]:
  """Loads a prepared tensorflow-datasets image dataset into memory.

  Args:
    name: a TFDS name, e.g. one of `DATASETS` ("mnist", "fashion_mnist",
      "cifar10", "celeb_a").
    split: a TFDS split string ("train", "test", "train[:50%]", ...).
    data_dir: the TFDS data directory; None uses TFDS's default.
    image_size: crop to the central square and resize to this side; None uses
      the size in `DATASETS` (64 for celeb_a) or keeps the stored size.

  Returns:
    `(images, labels)`: uint8 `[N, H, W, C]` and int64 `[N]`, labels None for
    unlabelled datasets (celeb_a).

  Raises:
    DataError: unknown name or split, a dataset that is not prepared (or not
      stored as ArrayRecord), or one without an "image" feature.
  """
  # Imported here: TFDS takes seconds to import and only this function needs it.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  data_dir = None if data_dir is None else os.fspath(os.path.expanduser(data_dir))
  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
  except tfds.core.DatasetNotFoundError:
    raise DataError(
        f"unknown tensorflow-datasets name {name!r}; use a TFDS image dataset such as "
        f"{', '.join(sorted(DATASETS))}, or point the config at local IDX/.npz files") from None
  except (NotImplementedError, KeyError, ValueError) as e:
    raise _explain(name, data_dir, e) from None

  spec = DATASETS.get(name.split(":")[0])  # "mnist:3.0.1" names a version
  size = image_size or (spec.image_size if spec else None)
  num = len(source)
  if num == 0:
    raise DataError(f"tensorflow-datasets {name!r} split {split!r} is empty; choose another split")
  first = source[0]
  if "image" not in first:
    raise DataError(f"tensorflow-datasets {name!r} has no 'image' feature "
                    f"(it has {sorted(first)}); use an image dataset")
  label_key = spec.label_key if spec else ("label" if "label" in first else None)
  images = np.empty((num, *_prepare(first["image"], size).shape), np.uint8)
  labels = np.empty((num,), np.int64) if label_key else None
  for i in range(num):  # `source[i]`: the Sequence API, which TFDS's mocks also provide.
    example = first if i == 0 else source[i]
    image = _prepare(example["image"], size)
    if image.shape != images.shape[1:]:
      raise DataError(f"tensorflow-datasets {name!r} has images of shapes {images.shape[1:]} and "
                      f"{image.shape}; pass image_size to crop and resize them to one size")
    images[i] = image
    if labels is not None:
      labels[i] = example[label_key]
  return images, labels


def _prepare(image, size: Optional[int]) -> np.ndarray:
  image = np.asarray(image)
  if image.ndim == 2:
    image = image[..., None]
  if image.dtype != np.uint8:
    raise DataError(f"expected uint8 images from tensorflow-datasets, got {image.dtype}; "
                    "load this dataset with its own code")
  return image if size is None else center_crop_resize(image, size)
