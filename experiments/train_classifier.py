r"""Trains the in-domain MNIST classifier used as the feature extractor of MNIST metrics.

Trains `gan_jax.metrics.MnistClassifier` on the 22,699 MNIST training images in
`--mnist_dir` (IDX files), prints its accuracy on the 10,000 test images and saves
its parameters with orbax to `--out` (a new directory):

  python -m experiments.train_classifier \
      --mnist_dir=../shared/data/mnist --out=./artifacts/mnist_classifier

Expected: 99.16% test accuracy with the defaults (1,500 steps of 128 images,
seed 0), in about 5 minutes on 2 busy CPU cores (323 s measured).
"""

import os
import sys
import time

from absl import flags

from experiments.command import parse_flags
from experiments.errors import UserError
from gan_jax import data
from gan_jax import metrics
from gan_jax import xla_cpu


def main(argv: list[str]) -> int:
  """Trains and saves the classifier; 2 with one line on stderr for a mistake."""
  fv = flags.FlagValues()
  flags.DEFINE_string("mnist_dir", "../shared/data/mnist",
                      "Folder with the MNIST IDX files (train-*, t10k-*).", flag_values=fv)
  flags.DEFINE_string("out", "./artifacts/mnist_classifier",
                      "New directory for the orbax checkpoint.", flag_values=fv)
  flags.DEFINE_integer("steps", 1500, "Adam steps.", flag_values=fv)
  flags.DEFINE_integer("batch_size", 128, "Training batch size.", flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of initialisation, shuffling and dropout.", flag_values=fv)
  try:
    parse_flags(fv, argv, __doc__)
    out = os.path.abspath(fv.out)
    if os.path.exists(out):
      raise UserError(f"--out={out} exists; pass a new --out or delete the old checkpoint")
    try:
      train_images, train_labels = data.load_idx(fv.mnist_dir, "train")
      test_images, test_labels = data.load_idx(fv.mnist_dir, "test")
    except data.DataError as e:
      raise UserError(f"--mnist_dir={fv.mnist_dir}: {e}") from None
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2

  start = time.time()
  params = metrics.train_classifier(
      train_images,
      train_labels,
      steps=fv.steps,
      batch_size=fv.batch_size,
      seed=fv.seed,
      log_every=max(1, fv.steps // 10),
  )
  train_seconds = time.time() - start
  test_accuracy = metrics.classifier_accuracy(params, test_images, test_labels)
  metrics.save_classifier(out, params)
  print(
      f"trained on {len(train_images)} images in {train_seconds:.1f}s; "
      f"test accuracy {100 * test_accuracy:.2f}% on {len(test_images)} images; saved to {out}"
  )
  return 0


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  sys.exit(main(sys.argv))
