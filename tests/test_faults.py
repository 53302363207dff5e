"""The runner's promises under bad input and faults.

Bad input: exit status 2, exactly one line on stderr, no traceback, and every
file already on disk byte-identical (a fresh workdir is not even created).
Faults: a second trainer on a workdir in use, a resume with another
steps_per_call, changed settings on resume, a record cut short, a full disk, a
dead peer, a second Ctrl-C and skipped non-finite updates each end as the README
says, without losing finished work.
"""

import hashlib
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import evaluate  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import run  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import sample  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import workdir as workdirs  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import checkpoint  # pylint: disable=g-import-not-at-top,wrong-import-position

pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")

TINY = [
    "--config=configs/ring.py:runlocal",
    "--config.model.g.hidden=(16,16)",
    "--config.model.d.hidden=(16,16)",
    "--config.data.batch_size=16",
    "--config.eval.num_samples=200",
    "--config.tensorboard=False",
    "--config.progress=False",
]
IS_ROOT = os.geteuid() == 0


def _env():
  return {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}


def _tool(module, args, **kwargs):
  return subprocess.Popen([sys.executable, "-m", f"experiments.{module}", *map(str, args)],
                          cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, **kwargs)


def _contents(path: Path):
  """Every file and folder under `path` with a hash of its bytes (None if absent)."""
  if not path.exists():
    return None
  return sorted((str(p.relative_to(path)),
                 hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
                for p in path.rglob("*"))


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
  monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A finished 20-step tiny run (checkpoints at 10 and 20)."""
  workdir = tmp_path_factory.mktemp("trained") / "run"
  old = os.getcwd()
  os.chdir(ROOT)
  try:
    assert run.main(["run", *TINY, f"--workdir={workdir}"]) == 0
  finally:
    os.chdir(old)
  return workdir


def _write(path: Path, text: str) -> Path:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text)
  return path


def _npz(path: Path, **arrays) -> Path:
  path.parent.mkdir(parents=True, exist_ok=True)
  np.savez(path, **arrays)
  return path


def _images(n=400, size=20):
  return np.random.default_rng(0).integers(0, 255, (n, size, size), dtype=np.uint8)


# --- Files the bad inputs point at; each returns the value substituted for FILE. ---


def _truncated_npz(d):
  good = _npz(d / "good.npz", x=_images())
  data = good.read_bytes()
  (d / "truncated.npz").write_bytes(data[: len(data) // 2])
  return d / "truncated.npz"


def _corrupt_npz(d):
  data = bytearray(_npz(d / "good.npz", x=_images()).read_bytes())
  data[100:140] = b"\xff" * 40  # the array's header, inside an intact zip directory
  (d / "corrupt.npz").write_bytes(bytes(data))
  return d / "corrupt.npz"


def _locked(workdir):
  """A live process (this test's) holds the trained run's lock."""
  sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
  start = Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
  (workdir / "lock").write_text(json.dumps({"host": socket.gethostname(), "pid": sleeper.pid,
                                            "start": start, "since": "now"}))
  return sleeper


FILES = {
    "syntax": lambda d: _write(d / "syntax.py", "def get_config(:\n"),
    "raises": lambda d: _write(d / "raises.py",
                               "def get_config(arg=None):\n  raise RuntimeError('boom')\n"),
    "import": lambda d: _write(d / "imports.py", "import no_such_module_xyz\n"
                               "def get_config(arg=None):\n  return None\n"),
    "dict": lambda d: _write(d / "dict.py", "def get_config(arg=None):\n  return {'seed': 0}\n"),
    "none": lambda d: _write(d / "none.py", "def get_config(arg=None):\n  return None\n"),
    "yaml": lambda d: _write(d / "config.yaml", "seed: 0\n"),
    "noget": lambda d: _write(d / "noget.py", "x = 1\n"),
    "object_npz": lambda d: _npz(d / "object.npz", x=np.array([object(), 1], dtype=object)),
    "truncated_npz": _truncated_npz,
    "corrupt_npz": _corrupt_npz,
    "text_npz": lambda d: _write(d / "text.npz", "hello, not an archive\n"),
    "small_images": lambda d: _npz(d / "small.npz", x=_images()),
    "float_images": lambda d: _npz(d / "float.npz", x=_images() / 255.0),
}

DCGAN = ["--config.model.generator=dcgan", "--config.model.discriminator=dcgan"]
# Stored data, where the ring config's fixed set of toy points has no place.
NPZ = ["--config.data.name=npz", "--config.data.dir=FILE", "--config.data.fixed_points=0"]

# (tool, arguments, where, setup, a fragment of the message). `where`: "fresh" (a
# workdir that does not exist and must not be created) or "trained" (a copy of the
# finished tiny run, which must not change) or "under_file" (below a regular file). `setup`: a FILES entry, or a state of
# the workdir ("list_config", "binary_config", "locked", "readonly").
CASES = [
    # Config files that cannot give a config.
    ("run", ["--config=FILE"], "fresh", "syntax", "syntax error"),
    ("run", ["--config=FILE"], "fresh", "raises", "raised RuntimeError (boom)"),
    ("run", ["--config=FILE"], "fresh", "import", "import failed (No module named"),
    ("run", ["--config=FILE"], "fresh", "dict", "returned dict, not an ml_collections"),
    ("run", ["--config=FILE"], "fresh", "none", "returned NoneType, not an ml_collections"),
    ("run", ["--config=FILE"], "fresh", "yaml", "is not a Python config file"),
    ("run", ["--config=FILE"], "fresh", "noget", "defines no get_config()"),
    # Data files that cannot give images, and images the networks cannot take.
    ("run", [*DCGAN, *NPZ], "fresh", "object_npz", "holds an object array"),
    ("run", [*DCGAN, *NPZ], "fresh", "truncated_npz", "is not an .npz archive"),
    ("run", [*DCGAN, *NPZ], "fresh", "corrupt_npz", "damaged or truncated .npz archive"),
    ("run", [*DCGAN, *NPZ], "fresh", "text_npz", "is not an .npz archive"),
    ("run", [*DCGAN, *NPZ], "fresh", "float_images", "store images as uint8"),
    ("run", ["--config=configs/dcgan.py:dataset=npz:FILE"], "fresh", "small_images",
     "DCGAN supports images of shape"),
    ("run", ["--config=configs/hinge_sn.py:dataset=npz:FILE"], "fresh", "small_images",
     "needs (S, S, C) images"),
    ("run", ["--config=configs/goodfellow_mnist.py:dataset=npz:FILE"], "fresh", "small_images",
     "makes samples of shape (28, 28, 1) but the data (npz) holds (20, 20, 1)"),
    # Values no run can have, and requests larger than the machine.
    ("run", ["--config.d_optimizer.lr=inf"], "fresh", None, "lr=inf is impossible"),
    ("run", ["--config.g_optimizer.b2=nan"], "fresh", None, "b2=nan is impossible"),
    ("run", ["--config.penalty=gradient", "--config.penalty_weight=inf"], "fresh", None,
     "penalty_weight=inf is impossible"),
    ("run", ["--config.data.batch_size=1000000000"], "fresh", None,
     "lower --config.data.batch_size"),
    ("run", ["--config.eval.num_samples=1000000000"], "fresh", None,
     "lower --config.eval.num_samples"),
    ("run", ["--config.data.batch_size=3000000", "--config.model.g.hidden=(4000,4000)"],
     "fresh", None, "lower --config.data.batch_size"),
    ("run", ["--config.data.batch_size=1e9"], "fresh", None, "config.data.batch_size"),
    ("run", ["--config.data.params.sigma=1"], "fresh", None,
     "--config.data.params.sigma: the config has no such field"),
    # Workdirs that cannot take the run.
    ("run", [], "trained", "list_config", "holds a JSON list, not a config object"),
    ("run", [], "trained", "binary_config", "is not UTF-8"),
    ("run", [], "trained", "population_config", "its 'population' is a JSON int, not a list"),
    ("run", [], "under_file", None, "is a file, not a directory"),
    ("run", [], "trained", "locked", "is in use by another trainer (pid"),
    ("run", [], "trained", "readonly", "Read-only file system"),
    ("sample", ["--num=3", "--out=OUT"], "trained", "list_config", "holds a JSON list"),
    ("sample", ["--num=3", "--out=OUT"], "trained", "binary_config", "is not UTF-8"),
    ("evaluate", [], "trained", "list_config", "holds a JSON list"),
    ("evaluate", [], "trained", "binary_config", "is not UTF-8"),
    ("evaluate", [], "trained", "readonly", "Read-only file system"),
    ("sample", ["--num=3", "--out=READONLY/s.npy"], "trained", "readonly_out",
     "Read-only file system"),
    ("sample", ["--num=1000000000000", "--out=OUT"], "trained", None, "of disk, more than"),
    ("sample", ["--num=3", "--out=TMP/dir.npy"], "trained", "out_dir", "is a directory"),
    ("evaluate", ["--num_samples=10000000000"], "trained", None, "lower --num_samples"),
]


def _case_id(case):
  tool, args, where, setup, _ = case
  return f"{tool}-{setup or ' '.join(args)[:40]}-{where}"


@pytest.mark.parametrize("tool,args,where,setup,message", CASES, ids=map(_case_id, CASES))
def test_bad_input_exits_2_with_one_line_and_every_file_intact(
    trained, tmp_path, capsys, tool, args, where, setup, message):
  files = tmp_path / "files"
  files.mkdir()
  workdir = tmp_path / "fresh"
  if where == "trained":
    workdir = tmp_path / "run"
    shutil.copytree(trained, workdir)
  file = FILES[setup](files) if setup in FILES else None
  sleeper, mounted = None, None
  if where == "under_file":
    workdir = _write(files / "a_file", "not a directory\n") / "run"
  if setup == "list_config":
    (workdir / "config.json").write_text("[1, 2]")
  elif setup == "population_config":
    saved = json.loads((workdir / "config.json").read_text())
    (workdir / "config.json").write_text(json.dumps({**saved, "population": 5}))
  elif setup == "binary_config":
    (workdir / "config.json").write_bytes(b"\xff\xfe{}")
  elif setup == "locked":
    sleeper = _locked(workdir)
  elif setup == "out_dir":
    (tmp_path / "dir.npy").mkdir()
  elif setup in ("readonly", "readonly_out"):
    if not IS_ROOT:
      pytest.skip("a read-only mount needs root")
    mounted = workdir if setup == "readonly" else files
    if subprocess.run(["mount", "--bind", "-o", "ro", str(mounted), str(mounted)]).returncode:
      pytest.skip("cannot make a read-only bind mount here")
  watched = [workdir, files, tmp_path / "dir.npy"]
  before = [_contents(p) for p in watched]
  args = [a.replace("FILE", str(file)).replace("OUT", str(tmp_path / "out.npy"))
          .replace("READONLY", str(files)).replace("TMP", str(tmp_path)) for a in args]
  try:
    if tool == "run":
      argv = ["run", *(TINY if not any(a.startswith("--config=") for a in args) else []),
              *args, f"--workdir={workdir}"]
      status = run.main(argv)
    else:
      status = {"sample": sample, "evaluate": evaluate}[tool].main(
          [tool, f"--workdir={workdir}", *args])
  finally:
    if sleeper is not None:
      sleeper.kill()
    if mounted is not None:
      subprocess.run(["umount", str(mounted)], check=True)
  out, err = capsys.readouterr()
  assert status == 2, (out, err)
  assert len(err.strip().splitlines()) == 1, err
  assert err.startswith("error: ") and message in err, err
  assert "Traceback" not in out + err and "\\n" not in err and "\\'" not in err, err
  assert not (tmp_path / "out.npy").exists()
  assert [_contents(p) for p in watched] == before


def test_a_damaged_checkpoint_is_named_with_the_way_to_resume(trained, tmp_path):
  workdir = tmp_path / "run"
  shutil.copytree(trained, workdir)
  for data in (workdir / "checkpoints" / "20").rglob("d/*"):
    data.write_bytes(data.read_bytes()[:5])
  before = _contents(workdir)
  for module, args in [("run", [*TINY, f"--workdir={workdir}"]),
                       ("sample", [f"--workdir={workdir}", "--num=2", f"--out={tmp_path}/s.npy"])]:
    out, err = _tool(module, args).communicate(timeout=240)
    assert err.strip().splitlines() == [err.strip()], err  # one line, no leftovers
    assert "checkpoints/20 is damaged" in err and "resume from step 10" in err, err
    assert _contents(workdir) == before
  damaged = workdir / "checkpoints" / "20"
  damaged.rename(workdir / "damaged_step_20")  # As the message says.
  assert run.main(["run", *TINY, f"--workdir={workdir}"]) == 0
  assert checkpoint.latest_step(str(workdir / "checkpoints")) == 20


# --- Faults -------------------------------------------------------------------------


def _records(path):
  return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_a_second_trainer_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path, capsys):
  workdir = tmp_path / "run"
  args = [*TINY, f"--workdir={workdir}", "--config.num_steps=200000",
          "--config.checkpoint_every=100000"]
  first = _tool("run", args)
  deadline = time.time() + 120
  while not (workdir / "metrics.jsonl").exists() and time.time() < deadline:
    time.sleep(0.05)
  holder = json.loads((workdir / "lock").read_text())
  assert holder["pid"] == first.pid and holder["host"] == socket.gethostname()
  before = _contents(workdir / "checkpoints")
  assert run.main(["run", *args]) == 2
  err = capsys.readouterr().err
  assert err.strip().splitlines() == [err.strip()] and f"pid {first.pid}" in err, err
  first.kill()  # A kill -9 leaves the lock behind.
  first.wait()
  assert _contents(workdir / "checkpoints") == before
  assert run.main(["run", *TINY, f"--workdir={workdir}", "--config.num_steps=20"]) == 0
  err = capsys.readouterr().err
  assert f"taking over the lock of pid {first.pid}" in err, err
  assert not (workdir / "lock").exists()  # Released at the end.


def test_resume_with_another_steps_per_call_logs_checkpoints_and_stops_at_num_steps(tmp_path):
  workdir = tmp_path / "run"
  assert run.main(["run", *TINY, f"--workdir={workdir}", "--config.num_steps=210",
                   "--config.steps_per_call=10", "--config.log_every=10",
                   "--config.eval_every=210", "--config.checkpoint_every=10"]) == 0
  assert run.main(["run", *TINY, f"--workdir={workdir}", "--config.num_steps=1000",
                   "--config.steps_per_call=100", "--config.log_every=100",
                   "--config.eval_every=500", "--config.checkpoint_every=100"]) == 0
  steps = [r["step"] for r in _records(workdir / "metrics.jsonl")]
  assert steps == list(range(10, 211, 10)) + list(range(300, 1001, 100))
  assert checkpoint.latest_step(str(workdir / "checkpoints")) == 1000
  assert "modes_covered" in _records(workdir / "metrics.jsonl")[-1]


def test_changed_settings_on_resume_are_recorded_and_config_json_kept(trained, tmp_path, capsys):
  workdir = tmp_path / "run"
  shutil.copytree(trained, workdir)
  original = (workdir / "config.json").read_bytes()
  assert run.main(["run", *TINY, f"--workdir={workdir}", "--config.num_steps=30",
                   "--config.d_optimizer.lr=5e-5"]) == 0
  out = capsys.readouterr().out
  assert "changed settings" in out and "d_optimizer.lr 0.0001 -> 5e-05" in out, out
  assert (workdir / "config.json").read_bytes() == original
  changes = _records(workdir / "config_changes.jsonl")
  assert len(changes) == 1 and changes[0]["step"] == 20
  assert changes[0]["d_optimizer.lr"] == [1e-4, 5e-5] and changes[0]["num_steps"] == [20, 30]
  # The same command again changes nothing more; sample and evaluate see the last settings.
  assert run.main(["run", *TINY, f"--workdir={workdir}", "--config.num_steps=30",
                   "--config.d_optimizer.lr=5e-5"]) == 0
  assert len(_records(workdir / "config_changes.jsonl")) == 1
  assert workdirs.saved_config(str(workdir)).d_optimizer.lr == 5e-5


def test_a_record_cut_short_keeps_every_complete_record(trained, tmp_path):
  workdir = tmp_path / "run"
  shutil.copytree(trained, workdir)
  metrics = workdir / "metrics.jsonl"
  text = metrics.read_text()
  metrics.write_text(text.rstrip("\n"))  # The newline of the step-20 record lost to a kill.
  assert run.main(["run", *TINY, f"--workdir={workdir}", "--config.num_steps=40"]) == 0
  assert [r["step"] for r in _records(metrics)] == [10, 20, 30, 40]
  assert _records(metrics)[:2] == [json.loads(line) for line in text.splitlines()]
  # Two records glued on one line (an append after a cut) both survive a resume.
  lines = metrics.read_text().splitlines()
  metrics.write_text(lines[0] + lines[1] + "\n" + "\n".join(lines[2:]) + "\n" + '{"step": 5')
  assert run.main(["run", *TINY, f"--workdir={workdir}", "--config.num_steps=40"]) == 0
  assert [r["step"] for r in _records(metrics)] == [10, 20, 30, 40]


def test_a_full_disk_ends_in_one_line_keeps_the_checkpoints_and_resumes(tmp_path):
  if not IS_ROOT:
    pytest.skip("a small tmpfs for the full-disk test needs root")
  disk = tmp_path / "disk"
  disk.mkdir()
  if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)]).returncode:
    pytest.skip("cannot mount a tmpfs here")
  try:
    workdir = disk / "run"
    args = [*TINY, f"--workdir={workdir}"]
    assert _tool("run", args).wait(timeout=240) == 0
    kept = _contents(workdir / "checkpoints")
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler").write_bytes(b"\0" * (free - 150_000))  # Room for a few steps' writes.
    process = _tool("run", [*args, "--config.num_steps=200"])
    out, err = process.communicate(timeout=240)
    assert process.returncode == 3, (out, err)
    assert err.strip().splitlines() == [err.strip()], err
    assert "No space left on device" in err and str(disk) in err and "tmpfs" in err, err
    last = checkpoint.latest_step(str(workdir / "checkpoints"))
    assert last >= 20 and f"up to step {last} are intact" in err, err
    for name, digest in kept:  # The checkpoints written before are byte-identical.
      path = workdir / "checkpoints" / name
      if digest != "dir" and path.exists():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
    (disk / "filler").unlink()
    out, err = _tool("run", [*args, "--config.num_steps=200"]).communicate(timeout=240)
    assert checkpoint.latest_step(str(workdir / "checkpoints")) == 200, err
    assert [r["step"] for r in _records(workdir / "metrics.jsonl")] == list(range(10, 201, 10))
  finally:
    subprocess.run(["umount", "-l", str(disk)])


def test_a_dead_peer_ends_the_survivor_in_one_line_within_bounded_time(tmp_path):
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  workdir = tmp_path / "run"
  procs = [_tool("run", [*TINY, f"--workdir={workdir}", "--config.num_steps=200000",
                         "--config.checkpoint_every=100000",
                         f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
                         f"--process_id={i}"]) for i in range(2)]
  deadline = time.time() + 180
  while not (workdir / "metrics.jsonl").exists() and time.time() < deadline:
    time.sleep(0.1)
  assert (workdir / "metrics.jsonl").exists(), procs[0].stderr.read() if procs[0].poll() else ""
  procs[1].kill()
  died = time.monotonic()
  out, err = procs[0].communicate(timeout=120)
  assert time.monotonic() - died < 45  # Well under a minute: no hang in a collective.
  assert procs[0].returncode not in (0, None)
  assert err.strip().splitlines() == [err.strip()], err
  assert "another process has probably died" in err and "runtime log is" in err, err


def test_a_second_ctrl_c_exits_130_quietly(tmp_path):
  workdir = tmp_path / "run"
  process = _tool("run", [*TINY, f"--workdir={workdir}", "--config.num_steps=200000",
                          "--config.checkpoint_every=100000"])
  deadline = time.time() + 120
  while not (workdir / "metrics.jsonl").exists() and time.time() < deadline:
    time.sleep(0.05)
  process.send_signal(signal.SIGINT)
  time.sleep(0.01)
  process.send_signal(signal.SIGINT)
  out, err = process.communicate(timeout=120)
  if process.returncode == 0:  # Both signals arrived as one: the first's clean stop.
    assert "SIGINT at step" in out
  else:
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err and not err.strip(), err
  assert not (workdir / "lock").exists()


def test_skipped_nonfinite_updates_stop_after_max_consecutive_nonfinite(tmp_path, capsys):
  workdir = tmp_path / "run"
  status = run.main(["run", *TINY, f"--workdir={workdir}", "--config.skip_nonfinite=True",
                     "--config.g_optimizer.lr=1e30", "--config.d_optimizer.lr=1e30",
                     "--config.num_steps=100", "--config.log_every=1",
                     "--config.max_consecutive_nonfinite=5"])
  err = capsys.readouterr().err
  assert status == 1, err
  assert "in a row skipped, max_consecutive_nonfinite=5" in err, err
  assert checkpoint.latest_step(str(workdir / "checkpoints")) in (None, 10)
  assert _records(workdir / "metrics.jsonl")[-1]["step"] <= 7


def test_sample_writes_large_requests_in_chunks_equal_to_one_draw(trained, tmp_path):
  out = tmp_path / "many.npy"
  num = sample.POINTS_CHUNK * 2 + 7
  assert sample.main(["sample", f"--workdir={trained}", f"--num={num}", f"--out={out}"]) == 0
  many = np.load(out, mmap_mode="r")
  assert many.shape == (num, 2) and many.dtype == np.float32 and np.all(np.isfinite(many))
  gan, state, scale = sample.load(str(trained))
  np.testing.assert_array_equal(many, sample.samples(gan, state, num, 0, True, scale))
  assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # No temporary left.
