"""The generator and discriminator a config names, built for the run's data.

A name is looked up in the library's registries (`gan_jax.models.GENERATORS`,
`DISCRIMINATORS`), whose `Model` entries say which data each network is for and
which argument receives the data's shape; an import path names a user's factory,
described from its signature the same way.
"""

import inspect
from typing import Optional

import numpy as np

import gan_jax
from gan_jax import data as gdata
from gan_jax import models
from experiments.datasets import Data, DataSpec, is_toy
from experiments.errors import UserError
from experiments.plugins import call_plugin, is_import_path, load_import_path, lookup


LATENTS = {
    "normal": lambda scale: lambda key, num, dim: scale * gan_jax.normal_latents(key, num, dim),
    "uniform": lambda scale: lambda key, num, dim: scale * gan_jax.uniform_latents(key, num, dim),
}


def build_network(config, spec: DataSpec, role: str, data: Optional[Data] = None):
  """Builds the generator ("g") or discriminator ("d") named in the config.

  `data` supplies data-dependent initial values (`output_bias="marginals"`); without
  it they are left at their defaults (enough where a checkpoint is restored).
  """
  name_field = {"g": "generator", "d": "discriminator"}[role]
  registry = {"g": models.GENERATORS, "d": models.DISCRIMINATORS}[role]
  name = config.model[name_field]
  if is_import_path(name):
    model = _plugin_model(name, f"model.{name_field}", spec.kind)
  else:
    model = lookup(registry, name, f"model.{name_field}")
  if model.kind != spec.kind:
    what = "images" if spec.kind == "image" else f"{spec.shape[0]}-D points"
    valid = sorted(n for n, m in registry.items() if m.kind == spec.kind)
    raise UserError(
        f"model.{name_field}={name!r} is for {model.kind} data but data.name="
        f"{config.data.name!r} holds {what}; use one of {', '.join(valid)}"
    )
  kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.model[role].items()}
  if "output_bias" in kwargs:  # "marginals" (the paper's initialisation) or "zeros".
    if kwargs["output_bias"] not in ("marginals", "zeros"):
      raise UserError(f"model.{role}.output_bias={kwargs['output_bias']!r}: use 'marginals' "
                      "(the logit of the data's mean pixels) or 'zeros'")
    marginals = kwargs["output_bias"] == "marginals" and data is not None
    kwargs["output_bias"] = (models.sigmoid_bias_from_marginals(data.source.images)
                             if marginals else None)
  if model.shape_arg == "output_dim":
    kwargs["output_dim"] = int(np.prod(spec.shape))
  elif model.shape_arg == "image_shape":
    kwargs["image_shape"] = tuple(spec.shape)
  try:
    inspect.signature(model.factory).bind(**kwargs)
  except TypeError:
    accepted = [p for p in model.parameters if p != model.shape_arg]
    raise UserError(
        f"model.{role} fields {sorted(config.model[role])} do not fit model.{name_field}="
        f"{name!r}, which takes {', '.join(accepted) or 'no arguments'}; fix --config.model.{role}"
    ) from None
  if is_import_path(name):
    return call_plugin(model.factory, name, f"model.{name_field}", gan_jax.Network, **kwargs)
  try:
    return model.factory(**kwargs)
  except ValueError as e:
    raise UserError(f"model.{name_field}={name!r} with {kwargs}: {e}") from None


def _plugin_model(path: str, field: str, kind: str) -> models.Model:
  """A user's network factory by import path, described from its signature."""
  try:
    return models.Model.describe(load_import_path(path, field), kind)
  except ValueError as e:
    raise UserError(f"{field}={path!r}: {e}") from None


def output_scale(config) -> Optional[str]:
  """The images' float range ("tanh" or "sigmoid"): `data.scale`, else the generator's
  output range; None for points."""
  if config.data.scale:
    if is_toy(config.data.name):
      raise UserError(f"data.scale={config.data.scale!r} scales images; {config.data.name} "
                      "is a toy of points: leave it empty")
    if config.data.scale not in gdata.SCALES:
      raise UserError(f"data.scale={config.data.scale!r}: use one of "
                      f"{', '.join(map(repr, sorted(gdata.SCALES)))} (or empty for the "
                      "generator's output range)")
    return config.data.scale
  if is_import_path(config.model.generator):
    if is_toy(config.data.name):
      return None
    return _plugin_model(config.model.generator, "model.generator", "image").output_scale
  return lookup(models.GENERATORS, config.model.generator, "model.generator").output_scale
