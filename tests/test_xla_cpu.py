"""gan_jax's XLA CPU flag: an explicit call, appended once, never over a user's own setting."""

import os
import subprocess
import sys

from gan_jax import xla_cpu


def test_appends_the_flag_to_other_flags():
  environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
  assert xla_cpu.apply_defaults(environ)
  assert environ["XLA_FLAGS"] == ("--xla_force_host_platform_device_count=4 "
                                  "--xla_cpu_experimental_ynn_fusion_type=individual_dot")
  assert not xla_cpu.apply_defaults(environ)  # once
  assert environ["XLA_FLAGS"].count("ynn_fusion_type") == 1


def test_keeps_a_users_setting():
  mine = "--xla_cpu_experimental_ynn_fusion_type=individual_dot,individual_convolution"
  environ = {"XLA_FLAGS": mine}
  assert not xla_cpu.apply_defaults(environ)
  assert environ == {"XLA_FLAGS": mine}


def test_old_jaxlib_is_left_alone(monkeypatch):
  monkeypatch.setattr(xla_cpu, "_jaxlib_version", lambda: (0, 9))
  environ = {}
  assert not xla_cpu.apply_defaults(environ)
  assert not environ


def _python(program: str) -> subprocess.CompletedProcess:
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  return subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True)


def test_importing_gan_jax_and_the_runner_changes_no_environment_and_starts_no_backend():
  # The environment is unchanged; and the backend has not started, because XLA still
  # reads XLA_FLAGS afterwards: an unknown flag set after the imports aborts the first
  # computation.
  program = ("import os; before = dict(os.environ); import gan_jax, experiments.run; "
             "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items()); "
             "os.environ['XLA_FLAGS'] = '--no_such_xla_flag'; import jax.numpy as jnp; "
             "print(float(jnp.ones(3) @ jnp.ones(3)))")
  result = _python(program)
  assert result.returncode != 0 and "AssertionError" not in result.stderr, result.stderr[-2000:]
  assert "no_such_xla_flag" in result.stderr, result.stderr[-2000:]


def test_the_explicit_call_sets_the_flag_that_jax_then_accepts():
  program = ("import os, gan_jax; gan_jax.xla_cpu.apply_defaults(); import jax.numpy as jnp; "
             "print(os.environ['XLA_FLAGS']); print(float(jnp.ones(3) @ jnp.ones(3)))")
  result = _python(program)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.split() == ["--xla_cpu_experimental_ynn_fusion_type=individual_dot", "3.0"]
