"""Stacked MNIST: three random digits as the channels of one colour image.

With 10 classes per channel there are 1000 modes; the label
`100 * d0 + 10 * d1 + d2` names the mode, and evaluation counts how many of the
1000 a generator covers (classifying each channel with a pretrained MNIST
classifier) and the KL divergence of the mode histogram from uniform.

References:
  Metz et al., "Unrolled Generative Adversarial Networks", ICLR 2017.
  Srivastava et al., "VEEGAN: Reducing Mode Collapse in GANs using Implicit
    Variational Learning", NeurIPS 2017.
  Lin et al., "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS 2018.
"""

import numpy as np

from gan_jax.data.errors import DataError

NUM_MODES = 1000


def stacked_mnist(
    images: np.ndarray, labels: np.ndarray, num: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
  """Builds `num` Stacked-MNIST images from MNIST digits drawn with replacement.

  Each output draws three digit indices uniformly (independently per channel)
  from `np.random.default_rng(seed)`; channel c is digit c.

  Args:
    images: uint8 MNIST digits `[N, 28, 28]` or `[N, 28, 28, 1]`.
    labels: integer digit labels `[N]` in 0..9.
    num: how many stacked images to build.
    seed: seed of the draw.

  Returns:
    `(images, labels)`: uint8 `[num, 28, 28, 3]` and int64 `[num]` in 0..999
    with label = 100 * l0 + 10 * l1 + l2 (l_c the digit in channel c).

  Raises:
    DataError: images that are not single-channel, labels of the wrong length
      or outside 0..9, or a negative `num`.
  """
  images = np.asarray(images)
  labels = np.asarray(labels)
  if images.ndim == 4 and images.shape[-1] == 1:
    images = images[..., 0]
  if images.ndim != 3:
    raise DataError(f"stacked_mnist needs single-channel digits [N, H, W(, 1)], got {images.shape}")
  if labels.shape != (len(images),) or len(images) == 0:
    raise DataError(f"stacked_mnist needs one label per digit: {len(images)} images, labels "
                    f"{labels.shape}")
  if labels.min() < 0 or labels.max() > 9:
    raise DataError(f"stacked_mnist needs digit labels in 0..9, got {labels.min()}..{labels.max()}")
  if num < 0:
    raise DataError(f"stacked_mnist num must be >= 0, got {num}")
  index = np.random.default_rng(seed).integers(len(images), size=(num, 3))
  stacked = np.stack([images[index[:, c]] for c in range(3)], axis=-1)
  digits = labels[index].astype(np.int64)
  return stacked, digits @ np.array([100, 10, 1], np.int64)
