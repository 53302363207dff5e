"""gan_jax: generative adversarial networks as pure JAX functions.

The flat public API: the game's losses, penalties and update rules; the state and
the train-step factories. Models, data and metrics live in their subpackages
(`gan_jax.models`, `gan_jax.data`, `gan_jax.metrics`).
"""

from gan_jax import games
from gan_jax import losses
from gan_jax import parallel
from gan_jax import penalties
from gan_jax import transforms
from gan_jax import xla_cpu  # `xla_cpu.apply_defaults()`: the CPU flags, an explicit call
from gan_jax.games import DiscriminatorOutput, Game
from gan_jax.nets import Network, from_flax
from gan_jax.state import (
    GAN,
    GANState,
    discriminate,
    generator_params,
    init_state,
    normal_latents,
    refresh_batch_stats,
    sample,
    sample_from_latents,
    uniform_latents,
)
from gan_jax.steps import (
    make_alternating_step,
    make_discriminator_step,
    make_generator_step,
    make_multi_step,
    make_simultaneous_step,
    make_train_step,
    make_unrolled_step,
)
from gan_jax.transforms import (
    clip_params,
    cosine_schedule,
    ema_halflife_schedule,
    ema_of,
    ema_params,
    max_norm_params,
    optimistic_adam,
    optimistic_gradient_descent,
    two_timescale,
)

__version__ = "0.1.0"
