r"""Trains a GAN described by a config file; run again on the same workdir to resume.

  python -m experiments.run --config=configs/ring.py --workdir=/tmp/ring
  python -m experiments.run --config=configs/wgan_gp.py:dataset=mnist \
      --config.data.dir=../shared/data/mnist --config.d_optimizer.lr=2e-4 --workdir=/tmp/w
  python -m experiments.run --config=configs/ring.py --workdir=/tmp/sweep --sweep
  python -m experiments.run --config=configs/ring.py --workdir=/tmp/seeds --config.num_seeds=5

The workdir receives `config.json` (the resolved config), `metrics.jsonl` (one JSON
object per logged step), `checkpoints/` (orbax, the whole `GANState`),
`samples/step_XXXXXX.png` and `tensorboard/` (event files). A second run on the
same workdir restores the latest checkpoint and continues; the data batch and the
key of step s are pure functions of (seed, s), so the result is bitwise the one
of an uninterrupted run. Runs that differ only in traced values (`num_seeds`, or
sweep members differing in seeds, learning rates, penalty weight...) train as one
population in one program (experiments/populations.py): the workdir then holds
the members' mean and spread in `metrics.jsonl` and each member in `members/NAME/`.

Exit status: 0 when training finished or was interrupted by SIGTERM/SIGINT (a
checkpoint is saved first; run the same command to resume); 1 when a loss or the
parameters became non-finite (the last good checkpoint is kept); 2 for a mistake
in the command, the config, the data or the workdir, reported in one line on
stderr before anything is written.
"""

import contextlib
import importlib.util
import json
import logging
import os
import re
import signal
import sys
import time
from typing import Any, NamedTuple, Optional

from absl import flags
import jax
import jax.numpy as jnp
import ml_collections
from ml_collections import config_flags
import numpy as np

from configs import common
from experiments import builders
from experiments import evaluation
from experiments import pictures
from experiments import populations
from experiments import sweeps
from experiments import writers
from experiments.builders import UserError
from gan_jax import checkpoint
import gan_jax

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
SAMPLES_DIR = "samples"
MEMBERS_DIR = "members"  # a population's members/NAME/: each member's own logs and samples

EXIT_OK, EXIT_NONFINITE, EXIT_USAGE = 0, 1, 2


# --- The command line ---------------------------------------------------------


class Command(NamedTuple):
  config: ml_collections.ConfigDict
  config_path: str  # the --config value, e.g. "configs/ring.py:runlocal"
  workdir: str
  sweep: bool
  coordinator_address: Optional[str] = None  # multi-process runs; None: auto-detect
  num_processes: Optional[int] = None
  process_id: Optional[int] = None


def parse_command(argv: list[str]) -> Command:
  """Parses the command line into a `Command`; raises UserError on any mistake.

  A fresh `FlagValues` per call keeps `main` callable more than once (tests).
  """
  fv = flags.FlagValues()
  config_flags.DEFINE_config_file(
      "config", None, "Config file, optionally with an argument: configs/NAME.py[:ARG].",
      flag_values=fv, sys_argv=argv)
  flags.DEFINE_string("workdir", None, "Directory of the run's outputs.", flag_values=fv)
  flags.DEFINE_bool("sweep", False, "Run every member of the config's get_sweep().",
                    flag_values=fv)
  # A multi-process run (one process per host): JAX detects TPU pods, Slurm and Open MPI
  # itself; elsewhere name the coordinator (process 0's host:port) and this process.
  flags.DEFINE_string("coordinator_address", os.environ.get("JAX_COORDINATOR_ADDRESS"),
                      "host:port of process 0 of a multi-process run.", flag_values=fv)
  flags.DEFINE_integer("num_processes", _env_int("JAX_NUM_PROCESSES"),
                       "Number of processes of a multi-process run.", flag_values=fv)
  flags.DEFINE_integer("process_id", _env_int("JAX_PROCESS_ID"),
                       "This process's index in a multi-process run.", flag_values=fv)
  try:
    rest = fv(argv)
  except flags.Error as e:
    raise UserError(_flag_message(str(e))) from None
  except (AttributeError, KeyError) as e:  # An override of a field the config lacks.
    field = str(e).strip("'\"")
    bad = [a for a in argv if a.startswith("--config.") and field in a]
    raise UserError(
        f"{bad[0].split('=')[0] if bad else field}: the config has no such field; check the "
        "spelling against the config file (nested fields are --config.a.b=VALUE)"
    ) from None
  if len(rest) > 1:
    raise UserError(f"unexpected argument {rest[1]!r}; flags take the form --name=value")
  if fv["config"].value is None:
    raise UserError("--config is required, e.g. --config=configs/ring.py")
  if not fv.workdir:
    raise UserError("--workdir is required, e.g. --workdir=/tmp/ring")
  config_path = config_flags.get_config_filename(fv["config"])
  config = fv.config
  try:
    config.to_dict()
  except IOError:
    raise UserError(
        f"--config={config_path}: no such config file; pass a path such as configs/ring.py"
    ) from None
  if fv.coordinator_address and (fv.num_processes is None or fv.process_id is None):
    raise UserError("--coordinator_address needs --num_processes and --process_id too "
                    "(or JAX_NUM_PROCESSES and JAX_PROCESS_ID)")
  return Command(config, config_path, fv.workdir, fv.sweep, fv.coordinator_address,
                 fv.num_processes, fv.process_id)


def parse_flags(fv: flags.FlagValues, argv: list[str]) -> None:
  """Parses `argv` into `fv` (a tool's own flags); raises UserError in one line."""
  try:
    rest = fv(argv)
  except flags.Error as e:
    raise UserError(str(e).splitlines()[0]) from None
  if len(rest) > 1:
    raise UserError(f"unexpected argument {rest[1]!r}; flags take the form --name=value")


def _env_int(name: str) -> Optional[int]:
  value = os.environ.get(name)
  return int(value) if value and value.isdigit() else None


def _flag_message(text: str) -> str:
  """One line from an absl/ml_collections flag error (which may hold a traceback)."""
  lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
  if "Traceback" in text:  # The config file raised: keep its own message.
    kind, _, message = lines[-1].partition(": ")
    where = re.match(r"flag (\S+?): ", lines[0])
    return f"{where.group(1) + ': ' if where else ''}{message or kind}"
  return lines[0] if lines else "bad command line"


def _load_sweep(config_path: str) -> list[dict]:
  """The overrides of `get_sweep()` in the config file."""
  path, _, arg = config_path.partition(":")
  spec = importlib.util.spec_from_file_location("sweep_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, "get_sweep"):
    raise UserError(f"{path} defines no get_sweep(); drop --sweep or add one")
  try:
    members = module.get_sweep(arg) if arg else module.get_sweep()
  except ValueError as e:
    raise UserError(f"{path}: get_sweep: {e}") from None
  if not members:
    raise UserError(f"{path}: get_sweep() returned no members; return a list of overrides")
  return members


# --- Preparing a run: everything that can fail, before anything is written ---


class Prepared(NamedTuple):
  experiment: Any  # a builders.Experiment, or a populations.Population
  workdir: str
  state: Optional[Any]  # the restored GANState, or None for a fresh start
  resolved: dict  # what config.json will hold


def _resolved(experiment) -> dict:
  if isinstance(experiment, populations.Population):
    return {**_resolved(experiment.experiment), "population": [
        {"name": m.name, **populations.member_values(m.config)} for m in experiment.members]}
  spec = experiment.data.spec
  return {
      **experiment.config.to_dict(),
      "resolved": {
          "data_kind": spec.kind,
          "data_shape": list(spec.shape),
          "image_scale": experiment.scale,
      },
  }


def read_workdir_config(workdir: str) -> Optional[dict]:
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise UserError(f"{path} is unreadable ({e}); move it away or use a new --workdir") from None


def build_job(job: populations.Job):
  """The `Experiment` of a single-run job, or the `Population` of a population job."""
  if job.is_population:
    return populations.build(job.members)
  return builders.build(job.members[0].config)


def prepare(job, workdir: str) -> Prepared:
  """Builds the run (or population) and checks the workdir against it; writes nothing.

  Args:
    job: a `populations.Job`, or a config (one run).
    workdir: the run's directory.

  Raises:
    UserError: a bad config, missing data, or a workdir holding another run.
  """
  if isinstance(job, ml_collections.ConfigDict):
    job = populations.Job("", (populations.Member("", job),))
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f"--workdir={workdir} is a file; pass a directory")
  experiment = build_job(job)
  resolved = _resolved(experiment)
  saved = read_workdir_config(workdir)
  if saved is not None:
    # Fields added since the run was written count as their defaults.
    with_defaults = {**saved_config(workdir).to_dict(), "resolved": saved.get("resolved")}
    differences = builders.architecture_differences(with_defaults, resolved)
    old, new = saved.get("population"), resolved.get("population")
    if builders.normalize(old) != builders.normalize(new):
      count = lambda p: f"{len(p)} population members" if p else "a single run"
      differences.append(f"population: {count(old)} -> {count(new)}"
                         if count(old) != count(new) else "population: other members")
    if differences:
      raise UserError(
          f"{workdir} holds a run with another architecture ({'; '.join(differences[:3])}); "
          "use a new --workdir, or the config that run was started with"
      )
  state = None
  checkpoint_dir = os.path.join(workdir, CHECKPOINT_DIR)
  step = checkpoint.latest_step(checkpoint_dir)
  if step is not None:
    manager = checkpoint.make_manager(checkpoint_dir, read_only=True)
    try:
      state = checkpoint.restore(manager, experiment.abstract_state, step=step)
    except Exception as e:  # pylint: disable=broad-except
      # Orbax reports a mismatched tree or shape in many exception types.
      first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
      raise UserError(
          f"the checkpoint at step {step} in {checkpoint_dir} does not fit this config "
          f"({first}); use a new --workdir, or the config that run was started with"
      ) from None
    finally:
      manager.close()
  return Prepared(experiment, workdir, state, resolved)


# Factory keyword arguments and dataset parameters: replaced whole, never merged
# with the defaults (those belong to other networks and datasets).
_OPAQUE_FIELDS = ("model.g", "model.d", "data.params")


def saved_config(workdir: str) -> Optional[ml_collections.ConfigDict]:
  """The config a run was started with, from its config.json, or None.

  Fields added to `configs/common.py` since the run was written take their
  defaults (which keep the old behaviour), so older workdirs stay readable. The
  "resolved" and "population" records stay out of the config.
  """
  saved = read_workdir_config(workdir)
  if saved is None:
    return None
  saved = {k: v for k, v in saved.items() if k not in ("resolved", "population")}

  def merge(defaults: dict, values: dict, prefix: str) -> dict:
    merged = dict(defaults)
    for key, value in values.items():
      field = prefix + key
      if isinstance(value, dict) and isinstance(defaults.get(key), dict) and (
          field not in _OPAQUE_FIELDS):
        merged[key] = merge(defaults[key], value, field + ".")
      else:
        merged[key] = value
    return merged

  return ml_collections.ConfigDict(merge(common.get_config().to_dict(), saved, ""))


# --- Training -----------------------------------------------------------------


class Stop:
  """Turns SIGTERM/SIGINT into a request to checkpoint and stop after this step."""

  def __init__(self):
    self.signal_name = None
    self._previous = {}

  def __enter__(self):
    for sig in (signal.SIGTERM, signal.SIGINT):
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)

  def _handle(self, signum, frame):
    del frame
    if self.signal_name is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt  # A second Ctrl-C stops at once.
    self.signal_name = signal.Signals(signum).name


class Outcome(NamedTuple):
  status: str  # "finished", "interrupted", "nonfinite"
  step: int
  last: dict  # the last logged record (a population's: means and spreads)
  members: dict = {}  # a population's: each member's last logged record, by name


def _nonfinite(values: dict) -> Optional[str]:
  for name, value in values.items():
    if not np.isfinite(value):
      return f"{name}={value}"
  return None


def _params_finite(state) -> jax.Array:
  leaves = jax.tree.leaves((state.g_params, state.d_params))
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


class _Evaluator:
  """Samples from a fixed latent batch (pictures) and a fixed key (metrics).

  `like`: an evaluator of another population member, whose compiled samplers and
  reference data this one shares (the members share the GAN; one reference makes
  their metrics compare like with like).
  """

  def __init__(self, experiment: builders.Experiment, like: Optional["_Evaluator"] = None):
    self.experiment = experiment
    gan, config = experiment.gan, experiment.config
    self.latents = gan.latents(jax.random.fold_in(experiment.eval_key, 0),
                               config.eval.num_pictures)
    self.metrics_key = jax.random.fold_in(experiment.eval_key, 1)
    if like is not None:
      self._from_latents, self._sample, self._draw = like._from_latents, like._sample, like._draw
      self.target = like.target
      return
    self._from_latents = jax.jit(lambda state, z: gan_jax.sample_from_latents(gan, state, z))
    self._sample = jax.jit(
        lambda state, key: gan_jax.sample(gan, state, key, config.eval.num_samples))
    self._draw = jax.jit(lambda state, key, n: gan_jax.sample(gan, state, key, n),
                         static_argnums=2)
    try:
      self.target = evaluation.make_target(config, experiment.data)
    except UserError as e:  # Training goes on; only the metrics are missing.
      print(f"evaluation: {e}; no evaluation metrics in metrics.jsonl", file=sys.stderr)
      self.target = evaluation.Target("none")

  def metrics(self, state) -> dict:
    """experiments/evaluation.py's metrics on config.eval.num_samples samples."""
    metrics, _ = evaluation.evaluate(
        lambda key, n: self._draw(state, key, n), self.target, key=self.metrics_key,
        num_samples=self.experiment.config.eval.num_samples, image_scale=self.experiment.scale)
    return metrics

  def picture(self, state, step: int) -> np.ndarray:
    data = self.experiment.data
    kind = data.spec.kind
    samples = self._from_latents(state, self.latents)
    if kind == "points":  # A fuller cloud than the picture batch.
      samples = self._sample(state, self.metrics_key)
    return pictures.picture(np.asarray(samples), kind=kind, reference=data.reference,
                            scale=self.experiment.scale, mixture=data.mixture,
                            title=f"step {step}")


class _Logs:
  """Where a run's records and pictures go: its workdir, and each member's folder."""

  def __init__(self, experiment, workdir: str, step: int):
    config = experiment.config
    self.population = isinstance(experiment, populations.Population)
    self.names = [m.name for m in experiment.members] if self.population else [None]
    self.dirs = [workdir if name is None else os.path.join(workdir, MEMBERS_DIR, name)
                 for name in self.names]
    self.writing = experiment.writer
    if self.population:  # One reference for all (for 1-D data: the first member's draw).
      first, *others = experiment.member_experiments
      self.evaluators = [_Evaluator(first)]
      self.evaluators += [_Evaluator(e, like=self.evaluators[0]) for e in others]
    else:
      self.evaluators = [_Evaluator(experiment)]
    self.writers = []
    if self.writing:
      for directory in self.dirs:
        os.makedirs(os.path.join(directory, SAMPLES_DIR), exist_ok=True)
        writers.truncate_metrics(directory, step)  # Records past the checkpoint come again.
        self.writers.append(writers.MetricsWriter(directory, tensorboard=config.tensorboard))
      if self.population:
        writers.truncate_metrics(workdir, step)
        self.summary = writers.MetricsWriter(workdir, tensorboard=config.tensorboard)

  def values(self, metrics) -> list[dict]:
    """Each member's metrics as Python floats (one dict for a single run)."""
    if not self.population:
      return [{k: float(v) for k, v in gan_jax.parallel.fetch(metrics).items()}]
    arrays = gan_jax.parallel.gather(metrics)
    return [{k: float(v[i]) for k, v in arrays.items()} for i in range(len(self.names))]

  def evaluate(self, state, step: int) -> list[dict]:
    """Each member's evaluation metrics; writes each member's picture."""
    if self.population:
      host = gan_jax.parallel.gather(state)  # Every process takes part; process 0 evaluates.
      states = [jax.tree.map(lambda x, i=i: x[i], host) for i in range(len(self.names))]
    elif self.evaluators[0].experiment.mesh is not None:
      # A host copy of the replicated state: no collective, so the other processes go on.
      states = [gan_jax.parallel.fetch(state)] if self.writing else [None]
    else:
      states = [state]
    if not self.writing:
      return [{} for _ in self.names]
    results = []
    for evaluator, member_state, directory, writer in zip(
        self.evaluators, states, self.dirs, self.writers):
      results.append(evaluator.metrics(member_state))
      image = evaluator.picture(member_state, step)
      pictures.save_png(os.path.join(directory, SAMPLES_DIR, f"step_{step:06d}.png"), image)
      writer.write_image(step, "samples", image)
    return results

  def write(self, step: int, records: list[dict]) -> dict:
    """Writes each member's record (and their spread); returns the run's record."""
    if not records[0] or not self.writing:
      return {}
    for writer, record in zip(self.writers, records):
      writer.write(step, record)
    if not self.population:
      return records[0]
    combined = populations.spread(records)
    self.summary.write(step, combined)
    return combined

  def close(self):
    for writer in self.writers:
      writer.close()
    if self.writing and self.population:
      self.summary.close()


def _state_step(state) -> int:
  return int(np.asarray(gan_jax.parallel.fetch(state.step)).reshape(-1)[0])


def train(prepared: Prepared, stop: Stop, *, prefix: str = "") -> Outcome:
  """Runs (or resumes) one training run, or one population, to `num_steps`."""
  experiment, workdir = prepared.experiment, prepared.workdir
  config = experiment.config
  if experiment.writer:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
      json.dump(prepared.resolved, f, indent=2, sort_keys=True)
  state = prepared.state if prepared.state is not None else experiment.start_state()
  step = _state_step(state)
  if step and experiment.writer:
    print(f"{prefix}resuming {workdir} from step {step}", flush=True)

  manager = checkpoint.make_manager(
      os.path.join(workdir, CHECKPOINT_DIR), max_to_keep=config.keep_checkpoints,
      async_save=config.checkpoint_async)
  logs = _Logs(experiment, workdir, step)
  # Process 0 reports progress for all; the others print only errors.
  progress = writers.Progress(step, config.num_steps, enabled=config.progress, prefix=prefix,
                              silent=not experiment.writer)
  params_finite = jax.jit(_params_finite)
  n = config.steps_per_call
  last_record: dict = {}
  last_members: dict = {}
  try:
    while step < config.num_steps:
      batches = experiment.device_batches(step, n)
      state, metrics = experiment.train(state, batches, experiment.train_key)
      step += n
      progress.update(step)
      final = step == config.num_steps
      logging_step = step % config.log_every == 0 or final
      # One look at the signal per step: one that arrives later is handled a step later,
      # never between deciding to save and deciding to stop.
      stopping = stop.signal_name is not None
      saving_step = step % config.checkpoint_every == 0 or final or stopping
      records = [{} for _ in logs.names]
      if logging_step or saving_step:
        # The only device-to-host transfer of the step's metrics.
        values = logs.values(metrics)
        bad = None
        if not config.skip_nonfinite:
          bad = next((f"{_nonfinite(v)}{'' if name is None else ' in member ' + name}"
                      for name, v in zip(logs.names, values) if _nonfinite(v)), None)
        if bad is None and not bool(gan_jax.parallel.fetch(params_finite(state))):
          bad = "parameters=nan"
        if bad is not None:
          kept = manager.latest_step()
          progress.close()
          fix = "lower the learning rates" + (
              "" if config.skip_nonfinite else " or set --config.skip_nonfinite=True")
          print(
              f"{prefix}error: non-finite {bad} at step {step}; stopped without saving it, the "
              f"last good checkpoint ({'step ' + str(kept) if kept is not None else 'none'}) "
              f"stays in {workdir}; {fix}",
              file=sys.stderr, flush=True)
          return Outcome("nonfinite", step, last_record, last_members)
        if logging_step:
          for record, value in zip(records, values):
            record.update(value)
          progress.log(step, populations.spread(values) if logs.population else values[0])
      if step % config.eval_every == 0 or final:
        for record, value in zip(records, logs.evaluate(state, step)):
          record.update(value)
      record = logs.write(step, records)
      if record:
        last_record = {"step": step, **record}
        if logs.population:
          last_members = {name: {"step": step, **r} for name, r in zip(logs.names, records)}
      if saving_step:
        checkpoint.save(manager, state, step=step)
      if stopping and not final:
        progress.close()
        print(f"{prefix}{stop.signal_name} at step {step}: checkpoint saved in {workdir}; "
              "run the same command to resume", flush=True)
        return Outcome("interrupted", step, last_record, last_members)
    if not last_record:  # Resumed at the end: report the last record on disk.
      records = writers.read_metrics(workdir)
      last_record = records[-1] if records else {"step": step}
    return Outcome("finished", step, last_record, last_members)
  finally:
    progress.close()
    manager.wait_until_finished()
    manager.close()
    logs.close()


# --- Sweeps -------------------------------------------------------------------

_SUMMARY_FIELDS = ("d_loss", "g_loss", "modes_covered", "high_quality_fraction",
                   "kl_to_uniform", "wasserstein_1d")


def _cell(record: dict, field: str) -> str:
  value = record.get(field)
  if value is None:
    return ""
  text = f"{value:.4g}" if isinstance(value, float) else str(value)
  spread = record.get(f"{field}/std")
  return text if spread is None else f"{text} ± {spread:.2g}"


def print_summary(rows: list[tuple[str, Outcome]]) -> None:
  """A table of each sweep member's status and last logged metrics.

  A population shows its mean ± std over the members, then each member.
  """
  fields = [f for f in _SUMMARY_FIELDS if any(f in o.last for _, o in rows)]
  header = ["member", "status", "step", *fields]
  table = [header]
  for name, outcome in rows:
    table.append([name or "run", outcome.status, str(outcome.step),
                  *(_cell(outcome.last, f) for f in fields)])
    for member, record in outcome.members.items():
      table.append([f"  {member}", "", str(record.get("step", "")),
                    *(_cell(record, f) for f in fields)])
  widths = [max(len(row[i]) for row in table) for i in range(len(header))]
  for i, row in enumerate(table):
    print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if i == 0:
      print("  ".join("-" * width for width in widths))


# --- main -----------------------------------------------------------------------


def _prepare_all(argv):
  """Parses the command and prepares each job: one run or population, or a sweep's.

  Every job spans every process: a population splits its members over the
  devices of all processes, a single run its batch.
  """
  command = parse_command(argv)
  gan_jax.parallel.initialize_distributed(
      command.coordinator_address, command.num_processes, command.process_id)
  overrides = _load_sweep(command.config_path) if command.sweep else None
  runs = []
  for job in populations.plan(command.config, overrides):
    workdir = os.path.join(command.workdir, job.name) if command.sweep else command.workdir
    try:
      runs.append((job.name, prepare(job, workdir)))
    except UserError as e:
      raise UserError(f"sweep member {job.name}: {e}" if command.sweep else str(e)) from None
  return runs, command


@contextlib.contextmanager
def _quiet_library_warnings():
  """Holds back absl-logged warnings (TFDS, orbax) while a run is checked.

  A refused start prints exactly one line; the libraries' own warnings about
  what they found missing would only repeat it.
  """
  logger = logging.getLogger("absl")
  level = logger.level
  logger.setLevel(logging.ERROR)
  try:
    yield
  finally:
    logger.setLevel(level)


def main(argv: list[str]) -> int:
  """Runs the command line `argv`; returns the exit status."""
  try:
    with _quiet_library_warnings():
      runs, command = _prepare_all(argv)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    return EXIT_USAGE

  results = []
  status = EXIT_OK
  with Stop() as stop:
    for name, prepared in runs:
      prefix = f"[{name}] " if command.sweep else ""
      start = time.perf_counter()
      outcome = train(prepared, stop, prefix=prefix)
      results.append((name, outcome))
      if outcome.status == "nonfinite":
        status = EXIT_NONFINITE
      elif jax.process_index() == 0:
        print(f"{prefix}{outcome.status} at step {outcome.step} in "
              f"{time.perf_counter() - start:.1f}s", flush=True)
      if outcome.status == "interrupted":
        break
  if (command.sweep or any(o.members for _, o in results)) and jax.process_index() == 0:
    print_summary(results)
  return status


if __name__ == "__main__":
  sys.exit(main(sys.argv))
