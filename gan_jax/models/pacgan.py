"""PacGAN packing: the discriminator judges m samples at once.

A packed discriminator sees m real or m generated samples side by side, so a
generator that covers few modes produces packs that look unlike real packs. PacGAN's
code makes the m members of its packs in m calls of the generator, each with its own
batch statistics: `in_passes` makes them so.

References:
  Lin et al., 2018, "PacGAN: the power of two samples in generative adversarial
    networks", https://arxiv.org/abs/1712.04086
"""

import jax
import jax.numpy as jnp

from gan_jax import nets


def pack(x: jax.Array, m: int) -> jax.Array:
  """Concatenates each m consecutive examples along the last axis.

  Args:
    x: `[B, ..., C]` with `B` divisible by `m`.
    m: the packing degree.

  Returns:
    `[B/m, ..., m*C]`; `out[i, ..., k*C:(k+1)*C] == x[i*m + k]`.
  """
  if x.ndim < 2 or x.shape[0] % m:
    raise ValueError(f"pack needs [B, ..., C] inputs with B divisible by m={m}, "
                     f"got shape {x.shape}")
  x = x.reshape(x.shape[0] // m, m, *x.shape[1:])
  x = jnp.moveaxis(x, 1, -2)  # [B/m, ..., m, C]
  return x.reshape(*x.shape[:-2], m * x.shape[-1])


def packed(network: nets.Network, m: int) -> nets.Network:
  """Wraps a discriminator so that it judges packs of m examples.

  The wrapped network is initialised on a packed example (so its first layer takes
  `m*C` channels) and every input is packed before it is applied: samples
  `[B, ..., C]` -> logits `[B/m]` (and features `[B/m, F]`). Batches, the example
  given to `init` included, must be divisible by `m`; losses then average over packs.

  Args:
    network: a discriminator `Network`.
    m: the packing degree (2 to 4 in the paper).

  Returns:
    A `Network` with the wrapped network's params and collections.

  References:
    Lin et al., 2018, https://arxiv.org/abs/1712.04086
  """

  def init(key, example_input):
    return network.init(key, pack(example_input, m))

  def apply(params, collections, inputs, *, rng, train):
    return network.apply(params, collections, pack(inputs, m), rng=rng, train=train)

  return nets.Network(init=init, apply=apply)


def in_passes(network: nets.Network, m: int) -> nets.Network:
  """Wraps a generator so that a training-mode batch is made in m passes.

  Pass k makes rows k, k + m, k + 2m, ... of the batch, so with packs of m (`packed`)
  it makes the k-th member of every pack, as PacGAN's code calls its generator once
  per member. Each pass normalises with its own batch statistics. The passes' updates
  of floating-point collections (batch-norm averages) are averaged, as PacGAN's 2-D
  mixture code merges Blocks' duplicate updates (its TensorFlow code applies them one
  after another); other collections keep the first pass's. Inference (`train=False`)
  uses no batch statistics and is one pass.

  Args:
    network: a generator `Network`.
    m: the number of passes (>= 1); training batches must be divisible by it.

  Returns:
    A `Network` with the wrapped network's params and collections.

  References:
    Lin et al., 2018, https://arxiv.org/abs/1712.04086; code: fjxmlzn/PacGAN.
  """
  if m < 1:
    raise ValueError(f"in_passes needs m >= 1 passes, got {m}")

  def merged(leaf):  # [m, ...] per-pass values -> one.
    if jnp.issubdtype(leaf.dtype, jnp.inexact):
      return jnp.mean(leaf, axis=0).astype(leaf.dtype)
    return leaf[0]

  def apply(params, collections, inputs, *, rng, train):
    if not train or m == 1:
      return network.apply(params, collections, inputs, rng=rng, train=train)
    if inputs.shape[0] % m:
      raise ValueError(f"a generator in {m} passes needs batches divisible by {m}, got "
                       f"shape {inputs.shape}")
    passes = inputs.reshape(inputs.shape[0] // m, m, *inputs.shape[1:]).swapaxes(0, 1)

    def one_pass(latents, key):
      return network.apply(params, collections, latents, rng=key, train=True)

    outputs, updated = jax.vmap(one_pass)(passes, jax.random.split(rng, m))
    outputs = jax.tree.map(
        lambda o: o.swapaxes(0, 1).reshape(inputs.shape[0], *o.shape[2:]), outputs)
    return outputs, jax.tree.map(merged, updated)

  return nets.Network(init=network.init, apply=apply)
