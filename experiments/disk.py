"""A full or failing disk under a run: telling its errors apart, and saying where.

Orbax wraps the OSError of a failed write in its own exceptions and logs it from
every save thread; the runner finds the reason in the chain of causes (`fault`),
names the filesystem (`device_of`) and reports it in one line, with the loggers'
copies dropped (`quiet_fault_logs`).
"""

import errno
import logging
import os
from typing import Optional

_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


def fault(error: BaseException) -> Optional[str]:
  """The reason ("No space left on device", ...) if `error` comes from the disk, else None.

  Orbax wraps the OSError of a failed write in its own exceptions: the whole
  chain of causes is searched.
  """
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in _DISK_ERRORS:
      return os.strerror(error.errno)
    text = str(error)
    for code in _DISK_ERRORS:
      if os.strerror(code) in text:
        return os.strerror(code)
    error = error.__cause__ or error.__context__
  return None


class _DiskFaultRecords(logging.Filter):
  """Drops orbax's and asyncio's log records of a failed write to a full disk.

  The runner reports the fault itself in one line; orbax logs it from each of its
  save threads with the whole tensorstore spec (hundreds of lines).
  """

  def filter(self, record: logging.LogRecord) -> bool:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
      text += str(record.exc_info[1])
    return not any(os.strerror(code) in text for code in _DISK_ERRORS) and (
        "RESOURCE_EXHAUSTED" not in text)


def quiet_fault_logs() -> None:
  """Installs `_DiskFaultRecords` on the loggers that repeat a disk fault."""
  for name in ("absl", "asyncio"):
    logger = logging.getLogger(name)
    if not any(isinstance(f, _DiskFaultRecords) for f in logger.filters):
      logger.addFilter(_DiskFaultRecords())


def device_of(path: str) -> str:
  """The filesystem `path` lives on, as /proc/mounts names it ("tmpfs on /mnt")."""
  path = os.path.realpath(path)
  best = ("", "?")
  try:
    with open("/proc/mounts") as f:
      for line in f:
        device, mount = line.split()[:2]
        if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best[0]):
          best = (mount, device)
  except OSError:
    pass
  return f"{best[1]} on {best[0] or '/'}"
