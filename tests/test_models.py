"""Tests of gan_jax.models: shapes, initialisation, collections, and the layers' math."""

import inspect

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import gan_jax
from gan_jax import models
from gan_jax.models import adjoint
from gan_jax.models import layers
from gan_jax.models import tf_dcgan
from gan_jax import nets

# RBG keys compile much faster on CPU than threefry ones; no test depends on the bits.
KEY = jax.random.key(0, impl="rbg")


def _init_apply(net, x, *, train=True, rng=KEY):
  params, collections = jax.jit(net.init)(KEY, x)
  apply = jax.jit(net.apply, static_argnames="train")
  outputs, new_collections = apply(params, collections, x, rng=rng, train=train)
  return params, collections, outputs, new_collections


def _normal(shape, seed=1):
  return jax.random.normal(jax.random.fold_in(KEY, seed), shape)


# ----------------------------------------------------------------------------- shapes


def _output_shapes(net, x_shape, train):
  """Shapes and dtypes of `net`'s outputs, by abstract evaluation (nothing compiles)."""

  def run(x):
    params, collections = net.init(KEY, x)
    return net.apply(params, collections, x, rng=KEY, train=train)

  outputs, _ = jax.eval_shape(run, jax.ShapeDtypeStruct(x_shape, jnp.float32))
  return jax.tree.map(lambda s: (s.shape, s.dtype), outputs)


@pytest.mark.parametrize("net, latent_dim, data_shape", [
    (models.mlp_generator(2), 8, (2,)),
    (models.gaussian_1d_generator(), 1, (1,)),
    (models.goodfellow_mnist_generator(), 100, (28, 28, 1)),
    (models.dcgan_generator((28, 28, 1)), 100, (28, 28, 1)),
    (models.dcgan_generator((32, 32, 3)), 100, (32, 32, 3)),
    (models.dcgan_generator((64, 64, 3)), 100, (64, 64, 3)),
    (models.resnet_generator((32, 32, 3)), 128, (32, 32, 3)),
    (models.resnet_generator((16, 16, 1), features=16), 16, (16, 16, 1)),
    (models.metz_generator(), 256, (28, 28, 3)),
    (models.tf_dcgan_generator(), 100, (28, 28, 3)),
    (models.tf_dcgan_generator((64, 64, 1), base_features=8), 100, (64, 64, 1)),
])
@pytest.mark.parametrize("train", [False, True])
def test_generator_shapes(net, latent_dim, data_shape, train):
  assert _output_shapes(net, (4, latent_dim), train) == ((4, *data_shape), jnp.float32)


@pytest.mark.parametrize("net, data_shape, num_features", [
    (models.mlp_discriminator(), (2,), 128),
    (models.mlp_discriminator((16, 8), "leaky_relu", spectral_norm=True,
                              minibatch_kernels=4), (2,), 8),
    (models.gaussian_1d_discriminator(), (1,), 13),
    (models.gaussian_1d_discriminator(minibatch=False, spectral_norm=True), (1,), 8),
    (models.goodfellow_mnist_discriminator(), (28, 28, 1), 240),
    (models.goodfellow_mnist_discriminator(spectral_norm=True), (28, 28, 1), 240),
    (models.dcgan_discriminator((28, 28, 1)), (28, 28, 1), 7 * 7 * 128),
    (models.dcgan_discriminator((32, 32, 3), normalization="layer"), (32, 32, 3), 4 * 4 * 256),
    (models.dcgan_discriminator((64, 64, 3), normalization="none", spectral_norm=True,
                                minibatch_kernels=100), (64, 64, 3), 4 * 4 * 512),
    (models.resnet_discriminator(), (32, 32, 3), 128),
    (models.resnet_discriminator(16, spectral_norm=False), (32, 32, 3), 16),
    (models.metz_discriminator(), (28, 28, 3), 4 * 4 * 8),
    (models.metz_discriminator(size="half"), (28, 28, 3), 4 * 4 * 16),
    (models.tf_dcgan_discriminator(), (28, 28, 3), 2 * 2 * 512),
    (models.tf_dcgan_discriminator((64, 64, 6), base_features=8), (64, 64, 6), 4 * 4 * 64),
])
@pytest.mark.parametrize("train", [False, True])
def test_discriminator_shapes(net, data_shape, num_features, train):
  logits, features = _output_shapes(net, (4, *data_shape), train)
  assert logits == ((4,), jnp.float32)
  assert features == ((4, num_features), jnp.float32)


@pytest.mark.parametrize("registry", [models.GENERATORS, models.DISCRIMINATORS])
def test_every_registered_model_says_what_its_factory_takes(registry):
  assert registry
  for name, model in registry.items():
    assert isinstance(model, models.Model), name
    assert model.kind in ("points", "image"), name
    parameters = inspect.signature(model.factory).parameters
    assert model.shape_arg is None or model.shape_arg in parameters, name
    assert set(model.defaults) <= set(parameters) - {model.shape_arg}, name
    if registry is models.GENERATORS and model.kind == "image":
      assert model.output_scale in ("tanh", "sigmoid"), name


def test_a_model_described_from_its_signature():
  def my_generator(image_shape, width=8):
    return models.dcgan_generator(image_shape, width)

  model = models.Model.describe(my_generator, "points")
  assert (model.kind, model.shape_arg, model.output_scale) == ("image", "image_shape", "tanh")
  assert model.defaults == {"width": 8}
  my_generator.output_scale = "sigmoid"
  assert models.Model.describe(my_generator, "points").output_scale == "sigmoid"
  assert models.Model.describe(lambda hidden=3: None, "points").kind == "points"
  my_generator.output_scale = "relu"
  with pytest.raises(ValueError, match="output_scale"):
    models.Model.describe(my_generator, "image")


@pytest.mark.parametrize("make", [
    lambda: models.dcgan_generator((48, 48, 3)),
    lambda: models.dcgan_discriminator((32, 32, 3), normalization="instance"),
    lambda: models.resnet_generator((28, 28, 1)),
    lambda: models.mlp_generator(2, activation="sigmoidish"),
])
def test_bad_arguments_fail_at_construction(make):
  with pytest.raises(ValueError):
    make()


# ------------------------------------------------------------------------ DCGAN details


_DCGAN_G = models.dcgan_generator((28, 28, 1), 16)
_DCGAN_D = models.dcgan_discriminator((28, 28, 1), 16)


def test_dcgan_initialisation_statistics():
  for net, x in [(_DCGAN_G, _normal((8, 16))), (_DCGAN_D, _normal((8, 28, 28, 1)))]:
    params, _ = jax.jit(net.init)(KEY, x)
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    kernels = [v for path, v in flat if path[-1].key == "kernel" and v.size > 1000]
    scales = jnp.concatenate([v for path, v in flat if path[-1].key == "scale"])
    assert kernels
    for kernel in kernels:
      assert abs(float(kernel.std()) - 0.02) < 0.001 and abs(float(kernel.mean())) < 0.001
    assert abs(float(scales.mean()) - 1.0) < 0.005
    assert 0.015 < float(scales.std()) < 0.025


def test_generator_batch_stats_update_only_in_training():
  z = _normal((8, 16))
  params, collections = jax.jit(_DCGAN_G.init)(KEY, z)
  assert set(collections) == {"batch_stats"}
  apply = jax.jit(_DCGAN_G.apply, static_argnames="train")
  _, eval_collections = apply(params, collections, z, rng=KEY, train=False)
  _, train_collections = apply(params, collections, z, rng=KEY, train=True)
  for before, after_eval, after_train in zip(*map(jax.tree.leaves, (
      collections, eval_collections, train_collections))):
    np.testing.assert_array_equal(before, after_eval)
    assert not np.allclose(before, after_train)


@pytest.mark.parametrize("normalization, mixes", [("batch", True), ("layer", False)])
def test_critic_normalization_and_per_example_gradients(normalization, mixes):
  # A WGAN-GP critic needs d logits_i / d x_j = 0 for i != j; batch norm breaks it.
  net = models.dcgan_discriminator((28, 28, 1), 16, normalization)
  x = _normal((8, 28, 28, 1))
  params, collections = jax.jit(net.init)(KEY, x)

  def first_logit(x):
    (logits, _), _ = net.apply(params, collections, x, rng=KEY, train=True)
    return logits[0]

  cross = jnp.abs(jax.jit(jax.grad(first_logit))(x)[1:]).max()
  assert (cross > 1e-6) == mixes


# ------------------------------------------------------------------- dropout and maxout


def test_dropout_only_in_training():
  net = models.goodfellow_mnist_discriminator()
  x = _normal((4, 28, 28, 1))
  params, collections = net.init(KEY, x)

  def logits(rng, train):
    return net.apply(params, collections, x, rng=jax.random.fold_in(KEY, rng), train=train)[0][0]

  np.testing.assert_array_equal(logits(1, False), logits(2, False))
  np.testing.assert_array_equal(logits(1, True), logits(1, True))
  assert not np.allclose(logits(1, True), logits(2, True))
  assert not np.allclose(logits(1, True), logits(1, False))


def test_maxout_is_max_over_pieces():
  layer = models.Maxout(units=3, pieces=4)
  x = _normal((5, 6))
  variables = layer.init(KEY, x)
  dense = variables["params"]["Dense_0"]
  z = (x @ dense["kernel"] + dense["bias"]).reshape(5, 3, 4)
  np.testing.assert_allclose(layer.apply(variables, x), z.max(axis=-1), rtol=1e-6)


# --------------------------------------------------------------- minibatch discrimination


def _minibatch_layer():
  layer = models.MinibatchDiscrimination(num_kernels=5, kernel_dim=3,
                                         kernel_init=nn.initializers.normal(1.0))
  x = _normal((6, 4))
  return layer, layer.init(KEY, x), x


def test_minibatch_discrimination_formula():
  layer, variables, x = _minibatch_layer()
  out = np.asarray(layer.apply(variables, x))
  m = np.asarray(x @ variables["params"]["T"]["kernel"]).reshape(6, 5, 3)
  o = np.array([[sum(np.exp(-np.abs(m[i, b] - m[j, b]).sum()) for j in range(6))
                 for b in range(5)] for i in range(6)])
  np.testing.assert_allclose(out[:, :4], x)
  np.testing.assert_allclose(out[:, 4:], o, rtol=1e-5)


def test_minibatch_discrimination_is_permutation_equivariant():
  layer, variables, x = _minibatch_layer()
  perm = np.array([3, 0, 5, 1, 4, 2])
  np.testing.assert_allclose(layer.apply(variables, x[perm]),
                             layer.apply(variables, x)[perm], rtol=1e-6)


def test_minibatch_discrimination_depends_on_other_examples():
  layer, variables, x = _minibatch_layer()
  out = layer.apply(variables, x)
  out_changed = layer.apply(variables, x.at[3].add(1.0))
  np.testing.assert_array_equal(out[0, :4], out_changed[0, :4])
  assert not np.allclose(out[0, 4:], out_changed[0, 4:])


# ------------------------------------------------------------------------------- PacGAN


def test_pack_shape_and_content():
  x = jnp.arange(6 * 2 * 2 * 3).reshape(6, 2, 2, 3)
  packs = models.pack(x, 3)
  assert packs.shape == (2, 2, 2, 9)
  for i in range(2):
    for k in range(3):
      np.testing.assert_array_equal(packs[i, ..., 3 * k:3 * (k + 1)], x[3 * i + k])
  np.testing.assert_array_equal(models.pack(jnp.arange(8).reshape(4, 2), 2),
                                [[0, 1, 2, 3], [4, 5, 6, 7]])
  with pytest.raises(ValueError):
    models.pack(x, 4)


def test_packed_discriminator():
  base = models.mlp_discriminator((16,))
  net = models.packed(base, 2)
  x = _normal((8, 3))
  params, collections, (logits, features), _ = _init_apply(net, x)
  assert params["Dense_0"]["kernel"].shape == (6, 16)
  assert logits.shape == (4,) and features.shape == (4, 16)
  (expected, _), _ = base.apply(params, collections, models.pack(x, 2), rng=KEY, train=True)
  np.testing.assert_array_equal(logits, expected)

  images = models.packed(models.dcgan_discriminator((28, 28, 1), 8, "none"), 4)
  params, _ = jax.eval_shape(images.init, KEY, jax.ShapeDtypeStruct((8, 28, 28, 1), jnp.float32))
  assert params["Conv_0"]["kernel"].shape == (4, 4, 4, 8)
  assert _output_shapes(images, (8, 28, 28, 1), train=True)[0] == ((2,), jnp.float32)


def test_a_generator_in_passes_normalises_each_pass_with_its_own_statistics():
  """Pass k makes rows k, k + m, ... (the k-th member of each pack) from its own batch
  statistics; the batch-norm averages move by the mean of the passes' updates."""
  base = models.mlp_generator(3, (16,), batch_norm=True)
  net = models.in_passes(base, 2)
  z = _normal((6, 2))
  params, collections, samples, updated = _init_apply(net, z)
  by_pass = [base.apply(params, collections, z[k::2], rng=KEY, train=True) for k in range(2)]
  for k, (expected, _) in enumerate(by_pass):
    np.testing.assert_allclose(samples[k::2], expected, rtol=1e-5, atol=1e-6)
  whole, _ = base.apply(params, collections, z, rng=KEY, train=True)
  assert not np.allclose(samples, whole, atol=1e-3)  # Other statistics than one pass.
  jax.tree.map(lambda new, a, b: np.testing.assert_allclose(new, (a + b) / 2, rtol=1e-5,
                                                            atol=1e-7),
               updated, by_pass[0][1], by_pass[1][1])
  packs = models.pack(samples, 2)  # Each pack: one member from each pass.
  np.testing.assert_allclose(packs[:, 3:], by_pass[1][0], rtol=1e-5, atol=1e-6)
  # The parameters' gradient is the sum of the passes' (the passes share the weights);
  # one joint pass would couple the rows through its batch statistics. The tolerance
  # allows float32 sums in another order.
  target = _normal((6, 3))
  loss = lambda f, p, rows: jnp.sum(target[rows] * f.apply(p, collections, z[rows], rng=KEY,
                                                             train=True)[0])
  grad = jax.grad(lambda p: loss(net, p, slice(None)))(params)
  per_pass = [jax.grad(lambda p: loss(base, p, slice(k, None, 2)))(params) for k in range(2)]
  jax.tree.map(lambda g, a, b: np.testing.assert_allclose(g, a + b, rtol=1e-4, atol=1e-5),
               grad, *per_pass)
  # Inference uses the averages, not batch statistics: one pass, as the network's.
  inferred, same = net.apply(params, updated, z, rng=KEY, train=False)
  np.testing.assert_array_equal(inferred, base.apply(params, updated, z, rng=KEY,
                                                     train=False)[0])
  assert same is updated
  with pytest.raises(ValueError, match="divisible by 2"):
    net.apply(params, collections, z[:5], rng=KEY, train=True)


# ------------------------------------------------------------------- spectral normalization


@pytest.mark.parametrize("net, x, layer", [
    (models.mlp_discriminator((32,), spectral_norm=True), _normal((8, 16)), "Dense_0"),
    (models.dcgan_discriminator((28, 28, 1), 16, "none", spectral_norm=True),
     _normal((8, 28, 28, 1)), "Conv_1"),
])
def test_spectral_norm_bounds_the_largest_singular_value(net, x, layer):
  params, collections = jax.jit(net.init)(KEY, x)
  apply = jax.jit(lambda c: net.apply(params, c, x, rng=KEY, train=True)[1])
  for _ in range(200):  # power iterations advance only when train=True
    collections = apply(collections)
  stats = next(v for v in collections["batch_stats"].values() if f"{layer}/kernel/sigma" in v)
  kernel = params[layer]["kernel"]
  normalised = kernel.reshape(-1, kernel.shape[-1]) / stats[f"{layer}/kernel/sigma"]
  np.testing.assert_allclose(np.linalg.svd(normalised, compute_uv=False)[0], 1.0, rtol=1e-3)
  frozen = net.apply(params, collections, x, rng=KEY, train=False)[1]
  assert frozen is collections


# ----------------------------------------------------------------------------- ensembles


def test_ensemble_equals_members_run_alone():
  base = models.mlp_discriminator((16,), spectral_norm=True)
  net = models.ensemble(base, 3)
  x = _normal((5, 2))
  params, collections, (logits, features), new_collections = _init_apply(net, x)
  assert logits.shape == (3, 5) and features.shape == (3, 5, 16)
  assert not np.allclose(logits[0], logits[1])
  for i, rng in enumerate(jax.random.split(KEY, 3)):
    member = lambda tree: jax.tree.map(lambda leaf: leaf[i], tree)
    (member_logits, member_features), member_collections = base.apply(
        member(params), member(collections), x, rng=rng, train=True)
    np.testing.assert_allclose(logits[i], member_logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(features[i], member_features, rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 member(new_collections), member_collections)


# --------------------------------------------------------------------------- NNX adapter


class _NNXCritic(nnx.Module):

  def __init__(self, rngs):
    self.hidden = nnx.Linear(2, 8, rngs=rngs)
    self.norm = nnx.BatchNorm(8, rngs=rngs)
    self.dropout = nnx.Dropout(0.5, rngs=rngs)
    self.out = nnx.Linear(8, 1, rngs=rngs)

  def __call__(self, x):
    return self.out(self.dropout(nnx.relu(self.norm(self.hidden(x)))))[:, 0]


def test_nnx_linear_critic_matches_direct_call():
  linear = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
  net = models.from_nnx(linear)
  x = _normal((5, 2))
  params, collections = net.init(KEY, x)
  assert collections == {}
  apply = jax.jit(net.apply, static_argnames="train")
  for train in (False, True):
    logits, _ = apply(params, collections, x, rng=KEY, train=train)
    np.testing.assert_allclose(logits, linear(x), rtol=1e-6)
  assert isinstance(net, nets.Network)


def test_nnx_state_and_randomness():
  net = models.from_nnx(_NNXCritic)
  x = _normal((6, 2))
  params, collections = net.init(KEY, x)
  other_params, _ = net.init(jax.random.fold_in(KEY, 1), x)
  assert not np.allclose(params["hidden"]["kernel"], other_params["hidden"]["kernel"])

  def apply(rng, train):
    return net.apply(params, collections, x, rng=jax.random.fold_in(KEY, rng), train=train)

  (eval_a, eval_collections), (eval_b, _) = apply(1, False), apply(2, False)
  np.testing.assert_array_equal(eval_a, eval_b)
  assert eval_collections is collections
  (train_a, train_collections), (train_b, _) = apply(1, True), apply(2, True)
  assert not np.allclose(train_a, train_b)
  np.testing.assert_array_equal(train_a, apply(1, True)[0])
  assert not np.allclose(train_collections["state"]["norm"]["mean"],
                         collections["state"]["norm"]["mean"])


def test_dcgan_generator_upsampling_kinds_are_the_same_network(kind="adjoint"):
  z = jax.random.normal(jax.random.key(0), (2, 8))
  results = {}
  for upsample in ("transpose", kind):
    g = models.dcgan_generator((28, 28, 1), base_features=4, upsample=upsample)
    params, collections = g.init(jax.random.key(1), z)
    loss = lambda p: jnp.sum(g.apply(p, collections, z, rng=jax.random.key(2), train=True)[0] ** 2)
    results[upsample] = params, jax.jit(jax.value_and_grad(loss))(params)
  (p_t, (l_t, g_t)), (p_s, (l_s, g_s)) = results["transpose"], results[kind]
  # Same parameter tree and initial values, so checkpoints move between the two.
  assert jax.tree.structure(p_t) == jax.tree.structure(p_s)
  for a, b in zip(jax.tree.leaves(p_t), jax.tree.leaves(p_s)):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_allclose(l_t, l_s, rtol=1e-5)
  for a, b in zip(jax.tree.leaves(g_t), jax.tree.leaves(g_s)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(jnp.max(jnp.abs(a))))


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_dcgan_critic_downsampling_kinds_are_the_same_network(spectral_norm, kind="adjoint"):
  x = jax.random.normal(jax.random.key(0), (2, 28, 28, 1))
  results = {}
  for downsample in ("conv", kind):
    d = models.dcgan_discriminator((28, 28, 1), base_features=4, normalization="none",
                                   spectral_norm=spectral_norm, downsample=downsample)
    params, collections = d.init(jax.random.key(1), x)
    logits = lambda p: d.apply(p, collections, x, rng=jax.random.key(2), train=False)[0][0]
    results[downsample] = (params, jax.jit(logits)(params),
                           jax.jit(jax.grad(lambda p: jnp.sum(logits(p))))(params))
  (p_c, l_c, g_c), (p_s, l_s, g_s) = results["conv"], results[kind]
  assert jax.tree.structure(p_c) == jax.tree.structure(p_s)
  for a, b in zip(jax.tree.leaves(p_c), jax.tree.leaves(p_s)):
    np.testing.assert_array_equal(a, b)
  np.testing.assert_allclose(l_c, l_s, rtol=1e-4, atol=1e-6)
  for a, b in zip(jax.tree.leaves(g_c), jax.tree.leaves(g_s)):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(jnp.max(jnp.abs(a))))


# ---------------------------------------------------------------------- mixed precision


def _all_float32(tree):
  return all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(tree))


def test_dcgan_bfloat16_keeps_float32_parameters_and_outputs_close_to_float32():
  # Batch norm, spectral norm and minibatch discrimination: every float32 special case.
  make_g = lambda dtype: models.dcgan_generator((28, 28, 1), 16, "adjoint", dtype=dtype)
  make_d = lambda dtype: models.dcgan_discriminator(
      (28, 28, 1), 16, spectral_norm=True, minibatch_kernels=4, dtype=dtype)
  z, x = _normal((8, 16)), _normal((8, 28, 28, 1), seed=2)
  g32, d32, g16, d16 = make_g(None), make_d(None), make_g("bfloat16"), make_d("bfloat16")
  g_vars, d_vars = jax.jit(g32.init)(KEY, z), jax.jit(d32.init)(KEY, x)
  # The same variables as in float32 (names, so checkpoints, and dtypes).
  for net, variables, inputs in ((g16, g_vars, z), (d16, d_vars, x)):
    own = jax.eval_shape(net.init, KEY, inputs)
    assert jax.tree.structure(own) == jax.tree.structure(variables) and _all_float32(own)

  def run(g, d):  # both with the float32 networks' variables
    apply = lambda net, variables, inputs: jax.jit(net.apply, static_argnames="train")(
        *variables, inputs, rng=KEY, train=True)
    images, g_collections = apply(g, g_vars, z)
    (logits, features), d_collections = apply(d, d_vars, x)
    assert _all_float32((images, logits, features, g_collections, d_collections))
    return images, logits, features

  images, logits, features = run(g32, d32)
  images16, logits16, features16 = run(g16, d16)
  # bfloat16 keeps 8 significant bits (a relative rounding error up to 2^-9), and the
  # errors add up over the layers. Observed maximum differences (over a few inputs):
  # 0.0035 on images of magnitude ~0.5, 0.008 on logits of magnitude ~1, 0.5% of the
  # largest feature; the tolerances leave a margin of about 5x.
  np.testing.assert_allclose(images16, images, atol=0.02)
  np.testing.assert_allclose(logits16, logits, atol=0.05)
  np.testing.assert_allclose(features16, features, atol=0.025 * float(jnp.abs(features).max()))


def test_dcgan_bfloat16_train_step_has_finite_float32_losses():
  gan = gan_jax.GAN(models.dcgan_generator((28, 28, 1), 8, "adjoint", dtype="bfloat16"),
                    models.dcgan_discriminator((28, 28, 1), 8, dtype="bfloat16"),
                    optax.adam(2e-4, b1=0.5), optax.adam(2e-4, b1=0.5),
                    gan_jax.games.non_saturating(), latent_dim=16)
  real = jnp.tanh(_normal((4, 28, 28, 1)))
  state = gan_jax.init_state(gan, KEY, real)
  state, metrics = jax.jit(gan_jax.make_train_step(gan))(state, real, KEY)
  assert metrics["d_loss"].dtype == metrics["g_loss"].dtype == jnp.float32
  assert all(np.isfinite(value).all() for value in jax.tree.leaves(metrics))
  assert _all_float32((state.g_params, state.d_params, state.g_collections,
                       state.d_collections))


@pytest.mark.parametrize("make", [models.dcgan_generator, models.dcgan_discriminator])
def test_dcgan_unknown_dtype_fails_at_construction(make):
  with pytest.raises(ValueError, match="bfloat16"):
    make((28, 28, 1), dtype="float64")
  make((28, 28, 1), dtype="float32")  # the configs' default


# ---------------------------------------------------------------------- batch norm


@pytest.mark.parametrize("shape", [(8, 5, 5, 6), (16, 7)])
@pytest.mark.parametrize("dtype", [None, "bfloat16"])
def test_batch_norm_equals_flax_batch_norm(shape, dtype):
  x = 3 * jax.random.normal(jax.random.key(0), shape) + 1
  reference = nn.BatchNorm(momentum=0.9, dtype=dtype)
  layer = layers.BatchNorm(momentum=0.9, dtype=dtype)
  variables = reference.init(jax.random.key(1), x, use_running_average=False)
  assert (jax.tree.map(lambda a: (a.shape, a.dtype), variables)
          == jax.tree.map(lambda a: (a.shape, a.dtype),
                          layer.init(jax.random.key(1), x, use_running_average=False)))
  variables = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(3), a.shape),
                           variables)
  weights = jax.random.normal(jax.random.key(4), shape)
  for use_running_average in (False, True):
    def run(module, variables, x):
      y, updates = module.apply(variables, x, use_running_average=use_running_average,
                                mutable=["batch_stats"])
      return jnp.sum(y.astype(jnp.float32) * weights), (y, updates)

    (_, (y_ref, stats_ref)), grads_ref = jax.value_and_grad(run, (1, 2), has_aux=True)(
        reference, variables, x)
    (_, (y, stats)), grads = jax.value_and_grad(run, (1, 2), has_aux=True)(
        layer, variables, x)
    assert y.dtype == y_ref.dtype
    np.testing.assert_allclose(np.float32(y), np.float32(y_ref), rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.tree.leaves((stats_ref, grads_ref)), jax.tree.leaves((stats, grads))):
      np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * float(jnp.max(jnp.abs(a))))


def test_maxout_mlp_discriminator_takes_the_max_of_its_pieces():
  d = models.mlp_discriminator((4, 3), maxout_pieces=5, init_std=0.5)
  x = _normal((6, 2))
  params, collections = d.init(jax.random.key(0), x)
  (logits, features), _ = d.apply(params, collections, x, rng=jax.random.key(1), train=True)
  h = x
  for name in ("Maxout_0", "Maxout_1"):
    dense = params[name]["Dense_0"]
    z = h @ dense["kernel"] + dense["bias"]
    h = z.reshape(len(x), -1, 5).max(axis=-1)  # pieces contiguous, as in pylearn2/blocks
  np.testing.assert_allclose(features, h, rtol=1e-5, atol=1e-6)
  out = params["Dense_0"]
  np.testing.assert_allclose(logits, (h @ out["kernel"] + out["bias"])[:, 0], rtol=1e-5,
                             atol=1e-6)
  assert params["Maxout_0"]["Dense_0"]["kernel"].shape == (2, 20)


def test_batch_norm_mlp_generator_has_no_hidden_biases_and_samples_with_running_averages():
  g = models.mlp_generator(2, hidden=(400, 400), batch_norm=True, init_std=0.02)
  z = _normal((8, 3))
  params, collections = g.init(jax.random.key(0), z)
  hidden = [params[f"Dense_{i}"] for i in range(2)]
  assert all(set(layer) == {"kernel"} for layer in hidden)  # batch norm's shift is the bias
  assert set(params["Dense_2"]) == {"kernel", "bias"}  # the output keeps its bias
  np.testing.assert_allclose(np.std(hidden[1]["kernel"]), 0.02, rtol=0.02)  # N(0, 0.02^2)
  # Sampling (train=False) uses the running averages: a sample does not depend on the
  # rest of its batch; training (train=True) normalises with the batch's statistics.
  eval_all, _ = g.apply(params, collections, z, train=False, rng=jax.random.key(1))
  eval_head, _ = g.apply(params, collections, z[:3], train=False, rng=jax.random.key(1))
  np.testing.assert_allclose(eval_all[:3], eval_head, rtol=1e-5, atol=1e-6)
  train_all, new = g.apply(params, collections, z, train=True, rng=jax.random.key(1))
  train_head, _ = g.apply(params, collections, z[:3], train=True, rng=jax.random.key(1))
  assert not np.allclose(train_all[:3], train_head)
  assert not np.allclose(new["batch_stats"]["BatchNorm_0"]["mean"],
                         collections["batch_stats"]["BatchNorm_0"]["mean"])


def test_mlp_orthogonal_gain_starts_every_weight_matrix_orthogonal_times_the_gain():
  gain = 1.4
  g = models.mlp_generator(2, hidden=(16, 16), activation="tanh", orthogonal_gain=gain)
  d = models.mlp_discriminator(hidden=(16, 16), activation="tanh", orthogonal_gain=gain)
  g_params, _ = g.init(KEY, jnp.zeros((4, 32)))
  d_params, _ = d.init(KEY, jnp.zeros((4, 2)))
  for params in (g_params, d_params):
    for layer in params.values():
      kernel = np.asarray(layer["kernel"], np.float64)
      small = min(kernel.shape)  # The shorter side's vectors are orthonormal, times gain.
      gram = kernel.T @ kernel if kernel.shape[0] >= kernel.shape[1] else kernel @ kernel.T
      np.testing.assert_allclose(gram, gain ** 2 * np.eye(small), atol=1e-5)
      assert not np.any(layer.get("bias", 0))


@pytest.mark.parametrize("epsilon", [1e-5, 1e-4])
def test_batch_norm_mlp_generator_adds_its_epsilon_to_the_batch_variance(epsilon):
  # One hidden unit, latents +-a: the unit's pre-activations are +-h with batch variance
  # h^2, batch norm makes them +-h / sqrt(h^2 + epsilon), ReLU keeps one, the output
  # layer scales it by its weight w: the two samples differ by |w| h / sqrt(h^2 + eps).
  g = models.mlp_generator(1, hidden=(1,), batch_norm=True, batch_norm_epsilon=epsilon)
  params, collections = g.init(KEY, jnp.zeros((2, 1)))
  w1 = float(params["Dense_0"]["kernel"][0, 0])
  w2 = float(params["Dense_1"]["kernel"][0, 0])
  h = 1e-2  # h^2 = 1e-4: the two epsilons give visibly different scales.
  z = jnp.array([[h / w1], [-h / w1]])
  x, _ = g.apply(params, collections, z, train=True, rng=KEY)
  np.testing.assert_allclose(abs(float(x[0, 0] - x[1, 0])),
                             abs(w2) * h / np.sqrt(h ** 2 + epsilon), rtol=1e-4)


@pytest.mark.parametrize("make, shape", [
    (lambda: models.mlp_generator(2, (8,), batch_norm=True), (2, 4)),
    (lambda: models.dcgan_generator((28, 28, 1), 4), (2, 8)),
    (lambda: models.dcgan_discriminator((28, 28, 1), 4), (2, 28, 28, 1)),
    (lambda: models.resnet_generator((16, 16, 1), features=8), (2, 8)),
    (lambda: models.metz_generator(), (2, 8)),
    (lambda: models.metz_discriminator(), (2, 28, 28, 3)),
    (lambda: models.tf_dcgan_generator(base_features=4), (2, 8)),
    (lambda: models.tf_dcgan_discriminator(base_features=4), (2, 28, 28, 3)),
])
def test_every_model_normalises_batches_with_the_one_batch_norm_layer(make, shape, monkeypatch):
  """layers.BatchNorm, whose sums are matrix products, in every network (not nn.BatchNorm)."""
  def refuse(self, *args, **kwargs):
    raise AssertionError(f"{type(self).__name__} is not gan_jax's layers.BatchNorm")

  monkeypatch.setattr(nn.BatchNorm, "__call__", refuse)
  _, collections = jax.eval_shape(make().init, KEY, jnp.zeros(shape))
  assert jax.tree.leaves(collections["batch_stats"])


@pytest.mark.parametrize("side,k", [(7, 3), (14, 3), (28, 3), (4, 5), (7, 5), (28, 5)])
def test_transposed_convolution_to_a_size_places_each_tap_as_tensorflow_does(side, k):
  """TensorFlow's conv2d_transpose to `side`: the 'SAME' stride-2 k x k convolution from
  `side` reads input pixel 2 * o + t - low for output o and tap t (low the top half of
  its total padding (ceil(side / 2) - 1) * 2 + k - side), so its transpose adds
  x[o] * K[t] at 2 * o + t - low."""
  layer = adjoint.ConvTransposeTo(features=2, side=side, kernel_size=k)
  x = np.asarray(_normal((1, -(-side // 2), -(-side // 2), 3)))
  params = layer.init(KEY, x)
  params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias too
  got = np.asarray(layer.apply(params, x))
  kernel = np.asarray(params["params"]["kernel"])  # [k, k, out, in]
  low = ((-(-side // 2) - 1) * 2 + k - side) // 2
  want = np.zeros((side + 2 * k, side + 2 * k, 2))
  for i in range(x.shape[1]):
    for j in range(x.shape[2]):
      for ti in range(k):
        for tj in range(k):
          want[2 * i + ti - low + k, 2 * j + tj - low + k] += kernel[ti, tj] @ x[0, i, j]
  want = want[k:side + k, k:side + k] + np.asarray(params["params"]["bias"])
  np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)


def test_tf_dcgan_networks_pass_through_the_reference_sides_and_layers():
  """28x28 through 2, 4, 7, 14 as the reference's conv_out_size_same; every layer biased;
  batch norm on the generator's four hidden layers and all but the first conv of D."""
  assert tf_dcgan.sides(28) == (28, 14, 7, 4, 2)
  assert tf_dcgan.sides(64) == (64, 32, 16, 8, 4)
  g = models.tf_dcgan_generator()
  params, collections = jax.eval_shape(g.init, KEY, jnp.zeros((2, 100)))  # Shapes suffice.
  p = params
  assert p["Dense_0"]["kernel"].shape == (100, 2 * 2 * 512)
  assert [p[f"ConvTransposeTo_{i}"]["kernel"].shape for i in range(4)] == [
      (5, 5, 256, 512), (5, 5, 128, 256), (5, 5, 64, 128), (5, 5, 3, 64)]
  assert all("bias" in layer for layer in p.values() if "kernel" in layer)
  assert len(collections["batch_stats"]) == 4
  d = models.tf_dcgan_discriminator()
  params, collections = jax.eval_shape(d.init, KEY, jnp.zeros((2, 28, 28, 3)))
  p = params
  assert [p[f"Conv_{i}"]["kernel"].shape for i in range(4)] == [
      (5, 5, 3, 64), (5, 5, 64, 128), (5, 5, 128, 256), (5, 5, 256, 512)]
  assert all("bias" in layer for layer in p.values() if "kernel" in layer)
  assert len(collections["batch_stats"]) == 3
  with pytest.raises(ValueError, match="square"):
    models.tf_dcgan_generator((28, 32, 3))


@pytest.mark.parametrize("side", [4, 7, 14])
def test_tf_dcgan_convolution_is_flax_conv_by_taps_or_not(side):
  """The discriminator's layer: nn.Conv(5x5, stride 2, 'SAME')'s parameters and map,
  through taps on CPU for 4 and 7 pixels and XLA's convolution for 14."""
  x = _normal((2, side, side, 3))
  reference = nn.Conv(4, (5, 5), strides=(2, 2), padding="SAME")
  params = reference.init(KEY, x)
  layer = tf_dcgan.Conv(4)
  assert jax.tree.map(jnp.shape, layer.init(KEY, x)) == jax.tree.map(jnp.shape, params)
  np.testing.assert_allclose(jax.jit(layer.apply)(params, x), reference.apply(params, x),
                             rtol=1e-5, atol=1e-5)


def test_metz_networks_refuse_other_image_sizes():
  with pytest.raises(ValueError, match="28x28"):
    models.metz_generator((32, 32, 3))
  with pytest.raises(ValueError, match="unknown size"):
    models.metz_discriminator(size="tiny")
