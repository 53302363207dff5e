"""One trainer per workdir: a lock file naming the process that holds it.

A second trainer on the same workdir stops with one line naming the holder
(`{"host", "pid", "start", "since"}` in the workdir's `lock`); the lock of a process
that died on this host (its pid gone, or reused by another process) is taken over
with a note.
"""

import datetime
import fcntl
import json
import os
import socket
import sys
import tempfile
from typing import Optional

from experiments.errors import UserError
from experiments.workdir import LOCK_FILE


def _start_time(pid: int) -> Optional[str]:
  """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[19]
  except (OSError, IndexError):
    return None


def _alive(holder: dict) -> bool:
  pid = holder.get("pid")
  if not isinstance(pid, int) or pid <= 0:
    return False
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    pass
  started = _start_time(pid)
  return started is None or holder.get("start") in (None, started)


def _holder(path: str) -> Optional[dict]:
  try:
    with open(path, encoding="utf-8") as f:
      holder = json.load(f)
    return holder if isinstance(holder, dict) else {}
  except FileNotFoundError:
    return None
  except PermissionError:  # Another user's lock: in use as far as this process can tell.
    return {"host": "unknown (the lock file is not readable)", "pid": None, "since": "?"}
  except (OSError, ValueError):
    return {}


def _in_use(workdir: str, holder: dict) -> UserError:
  path = os.path.join(workdir, LOCK_FILE)
  who = f"pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('since')}"
  if holder.get("host") == socket.gethostname():
    fix = "wait for it to finish or stop it, or pass another --workdir"
  else:
    fix = f"wait for it or pass another --workdir; if that run is gone, remove {path}"
  return UserError(f"{workdir} is in use by another trainer ({who}); {fix}")


def _stale(holder: dict) -> bool:
  """A lock this host can prove dead: its process is gone (or it is unreadable)."""
  if not holder:
    return True
  return holder.get("host") == socket.gethostname() and not _alive(holder)


def check_unlocked(workdir: str) -> None:
  """Raises UserError if another live trainer holds `workdir` (reads only)."""
  holder = _holder(os.path.join(workdir, LOCK_FILE))
  mine = holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname()
  if holder is not None and not mine and not _stale(holder):
    raise _in_use(workdir, holder)


class Lock:
  """This process's hold on a workdir; `release()` (or the context exit) gives it back."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, LOCK_FILE)
    self.record = {"host": socket.gethostname(), "pid": os.getpid(),
                   "start": _start_time(os.getpid()),
                   "since": datetime.datetime.now(datetime.timezone.utc).strftime(
                       "%Y-%m-%dT%H:%M:%SZ")}

  def acquire(self) -> "Lock":
    """Takes the lock; raises UserError if a live trainer holds it (or it cannot be written).

    The lock file is created whole (written aside, then hard-linked into place,
    which fails if it exists), so no reader ever sees half a record. Taking over a
    stale lock happens under an flock of `.lock.guard`, so two trainers never both
    take the same dead one over.
    """
    workdir = os.path.dirname(self.path)
    try:
      os.makedirs(workdir, exist_ok=True)
      for _ in range(3):
        if self._link():
          return self
        with open(os.path.join(workdir, ".lock.guard"), "a") as guard:
          fcntl.flock(guard, fcntl.LOCK_EX)
          holder = _holder(self.path)
          if holder is None:
            continue  # Released meanwhile: try again.
          if not _stale(holder):
            raise _in_use(workdir, holder)
          print(f"note: taking over the lock of pid {holder.get('pid')} on "
                f"{holder.get('host')}, which is no longer running, in {workdir}",
                file=sys.stderr, flush=True)
          try:
            os.remove(self.path)
          except FileNotFoundError:
            pass
          if self._link():
            return self
    except OSError as e:
      raise UserError(f"cannot write the lock of {workdir} ({e.strerror}); free space or pass "
                      "a writable --workdir") from None
    raise UserError(f"could not lock {workdir}: other trainers keep taking it; pass another "
                    "--workdir")

  def _link(self) -> bool:
    """Creates the lock file whole; False if one exists."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=".lock.", suffix=".tmp")
    try:
      os.fchmod(fd, 0o644)
      with os.fdopen(fd, "w") as f:
        json.dump(self.record, f)
      os.link(tmp, self.path)
      return True
    except FileExistsError:
      return False
    finally:
      os.remove(tmp)

  def release(self) -> None:
    if _holder(self.path) == self.record:
      os.remove(self.path)

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()
