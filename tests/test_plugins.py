"""A user's own game, penalty, networks, dataset and optimizer, named by import path."""

import json
from pathlib import Path
import re
import sys
import textwrap

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from experiments import run  # pylint: disable=g-import-not-at-top,wrong-import-position

TINY = ["--config=configs/ring.py:runlocal", "--config.model.g.hidden=(16,16)",
        "--config.model.d.hidden=(16,16)", "--config.data.batch_size=16",
        "--config.eval.num_samples=200", "--config.tensorboard=False"]

# The rest of a lab: every other kind of plug-in, each forwarding to gan_jax pieces.
LAB_NETS = '''
import jax.numpy as jnp
import optax
from gan_jax import data, models, penalties
from my_lab import games

def hinge_again():
  return games.shifted_hinge(margin=1.0)

def not_a_game():
  return 3

def generator(output_dim, **kwargs):
  return models.mlp_generator(output_dim, **kwargs)

def discriminator(**kwargs):
  return models.mlp_discriminator(**kwargs)

def wrong_network(output_dim, **kwargs):
  return "a string"

def three_modes(num_modes, radius, std):
  return data.ring(3, radius, std)

def r1_again(critic_fn, real, fake, key):
  return penalties.r1_penalty(critic_fn, real, fake, key)

def nesterov(learning_rate):
  return optax.sgd(learning_rate, momentum=0.9, nesterov=True)
'''


def _readme_snippet(name):
  text = (ROOT / "README.md").read_text()
  match = re.search(rf"<!-- snippet: {name} .*?-->\s*```python\n(.*?)```", text, re.S)
  assert match, f"README.md has no snippet {name!r}"
  return match.group(1)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
  """A package outside the repository, on sys.path: the README's games.py and more."""
  folder = tmp_path_factory.mktemp("lab")
  package = folder / "my_lab"
  package.mkdir()
  (package / "__init__.py").write_text("")
  (package / "games.py").write_text(_readme_snippet("extending"))
  (package / "nets.py").write_text(textwrap.dedent(LAB_NETS))
  sys.path.insert(0, str(folder))
  yield folder
  sys.path.remove(str(folder))
  for module in [m for m in sys.modules if m.split(".")[0] == "my_lab"]:
    del sys.modules[module]


def _losses(workdir):
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return np.array([(r["d_loss"], r["g_loss"]) for r in records if "d_loss" in r])


# The two runs are different programs: SGD with momentum keeps their rounding
# differences at rounding size (Adam's first steps, ~lr * sign(g), would not).
LINEAR_UPDATES = ["--config.g_optimizer.name=sgd", "--config.d_optimizer.name=sgd",
                  "--config.g_optimizer.lr=0.01", "--config.d_optimizer.lr=0.01",
                  "--config.g_optimizer.momentum=0.9", "--config.d_optimizer.momentum=0.9"]


def test_a_game_by_import_path_trains_as_the_built_in_it_equals(lab, tmp_path):
  # The README's shifted hinge at margin 1 is the hinge game: the same run, step by step.
  assert run.main(["run", *TINY, *LINEAR_UPDATES, f"--workdir={tmp_path / 'mine'}",
                   "--config.game=my_lab.nets:hinge_again"]) == 0
  assert run.main(["run", *TINY, *LINEAR_UPDATES, f"--workdir={tmp_path / 'builtin'}",
                   "--config.game=hinge"]) == 0
  mine, builtin = _losses(tmp_path / "mine"), _losses(tmp_path / "builtin")
  assert mine.shape == builtin.shape == (2, 2)
  np.testing.assert_allclose(mine, builtin, rtol=1e-5)
  config = json.loads((tmp_path / "mine" / "config.json").read_text())
  assert config["game"] == "my_lab.nets:hinge_again"  # Resume, sample, evaluate re-import it.


def test_every_kind_of_plug_in_in_one_run(lab, tmp_path):
  workdir = tmp_path / "all"
  assert run.main(["run", *TINY, f"--workdir={workdir}", "--config.game=my_lab.games:shifted_hinge",
                   "--config.penalty=my_lab.nets:r1_again", "--config.penalty_weight=1.0",
                   "--config.model.generator=my_lab.nets:generator",
                   "--config.model.discriminator=my_lab.nets:discriminator",
                   "--config.data.name=my_lab.nets:three_modes",
                   "--config.g_optimizer.name=my_lab.nets:nesterov",
                   "--config.d_optimizer.name=my_lab.nets:nesterov"]) == 0
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  covered = [r["modes_covered"] for r in records if "modes_covered" in r]
  assert covered and all(0 <= c <= 3 for c in covered)  # The plug-in's three modes, counted.
  assert all(r["penalty"] > 0 for r in records if "penalty" in r)


@pytest.mark.parametrize("field,path,message", [
    ("game", "my_lab_missing.games:shifted_hinge", "cannot import 'my_lab_missing.games'"),
    ("game", "my_lab.games:no_such_game", "module 'my_lab.games' has no 'no_such_game'"),
    ("game", "my_lab.nets:not_a_game", "returned int; it must return a gan_jax.Game"),
    ("game", "my_lab.games:", "an import path is module:attribute"),
    ("model.generator", "my_lab.nets:wrong_network", "returned str; it must return a gan_jax.Network"),
    ("data.name", "my_lab.nets:missing", "module 'my_lab.nets' has no 'missing'"),
    ("g_optimizer.name", "my_lab.nets:generator",
     "returned Network; it must return an optax.GradientTransformation"),
    ("penalty", "my_lab.nets:no_penalty", "module 'my_lab.nets' has no 'no_penalty'"),
])
def test_a_bad_import_path_is_one_line_and_exit_2(lab, tmp_path, capsys, field, path, message):
  workdir = tmp_path / "w"
  weight = ["--config.penalty_weight=1"] if field == "penalty" else []
  assert run.main(["run", *TINY, f"--workdir={workdir}", f"--config.{field}={path}", *weight]) == 2
  err = capsys.readouterr().err.strip()
  assert err.splitlines() == [err] and message in err, err
  assert not workdir.exists()


def test_a_built_in_game_is_its_function_and_one_registration_line(tmp_path, capsys, monkeypatch):
  """The README's built-in: the function, run in gan_jax.games' namespace, and its one
  registry line; nothing in experiments/ or configs/ changes."""
  import jax  # pylint: disable=g-import-not-at-top
  from gan_jax import games  # pylint: disable=g-import-not-at-top

  snippet = _readme_snippet("builtin-game")
  function, registry = snippet.split("GAMES = {")
  namespace = dict(vars(games), jax=jax)
  exec(function, namespace)  # pylint: disable=exec-used
  (name, attribute), = re.findall(r'^\s+"(\w+)": (\w+),$', registry, re.M)
  monkeypatch.setitem(games.GAMES, name, namespace[attribute])
  # At margin 1 it is the hinge game: the same run, step by step.
  monkeypatch.setitem(games.GAMES, "hinge_by_registry", lambda: namespace[attribute](margin=1.0))
  assert run.main(["run", *TINY, *LINEAR_UPDATES, f"--workdir={tmp_path / 'registered'}",
                   "--config.game=hinge_by_registry"]) == 0
  assert run.main(["run", *TINY, *LINEAR_UPDATES, f"--workdir={tmp_path / 'builtin'}",
                   "--config.game=hinge"]) == 0
  np.testing.assert_allclose(_losses(tmp_path / "registered"), _losses(tmp_path / "builtin"),
                             rtol=1e-5)
  assert run.main(["run", *TINY, f"--workdir={tmp_path / 'shifted'}", f"--config.game={name}"]) == 0
  capsys.readouterr()
  assert run.main(["run", *TINY, f"--workdir={tmp_path / 'w'}", "--config.game=nope"]) == 2
  assert name in capsys.readouterr().err


@pytest.mark.parametrize("registry", ["penalty", "network", "toy", "optimizer"])
def test_every_registry_is_read_by_the_runner(registry, tmp_path, monkeypatch):
  """One registration line in the library makes a name the runner takes."""
  from gan_jax import data, models, penalties, transforms  # pylint: disable=g-import-not-at-top

  if registry == "penalty":
    monkeypatch.setitem(penalties.PENALTIES, "r1_too", penalties.r1_penalty)
    flags = ["--config.penalty=r1_too", "--config.penalty_weight=1.0"]
  elif registry == "network":
    monkeypatch.setitem(models.GENERATORS, "mlp_too", models.GENERATORS["mlp"])
    monkeypatch.setitem(models.DISCRIMINATORS, "mlp_too", models.DISCRIMINATORS["mlp"])
    flags = ["--config.model.generator=mlp_too", "--config.model.discriminator=mlp_too"]
  elif registry == "toy":
    monkeypatch.setitem(data.TOY_DATASETS, "ring_too", data.ring)
    flags = ["--config.data.name=ring_too"]
  else:
    monkeypatch.setitem(transforms.OPTIMIZERS, "sgd_too", transforms.OPTIMIZERS["sgd"])
    flags = ["--config.g_optimizer.name=sgd_too", "--config.d_optimizer.name=sgd_too"]
  workdir = tmp_path / registry
  assert run.main(["run", *TINY, f"--workdir={workdir}", *flags]) == 0
  assert _losses(workdir).shape == (2, 2)
