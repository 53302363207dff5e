"""Data parallelism, multiple processes and populations give the single-run answer."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import optax
import pytest

import gan_jax as gj
from gan_jax import data, models, parallel

PROGRAMS = str(pathlib.Path(__file__).with_name("parallel_programs.py"))


def launch(*args, devices=1):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
             PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[1]))
  return subprocess.Popen(
      [sys.executable, PROGRAMS, *map(str, args)], env=env, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True,
  )


def finish(proc, timeout=240):
  out, err = proc.communicate(timeout=timeout)
  return proc.returncode, out, err


def free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_data_parallel_step_and_sharded_population_on_8_devices_equal_one_device(tmp_path):
  out = tmp_path / "dp.npz"
  code, _, err = finish(launch("data_parallel", out, devices=8))
  assert code == 0, err[-3000:]
  result = np.load(out)
  assert int(result["shards"]) == 8  # the state really lives on 8 devices
  assert int(result["pop_shards"]) == 8  # and so do the population's members
  np.testing.assert_allclose(result["m8"], result["m1"], rtol=1e-5)
  for name in result.files:
    if name.startswith("single/"):
      np.testing.assert_allclose(
          result["sharded/" + name[7:]], result[name], rtol=1e-5, atol=1e-6, err_msg=name
      )


def test_two_processes_reach_the_parameters_of_one(tmp_path):
  coordinator = f"127.0.0.1:{free_port()}"
  procs = [launch("process", tmp_path / f"two{i}.npz", coordinator, 2, i) for i in range(2)]
  single = launch("process", tmp_path / "one.npz", "none", 1, 0)
  for proc in procs + [single]:
    code, _, err = finish(proc)
    assert code == 0, err[-3000:]
  two, one = np.load(tmp_path / "two0.npz"), np.load(tmp_path / "one.npz")
  assert two.files == one.files
  for name in one.files:
    np.testing.assert_allclose(two[name], one[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_survivor_exits_with_a_clear_error_when_a_peer_dies(tmp_path):
  coordinator = f"127.0.0.1:{free_port()}"
  survivor = launch("process", tmp_path / "x.npz", coordinator, 2, 0, 2)
  victim = launch("process", tmp_path / "y.npz", coordinator, 2, 1, 2)
  assert finish(victim)[0] == 1
  died = time.monotonic()
  code, _, err = finish(survivor, timeout=120)
  assert code == 1
  assert time.monotonic() - died < 60  # bounded: no hang in the collective
  assert "another process has probably died" in err


# Populations ---------------------------------------------------------------------

HPARAMS = [
    {"lr": 1e-2, "momentum": 0.5, "gp": 10.0, "ema": 0.9},
    {"lr": 3e-2, "momentum": 0.0, "gp": 1.0, "ema": 0.5},
    {"lr": 5e-3, "momentum": 0.9, "gp": 0.0, "ema": 0.99},
]
SEEDS = [0, 1, 2]
BATCH = 16


def build_gan(h):
  return gj.GAN(
      generator=models.mlp_generator(2, hidden=(16,)),
      discriminator=models.mlp_discriminator(hidden=(16,)),
      g_optimizer=optax.chain(optax.sgd(h["lr"], momentum=h["momentum"]), gj.ema_params(h["ema"])),
      d_optimizer=optax.sgd(h["lr"], momentum=h["momentum"]),
      game=gj.games.wasserstein(),
      latent_dim=2,
  )


def build_step(h):
  return gj.make_train_step(
      build_gan(h), d_steps=2, penalty=gj.penalties.gradient_penalty, penalty_weight=h["gp"]
  )


def member_batches(seed, step):
  return data.SyntheticDataset(data.grid(), batch_size=2 * BATCH, seed=seed).batch_at(step)


def test_population_members_equal_their_standalone_runs():
  example = member_batches(0, 0)
  hparams = parallel.stack_hparams(HPARAMS)
  keys = jax.vmap(jax.random.key)(np.asarray(SEEDS))
  states = parallel.init_population(lambda k, h: gj.init_state(build_gan(h), k, example), keys, hparams)
  pop_step = jax.jit(parallel.make_population_step(build_step))
  for step in range(3):
    batches = np.stack([member_batches(s, step) for s in SEEDS])
    step_keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s + 100), step))(np.asarray(SEEDS))
    states, metrics = pop_step(states, batches, step_keys, hparams)
  assert metrics["d_loss"].shape == (3,)

  for i, (seed, h) in enumerate(zip(SEEDS, HPARAMS)):
    gan = build_gan(h)
    state = gj.init_state(gan, jax.random.key(seed), example)
    step_fn = jax.jit(build_step(h))
    for step in range(3):
      state, _ = step_fn(state, member_batches(seed, step), jax.random.fold_in(jax.random.key(seed + 100), step))
    member = jax.tree.map(lambda x: x[i], states)
    for got, want in zip(jax.tree.leaves(member), jax.tree.leaves(state)):
      np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_stack_hparams_rejects_members_with_different_keys():
  with pytest.raises(ValueError, match="same hyperparameters"):
    parallel.stack_hparams([{"lr": 1.0}, {"gp": 1.0}])


# The runner ---------------------------------------------------------------------

REPO = pathlib.Path(__file__).resolve().parents[1]


# The runs are compared across layouts, i.e. different programs: SGD with momentum keeps
# rounding differences at rounding size (Adam's first steps, ~lr * sign(g), would turn
# them into +-lr for any parameter whose exact gradient is zero).
LINEAR_UPDATES = ("--config.g_optimizer.name=sgd", "--config.d_optimizer.name=sgd",
                  "--config.g_optimizer.lr=0.01", "--config.d_optimizer.lr=0.01",
                  "--config.g_optimizer.momentum=0.9", "--config.d_optimizer.momentum=0.9")


def run_experiment(workdir, *extra, devices=1):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  return subprocess.Popen(
      [sys.executable, "-m", "experiments.run", "--config=configs/ring.py:runlocal",
       f"--workdir={workdir}", "--config.progress=false", "--config.model.g.hidden=(32,32)",
       "--config.model.d.hidden=(32,32)", *LINEAR_UPDATES, *extra],
      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
  )


def logged_losses(workdir):
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return [(r["step"], r["d_loss"], r["g_loss"]) for r in records if "d_loss" in r]


@pytest.fixture(scope="module", name="one_process")
def _one_process(tmp_path_factory):
  """A 3-seed population in one process, the reference of the layouts below.

  Each member logs its standalone run (tests/test_populations.py), so member seed=0
  is also the single run of seed 0.
  """
  workdir = tmp_path_factory.mktemp("one_process") / "one"
  code, _, err = finish(run_experiment(workdir, "--config.num_seeds=3"))
  assert code == 0, err[-3000:]
  return workdir


def test_runner_on_two_processes_with_two_devices_each_logs_the_single_run(tmp_path, one_process):
  coordinator = f"127.0.0.1:{free_port()}"
  procs = [
      run_experiment(tmp_path / "two", f"--coordinator_address={coordinator}",
                     "--num_processes=2", f"--process_id={i}", devices=2)
      for i in range(2)
  ]
  for proc in procs:
    code, _, err = finish(proc)
    assert code == 0, err[-3000:]
  one = member_losses(one_process, "seed=0")
  assert [s for s, _, _ in one] == [10, 20]
  # Two tolerances: two processes against one run, one run against a population member.
  np.testing.assert_allclose(np.asarray(logged_losses(tmp_path / "two")), np.asarray(one),
                             rtol=2e-5)


def member_losses(workdir, member):
  return logged_losses(workdir / "members" / member)


def test_runner_population_split_by_member_or_by_batch_over_4_devices(tmp_path, one_process):
  procs = [
      run_experiment(tmp_path / "members", "--config.num_seeds=4", devices=4),  # 1 per device
      run_experiment(tmp_path / "rows", "--config.num_seeds=3", devices=4),  # batches split
  ]
  for proc in procs:
    code, _, err = finish(proc)
    assert code == 0, err[-3000:]
  for member in ("seed=0", "seed=1", "seed=2"):
    one = np.asarray(member_losses(one_process, member))
    assert one[:, 0].tolist() == [10, 20]
    for layout in ("members", "rows"):
      np.testing.assert_allclose(np.asarray(member_losses(tmp_path / layout, member)), one,
                                 rtol=1e-5, err_msg=f"{layout} {member}")


def test_runner_population_split_over_two_processes_equals_one_process(tmp_path, one_process):
  coordinator = f"127.0.0.1:{free_port()}"
  procs = [
      run_experiment(tmp_path / "two", "--config.num_seeds=2",
                     f"--coordinator_address={coordinator}", "--num_processes=2",
                     f"--process_id={i}")
      for i in range(2)
  ]
  for proc in procs:
    code, _, err = finish(proc)
    assert code == 0, err[-3000:]
  for member in ("seed=0", "seed=1"):  # The first two of one process's three.
    np.testing.assert_allclose(np.asarray(member_losses(tmp_path / "two", member)),
                               np.asarray(member_losses(one_process, member)), rtol=2e-5)
