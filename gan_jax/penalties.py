"""Gradient penalties: pure functions of a critic function and data.

Signature: `penalty(critic_fn, real, fake, key) -> scalar`, where
`critic_fn(x [B, ...]) -> logits [B]` closes over the critic's parameters (so the
penalty is differentiable with respect to them). The coefficient lives with the
caller (`make_train_step(..., penalty_weight=10.)`).

Per-example input gradients come from `grad` of the *sum* of the logits: for a
critic without cross-example interactions (no batch norm, no minibatch
discrimination) example i's logit depends only on x_i, so d(sum)/dx_i is example
i's own gradient. Taking `grad` of the *mean* instead would scale every gradient by
1/B and drive the norm towards B, not 1.
"""

import jax
import jax.numpy as jnp


def _per_example_norm(grads):
  """L2 norm over all non-batch axes, with a gradient that is safe at zero."""
  sq = jnp.sum(jnp.square(grads).reshape(grads.shape[0], -1), axis=-1)
  positive = sq > 0
  # sqrt has an infinite derivative at 0; route zeros through a dummy value.
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def _input_gradients(critic_fn, x):
  return jax.grad(lambda x: jnp.sum(critic_fn(x)))(x)


def _uniform_per_example(key, x):
  shape = (x.shape[0],) + (1,) * (x.ndim - 1)
  return jax.random.uniform(key, shape, dtype=x.dtype)


def gradient_penalty(critic_fn, real, fake, key, *, target=1.0, one_sided=False):
  """The WGAN-GP penalty E[((||grad f(x_hat)|| - target) / target)^2].

  x_hat is sampled uniformly on the line between a real and a fake example
  (one uniform draw per example). With `one_sided=True` only norms above the
  target are penalised: E[max(0, ||grad|| - target)^2] / target^2.

  Args:
    critic_fn: `x [B, ...] -> logits [B]`.
    real: `[B, ...]` data.
    fake: `[B, ...]` generated samples (their gradient to the generator is not
      needed: wrap in `stop_gradient` upstream if it could flow).
    key: PRNG key for the interpolation coefficients.
    target: the target norm gamma (Karras et al. 2018 use gamma = 750 with
      the division by gamma^2 shown above).
    one_sided: penalise only norms above the target.

  Returns:
    A scalar, independent of the batch size for i.i.d. examples.

  References:
    Gulrajani et al., 2017, Improved Training of Wasserstein GANs;
    Petzka et al., 2018, On the regularization of Wasserstein GANs (one-sided).
  """
  eps = _uniform_per_example(key, real)
  x_hat = eps * real + (1.0 - eps) * fake
  norm = _per_example_norm(_input_gradients(critic_fn, x_hat))
  excess = norm - target
  if one_sided:
    excess = jax.nn.relu(excess)
  return jnp.mean(jnp.square(excess)) / (target * target)


def r1_penalty(critic_fn, real, fake, key):
  """R1: E_data[||grad D(x)||^2] (the caller's weight is gamma / 2).

  References:
    Mescheder et al., 2018, Which Training Methods for GANs do actually Converge?
  """
  del fake, key
  return jnp.mean(jnp.square(_per_example_norm(_input_gradients(critic_fn, real))))


def r2_penalty(critic_fn, real, fake, key):
  """R2: E_generated[||grad D(x)||^2] (the caller's weight is gamma / 2).

  References:
    Mescheder et al., 2018, Which Training Methods for GANs do actually Converge?
  """
  del real, key
  return jnp.mean(jnp.square(_per_example_norm(_input_gradients(critic_fn, fake))))


def r1_r2_penalty(critic_fn, real, fake, key):
  """R1 + R2: E_data[||grad D(x)||^2] + E_generated[||grad D(x)||^2].

  R3GAN's zero-centred pair, each weighted gamma / 2: pass `penalty_weight=gamma / 2`.

  References:
    Huang et al., 2024, "The GAN is dead; long live the GAN! A modern GAN baseline".
  """
  return r1_penalty(critic_fn, real, fake, key) + r2_penalty(critic_fn, real, fake, key)


def dragan_penalty(critic_fn, real, fake, key, *, scale=0.5):
  """DRAGAN: E[(||grad D(x_p)|| - 1)^2] around perturbed data.

  x_p = x + alpha * delta with delta ~ scale * std(x) * U[0, 1] per coordinate and
  alpha ~ U[0, 1] per example, as in the authors' implementation.

  References:
    Kodali et al., 2017, On Convergence and Stability of GANs.
  """
  del fake
  noise_key, alpha_key = jax.random.split(key)
  delta = scale * jnp.std(real) * jax.random.uniform(noise_key, real.shape, real.dtype)
  x_p = real + _uniform_per_example(alpha_key, real) * delta
  norm = _per_example_norm(_input_gradients(critic_fn, x_p))
  return jnp.mean(jnp.square(norm - 1.0))


PENALTIES = {
    "gradient": gradient_penalty,
    "r1": r1_penalty,
    "r2": r2_penalty,
    "r1_r2": r1_r2_penalty,
    "dragan": dragan_penalty,
}
