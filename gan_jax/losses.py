"""Adversarial losses: pure functions of discriminator logits returning a scalar.

Every loss is a mean over all its elements, so logits of any shape work: `[B]` for
one discriminator, `[n, B]` for an ensemble of n (the mean over members).

Logits are the discriminator's raw outputs; D(x) = sigmoid(logit). The
log-probabilities are written with softplus, which is stable for logits of any
size:

  -log D(x)      = -log sigmoid(l)     = softplus(-l)
  -log(1 - D(x)) = -log sigmoid(-l)    = softplus(l)

so no `log(sigmoid(l))` (which is `log(0) = -inf` in float32 once l < -88) is ever
formed.
"""

import jax
import jax.numpy as jnp


def minimax_discriminator_loss(real_logits, fake_logits):
  """The discriminator's side of the minimax game (Goodfellow et al. 2014, eq. 1).

  Minimises -E[log D(x)] - E[log(1 - D(G(z)))], the binary cross-entropy of real
  as 1 and fake as 0.

  Args:
    real_logits: discriminator logits on data, any shape.
    fake_logits: discriminator logits on generated samples, any shape.

  Returns:
    A scalar.

  References:
    Goodfellow et al., 2014, Generative Adversarial Nets.
  """
  return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def minimax_generator_loss(fake_logits):
  """The generator's side of the original (saturating) game: E[log(1 - D(G(z)))].

  This is exactly minus the discriminator's fake term, a zero-sum game. Its gradient
  with respect to the logit is -sigmoid(l), which vanishes when the discriminator
  rejects the samples confidently (D(G(z)) -> 0), early in training.

  Returns:
    A scalar: log(1 - D(G(z))) = -softplus(l), averaged.
  """
  return -jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_generator_loss(fake_logits):
  """The non-saturating generator loss: -E[log D(G(z))].

  Goodfellow et al. 2014 (section 3) recommend maximising log D(G(z)) instead of
  minimising log(1 - D(G(z))): the same fixed point, but the gradient with respect
  to the logit is -(1 - sigmoid(l)), which is largest exactly when D(G(z)) -> 0.

  Returns:
    A scalar.
  """
  return jnp.mean(jax.nn.softplus(-fake_logits))


def wasserstein_discriminator_loss(real_logits, fake_logits):
  """The critic's loss of WGAN: E[f(G(z))] - E[f(x)] (minimised).

  Only meaningful for a Lipschitz critic: pair it with weight clipping
  (`transforms.clip_params`) or a gradient penalty (`penalties.gradient_penalty`).

  References:
    Arjovsky et al., 2017, Wasserstein GAN.
  """
  return jnp.mean(fake_logits) - jnp.mean(real_logits)


def wasserstein_generator_loss(fake_logits):
  """The generator's loss of WGAN: -E[f(G(z))]."""
  return -jnp.mean(fake_logits)


def hinge_discriminator_loss(real_logits, fake_logits):
  """Hinge loss: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))].

  References:
    Lim & Ye, 2017, Geometric GAN; Miyato et al., 2018, Spectral Normalization for GANs.
  """
  return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits):
  """The generator's side of the hinge game: -E[D(G(z))]."""
  return -jnp.mean(fake_logits)


def least_squares_discriminator_loss(real_logits, fake_logits):
  """LSGAN discriminator loss with targets b = 1 (real), a = 0 (fake).

  1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2], on raw outputs (no sigmoid).

  References:
    Mao et al., 2017, Least Squares Generative Adversarial Networks.
  """
  return 0.5 * jnp.mean(jnp.square(real_logits - 1.0)) + 0.5 * jnp.mean(jnp.square(fake_logits))


def least_squares_generator_loss(fake_logits):
  """LSGAN generator loss with target c = 1: 1/2 E[(D(G(z)) - 1)^2]."""
  return 0.5 * jnp.mean(jnp.square(fake_logits - 1.0))


def relativistic_average_discriminator_loss(real_logits, fake_logits):
  """Relativistic average discriminator loss (RaSGAN).

  -E_x[log sigmoid(C(x) - E C(G(z)))] - E_z[log(1 - sigmoid(C(G(z)) - E C(x)))].

  References:
    Jolicoeur-Martineau, 2019, The relativistic discriminator.
  """
  real_rel = real_logits - jnp.mean(fake_logits)
  fake_rel = fake_logits - jnp.mean(real_logits)
  return jnp.mean(jax.nn.softplus(-real_rel)) + jnp.mean(jax.nn.softplus(fake_rel))


def relativistic_average_generator_loss(real_logits, fake_logits):
  """Relativistic average generator loss: the discriminator's with the roles swapped."""
  return relativistic_average_discriminator_loss(fake_logits, real_logits)


def relativistic_pairing_discriminator_loss(real_logits, fake_logits):
  """Relativistic pairing discriminator loss (RpGAN): each real example against its fake.

  E[softplus(-(C(x_i) - C(G(z_i))))] = -E[log sigmoid(C(x_i) - C(G(z_i)))], with real
  and fake paired by position in the batch (equal batch sizes). Unlike the
  relativistic average loss, which compares each example with the *mean* logit of
  the other batch, every pair is its own comparison: the loss is a function of the
  differences C(x_i) - C(G(z_i)) alone, so a critic cannot lower it by shifting all
  logits. softplus keeps it finite at any difference.

  References:
    Jolicoeur-Martineau, 2019, "The relativistic discriminator", ICLR.
    Huang et al., 2024, "The GAN is dead; long live the GAN! A modern GAN baseline",
      NeurIPS (RpGAN with R1 and R2).
  """
  return jnp.mean(jax.nn.softplus(fake_logits - real_logits))


def relativistic_pairing_generator_loss(real_logits, fake_logits):
  """RpGAN generator loss E[softplus(-(C(G(z_i)) - C(x_i)))]: the discriminator's, roles swapped."""
  return relativistic_pairing_discriminator_loss(fake_logits, real_logits)


def feature_matching_loss(real_features, fake_features):
  """Feature matching (Salimans et al. 2016): ||E f(x) - E f(G(z))||^2.

  The generator matches the mean of an intermediate discriminator layer on data
  instead of maximising the discriminator's output.

  Args:
    real_features: `[..., B, F]` features of data.
    fake_features: `[..., B, F]` features of generated samples.

  Returns:
    A scalar: the squared L2 distance of the batch means (averaged over any leading
    axes, such as ensemble members).

  References:
    Salimans et al., 2016, Improved Techniques for Training GANs.
  """
  diff = jnp.mean(real_features, axis=-2) - jnp.mean(fake_features, axis=-2)
  return jnp.mean(jnp.sum(jnp.square(diff), axis=-1))
