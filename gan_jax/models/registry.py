"""What a model factory is, for whoever builds it from a name: the registry's entries.

A `Model` wraps a factory (`dcgan_generator`, a user's own) with what a runner must
know to call it: the kind of data it makes or judges, the argument that receives
the data's shape, and an image generator's output range. The keyword defaults
of its signature are the fields a config may override.

  >>> from gan_jax import models
  >>> models.GENERATORS["dcgan"].defaults
  {'base_features': 64, 'upsample': 'transpose', 'dtype': None}
  >>> g = models.GENERATORS["dcgan"](image_shape=(28, 28, 1))  # the factory's call
"""

import dataclasses
import inspect
from typing import Any, Callable, Optional

from gan_jax import nets

KINDS = ("points", "image")
SHAPE_ARGS = {"output_dim": "points", "image_shape": "image"}
SCALES = ("tanh", "sigmoid")


def _parameters(factory) -> dict[str, inspect.Parameter]:
  try:
    return dict(inspect.signature(factory).parameters)
  except (TypeError, ValueError):  # Not callable, or a C callable: no signature to read.
    return {}


@dataclasses.dataclass(frozen=True)
class Model:
  """A network factory and what building it from a config needs.

  Attributes:
    factory: keyword arguments -> `gan_jax.Network`.
    kind: the data it makes or judges, "points" or "image".
    shape_arg: the factory's argument that receives the data's shape ("output_dim":
      the flat size of points, "image_shape": `(H, W, C)`), or None.
    output_scale: an image generator's output range, "tanh" ([-1, 1]) or "sigmoid"
      ([0, 1]); None for discriminators and points.
  """

  factory: Callable[..., nets.Network]
  kind: str
  shape_arg: Optional[str] = None
  output_scale: Optional[str] = None

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f"Model kind {self.kind!r}: use one of {KINDS}")
    if self.shape_arg is not None and self.shape_arg not in self.parameters:
      raise ValueError(f"{self.name} has no argument {self.shape_arg!r}")
    if self.output_scale is not None and self.output_scale not in SCALES:
      raise ValueError(f"output_scale {self.output_scale!r}: use one of {SCALES}")

  def __call__(self, **kwargs) -> nets.Network:
    return self.factory(**kwargs)

  @property
  def name(self) -> str:
    return getattr(self.factory, "__name__", repr(self.factory))

  @property
  def parameters(self) -> dict[str, inspect.Parameter]:
    return _parameters(self.factory)

  @property
  def defaults(self) -> dict[str, Any]:
    """The keyword defaults a config may override (the shape argument excluded)."""
    return {name: p.default for name, p in self.parameters.items()
            if p.default is not p.empty and name != self.shape_arg}

  @classmethod
  def describe(cls, factory: Callable[..., nets.Network], kind: str) -> "Model":
    """A user's factory, read from its signature: an `image_shape` argument makes it
    an image model, `output_dim` a points model (else `kind`, the data's); its
    `output_scale` attribute is an image generator's range ("tanh" unless it says)."""
    shape_arg = next((a for a in SHAPE_ARGS if a in _parameters(factory)), None)
    kind = SHAPE_ARGS.get(shape_arg, kind)
    scale = getattr(factory, "output_scale", "tanh") if kind == "image" else None
    return cls(factory, kind, shape_arg, scale)
