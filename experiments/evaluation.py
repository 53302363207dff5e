"""A config's evaluation metrics, from one draw of generator samples.

One function, `evaluate`, serves both the runner (at `eval_every`, on
`config.eval.num_samples` samples) and `python -m experiments.evaluate` (on the
protocol's sample count, 10,000 for MNIST); both draw the samples once (`draw`, a
fixed key) and hand the same ones to `discriminator_metrics` and, in the command,
to `inception_metrics` (which draws its own from the same key where its count differs).
What it computes depends on the data:

* 2-D mixtures (ring, grid): mode coverage in the VEEGAN/PacGAN protocol
  (`modes_covered`, `high_quality_fraction`, `kl_to_uniform`; 2,500 samples), and
  where the other samples go (`between_modes_fraction`, `mode_offset`,
  `mode_spread`: `gan_jax.metrics.mode_shape`).
* 1-D data: `wasserstein_1d` and `ks_distance` to samples of the target.
* MNIST-like `[28, 28, 1]` images, pixels in [0, 1]: the Parzen-window
  log-likelihood of Goodfellow et al. (2014) (`parzen_log_likelihood`,
  `parzen_std_error`, `parzen_sigma`): sigma chosen on a validation split, the
  mean log-likelihood of the test set with its standard error; beside it the test
  mean at the grid's best sigma for the test set itself
  (`parzen_best_log_likelihood`, `parzen_best_sigma`), an upper bound of what any
  validation protocol on that grid can give. Where the MNIST
  classifier checkpoint exists, metrics of its features against the test set:
  `frechet_distance`, `kid_mean`/`kid_std`, `classifier_score(_std)`,
  `precision`, `recall`, `class_coverage`, `class_kl_to_uniform`. Beside them,
  from the run's discriminator rather than its samples, `discriminator_metrics`: how
  far it scores its training images above test ones (`d_train`, `d_held_out`,
  `d_fake`, `r_v`, `r_t`, `train_held_out_auc`).
* Stacked MNIST `[28, 28, 3]`: `modes_covered` out of 1,000 and `kl_to_uniform`,
  from the classifier's digit in each channel; beside them `channel_kl_to_uniform`,
  the sum over the channels of the KL of each one's digit frequencies to uniform
  over 10. The uniform over triples is the product of the channels' uniforms, so
  `kl_to_uniform` is exactly that sum plus the channels' dependence (the KL of the
  triples to the product of their channels' frequencies, never negative): it says
  whether a KL comes from digits made too often or too seldom in every channel, or
  from channels that go together. `digit_share_max` and `digit_share_min` are the
  largest and smallest share of one digit in one channel (uniform: 0.1 each).
  `confident_fraction` is the share of channels whose digit the classifier reads with
  probability >= 0.9 (MNIST's own: about 0.98): a digit drawn between two shapes reads
  as one of them, so where it is low the digit frequencies tell of how clearly the
  generator draws, not only of which digits it draws.

Every result comes with its `protocol` (sample count, reference split and size,
extractor, EMA or raw weights, checkpoint step): two numbers are comparable only
when their protocols match.
"""

import os
import sys
from typing import Any, Callable, NamedTuple, Optional

import jax
import ml_collections
import numpy as np

from experiments import builders
from experiments import datasets
from gan_jax import data as gdata
from gan_jax import metrics as gmetrics
from gan_jax.metrics import inception

DEFAULT_CLASSIFIER = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "artifacts", "mnist_classifier")
# The probability at which the digit reader's read of a Stacked MNIST channel counts as
# confident (`confident_fraction`).
CONFIDENT_READ = 0.9
# The protocols' sample counts (the standalone command's defaults).
PROTOCOL_SAMPLES = {"mixture": 2_500, "one_d": 10_000, "mnist": 10_000, "stacked_mnist": 26_000}
# The 1-D toy's reference sample is drawn with this seed whatever the run's seed (the
# training seed 0 of every 1-D record so far drew the same one).
REFERENCE_SEED = 0
# Goodfellow et al. choose sigma on the first 1,000 of the last 10,000 of MNIST's
# 60,000 training images (parzen_ll.py's limit_size); with all 60,000 present we use
# those 10,000, with the 22,699 local training images the last 2,000.
VALIDATION_SIZE = {True: 10_000, False: 2_000}  # keyed by "the full 60k set is present"
CHUNK = 1_000  # Samples per generator call, images per discriminator call.
STACKED_ACCURACY_SIZE = 10_000  # Stacked test images the digit reader is checked on.
MIN_READER_ACCURACY = 0.99  # The Stacked MNIST protocols' digit reader, per channel.

SampleFn = Callable[[jax.Array, int], Any]  # (key, num) -> [num, ...] in the model's scale


class Target(NamedTuple):
  """What samples are compared with; built once per run by `make_target`.

  Attributes:
    kind: "mixture", "one_d", "mnist", "stacked_mnist" or "none".
    mixture: the toy `Mixture` (modes, or the 1-D target), or None.
    points: `[M, 1]` target samples for 1-D data, or None.
    validation: `[V, 784]` float32 validation images in [0, 1] (Parzen's sigma).
    test: `[T, 28, 28, 1]` uint8 test images.
    classifier: MNIST classifier parameters, or None.
    test_features: `[T, 128]` classifier features of the test images, or None.
    protocol: the fixed part of the protocol (reference, extractor, ...).
  """

  kind: str
  mixture: Optional[gdata.Mixture] = None
  points: Optional[np.ndarray] = None
  validation: Optional[np.ndarray] = None
  test: Optional[np.ndarray] = None
  classifier: Any = None
  test_features: Optional[Any] = None
  protocol: dict = {}


def _split(config: ml_collections.ConfigDict, split: str) -> np.ndarray:
  """The uint8 images of another split of the config's dataset."""
  other = ml_collections.ConfigDict(config.to_dict())
  other.data.split = split
  try:
    return datasets.load_images(other)
  except gdata.DataError as e:
    raise builders.UserError(str(e)) from None


def _load_classifier(path: str, *, warn: Callable[[str], None]):
  if not os.path.isdir(path):
    warn(f"no MNIST classifier at {path}: skipping the classifier metrics; run "
         f"`python -m experiments.train_classifier --out={path}` to compute them")
    return None
  return gmetrics.load_classifier(path)


def _stderr(line: str) -> None:
  print(f"evaluation: {line}", file=sys.stderr, flush=True)


def make_target(config: ml_collections.ConfigDict, data: datasets.Data, *,
                classifier_path: str = DEFAULT_CLASSIFIER,
                warn: Callable[[str], None] = _stderr) -> Target:
  """The evaluation target of a config: its mixture, or its test and validation images.

  Args:
    config: the run's config.
    data: its `datasets.Data` (`datasets.build_data(config, d_steps=1)`).
    classifier_path: an orbax checkpoint of `gmetrics.MnistClassifier`.
    warn: receives one line per metric family that cannot be computed, and why.

  Raises:
    UserError: the test split of the images cannot be read.
  """
  spec = data.spec
  if spec.kind == "points":
    mixture = data.mixture
    if spec.shape == (1,):
      # One reference sample for every seed (as MNIST's test set is), from a stream of
      # its own: a row's seeds, and populations of other seeds, are scored alike.
      rng = np.random.default_rng([REFERENCE_SEED, 2])
      num = max(PROTOCOL_SAMPLES["one_d"], config.eval.num_samples)
      points = (gdata.sample_mixture(mixture, rng, num) if mixture is not None
                else data.reference)
      return Target("one_d", mixture, points=np.asarray(points, np.float32),
                    protocol={"reference": "target samples", "reference_size": len(points),
                              "reference_seed": REFERENCE_SEED})
    if mixture is not None and mixture.num_modes > 1:
      return Target("mixture", mixture, protocol={
          "reference": f"{mixture.num_modes} mixture modes, std {mixture.std}",
          "quality_threshold_std": 3.0})
    warn(f"no evaluation metric for data.name={config.data.name!r} (not a mixture)")
    return Target("none")
  if tuple(spec.shape[:2]) != (28, 28) or spec.shape[2] not in (1, 3):
    warn(f"no evaluation metric for {tuple(spec.shape)} images (MNIST-like 28x28x1 or "
         "Stacked MNIST 28x28x3 only; plug an extractor into gan_jax.metrics for others)")
    return Target("none")
  if "fashion" in config.data.name or "fashion" in config.data.dir:
    classifier = None
    warn("the MNIST classifier reads digits: no classifier metrics for Fashion-MNIST")
  else:
    classifier = _load_classifier(classifier_path, warn=warn)
  extractor = os.path.abspath(classifier_path) if classifier is not None else None
  if spec.shape[2] == 3:
    if classifier is None:
      return Target("none")
    return Target("stacked_mnist", classifier=classifier, protocol={
        "reference": "1000 digit triples", "extractor": extractor,
        "classifier_channel_accuracy": _channel_accuracy(config, classifier, warn=warn)})
  if config.data.name == "npz":
    warn("data.name='npz' has no test split: no Parzen or classifier-feature metrics")
    return Target("none")
  try:
    test = _split(config, "test")
  except builders.UserError as e:
    raise builders.UserError(f"evaluation needs the test split: {e}") from None
  if test.shape[-1] != 1:
    raise builders.UserError(f"the test split holds {test.shape[1:]} images, the training "
                             f"split {tuple(spec.shape)}; use a dataset whose splits agree")
  train = _split(config, config.data.split)
  num_validation = min(VALIDATION_SIZE[len(train) >= 60_000], len(train))
  validation = gdata.to_float(train[-num_validation:].reshape(num_validation, -1), "sigmoid")
  test_features = None
  if classifier is not None:
    test_features, _ = gmetrics.classifier_features(classifier, test)
  return Target("mnist", validation=validation, test=test, classifier=classifier,
                test_features=test_features, protocol={
                    "reference": f"{config.data.name} test split",
                    "reference_size": len(test),
                    "parzen_validation": (f"last {num_validation} of the {len(train)} training "
                                          "images (also seen in training)"),
                    "extractor": extractor})


def draw(sample_fn: SampleFn, key: jax.Array, num: int) -> np.ndarray:
  """`num` samples in the model's scale, as float32 NumPy: in chunks of one fixed size
  (one compilation), chunk i drawn with `fold_in(key, i)`."""
  chunk = min(num, CHUNK)
  parts = [np.asarray(sample_fn(jax.random.fold_in(key, i), chunk), np.float32)
           for i in range(-(-num // chunk))]
  return np.concatenate(parts)[:num]


def _mnist_metrics(samples: np.ndarray, target: Target) -> dict:
  flat = samples.reshape(len(samples), -1)
  out = {}
  parzen = gmetrics.parzen_evaluate(flat, target.validation, gdata.to_float(
      target.test.reshape(len(target.test), -1), "sigmoid"))
  out.update(parzen_log_likelihood=parzen["log_likelihood"],
             parzen_std_error=parzen["std_error"], parzen_sigma=parzen["sigma"],
             parzen_best_log_likelihood=parzen["best_log_likelihood"],
             parzen_best_sigma=parzen["best_sigma"])
  if target.classifier is None:
    return out
  real_features = target.test_features
  fake_features, fake_probs = gmetrics.classifier_features(target.classifier, samples)
  # Samples are scored in fixed-size batches (Parzen blocks, classifier batches);
  # only the [N, 128] features are held together.
  fid = gmetrics.frechet_distance_from_features(real_features, fake_features)
  kid, kid_std = gmetrics.kernel_distance(real_features, fake_features)
  score, score_std = gmetrics.classifier_score(fake_probs)
  # Equal set sizes, as in Kynkaanniemi et al.: the k-NN radii depend on density.
  n = min(len(real_features), len(fake_features))
  precision, recall = gmetrics.precision_recall(real_features[:n], fake_features[:n])
  coverage, kl = gmetrics.class_coverage(fake_probs, 10)
  out.update(frechet_distance=fid, kid_mean=kid, kid_std=kid_std, classifier_score=score,
             classifier_score_std=score_std, precision=precision, recall=recall,
             class_coverage=coverage, class_kl_to_uniform=kl)
  return out


def _channel_reads(classifier, images) -> tuple[np.ndarray, np.ndarray]:
  """The classifier's digit in each channel of Stacked MNIST images and the probability
  it gives that digit, each `[N, 3]`."""
  n = len(images)
  channels = np.moveaxis(images, -1, 1).reshape(n * 3, 28, 28, 1)  # [n * 3, 28, 28, 1]
  _, probs = gmetrics.classifier_features(classifier, channels)
  probs = np.asarray(probs).reshape(n, 3, 10)
  return probs.argmax(-1), probs.max(-1)


def _channel_accuracy(config: ml_collections.ConfigDict, classifier, *,
                      warn: Callable[[str], None]) -> list[float]:
  """The classifier's accuracy on each channel of 10,000 Stacked MNIST test images.

  The mode count is only as good as the digit reader; the protocols ask for one of
  at least 99% test accuracy, so each record states it (and `warn` hears of less).
  """
  try:
    images, labels = datasets.stacked_mnist(config, "test", num=STACKED_ACCURACY_SIZE)
  except gdata.DataError as e:
    raise builders.UserError(f"evaluation needs the MNIST test split: {e}") from None
  truth = (labels[:, None] // np.array([100, 10, 1])) % 10
  correct = _channel_reads(classifier, images)[0] == truth
  accuracy = [round(float(a), 5) for a in correct.mean(axis=0)]
  if min(accuracy) < MIN_READER_ACCURACY:
    warn(f"the MNIST classifier reads Stacked MNIST channels at {accuracy} accuracy, under "
         f"the protocols' {MIN_READER_ACCURACY:.0%}: mode counts will be low; retrain it with "
         "`python -m experiments.train_classifier`")
  return accuracy


def triple_metrics(digits: np.ndarray) -> dict:
  """Stacked MNIST's metrics of the digits read in each channel, `[N, 3]` in 0..9."""
  modes, kl = gmetrics.mode_histogram_kl(digits @ np.array([100, 10, 1]), 1000)
  channel_kl = sum(gmetrics.mode_histogram_kl(digits[:, c], 10)[1] for c in range(3))
  shares = np.stack([np.bincount(digits[:, c], minlength=10) for c in range(3)]) / len(digits)
  return {"modes_covered": modes, "kl_to_uniform": kl, "channel_kl_to_uniform": channel_kl,
          "digit_share_max": shares.max(), "digit_share_min": shares.min()}


def _stacked_metrics(samples: np.ndarray, target: Target) -> dict:
  digits, confidence = _channel_reads(target.classifier, samples)
  return {**triple_metrics(digits),
          "confident_fraction": float(np.mean(confidence >= CONFIDENT_READ))}


def evaluate(samples: np.ndarray, target: Target, *, image_scale: Optional[str] = None,
             weights: str = "ema", step: Optional[int] = None,
             bn_refresh_batches: int = 0) -> tuple[dict, dict]:
  """Computes the target's metrics on generator samples.

  Example (what the runner does at every `eval_every`):
    target = make_target(config, datasets.build_data(config, d_steps=1))
    sample_fn = jax.jit(lambda key, n: gan_jax.sample(gan, state, key, n), static_argnums=1)
    samples = draw(sample_fn, jax.random.key(0), 2500)
    metrics, protocol = evaluate(samples, target, image_scale="tanh")

  Args:
    samples: `[N, *data_shape]` generator outputs in the model's scale (`draw`'s,
      from a fixed key, so that evaluations of one run are comparable);
      `discriminator_metrics` and `inception_metrics` take the same ones.
    target: from `make_target`.
    image_scale: the generator's output range for images ("tanh", "sigmoid"), None for points.
    weights: "ema" or "raw", recorded in the protocol.
    step: the checkpoint's step, recorded in the protocol.
    bn_refresh_batches: the generator's batch-norm refresh before sampling
      (`gan_jax.refresh_batch_stats`), recorded in the protocol when not 0.

  Returns:
    `(metrics, protocol)`: a flat dict of Python floats, and a dict describing how
    they were measured.
  """
  protocol = {"num_samples": len(samples), "weights": weights, "step": step,
              **target.protocol}
  if bn_refresh_batches:
    protocol["bn_refresh_batches"] = bn_refresh_batches
  if target.kind == "none":
    return {}, protocol
  return metrics_of(gdata.to_unit_range(samples, image_scale), target), protocol


def metrics_of(samples: np.ndarray, target: Target) -> dict:
  """The target's metrics of `samples`, `[N, ...]` float32: points, or pixels in [0, 1]."""
  if target.kind == "none":
    return {}
  if target.kind == "mixture":
    out = {**gmetrics.mode_coverage(samples, target.mixture.centers, target.mixture.std),
           **gmetrics.mode_shape(samples, target.mixture.centers, target.mixture.std)}
  elif target.kind == "one_d":
    reference = target.points[:, 0]
    out = {"wasserstein_1d": gmetrics.wasserstein_1d(samples[:, 0], reference),
           "ks_distance": gmetrics.ks_distance(samples[:, 0], reference)}
  elif target.kind == "mnist":
    out = _mnist_metrics(samples, target)
  else:
    out = _stacked_metrics(samples, target)
  return {k: float(v) for k, v in out.items()}


def training_examples(source, num: int) -> np.ndarray:
  """The first `num` examples of a run's data stream, as `metrics_of` takes samples.

  They are what the discriminator sees as real: the batches `source.batch_at(0)`,
  `batch_at(1)`, ... (`datasets.Data.source`) in order: stored images without
  repeats while they last (the first epoch's order), a fixed toy set's packs (drawn
  with replacement), or fresh toy points. Scored in place of a generator's samples,
  they give what a generator sampling the data distribution exactly would score, in
  expectation, at that sample count (a KL to uniform is never 0 from finite samples).

  Returns:
    `[num, ...]` float32: points unchanged, images as pixels in [0, 1].
  """
  examples = _stream_head(source, num)
  if examples.dtype == np.uint8:
    return gdata.to_float(examples, "sigmoid")
  return examples.astype(np.float32)


def _stream_head(source, num: int) -> np.ndarray:
  """The first `num` examples of a data stream, as stored (uint8 images)."""
  batches, have, step = [], 0, 0
  while have < num:
    batches.append(source.batch_at(step))
    have, step = have + len(batches[-1]), step + 1
  return np.concatenate(batches)[:num]


def discriminator_metrics(logits_fn: Callable[[jax.Array], Any], samples: np.ndarray, source,
                          target: Target, *, training_split: str, image_scale: str,
                          pack: int = 1) -> tuple[dict, dict]:
  """How far a discriminator scores its training images above unseen ones.

  `gmetrics.discriminator_overfitting` (Karras et al. 2020's r_v and r_t, and the
  probability that a training image outscores a test one) of its raw outputs on
  three sets of `n = min(len(samples), test images)`, in whole packs: the first n
  images of the run's data stream (`source`, in training's order: all seen once
  training has passed their epoch), the first n of the test split, and the first n
  of the samples `evaluate` scores (from the weights it scores: EMA ones where the
  run keeps them, after any batch-norm refresh).

  Args:
    logits_fn: `[M, *data_shape] -> [M / pack]` raw outputs, inputs in the model's
      scale (`gan_jax.discriminate` of a state).
    samples: as `evaluate` takes them, in the model's scale.
    source: the run's data stream (`datasets.Data.source`, reseeded to a member's seed).
    target: from `make_target`; no metric without MNIST test images (none for Stacked
      MNIST, whose protocols' training stacks draw on the test digits too).
    training_split: the split trained on (`data.split`); none when it holds the test one.
    image_scale: the model's pixel scale ("tanh", "sigmoid").
    pack: the discriminator's packing (`model.pack`): it scores packs of that many.

  Returns:
    `(metrics, protocol)`, both empty where no metric applies.
  """
  if target.kind != "mnist" or "test" in training_split:
    return {}, {}
  num = min(len(samples), len(target.test))
  num -= num % pack
  if not num:
    return {}, {}
  sets = [gdata.to_float(_stream_head(source, num), image_scale),
          gdata.to_float(target.test[:num], image_scale),
          np.asarray(samples[:num], np.float32)]
  chunk = CHUNK - CHUNK % pack  # whole packs
  # Unpadded chunks (the last one compiles its own shape): a discriminator with
  # minibatch features scores each image among real neighbours only.
  logits = [np.concatenate([np.ravel(np.asarray(logits_fn(images[i:i + chunk])))
                            for i in range(0, num, chunk)]) for images in sets]
  protocol = {"num_images": num, "train": "first images of the data stream",
              "held_out": "first images of the test split", "fake": "the samples scored",
              "mode": "inference (dropout off, batch-norm running averages)"}
  if pack > 1:
    protocol["pack"] = pack
  return gmetrics.discriminator_overfitting(*logits), protocol


def inception_reference(config: ml_collections.ConfigDict) -> tuple[np.ndarray, str]:
  """The uint8 images Inception metrics compare with: the test split, else the training one."""
  for split in ("test", config.data.split):
    try:
      return _split(config, split), f"{config.data.name} {split} split"
    except builders.UserError:
      continue
  raise builders.UserError(f"no split of {config.data.name} can be read for Inception metrics")


def inception_metrics(samples: np.ndarray, reference, params, *, image_scale: str) -> dict:
  """Inception FID, KID and precision/recall of generator samples against `reference`.

  `reference` is the `experiments.fid.Features` of the real images; `samples` are
  as `evaluate` takes them (model scale), quantised to 0..255 as stored images are.
  """
  from experiments import fid  # pylint: disable=import-outside-toplevel
  samples = gdata.to_uint8(gdata.to_unit_range(samples, image_scale), "sigmoid")
  fake = fid.statistics(inception.features_of(params, samples), "samples")
  return {f"inception_{name}": value for name, value in fid.compare(reference, fake).items()}
