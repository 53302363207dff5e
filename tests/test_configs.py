"""Every config in configs/ builds: its networks fit its data and its step traces.

Image configs are built on small local .npz files of the right image shapes and
on tiny MNIST-format IDX files (no dataset is downloaded here); toy configs also
take one real train step.
"""

import gzip
import importlib
import inspect
from pathlib import Path
import re
import shlex
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `experiments` and `configs` live at the repository root.

from experiments import builders  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import datasets  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import optimizers  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import populations  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import resources  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import sweeps  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import transforms  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import data as gdata  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments.errors import UserError  # pylint: disable=g-import-not-at-top,wrong-import-position

CONFIG_NAMES = sorted(p.stem for p in (ROOT / "configs").glob("*.py")
                      if p.stem not in ("__init__", "common"))
IMAGE_SHAPES = {"28": (28, 28, 1), "32": (32, 32, 3), "64": (64, 64, 3)}


def _load(name):
  return importlib.import_module(f"configs.{name}")


@pytest.fixture(scope="module")
def npz_images(tmp_path_factory):
  """Paths of tiny uint8 image archives, by side: {"28": ..., "32": ..., "64": ...}."""
  folder = tmp_path_factory.mktemp("images")
  rng = np.random.default_rng(0)
  paths = {}
  for side, shape in IMAGE_SHAPES.items():
    paths[side] = folder / f"images{side}.npz"
    np.savez(paths[side], x=rng.integers(0, 256, (100, *shape), dtype=np.uint8))
  # MNIST-format digits for Stacked MNIST: train and test splits of 30 each.
  digits = folder / "digits"
  digits.mkdir()
  for prefix in ("train", "t10k"):
    images = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.arange(30, dtype=np.uint8) % 10
    for kind, array, code in (("images", images, 3), ("labels", labels, 1)):
      header = bytes([0, 0, 8, array.ndim]) + b"".join(
          int(d).to_bytes(4, "big") for d in array.shape)
      with gzip.open(digits / f"{prefix}-{kind}-idx{code}-ubyte.gz", "wb") as f:
        f.write(header + array.tobytes())
  paths["idx"] = digits
  return paths


def _shrink(config):
  """Small batches, one step per call: the shapes of the state stay the config's."""
  config.data.batch_size = 4 * config.model.pack
  config.steps_per_call = 1
  config.eval.num_samples = 16
  config.eval.num_pictures = 4
  return config


# (config, argument; "{s28}"/"{s32}"/"{s64}" stand for .npz files of that image side).
CASES = [
    ("gaussian_1d", None),
    ("gaussian_1d", "minibatch=false"),
    ("ring", None),
    ("ring", "pac=2"),
    ("grid", None),
    ("unrolled", None),
    ("unrolled", "unroll=0"),
    ("goodfellow_mnist", "dataset=npz:{s28}"),
    ("goodfellow_mnist", "game=minimax,k=5,dataset=npz:{s28}"),
    ("dcgan", "dataset=npz:{s28}"),
    ("dcgan", "dataset=npz:{s32}"),
    ("dcgan", "dataset=npz:{s64}"),
    ("wgan", "dataset=npz:{s64}"),
    ("wgan_gp", "dataset=npz:{s32}"),
    ("wgan_gp", "dataset=swiss_roll"),
    ("wgan_gp", "dataset=ring"),
    ("lsgan", "dataset=npz:{s64}"),
    ("lsgan", "dataset=ring"),
    ("hinge_sn", "dataset=npz:{s32}"),
    ("hinge_sn", "arch=cnn,dataset=npz:{s28}"),
    ("stacked_mnist", "dataset=stacked_mnist:{sidx}"),
    ("stacked_mnist", "dataset=stacked_mnist:{sidx},pac=2"),
    ("stacked_mnist", "dataset=stacked_mnist:{sidx},setting=metz"),
    ("stacked_mnist", "dataset=stacked_mnist:{sidx},setting=metz,d_size=half,pac=2"),
    ("r3gan", "dataset=ring"),
    ("r3gan", "dataset=grid"),
    ("r3gan", "dataset=gaussian_1d"),
    ("r3gan", "dataset=stacked_mnist:{sidx}"),
]


STEP_CASES = {("gaussian_1d", None), ("ring", "pac=2"), ("unrolled", None),
              ("wgan_gp", "dataset=swiss_roll"), ("r3gan", "dataset=ring")}


def test_every_config_has_cases():
  assert CONFIG_NAMES, "no configs found"
  assert set(CONFIG_NAMES) == {name for name, _ in CASES}


@pytest.mark.parametrize("name,arg", CASES, ids=[f"{n}:{a}" for n, a in CASES])
def test_config_builds(name, arg, npz_images):
  config = _shrink(_load(name).get_config(
      arg and arg.format(**{f"s{side}": path for side, path in npz_images.items()})))
  assert isinstance(config, ml_collections.ConfigDict)
  experiment = builders.build(config)  # Traces the jitted train step.
  state = experiment.abstract_state
  assert state.step.shape == ()
  if name == "stacked_mnist" or "stacked_mnist" in (arg or ""):  # 1,000 modes: three digits as the colour channels.
    assert experiment.data.spec.shape == (28, 28, 3)
    assert experiment.data.source.num_examples == datasets.STACKED_MNIST_SIZE["train"]
  if (name, arg) in STEP_CASES:
    # One real step where it is cheap and covers a distinct step: minibatch
    # discrimination, packing, unrolling, a gradient penalty. (test_run.py trains
    # goodfellow_mnist on real data.)
    state = experiment.init_state()
    state, metrics = experiment.train(state, experiment.batches(0, config.steps_per_call),
                                      experiment.train_key)
    assert int(state.step) == config.steps_per_call
    assert all(np.isfinite(float(v)) for v in jax.device_get(metrics).values())


def _sections(doc: str) -> dict[str, list[str]]:
  """A docstring's sections: a line "Name:" at the margin, then its indented lines."""
  sections, name = {}, None
  for line in doc.splitlines():
    if re.fullmatch(r"[A-Z][\w ]*:", line):
      name = line[:-1]
      sections[name] = []
    elif name and line.startswith("  ") and line.strip():
      sections[name].append(line.strip())
    elif line and not line.startswith(" "):
      name = None
  return sections


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_documented_commands_are_valid_runner_command_lines_and_cite_their_papers(name):
  """Each `python -m experiments.run ...` line of the docstring parses as the runner's
  own command line and its config passes the runner's checks; the References
  section cites at least one dated work."""
  from experiments import command  # pylint: disable=g-import-not-at-top

  module = _load(name)
  text = re.sub(r"\\\n\s*", " ", module.__doc__)  # Join continued lines.
  lines = [line.split("python -m experiments.run", 1)[1] for line in text.splitlines()
           if "python -m experiments.run" in line]
  assert lines, name
  for line in lines:
    parsed = command.parse_command(["experiments.run", *shlex.split(line)])
    assert parsed.config_path.startswith(f"configs/{name}.py"), line
    builders.check(parsed.config)
  references = _sections(module.__doc__).get("References", [])
  assert any(re.search(r"\b(19|20)\d\d\b", entry) for entry in references), name


@pytest.mark.parametrize("name,arg", [
    ("gaussian_1d", "runlocal"), ("ring", "runlocal"), ("grid", "runlocal"),
    ("unrolled", "runlocal"), ("wgan_gp", "dataset=swiss_roll,runlocal"),
    ("lsgan", "dataset=ring,runlocal"), ("dcgan", "dataset=npz:{s32},runlocal"),
    ("wgan", "dataset=npz:{s64},runlocal"), ("hinge_sn", "dataset=npz:{s32},runlocal"),
    ("goodfellow_mnist", "dataset=npz:{s28},runlocal"),
])
def test_runlocal_shrinks_and_builds(name, arg, npz_images):
  arg = arg.format(**{f"s{side}": path for side, path in npz_images.items()})
  config = _load(name).get_config(arg)
  assert config.num_steps <= 20 and config.data.batch_size <= 16
  builders.build(config)


@pytest.mark.parametrize("name", [n for n in CONFIG_NAMES if hasattr(_load(n), "get_sweep")])
def test_sweep_members_are_valid_overrides(name):
  module = _load(name)
  config = module.get_config("dataset=ring" if name in ("wgan_gp", "lsgan") else None)
  members = module.get_sweep()
  assert len(members) >= 2
  names = [sweeps.member_name(m) for m in members]
  assert len(set(names)) == len(names), names  # One workdir per member.
  for member in members:
    overridden = sweeps.apply_override(config, member)
    for field, value in member.items():
      node = overridden
      for part in field.split("."):
        node = node[part]
      assert node == value
    builders.check(overridden)  # Every member runs: no UserError (exit 2).


@pytest.mark.parametrize("name, arg, packs", [
    ("ring", "", 100), ("grid", "", 100),
    ("stacked_mnist", "dataset=stacked_mnist,", 64),
    ("stacked_mnist", "dataset=stacked_mnist,setting=metz,", 128),
])
@pytest.mark.parametrize("pac", [1, 2, 3, 4])
def test_packing_keeps_the_papers_number_of_discriminator_inputs(name, arg, packs, pac):
  # PacGAN's code feeds its discriminator a batch of `packs` packs of `pac` samples each.
  config = _load(name).get_config(f"{arg}pac={pac}")
  assert config.model.pack == config.model.generator_passes == pac
  assert config.data.batch_size == packs * pac
  builders.check(config)


@pytest.mark.parametrize("name", ["ring", "grid"])
@pytest.mark.parametrize("pac", [1, 4])
def test_pacgan_configs_train_on_the_references_set_and_epsilon(name, pac):
  # PacGAN's code: 100,000 points drawn once in 100,000 fixed packs, batch-norm epsilon 1e-4.
  config = _load(name).get_config(f"pac={pac}")
  assert config.data.fixed_points == 100_000
  assert config.model.g.batch_norm_epsilon == 1e-4
  source = datasets.build_data(config, d_steps=1).source
  assert isinstance(source, gdata.FixedSyntheticDataset) and len(source.packs) == 100_000
  assert source.pack == pac


def test_pacgans_fixed_set_gives_each_seed_its_own_set_in_fixed_packs():
  """`data.fixed_points=N`: a member trains on N points of its own, drawn once, each
  pack of model.pack members fixed (PacGAN's `GaussianPackingMixture`)."""
  config = _load("ring").get_config("pac=2,runlocal")
  config.data.fixed_points, config.num_seeds = 1_000, 2
  (job,) = populations.plan(config)
  sources = [e.data.source for e in populations.build(job.members).member_experiments]
  assert all(isinstance(s, gdata.FixedSyntheticDataset) and s.pack == 2 for s in sources)
  assert len(sources[0].packs) == 1_000
  assert not np.array_equal(sources[0].packs, sources[1].packs)
  batch = sources[1].batch_at(3)
  assert batch.shape == (config.data.batch_size, 2)
  # A member's batches are those of its standalone run.
  member = job.members[1].config
  alone = datasets.build_data(member, d_steps=member.d_steps).source
  np.testing.assert_array_equal(batch, alone.batch_at(3))
  packs = {p.tobytes() for p in sources[1].packs}
  assert all(p.tobytes() in packs for p in batch.reshape(-1, 2, 2))


def test_data_checks_count_a_fixed_set_for_each_member_and_whole_packs(monkeypatch):
  config = _load("ring").get_config("pac=2,runlocal")
  config.data.fixed_points = 1_000_000  # About 0.1 GB a set of 2-D points in packs of 2.
  monkeypatch.setattr(resources, "host_bytes", lambda: 2**30)
  datasets.build_data(config, d_steps=1, members=1)
  with pytest.raises(UserError, match="lower --config.data.fixed_points"):
    datasets.build_data(config, d_steps=1, members=20)
  config.data.fixed_points, config.model.pack = 1_000, 5  # Batches of 12 in packs of 5.
  with pytest.raises(UserError, match="make it a multiple of 5"):
    datasets.build_data(config, d_steps=1)


def test_sweep_helpers():
  a = sweeps.axis("lr", [1, 2])
  b = sweeps.axis("seed", [0, 1, 2])
  assert sweeps.product(a, b) == [{"lr": x, "seed": s} for x in (1, 2) for s in (0, 1, 2)]
  assert sweeps.zip_(a, sweeps.axis("seed", [5, 6])) == [{"lr": 1, "seed": 5},
                                                          {"lr": 2, "seed": 6}]
  with pytest.raises(ValueError, match="one length"):
    sweeps.zip_(a, b)
  assert sweeps.member_name({"g_optimizer.lr": 1e-4, "game": "hinge"}) == (
      "g_optimizer.lr=0.0001,game=hinge")
  with pytest.raises(KeyError, match="does not have"):
    sweeps.apply_override(_load("ring").get_config(), {"model.nope": 1})


def test_config_argument_errors_are_one_clear_line():
  from configs import common  # pylint: disable=g-import-not-at-top

  with pytest.raises(ValueError, match="unknown config argument 'size'; this config takes"):
    common.parse_arg("size=3", dataset="mnist", runlocal=False)
  with pytest.raises(ValueError, match="expected a int"):
    common.parse_arg("k=two", k=1)
  assert common.parse_arg("runlocal,k=5", k=1, runlocal=False).to_dict() == {
      "k": 5, "runlocal": True}
  from configs import stacked_mnist  # pylint: disable=g-import-not-at-top

  with pytest.raises(ValueError, match="d_size=tiny: use one of quarter, half"):
    stacked_mnist.get_config("setting=metz,d_size=tiny")
  with pytest.raises(ValueError, match="add setting=metz"):
    stacked_mnist.get_config("d_size=half")


def test_stacked_mnist_veegan_setting_draws_from_both_splits_and_trains_on_0_1_images(npz_images):
  """PacGAN's VEEGAN-protocol code stacks digits of all 70,000 MNIST images and feeds
  its tanh generator's discriminator `X / 255`; two generator updates a step."""
  for arg in ("", ",setting=metz"):  # 26,000 samples at every evaluation, in training too
    raw = _load("stacked_mnist").get_config(f"dataset=stacked_mnist:{npz_images['idx']}{arg}")
    assert raw.eval.num_samples == 26_000
  config = _shrink(_load("stacked_mnist").get_config(f"dataset=stacked_mnist:{npz_images['idx']}"))
  assert (config.data.split, config.data.scale, config.g_steps) == ("train+test", "sigmoid", 2)
  assert (config.model.latent, config.model.latent_scale) == ("uniform", 1.0)
  splits = {split: gdata.load_idx(npz_images["idx"], split)[0][..., 0] for split in ("train", "test")}
  pooled, _ = datasets.stacked_mnist(config, "train+test", num=300)
  channels = pooled.transpose(0, 3, 1, 2).reshape(-1, 28 * 28)
  sources = {split: {d.tobytes() for d in digits.reshape(-1, 28 * 28)}
             for split, digits in splits.items()}
  drawn = [{split for split, seen in sources.items() if c.tobytes() in seen} for c in channels]
  assert all(len(found) == 1 for found in drawn)  # every channel is one digit of one split
  assert {"train"} in drawn and {"test"} in drawn
  experiment = builders.build(config)
  assert experiment.scale == "sigmoid"
  batch = np.asarray(experiment.batches(0, 1))
  assert batch.min() >= 0.0 and batch.max() <= 1.0 and batch.max() > 0.5


def test_a_data_scale_is_one_of_the_two_ranges_and_only_for_images(npz_images):
  config = _shrink(_load("dcgan").get_config(f"dataset=npz:{npz_images['28']}"))
  config.data.scale = "unit"
  with pytest.raises(UserError, match="data.scale='unit': use one of 'sigmoid', 'tanh'"):
    builders.build(config)
  config = _load("ring").get_config()
  config.data.scale = "sigmoid"
  with pytest.raises(UserError, match="ring is a toy of points"):
    builders.build(config)


def test_goodfellow_mnist_starts_at_the_data_marginals_and_ramps_its_momentum(npz_images):
  config = _shrink(_load("goodfellow_mnist").get_config(f"dataset=npz:{npz_images['28']}"))
  config.model.g.output_bias = "marginals"  # The authors' initialisation (not the default).
  experiment = builders.build(config)
  images = experiment.data.source.images.reshape(len(experiment.data.source.images), -1) / 255.0
  mean = np.clip(images.mean(axis=0), 1e-7, 1 - 1e-7)
  state = experiment.init_state()
  bias = state.g_params["Dense_2"]["bias"]
  np.testing.assert_allclose(bias, np.log(mean / (1 - mean)), rtol=1e-5, atol=1e-5)
  # SGD momentum 0.5 -> 0.7, linearly over momentum_ramp_steps updates.
  config.d_optimizer.momentum_ramp_steps = 4
  optimizer = optimizers.build_optimizer(config, "d_optimizer")
  params = {"w": np.ones(3, np.float32)}
  opt_state = optimizer.init(params)
  momenta = []
  for _ in range(6):
    _, opt_state = optimizer.update({"w": np.ones(3, np.float32)}, opt_state, params)
    momenta.append(float(opt_state.hyperparams["momentum"]))
  np.testing.assert_allclose(momenta, [0.5, 0.55, 0.6, 0.65, 0.7, 0.7], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(transforms.OPTIMIZERS))
def test_every_registered_update_rule_gets_the_config_hyperparameters_it_names(name):
  config = _load("dcgan").get_config()
  c = config.d_optimizer
  c.name, c.lr, c.b1, c.b2, c.eps, c.decay, c.momentum = name, 0.1, 0.3, 0.7, 0.2, 0.6, 0.4
  c.initial_scale, c.eps_in_sqrt = 0.5, False
  factory = transforms.OPTIMIZERS[name]
  taken = inspect.signature(factory).parameters
  expected = factory(0.1, **{k: c[k] for k in transforms.HYPERPARAMETERS + transforms.FORMS
                             if k in taken})
  params, grads = {"w": jnp.arange(3.0)}, {"w": jnp.array([1.0, -2.0, 0.5])}
  built = optimizers.build_optimizer(config, "d_optimizer")
  got_state, want_state = built.init(params), expected.init(params)
  for _ in range(3):
    got, got_state = built.update(grads, got_state, params)
    want, want_state = expected.update(grads, want_state, params)
    np.testing.assert_allclose(got["w"], want["w"], rtol=1e-6)
  assert taken.keys() & set(transforms.HYPERPARAMETERS), name


def test_rmsprop_takes_pytorchs_form_and_tf1s():
  """eps_in_sqrt=False is torch.optim.RMSprop; initial_scale=1 with eps inside the root
  is TF1's RMSPropOptimizer (its squared-gradient average starts at ones)."""
  torch = pytest.importorskip("torch")
  config = _load("wgan").get_config()
  c = config.d_optimizer
  c.clip, c.lr, c.decay, c.eps = 0.0, 0.1, 0.6, 0.05
  w0, grads = np.array([0.3, -1.0, 2.0], np.float32), [[1.0, -2.0, 0.01], [0.5, 0.5, -3.0]]
  c.eps_in_sqrt, c.initial_scale = False, 0.0
  ours, theirs = _run_optimizer(optimizers.build_optimizer(config, "d_optimizer"), w0, grads), []
  w = torch.tensor(w0, requires_grad=True)
  opt = torch.optim.RMSprop([w], lr=0.1, alpha=0.6, eps=0.05)
  for g in grads:
    w.grad = torch.tensor(g)
    opt.step()
    theirs.append(w.detach().numpy().copy())
  np.testing.assert_allclose(ours, theirs, rtol=1e-5)
  c.eps_in_sqrt, c.initial_scale = True, 1.0
  ours = _run_optimizer(optimizers.build_optimizer(config, "d_optimizer"), w0, grads)
  avg, w, want = np.ones(3), w0.astype(np.float64), []
  for g in np.array(grads):
    avg = 0.6 * avg + 0.4 * g**2
    w = w - 0.1 * g / np.sqrt(avg + 0.05)
    want.append(w)
  np.testing.assert_allclose(ours, want, rtol=1e-5)


def _run_optimizer(optimizer, w0, grads):
  params = {"w": jnp.asarray(w0)}
  state, path = optimizer.init(params), []
  for g in grads:
    updates, state = optimizer.update({"w": jnp.asarray(g, jnp.float32)}, state, params)
    params = optax.apply_updates(params, updates)
    path.append(np.asarray(params["w"]))
  return path


def test_computation_dtype_is_not_part_of_the_architecture():
  saved = {"model": {"g": {"base_features": 64}}}  # written before the dtype field
  assert builders.architecture_differences(
      saved, {"model": {"g": {"base_features": 64, "dtype": "bfloat16"}}}) == []
  assert builders.architecture_differences(
      saved, {"model": {"g": {"base_features": 32, "dtype": "float32"}}}) == [
          "model.g: {'base_features': 64} -> {'base_features': 32}"]


def test_r3gan_schedules_run_along_half_a_cosine_over_the_run():
  """lr -> 5e-5 (from 1e-3 on the ring), beta2 0.9 -> 0.99 and gamma / 2 halved (R3GAN: 10x
  down, as the image data's)."""
  config = _load("r3gan").get_config("dataset=ring,steps=1000")
  assert config.game == "relativistic_pairing" and config.penalty == "r1_r2"
  for field in ("g_optimizer", "d_optimizer"):
    c = config[field]
    assert (c.b1, c.lr, c.lr_final, c.b2, c.b2_final) == (0.0, 1e-3, 5e-5, 0.9, 0.99)
  optimizer = optimizers.build_optimizer(config, "d_optimizer")
  params = {"w": jnp.zeros(3)}
  state = optimizer.init(params)
  for _ in range(501):  # Update 501 uses the values at count 500, half way: the mean.
    _, state = optimizer.update({"w": jnp.ones(3)}, state, params)
  hyperparams = state.hyperparams
  np.testing.assert_allclose(hyperparams["learning_rate"], (1e-3 + 5e-5) / 2, rtol=1e-5)
  np.testing.assert_allclose(hyperparams["b2"], (0.9 + 0.99) / 2, rtol=1e-6)
  assert float(hyperparams["b1"]) == 0.0
  weight = builders.penalty_weight(config)
  np.testing.assert_allclose([weight(0), weight(500), weight(1000), weight(5000)],
                             [0.05, 0.0375, 0.025, 0.025], rtol=1e-6)
  # Images: 10x down, from CIFAR-10's gamma 0.05 (idx) or 1000x that (Stacked MNIST).
  for dataset, start in (("idx", 0.025), ("stacked_mnist", 25.0)):
    image = _load("r3gan").get_config(f"dataset={dataset}:/tmp/x,steps=1000")
    np.testing.assert_allclose([builders.penalty_weight(image)(s) for s in (0, 500, 1000)],
                               [start, start * 0.55, start / 10], rtol=1e-6)
