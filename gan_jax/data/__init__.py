"""Data for GANs: synthetic mixtures, local files and tensorflow-datasets, as numpy batches.

Loading returns uint8 images `[N, H, W, C]` (and int64 labels `[N]`) on the host;
`ArrayDataset`/`SyntheticDataset`/`FixedSyntheticDataset` turn data into deterministic,
resumable, per-process batches; `to_float` maps each uint8 batch to the generator's scale.
Every problem a user can fix raises `DataError` with a one-line message.
"""

from gan_jax.data.errors import DataError
from gan_jax.data.files import load_idx, load_npz, read_idx, split_slice
from gan_jax.data.pipeline import (SCALES, ArrayDataset, FixedSyntheticDataset,
                                   SyntheticDataset, to_float, to_uint8, to_unit_range)
from gan_jax.data.stacked import stacked_mnist
from gan_jax.data.synthetic import (
    TOY_DATASETS,
    Mixture,
    Sampler,
    gaussian_1d,
    grid,
    ring,
    sample_mixture,
    sample_points,
    swiss_roll,
    toy_defaults,
)
from gan_jax.data.tfds import DATASETS, center_crop_resize, load_tfds

__all__ = [
    "DATASETS",
    "SCALES",
    "TOY_DATASETS",
    "ArrayDataset",
    "DataError",
    "FixedSyntheticDataset",
    "Mixture",
    "Sampler",
    "SyntheticDataset",
    "center_crop_resize",
    "gaussian_1d",
    "grid",
    "load_idx",
    "load_npz",
    "load_tfds",
    "read_idx",
    "ring",
    "sample_mixture",
    "sample_points",
    "split_slice",
    "stacked_mnist",
    "swiss_roll",
    "to_float",
    "to_uint8",
    "to_unit_range",
    "toy_defaults",
]
