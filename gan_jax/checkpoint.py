"""Checkpoints of the whole game state, through an orbax `CheckpointManager`.

A checkpoint holds one pytree: the `GANState` (both players' parameters, optimizer
states, EMA parameters inside the optimizer state, mutable collections and the step).
Restoring needs an abstract target of the same structure, which
`jax.eval_shape(init_state, ...)` gives without allocating anything:

  manager = checkpoint.make_manager(workdir + "/checkpoints")
  checkpoint.save(manager, state)                  # at step int(state.step)
  abstract = jax.eval_shape(lambda: init_state(gan, key, example))
  state = checkpoint.restore(manager, abstract)    # latest step

Saves are asynchronous by default: `save` returns once the arrays are copied to
host memory, and the files are written in the background; call
`manager.wait_until_finished()` (or `manager.close()`) before the process exits.
"""

import contextlib
import logging
import os
from typing import Any, Optional

import orbax.checkpoint as ocp

PyTree = Any


def latest_step(directory: str) -> Optional[int]:
  """Returns the latest finished checkpoint step under `directory`, or None.

  Reads only: nothing is created where no checkpoints exist yet, so a caller can
  ask before deciding whether to start fresh or resume.

  Args:
    directory: the folder a manager writes to (e.g. `workdir/checkpoints`).

  Returns:
    The largest step that has a complete checkpoint, or None.
  """
  if not os.path.isdir(directory):
    return None
  metadata = ocp.path.step.latest_step_metadata(
      directory, ocp.path.step.standard_name_format()
  )
  return None if metadata is None else metadata.step


def readable(directory: str, step: int) -> bool:
  """Whether the checkpoint at `step` under `directory` can be read at all (no target).

  Tells a damaged checkpoint (truncated or missing files) from one whose arrays
  merely do not fit the target a caller restores it into.
  """
  path = os.path.join(os.path.abspath(directory), str(step), "default")
  try:
    ocp.StandardCheckpointer().restore(path)
  except Exception:  # pylint: disable=broad-except
    return False
  return True


def make_manager(
    directory: str,
    *,
    max_to_keep: Optional[int] = 3,
    async_save: bool = True,
    read_only: bool = False,
) -> ocp.CheckpointManager:
  """Returns an orbax `CheckpointManager` for the game state in `directory`.

  Args:
    directory: where the numbered step folders go; created on the first save
      (unless `read_only`).
    max_to_keep: how many of the latest checkpoints to keep (None keeps all).
    async_save: write files in a background thread after copying to host.
    read_only: never write or delete anything (for sampling and evaluation).

  Returns:
    An `ocp.CheckpointManager`; the caller closes it.
  """
  options = ocp.CheckpointManagerOptions(
      max_to_keep=None if read_only else max_to_keep,
      save_interval_steps=0 if read_only else 1,
      create=not read_only,
      read_only=read_only,
      enable_async_checkpointing=async_save and not read_only,
      # Incomplete folders from a process killed mid-save are not checkpoints;
      # orbax never reports them as steps, and a writer removes them.
      cleanup_tmp_directories=not read_only,
  )
  with _quiet_read_only_notice() if read_only else contextlib.nullcontext():
    return ocp.CheckpointManager(os.path.abspath(directory), options=options)


class _ReadOnlyNotice(logging.Filter):
  """Drops orbax's warning that a read-only manager's directory is read-only."""

  def filter(self, record: logging.LogRecord) -> bool:
    return "is read only" not in record.getMessage()


@contextlib.contextmanager
def _quiet_read_only_notice():
  # Orbax logs through absl, i.e. the Python logger "absl"; sampling and
  # evaluation open checkpoints read-only on purpose and need no warning about it.
  logger, notice = logging.getLogger("absl"), _ReadOnlyNotice()
  logger.addFilter(notice)
  try:
    yield
  finally:
    logger.removeFilter(notice)


def save(manager: ocp.CheckpointManager, state: PyTree, *, step: Optional[int] = None) -> bool:
  """Saves `state` at `step` (default `int(state.step)`); a no-op if that step exists.

  Args:
    manager: from `make_manager`.
    state: the pytree to save (arrays only, e.g. a `GANState`).
    step: the checkpoint's step number.

  Returns:
    Whether a new checkpoint was started.
  """
  if step is None:
    step = int(state.step)
  if step in manager.all_steps():
    return False
  return manager.save(step, args=ocp.args.StandardSave(state), force=True)


def restore(
    manager: ocp.CheckpointManager, abstract_state: PyTree, *, step: Optional[int] = None
) -> PyTree:
  """Restores the checkpoint at `step` (default: the latest) into `abstract_state`'s structure.

  Args:
    manager: from `make_manager`.
    abstract_state: a pytree of `jax.ShapeDtypeStruct` (or arrays) with the saved
      state's structure, e.g. `jax.eval_shape` of the initializer.
    step: which checkpoint; None for the latest.

  Returns:
    The restored state, with `abstract_state`'s tree structure.

  Raises:
    FileNotFoundError: there is no checkpoint to restore.
  """
  if step is None:
    step = manager.latest_step()
    if step is None:
      raise FileNotFoundError(f"no checkpoint in {manager.directory}")
  return manager.restore(step, args=ocp.args.StandardRestore(abstract_state))
