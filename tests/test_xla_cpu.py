"""gan_jax's XLA CPU flag: appended once, never over a user's own setting."""

import os
import subprocess
import sys

from gan_jax import xla_cpu


def test_appends_the_flag_to_other_flags(monkeypatch):
  monkeypatch.setattr(xla_cpu, "_backends_started", lambda: False)
  environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
  assert xla_cpu.apply_defaults(environ)
  assert environ["XLA_FLAGS"] == ("--xla_force_host_platform_device_count=4 "
                                  "--xla_cpu_experimental_ynn_fusion_type=individual_dot")
  assert not xla_cpu.apply_defaults(environ)  # once
  assert environ["XLA_FLAGS"].count("ynn_fusion_type") == 1


def test_keeps_a_users_setting_and_a_started_backend(monkeypatch):
  monkeypatch.setattr(xla_cpu, "_backends_started", lambda: False)
  mine = "--xla_cpu_experimental_ynn_fusion_type=individual_dot,individual_convolution"
  environ = {"XLA_FLAGS": mine}
  assert not xla_cpu.apply_defaults(environ)
  assert environ == {"XLA_FLAGS": mine}
  monkeypatch.setattr(xla_cpu, "_backends_started", lambda: True)
  environ = {}
  assert not xla_cpu.apply_defaults(environ)
  assert not environ


def test_old_jaxlib_is_left_alone(monkeypatch):
  monkeypatch.setattr(xla_cpu, "_backends_started", lambda: False)
  monkeypatch.setattr(xla_cpu, "_jaxlib_version", lambda: (0, 9))
  environ = {}
  assert not xla_cpu.apply_defaults(environ)
  assert not environ


def test_import_sets_the_flag_that_jax_then_accepts():
  # A fresh interpreter: importing gan_jax before any computation sets the flag, and
  # XLA starts with it (an unknown flag would abort the process).
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  program = ("import os, gan_jax, jax.numpy as jnp; "
             "print(os.environ['XLA_FLAGS']); print(float(jnp.ones(3) @ jnp.ones(3)))")
  out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                       text=True, check=True).stdout.split()
  assert out == ["--xla_cpu_experimental_ynn_fusion_type=individual_dot", "3.0"]
