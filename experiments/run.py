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

The workdir is locked while a trainer uses it (`lock`: host, pid); its
`config.json` keeps the config the run was started with, and every resume that
changes settings appends `{step, FIELD: [old, new]}` to `config_changes.jsonl`
(experiments/workdir.py).

Exit status: 0 after `--help` (the usage, with `--config=FILE` the config's docstring
and fields), when training finished or was interrupted by SIGTERM/SIGINT (a
checkpoint is saved first; run the same command to resume); 1 when a loss or the
parameters became non-finite (the last good checkpoint is kept), when
`skip_nonfinite` skipped `max_consecutive_nonfinite` updates in a row, or when a
peer of a multi-process run died; 2 for a mistake in the command, the config,
the data or the workdir (or a request larger than the machine), reported in one
line on stderr before anything is written; 3 when the disk is full (or turned
read-only) where the run writes, the checkpoints already written intact; 130 for
a second Ctrl-C.
"""

import contextlib
import logging
import os
import sys
import tempfile
import time
from typing import Optional

import jax
import ml_collections

from experiments import builders
from experiments import command as command_line
from experiments import locking
from experiments import populations
from experiments import resources
from experiments import workdir as workdirs
from experiments import writers
from experiments.builders import UserError
from experiments.command import parse_command
from gan_jax import checkpoint
import gan_jax
from gan_jax import xla_cpu

CONFIG_FILE = workdirs.CONFIG_FILE
CHECKPOINT_DIR = workdirs.CHECKPOINT_DIR
SAMPLES_DIR = workdirs.SAMPLES_DIR
MEMBERS_DIR = workdirs.MEMBERS_DIR

from experiments.loop import (  # pylint: disable=unused-import  (the runner's API)
    EXIT_DISK, EXIT_INTERRUPTED, EXIT_NONFINITE, EXIT_OK, EXIT_USAGE, Outcome, Prepared, Stop,
    train)


# --- Preparing a run: everything that can fail, before anything is written ---


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
  """`workdir/config.json` (the config the run was started with), or None."""
  return workdirs.read_config(workdir)


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
    UserError: a bad config, missing data, a workdir holding another run or in
      use by another trainer, a damaged checkpoint, too little memory.
  """
  if isinstance(job, ml_collections.ConfigDict):
    job = populations.Job("", (populations.Member("", job),))
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f"--workdir={workdir} is a file; pass a directory")
  workdirs.check_writable(workdir, "--workdir")
  locking.check_unlocked(workdir)
  experiment = build_job(job)
  resolved = _resolved(experiment)
  saved = read_workdir_config(workdir)
  changed = {}
  if saved is not None:
    # Fields and network arguments added since the run was written count as their
    # defaults, on both sides.
    current = workdirs.with_network_defaults(workdirs.saved_config(workdir).to_dict())
    target = workdirs.with_network_defaults(resolved)
    with_defaults = {**current, "resolved": saved.get("resolved")}
    differences = builders.architecture_differences(with_defaults, target)
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
    changed = workdirs.changes(current, target)
  state, step = workdirs.restore_latest(
      workdir, experiment.abstract_state,
      fix="use a new --workdir, or the config that run was started with")
  resources.check_run(experiment)
  return Prepared(experiment, workdir, state, resolved, step, changed)


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


def best_line(name: str, outcome: Outcome) -> str:
  """"best evaluation of NAME: step S (its headline; ranked by FIELD, lower is better)"."""
  best = outcome.best
  field = next(f for f in writers.RANKED_BY if f in best)
  headline = writers.evaluation_line(best["step"], best).split(": ", 1)[1]
  return (f"best evaluation of {name or 'the run'}: step {best['step']} ({headline}; ranked "
          f"by {field}, lower is better)")


# --- main -----------------------------------------------------------------------


HEARTBEAT_TIMEOUT_S = 20  # a silent peer of a multi-process run is given up after this long


def _prepare_all(argv):
  """Parses the command and prepares each job: one run or population, or a sweep's.

  Every job spans every process: a population splits its members over the
  devices of all processes, a single run its batch.
  """
  command = parse_command(argv, __doc__)
  gan_jax.parallel.initialize_distributed(
      command.coordinator_address, command.num_processes, command.process_id,
      heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S)
  overrides = command_line.load_sweep(command) if command.sweep else None
  runs = []
  for job in populations.plan(command.config, overrides):
    workdir = os.path.join(command.workdir, job.name) if command.sweep else command.workdir
    try:
      runs.append((job.name, prepare(job, workdir)))
    except UserError as e:
      raise UserError(f"sweep member {job.name}: {e}" if command.sweep else str(e)) from None
  return runs, command


def _lock_all(runs) -> list:
  """Locks every run's workdir (process 0 does, for all processes of the job).

  A checkpoint written between `prepare` and the lock (another trainer that
  finished meanwhile) is picked up by preparing that run again.
  """
  locks = []
  try:
    for i, (name, prepared) in enumerate(runs):
      if not prepared.experiment.writer:
        continue
      locks.append(locking.Lock(prepared.workdir).acquire())
      latest = checkpoint.latest_step(os.path.join(prepared.workdir, CHECKPOINT_DIR))
      if latest != prepared.step:
        runs[i] = (name, prepare(populations.Job(
            name, prepared.experiment.members) if isinstance(
                prepared.experiment, populations.Population) else prepared.experiment.config,
            prepared.workdir))
  except BaseException:
    for lock in locks:
      lock.release()
    raise
  return locks


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
  """Runs the command line `argv`; returns the exit status.

  0: finished, or stopped by SIGTERM/SIGINT after a checkpoint; 1: a non-finite
  loss or parameters (or a dead peer of a multi-process run); 2: a mistake in the
  command, config, data or workdir, before anything is written; 3: the disk is
  full (or read-only) where the run writes; 130: a second Ctrl-C.
  """
  resources.commit()  # The code as this process loads it, before a later edit or commit.
  try:
    try:
      with _quiet_library_warnings():
        runs, command = _prepare_all(argv)
        locks = _lock_all(runs)
    except UserError as e:
      print(f"error: {e}", file=sys.stderr, flush=True)
      return EXIT_USAGE
    try:
      return _train_all(runs, command)
    finally:
      for lock in locks:
        lock.release()
  except KeyboardInterrupt:  # A second Ctrl-C: the checkpoints written so far stay.
    return EXIT_INTERRUPTED


def _runtime_log_to_file() -> str:
  """Sends the runtime's own (C++) log lines of a multi-process job to a file.

  When a peer dies, every survivor's runtime logs the coordination errors it
  sees (10-60 lines); the runner's one line says what happened and names this
  file. Python's own output keeps the terminal. Returns the file's path.
  """
  path = os.path.join(tempfile.gettempdir(),
                      f"gan_jax_runtime_process{jax.process_index()}_{os.getpid()}.log")
  terminal = os.dup(2)
  log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
  os.dup2(log, 2)
  os.close(log)
  sys.stderr = os.fdopen(terminal, "w", buffering=1)
  return path


def _train_all(runs, command) -> int:
  results = []
  status = EXIT_OK
  note = ""
  if jax.process_count() > 1:
    note = f"this process's runtime log is {_runtime_log_to_file()}"
  with Stop() as stop, gan_jax.parallel.exit_on_peer_failure(note):
    for name, prepared in runs:
      prefix = f"[{name}] " if command.sweep else ""
      start = time.perf_counter()
      outcome = train(prepared, stop, prefix=prefix)
      results.append((name, outcome))
      if outcome.status == "nonfinite":
        status = EXIT_NONFINITE
      elif outcome.status == "disk":
        status = EXIT_DISK
        break
      elif jax.process_index() == 0:
        print(f"{prefix}{outcome.status} at step {outcome.step} in "
              f"{time.perf_counter() - start:.1f}s", flush=True)
      if outcome.status == "interrupted":
        break
  if jax.process_index() == 0:
    if command.sweep or any(o.members for _, o in results):
      print_summary(results)
    for name, outcome in results:
      if outcome.best:
        print(best_line(name if command.sweep else "", outcome), flush=True)
  return status


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  _status = main(sys.argv)
  if _status in (EXIT_USAGE, EXIT_DISK):
    workdirs.exit_now(_status)
  sys.exit(_status)
