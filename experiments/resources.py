"""What a request needs of the machine, checked before anything is allocated.

A batch, an evaluation set or a sample file larger than the machine can hold is
refused with one line (exit status 2) instead of running until memory or the disk
runs out: host memory from /proc/meminfo, an accelerator's from its
`memory_stats()`, the train step's own need from XLA's memory analysis of the
compiled program (the compilation is the one the first step reuses).
"""

import functools
import importlib.metadata
import os
import platform
import shutil
import subprocess
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from experiments.errors import UserError

FLOAT_BYTES = 4


def cpu() -> str:
  """This host's CPU model and the cores this process may run on, in words: `AMD EPYC,
  2 cores`, or `AMD EPYC, 1 of 2 cores` for a process pinned to one (`taskset -c 0`),
  as XLA's thread pool is."""
  model = "unknown CPU"
  try:
    with open("/proc/cpuinfo") as f:
      model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    model = platform.processor() or model
  total = os.cpu_count()
  usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
  return f"{model}, {total} cores" if usable == total else f"{model}, {usable} of {total} cores"


# The distributions that carry an accelerator's kernels.
_PLUGINS = ("jax-cuda", "jax_cuda", "jax-rocm", "jax_rocm", "libtpu")


@functools.cache
def software() -> str:
  """The versions of the packages that make this process's numbers, in words."""
  versions = []
  for package in ("jax", "jaxlib", "flax", "optax"):
    try:
      versions.append(f"{package} {importlib.metadata.version(package)}")
    except importlib.metadata.PackageNotFoundError:
      versions.append(f"{package} absent")
  # The accelerator's kernels come from a plugin (or libtpu), named only where installed.
  # A distribution found on two paths of sys.path is named once.
  plugins = sorted({(d.metadata["Name"], d.version) for d in importlib.metadata.distributions()
                    if (d.metadata["Name"] or "").lower().startswith(_PLUGINS)})
  versions += [f"{name} {version}" for name, version in plugins]
  return ", ".join(versions)


# The checkout this code runs from, and the folders whose code makes a run's numbers.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CODE = ("gan_jax", "experiments", "configs")


@functools.cache
def commit() -> str:
  """The commit of the code this process runs: `abc1234`, or `abc1234-dirty` where
  gan_jax/, experiments/ or configs/ differ from it (an edit or a new file; other files do
  not count); "unknown" outside a git checkout of the project (an installed copy, a
  checkout git refuses to read). A multi-process run's spans name the writing process's."""
  # The checkout's own repository, whatever GIT_DIR a git hook that runs this has set.
  env = {k: v for k, v in os.environ.items()
         if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}

  def git(*args):
    # No index lock: a run starting beside the user's own `git commit` leaves it alone.
    return subprocess.run(["git", "--no-optional-locks", "-C", _ROOT, *args],
                          capture_output=True, text=True, check=True, timeout=30,
                          env=env).stdout.strip()
  try:
    if os.path.realpath(git("rev-parse", "--show-toplevel")) != os.path.realpath(_ROOT):
      return "unknown"  # Installed inside some other repository.
    head = git("rev-parse", "--short=7", "HEAD")  # One length in every clone.
    changed = git("status", "--porcelain", "--", *_CODE)
  except (OSError, subprocess.SubprocessError):
    return "unknown"
  return f"{head}-dirty" if changed else head


@functools.cache
def machine() -> str:
  """What this process trains on: its host's accelerators (`1 x NVIDIA H200`; with several
  processes, `2 hosts x 8 x NVIDIA H100`), else its CPU."""
  devices = jax.local_devices()
  if devices[0].platform == "cpu":
    return cpu()
  kinds = ", ".join(sorted({d.device_kind for d in devices}))
  hosts = f"{jax.process_count()} hosts x " if jax.process_count() > 1 else ""
  return f"{hosts}{len(devices)} x {kinds}"


def gib(num_bytes: float) -> str:
  return f"{num_bytes / 2**30:.3g} GiB"


def host_bytes() -> int:
  """Memory the host can still give (MemAvailable), or its physical size."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError, IndexError):
    pass
  return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def device_bytes(device=None) -> tuple[int, str]:
  """`(bytes, name)`: an accelerator's memory limit, or the host's for CPU devices."""
  device = device or jax.devices()[0]
  stats = None
  try:
    stats = device.memory_stats()
  except Exception:  # pylint: disable=broad-except  (backends without statistics)
    pass
  if stats and stats.get("bytes_limit"):
    return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)), str(device)
  return host_bytes(), "this machine"


def require_host(need: float, what: str, fix: str) -> None:
  """Raises UserError when `need` bytes of host memory exceed what is available."""
  available = host_bytes()
  if need > available:
    raise UserError(f"{what} needs about {gib(need)} of memory, more than the "
                    f"{gib(available)} this machine has free; {fix}")


def require_disk(need: float, path: str, what: str, fix: str) -> None:
  """Raises UserError when `need` bytes exceed the free space where `path` goes."""
  directory = os.path.dirname(os.path.abspath(path))
  free = shutil.disk_usage(directory).free
  if need > free:
    raise UserError(f"{what} needs {gib(need)} of disk, more than the {gib(free)} free in "
                    f"{directory}; {fix}")


def compiled_bytes(fn, *abstract_args) -> Optional[int]:
  """The memory XLA's compiled program of `fn(*abstract_args)` needs, or None.

  Arguments, outputs and temporaries, less what donation aliases.
  """
  try:
    stats = fn.lower(*abstract_args).compile().memory_analysis()
  except Exception:  # pylint: disable=broad-except  (no analysis on this backend)
    return None
  if stats is None:
    return None
  return (stats.argument_size_in_bytes + stats.output_size_in_bytes
          + stats.temp_size_in_bytes - stats.alias_size_in_bytes)


def check_run(experiment) -> None:
  """Refuses a run whose train step or evaluation cannot fit this machine.

  `experiment`: a builders.Experiment or a populations.Population (which has a
  member axis in front of its batches and keys).
  """
  config = experiment.config
  spec = (experiment.experiment if hasattr(experiment, "members") else experiment).data.spec
  members = (len(experiment.members),) if hasattr(experiment, "members") else ()
  rows = config.d_steps * config.data.batch_size
  batches = jax.ShapeDtypeStruct((*members, config.steps_per_call, rows, *spec.shape),
                                 jnp.float32)
  need = compiled_bytes(experiment.train, experiment.abstract_state, batches,
                        experiment.train_key)
  if need is None:
    return
  available, where = device_bytes()
  if need > available:
    population = f", {members[0]} members" if members else ""
    raise UserError(
        f"the train step (data.batch_size={config.data.batch_size}, d_steps={config.d_steps}, "
        f"steps_per_call={config.steps_per_call}{population}) "
        f"needs about {gib(need)} of memory, more than the {gib(available)} free on {where}; "
        "lower --config.data.batch_size or --config.steps_per_call")


def check_data(config, example_shape, *, points: bool, members: int = 1) -> None:
  """Refuses data requests the host cannot hold together: a call's batches, the
  evaluation reference and the evaluation samples.

  `points`: toy data generated in float64 (each value costs about 3 float64 temporaries
  while drawn); otherwise uint8 images (1 byte per stored value). `members`: the
  population's members, each of which holds its own fixed toy set.
  """
  example = int(np.prod(example_shape))
  drawn = example * (3 * 8 + FLOAT_BYTES) + 8 if points else example
  rows = config.steps_per_call * config.d_steps * config.data.batch_size
  # Drawn or stored batches, their float32 copy and the stacked call.
  parts = {
      "data.batch_size": rows * (drawn + 2 * FLOAT_BYTES * example),
      # The reference is drawn like a batch (points) or a view of the images.
      "eval.num_samples": max(config.eval.num_samples, config.eval.num_pictures) * (
          drawn if points else 0)
                          # The samples, their scaled copy and the metrics' work arrays.
                          + config.eval.num_samples * example * FLOAT_BYTES * 4,
      # A fixed toy set, drawn and packed for each member of a population, with its
      # epoch's order.
      "data.fixed_points": (config.data.fixed_points * members * (
          drawn + config.model.pack * (FLOAT_BYTES * example + 8) + 8) if points else 0),
  }
  need = sum(parts.values())
  available = host_bytes()
  if need > available:
    field = max(parts, key=parts.get)
    raise UserError(
        f"this run needs about {gib(need)} of memory for its data (steps_per_call="
        f"{config.steps_per_call} x d_steps={config.d_steps} x data.batch_size="
        f"{config.data.batch_size} examples a call, eval.num_samples={config.eval.num_samples}), "
        f"more than the {gib(available)} this machine has free; lower --config.{field}")
