"""Low-dimensional synthetic data, generated in-process from a seed.

A `Mixture` is an isotropic Gaussian mixture with uniform weights: `centers`
`[K, D]` and one `std`. Evaluation counts the modes a generator covers from the
same object, so the centers and the std stay plain, inspectable fields.

Constructors:

* `gaussian_1d()`: the one-dimensional N(4, 0.5^2) toy of Goodfellow et al. (2014).
* `ring()`: 8 Gaussians on a circle (Metz et al., 2017; Srivastava et al., 2017;
  Lin et al., 2018).
* `grid()`: the 5x5 grid of 25 Gaussians of VEEGAN and PacGAN.
* `swiss_roll()`: a sampler with no modes (Gulrajani et al., 2017 toy data).

Example:

  mixture = grid()
  x = sample_mixture(mixture, np.random.default_rng(0), 512)   # [512, 2] float32

References:
  Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
  Metz et al., "Unrolled Generative Adversarial Networks", ICLR 2017.
  Srivastava et al., "VEEGAN: Reducing Mode Collapse in GANs using Implicit
    Variational Learning", NeurIPS 2017.
  Lin et al., "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS 2018.
  Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.
"""

import functools
import inspect
import itertools
from typing import Callable, NamedTuple, Sequence

import numpy as np

from gan_jax.data.errors import DataError

# A sampler draws `n` points from one fixed distribution: (rng, n) -> [n, D] float32.
Sampler = Callable[[np.random.Generator, int], np.ndarray]


class Mixture(NamedTuple):
  """An equally weighted mixture of isotropic Gaussians.

  Attributes:
    centers: `[K, D]` float32, the mode means.
    std: the standard deviation of every mode, in every dimension.
  """

  centers: np.ndarray
  std: float

  @property
  def num_modes(self) -> int:
    return self.centers.shape[0]

  @property
  def dim(self) -> int:
    return self.centers.shape[1]


def _mixture(centers, std) -> Mixture:
  centers = np.asarray(centers, np.float32)
  if centers.ndim != 2 or centers.shape[0] == 0:
    raise DataError(f"mixture centers must have shape [K, D] with K >= 1, got {centers.shape}; "
                    "pass a 2-D array")
  if not std > 0:
    raise DataError(f"mixture std must be positive, got {std}; pass std > 0")
  return Mixture(centers=centers, std=float(std))


def gaussian_1d(mean: float = 4.0, std: float = 0.5) -> Mixture:
  """The one-dimensional Gaussian N(mean, std^2) as a one-mode mixture, `centers` `[1, 1]`."""
  return _mixture([[mean]], std)


def ring(num_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> Mixture:
  """`num_modes` Gaussians evenly spaced on a circle of `radius`, `centers` `[num_modes, 2]`.

  Mode k sits at angle 2*pi*k/num_modes, so mode 0 is at (radius, 0).
  """
  if num_modes < 1:
    raise DataError(f"ring needs num_modes >= 1, got {num_modes}")
  angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
  return _mixture(radius * np.stack([np.cos(angles), np.sin(angles)], axis=1), std)


def grid(values: Sequence[float] = (-4.0, -2.0, 0.0, 2.0, 4.0), std: float = 0.05) -> Mixture:
  """Gaussians at every point of `values` x `values`: 25 modes `[25, 2]` by default.

  The VEEGAN/PacGAN 2D-grid protocol: means on {-4, -2, 0, 2, 4}^2, std 0.05.
  """
  if len(values) == 0:
    raise DataError("grid needs at least one value")
  return _mixture(list(itertools.product(values, values)), std)


def sample_mixture(mixture: Mixture, rng: np.random.Generator, n: int) -> np.ndarray:
  """Draws `n` points, each from a uniformly chosen mode.

  Args:
    mixture: the `Mixture` to sample.
    rng: a numpy Generator; the only source of randomness.
    n: how many points.

  Returns:
    `[n, D]` float32.
  """
  modes = rng.integers(mixture.num_modes, size=n)
  noise = rng.standard_normal((n, mixture.dim))
  return (mixture.centers[modes] + mixture.std * noise).astype(np.float32)


def sample_points(mixture_or_sampler: "Mixture | Sampler", rng: np.random.Generator,
                  n: int) -> np.ndarray:
  """`n` points `[n, D]` float32 of a `Mixture` (`sample_mixture`) or a sampler."""
  if isinstance(mixture_or_sampler, Mixture):
    return sample_mixture(mixture_or_sampler, rng, n)
  return np.asarray(mixture_or_sampler(rng, n), np.float32)


def _sample_swiss_roll(
    rng: np.random.Generator, n: int, *, noise: float, scale: float
) -> np.ndarray:
  # Same parametrisation as sklearn.datasets.make_swiss_roll, keeping its (x, z) plane.
  t = 1.5 * np.pi * (1.0 + 2.0 * rng.uniform(size=n))
  points = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
  points = points + noise * rng.standard_normal((n, 2))
  return (scale * points).astype(np.float32)


def swiss_roll(noise: float = 0.25, scale: float = 1.0 / 7.5) -> Sampler:
  """A 2-D Swiss roll sampler `(rng, n) -> [n, 2]` float32 (no modes to count).

  Points are `scale * (t cos t, t sin t) + scale * noise * N(0, I)` with
  t ~ U(1.5 pi, 4.5 pi); the default scale 1/7.5 is the WGAN-GP toy setting and
  keeps the roll inside [-2, 2]^2.

  Args:
    noise: std of the Gaussian noise, in the units of the unscaled roll.
    scale: factor applied to the noisy points.

  Returns:
    A `Sampler` (a `functools.partial`; its `keywords` hold noise and scale).
  """
  if noise < 0:
    raise DataError(f"swiss_roll noise must be >= 0, got {noise}")
  return functools.partial(_sample_swiss_roll, noise=float(noise), scale=float(scale))


# The toy datasets by name. Each function's keyword defaults are the protocol it is
# used with (the seeds' N(4, 0.5); PacGAN's ring and grid; the WGAN-GP swiss roll), so
# configs read them from here: a new toy is its function plus one line.
TOY_DATASETS = {"gaussian_1d": gaussian_1d, "ring": ring, "grid": grid, "swiss_roll": swiss_roll}


def toy_defaults(name: str) -> dict:
  """The keyword defaults of `TOY_DATASETS[name]`, by parameter name."""
  return {p.name: p.default for p in inspect.signature(TOY_DATASETS[name]).parameters.values()
          if p.default is not inspect.Parameter.empty}
