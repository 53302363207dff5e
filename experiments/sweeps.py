"""Sweeps: lists of config overrides, and the names of their workdirs.

A config declares a sweep with `get_sweep()`, returning a list of dicts that map a
dotted config field to a value, built with `product` and `zip_`:

  def get_sweep():
    return sweeps.product(
        sweeps.axis("game", ["minimax", "non_saturating"]),
        sweeps.axis("d_steps", [1, 5]),
    )   # 4 members

`python -m experiments.run --config=... --workdir=DIR --sweep` runs each member in
`DIR/<member name>`, e.g. `DIR/d_steps=5,game=minimax`.
"""

import itertools
import re
from typing import Any, Iterable, Sequence

import ml_collections

Override = dict[str, Any]


def axis(field: str, values: Iterable[Any]) -> list[Override]:
  """One swept field: `[{field: v} for v in values]`."""
  return [{field: v} for v in values]


def product(*axes: Sequence[Override]) -> list[Override]:
  """Every combination of one member from each axis (the Cartesian product)."""
  members = []
  for combination in itertools.product(*axes):
    merged = {}
    for part in combination:
      merged.update(part)
    members.append(merged)
  return members


def zip_(*axes: Sequence[Override]) -> list[Override]:
  """The i-th members of all axes merged together; the axes must have one length."""
  lengths = {len(a) for a in axes}
  if len(lengths) > 1:
    raise ValueError(f"zip_ needs axes of one length, got lengths {sorted(lengths)}.")
  members = []
  for parts in zip(*axes):
    merged = {}
    for part in parts:
      merged.update(part)
    members.append(merged)
  return members


def member_name(override: Override) -> str:
  """A folder name for one member, e.g. `d_optimizer.lr=0.0001,game=hinge`."""
  if not override:
    return "base"
  parts = [f"{field}={_format(value)}" for field, value in sorted(override.items())]
  return re.sub(r"[^A-Za-z0-9_.,=+-]", "_", ",".join(parts))


def _format(value: Any) -> str:
  if isinstance(value, (tuple, list)):
    return "-".join(_format(v) for v in value)
  return str(value)


def apply_override(
    config: ml_collections.ConfigDict, override: Override
) -> ml_collections.ConfigDict:
  """A copy of `config` with each dotted field of `override` set.

  Raises:
    KeyError: a field the config does not have.
    TypeError: a value of the wrong type for its field.
  """
  config = ml_collections.ConfigDict(config.to_dict())
  for field, value in override.items():
    *parents, leaf = field.split(".")
    node = config
    for name in parents:
      if name not in node or not isinstance(node[name], ml_collections.ConfigDict):
        raise KeyError(f"the sweep sets {field!r}, which the config does not have")
      node = node[name]
    if leaf not in node:
      raise KeyError(f"the sweep sets {field!r}, which the config does not have")
    node[leaf] = value
  return config
