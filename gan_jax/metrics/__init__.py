"""Evaluation of generative models: mode coverage, 1-D distances, Parzen windows, feature metrics.

Sample-based metrics are pure (mostly jitted) functions of arrays:

* `mode_coverage`, `mode_histogram_kl`: mixtures with known modes (2-D rings and
  grids, Stacked MNIST) in the VEEGAN/PacGAN protocol; `mode_shape`: where the
  samples that miss a mode go (off-centre or wide modes, or between modes).
* `wasserstein_1d`, `ks_distance`: distances between 1-D samples.
* `parzen_log_likelihood`, `select_parzen_sigma`, `parzen_evaluate`: the Gaussian
  Parzen-window estimate of Goodfellow et al. (2014).
* `FeatureStats`, `frechet_distance`, `kernel_distance`, `classifier_score`,
  `precision_recall`, `class_coverage`: metrics of extractor features and class
  probabilities (FID, KID, IS, improved precision/recall in their usual sense when
  the extractor is Inception); `extract` runs any `images -> (features, logits)`
  function over a set of images.
* `inception`: the Inception-v3 of the standard FID in Flax, its reference
  preprocessing and its weights (`experiments/fid.py` computes FID and KID).
* `discriminator_overfitting`: how far the discriminator scores its training images
  above held-out ones (Karras et al. 2020's r_v and r_t, and the rank probability).
* `MnistClassifier` and friends: the in-domain MNIST extractor
  (`experiments/train_classifier.py` trains it).
"""

from gan_jax.metrics.classifier import (
    MnistClassifier,
    classifier_accuracy,
    classifier_features,
    init_classifier,
    load_classifier,
    make_classifier_train_step,
    save_classifier,
    to_unit_range,
    train_classifier,
)
from gan_jax.metrics import inception
from gan_jax.metrics.distances import kth_nearest_sq_distance, squared_distances, within_any_ball
from gan_jax.metrics.features import (
    FeatureStats,
    class_coverage,
    classifier_score,
    extract,
    frechet_distance,
    frechet_distance_from_features,
    kernel_distance,
    mean_and_covariance,
    precision_recall,
)
from gan_jax.metrics.modes import mode_coverage, mode_histogram_kl, mode_shape
from gan_jax.metrics.one_d import ks_distance, wasserstein_1d
from gan_jax.metrics.overfitting import discriminator_overfitting, rank_probability
from gan_jax.metrics.parzen import (
    parzen_evaluate,
    parzen_log_likelihood,
    parzen_log_likelihoods,
    select_parzen_sigma,
)

__all__ = [
    "FeatureStats",
    "MnistClassifier",
    "class_coverage",
    "classifier_accuracy",
    "classifier_features",
    "classifier_score",
    "discriminator_overfitting",
    "extract",
    "frechet_distance",
    "frechet_distance_from_features",
    "inception",
    "init_classifier",
    "kernel_distance",
    "ks_distance",
    "kth_nearest_sq_distance",
    "load_classifier",
    "make_classifier_train_step",
    "mean_and_covariance",
    "mode_coverage",
    "mode_histogram_kl",
    "mode_shape",
    "parzen_evaluate",
    "parzen_log_likelihood",
    "parzen_log_likelihoods",
    "precision_recall",
    "rank_probability",
    "save_classifier",
    "select_parzen_sigma",
    "squared_distances",
    "to_unit_range",
    "train_classifier",
    "wasserstein_1d",
    "within_any_ball",
]
