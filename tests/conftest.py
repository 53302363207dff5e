"""The test session's settings, made before any test module imports JAX.

The XLA CPU flags the runner applies (`gan_jax.xla_cpu.apply_defaults()`), so that
the tests compute as `python -m experiments.run` does, in this process and in the
subprocesses the tests start (they inherit the environment).

One persistent XLA compilation cache serves the whole session, the runner
subprocesses the tests start included (they inherit the environment): many tests
train the same tiny configs in fresh processes, and without the cache each one
compiles the same programs again. A cached executable is the one the compiler
produced, so no result depends on it. The cache lives in a temporary folder that
the session removes; a `JAX_COMPILATION_CACHE_DIR` already set is kept. Under
pytest-xdist the controller process makes these folders and its workers inherit them.
"""

import os
import shutil
import tempfile

_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  _CACHE = tempfile.mkdtemp(prefix="gan_jax_tests_xla_cache_")
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

# Inception weights and reference statistics (experiments.evaluate's `auto` mode, the FID
# tests) go to a folder of the session's, never to the user's ~/.cache.
_INCEPTION = None
if "GAN_JAX_INCEPTION" not in os.environ:
  _INCEPTION = tempfile.mkdtemp(prefix="gan_jax_tests_inception_")
  os.environ["GAN_JAX_INCEPTION"] = os.path.join(_INCEPTION, "inception_fid_2015_12_05.npz")

# JAX reads the variables above when it is imported: only now import it.
from gan_jax import xla_cpu  # pylint: disable=g-import-not-at-top,wrong-import-position

xla_cpu.apply_defaults()


# Seconds each file took on a 2-core CPU (the suite run on 2026-12-02). pytest-xdist
# (`--dist loadfile`) hands whole files to its two workers in collection order, so the
# longest go first: a long file started last would leave one worker idle at the end.
FILE_SECONDS = {
    "test_parallel.py": 267, "test_models.py": 218, "test_steps.py": 174,
    "test_faults.py": 172, "test_run.py": 163, "test_configs.py": 139, "test_adjoint.py": 116,
    "test_inception.py": 83, "test_notebooks.py": 74, "test_populations.py": 67,
    "test_evaluate.py": 66, "test_metrics.py": 64, "test_plugins.py": 49,
}


def pytest_collection_modifyitems(session, config, items):
  """Orders the files longest first (FILE_SECONDS), each file's tests as written."""
  del session, config
  items.sort(key=lambda item: -FILE_SECONDS.get(item.path.name, 0))  # stable


def pytest_sessionfinish(session, exitstatus):
  del session, exitstatus
  for folder in (_CACHE, _INCEPTION):
    if folder:
      shutil.rmtree(folder, ignore_errors=True)
