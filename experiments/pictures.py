"""Pictures of samples: an image grid, or the samples over the real data.

* images: a grid of the generator's images for a fixed latent batch;
* 1-D points: a density histogram of the samples over the real data's density;
* 2-D points: a scatter of the samples over a scatter of real data.

Each function renders to an RGB uint8 array `[H, W, 3]` (TensorBoard takes it as
is) and `save_png` writes it.
"""

import math
import os
from typing import Optional

import numpy as np
import PIL.Image

from gan_jax import data as gdata


def image_grid(images: np.ndarray, scale: str) -> np.ndarray:
  """Tiles images `[N, H, W, C]` (in the model's `scale`) into one RGB uint8 picture.

  Returns:
    `[rows * (H + 1) + 1, cols * (W + 1) + 1, 3]` uint8, a one-pixel gray border
    between tiles.
  """
  images = gdata.to_uint8(images, scale)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  images = images[..., :3]
  n, h, w, _ = images.shape
  cols = math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  grid = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, 3), 128, np.uint8)
  for i, image in enumerate(images):
    r, c = divmod(i, cols)
    grid[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = image
  return grid


def _figure(width: float, height: float):
  # Imported here (most of a second; image runs never plot). The Agg canvas renders
  # to memory and needs no display and no pyplot.
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  figure = Figure(figsize=(width, height), dpi=80)
  FigureCanvasAgg(figure)
  return figure, figure.add_subplot()


def _render(figure) -> np.ndarray:
  figure.canvas.draw()
  return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def density_1d(samples: np.ndarray, reference: np.ndarray, *, title: str = "",
               mixture: Optional[gdata.Mixture] = None) -> np.ndarray:
  """Histogram of 1-D samples `[N, 1]` over the real density (exact for a mixture)."""
  samples, reference = np.ravel(samples), np.ravel(reference)
  low = min(np.percentile(reference, 0.1), np.percentile(samples, 0.5))
  high = max(np.percentile(reference, 99.9), np.percentile(samples, 99.5))
  pad = 0.1 * (high - low) + 1e-3
  bins = np.linspace(low - pad, high + pad, 80)
  figure, axes = _figure(6, 4)
  if mixture is not None:
    x = np.linspace(bins[0], bins[-1], 400)
    pdf = np.mean(
        np.exp(-0.5 * ((x[:, None] - mixture.centers[None, :, 0]) / mixture.std) ** 2), axis=1
    ) / (mixture.std * math.sqrt(2 * math.pi))
    axes.plot(x, pdf, color="black", label="real density")
  else:
    axes.hist(reference, bins=bins, density=True, color="0.7", label="real data")
  axes.hist(samples, bins=bins, density=True, alpha=0.6, color="tab:orange", label="samples")
  axes.set_title(title)
  axes.legend(loc="upper right")
  return _render(figure)


def scatter_2d(samples: np.ndarray, reference: np.ndarray, *, title: str = "") -> np.ndarray:
  """Scatter of 2-D samples `[N, 2]` over real data `[M, 2]`."""
  figure, axes = _figure(5, 5)
  axes.scatter(reference[:, 0], reference[:, 1], s=4, color="0.6", label="real data")
  axes.scatter(samples[:, 0], samples[:, 1], s=4, color="tab:orange", alpha=0.7, label="samples")
  both = np.concatenate([reference, samples[np.all(np.isfinite(samples), axis=1)]])
  low, high = np.percentile(both, 0.5, axis=0), np.percentile(both, 99.5, axis=0)
  pad = 0.1 * (high - low) + 0.1
  axes.set_xlim(low[0] - pad[0], high[0] + pad[0])
  axes.set_ylim(low[1] - pad[1], high[1] + pad[1])
  axes.set_aspect("equal")
  axes.set_title(title)
  axes.legend(loc="upper right")
  return _render(figure)


def picture(samples: np.ndarray, *, kind: str, reference: np.ndarray,
            scale: Optional[str] = None, mixture: Optional[gdata.Mixture] = None,
            title: str = "") -> np.ndarray:
  """The picture for `samples` of data of `kind` ("image" or "points")."""
  if kind == "image":
    return image_grid(samples, scale)
  samples = np.asarray(samples, np.float32).reshape(len(samples), -1)
  reference = np.asarray(reference, np.float32).reshape(len(reference), -1)
  if samples.shape[1] == 1:
    return density_1d(samples, reference, title=title, mixture=mixture)
  return scatter_2d(samples[:, :2], reference[:, :2], title=title)


def save_png(path: str, picture_rgb: np.ndarray) -> None:
  """Writes an RGB uint8 picture `[H, W, 3]` as a PNG file, whole or not at all."""
  tmp = f"{path}.tmp"
  try:
    PIL.Image.fromarray(picture_rgb).save(tmp, format="PNG")
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
