"""The one contract every generator and discriminator meets: a pair of pure functions.

A `Network` is `init` and `apply`, nothing else:

  init(key, example_input) -> (params, collections)
  apply(params, collections, inputs, *, rng, train) -> (outputs, collections)

`params` is the trainable pytree the optimizer sees; `collections` is a dict of
non-trainable state that the network itself updates when `train=True` (batch-norm
statistics, spectral-norm power-iteration vectors), `{}` when it has none; `rng` is
a PRNG key for stochastic layers (dropout). Outputs:

* a generator maps latents `[B, latent_dim]` to samples `[B, *data_shape]`;
* a discriminator (critic) maps samples `[B, *data_shape]` to logits `[B]`, or to a
  tuple `(logits [B], features [B, F])` when it exposes the features that feature
  matching uses.

Flax Linen modules become Networks through `from_flax`; anything else (NNX through
`nnx.split`/`nnx.merge`, Equinox through `eqx.partition`, Haiku through
`hk.transform_with_state`) becomes one by writing the two functions, e.g. for NNX:

  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  def apply(params, collections, x, *, rng, train):
    model = nnx.merge(graphdef, params, collections['rest'])
    return model(x), {'rest': nnx.state(model, ...)}
"""

from typing import Any, Callable, NamedTuple, Sequence

import flax.linen as nn
import jax

Params = Any
Collections = dict


class Network(NamedTuple):
  """A generator or discriminator as two pure functions (see module docstring)."""

  init: Callable[..., tuple[Params, Collections]]
  apply: Callable[..., tuple[Any, Collections]]


def from_flax(module: nn.Module, *, rng_names: Sequence[str] = ("dropout",)) -> Network:
  """Wraps a Linen module whose `__call__(x, train: bool)` into a `Network`.

  Every variable collection other than `params` (e.g. `batch_stats`) becomes part of
  `collections` and is updated by `apply(..., train=True)`; with `train=False`
  nothing is mutated and the collections come back unchanged.

  Args:
    module: a Linen module called as `module(x, train=...)`.
    rng_names: the RNG streams the module draws from (`self.make_rng(name)`); each
      receives a key folded from `rng`.

  Returns:
    A `Network`.
  """

  def rngs(key):
    return {name: jax.random.fold_in(key, i) for i, name in enumerate(rng_names)}

  def init(key, example_input):
    params_key, rng_key = jax.random.split(key)
    variables = module.init(
        {"params": params_key, **rngs(rng_key)}, example_input, train=False
    )
    variables = dict(variables)
    params = variables.pop("params", {})
    return params, variables

  def apply(params, collections, inputs, *, rng, train):
    variables = {"params": params, **collections}
    if train and collections:
      outputs, updated = module.apply(
          variables, inputs, train=True, rngs=rngs(rng), mutable=list(collections)
      )
      return outputs, {**collections, **dict(updated)}
    outputs = module.apply(variables, inputs, train=train, rngs=rngs(rng))
    return outputs, collections

  return Network(init=init, apply=apply)


def split_output(outputs):
  """Returns `(logits, features)` from a discriminator's outputs (features may be None)."""
  if isinstance(outputs, (tuple, list)):
    logits, features = outputs
    return logits, features
  return outputs, None
