"""Gaussian Parzen-window log-likelihood of held-out data under generator samples.

The protocol of Goodfellow et al. (2014, Table 1), after Breuleux et al. (2011):
fit an isotropic Gaussian kernel density estimate on `N` generated samples `s_i`,

  p(x) = 1/N sum_i N(x; s_i, sigma^2 I),
  log p(x) = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log N - D/2 log(2 pi sigma^2),

choose `sigma` by maximising the mean log-likelihood of a validation set
(MNIST: the original code's `parzen_ll.py` takes the first 1,000 of the last
10,000 training images, `limit_size=1000`), then report the mean log-likelihood of
the test set and its standard error. The original code evaluates 10,000 samples
and a grid of 10 sigmas in `logspace(-1, 0)` on MNIST scaled to [0, 1].

The estimate is known to be poor in high dimension (Theis et al., 2016): a
k-means "generator" can beat real data. Report it for comparison with the older
literature, next to sample-quality metrics, never alone.

Every pair (data point, sample) is visited in `[batch_size, batch_size]` blocks
with an online logsumexp (running maximum and rescaled sum), so 10k x 10k x 784
runs in memory `O(S * batch_size^2)` for `S` sigmas, and all sigmas of a
cross-validation grid share one pass over the distances.

References:
  Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014 (Section 5).
  Breuleux, Bengio, Vincent, "Quickly generating representative samples from an
    RBM-derived process", Neural Computation 2011.
  Theis, van den Oord, Bethge, "A note on the evaluation of generative models",
    ICLR 2016.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.metrics import distances

DEFAULT_SIGMAS = np.logspace(-1, 0, 10)


@functools.partial(jax.jit, static_argnames=("batch_size",))
def parzen_log_likelihoods(
    samples: jax.Array, data: jax.Array, sigmas: jax.Array, *, batch_size: int = 500
) -> jax.Array:
  """Per-point Parzen log-likelihoods of `data` for several bandwidths in one pass.

  Args:
    samples: `[N, D]` generated samples (the kernel centres).
    data: `[M, D]` points to score.
    sigmas: `[S]` kernel bandwidths.
    batch_size: block size along both the data and the sample axis.

  Returns:
    `[S, M]` log-densities `log p_sigma(x_m)` in nats.
  """
  samples = jnp.asarray(samples, jnp.float32).reshape(samples.shape[0], -1)
  data = jnp.asarray(data, jnp.float32).reshape(data.shape[0], -1)
  sigmas = jnp.atleast_1d(jnp.asarray(sigmas, jnp.float32))
  n, dim = samples.shape
  # Distances are translation invariant; centring shrinks |a|^2 + |b|^2 - 2ab's
  # cancellation error in float32.
  center = jnp.mean(samples, axis=0)
  samples = samples - center
  data = data - center
  inv_two_var = 1.0 / (2.0 * sigmas**2)  # [S]

  def row_block(rows):
    def fold(carry, d2, valid, _):
      running_max, running_sum = carry  # [S, R] each
      logits = -d2[None] * inv_two_var[:, None, None]  # [S, R, B]
      logits = jnp.where(valid[None, None, :], logits, -jnp.inf)
      new_max = jnp.maximum(running_max, jnp.max(logits, axis=2))
      # The first block always holds a real sample, so new_max is finite from
      # then on; guard the -inf - -inf of an empty start anyway.
      scale = jnp.where(jnp.isfinite(running_max), jnp.exp(running_max - new_max), 0.0)
      block_sum = jnp.sum(jnp.exp(logits - new_max[..., None]), axis=2)
      return new_max, running_sum * scale + block_sum

    shape = (sigmas.shape[0], rows.shape[0])
    init = (jnp.full(shape, -jnp.inf), jnp.zeros(shape))
    running_max, running_sum = distances.scan_column_blocks(
        fold, init, rows, samples, batch_size
    )
    return (running_max + jnp.log(running_sum)).T  # [R, S]

  log_kernel_sums = distances.map_row_blocks(row_block, data, batch_size).T
  log_norm = math.log(n) + 0.5 * dim * jnp.log(2.0 * jnp.pi * sigmas**2)
  return log_kernel_sums - log_norm[:, None]


def parzen_log_likelihood(
    samples: jax.Array, data: jax.Array, sigma: float, batch_size: int = 500
) -> tuple[jax.Array, jax.Array]:
  """Mean Parzen-window log-likelihood of `data` and its standard error.

  Example (MNIST in [0, 1], flattened):

    mean, se = parzen_log_likelihood(generated[:10000], test_images, sigma=0.17)

  Args:
    samples: `[N, D]` (or `[N, ...]`, flattened) generated samples.
    data: `[M, D]` held-out data in the same scale.
    sigma: kernel bandwidth.
    batch_size: block size along both axes; memory is `O(batch_size^2)`.

  Returns:
    `(mean, std_error)`: scalars in nats; `std_error = std(ll) / sqrt(M)` with the
    population std, as in the original code.

  References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014.
  """
  lls = parzen_log_likelihoods(samples, data, jnp.asarray([sigma]), batch_size=batch_size)[0]
  return jnp.mean(lls), jnp.std(lls) / math.sqrt(lls.shape[0])


def select_parzen_sigma(
    samples: jax.Array,
    validation: jax.Array,
    sigmas=DEFAULT_SIGMAS,
    batch_size: int = 500,
) -> float:
  """The bandwidth in `sigmas` maximising the mean validation log-likelihood.

  Args:
    samples: `[N, D]` generated samples.
    validation: `[M, D]` validation data (not the test set).
    sigmas: candidate bandwidths; the default is the original grid
      `np.logspace(-1, 0, 10)` for data in [0, 1].
    batch_size: block size along both axes.

  Returns:
    The selected sigma, a Python float.
  """
  sigmas = np.asarray(sigmas, np.float32)
  return float(sigmas[_best_index(samples, validation, sigmas, batch_size)])


def _best_index(samples, data, sigmas, batch_size) -> int:
  """The index of the sigma maximising the mean log-likelihood of `data`."""
  lls = parzen_log_likelihoods(samples, data, sigmas, batch_size=batch_size)
  return int(jnp.argmax(jnp.mean(lls, axis=1)))


def parzen_evaluate(
    samples: jax.Array,
    validation: jax.Array,
    test: jax.Array,
    sigmas=DEFAULT_SIGMAS,
    batch_size: int = 500,
) -> dict:
  """The full protocol: select sigma on `validation`, score `test` with it.

  The test set is scored at every sigma of the grid in the same pass, so the
  result also says how much the choice of sigma costs: `best_log_likelihood` is
  the test mean at the grid's best sigma for the test set itself, an upper bound
  that no choice on a validation set can exceed (a diagnostic, not the
  protocol's figure).

  Args:
    samples: `[N, D]` generated samples (10,000 in the original protocol).
    validation: `[M_val, D]` validation data for the bandwidth.
    test: `[M_test, D]` test data.
    sigmas: candidate bandwidths.
    batch_size: block size along both axes.

  Returns:
    `{"sigma", "log_likelihood", "std_error", "best_sigma", "best_log_likelihood"}`,
    Python floats.
  """
  sigmas = np.asarray(sigmas, np.float32)
  chosen = _best_index(samples, validation, sigmas, batch_size)
  lls = parzen_log_likelihoods(samples, test, sigmas, batch_size=batch_size)  # [S, M]
  means = jnp.mean(lls, axis=1)
  best = int(jnp.argmax(means))
  return {"sigma": float(sigmas[chosen]), "log_likelihood": float(means[chosen]),
          "std_error": float(jnp.std(lls[chosen]) / math.sqrt(lls.shape[1])),
          "best_sigma": float(sigmas[best]), "best_log_likelihood": float(means[best])}
