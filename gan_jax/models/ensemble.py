"""Discriminator ensembles (GMAN): n independent discriminators judge every batch."""

import jax

from gan_jax import nets


def ensemble(network: nets.Network, n: int) -> nets.Network:
  """Stacks n independently initialised copies of a discriminator.

  Parameters and collections gain a leading axis of size `n`; the members run in
  parallel (`jax.vmap`) on the same inputs, each with its own key folded from `rng`.
  Samples `[B, ...]` -> logits `[n, B]` (and features `[n, B, F]`). Losses that are
  means over logits then average over the members, which is GMAN with the
  arithmetic mean (GMAN-0).

  Args:
    network: a discriminator `Network`.
    n: the number of members.

  Returns:
    A `Network`.

  References:
    Durugkar et al., 2016, "Generative multi-adversarial networks",
      https://arxiv.org/abs/1611.01673
  """

  def init(key, example_input):
    keys = jax.random.split(key, n)
    return jax.vmap(network.init, in_axes=(0, None))(keys, example_input)

  def apply(params, collections, inputs, *, rng, train):
    def member(params, collections, rng):
      return network.apply(params, collections, inputs, rng=rng, train=train)

    return jax.vmap(member)(params, collections, jax.random.split(rng, n))

  return nets.Network(init=init, apply=apply)
