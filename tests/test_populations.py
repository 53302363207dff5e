"""Populations in the runner: N runs that differ in traced values train as one program.

Each member logs what its standalone run logs; the population's metrics.jsonl holds
the members' mean and spread; sweeps group members by everything but traced values.
(Populations over 4 devices and over two processes: tests/test_parallel.py.)
"""

import json
import os
from pathlib import Path
import sys

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `experiments` and `configs` live at the repository root.

from configs import dcgan  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import ring  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import evaluate  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import populations  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import run  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import sample  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import sweeps  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments.builders import UserError  # pylint: disable=g-import-not-at-top,wrong-import-position

pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")

TINY = [
    "--config=configs/ring.py:runlocal",
    "--config.model.g.hidden=(16,16)",
    "--config.model.d.hidden=(16,16)",
    "--config.data.batch_size=16",
    "--config.eval.num_samples=200",
    "--config.tensorboard=False",
    # Members are compared with standalone runs, a different program: SGD with momentum
    # keeps rounding differences at rounding size where Adam's ~lr*sign(g) first steps
    # would turn them into +-lr for parameters whose exact gradient is zero.
    "--config.g_optimizer.name=sgd", "--config.d_optimizer.name=sgd",
    "--config.g_optimizer.lr=0.01", "--config.d_optimizer.lr=0.01",
    "--config.g_optimizer.momentum=0.9", "--config.d_optimizer.momentum=0.9",
]


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
  monkeypatch.chdir(ROOT)


def _records(path: Path) -> list[dict]:
  return [json.loads(line) for line in path.read_text().splitlines()]


# --- Planning -----------------------------------------------------------------


def test_plan_groups_members_that_differ_only_in_traced_values():
  config = ring.get_config("runlocal")
  overrides = sweeps.product(sweeps.axis("model.pack", [1, 2]),
                             sweeps.axis("d_optimizer.lr", [1e-4, 3e-4]))
  jobs = populations.plan(config, overrides)
  assert [j.name for j in jobs] == ["model.pack=1", "model.pack=2"]
  assert [m.name for m in jobs[0].members] == ["d_optimizer.lr=0.0001", "d_optimizer.lr=0.0003"]
  assert [m.config.d_optimizer.lr for m in jobs[1].members] == [1e-4, 3e-4]
  assert all(m.config.model.pack == 2 for m in jobs[1].members)


def test_plan_keeps_structural_differences_apart():
  config = ring.get_config("runlocal")
  # EMA on or off, and the game, change the program: separate runs.
  jobs = populations.plan(config, sweeps.axis("g_optimizer.ema", [0.0, 0.999])
                          + sweeps.axis("game", ["hinge"]))
  assert [len(j.members) for j in jobs] == [1, 1, 1]
  # Two EMA decays that are both on differ only in a value: one population.
  jobs = populations.plan(config, sweeps.axis("g_optimizer.ema", [0.99, 0.999]))
  assert len(jobs) == 1 and jobs[0].is_population and jobs[0].name == "population"


def test_num_seeds_makes_a_population_of_consecutive_seeds():
  config = ring.get_config("runlocal")
  config.seed, config.num_seeds = 5, 3
  (job,) = populations.plan(config)
  assert [m.name for m in job.members] == ["seed=5", "seed=6", "seed=7"]
  assert [m.config.seed for m in job.members] == [5, 6, 7]
  jobs = populations.plan(config, sweeps.axis("game", ["hinge", "least_squares"]))
  assert [(j.name, len(j.members)) for j in jobs] == [("game=hinge", 3), ("game=least_squares", 3)]
  config.num_seeds = 0
  with pytest.raises(UserError, match="num_seeds=0"):
    populations.plan(config)


def test_a_population_of_convolutional_runs_builds():
  """DCGAN's adjoint convolutions are custom-VJP layers: the members' example batches
  reach them inside the population's traced init, and must be JAX arrays there."""
  mnist = ROOT.parent / "shared" / "data" / "mnist"
  config = dcgan.get_config(f"dataset=idx:{mnist},runlocal")
  config.num_seeds = 2
  (job,) = populations.plan(config)
  population = populations.build(job.members)
  assert population.abstract_state.step.shape == (2,)


def test_spread_reports_mean_std_min_max():
  out = populations.spread([{"a": 1.0}, {"a": 3.0}])
  assert out == {"a": 2.0, "a/std": 1.0, "a/min": 1.0, "a/max": 3.0}


# --- Training ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
  """A population of seeds 0 and 1, and the standalone run of seed 1."""
  root = tmp_path_factory.mktemp("population")
  old = os.getcwd()
  os.chdir(ROOT)
  try:
    assert run.main(["run", *TINY, f"--workdir={root / 'pop'}", "--config.num_seeds=2"]) == 0
    assert run.main(["run", *TINY, f"--workdir={root / 'seed1'}", "--config.seed=1"]) == 0
  finally:
    os.chdir(old)
  return root


def test_each_member_logs_its_standalone_run(seeds_run):
  member = _records(seeds_run / "pop" / "members" / "seed=1" / "metrics.jsonl")
  alone = _records(seeds_run / "seed1" / "metrics.jsonl")
  assert [r["step"] for r in member] == [r["step"] for r in alone] == [10, 20]
  for got, want in zip(member, alone):
    for name in ("d_loss", "g_loss", "d_grad_norm", "g_grad_norm"):
      np.testing.assert_allclose(got[name], want[name], rtol=1e-4, err_msg=name)
    assert got["modes_covered"] == want["modes_covered"]  # Its own evaluation key and data.


def test_population_log_holds_mean_and_spread_of_the_members(seeds_run):
  pop = seeds_run / "pop"
  combined = _records(pop / "metrics.jsonl")
  members = [_records(pop / "members" / name / "metrics.jsonl") for name in ("seed=0", "seed=1")]
  for step_index, record in enumerate(combined):
    values = np.asarray([m[step_index]["d_loss"] for m in members])
    np.testing.assert_allclose(record["d_loss"], values.mean(), rtol=1e-6)
    np.testing.assert_allclose(record["d_loss/std"], values.std(), rtol=1e-6)
    assert record["d_loss/min"] == values.min() and record["d_loss/max"] == values.max()
  assert values[0] != values[1]  # Different seeds really train differently.
  config = json.loads((pop / "config.json").read_text())
  assert [m["name"] for m in config["population"]] == ["seed=0", "seed=1"]
  for name in ("seed=0", "seed=1"):
    assert (pop / "members" / name / "samples" / "step_000020.png").exists()


def test_evaluate_and_sample_read_each_member(seeds_run, tmp_path, capsys):
  pop = seeds_run / "pop"
  assert evaluate.main(["evaluate", f"--workdir={pop}", "--num_samples=100"]) == 0
  record = _records(pop / "eval.jsonl")[-1]
  assert sorted(record["members"]) == ["seed=0", "seed=1"]
  covered = [record["members"][n]["modes_covered"] for n in ("seed=0", "seed=1")]
  assert record["modes_covered"] == pytest.approx(np.mean(covered))
  out = tmp_path / "s.npy"
  assert sample.main(["sample", f"--workdir={pop}", "--num=8", f"--out={out}",
                      "--member=seed=1"]) == 0
  alone = tmp_path / "alone.npy"
  assert sample.main(["sample", f"--workdir={seeds_run / 'seed1'}", "--num=8",
                      f"--out={alone}"]) == 0
  np.testing.assert_allclose(np.load(out), np.load(alone), rtol=1e-4, atol=1e-5)
  capsys.readouterr()
  assert sample.main(["sample", f"--workdir={pop}", "--num=8", f"--out={out}"]) == 2
  assert "--member=NAME, one of seed=0, seed=1" in capsys.readouterr().err


def test_resumed_population_equals_an_uninterrupted_one(seeds_run, tmp_path):
  half = ["run", *TINY, f"--workdir={tmp_path / 'pop'}", "--config.num_seeds=2"]
  assert run.main([*half, "--config.num_steps=10"]) == 0
  assert run.main(half) == 0  # Resumes at step 10, goes on to 20.
  for name in ("seed=0", "seed=1"):
    resumed = _records(tmp_path / "pop" / "members" / name / "metrics.jsonl")
    whole = _records(seeds_run / "pop" / "members" / name / "metrics.jsonl")
    assert resumed == whole


def test_a_workdir_of_another_population_is_refused(seeds_run, capsys):
  before = sorted(p.name for p in (seeds_run / "pop").rglob("*"))
  status = run.main(["run", *TINY, f"--workdir={seeds_run / 'pop'}", "--config.num_seeds=3"])
  err = capsys.readouterr().err.strip().splitlines()
  assert status == 2 and len(err) == 1
  assert "population: 2 population members -> 3 population members" in err[0]
  assert sorted(p.name for p in (seeds_run / "pop").rglob("*")) == before


def test_sweep_over_learning_rates_runs_one_program_equal_to_standalone_runs(tmp_path, capsys):
  config_file = tmp_path / "lr_sweep.py"
  config_file.write_text(
      "from configs import ring\n"
      "from experiments import sweeps\n"
      "def get_config(arg=None):\n"
      "  config = ring.get_config('runlocal')\n"
      "  config.model.g.hidden = config.model.d.hidden = (8,)\n"
      "  config.num_steps = config.log_every = config.eval_every = 4\n"
      "  config.tensorboard = False\n"
      "  return config\n"
      "def get_sweep(arg=None):\n"
      "  return sweeps.axis('d_optimizer.lr', [1e-4, 1e-3]) + sweeps.axis('game', ['hinge'])\n")
  assert run.main(["run", f"--config={config_file}", f"--workdir={tmp_path / 'sweep'}",
                   "--sweep"]) == 0
  out = capsys.readouterr().out
  assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == ["game=hinge", "population"]
  assert "d_optimizer.lr=0.001" in out and "±" in out  # Members and spread in the summary.
  assert run.main(["run", f"--config={config_file}", f"--workdir={tmp_path / 'alone'}",
                   "--config.d_optimizer.lr=0.001"]) == 0
  member = _records(tmp_path / "sweep" / "population" / "members" / "d_optimizer.lr=0.001"
                    / "metrics.jsonl")[-1]
  alone = _records(tmp_path / "alone" / "metrics.jsonl")[-1]
  np.testing.assert_allclose([member["d_loss"], member["g_loss"]],
                             [alone["d_loss"], alone["g_loss"]], rtol=1e-4)
