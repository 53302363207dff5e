"""A game: both players' losses, as functions of the discriminator's outputs.

The train steps take a `Game` and never look at which losses it holds. Each loss
receives `DiscriminatorOutput`s, so one that needs features (feature matching) or
the real logits (relativistic losses) reads them, and the step knows from
`generator_needs_real` whether the generator's update must evaluate D on data, and
from `zero_sum` whether the generator's loss is minus the discriminator's.
"""

from typing import Callable, NamedTuple, Optional

import jax

from gan_jax import losses


class DiscriminatorOutput(NamedTuple):
  logits: jax.Array
  features: Optional[jax.Array] = None


class Game(NamedTuple):
  """The losses of one GAN game.

  Attributes:
    discriminator_loss: `(real: DiscriminatorOutput, fake: DiscriminatorOutput) -> scalar`.
    generator_loss: `(real: DiscriminatorOutput | None, fake: DiscriminatorOutput) -> scalar`;
      `real` is None unless `generator_needs_real`.
    generator_needs_real: whether the generator's loss reads D's outputs on data.
    zero_sum: whether the generator's loss is minus the discriminator's game loss
      (minimax, Wasserstein) but for the data term, which is constant at a fixed D.
      A generator that looks ahead through D's updates (the unrolled step) then
      minimises minus D's whole loss: through the updates, the data term moves too.
  """

  discriminator_loss: Callable
  generator_loss: Callable
  generator_needs_real: bool = False
  zero_sum: bool = False


def _on_logits(d_loss, g_loss, g_uses_real=False, zero_sum=False) -> Game:
  if g_uses_real:
    generator_loss = lambda real, fake: g_loss(real.logits, fake.logits)
  else:
    generator_loss = lambda real, fake: g_loss(fake.logits)
  return Game(
      discriminator_loss=lambda real, fake: d_loss(real.logits, fake.logits),
      generator_loss=generator_loss,
      generator_needs_real=g_uses_real,
      zero_sum=zero_sum,
  )


def minimax() -> Game:
  """The original minimax game of Goodfellow et al. 2014 (saturating generator loss)."""
  return _on_logits(losses.minimax_discriminator_loss, losses.minimax_generator_loss,
                    zero_sum=True)


def non_saturating() -> Game:
  """The minimax discriminator with the non-saturating generator loss -log D(G(z))."""
  return _on_logits(losses.minimax_discriminator_loss, losses.non_saturating_generator_loss)


def wasserstein() -> Game:
  """WGAN (Arjovsky et al. 2017); pair with clipping or a gradient penalty."""
  return _on_logits(losses.wasserstein_discriminator_loss, losses.wasserstein_generator_loss,
                    zero_sum=True)


def hinge() -> Game:
  """The hinge game (Lim & Ye 2017; Miyato et al. 2018)."""
  return _on_logits(losses.hinge_discriminator_loss, losses.hinge_generator_loss)


def least_squares() -> Game:
  """LSGAN (Mao et al. 2017), targets a=0, b=1, c=1."""
  return _on_logits(
      losses.least_squares_discriminator_loss, losses.least_squares_generator_loss
  )


def relativistic_average() -> Game:
  """RaSGAN (Jolicoeur-Martineau 2019)."""
  return _on_logits(
      losses.relativistic_average_discriminator_loss,
      losses.relativistic_average_generator_loss,
      g_uses_real=True,
  )


def relativistic_pairing() -> Game:
  """RpGAN (Jolicoeur-Martineau 2019; Huang et al. 2024's R3GAN with R1 + R2 penalties).

  Real and fake examples are paired by position in the batch: both batches must
  have the same size (a discriminator step's real and fake minibatches do).
  """
  return _on_logits(
      losses.relativistic_pairing_discriminator_loss,
      losses.relativistic_pairing_generator_loss,
      g_uses_real=True,
  )


def feature_matching(base: Optional[Game] = None) -> Game:
  """`base`'s discriminator loss, with the generator trained by feature matching.

  The discriminator must return `(logits, features)`.

  References:
    Salimans et al., 2016, Improved Techniques for Training GANs.
  """
  base = base or non_saturating()

  def generator_loss(real, fake):
    if fake.features is None:
      raise ValueError(
          "feature matching needs a discriminator that returns (logits, features)."
      )
    return losses.feature_matching_loss(real.features, fake.features)

  return Game(base.discriminator_loss, generator_loss, generator_needs_real=True)


GAMES = {
    "minimax": minimax,
    "non_saturating": non_saturating,
    "wasserstein": wasserstein,
    "hinge": hinge,
    "least_squares": least_squares,
    "relativistic_average": relativistic_average,
    "relativistic_pairing": relativistic_pairing,
    "feature_matching": feature_matching,
}
