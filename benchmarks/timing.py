"""Wall-clock timing that survives a busy machine: warm-up, then interleaved repeats.

Every benchmark here compares several implementations of one computation. On a
small shared CPU a background process can slow one stretch of time by 2-4x, so the
implementations are timed round-robin (A, B, C, A, B, C, ...) rather than one after
the other: a slow stretch then hits all of them alike, and the median of each is
comparable. Each callable must block until its result exists
(`jax.block_until_ready`, or PyTorch's synchronous CPU ops).
"""

import datetime
import os
import platform
import statistics
import time
from typing import Callable, Mapping


def interleaved(fns: Mapping[str, Callable[[], object]], *, repeats: int = 15,
                warmup: int = 2) -> dict[str, list[float]]:
  """Times each callable `repeats` times, round-robin, after `warmup` untimed calls.

  Args:
    fns: name -> zero-argument callable that runs the work once and blocks.
    repeats: timed calls per callable.
    warmup: untimed calls per callable first (compilation, allocator warm-up).

  Returns:
    name -> list of `repeats` durations in seconds.
  """
  for fn in fns.values():
    for _ in range(warmup):
      fn()
  times = {name: [] for name in fns}
  for _ in range(repeats):
    for name, fn in fns.items():
      start = time.perf_counter()
      fn()
      times[name].append(time.perf_counter() - start)
  return times


def passive_openmp() -> str:
  """Makes idle OpenMP threads sleep instead of spin; call before importing torch.

  PyTorch's CPU kernels run on OpenMP threads that, by default, spin while they
  wait. On two cores shared with other processes a spinning thread holds a core
  that the thread it waits for needs, and a 10 ms PyTorch step can take 300 ms.
  `OMP_WAIT_POLICY=PASSIVE` removes that pathology (JAX does not use OpenMP). An
  explicit `OMP_WAIT_POLICY` in the environment is kept.

  Returns:
    The policy in force.
  """
  return os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def median_ms(times: list[float]) -> float:
  return 1e3 * statistics.median(times)


def machine() -> str:
  """One line: CPU model, cores visible to this process, load average, date (UTC)."""
  model = platform.processor() or "unknown CPU"
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          model = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
  date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  return f"{model}, {cores} cores, load average {load} (1/5/15 min), {date}"


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
  """A GitHub markdown table; floats print with one decimal."""
  def cell(value):
    return f"{value:.1f}" if isinstance(value, float) else str(value)
  lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
  return "\n".join(lines)
