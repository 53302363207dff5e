"""End-to-end tests of experiments.run and experiments.sample.

A resumed run equals an uninterrupted one bit for bit; SIGTERM checkpoints and
exits; user errors exit with status 2, one line on stderr and an untouched
workdir; a non-finite loss stops the run and keeps the last good checkpoint.
"""

import hashlib
import json
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `experiments` and `configs` live at the repository root.

from experiments import builders  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import run  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import resources  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import results  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import sample  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import workdir as workdirs  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import writers  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import checkpoint  # pylint: disable=g-import-not-at-top,wrong-import-position

MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"

# ml_collections loads config files with importlib's deprecated load_module().
pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")

# The ring config shrunk to a small, fast model; every test starts from it.
TINY = [
    "--config=configs/ring.py:runlocal",
    "--config.model.g.hidden=(16,16)",
    "--config.model.d.hidden=(16,16)",
    "--config.data.batch_size=16",
    "--config.eval.num_samples=200",
    "--config.tensorboard=False",
]
# The ring's data drawn fresh every step, for tests that switch it to stored data.
FRESH = ["--config.data.fixed_points=0"]


def _tiny(workdir, *extra):
  return ["run", *TINY, f"--workdir={workdir}", *extra]


def _subprocess(args, **kwargs):
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
  return subprocess.Popen([sys.executable, "-m", "experiments.run", *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _restore_raw(workdir, step):
  """The checkpoint at `step` as a flat list of numpy leaves (no target tree needed)."""
  tree = ocp.StandardCheckpointer().restore(Path(workdir, "checkpoints", str(step), "default"))
  return jax.tree.leaves(tree)


def _snapshot(path: Path):
  """Every file under `path` with its bytes' hash and modification time (None if absent)."""
  if not path.exists():
    return None
  return sorted((str(p.relative_to(path)), p.stat().st_mtime_ns,
                 hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
                for p in path.rglob("*"))


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
  monkeypatch.chdir(ROOT)  # Config paths in the tests are relative to the repository.


def _finished(tmp_path_factory, name, *extra):
  """A finished 20-step tiny run with `extra` flags (checkpoints at 10 and 20)."""
  workdir = tmp_path_factory.mktemp(name) / "run"
  old = os.getcwd()
  os.chdir(ROOT)
  try:
    assert run.main(_tiny(workdir, *extra)) == 0
  finally:
    os.chdir(old)
  return workdir


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A finished 20-step tiny run (checkpoints at 10 and 20)."""
  return _finished(tmp_path_factory, "trained")


def test_run_writes_the_workdir_contract(trained):
  config = json.loads((trained / "config.json").read_text())
  assert config["data"]["name"] == "ring" and config["num_steps"] == 20
  records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records] == [10, 20]
  assert all(isinstance(r["step"], int) for r in records)
  assert {"d_loss", "g_loss", "modes_covered", "high_quality_fraction"} <= set(records[-1])
  assert checkpoint.latest_step(str(trained / "checkpoints")) == 20
  assert sorted(p.name for p in (trained / "samples").iterdir()) == [
      "step_000010.png", "step_000020.png"]


def test_sigterm_then_resume_is_bitwise_identical_to_an_uninterrupted_run(tmp_path):
  args = ["--config.num_steps=2000", "--config.log_every=10", "--config.checkpoint_every=1000",
          "--config.eval_every=2000"]
  # Run b in a subprocess and stop it with SIGTERM as soon as it has logged once,
  # while run a goes uninterrupted in this process.
  interrupted = _subprocess(_tiny(tmp_path / "b", *args)[1:])
  metrics = tmp_path / "b" / "metrics.jsonl"

  def stop_when_logging():
    deadline = time.time() + 120
    while not (metrics.exists() and metrics.stat().st_size) and time.time() < deadline:
      time.sleep(0.02)
    interrupted.send_signal(signal.SIGTERM)

  watcher = threading.Thread(target=stop_when_logging)
  watcher.start()
  assert run.main(_tiny(tmp_path / "a", *args)) == 0
  watcher.join()
  out, err = interrupted.communicate(timeout=120)
  assert interrupted.returncode == 0, err
  assert "SIGTERM at step" in out, out
  stopped_at = checkpoint.latest_step(str(tmp_path / "b" / "checkpoints"))
  assert 0 < stopped_at < 2000, out

  assert run.main(_tiny(tmp_path / "b", *args)) == 0  # Resumes from `stopped_at`.
  a, b = _restore_raw(tmp_path / "a", 2000), _restore_raw(tmp_path / "b", 2000)
  assert len(a) == len(b) > 10
  for x, y in zip(a, b):
    np.testing.assert_array_equal(x, y)
  # The logs agree too: the resumed run logged every step once, with the same values.
  assert (tmp_path / "a" / "metrics.jsonl").read_text() == metrics.read_text()
  # The training time, one span per checkpoint, and their sum for a record's wall time.
  spans = workdirs.read_json_records(str(tmp_path / "b" / workdirs.TIME_FILE))
  bounds = sorted({0, 1000, stopped_at, 2000})
  assert [(s["from_step"], s["to_step"]) for s in spans] == list(zip(bounds, bounds[1:]))
  # Each names the code that trained it, the commit of this checkout.
  assert {s["commit"] for s in spans} == {resources.commit()}
  total = sum(s["seconds"] for s in spans)
  assert results.train_seconds(str(tmp_path / "b"), 2000) == pytest.approx(total)
  before = sum(s["seconds"] for s in spans if s["to_step"] <= stopped_at)
  assert results.train_seconds(str(tmp_path / "b"), stopped_at) == pytest.approx(before)
  last = spans[-1]
  middle = (last["from_step"] + 2000) // 2
  assert results.train_seconds(str(tmp_path / "b"), middle) == pytest.approx(
      total - last["seconds"] * (2000 - middle) / (2000 - last["from_step"]))


def test_a_killed_run_keeps_the_time_of_its_checkpointed_steps(tmp_path):
  """SIGKILL gives no warning: the wall time of a record made after the resume still
  adds up, from the spans written at each checkpoint."""
  args = _tiny(tmp_path, "--config.num_steps=3000", "--config.log_every=100",
               "--config.checkpoint_every=500", "--config.eval_every=3000")[1:]
  spans_file = tmp_path / workdirs.TIME_FILE
  killed = _subprocess(args)
  deadline = time.time() + 300
  while killed.poll() is None and time.time() < deadline and not (
      spans_file.exists() and len(spans_file.read_text().splitlines()) >= 2):
    time.sleep(0.02)
  assert killed.poll() is None, killed.communicate()  # Still training when killed.
  killed.kill()
  killed.communicate(timeout=60)
  saved = workdirs.read_json_records(str(spans_file))
  assert [(s["from_step"], s["to_step"]) for s in saved[:2]] == [(0, 500), (500, 1000)]
  assert results.train_seconds(str(tmp_path), 1000) == pytest.approx(
      saved[0]["seconds"] + saved[1]["seconds"])

  assert run.main(["run", *args]) == 0  # Resumes from its last checkpoint.
  seconds = results.train_seconds(str(tmp_path), 3000)
  assert seconds is not None and seconds >= saved[0]["seconds"] + saved[1]["seconds"]


def test_trains_on_real_mnist_files(tmp_path, capsys):
  if not MNIST_DIR.is_dir():
    pytest.skip(f"real MNIST files not found at {MNIST_DIR}")
  workdir = tmp_path / "mnist"
  config = f"configs/goodfellow_mnist.py:dataset=idx:{MNIST_DIR},runlocal"
  status = run.main(["run", f"--config={config}",
                     "--config.num_steps=4", "--config.tensorboard=False",
                     f"--workdir={workdir}"])
  assert status == 0, capsys.readouterr().err
  config = json.loads((workdir / "config.json").read_text())
  assert config["resolved"]["data_shape"] == [28, 28, 1]
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert records[-1]["step"] == 4 and np.isfinite(records[-1]["d_loss"])
  assert (workdir / "samples" / "step_000004.png").exists()
  out = tmp_path / "digits.npy"
  assert sample.main(["sample", f"--workdir={workdir}", "--num=5", f"--out={out}"]) == 0
  digits = np.load(out)
  assert digits.shape == (5, 28, 28, 1) and digits.dtype == np.float32
  assert digits.min() >= 0.0 and digits.max() <= 1.0


def test_sample_writes_num_samples_in_the_data_scale(trained, tmp_path):
  out = tmp_path / "samples.npy"
  assert sample.main(["sample", f"--workdir={trained}", "--num=1500", f"--out={out}"]) == 0
  samples = np.load(out)
  assert samples.shape == (1500, 2) and samples.dtype == np.float32
  assert np.all(np.isfinite(samples))
  again = tmp_path / "again.npy"
  assert sample.main(["sample", f"--workdir={trained}", "--num=1500", f"--out={again}"]) == 0
  np.testing.assert_array_equal(samples, np.load(again))


@pytest.mark.parametrize("argv", [
    ["--workdir=DIR", "--num=0", "--out=OUT"],
    ["--workdir=MISSING", "--num=3", "--out=OUT"],
    ["--workdir=DIR", "--num=3", "--out=/no/such/dir/x.npy"],
    ["--workdir=DIR", "--num=3", "--out=samples.txt"],
    ["--workdir=DIR", "--num=3"],
])
def test_sample_user_errors(trained, tmp_path, capsys, argv):
  argv = [a.replace("DIR", str(trained)).replace("MISSING", str(tmp_path / "none"))
           .replace("OUT", str(tmp_path / "x.npy")) for a in argv]
  assert sample.main(["sample", *argv]) == 2
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
  assert not (tmp_path / "x.npy").exists()


def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(trained, tmp_path, capsys):
  workdir = tmp_path / "run"
  os.system(f"cp -r {trained} {workdir}")
  before = _restore_raw(workdir, 20)
  status = run.main(_tiny(workdir, "--config.num_steps=40", "--config.log_every=1",
                          "--config.g_optimizer.lr=1e30", "--config.d_optimizer.lr=1e30"))
  assert status == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1, err
  assert "non-finite" in err[0] and "last good checkpoint (step 20)" in err[0], err
  stopped = int(re.search(r"at step (\d+)", err[0]).group(1))
  # Logged every step: the run stops at the first non-finite record and logs nothing after.
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert stopped > 20 and [r["step"] for r in records] == [10, 20, *range(21, stopped)], (
      stopped, [r["step"] for r in records])
  assert checkpoint.latest_step(str(workdir / "checkpoints")) == 20
  for x, y in zip(before, _restore_raw(workdir, 20)):
    np.testing.assert_array_equal(x, y)


def test_skip_nonfinite_wraps_both_optimizers(tmp_path):
  from experiments import builders  # pylint: disable=g-import-not-at-top
  from configs import ring  # pylint: disable=g-import-not-at-top

  config = ring.get_config("runlocal")
  config.skip_nonfinite = True
  state = builders.build(config).abstract_state
  for opt_state in (state.g_opt_state, state.d_opt_state):
    assert type(opt_state).__name__ == "ApplyIfFiniteState"


def test_sweep_runs_each_member_in_its_own_workdir(tmp_path, capsys):
  config_file = tmp_path / "tiny_sweep.py"
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
      "  return sweeps.product(sweeps.axis('game', ['hinge', 'least_squares']),\n"
      "                        sweeps.axis('seed', [3]))\n")
  status = run.main(["run", f"--config={config_file}", f"--workdir={tmp_path / 'sweep'}",
                     "--sweep"])
  out = capsys.readouterr().out
  assert status == 0
  names = ["game=hinge,seed=3", "game=least_squares,seed=3"]
  assert sorted(p.name for p in (tmp_path / "sweep").iterdir()) == names
  for name in names:
    config = json.loads((tmp_path / "sweep" / name / "config.json").read_text())
    assert config["seed"] == 3 and config["game"] in name
    assert name in out.split("member")[-1]  # The summary table lists every member.


def test_every_evaluation_prints_its_headline_and_the_summary_names_the_best(tmp_path, capsys):
  workdir = tmp_path / "gauss"
  status = run.main(["run", "--config=configs/gaussian_1d.py:runlocal", f"--workdir={workdir}",
                     "--config.num_steps=6", "--config.log_every=2", "--config.eval_every=2",
                     "--config.checkpoint_every=6", "--config.eval.num_samples=500",
                     "--config.tensorboard=False", "--config.progress=false"])
  out = capsys.readouterr().out
  assert status == 0
  lines = [line for line in out.splitlines() if line.startswith("evaluation at step")]
  assert [line.split(":")[0] for line in lines] == [f"evaluation at step {s}" for s in (2, 4, 6)]
  records = {r["step"]: r for r in writers.read_metrics(str(workdir)) if "wasserstein_1d" in r}
  for line, step in zip(lines, (2, 4, 6)):
    assert line == f"evaluation at step {step}: W1 {records[step]['wasserstein_1d']:.4g}"
  best = min(records.values(), key=lambda r: r["wasserstein_1d"])
  assert f"best evaluation of the run: step {best['step']} (W1 " in out


def test_an_evaluation_line_shows_a_populations_spread():
  record = {"modes_covered": 8.0, "modes_covered/std": 0.0, "high_quality_fraction": 0.972,
            "high_quality_fraction/std": 0.005, "kl_to_uniform": 0.0042, "d_loss": 0.69}
  assert writers.evaluation_line(30_000, record) == (
      "evaluation at step 30000: modes 8 ± 0, high quality 97.2% ± 0.5%, KL 0.0042")
  assert writers.evaluation_line(10, {"d_loss": 0.69}) == ""
  assert writers.best_evaluation([{"step": 1, "wasserstein_1d": 0.2},
                                  {"step": 2, "wasserstein_1d": 0.1}, {"step": 3}])["step"] == 2


# --- User errors: exit status 2, one line on stderr, nothing on disk touched ---

# (extra arguments, where the workdir points, a fragment of the message).
# "fresh": a workdir that does not exist yet (and must not be created);
# "trained": the finished tiny run (which must not change).
BAD_INPUTS = [
    (["--config.game=minimaxx"], "fresh", "unknown game 'minimaxx'"),
    (["--config.d_optimizer.momentum_final=0.7"], "fresh", "needs a starting d_optimizer.momentum"),
    (["--config.g_optimizer.schedule=linear"], "fresh", "g_optimizer.schedule='linear' is impossible"),
    (["--config.d_optimizer.lr_final=1e-5"], "fresh", "d_optimizer.schedule='constant'"),
    (["--config.g_optimizer.name=sgd", "--config.g_optimizer.schedule=cosine",
      "--config.g_optimizer.b2_final=0.99"], "fresh", "schedules adam's b2, not sgd's"),
    (["--config.g_optimizer.schedule=cosine", "--config.g_optimizer.lr_decay=0.5"], "fresh",
     "both schedule the learning rate"),
    (["--config.penalty_weight_final=1"], "fresh", "penalty_schedule='constant'"),
    (["--config.g_optimizer.ema=0.9", "--config.g_optimizer.ema_halflife=100"], "fresh",
     "both set the EMA"),
    (["--config.num_seeds=0"], "fresh", "num_seeds=0 is impossible"),
    (["--config.model.generator=transformer"], "fresh", "unknown model.generator"),
    (["--config.data.name=imagenet64x"], "fresh", "imagenet64x"),
    (["--config.g_optimizer.name=adamw"], "fresh", "unknown g_optimizer.name"),
    (["--config.penalty=r3", "--config.penalty_weight=1"], "fresh", "unknown penalty 'r3'"),
    (["--config.update_rule=extragradient"], "fresh", "unknown update"),
    (["--config.model.latent=cauchy"], "fresh", "unknown model.latent"),
    (["--config.d_optimizer.lr=-1e-4"], "fresh", "d_optimizer.lr=-0.0001 is impossible"),
    (["--config.g_optimizer.b1=1.5"], "fresh", "g_optimizer.b1=1.5 is impossible"),
    (["--config.data.batch_size=0"], "fresh", "data.batch_size must be >= 1"),
    (["--config.model.pack=3"], "fresh", "divisible by model.pack=3"),
    (["--config.model.generator_passes=5"], "fresh", "divisible by model.generator_passes=5"),
    (["--config.steps_per_call=3"], "fresh", "a multiple of steps_per_call=3"),
    (["--config.d_steps=0"], "fresh", "d_steps=0 is impossible"),
    (["--config.num_steps=-5"], "fresh", "num_steps=-5 is impossible"),
    (["--config.penalty_weight=10"], "fresh", "but penalty='none'"),
    (["--config.update_rule=simultaneous", "--config.d_steps=5"], "fresh", "d_steps=5"),
    (["--config.data.params.std=-1"], "fresh", "std must be positive"),
    (["--config.data.params.sigma=1"], "fresh", "no such field"),
    # Stored data, where the ring's fixed set of toy points has no place: fixed_points=0.
    (["--config.data.name=idx", "--config.data.dir=/no/such/mnist", *FRESH], "fresh",
     "does not exist"),
    (["--config.data.name=npz", "--config.data.dir=/no/such/file.npz", *FRESH], "fresh",
     "does not exist"),
    (["--config.data.name=mnist", "--config.model.generator=dcgan",
      "--config.model.discriminator=dcgan", "--config.data.dir=/no/mnist", *FRESH], "fresh",
     "does not exist"),
    (["--config.model.generator=dcgan"], "fresh", "is for image data"),
    (["--config.data.fixed_points=-1"], "fresh", "data.fixed_points must be >= 0"),
    (["--config.data.fixed_points=10"], "fresh", "fewer packs than the 16 of a step"),
    (["--config.data.fixed_points=1000000000000"], "fresh", "lower --config.data.fixed_points"),
    (["--config.data.name=npz", "--config.data.dir=/no/such/file.npz"], "fresh",
     "'npz' is stored data"),
    (["--config.data.name=cifar10", "--config.data.dir=/no/such/tfds", *FRESH], "fresh",
     "not prepared"),
    (["--config.model.g.widths=(3,)"], "fresh", "no such field"),
    (["--config.eval.num_samples=1"], "fresh", "eval.num_samples=1 is impossible"),
    (["--config.d_optimizer.clip=-0.01"], "fresh", "clip=-0.01 is impossible"),
    (["--config.model.g.hidden=(32,32)"], "trained", "another architecture"),
    (["--config.g_optimizer.name=rmsprop"], "trained", "another architecture"),
    (["--config.skip_nonfinite=True"], "trained", "another architecture"),
    (["--config.model.latent_dim=3"], "trained", "another architecture"),
    (["--config.data.params.radius=2.0"], "trained", "another architecture"),
    (["--config.seed=-1"], "fresh", "seed=-1 is impossible"),
    (["--sweep"], "fresh", "defines no get_sweep"),
    (["unexpected"], "fresh", "unexpected argument"),
    (["--config.num_steps=ten"], "fresh", "config.num_steps"),
]


@pytest.mark.parametrize("extra,where,message", BAD_INPUTS,
                         ids=[" ".join(b[0])[:60] for b in BAD_INPUTS])
def test_user_errors_exit_2_with_one_line_and_touch_nothing(trained, tmp_path, capsys, extra,
                                                            where, message):
  workdir = tmp_path / "fresh" if where == "fresh" else trained
  before = _snapshot(workdir)
  argv = ["run", *TINY, f"--workdir={workdir}", *extra]
  if extra == ["--sweep"]:  # A config without get_sweep().
    argv = ["run", "--config=configs/gaussian_1d.py:runlocal", f"--workdir={workdir}", "--sweep"]
  assert run.main(argv) == 2
  out, err = capsys.readouterr()
  assert len(err.strip().splitlines()) == 1, err
  assert err.startswith("error: ") and message in err, err
  assert "Traceback" not in out + err, err
  assert _snapshot(workdir) == before


@pytest.mark.parametrize("argv,message", [
    (["--config=configs/no_such_config.py", "--workdir=W"], "no such config file"),
    (["--config=configs/ring.py:pack=2", "--workdir=W"], "unknown config argument 'pack'"),
    (["--config=configs/ring.py", "--config.nope=1", "--workdir=W"], "--config.nope"),
    (["--config=configs/ring.py", "--config.model=1", "--workdir=W"], "config.model"),
    (["--config=configs/ring.py"], "--workdir is required"),
    (["--workdir=W"], "--config is required"),
    (["--config=configs/ring.py", "--workdir=W", "--bogus=1"], "bogus"),
])
def test_command_line_errors(tmp_path, capsys, argv, message):
  argv = [a.replace("W", str(tmp_path / "w")) for a in argv]
  assert run.main(["run", *argv]) == 2
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1 and message in err, err
  assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("tool,argv,shown", [
    ("run", ["--help"], ["Trains a GAN", "--workdir:", "--sweep: Run every", "--config=FILE"]),
    ("run", ["--config=configs/ring.py", "--config.model.d.maxout_pieces=3", "-h"],
     ["Trains a GAN", "configs/ring.py: 2-D ring of 8 Gaussians", "maxout_pieces: 3"]),
    ("evaluate", ["--workdir=W", "--help"], ["Evaluates a run's latest checkpoint", "--seed:",
                                             "(default: 0)", "--bn_refresh_batches:",
                                             "--source:"]),
    ("sample", ["--help"], ["Writes samples", "--member:", "--ema:", "(default: true)"]),
    ("results", ["--check", "--help"], ["Results as records", "--record:",
                                        "--workdir: The evaluated population's workdir; "
                                        "repeated, populations of other seeds of one config, "
                                        "one row. (repeatable)"]),
    ("results", ["--help=true"], ["Results as records"]),
    ("fid", ["A", "B", "--help"], ["Inception FID and KID", "--num_samples:"]),
    ("train_classifier", ["--out=W", "--help"], ["Trains the in-domain MNIST classifier",
                                                 "--steps: Adam steps. (default: 1500)"]),
])
def test_help_prints_the_usage_and_flags_and_exits_0(tmp_path, capsys, tool, argv, shown):
  """`--help` (or `-h`) is usage, not a mistake: stdout, status 0, nothing run or written."""
  from experiments import evaluate, fid, train_classifier  # pylint: disable=g-import-not-at-top

  main = {"run": run.main, "evaluate": evaluate.main, "sample": sample.main,
          "results": results.main, "fid": fid.main, "train_classifier": train_classifier.main}[tool]
  before = Path("README.md").read_text()
  with pytest.raises(SystemExit) as exit_:
    main([tool, *[a.replace("W", str(tmp_path / "w")) for a in argv]])
  out, err = capsys.readouterr()
  assert exit_.value.code == 0 and not err, err
  for text in shown:
    assert text in out, (text, out)
  assert "config.model" not in out.split("Flags:")[1].split("\n\n")[0]  # Overrides: fields.
  assert not (tmp_path / "w").exists() and Path("README.md").read_text() == before


def test_help_as_a_flags_value_is_that_value_and_a_bad_config_still_one_line(capsys):
  assert results.main(["results", "--check", "--note=--help"]) == 0  # The table, checked.
  assert results.main(["results", "--check", "--note", "--help"]) == 0
  assert results.main(["results", "--check", "--help=false"]) == 0
  assert results.main(["results", "--check", "-note", "--help"]) == 0  # absl's one dash.
  assert "Results as records" not in capsys.readouterr().out
  assert results.main(["results", "--check", "--", "--help"]) == 2  # After --, an argument.
  assert "unexpected argument '--help'" in capsys.readouterr().err
  with pytest.raises(SystemExit) as exit_:  # Left to right: the second --note is a value.
    results.main(["results", "--check", "--note", "--note", "--help"])
  assert exit_.value.code == 0 and "Results as records" in capsys.readouterr().out
  for tool, main in (("results", results.main), ("run", run.main)):
    assert main([tool, "--help=yes"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: --help=yes: give --help, --help=true or "
                                        "--help=false"], err
  assert run.main(["run", "--config=configs/no_such.py", "--help"]) == 2
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1 and "no such config file" in err, err


@pytest.mark.parametrize("argv,message", [
    (["--mnist_dir=NOPE"], "--mnist_dir=NOPE"),
    (["--out=EXISTS"], "exists; pass a new --out"),
    (["--step=3"], "Unknown command line flag 'step'"),
])
def test_train_classifier_mistakes_exit_2_with_one_line(tmp_path, capsys, argv, message):
  from experiments import train_classifier  # pylint: disable=g-import-not-at-top

  (tmp_path / "exists").mkdir()
  argv = [a.replace("NOPE", str(tmp_path / "nope")).replace("EXISTS", str(tmp_path / "exists"))
          for a in argv]
  assert train_classifier.main(["train_classifier", f"--out={tmp_path / 'new'}", *argv]) == 2
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1 and message.replace(
      "NOPE", str(tmp_path / "nope")) in err, err
  assert not (tmp_path / "new").exists()


def test_the_real_entry_point_reports_a_user_error_in_one_line(tmp_path):
  process = _subprocess(["--config=configs/ring.py", "--config.game=nope",
                         f"--workdir={tmp_path / 'w'}"])
  out, err = process.communicate(timeout=120)
  assert process.returncode == 2, (out, err)
  assert err.splitlines() == [err.strip()] and "unknown game 'nope'" in err, err
  assert not (tmp_path / "w").exists()


# What a workdir written before those fields trained with: fresh points every step, and
# the MLP generator's default batch-norm epsilon.
OLD_VALUES = ["--config.data.fixed_points=0", "--config.model.g.batch_norm_epsilon=1e-5"]


def _without_added_fields(workdir):
  """Rewrites config.json, of a run with OLD_VALUES, as a version before every field of
  ADDED_FIELDS, and the MLP generator's batch_norm_epsilon argument, wrote it."""
  config = json.loads((workdir / "config.json").read_text())
  assert (config["data"]["fixed_points"], config["model"]["g"]["batch_norm_epsilon"]) == (
      0, 1e-5)
  for field in [*workdirs.ADDED_FIELDS, "model.g.batch_norm_epsilon"]:
    *parents, leaf = field.split(".")
    node = config
    for part in parents:
      node = node[part]
    del node[leaf]
  (workdir / "config.json").write_text(json.dumps(config))


@pytest.fixture(scope="module")
def trained_old(tmp_path_factory):
  """A finished 20-step tiny run with OLD_VALUES, written before newer fields."""
  workdir = _finished(tmp_path_factory, "trained_old", *OLD_VALUES)
  _without_added_fields(workdir)
  return workdir


def test_added_fields_hold_the_defaults_that_keep_old_behaviour():
  """Every field an older config.json lacks is filled with today's default."""
  from configs import common  # pylint: disable=g-import-not-at-top

  defaults = workdirs.flatten(common.get_config().to_dict())
  for field, value in workdirs.ADDED_FIELDS.items():
    assert defaults[field] == value, field


def test_retired_layer_forms_of_old_workdirs_read_as_their_successors():
  from configs import dcgan  # pylint: disable=g-import-not-at-top
  from gan_jax import models  # pylint: disable=g-import-not-at-top

  config = dcgan.get_config().to_dict()
  old = json.loads(json.dumps(config))
  old["model"]["g"]["upsample"], old["model"]["d"]["downsample"] = "subpixel", "space_to_depth"
  read = workdirs.with_added_fields(old)
  assert (read["model"]["g"]["upsample"], read["model"]["d"]["downsample"]) == ("adjoint",) * 2
  assert builders.architecture_differences(old, config) == []
  shape = (28, 28, 1)
  g = models.GENERATORS["dcgan"](image_shape=shape, **read["model"]["g"])
  d = models.DISCRIMINATORS["dcgan"](image_shape=shape, **read["model"]["d"])
  assert jax.eval_shape(g.init, jax.random.key(0), np.zeros((2, 100), np.float32))
  assert jax.eval_shape(d.init, jax.random.key(0), np.zeros((2, *shape), np.float32))


def test_experiments_do_not_import_configs():
  program = ("import sys; import experiments.run, experiments.sample, experiments.evaluate, "
             "experiments.results; print(sorted(m for m in sys.modules if m.split('.')[0] == "
             "'configs'))")
  out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                       check=True, cwd=Path(__file__).resolve().parents[1]).stdout
  assert out.strip() == "[]"


def test_sample_reads_a_workdir_written_before_newer_config_fields(trained_old, tmp_path):
  old = tmp_path / "old"
  shutil.copytree(trained_old, old)
  out = tmp_path / "s.npy"
  assert sample.main(["sample", f"--workdir={old}", "--num=4", f"--out={out}"]) == 0
  assert np.load(out).shape == (4, 2)


def test_resume_accepts_a_workdir_written_before_newer_config_fields(trained_old, tmp_path):
  old = tmp_path / "old"
  shutil.copytree(trained_old, old)
  assert run.main(_tiny(old, *OLD_VALUES, "--config.num_steps=30")) == 0
  assert json.loads((old / "metrics.jsonl").read_text().splitlines()[-1])["step"] == 30
