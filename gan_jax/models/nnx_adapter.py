"""Flax NNX models as `Network`s.

`flax.nnx` is imported when `from_nnx` is first called: it takes most of a second
to import, and a run of Linen models never needs it.
"""

from typing import Callable

import jax

from gan_jax import nets


def from_nnx(model: "nnx.Module | Callable[[nnx.Rngs], nnx.Module]") -> nets.Network:
  """Wraps an NNX module, called as `model(x)`, into a `Network`.

  `params` are the module's `nnx.Param`s as a plain nested dict; `collections` are
  `{"state": ...}` with every other variable except RNG state (e.g. `BatchStat`),
  or `{}` when there is none. `apply` runs the module in `train()` or `eval()` mode
  and reseeds each of its RNG streams (e.g. `dropout`) from `rng`, so randomness
  comes only from the caller's key; it returns updated collections only when
  `train=True`.

  Example::

    critic = from_nnx(lambda rngs: nnx.Linear(2, 1, rngs=rngs))
    params, collections = critic.init(key, jnp.zeros((8, 2)))
    logits, collections = critic.apply(params, collections, x, rng=key, train=True)

  Args:
    model: a built module, whose own parameters `init` returns whatever its key;
      or a function `rngs -> module`, which `init` calls with `nnx.Rngs(key)` so
      that each key gives fresh parameters (needed by e.g. `ensemble`).

  Returns:
    A `Network`.
  """
  from flax import nnx  # pylint: disable=g-import-not-at-top

  build = None if isinstance(model, nnx.Module) else model
  template = model if build is None else build(nnx.Rngs(0))
  graphdef, params, rng_state, rest = nnx.split(template, nnx.Param, nnx.RngState, ...)
  rng_state = nnx.to_pure_dict(rng_state)
  streams = sorted({v.tag for _, v in nnx.to_flat_state(nnx.state(template, nnx.RngKey))})

  def as_collections(rest):
    rest = nnx.to_pure_dict(rest)
    return {"state": rest} if rest else {}

  def init(key, example_input):
    del example_input
    if build is None:
      return nnx.to_pure_dict(params), as_collections(rest)
    _, new_params, _, new_rest = nnx.split(build(nnx.Rngs(key)), nnx.Param, nnx.RngState, ...)
    return nnx.to_pure_dict(new_params), as_collections(new_rest)

  def apply(params, collections, inputs, *, rng, train):
    # copy=True: the template's RNG variables must not be mutated under a trace.
    module = nnx.merge(graphdef, params, rng_state, collections.get("state", {}), copy=True)
    nnx.reseed(module, **{s: jax.random.fold_in(rng, i) for i, s in enumerate(streams)})
    if train:
      module.train()
    else:
      module.eval()
    outputs = module(inputs)
    if not train:
      return outputs, collections
    _, _, _, new_rest = nnx.split(module, nnx.Param, nnx.RngState, ...)
    return outputs, as_collections(new_rest)

  return nets.Network(init=init, apply=apply)
