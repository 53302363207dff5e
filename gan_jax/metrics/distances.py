"""Blocked pairwise squared distances, the workhorse of Parzen windows and k-NN metrics.

Sample-based metrics compare every point of one set with every point of another:
10,000 x 10,000 pairs of 784-dimensional MNIST images would be 314 GB as a
difference tensor and 400 MB as a distance matrix. The functions here never build
either: they walk the pairs in `[batch_size, batch_size]` blocks (a `lax.map` over
row blocks, a `lax.scan` over column blocks), so peak memory is
`O(batch_size^2 + batch_size * D)` beyond the inputs themselves.

Each block uses `||a - b||^2 = |a|^2 + |b|^2 - 2 a.b`, i.e. one matmul. In float32
this subtracts numbers of size `|a|^2` to get one of size `||a - b||^2`, so we
(1) centre both sets on a common point first (distances are translation
invariant, the norms shrink), (2) ask for full-precision matmuls (TPUs and
Ampere GPUs otherwise use bfloat16 / TF32 passes), and (3) clamp the result at 0.
"""

from typing import Callable

import jax
import jax.numpy as jnp

_HIGHEST = jax.lax.Precision.HIGHEST


def squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
  """All pairwise squared Euclidean distances between the rows of `a` and `b`.

  Args:
    a: `[N, D]` points.
    b: `[M, D]` points.

  Returns:
    `[N, M]` array of `||a_i - b_j||^2`, clamped at 0. Centre the inputs on a common
    point first when their norms are large compared with their spread.
  """
  a_sq = jnp.sum(a * a, axis=1)
  b_sq = jnp.sum(b * b, axis=1)
  cross = jnp.matmul(a, b.T, precision=_HIGHEST)
  return jnp.maximum(a_sq[:, None] + b_sq[None, :] - 2.0 * cross, 0.0)


def _blocks(x: jax.Array, batch_size: int) -> tuple[jax.Array, jax.Array]:
  """Pads `x` [N, ...] to a multiple of `batch_size` -> (`[nb, B, ...]`, valid mask `[nb, B]`)."""
  n = x.shape[0]
  num_blocks = -(-n // batch_size)
  pad = num_blocks * batch_size - n
  x = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1))
  valid = jnp.arange(num_blocks * batch_size) < n
  return (
      x.reshape((num_blocks, batch_size) + x.shape[1:]),
      valid.reshape(num_blocks, batch_size),
  )


def map_row_blocks(
    fn: Callable[[jax.Array], jax.Array], rows: jax.Array, batch_size: int
) -> jax.Array:
  """Applies `fn` ([B, ...] -> [B, ...]) to `rows` block by block, sequentially.

  Args:
    fn: maps a block of `batch_size` rows to per-row outputs.
    rows: `[N, ...]` inputs; padded with zeros to a multiple of `batch_size`
      (padding rows are computed and dropped).
    batch_size: rows per block.

  Returns:
    `fn` applied to all `N` rows, concatenated: `[N, ...]`.
  """
  blocks, _ = _blocks(rows, batch_size)
  out = jax.lax.map(fn, blocks)
  return jax.tree.map(
      lambda o: o.reshape((-1,) + o.shape[2:])[: rows.shape[0]], out
  )


def scan_column_blocks(
    fn: Callable,
    init,
    rows: jax.Array,
    columns: jax.Array,
    batch_size: int,
    column_values: jax.Array | None = None,
):
  """Folds `fn` over the `[R, batch_size]` blocks of squared distances rows x columns.

  Args:
    fn: `(carry, sq_dists [R, B], valid [B], values [B, ...] or None) -> carry`;
      `valid` is False on the padding columns, whose distances are meaningless.
    init: the initial carry.
    rows: `[R, D]` points (typically one row block).
    columns: `[M, D]` points, padded with zeros to a multiple of `batch_size`.
    batch_size: columns per block.
    column_values: optional `[M, ...]` per-column values handed to `fn` block by
      block (e.g. radii).

  Returns:
    The final carry.
  """
  col_blocks, valid = _blocks(columns, batch_size)
  values = None if column_values is None else _blocks(column_values, batch_size)[0]

  def body(carry, block):
    cols, ok, vals = block
    return fn(carry, squared_distances(rows, cols), ok, vals), None

  carry, _ = jax.lax.scan(body, init, (col_blocks, valid, values))
  return carry


def kth_nearest_sq_distance(points: jax.Array, k: int, batch_size: int) -> jax.Array:
  """Squared distance from each point to its k-th nearest *other* point of the set.

  Args:
    points: `[N, D]`.
    k: which neighbour (1 = nearest), `1 <= k < N`.
    batch_size: block size of the distance computation.

  Returns:
    `[N]` squared radii. A point's distance to itself (0) is the smallest of its
    row, so the k-th neighbour is the (k+1)-th smallest entry; exact duplicates of
    a point count as neighbours at distance 0.
  """
  if not 1 <= k < points.shape[0]:
    raise ValueError(f"k={k} must be in [1, {points.shape[0] - 1}] for {points.shape[0]} points.")
  center = jnp.mean(points, axis=0)
  points = points - center

  def row_block(rows):
    def fold(smallest, d2, valid, _):
      d2 = jnp.where(valid[None, :], d2, jnp.inf)
      both = jnp.concatenate([smallest, d2], axis=1)
      return -jax.lax.top_k(-both, k + 1)[0]

    init = jnp.full((rows.shape[0], k + 1), jnp.inf, points.dtype)
    smallest = scan_column_blocks(fold, init, rows, points, batch_size)
    return smallest[:, k]

  return map_row_blocks(row_block, points, batch_size)


def within_any_ball(
    queries: jax.Array, centers: jax.Array, sq_radii: jax.Array, batch_size: int
) -> jax.Array:
  """Whether each query lies in at least one closed ball `||q - c_j||^2 <= r_j^2`.

  Args:
    queries: `[N, D]`.
    centers: `[M, D]` ball centres.
    sq_radii: `[M]` squared radii.
    batch_size: block size of the distance computation.

  Returns:
    `[N]` bool.
  """
  center = jnp.mean(centers, axis=0)
  queries = queries - center
  centers = centers - center

  def row_block(rows):
    def fold(inside, d2, valid, r2):
      hit = (d2 <= r2[None, :]) & valid[None, :]
      return inside | jnp.any(hit, axis=1)

    init = jnp.zeros(rows.shape[0], bool)
    return scan_column_blocks(fold, init, rows, centers, batch_size, sq_radii)

  return map_row_blocks(row_block, queries, batch_size)
