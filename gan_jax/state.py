"""The game's specification (`GAN`) and its state pytree (`GANState`)."""

from typing import Callable, NamedTuple, Optional

import flax.struct
import jax
import jax.numpy as jnp
import optax

from gan_jax import games
from gan_jax import transforms
from gan_jax.nets import Network, split_output


def normal_latents(key, num, latent_dim):
  """z ~ N(0, I), `[num, latent_dim]`."""
  return jax.random.normal(key, (num, latent_dim))


def uniform_latents(key, num, latent_dim):
  """z ~ U[-1, 1]^d, `[num, latent_dim]` (the noise of Goodfellow et al. 2014)."""
  return jax.random.uniform(key, (num, latent_dim), minval=-1.0, maxval=1.0)


class GAN(NamedTuple):
  """Everything static about a GAN: the players, their optimizers and the game.

  Attributes:
    generator: a `Network` mapping latents `[B, latent_dim]` to samples.
    discriminator: a `Network` mapping samples to logits `[B]` (or `(logits, features)`).
    g_optimizer: the generator's optax transformation (chain `ema_params` to keep an EMA).
    d_optimizer: the discriminator's optax transformation (chain `clip_params` for WGAN).
    game: the losses (`games.non_saturating()`, `games.wasserstein()`, ...).
    latent_dim: the size of z.
    latent_sampler: `(key, num, latent_dim) -> [num, latent_dim]`; standard normal by default.
  """

  generator: Network
  discriminator: Network
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  game: games.Game
  latent_dim: int
  latent_sampler: Callable = normal_latents

  def latents(self, key, num):
    return self.latent_sampler(key, num, self.latent_dim)


class GANState(flax.struct.PyTreeNode):
  """Both players' parameters, mutable collections and optimizer states.

  `step` counts train steps (generator updates). The generator's EMA, when its
  optimizer chains `ema_params`, lives in `g_opt_state`; `generator_params` reads it.
  """

  step: jax.Array
  g_params: optax.Params
  g_collections: dict
  g_opt_state: optax.OptState
  d_params: optax.Params
  d_collections: dict
  d_opt_state: optax.OptState


def init_state(gan: GAN, key: jax.Array, example_data: jax.Array) -> GANState:
  """Initialises both players and their optimizers.

  Args:
    gan: the `GAN` specification.
    key: PRNG key for parameter initialisation.
    example_data: `[B, *data_shape]`, a batch of data (only its shape and dtype
      are used; B > 1 for discriminators that compare examples in a batch).

  Returns:
    A `GANState` at step 0.
  """
  g_key, d_key, z_key = jax.random.split(key, 3)
  example_data = jnp.asarray(example_data)
  g_params, g_collections = gan.generator.init(g_key, gan.latents(z_key, example_data.shape[0]))
  d_params, d_collections = gan.discriminator.init(d_key, example_data)
  return GANState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_params,
      g_collections=g_collections,
      g_opt_state=gan.g_optimizer.init(g_params),
      d_params=d_params,
      d_collections=d_collections,
      d_opt_state=gan.d_optimizer.init(d_params),
  )


def generator_params(state: GANState, ema: bool = True) -> optax.Params:
  """The generator's EMA parameters when tracked and `ema`, else its raw parameters."""
  averaged = transforms.ema_of(state.g_opt_state) if ema else None
  return state.g_params if averaged is None else averaged


def sample(gan: GAN, state: GANState, key: jax.Array, num: int, *, ema: bool = True):
  """Draws `num` samples `[num, *data_shape]` from the generator in inference mode.

  Args:
    gan: the `GAN` specification.
    state: the game state.
    key: PRNG key for the latents.
    num: number of samples.
    ema: use the EMA parameters when the generator's optimizer tracks them.
  """
  z_key, rng = jax.random.split(key)
  samples, _ = gan.generator.apply(
      generator_params(state, ema), state.g_collections, gan.latents(z_key, num),
      rng=rng, train=False,
  )
  return samples


def refresh_batch_stats(gan: GAN, state: GANState, key: jax.Array, num_batches: int,
                        batch_size: int, *, ema: bool = True) -> GANState:
  """The state with the generator's running statistics re-estimated on its frozen parameters.

  `num_batches` training-mode passes over `batch_size` fresh latents each move the
  generator's collections (its batch-norm running averages, and any spectral-norm
  power iterations kept there) as a training step does; no parameter changes. Samples drawn afterwards (`sample`, inference mode) then use
  statistics of the generator as it is, not averages trailing its last updates.
  PacGAN's code does this before it scores samples: its batch-norm updates over 50
  batches of 100 (Blocks' monitoring of the training stream).

  Args:
    gan: the `GAN` specification.
    state: the game state.
    key: PRNG key for the latents (and any dropout).
    num_batches: training-mode passes; 0 returns `state` unchanged.
    batch_size: latents per pass (the training batch, for the same statistics).
    ema: refresh for the EMA parameters when tracked (those `sample` draws from).

  Returns:
    `state` with new `g_collections`; every other leaf unchanged.
  """
  if num_batches < 0 or batch_size < 1:
    raise ValueError(f"refresh_batch_stats needs num_batches >= 0 and batch_size >= 1, got "
                     f"{num_batches} and {batch_size}")
  if not num_batches:
    return state
  params = generator_params(state, ema)

  def one_pass(collections, key):
    z_key, rng = jax.random.split(key)
    _, collections = gan.generator.apply(params, collections, gan.latents(z_key, batch_size),
                                         rng=rng, train=True)
    return collections, None

  collections, _ = jax.lax.scan(one_pass, state.g_collections,
                                jax.random.split(key, num_batches))
  return state.replace(g_collections=collections)


def sample_from_latents(gan: GAN, state: GANState, z: jax.Array, *, ema: bool = True):
  """Samples for given latents `z [num, latent_dim]` (a fixed batch for pictures)."""
  samples, _ = gan.generator.apply(
      generator_params(state, ema), state.g_collections, z,
      rng=jax.random.key(0), train=False,
  )
  return samples


def discriminate(gan: GAN, state: GANState, x: jax.Array) -> jax.Array:
  """The discriminator's raw outputs (logits, critic values) on `x`, in inference mode.

  `x` is `[N, *data_shape]` in the model's scale (real images through
  `gan_jax.data.to_float`, or samples); with a packing discriminator (PacGAN) N is a
  multiple of the packing and one output comes per pack. Dropout is off and batch
  norm reads its running averages (`train=False`), so each output is a function of
  the state and its own input (of the whole batch, for minibatch features);
  `gan_jax.metrics.discriminator_overfitting` reads them.
  """
  outputs, _ = gan.discriminator.apply(state.d_params, state.d_collections, x,
                                       rng=jax.random.key(0), train=False)
  return split_output(outputs)[0]


def num_params(tree: Optional[optax.Params]) -> int:
  """Total number of scalars in a pytree."""
  return sum(x.size for x in jax.tree.leaves(tree))
