"""An in-domain MNIST classifier: the feature extractor for MNIST FID/KID/IS/precision-recall.

Inception-v3 features mean little on 28x28 digits; MNIST GAN papers instead score
samples with a small convnet trained on MNIST. `MnistClassifier` gives logits for
the ten digits and its 128-d penultimate activations as features.
`experiments/train_classifier.py` trains it (99.16% MNIST test accuracy in about
5 minutes on 2 CPU cores) and saves it with orbax; `classifier_features` runs it over any number
of images in fixed-size jitted batches.

Numbers computed with this network are comparable with each other, not with
Inception-based numbers from the literature nor with another MNIST classifier.

Inputs: `[N, 28, 28, 1]` images, uint8 in [0, 255] or floats in `value_range`
(default [0, 1]; pass `value_range=(-1, 1)` for tanh generators).

References:
  LeCun et al., "Gradient-based learning applied to document recognition", 1998.
  Keras "Simple MNIST convnet" example (two conv-pool blocks, dropout).
"""

import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp

from gan_jax.metrics import features as features_lib

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def _max_pool_2x2(x: jax.Array) -> jax.Array:
  # Same as nn.max_pool(x, (2, 2), strides=(2, 2)) on even sizes, but its gradient
  # is a cheap broadcast-compare instead of XLA:CPU's slow select-and-scatter.
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


class MnistClassifier(nn.Module):
  """conv - pool - conv - pool - dense (features) - dense (logits), with dropout.

  Called as `module(x, train)` on float images in [0, 1], `[B, 28, 28, 1]`; returns
  `(logits [B, 10], features [B, 128])`, the order of gan_jax discriminators, so
  `nets.from_flax(MnistClassifier())` is a `Network`.
  """

  conv1: int = 32
  conv2: int = 64
  features: int = 128

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False):
    x = _max_pool_2x2(nn.relu(nn.Conv(self.conv1, (3, 3))(x)))
    x = _max_pool_2x2(nn.relu(nn.Conv(self.conv2, (3, 3))(x)))
    x = x.reshape(x.shape[0], -1)
    x = nn.Dropout(0.25, deterministic=not train)(x)
    features = nn.relu(nn.Dense(self.features)(x))
    x = nn.Dropout(0.5, deterministic=not train)(features)
    logits = nn.Dense(NUM_CLASSES)(x)
    return logits, features


def to_unit_range(images, value_range=(0.0, 1.0)) -> jax.Array:
  """uint8 images -> /255; float images in `value_range` -> [0, 1]. Shape `[B, 28, 28, 1]`."""
  images = jnp.asarray(images)
  if images.dtype == jnp.uint8:
    return images.astype(jnp.float32) / 255.0
  low, high = value_range
  return (images.astype(jnp.float32) - low) / (high - low)


def init_classifier(key: jax.Array):
  """Fresh parameters of `MnistClassifier`."""
  return MnistClassifier().init(key, jnp.zeros((1,) + IMAGE_SHAPE), train=False)["params"]


def random_shift(images: jax.Array, key: jax.Array, max_shift: int = 2) -> jax.Array:
  """Translates each image `[B, H, W, C]` by up to `max_shift` pixels (zero fill)."""
  b, h, w, _ = images.shape
  padded = jnp.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
  offsets = jax.random.randint(key, (b, 2), 0, 2 * max_shift + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (h, w, image.shape[-1]))

  return jax.vmap(crop)(padded, offsets)


def _loss(params, images, labels, key, max_shift):
  shift_key, dropout_key = jax.random.split(key)
  images = to_unit_range(images)
  if max_shift:
    images = random_shift(images, shift_key, max_shift)
  logits, _ = MnistClassifier().apply(
      {"params": params}, images, train=True, rngs={"dropout": dropout_key}
  )
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def make_classifier_train_step(optimizer: optax.GradientTransformation, max_shift: int = 2):
  """Returns the pure step `(params, opt_state, images, labels, key) -> (params, opt_state, loss)`.

  Args:
    optimizer: the optax optimizer whose state the step carries.
    max_shift: random-translation augmentation in pixels (0: none).
  """

  def step(params, opt_state, images, labels, key):
    loss, grads = jax.value_and_grad(_loss)(params, images, labels, key, max_shift)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return step


def train_classifier(
    images,
    labels,
    *,
    steps: int = 1500,
    batch_size: int = 128,
    seed: int = 0,
    learning_rate: float = 2e-3,
    max_shift: int = 2,
    log_every: int = 0,
):
  """Trains `MnistClassifier` with Adam (cosine-decayed learning rate) and dropout.

  Args:
    images: `[N, 28, 28, 1]` uint8 training images (or floats in [0, 1]).
    labels: `[N]` integer labels.
    steps: optimizer steps; 1,500 steps of 128 (about 8.5 epochs of 22,699
      images) reach >= 99% MNIST test accuracy.
    batch_size: examples per step, drawn by shuffling each epoch.
    seed: seeds the parameters, the shuffling and dropout.
    learning_rate: peak Adam learning rate.
    max_shift: random translations of up to this many pixels (0: no augmentation).
    log_every: print the training loss every this many steps (0: never).

  Returns:
    The trained parameters (a pytree for `MnistClassifier`).
  """
  images = np.asarray(images)
  labels = np.asarray(labels).astype(np.int32)
  if images.shape[1:] != IMAGE_SHAPE or labels.shape != images.shape[:1]:
    raise ValueError(
        f"Expected images [N, 28, 28, 1] and labels [N], got {images.shape} and {labels.shape}."
    )
  key = jax.random.key(seed)
  init_key, dropout_key = jax.random.split(key)
  params = init_classifier(init_key)
  schedule = optax.warmup_cosine_decay_schedule(
      0.0, learning_rate, min(100, steps // 10 + 1), steps, end_value=learning_rate * 0.01
  )
  optimizer = optax.adam(schedule)
  opt_state = optimizer.init(params)
  step_fn = jax.jit(make_classifier_train_step(optimizer, max_shift), donate_argnums=(0, 1))
  rng = np.random.default_rng(seed)
  order = np.empty(0, np.int64)
  for step in range(steps):
    if order.size < batch_size:
      order = np.concatenate([order, rng.permutation(images.shape[0])])
    batch, order = order[:batch_size], order[batch_size:]
    params, opt_state, loss = step_fn(
        params, opt_state, images[batch], labels[batch], jax.random.fold_in(dropout_key, step)
    )
    if log_every and (step + 1) % log_every == 0:
      print(f"step {step + 1}/{steps} loss {float(loss):.4f}", flush=True)
  return params


@jax.jit
def _features_and_logits(params, images, value_range):
  logits, features = MnistClassifier().apply(
      {"params": params}, to_unit_range(images, value_range), train=False
  )
  return features, logits


def classifier_features(
    params, images, batch_size: int = 500, value_range=(0.0, 1.0)
) -> tuple[jax.Array, jax.Array]:
  """Penultimate features and class probabilities of `MnistClassifier` over a set of images.

  Args:
    params: classifier parameters (`train_classifier` or `load_classifier`).
    images: `[N, 28, 28, 1]`, uint8 or floats in `value_range`; may be NumPy.
    batch_size: images per jitted call (one compilation per batch size).
    value_range: the `(low, high)` of float images.

  Returns:
    `(features [N, 128], probs [N, 10])`.
  """
  value_range = tuple(float(v) for v in value_range)
  apply_fn = functools.partial(_features_and_logits, params, value_range=value_range)
  return features_lib.extract(apply_fn, images, batch_size)


def classifier_accuracy(params, images, labels, batch_size: int = 500) -> float:
  """Top-1 accuracy of the classifier on `images` `[N, 28, 28, 1]` with `labels` `[N]`."""
  _, probs = classifier_features(params, images, batch_size)
  return float(jnp.mean(jnp.argmax(probs, axis=1) == jnp.asarray(labels)))


def save_classifier(path: str, params) -> None:
  """Saves classifier parameters with orbax to the new directory `path`.

  Raises:
    FileExistsError: when `path` exists (nothing is overwritten).
  """
  path = os.path.abspath(path)
  if os.path.exists(path):
    raise FileExistsError(f"{path} exists; choose a new path or delete it first.")
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(path, params)
  checkpointer.wait_until_finished()
  checkpointer.close()


def load_classifier(path: str):
  """Loads parameters saved by `save_classifier`, checked against `MnistClassifier`'s shapes.

  Raises:
    FileNotFoundError: when `path` does not exist.
  """
  path = os.path.abspath(path)
  if not os.path.isdir(path):
    raise FileNotFoundError(
        f"No classifier checkpoint at {path}; train one with "
        "`python -m experiments.train_classifier --out=...`."
    )
  abstract = jax.eval_shape(init_classifier, jax.random.key(0))
  checkpointer = ocp.StandardCheckpointer()
  params = checkpointer.restore(path, abstract)
  checkpointer.close()
  return params
