"""A user's own code named in a config by import path, `module:attribute`.

A config may name its game, penalty, networks, toy dataset or update rule either by
a built-in's name (looked up in the library's registry) or by an import path;
`lookup` takes either, and every failure is one `UserError` line naming the field,
the path and the fix.
"""

import importlib

import optax

import gan_jax
from gan_jax import games
from experiments.errors import UserError


def is_import_path(name) -> bool:
  """Whether a config name is an import path, `module:attribute`, not a built-in's name."""
  return isinstance(name, str) and ":" in name


def load_import_path(path: str, field: str):
  """The object at `module:attribute` (a user's own game, model, dataset...).

  Raises:
    UserError: one line naming the module or attribute that is missing.
  """
  module_name, _, attribute = path.partition(":")
  example = f"--config.{field}=my_lab.module:name"
  if not module_name or not attribute:
    raise UserError(f"{field}={path!r}: an import path is module:attribute ({example})")
  try:
    module = importlib.import_module(module_name)
  except ImportError as e:
    raise UserError(f"{field}={path!r}: cannot import {module_name!r} ({e}); put its folder "
                    "on PYTHONPATH or install it") from None
  except Exception as e:  # pylint: disable=broad-except  (a user's module failing)
    raise UserError(f"{field}={path!r}: importing {module_name!r} raised "
                    f"{type(e).__name__}: {e}") from None
  value = module
  for part in attribute.split("."):
    if not hasattr(value, part):
      raise UserError(f"{field}={path!r}: module {module_name!r} has no {attribute!r}")
    value = getattr(value, part)
  return value


def call_plugin(factory, path: str, field: str, expected: type, *args, **kwargs):
  """`factory(*args, **kwargs)` of a user's import path, checked to be an `expected`."""
  name = {games.Game: "a gan_jax.Game", gan_jax.Network: "a gan_jax.Network",
          optax.GradientTransformation: "an optax.GradientTransformation"}[expected]
  if not callable(factory):
    raise UserError(f"{field}={path!r} is {type(factory).__name__}, not a function returning "
                    f"{name}")
  try:
    value = factory(*args, **kwargs)
  except TypeError as e:
    raise UserError(f"{field}={path!r} cannot be called with {kwargs or args or 'no arguments'}: "
                    f"{e}") from None
  if not isinstance(value, expected):
    raise UserError(f"{field}={path!r} returned {type(value).__name__}; it must return {name}")
  return value


def lookup(registry: dict, name: str, field: str):
  """`registry[name]`, the object at an import path `module:attribute`, or a UserError
  listing the valid names for `field`."""
  if is_import_path(name):
    return load_import_path(name, field)
  try:
    return registry[name]
  except (KeyError, TypeError):
    raise UserError(
        f"unknown {field} {str(name)[:60]!r}: choose one of {', '.join(sorted(registry))} "
        f"(--config.{field}=NAME)"
    ) from None
