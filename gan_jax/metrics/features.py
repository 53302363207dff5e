"""Metrics on the features and class probabilities of a fixed feature extractor.

Every metric here takes features (or probabilities), never images or networks:
the extractor is any pure `images -> (features, logits)` function, run once over
a set of images by `extract`. `gan_jax.metrics.classifier` provides an in-domain
MNIST one; a user with Inception weights plugs in theirs and gets FID/KID/IS in
the standard sense. Numbers computed with different extractors (or different
sample counts) are not comparable.

* `FeatureStats`, `frechet_distance`: the Frechet distance between Gaussians fitted
  to real and generated features (FID when the features are Inception pool3).
* `kernel_distance`: the unbiased squared MMD with a cubic polynomial kernel (KID).
* `classifier_score`: `exp E_x KL(p(y|x) || p(y))` (the Inception Score's formula).
* `precision_recall`: k-NN manifold precision and recall.
* `class_coverage`: how many classes the generator hits and how evenly.

Float32 is the default on accelerators; for publication-grade FID on 2048-d
features compute the statistics and the distance with 64-bit types enabled
(`with jax.enable_x64(True): ...`, or `JAX_ENABLE_X64=1`).
"""

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy

from gan_jax.metrics import distances
from gan_jax.metrics import modes

_HIGHEST = jax.lax.Precision.HIGHEST


def _kahan_add(total: jax.Array, compensation: jax.Array, value: jax.Array):
  """Compensated summation: `total - compensation` tracks the exact running sum.

  `compensation` holds the (negated) low-order bits that `total + value` rounded
  away; adding it back at the next step keeps the error O(eps), not O(n eps).
  """
  corrected = value - compensation
  new_total = total + corrected
  return new_total, (new_total - total) - corrected


class FeatureStats(NamedTuple):
  """Streaming first and second moments of features, as a pytree.

  Accumulate batch by batch (inside `jit`, a `lax.scan`, or a host loop), combine
  shards with `jax.lax.psum(stats, axis_name)` (every field is a plain sum) or
  with `+`-style `merge`, then read `mean_and_covariance()`:

    stats = FeatureStats.zeros(128)
    for batch in batches:
      stats = update(stats, features_of(batch))  # update = jax.jit(FeatureStats.update)
    mu, cov = stats.mean_and_covariance()

  The sums use Kahan-compensated addition across batches, so float32 on device
  loses no more than one batch's rounding however many batches there are; with
  64-bit types enabled, `FeatureStats.zeros(dim, jnp.float64)` accumulates in float64.

  Attributes:
    count: `[]` number of feature vectors seen.
    total: `[F]` sum of features.
    outer: `[F, F]` sum of outer products `f f^T`.
    total_compensation: `[F]` Kahan compensation of `total`.
    outer_compensation: `[F, F]` Kahan compensation of `outer`.
  """

  count: jax.Array
  total: jax.Array
  outer: jax.Array
  total_compensation: jax.Array
  outer_compensation: jax.Array

  @classmethod
  def zeros(cls, num_features: int, dtype=jnp.float32) -> "FeatureStats":
    """Empty statistics for `num_features`-dimensional features."""
    vec = jnp.zeros((num_features,), dtype)
    mat = jnp.zeros((num_features, num_features), dtype)
    return cls(jnp.zeros((), dtype), vec, mat, vec, mat)

  def update(self, features: jax.Array, valid: jax.Array | None = None) -> "FeatureStats":
    """Adds a batch `[B, F]`; `valid` `[B]` bool masks out padding rows."""
    features = jnp.asarray(features, self.total.dtype)
    if valid is not None:
      features = features * valid[:, None].astype(features.dtype)
      batch_count = jnp.sum(valid.astype(features.dtype))
    else:
      batch_count = jnp.asarray(features.shape[0], features.dtype)
    total, total_c = _kahan_add(
        self.total, self.total_compensation, jnp.sum(features, axis=0)
    )
    outer, outer_c = _kahan_add(
        self.outer,
        self.outer_compensation,
        jnp.matmul(features.T, features, precision=_HIGHEST),
    )
    return FeatureStats(self.count + batch_count, total, outer, total_c, outer_c)

  def merge(self, other: "FeatureStats") -> "FeatureStats":
    """The statistics of the union of two disjoint sets of features."""
    return jax.tree.map(jnp.add, self, other)

  def mean_and_covariance(self) -> tuple[jax.Array, jax.Array]:
    """`(mean [F], covariance [F, F])`, the covariance unbiased (`np.cov`'s `1/(n-1)`)."""
    total = self.total - self.total_compensation
    outer = self.outer - self.outer_compensation
    mean = total / self.count
    # sum (f - mu)(f - mu)^T = sum f f^T - n mu mu^T
    scatter = outer - self.count * jnp.outer(mean, mean)
    cov = scatter / (self.count - 1)
    return mean, 0.5 * (cov + cov.T)


def mean_and_covariance(features: jax.Array) -> tuple[jax.Array, jax.Array]:
  """One-shot `(mean [F], covariance [F, F])` of `features` `[N, F]` (unbiased)."""
  features = jnp.asarray(features)
  mean = jnp.mean(features, axis=0)
  centered = features - mean
  cov = jnp.matmul(centered.T, centered, precision=_HIGHEST) / (features.shape[0] - 1)
  return mean, cov


def _sqrtm_psd(matrix: jax.Array) -> jax.Array:
  """Symmetric PSD square root via `eigh`; rounding-negative eigenvalues clip to 0."""
  eigvals, eigvecs = jnp.linalg.eigh(matrix)
  root = jnp.sqrt(jnp.maximum(eigvals, 0.0))
  return jnp.matmul(eigvecs * root, eigvecs.T, precision=_HIGHEST)


@jax.jit
def frechet_distance(
    mu1: jax.Array, cov1: jax.Array, mu2: jax.Array, cov2: jax.Array
) -> jax.Array:
  """Squared Frechet (2-Wasserstein) distance between two Gaussians.

    d^2 = ||mu1 - mu2||^2 + tr(cov1) + tr(cov2) - 2 tr((cov1 cov2)^{1/2}).

  `cov1 cov2` is not symmetric, and the usual `scipy.linalg.sqrtm` of it can
  return complex parts and fail on singular covariances. It is similar to the
  symmetric PSD matrix `M = cov1^{1/2} cov2 cov1^{1/2} = A^T A` with
  `A = cov2^{1/2} cov1^{1/2}`, so `tr((cov1 cov2)^{1/2}) = sum_i sqrt(lambda_i(M))`
  is the sum of the singular values of `A` (its nuclear norm). We take the PSD
  square roots with `eigh` (rounding-negative eigenvalues clipped at 0) and the
  singular values of `A` directly: unlike `sqrt(eigvalsh(M))`, which squares the
  condition number first, this keeps float32 results within ~1e-6 relative of a
  float64 reference on 128-d covariances (~1e-4 with `eigvalsh(M)`). Jittable.

  Args:
    mu1: `[F]` mean of the first Gaussian (e.g. real features).
    cov1: `[F, F]` its covariance.
    mu2: `[F]` mean of the second (generated features).
    cov2: `[F, F]` its covariance.

  Returns:
    Scalar `d^2` (FID when the features are Inception pool3 activations).

  References:
    Dowson & Landau, "The Frechet distance between multivariate normal
      distributions", J. Multivariate Anal. 1982.
    Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a
      Local Nash Equilibrium", NeurIPS 2017.
  """
  a = jnp.matmul(_sqrtm_psd(cov2), _sqrtm_psd(cov1), precision=_HIGHEST)
  trace_sqrt = jnp.sum(jnp.linalg.svd(a, compute_uv=False))
  diff = mu1 - mu2
  return jnp.dot(diff, diff) + jnp.trace(cov1) + jnp.trace(cov2) - 2.0 * trace_sqrt


def frechet_distance_from_features(
    real_features: jax.Array, fake_features: jax.Array
) -> jax.Array:
  """`frechet_distance` of Gaussians fitted to two feature sets `[N, F]`, `[M, F]`."""
  return frechet_distance(
      *mean_and_covariance(real_features), *mean_and_covariance(fake_features)
  )


@functools.partial(jax.jit, static_argnames=("num_subsets", "subset_size"))
def kernel_distance(
    real_features: jax.Array,
    fake_features: jax.Array,
    num_subsets: int = 100,
    subset_size: int = 1000,
    *,
    key: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
  """Kernel Inception Distance: unbiased MMD^2 with `k(x, y) = (x.y / F + 1)^3`.

  For each of `num_subsets` random subsets of `m = subset_size` real and `m`
  generated features (drawn without replacement),

    MMD^2_u = sum_{i != j} [k(x_i, x_j) + k(y_i, y_j)] / (m (m - 1))
              - 2 sum_{i, j} k(x_i, y_j) / m^2,

  an unbiased estimate of the squared MMD (it can be negative when the two
  distributions are equal). The mean over subsets is KID; the standard deviation
  across subsets shows its spread.

  Args:
    real_features: `[N, F]`.
    fake_features: `[M, F]`.
    num_subsets: how many subsets to average (100 in the reference code).
    subset_size: `m`; capped at `min(N, M)` (1000 in the reference code).
    key: PRNG key for the subsets; defaults to the fixed `jax.random.key(0)` so
      that repeated evaluations are comparable.

  Returns:
    `(mean, std)` of the per-subset estimates.

  References:
    Binkowski, Sutherland, Arbel, Gretton, "Demystifying MMD GANs", ICLR 2018.
  """
  if key is None:
    key = jax.random.key(0)
  real_features = jnp.asarray(real_features)
  fake_features = jnp.asarray(fake_features)
  m = min(subset_size, real_features.shape[0], fake_features.shape[0])
  dim = real_features.shape[1]

  def kernel(a, b):
    return (jnp.matmul(a, b.T, precision=_HIGHEST) / dim + 1.0) ** 3

  def off_diagonal_mean(k):
    # Row sums first: shorter float32 accumulations than one flat sum of m^2.
    return (jnp.sum(jnp.sum(k, axis=1)) - jnp.trace(k)) / (m * (m - 1))

  def one_subset(subset_key):
    real_key, fake_key = jax.random.split(subset_key)
    x = real_features[jax.random.choice(real_key, real_features.shape[0], (m,), replace=False)]
    y = fake_features[jax.random.choice(fake_key, fake_features.shape[0], (m,), replace=False)]
    cross = jnp.sum(jnp.sum(kernel(x, y), axis=1)) / (m * m)
    return off_diagonal_mean(kernel(x, x)) + off_diagonal_mean(kernel(y, y)) - 2.0 * cross

  estimates = jax.lax.map(one_subset, jax.random.split(key, num_subsets))
  return jnp.mean(estimates), jnp.std(estimates)


@functools.partial(jax.jit, static_argnames=("num_splits",))
def classifier_score(probs: jax.Array, num_splits: int = 10) -> tuple[jax.Array, jax.Array]:
  """`exp(E_x KL(p(y|x) || p(y)))`, the Inception Score formula, over `num_splits` splits.

  High when each sample is classified confidently (low-entropy `p(y|x)`) and the
  classes are balanced (high-entropy marginal `p(y)`); at most the number of
  classes. As in the reference code, the samples are cut into `num_splits`
  consecutive parts, the score is computed on each (with that part's marginal),
  and the mean and standard deviation over parts are reported.

  Args:
    probs: `[N, C]` class probabilities of generated samples.
    num_splits: number of parts (10 in the reference code).

  Returns:
    `(mean, std)` over splits.

  References:
    Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016.
    Barratt & Sharma, "A Note on the Inception Score", 2018.
  """
  probs = jnp.asarray(probs)
  n = probs.shape[0]
  # Row r belongs to part i when i n // S <= r < (i + 1) n // S (the reference's cut).
  starts = np.arange(num_splits) * n // num_splits
  part = np.searchsorted(starts, np.arange(n), side="right") - 1
  sizes = np.bincount(part, minlength=num_splits)[:, None]
  marginals = jax.ops.segment_sum(probs, part, num_splits) / sizes  # [S, C]
  # xlogy: 0 log 0 = 0, and p(y) = 0 only where every p(y|x) of the part is 0.
  kl = jnp.sum(xlogy(probs, probs) - xlogy(probs, marginals[part]), axis=1)
  scores = jnp.exp(jax.ops.segment_sum(kl, part, num_splits) / sizes[:, 0])
  return jnp.mean(scores), jnp.std(scores)


@functools.partial(jax.jit, static_argnames=("k", "batch_size"))
def precision_recall(
    real_features: jax.Array,
    fake_features: jax.Array,
    k: int = 3,
    batch_size: int = 1000,
) -> tuple[jax.Array, jax.Array]:
  """Improved precision and recall of Kynkaanniemi et al. (2019).

  Each set's manifold is the union of balls around its points with radius the
  distance to the point's k-th nearest neighbour within the set. Precision is the
  fraction of generated samples inside the real manifold (quality); recall is the
  fraction of real samples inside the generated manifold (coverage). Distances
  are computed in `[batch_size, batch_size]` blocks.

  Args:
    real_features: `[N, F]`.
    fake_features: `[M, F]`.
    k: neighbourhood size (3 in the paper).
    batch_size: block size of the distance computations.

  Returns:
    `(precision, recall)`, each in [0, 1].

  References:
    Kynkaanniemi, Karras, Laine, Lehtinen, Aila, "Improved Precision and Recall
      Metric for Assessing Generative Models", NeurIPS 2019.
  """
  real_features = jnp.asarray(real_features, jnp.float32)
  fake_features = jnp.asarray(fake_features, jnp.float32)
  real_radii = distances.kth_nearest_sq_distance(real_features, k, batch_size)
  fake_radii = distances.kth_nearest_sq_distance(fake_features, k, batch_size)
  precision = distances.within_any_ball(fake_features, real_features, real_radii, batch_size)
  recall = distances.within_any_ball(real_features, fake_features, fake_radii, batch_size)
  return jnp.mean(precision.astype(jnp.float32)), jnp.mean(recall.astype(jnp.float32))


@functools.partial(jax.jit, static_argnames=("num_classes",))
def class_coverage(probs_or_labels: jax.Array, num_classes: int) -> tuple[jax.Array, jax.Array]:
  """Fraction of classes predicted at least once, and KL of the prediction histogram to uniform.

  The class-conditional analogue of `mode_coverage`: a generator that drops
  digits loses coverage; one that over-produces some digits gains KL.

  Args:
    probs_or_labels: `[N, C]` class probabilities (their argmax is the
      prediction) or `[N]` integer labels.
    num_classes: `C`.

  Returns:
    `(covered_fraction, kl_to_uniform)`: scalars; KL is `KL(p || U_C)` in nats.
  """
  labels = probs_or_labels
  if labels.ndim == 2:
    labels = jnp.argmax(labels, axis=1)
  covered, kl = modes.mode_histogram_kl(labels, num_classes)
  return covered / num_classes, kl


def extract(
    apply_fn: Callable[[jax.Array], tuple[jax.Array, jax.Array]],
    images,
    batch_size: int = 500,
) -> tuple[jax.Array, jax.Array]:
  """Runs a feature extractor over a set of images in fixed-size batches.

  `apply_fn` is any pure function `images [B, ...] -> (features [B, F], logits
  [B, C])`: the MNIST classifier (see `classifier.classifier_features`), an
  Inception network, a discriminator's feature head. It is called as given, once
  per batch of exactly `batch_size` images (the last one zero-padded), so pass a
  jitted function with its parameters as an argument, not closed over:

    apply = jax.jit(lambda params, x: inception.apply(params, x))
    features, probs = extract(functools.partial(apply, params), images)

  Images stay wherever they are (NumPy on the host is fine); only one batch is on
  the device at a time.

  Args:
    apply_fn: `images -> (features, logits)`.
    images: `[N, ...]` images in whatever scale `apply_fn` expects.
    batch_size: images per call.

  Returns:
    `(features [N, F], probs [N, C])`, `probs = softmax(logits)`.
  """
  num = images.shape[0]
  if num == 0:
    raise ValueError("extract() needs at least one image.")
  features, probs = [], []
  for start in range(0, num, batch_size):
    batch = images[start : start + batch_size]
    real = batch.shape[0]
    if real < batch_size:
      batch = jnp.pad(jnp.asarray(batch), [(0, batch_size - real)] + [(0, 0)] * (batch.ndim - 1))
    batch_features, batch_logits = apply_fn(batch)
    features.append(batch_features[:real])
    probs.append(jax.nn.softmax(batch_logits[:real], axis=-1))
  return jnp.concatenate(features), jnp.concatenate(probs)
