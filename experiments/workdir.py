"""The workdir of a run: its files and the record of what produced it.

  config.json           the resolved config the run was started with (never rewritten)
  config_changes.jsonl  one record per resume that changed settings:
                        {"step": S, "time": ..., "FIELD": [old, new], ...}
  lock                  {"host", "pid", "start", "since"} of the trainer using it
  train_time.jsonl      one record per checkpoint saved, the steps since the last one:
                        {"from_step": S0, "to_step": S1, "seconds": ...,
                         "machine": ..., "software": "jax 0.10.2, ...",
                         "commit": "abc1234"}  (the code that trained them)
  metrics.jsonl, checkpoints/, samples/, tensorboard/, members/NAME/ (populations)

Every small file is written whole or not at all (a temporary file, then a rename),
so a kill or a full disk never leaves half a config behind. One trainer at a
time holds the `lock` (experiments/locking.py).
"""

import datetime
import json
import logging
import os
import sys
import tempfile
import threading
from typing import Optional

import ml_collections

from experiments.errors import UserError
from gan_jax import checkpoint
from gan_jax import models

CONFIG_FILE = "config.json"
CHANGES_FILE = "config_changes.jsonl"
LOCK_FILE = "lock"
TIME_FILE = "train_time.jsonl"
CHECKPOINT_DIR = "checkpoints"
SAMPLES_DIR = "samples"
MEMBERS_DIR = "members"  # a population's members/NAME/: each member's own logs and samples


# --- Files ----------------------------------------------------------------------


def write_atomic(path: str, text: str) -> None:
  """Writes `text` to `path` whole: a temporary file in the same folder, then a rename."""
  directory = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from other users.
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def append_line(path: str, record: dict) -> None:
  """Appends one JSON record as a line, on a fresh line even after a cut-short one."""
  with open(path, "a+b") as f:
    f.seek(0, os.SEEK_END)
    if f.tell():
      f.seek(-1, os.SEEK_END)
      if f.read(1) != b"\n":
        f.write(b"\n")
    f.write((json.dumps(record) + "\n").encode("utf-8"))
    f.flush()


def read_json_records(path: str) -> list[dict]:
  """The complete JSON records of a .jsonl file, in order.

  Lines glued together (a record appended to one whose newline a kill cut off)
  are split back into their records; a record cut short is dropped.
  """
  if not os.path.exists(path):
    return []
  decoder = json.JSONDecoder()
  records = []
  with open(path, encoding="utf-8", errors="replace") as f:
    for line in f:
      text, position = line.strip(), 0
      while position < len(text):
        try:
          record, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
          break  # The rest of the line was cut short.
        if isinstance(record, dict):
          records.append(record)
        position = end
        while position < len(text) and text[position].isspace():
          position += 1
  return records


def check_writable(directory: str, what: str) -> None:
  """Raises UserError unless a file can be created in `directory` (or where it would be).

  A real write probe: permission bits do not stop root, a read-only mount does.
  """
  existing = os.path.abspath(directory)
  while not os.path.exists(existing):
    parent = os.path.dirname(existing)
    if parent == existing:
      break
    existing = parent
  if not os.path.isdir(existing):
    raise UserError(f"{what}={directory}: {existing} is a file, not a directory; pass a "
                    "directory path")
  try:
    fd, probe = tempfile.mkstemp(dir=existing, prefix=".write_probe.")
    os.close(fd)
    os.remove(probe)
  except OSError as e:
    raise UserError(f"{what}={directory}: cannot write in {existing} ({e.strerror}); pass a "
                    "writable directory") from None


# --- The config record ----------------------------------------------------------


def read_config(workdir: str) -> Optional[dict]:
  """`workdir/config.json` as a dict, None if there is none; UserError if unreadable."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path, encoding="utf-8") as f:
      saved = json.load(f)
  except UnicodeDecodeError:
    raise UserError(f"{path} is not UTF-8 text; it was not written by experiments.run: "
                    "move it away or use a new --workdir") from None
  except (OSError, json.JSONDecodeError) as e:
    raise UserError(f"{path} is unreadable ({str(e).splitlines()[0]}); move it away or use "
                    "a new --workdir") from None
  if not isinstance(saved, dict):
    raise UserError(f"{path} holds a JSON {type(saved).__name__}, not a config object; it was "
                    "not written by experiments.run: move it away or use a new --workdir")
  for field, kind in (("population", list), ("resolved", dict)):
    if saved.get(field) is not None and not isinstance(saved[field], kind):
      raise UserError(f"{path}: its {field!r} is a JSON {type(saved[field]).__name__}, not a "
                      f"{'list' if kind is list else 'object'}; it was not written by "
                      "experiments.run: move it away or use a new --workdir")
  return saved


def flatten(tree: dict, prefix: str = "") -> dict:
  """`{"a": {"b": 1}}` -> `{"a.b": 1}`; lists stay values."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(flatten(value, f"{prefix}{key}."))
    else:
      flat[f"{prefix}{key}"] = value
  return flat


def _normal(value):
  if isinstance(value, (list, tuple)):
    return [_normal(v) for v in value]
  return value


def changes(old: dict, new: dict, ignore=("resolved", "population")) -> dict:
  """The fields whose values differ, as `{field: [old, new]}` (None for an absent one)."""
  old = flatten({k: v for k, v in old.items() if k not in ignore})
  new = flatten({k: v for k, v in new.items() if k not in ignore})
  return {field: [old.get(field), new.get(field)] for field in sorted(set(old) | set(new))
          if _normal(old.get(field)) != _normal(new.get(field))}


def read_changes(workdir: str) -> list[dict]:
  return read_json_records(os.path.join(workdir, CHANGES_FILE))


def apply_changes(config: dict, records: list[dict]) -> dict:
  """`config` (nested) with every recorded change applied, in order."""
  config = json.loads(json.dumps(config))
  for record in records:
    for field, value in record.items():
      if field in ("step", "time") or not isinstance(value, list) or len(value) != 2:
        continue
      *parents, leaf = field.split(".")
      node = config
      for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
          break
      else:
        if value[1] is None:
          node.pop(leaf, None)
        else:
          node[leaf] = value[1]
  return config


# Config fields added since the first config.json was written, with the values that
# keep a run written before them behaving as it did. Reading an older workdir fills
# them in; a new field of the configs' defaults belongs here too.
ADDED_FIELDS = {
    "num_seeds": 1,
    "penalty_schedule": "constant",
    "penalty_weight_final": 0.0,
    "g_steps": 1,
    "data.scale": "",
    "data.fixed_points": 0,
    "eval.bn_refresh_batches": 0,
    "model.generator_passes": 1,
    **{f"{player}.{field}": value
       for player in ("g_optimizer", "d_optimizer")
       for field, value in (("max_norm", 0.0), ("momentum_final", 0.0),
                            ("momentum_ramp_steps", 0), ("schedule", "constant"),
                            ("lr_final", 0.0), ("b2_final", 0.0), ("schedule_steps", 0),
                            ("ema_halflife", 0.0), ("eps_in_sqrt", True),
                            ("initial_scale", 0.0))},
}


# Values a config.json may hold that gan_jax no longer takes, with their successors:
# DCGAN's sub-pixel and space-to-depth layers, retired for the adjoint forms (the
# same parameters, outputs and gradients).
RETIRED_VALUES = {
    "model.g.upsample": {"subpixel": "adjoint"},
    "model.d.downsample": {"space_to_depth": "adjoint"},
}


def with_added_fields(config: dict) -> dict:
  """`config` (nested) with each field of ADDED_FIELDS it lacks at its old value, and
  each of RETIRED_VALUES replaced by its successor."""
  config = json.loads(json.dumps(config))
  for field, successors in RETIRED_VALUES.items():
    *parents, leaf = field.split(".")
    node = config
    for part in parents:
      node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get(leaf), str) and node[leaf] in successors:
      node[leaf] = successors[node[leaf]]
  for field, value in ADDED_FIELDS.items():
    *parents, leaf = field.split(".")
    node = config
    for part in parents:
      node = node.setdefault(part, {}) if isinstance(node, dict) else None
    if isinstance(node, dict):
      node.setdefault(leaf, value)
  return config


def with_network_defaults(config: dict) -> dict:
  """`config` (nested) with each library network's unset arguments at their factory's
  defaults, so that a workdir written before a network argument existed compares equal
  to a config that sets it to its default. The defaults are today's: a new argument's
  default must keep the behaviour from before it (ADDED_FIELDS holds old values)."""
  config = json.loads(json.dumps(config))
  model = config.get("model")
  if not isinstance(model, dict):
    return config
  for role, name_field, registry in (("g", "generator", models.GENERATORS),
                                     ("d", "discriminator", models.DISCRIMINATORS)):
    name, arguments = model.get(name_field), model.get(role)
    if isinstance(name, str) and name in registry and isinstance(arguments, dict):
      for argument, value in registry[name].defaults.items():
        try:
          arguments.setdefault(argument, json.loads(json.dumps(value)))  # Tuples as lists.
        except TypeError:  # Not JSON (a function): no config.json can hold it either.
          pass
  return config


def saved_config(workdir: str) -> Optional[ml_collections.ConfigDict]:
  """The config a run last ran with: config.json, its recorded changes, and the fields
  added since it was written (ADDED_FIELDS); None without a config.json. The
  "resolved" and "population" records stay out of it."""
  saved = read_config(workdir)
  if saved is None:
    return None
  saved = apply_changes(saved, read_changes(workdir))
  saved = {k: v for k, v in saved.items() if k not in ("resolved", "population")}
  return ml_collections.ConfigDict(with_added_fields(saved))


def record_changes(workdir: str, step: int, changed: dict) -> str:
  """Appends `{step, time, field: [old, new], ...}` to config_changes.jsonl; returns a line."""
  now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
  append_line(os.path.join(workdir, CHANGES_FILE), {"step": step, "time": now, **changed})
  shown = ", ".join(f"{f} {o!r} -> {n!r}" for f, (o, n) in list(changed.items())[:6])
  more = f" and {len(changed) - 6} more" if len(changed) > 6 else ""
  return (f"resuming at step {step} with changed settings: {shown}{more} (recorded in "
          f"{os.path.join(workdir, CHANGES_FILE)}; {CONFIG_FILE} keeps the original)")


# --- Checkpoints ----------------------------------------------------------------


class MainThreadOnly:
  """A stderr that passes on what the main thread writes and drops the other threads'.

  A failed orbax restore or save (a damaged checkpoint, a full disk) leaves
  tensorstore operations running that finish after orbax closed their event
  loop, and each prints a traceback ("Event loop is closed") from its own
  thread; the one-line error would drown under hundreds of lines. Failures of
  the background writes still surface in the main thread (orbax re-raises them
  at the next save or wait), where they are reported.
  """

  def __init__(self, stream):
    self.stream = stream

  def write(self, text):
    if threading.current_thread() is threading.main_thread():
      return self.stream.write(text)
    return len(text)

  def __getattr__(self, name):
    return getattr(self.stream, name)


class _OrphanedReadErrors(logging.Filter):
  """Drops asyncio's "Task exception was never retrieved" records: when a checkpoint
  cannot be read, orbax's read tasks fail together and those whose exception nobody
  awaited are logged whenever the garbage collector frees them. The failure itself
  reaches the caller as the exception `restore_latest` reports in one line."""

  def filter(self, record: logging.LogRecord) -> bool:
    return "exception was never retrieved" not in record.getMessage()


_ORPHANED_READ_ERRORS = _OrphanedReadErrors()


def restore_latest(workdir: str, abstract_state, *, fix: str, step: Optional[int] = None):
  """`(state, step)` of the latest checkpoint of `workdir` (or of `step`), `(None, None)` if none.

  Raises:
    UserError: the checkpoint is damaged (naming its folder and how to resume
      from the one before), does not fit `abstract_state` (`fix` says what to do),
      or `step` has no checkpoint (naming those kept).
  """
  directory = os.path.join(workdir, CHECKPOINT_DIR)
  latest = checkpoint.latest_step(directory)
  if latest is None:
    return None, None
  manager = checkpoint.make_manager(directory, read_only=True)
  if step is None:
    step = latest
  elif step not in manager.all_steps():
    kept = ", ".join(str(s) for s in sorted(manager.all_steps()))
    raise UserError(f"{directory} has no checkpoint of step {step}; it keeps steps {kept}")
  logging.getLogger("asyncio").addFilter(_ORPHANED_READ_ERRORS)  # Once: a filter is a set.
  stderr = sys.stderr
  sys.stderr = MainThreadOnly(stderr)  # Kept after a failure: the process ends with it.
  try:
    state = checkpoint.restore(manager, abstract_state, step=step)
    sys.stderr = stderr
    return state, step
  except Exception as e:  # pylint: disable=broad-except
    # Orbax reports a damaged file, a mismatched tree or shape in many exception types.
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    first = first.split(" See full TensorStore details")[0][:160]
    if not checkpoint.readable(directory, step):
      where = os.path.join(directory, str(step))
      earlier = [s for s in manager.all_steps() if s < step]
      aside = os.path.join(workdir, f"damaged_step_{step}")
      then = (f"to resume from step {max(earlier)}, the one before" if earlier else
              "to start afresh (there is no earlier checkpoint)")
      raise UserError(f"the checkpoint {where} is damaged ({first}); move it away "
                      f"(mv {where} {aside}) {then}") from None
    raise UserError(f"the checkpoint at step {step} in {directory} does not fit this config "
                    f"({first}); {fix}") from None
  finally:
    manager.close()


def exit_now(status: int) -> None:
  """Ends the process with `status` after flushing, skipping interpreter teardown.

  For refused starts only: nothing is left to write, and teardown would let
  orbax's abandoned reads of a damaged checkpoint print past the one-line error.
  """
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status)  # pylint: disable=protected-access
