"""The training loop: train steps, stop signals, logs, evaluations, checkpoints, faults.

`train(prepared, stop)` runs a prepared run (experiments/run.py `prepare`) from its
restored step to `num_steps`: every `log_every` steps a metrics record (and the
progress line), every `eval_every` an evaluation and a picture, every
`checkpoint_every` an orbax checkpoint, and always after the last step. It stops
early, with a checkpoint, on SIGTERM/SIGINT (`Stop`); at the first non-finite loss
or parameters, keeping the last good checkpoint; and when the disk where the run
writes is full, naming the device. Its `Outcome` carries the exit status.
"""

import json
import os
import signal
import sys
import time
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from experiments import disk
from experiments import populations
from experiments import records
from experiments import resources
from experiments import workdir as workdirs
from experiments import writers
from gan_jax import checkpoint
import gan_jax

# 130: a second Ctrl-C (the shell's status for SIGINT) stops at once.
EXIT_OK, EXIT_NONFINITE, EXIT_USAGE, EXIT_DISK, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class Prepared(NamedTuple):
  experiment: Any  # a builders.Experiment, or a populations.Population
  workdir: str
  state: Optional[Any]  # the restored GANState, or None for a fresh start
  resolved: dict  # what config.json holds for a fresh start
  step: Optional[int] = None  # the restored checkpoint's step
  changed: dict = {}  # settings changed since the run's last start: {field: [old, new]}



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
  best: dict = {}  # the record of the best evaluation on disk (writers.best_evaluation)


def _nonfinite(values: dict) -> Optional[str]:
  for name, value in values.items():
    if not np.isfinite(value):
      return f"{name}={value}"
  return None


def _params_finite(state) -> jax.Array:
  leaves = jax.tree.leaves((state.g_params, state.d_params))
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _state_step(state) -> int:
  return int(np.asarray(gan_jax.parallel.fetch(state.step)).reshape(-1)[0])


def _skipped_in_a_row(state) -> int:
  """The most non-finite updates in a row that `optax.apply_if_finite` skipped, any player."""
  counts = [np.max(np.asarray(gan_jax.parallel.fetch(s.notfinite_count)))
            for s in jax.tree.leaves((state.g_opt_state, state.d_opt_state),
                                     is_leaf=lambda x: isinstance(x, optax.ApplyIfFiniteState))
            if isinstance(s, optax.ApplyIfFiniteState)]
  return int(max(counts, default=0))


def _write_start_record(prepared: Prepared, step: int, prefix: str) -> None:
  """config.json for a fresh run; a record of the changed settings for a resume."""
  workdir = prepared.workdir
  os.makedirs(workdir, exist_ok=True)
  if workdirs.read_config(workdir) is None:
    workdirs.write_atomic(os.path.join(workdir, workdirs.CONFIG_FILE),
                          json.dumps(prepared.resolved, indent=2, sort_keys=True))
  elif prepared.changed:
    print(prefix + workdirs.record_changes(workdir, step, prepared.changed), flush=True)


def train(prepared: Prepared, stop: Stop, *, prefix: str = "") -> Outcome:
  """Runs (or resumes) one training run, or one population, to `num_steps`.

  A full disk ends the run with one line and the "disk" outcome; the checkpoints
  already written stay intact and the same command resumes once space is freed.
  """
  experiment, workdir = prepared.experiment, prepared.workdir
  state = prepared.state if prepared.state is not None else experiment.start_state()
  step = _state_step(state)
  manager = logs = progress = None
  disk.quiet_fault_logs()
  stderr = sys.stderr
  sys.stderr = workdirs.MainThreadOnly(stderr)
  try:
    if experiment.writer:
      _write_start_record(prepared, step, prefix)
      if step:
        print(f"{prefix}resuming {workdir} from step {step}", flush=True)
    manager = checkpoint.make_manager(
        os.path.join(workdir, workdirs.CHECKPOINT_DIR), max_to_keep=experiment.config.keep_checkpoints,
        async_save=experiment.config.checkpoint_async)
    logs = records.RunRecords(experiment, workdir, step)
    # Process 0 reports progress for all; the others print only errors.
    progress = writers.Progress(step, experiment.config.num_steps,
                                enabled=experiment.config.progress, prefix=prefix,
                                silent=not experiment.writer)
    outcome = _loop(experiment, state, step, manager, logs, progress, stop, prefix, workdir)
    manager.wait_until_finished()
    return outcome
  except Exception as e:  # pylint: disable=broad-except
    reason = disk.fault(e)
    if reason is None:
      raise
    if progress is not None:
      progress.close()
    if manager is not None:
      # A save still in flight finishes (or fails) first, so the step named below is the
      # last one on disk when the process ends, not one that completes after the message.
      try:
        manager.wait_until_finished()
      except Exception as late:  # pylint: disable=broad-except
        if disk.fault(late) is None:
          raise
    kept = checkpoint.latest_step(os.path.join(workdir, workdirs.CHECKPOINT_DIR))
    print(f"{prefix}error: {reason} ({disk.device_of(workdir)}) while writing {workdir}; the "
          f"checkpoints up to {'step ' + str(kept) if kept is not None else 'none'} are intact: "
          "free space and run the same command to resume", file=sys.stderr, flush=True)
    return Outcome("disk", kept if kept is not None else step, {})
  finally:
    if progress is not None:
      progress.close()
    try:
      for close in ((manager.close,) if manager is not None else ()) + (
          (logs.close,) if logs is not None else ()):
        try:
          close()
        except Exception as e:  # pylint: disable=broad-except
          if disk.fault(e) is None:
            raise
    finally:
      sys.stderr = stderr


def _record_time(workdir: str, from_step: int, to_step: int, seconds: float) -> None:
  """Appends the time of the steps since the last checkpoint to train_time.jsonl.

  One line per checkpoint, so a process killed without warning (SIGKILL, a lost
  node) leaves the time of every step it saved; results' wall time adds the lines up
  across resumes. A disk that refuses the line costs only the record.
  """
  try:
    workdirs.append_line(os.path.join(workdir, workdirs.TIME_FILE),
                         {"from_step": from_step, "to_step": to_step, "seconds": round(seconds, 1),
                          "machine": resources.machine(),
                          "software": resources.software(), "commit": resources.commit()})
  except OSError:
    pass


def _loop(experiment, state, step, manager, logs, progress, stop, prefix, workdir) -> Outcome:
  """The steps from `step` to `num_steps`: train, log, evaluate, checkpoint, stop."""
  config = experiment.config
  params_finite = jax.jit(_params_finite)
  n = config.steps_per_call
  last_record: dict = {}
  last_members: dict = {}
  span_step, span_started = step, time.perf_counter()  # Since the last checkpoint.
  while step < config.num_steps:
    # Logs, evaluations and checkpoints fall on multiples of steps_per_call: a run
    # resumed from another alignment first catches up with a shorter call.
    count = n - step % n
    batches = experiment.device_batches(step, count)
    state, metrics = experiment.train(state, batches, experiment.train_key)
    step += count
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
      elif _skipped_in_a_row(state) >= config.max_consecutive_nonfinite:
        bad = (f"updates ({_skipped_in_a_row(state)} in a row skipped, "
               f"max_consecutive_nonfinite={config.max_consecutive_nonfinite})")
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
    evaluating = step % config.eval_every == 0 or final
    if evaluating:
      for record, value in zip(records, logs.evaluate(state, step)):
        record.update(value)
    record = logs.write(step, records)
    line = writers.evaluation_line(step, record) if evaluating else ""
    if line:
      progress.write(prefix + line)
    if record:
      last_record = {"step": step, **record}
      if logs.population:
        last_members = {name: {"step": step, **r} for name, r in zip(logs.names, records)}
    if saving_step:
      # The span first: a kill between the two leaves a span past the last checkpoint
      # (the resume's span overlaps it, counted once), never a checkpoint without one.
      if experiment.writer:
        now = time.perf_counter()
        _record_time(workdir, span_step, step, now - span_started)
        span_step, span_started = step, now
      checkpoint.save(manager, state, step=step)
    if stopping and not final:
      manager.wait_until_finished()
      progress.close()
      print(f"{prefix}{stop.signal_name} at step {step}: checkpoint saved in {workdir}; "
            "run the same command to resume", flush=True)
      return Outcome("interrupted", step, last_record, last_members)
  records = writers.read_metrics(workdir) if experiment.writer else []
  if not last_record:  # Resumed at the end: report the last record on disk.
    last_record = records[-1] if records else {"step": step}
  return Outcome("finished", step, last_record, last_members, writers.best_evaluation(records))


