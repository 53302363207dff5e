"""What a run leaves for people: metrics.jsonl, TensorBoard events, a progress bar.

All of these live on the host and see only Python floats: the loop fetches the
step's metrics from the device at log steps and hands them here.
"""

import json
import math
import os
import sys
import time
from typing import Mapping

import numpy as np
import tqdm

from experiments import workdir as workdirs

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def truncate_metrics(workdir: str, last_step: int) -> None:
  """Keeps the complete records of `metrics.jsonl` up to `last_step` (a run resumed there).

  A run killed between checkpoints logged steps that the resumed run will log
  again; keeping both would give two records for one step. A record cut short
  by a kill is dropped; records glued to it stay (see `read_metrics`). The file
  is replaced whole, never left half rewritten.
  """
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return
  with open(path, "rb") as f:
    original = f.read()
  kept = [r for r in read_metrics(workdir) if isinstance(r.get("step"), int)
          and r["step"] <= last_step]
  text = "".join(json.dumps(record) + "\n" for record in kept)
  if text.encode("utf-8") != original:
    workdirs.write_atomic(path, text)


def read_metrics(workdir: str) -> list[dict]:
  """Every complete record of `workdir/metrics.jsonl`, in order ([] if there is none)."""
  return workdirs.read_json_records(os.path.join(workdir, METRICS_FILE))


def _ends_with_newline(path: str) -> bool:
  with open(path, "rb") as f:
    f.seek(-1, os.SEEK_END)
    return f.read(1) == b"\n"


def _clean(value):
  if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
    return int(value)
  value = float(value)
  # JSON has no NaN or inf; strings keep the record parseable by any reader.
  return value if math.isfinite(value) else str(value)


class MetricsWriter:
  """Appends one JSON line per logged step and mirrors it to TensorBoard."""

  def __init__(self, workdir: str, *, tensorboard: bool = True):
    path = os.path.join(workdir, METRICS_FILE)
    self._file = open(path, "a")
    if self._file.tell() and not _ends_with_newline(path):  # A record cut short by a kill.
      self._file.write("\n")
    self._tb = None
    if tensorboard:
      # tensorboardX writes TensorBoard's event files without TensorFlow.
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top

      self._tb = SummaryWriter(os.path.join(workdir, TENSORBOARD_DIR))

  def write(self, step: int, metrics: Mapping[str, float]) -> None:
    record = {"step": int(step), **{k: _clean(v) for k, v in metrics.items()}}
    self._file.write(json.dumps(record) + "\n")
    self._file.flush()
    if self._tb is not None:
      for name, value in metrics.items():
        if math.isfinite(float(value)):  # NaN (e.g. KL of an empty histogram) stays in the JSON.
          self._tb.add_scalar(name, float(value), int(step))

  def write_image(self, step: int, name: str, image: np.ndarray) -> None:
    """Adds an RGB uint8 picture `[H, W, 3]` to TensorBoard."""
    if self._tb is not None:
      self._tb.add_image(name, image, int(step), dataformats="HWC")

  def close(self) -> None:
    self._file.close()
    if self._tb is not None:
      self._tb.close()


class Progress:
  """A tqdm bar with steps/s, ETA and the latest losses (a plain line when not a TTY).

  `enabled=False` prints plain lines even on a terminal; `silent=True` prints
  nothing (the processes of a multi-process run other than process 0).
  """

  def __init__(self, start_step: int, num_steps: int, *, enabled: bool = True, prefix: str = "",
               silent: bool = False):
    self._silent = silent
    self._interactive = enabled and not silent and sys.stderr.isatty()
    self._num_steps = num_steps
    self._prefix = prefix
    self._bar = None
    self._last = (start_step, time.perf_counter())
    if self._interactive:
      self._bar = tqdm.tqdm(
          initial=start_step, total=num_steps, unit="step", dynamic_ncols=True, desc=prefix or None
      )

  def update(self, step: int) -> None:
    """Marks that `step` steps are done."""
    if self._bar is not None:
      self._bar.update(step - self._bar.n)

  def log(self, step: int, metrics: Mapping[str, float]) -> None:
    """Shows the latest metrics (the bar's postfix, or one printed line)."""
    if self._silent:
      return
    shown = {k: f"{v:.4g}" for k, v in metrics.items() if k in _SHOWN}
    if self._bar is not None:
      self._bar.set_postfix(shown, refresh=False)
      return
    last_step, last_time = self._last
    now = time.perf_counter()
    rate = (step - last_step) / max(now - last_time, 1e-9)
    self._last = (step, now)
    eta = (self._num_steps - step) / rate if rate > 0 else float("inf")
    items = " ".join(f"{k}={v}" for k, v in shown.items())
    print(
        f"{self._prefix}step {step}/{self._num_steps} {items} "
        f"[{rate:.1f} steps/s, ETA {_duration(eta)}]",
        flush=True,
    )

  def write(self, line: str) -> None:
    """Prints a line without breaking the bar."""
    if self._bar is not None:
      self._bar.write(line)
    else:
      print(line, flush=True)

  def close(self) -> None:
    if self._bar is not None:
      self._bar.close()


_SHOWN = ("d_loss", "g_loss", "penalty", "wasserstein_1d", "modes", "high_quality")


def _percent(value: float) -> str:
  return f"{100 * value:.1f}%"


def _number(value: float) -> str:
  return f"{value:.4g}"


# An evaluation's headline metrics, in the order a line shows them: (field, label, format).
HEADLINES = (
    ("modes_covered", "modes", _number),
    ("high_quality_fraction", "high quality", _percent),
    ("kl_to_uniform", "KL", _number),
    ("wasserstein_1d", "W1", _number),
    ("parzen_log_likelihood", "Parzen", _number),
    ("inception_fid", "FID", _number),
    ("frechet_distance", "FD", _number),
    ("precision", "precision", _percent),
    ("recall", "recall", _percent),
    ("class_kl_to_uniform", "class KL", _number),
)
# Which evaluation is the best: the first of these a run records, lower is better.
RANKED_BY = ("wasserstein_1d", "inception_fid", "frechet_distance", "kl_to_uniform")


def _shown(record: Mapping[str, float], field: str, fmt) -> str:
  spread = record.get(f"{field}/std")
  return fmt(record[field]) + ("" if spread is None else f" ± {fmt(spread)}")


def evaluation_line(step: int, record: Mapping[str, float]) -> str:
  """"evaluation at step S: modes 8, high quality 97.2% ± 0.5%, KL 0.0042 ± 0.0016" (a
  population's mean ± std over its members); "" when the record has no headline."""
  parts = [f"{label} {_shown(record, field, fmt)}" for field, label, fmt in HEADLINES
           if field in record]
  return f"evaluation at step {step}: " + ", ".join(parts) if parts else ""


def best_evaluation(records: list[dict]) -> dict:
  """The record of the best evaluation (lowest `RANKED_BY` metric), or {} without one."""
  for field in RANKED_BY:
    scored = [r for r in records
              if isinstance(r.get(field), (int, float)) and math.isfinite(r[field])]
    if scored:
      return min(scored, key=lambda r: r[field])
  return {}


def _duration(seconds: float) -> str:
  if not np.isfinite(seconds):
    return "?"
  seconds = int(seconds)
  return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
