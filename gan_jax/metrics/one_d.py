"""Distances between two one-dimensional samples, exact and jittable.

Both compare the empirical CDFs `F_x`, `F_y` of the two samples on the merged,
sorted sample points `z_1 <= ... <= z_{n+m}` (between consecutive points both CDFs
are constant):

  W1(x, y) = integral |F_x - F_y| = sum_i |F_x(z_i) - F_y(z_i)| (z_{i+1} - z_i),
  KS(x, y) = sup |F_x - F_y|     = max_i |F_x(z_i) - F_y(z_i)|.

W1 is also `integral_0^1 |F_x^{-1}(q) - F_y^{-1}(q)| dq`, the mean gap between
matched quantiles (sorted samples when `n == m`). Samples of different sizes are
fine. These are the numbers `scipy.stats.wasserstein_distance` and the statistic
of `scipy.stats.ks_2samp` report.

References:
  Villani, "Optimal Transport: Old and New", 2009 (Remark 2.19, W1 on the line).
  Smirnov, "Table for estimating the goodness of fit of empirical distributions",
    Ann. Math. Statist. 1948.
"""

import jax
import jax.numpy as jnp


def _cdf_gaps_on_merged(x: jax.Array, y: jax.Array):
  """Merged sorted points `[n + m]` and `F_x - F_y` at each of them."""
  x = jnp.sort(jnp.ravel(x))
  y = jnp.sort(jnp.ravel(y))
  n, m = x.shape[0], y.shape[0]
  merged = jnp.sort(jnp.concatenate([x, y]))
  # side="right": F(z) = #{x_i <= z} / n.
  count_x = jnp.searchsorted(x, merged, side="right").astype(merged.dtype)
  count_y = jnp.searchsorted(y, merged, side="right").astype(merged.dtype)
  # One division of a difference of counts (not two rounded CDFs) keeps equal
  # samples at exactly 0.
  return merged, (count_x * m - count_y * n) / (n * m)


@jax.jit
def wasserstein_1d(x: jax.Array, y: jax.Array) -> jax.Array:
  """The 1-Wasserstein (earth mover's) distance between two empirical distributions.

  Args:
    x: `[n]` samples (flattened if not 1-D).
    y: `[m]` samples.

  Returns:
    Scalar `W1 = integral |F_x(t) - F_y(t)| dt`.
  """
  merged, gaps = _cdf_gaps_on_merged(x, y)
  return jnp.sum(jnp.abs(gaps[:-1]) * jnp.diff(merged))


@jax.jit
def ks_distance(x: jax.Array, y: jax.Array) -> jax.Array:
  """The two-sample Kolmogorov-Smirnov statistic `sup_t |F_x(t) - F_y(t)|`.

  Args:
    x: `[n]` samples (flattened if not 1-D).
    y: `[m]` samples.

  Returns:
    Scalar in [0, 1].
  """
  _, gaps = _cdf_gaps_on_merged(x, y)
  return jnp.max(jnp.abs(gaps))
