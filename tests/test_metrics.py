"""Calibration tests of gan_jax.metrics: each metric against a reference or a known fact."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats

from gan_jax import metrics

MNIST_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
needs_mnist = pytest.mark.skipif(
    not os.path.isdir(MNIST_DIR), reason="the MNIST files of ../shared/data/mnist are not here"
)


def ring_mixture(num, rng, modes=8, radius=1.0, std=0.01):
  angles = 2 * np.pi * np.arange(modes) / modes
  centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
  samples = centers[rng.integers(0, modes, num)] + std * rng.standard_normal((num, 2))
  return samples.astype(np.float32), centers


def grid_mixture(num, rng, std=0.05):
  axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
  centers = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
  samples = centers[rng.integers(0, len(centers), num)] + std * rng.standard_normal((num, 2))
  return samples.astype(np.float32), centers


@pytest.fixture(scope="module")
def mnist_test():
  from gan_jax import data  # pylint: disable=g-import-not-at-top

  images, labels = data.load_idx(MNIST_DIR, "test")
  return images[:3000], labels[:3000]


@pytest.fixture(scope="module")
def random_features_fn():
  """A fixed extractor: the MNIST classifier's architecture at random initialisation."""
  params = metrics.init_classifier(jax.random.key(42))
  return lambda images: metrics.classifier_features(params, images, batch_size=500)[0]


@pytest.fixture(scope="module")
def tiny_classifier():
  """MnistClassifier after 100 steps of 32 images (~91% test accuracy, seconds on CPU)."""
  from gan_jax import data  # pylint: disable=g-import-not-at-top

  images, labels = data.load_idx(MNIST_DIR, "train")
  return metrics.train_classifier(
      images[:5000], labels[:5000], steps=100, batch_size=32, seed=0, max_shift=0
  )


# ---------------------------------------------------------------- mode coverage


@pytest.mark.parametrize(
    "mixture, std, num_modes", [(ring_mixture, 0.01, 8), (grid_mixture, 0.05, 25)]
)
def test_mode_coverage_of_exact_mixture_is_full(mixture, std, num_modes):
  samples, centers = mixture(2500, np.random.default_rng(0), std=std)
  out = metrics.mode_coverage(samples, centers, std)
  assert int(out["modes_covered"]) == num_modes
  # P(chi^2_2 <= 9) = 1 - exp(-4.5) = 0.989 of a 2-D Gaussian lies within 3 std.
  np.testing.assert_allclose(out["high_quality_fraction"], 1 - np.exp(-4.5), atol=0.01)
  assert float(out["kl_to_uniform"]) < 0.02


def test_mode_coverage_of_one_mode_generator():
  _, centers = grid_mixture(1, np.random.default_rng(0))
  samples = centers[12] + 0.05 * np.random.default_rng(1).standard_normal((1000, 2))
  out = metrics.mode_coverage(samples, centers, 0.05)
  assert int(out["modes_covered"]) == 1
  np.testing.assert_allclose(out["kl_to_uniform"], np.log(25), rtol=1e-5)


def test_mode_coverage_counts_only_high_quality_samples():
  _, centers = ring_mixture(1, np.random.default_rng(0))
  samples = np.array([[1.0, 0.0], [1.0, 0.02], [0.0, 0.0], [-1.0, 0.035]], np.float32)
  out = metrics.mode_coverage(samples, centers, 0.01)
  # The origin and the point 3.5 std from (-1, 0) are low quality.
  assert int(out["modes_covered"]) == 1
  np.testing.assert_allclose(out["high_quality_fraction"], 0.5)
  assert np.isnan(metrics.mode_coverage(samples + 10, centers, 0.01)["kl_to_uniform"])


def test_mode_shape_of_the_data_is_centred_with_unit_spread():
  samples, centers = grid_mixture(2500, np.random.default_rng(0), std=0.05)
  out = metrics.mode_shape(samples, centers, 0.05)
  assert float(out["between_modes_fraction"]) == 0.0
  # 100 samples a mode: each core mean is off by |N(0, I_2 / 100)|, about 0.125.
  assert float(out["mode_offset"]) < 0.2
  # 2,500 x 2 coordinates: the pooled std has a relative error of about 1%.
  np.testing.assert_allclose(out["mode_spread"], 1.0, atol=0.05)


def test_mode_shape_measures_shifted_wide_modes_and_stragglers():
  rng = np.random.default_rng(1)
  _, centers = ring_mixture(1, rng)
  std = 0.01
  # Every mode drawn 2 std off its centre along x with 1.5 times the std (a core sample
  # then lies beyond 10 std with odds under 1e-6), plus 250 of 2,250 samples at the
  # origin, 100 std from every centre.
  modes = np.repeat(centers, 250, axis=0) + [2 * std, 0.0]
  samples = np.concatenate([modes + 1.5 * std * rng.standard_normal(modes.shape),
                            np.zeros((250, 2))]).astype(np.float32)
  out = metrics.mode_shape(samples, centers, std)
  np.testing.assert_allclose(out["between_modes_fraction"], 250 / 2250, rtol=1e-6)
  # 250 samples a mode: each core mean is off by about 1.5 / sqrt(250) = 0.09 per axis.
  np.testing.assert_allclose(out["mode_offset"], 2.0, atol=0.2)
  # 4,000 coordinates: the pooled std has a relative error of about 1%.
  np.testing.assert_allclose(out["mode_spread"], 1.5, atol=0.08)
  empty = metrics.mode_shape(samples + 10, centers, std)
  assert np.isnan(empty["mode_offset"]) and np.isnan(empty["mode_spread"])
  assert float(empty["between_modes_fraction"]) == 1.0


def test_mode_shape_weighs_each_mode_by_its_core_samples():
  rng = np.random.default_rng(2)
  _, centers = ring_mixture(1, rng)
  std = 0.01
  # 1,000 samples 4 std off mode 0, 100 centred on mode 2: offset (1000 * 4 + 100 * 0) / 1100.
  samples = np.concatenate([centers[0] + [4 * std, 0.0] + std * rng.standard_normal((1000, 2)),
                            centers[2] + std * rng.standard_normal((100, 2))]).astype(np.float32)
  out = metrics.mode_shape(samples, centers, std)
  # Sampling noise: 1 / sqrt(1000) on mode 0's mean, about 0.125 on mode 2's |mean|.
  np.testing.assert_allclose(out["mode_offset"], 4000 / 1100, atol=0.1)
  np.testing.assert_allclose(out["mode_spread"], 1.0, atol=0.05)
  # A core radius inside the offset mode's bulk: most of mode 0 falls between the modes.
  assert float(metrics.mode_shape(samples, centers, std, core=3.0)["between_modes_fraction"]) > 0.5


def test_mode_histogram_kl_matches_numpy():
  labels = np.random.default_rng(0).integers(0, 700, 5000)  # modes 700..999 missing
  covered, kl = metrics.mode_histogram_kl(labels, 1000)
  p = np.bincount(labels, minlength=1000) / len(labels)
  assert int(covered) == np.count_nonzero(p)
  np.testing.assert_allclose(kl, np.sum(scipy.special.rel_entr(p, np.full(1000, 1e-3))), rtol=1e-5)


# ---------------------------------------------------------------- 1-D distances


@pytest.mark.parametrize("n, m, integers", [(500, 500, False), (300, 777, False), (200, 350, True)])
def test_one_d_distances_match_scipy(n, m, integers):
  rng = np.random.default_rng(n + m)
  x = rng.normal(0.0, 1.0, n)
  y = rng.standard_t(3, m) + 0.3
  if integers:  # many ties
    x, y = np.round(3 * x), np.round(3 * y)
  x, y = x.astype(np.float32), y.astype(np.float32)
  np.testing.assert_allclose(
      metrics.wasserstein_1d(x, y), scipy.stats.wasserstein_distance(x, y), rtol=1e-5
  )
  np.testing.assert_allclose(
      metrics.ks_distance(x, y), scipy.stats.ks_2samp(x, y).statistic, rtol=1e-6
  )


def test_one_d_distances_of_identical_samples_are_zero():
  x = np.random.default_rng(0).normal(size=100).astype(np.float32)
  assert float(metrics.wasserstein_1d(x, x[::-1])) == 0.0
  assert float(metrics.ks_distance(x, x[::-1])) == 0.0


# ---------------------------------------------------------------- Parzen windows


def _parzen_reference(samples, data, sigma):
  samples, data = samples.astype(np.float64), data.astype(np.float64)
  sq = ((data[:, None, :] - samples[None, :, :]) ** 2).sum(-1)
  d = samples.shape[1]
  return (
      scipy.special.logsumexp(-sq / (2 * sigma**2), axis=1)
      - np.log(len(samples))
      - 0.5 * d * np.log(2 * np.pi * sigma**2)
  )


def test_parzen_matches_direct_computation():
  rng = np.random.default_rng(0)
  samples = rng.uniform(size=(53, 20)).astype(np.float32)
  data = rng.uniform(size=(37, 20)).astype(np.float32)
  # batch_size 16 pads both axes.
  mean, std_error = metrics.parzen_log_likelihood(samples, data, 0.3, batch_size=16)
  ref = _parzen_reference(samples, data, 0.3)
  np.testing.assert_allclose(mean, ref.mean(), rtol=1e-5)
  np.testing.assert_allclose(std_error, ref.std() / np.sqrt(len(ref)), rtol=1e-4)


@needs_mnist
def test_parzen_on_mnist_sized_points_and_sigma_selection(mnist_test):
  images = mnist_test[0].reshape(-1, 784).astype(np.float32) / 255.0
  samples, validation, test = images[:300], images[300:400], images[400:450]
  sigmas = np.logspace(-1, 0, 10)
  refs = [_parzen_reference(samples, validation, s).mean() for s in sigmas]
  lls = metrics.parzen_log_likelihoods(samples, validation, sigmas, batch_size=64)
  # Values are ~-400 nats built from distances ~50 in float32.
  np.testing.assert_allclose(jnp.mean(lls, axis=1), refs, rtol=1e-5)
  out = metrics.parzen_evaluate(samples, validation, test, sigmas, batch_size=64)
  assert out["sigma"] == pytest.approx(sigmas[int(np.argmax(refs))], rel=1e-6)
  np.testing.assert_allclose(
      out["log_likelihood"], _parzen_reference(samples, test, out["sigma"]).mean(), rtol=1e-5
  )
  # The test set's own best sigma on the grid: an upper bound of the protocol's figure.
  test_refs = [_parzen_reference(samples, test, s).mean() for s in sigmas]
  assert out["best_sigma"] == pytest.approx(sigmas[int(np.argmax(test_refs))], rel=1e-6)
  np.testing.assert_allclose(out["best_log_likelihood"], max(test_refs), rtol=1e-5)
  assert out["best_log_likelihood"] >= out["log_likelihood"]


# ---------------------------------------------------------------- Frechet distance, FeatureStats


def _random_gaussian(rng, dim, rank=None):
  a = rng.normal(size=(dim, rank or dim))
  return rng.normal(size=dim), a @ a.T / dim


# Full rank, and a singular cov1 (float32 sqrt of its null eigenvalues costs accuracy).
@pytest.mark.parametrize("rank, float32_rtol", [(None, 1e-5), (5, 2e-4)])
def test_frechet_distance_matches_sqrtm_reference(rank, float32_rtol):
  rng = np.random.default_rng(0)
  mu1, cov1 = _random_gaussian(rng, 16, rank)
  mu2, cov2 = _random_gaussian(rng, 16)
  covmean = scipy.linalg.sqrtm(cov1 @ cov2).real
  ref = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean)
  got = metrics.frechet_distance(*(np.float32(a) for a in (mu1, cov1, mu2, cov2)))
  np.testing.assert_allclose(got, ref, rtol=float32_rtol)
  np.testing.assert_allclose(metrics.frechet_distance(mu1, cov1, mu1, cov1), 0.0, atol=1e-4)
  with jax.enable_x64(True):
    np.testing.assert_allclose(metrics.frechet_distance(mu1, cov1, mu2, cov2), ref, rtol=1e-8)


def test_feature_stats_streaming_equals_one_shot():
  rng = np.random.default_rng(0)
  feats = (5.0 + rng.normal(size=(1000, 12)) @ rng.normal(size=(12, 12))).astype(np.float32)
  update = jax.jit(metrics.FeatureStats.update)
  stats = metrics.FeatureStats.zeros(12)
  for start in range(0, 1000, 96):  # ragged last batch, padded and masked
    batch = feats[start : start + 96]
    valid = np.arange(96) < len(batch)
    stats = update(stats, np.pad(batch, ((0, 96 - len(batch)), (0, 0)), constant_values=7.0), valid)
  mean, cov = stats.mean_and_covariance()
  assert float(stats.count) == 1000
  np.testing.assert_allclose(mean, feats.astype(np.float64).mean(0), rtol=1e-5)
  ref_cov = np.cov(feats.astype(np.float64), rowvar=False)
  np.testing.assert_allclose(cov, ref_cov, rtol=1e-4, atol=1e-4)
  # Shards combine with psum (here over a vmapped axis) and with merge.
  halves = [metrics.FeatureStats.zeros(12).update(f) for f in (feats[:400], feats[400:])]
  stacked = jax.tree.map(lambda *x: jnp.stack(x), *halves)
  summed = jax.vmap(lambda s: jax.lax.psum(s, "shards"), axis_name="shards")(stacked)
  for combined in (jax.tree.map(lambda x: x[0], summed), halves[0].merge(halves[1])):
    np.testing.assert_allclose(combined.mean_and_covariance()[1], cov, rtol=1e-4, atol=1e-4)


def test_feature_stats_kahan_sum_beats_naive_float32():
  # 2,000 batches of 1 + 1e-4: a naive float32 running sum drifts (ulp at 2,000 is 1.2e-4).
  stats = metrics.FeatureStats.zeros(1)
  batch = jnp.full((1, 1), 1.0 + 1e-4, jnp.float32)
  stats = jax.lax.fori_loop(0, 2000, lambda _, s: s.update(batch), stats)
  naive = jax.lax.fori_loop(0, 2000, lambda _, t: t + batch[0, 0], jnp.float32(0))
  mean, _ = stats.mean_and_covariance()
  exact = np.float64(np.float32(1.0 + 1e-4))
  assert abs(float(mean[0]) - exact) < 1e-7
  assert abs(float(naive) / 2000 - exact) > 1e-6


# ---------------------------------------------------------------- KID, IS, precision/recall


def _unbiased_mmd2(x, y):
  d = x.shape[1]
  k = lambda a, b: (a @ b.T / d + 1) ** 3
  m = len(x)
  kxx, kyy = k(x, x), k(y, y)
  within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
  return within - 2 * k(x, y).mean()


def test_kernel_distance_is_unbiased_mmd_and_calibrated():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(400, 16)).astype(np.float32)
  y = rng.normal(size=(400, 16)).astype(np.float32)
  # One subset of all points is the full-sample estimator (it is permutation invariant).
  mean, _ = metrics.kernel_distance(x, y, num_subsets=1, subset_size=400)
  ref = _unbiased_mmd2(x.astype(np.float64), y.astype(np.float64))
  np.testing.assert_allclose(mean, ref, atol=1e-5)
  same_mean, same_std = metrics.kernel_distance(x, y, num_subsets=20, subset_size=200)
  assert abs(float(same_mean)) < 2 * float(same_std)
  kids = [
      float(metrics.kernel_distance(x, y + shift, num_subsets=20, subset_size=200)[0])
      for shift in (0.1, 0.3, 1.0)
  ]
  assert float(same_mean) < kids[0] < kids[1] < kids[2]
  assert kids[1] > 5 * float(same_std)


def test_classifier_score_known_values():
  one_hot = np.eye(10, dtype=np.float32)[np.arange(1000) % 10]
  np.testing.assert_allclose(metrics.classifier_score(one_hot)[0], 10.0, rtol=1e-5)
  np.testing.assert_allclose(metrics.classifier_score(np.tile(one_hot[:1], (1000, 1)))[0], 1.0)
  probs = np.random.default_rng(0).dirichlet(np.full(10, 0.3), size=1003)
  parts = [probs[i * 1003 // 10 : (i + 1) * 1003 // 10] for i in range(10)]  # ragged
  ref = [np.exp(np.mean(scipy.special.rel_entr(p, p.mean(0)).sum(1))) for p in parts]
  mean, std = metrics.classifier_score(probs.astype(np.float32), num_splits=10)
  np.testing.assert_allclose(mean, np.mean(ref), rtol=1e-4)
  np.testing.assert_allclose(std, np.std(ref), rtol=1e-3)


def test_precision_recall_matches_brute_force():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(103, 5)).astype(np.float32)
  fake = (0.5 + 1.5 * rng.normal(size=(77, 5))).astype(np.float32)

  def radii(a):
    d = ((a[:, None] - a[None]) ** 2).sum(-1)
    return np.sort(d, axis=1)[:, 3]  # k=3, index 0 is the point itself

  def inside(q, c, r):
    return (((q[:, None] - c[None]) ** 2).sum(-1) <= r[None]).any(1).mean()

  precision, recall = metrics.precision_recall(real, fake, k=3, batch_size=16)
  np.testing.assert_allclose(precision, inside(fake, real, radii(real)))
  np.testing.assert_allclose(recall, inside(real, fake, radii(fake)))


# ---------------------------------------------------------------- MNIST calibration


@needs_mnist
def test_frechet_and_kid_grow_with_noise(mnist_test, random_features_fn):
  images = mnist_test[0].astype(np.float32) / 255.0
  real = random_features_fn(images[:1000])
  noise = np.random.default_rng(0).normal(size=images[1000:2000].shape).astype(np.float32)
  fids, kids = [], []
  for level in (0.0, 0.1, 0.2, 0.4):
    fake = random_features_fn(images[1000:2000] + level * noise)
    fids.append(float(metrics.frechet_distance_from_features(real, fake)))
    kids.append(float(metrics.kernel_distance(real, fake, num_subsets=10, subset_size=500)[0]))
  assert np.all(np.diff(fids) > 0), fids
  assert np.all(np.diff(kids) > 0), kids


@needs_mnist
def test_dropping_classes_lowers_coverage_and_recall(
    mnist_test, tiny_classifier, random_features_fn
):
  images, labels = mnist_test
  covered, kl = metrics.class_coverage(labels[1000:], 10)
  assert float(covered) == 1.0 and float(kl) < 0.01
  kept = np.flatnonzero(labels[1000:] < 7) + 1000  # a generator that lost 7, 8, 9
  covered_dropped, kl_dropped = metrics.class_coverage(labels[kept], 10)
  np.testing.assert_allclose(covered_dropped, 0.7)
  np.testing.assert_allclose(kl_dropped, np.log(10 / 7), atol=0.02)
  # Through a classifier's predictions, as one evaluates a generator: its mistakes
  # still hit 7, 8, 9 now and then, but the histogram is far from uniform.
  _, full_probs = metrics.classifier_features(tiny_classifier, images[1000:2000])
  _, dropped_probs = metrics.classifier_features(tiny_classifier, images[kept[:1000]])
  kl_full = float(metrics.class_coverage(full_probs, 10)[1])
  assert kl_full < 0.02
  assert float(metrics.class_coverage(dropped_probs, 10)[1]) > kl_full + 0.15
  # Recall falls (k-NN balls of the remaining digits still cover some 7s, 8s and
  # 9s: ~0.86 -> ~0.78 here), precision does not move.
  real = random_features_fn(images[:1000])
  precision_full, recall_full = metrics.precision_recall(
      real, random_features_fn(images[1000:2000])
  )
  precision_dropped, recall_dropped = metrics.precision_recall(
      real, random_features_fn(images[kept[:1000]])
  )
  assert float(recall_dropped) < float(recall_full) - 0.05
  assert abs(float(precision_dropped) - float(precision_full)) < 0.03


def test_extract_pads_and_trims():
  images = np.arange(7 * 4, dtype=np.float32).reshape(7, 4)
  apply_fn = jax.jit(lambda x: (2 * x, x[:, :3]))
  features, probs = metrics.extract(apply_fn, images, batch_size=3)
  np.testing.assert_allclose(features, 2 * images)
  np.testing.assert_allclose(probs, jax.nn.softmax(images[:, :3]), rtol=1e-6)


@needs_mnist
def test_tiny_classifier_trains_saves_and_loads(mnist_test, tiny_classifier, tmp_path):
  test_images, test_labels = mnist_test
  accuracy = metrics.classifier_accuracy(tiny_classifier, test_images[:1000], test_labels[:1000])
  assert accuracy > 0.8, accuracy
  path = str(tmp_path / "classifier")
  metrics.save_classifier(path, tiny_classifier)
  with pytest.raises(FileExistsError):
    metrics.save_classifier(path, tiny_classifier)
  restored = metrics.load_classifier(path)
  jax.tree.map(np.testing.assert_array_equal, tiny_classifier, restored)
  # Float images in [-1, 1] read the same as uint8 ones.
  uint8_features, _ = metrics.classifier_features(restored, test_images[:10])
  float_features, _ = metrics.classifier_features(
      restored, test_images[:10] / 127.5 - 1.0, value_range=(-1, 1)
  )
  np.testing.assert_allclose(uint8_features, float_features, rtol=1e-5, atol=1e-5)


def test_discriminator_overfitting_by_hand():
  # Means 1/3, 0 and -3: r_v = (1/3 - 0) / (1/3 + 3) = 0.1; signs +1, 0, -1: r_t = 0.
  # Of the 6 (train, held-out) pairs 2 > 1, 2 > -1 and 0 > -1 win, -1 = -1 ties: 3.5 / 6.
  out = metrics.discriminator_overfitting(np.array([2.0, 0.0, -1.0]), np.array([1.0, -1.0]),
                                          np.array([-3.0]))
  assert out["d_train"] == pytest.approx(1 / 3) and out["d_held_out"] == 0
  assert out["d_fake"] == -3 and out["r_v"] == pytest.approx(0.1) and out["r_t"] == 0
  assert out["train_held_out_auc"] == pytest.approx(3.5 / 6)
  # Held-out images scored like fakes: complete overfitting (r_v = 1); like training ones: none.
  assert metrics.discriminator_overfitting(np.ones(4), -np.ones(3), -np.ones(2))["r_v"] == 1
  assert metrics.discriminator_overfitting(np.ones(4), np.ones(3), -np.ones(2))["r_v"] == 0
  assert np.isnan(metrics.discriminator_overfitting(np.ones(2), np.ones(2), np.ones(2))["r_v"])


def test_rank_probability_counts_pairs_with_ties_as_half():
  rng = np.random.default_rng(0)
  x, y = rng.integers(0, 5, 300), rng.integers(1, 6, 200)  # many ties
  pairs = (x[:, None] > y[None, :]).mean() + 0.5 * (x[:, None] == y[None, :]).mean()
  assert metrics.rank_probability(x, y) == pytest.approx(pairs, rel=1e-12)
  assert metrics.rank_probability(x, y) + metrics.rank_probability(y, x) == pytest.approx(1)
  assert metrics.rank_probability(x, x) == 0.5
  # Mann-Whitney's U over n m.
  u = scipy.stats.mannwhitneyu(x, y).statistic
  assert metrics.rank_probability(x, y) == pytest.approx(u / (len(x) * len(y)), rel=1e-12)


def test_rank_probability_of_a_non_finite_score_is_nan():
  assert np.isnan(metrics.rank_probability(np.array([np.nan, 1.0]), np.array([0.0])))
  assert np.isnan(metrics.rank_probability(np.array([1.0]), np.array([np.inf])))
