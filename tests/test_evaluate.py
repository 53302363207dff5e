"""Tests of experiments.evaluation and the `python -m experiments.evaluate` command.

A tiny ring run evaluates to mode-coverage metrics with a protocol; a missing
workdir exits with status 2; the Parzen estimate ranks real digits above noise;
image metrics appear with a (fake, untrained) classifier checkpoint and are
skipped with one line without one; `--source=data` scores a run's training data
where the mathematics says what it must read; the discriminator's overfitting
metrics read what a discriminator that remembers its training images must give, and
each member's are its own discriminator's on its own stream, in `evaluate`'s record
and the runner's metrics.jsonl alike.
"""

import json
from pathlib import Path
import sys

import jax
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `experiments` and `configs` live at the repository root.

from configs import goodfellow_mnist  # pylint: disable=g-import-not-at-top,wrong-import-position
from configs import stacked_mnist  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import datasets  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import evaluate  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import evaluation  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import run  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import sample  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import workdir as workdirs  # pylint: disable=g-import-not-at-top
import gan_jax  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import data as gdata  # pylint: disable=g-import-not-at-top,wrong-import-position
from gan_jax import metrics as gmetrics  # pylint: disable=g-import-not-at-top,wrong-import-position

MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
MNIST_KEYS = {"parzen_log_likelihood", "parzen_std_error", "parzen_sigma",
              "parzen_best_log_likelihood", "parzen_best_sigma"}
CLASSIFIER_KEYS = {"frechet_distance", "kid_mean", "kid_std", "classifier_score",
                   "classifier_score_std", "precision", "recall", "class_coverage",
                   "class_kl_to_uniform"}

pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")


def test_evaluates_a_ring_run(tmp_path, capsys):
  workdir = tmp_path / "ring"
  assert run.main(["run", "--config=configs/ring.py:runlocal", "--config.model.g.hidden=(16,16)",
                   "--config.model.d.hidden=(16,16)", "--config.progress=False",
                   "--config.tensorboard=False", f"--workdir={workdir}"]) == 0
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--num_samples=300"]) == 0
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--raw"]) == 0
  records = [json.loads(line) for line in (workdir / "eval.jsonl").read_text().splitlines()]
  assert len(records) == 2
  first, second = records
  assert {"modes_covered", "high_quality_fraction", "kl_to_uniform"} <= set(first)
  assert first["step"] == 20 and 0 <= first["modes_covered"] <= 8
  assert first["protocol"]["num_samples"] == 300
  assert first["protocol"]["step"] == 20 and first["protocol"]["weights"] == "raw"
  assert second["protocol"]["num_samples"] == evaluation.PROTOCOL_SAMPLES["mixture"]
  assert "modes_covered" in capsys.readouterr().out
  # The runner logs the same metrics during training.
  logged = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert "modes_covered" in logged[-1]
  # An earlier checkpoint the run keeps, by its step; one it does not keep, refused.
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--step=10"]) == 0
  earlier = json.loads((workdir / "eval.jsonl").read_text().splitlines()[-1])
  assert earlier["step"] == earlier["protocol"]["step"] == 10
  capsys.readouterr()
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--step=15"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "no checkpoint of step 15" in err[0] and "10, 20" in err[0]
  # ring.py re-estimates the generator's batch-norm averages before it samples (PacGAN's
  # code); --bn_refresh_batches overrides the config, and says so in the protocol.
  assert first["protocol"]["bn_refresh_batches"] == 50
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--bn_refresh_batches=0"]) == 0
  assert "bn_refresh_batches" not in json.loads(
      (workdir / "eval.jsonl").read_text().splitlines()[-1])["protocol"]
  capsys.readouterr()
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--bn_refresh_batches=-1"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "--bn_refresh_batches must be >= 0" in err[0]
  # Larger refresh batches, recorded where they depart from the config's.
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--bn_refresh_batch_size=1000"]) == 0
  protocol = json.loads((workdir / "eval.jsonl").read_text().splitlines()[-1])["protocol"]
  assert protocol["bn_refresh_batch_size"] == 1000 and protocol["bn_refresh_batches"] == 50
  capsys.readouterr()
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--bn_refresh_batch_size=1"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "--bn_refresh_batch_size must be >= 2" in err[0]
  # A generator in passes refreshes in passes of >= 2 latents each.
  config = json.loads((workdir / "config.json").read_text())
  config["model"]["generator_passes"] = 2
  (workdir / "config.json").write_text(json.dumps(config))
  for size in (5, 2):
    assert evaluate.main(["evaluate", f"--workdir={workdir}",
                          f"--bn_refresh_batch_size={size}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.generator_passes=2 into passes of >= 2" in err[0]


def test_scores_the_training_data_in_place_of_the_generator(tmp_path, capsys):
  """A workdir needs only its config: each member's own fixed set is scored."""
  from configs import ring  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  workdir = tmp_path / "ring"
  workdir.mkdir()
  config = ring.get_config()
  (workdir / run.CONFIG_FILE).write_text(json.dumps(
      {**config.to_dict(), "population": [{"name": "seed=0", "seed": 0},
                                          {"name": "seed=3", "seed": 3}]}))
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--source=data"]) == 0
  assert "training data (2 members, 2500 examples each" in capsys.readouterr().out
  assert not (workdir / evaluate.EVAL_FILE).exists()  # no record takes it for samples
  (record,) = [json.loads(line)
               for line in (workdir / evaluate.DATA_EVAL_FILE).read_text().splitlines()]
  assert record["source"] == "data" and record["protocol"]["num_samples"] == 2500
  members = record["members"]
  # Each member's data is the stream its seed trains on.
  data = datasets.build_data(config, d_steps=config.d_steps)
  target = evaluation.make_target(config, data)
  for name, seed in (("seed=0", 0), ("seed=3", 3)):
    assert members[name] == evaluation.metrics_of(
        evaluation.training_examples(data.source.reseeded(seed), 2500), target)
  for metrics in members.values():
    # A 2-D Gaussian falls within 3 std of its centre with probability 1 - e^-4.5 = 0.9889;
    # 2,500 samples put 5 standard errors (0.0105) around it. The KL of a uniform
    # draw over 8 modes is about (8 - 1) / (2 * 2,500) = 0.0014.
    assert abs(metrics["high_quality_fraction"] - (1 - np.exp(-4.5))) < 0.0105
    assert metrics["modes_covered"] == 8 and metrics["kl_to_uniform"] < 0.01
  # Flags about a generator's samples are refused, and nothing is written.
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--source=data", "--step=10"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "drop --step" in err[0]
  assert len((workdir / evaluate.DATA_EVAL_FILE).read_text().splitlines()) == 1
  # A single run's record has no members.
  (workdir / run.CONFIG_FILE).write_text(json.dumps(config.to_dict()))
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--source=data",
                        "--num_samples=500"]) == 0
  single = json.loads((workdir / evaluate.DATA_EVAL_FILE).read_text().splitlines()[-1])
  assert "members" not in single and single["protocol"]["num_samples"] == 500
  assert single["modes_covered"] == 8


def test_training_examples_are_the_stream_in_order():
  images = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2, 1)
  source = gdata.ArrayDataset(images, batch_size=3, seed=5)
  examples = evaluation.training_examples(source, 7)
  stream = np.concatenate([source.batch_at(0), source.batch_at(1), source.batch_at(2)])[:7]
  np.testing.assert_array_equal(examples, gdata.to_float(stream, "sigmoid"))
  assert examples.min() >= 0 and examples.max() <= 1  # pixels as metrics_of takes them
  # The first epoch's order: no example twice.
  assert len(np.unique(examples.reshape(7, -1), axis=0)) == 7


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_user_errors_exit_2(tmp_path, capsys, make):
  workdir = tmp_path / "w"
  if make == "empty":
    workdir.mkdir()
  assert evaluate.main(["evaluate", f"--workdir={workdir}"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and str(workdir) in err[0]
  assert not (workdir / evaluate.EVAL_FILE).exists()


def test_draw_calls_the_generator_in_chunks_each_from_the_key_folded_with_its_index():
  calls = []

  def sample_fn(key, num):  # each row: its chunk's key as a number, and its place in the chunk
    calls.append(num)
    return np.stack([np.full(num, float(jax.random.uniform(key))), np.arange(num)], 1)

  key = jax.random.key(3)
  samples = evaluation.draw(sample_fn, key, 2500)
  assert samples.dtype == np.float32 and samples.shape == (2500, 2)
  assert calls == [1000] * 3  # one shape, one compilation; the last chunk's tail dropped
  for i in range(3):
    chunk = samples[1000 * i:1000 * (i + 1)]
    np.testing.assert_array_equal(chunk[:, 1], np.arange(len(chunk)))
    assert np.all(chunk[:, 0] == np.float32(jax.random.uniform(jax.random.fold_in(key, i))))
  # Any count of 1,000 or more draws the same first samples; fewer draw one chunk.
  np.testing.assert_array_equal(evaluation.draw(sample_fn, key, 1500), samples[:1500])
  calls.clear()
  assert evaluation.draw(sample_fn, key, 40).shape == (40, 2) and calls == [40]


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="no MNIST files in ../shared/data/mnist")
def test_parzen_ranks_real_digits_above_noise():
  train, _ = gdata.load_idx(MNIST_DIR, "train")
  test, _ = gdata.load_idx(MNIST_DIR, "test")
  target = evaluation.Target(
      "mnist", validation=train[-300:].reshape(300, -1).astype(np.float32) / 255.0,
      test=test[-500:])
  real = test[:1000].astype(np.float32) / 255.0
  noise = np.random.default_rng(0).uniform(size=real.shape).astype(np.float32)
  scores = {}
  for name, images in (("real", real), ("noise", noise)):
    metrics, protocol = evaluation.evaluate(images, target, image_scale="sigmoid", step=7)
    assert set(metrics) == MNIST_KEYS and protocol["step"] == 7
    scores[name] = metrics["parzen_log_likelihood"]
  assert scores["real"] > scores["noise"] + 100


def _write_idx(path: Path, array: np.ndarray) -> None:
  header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
  path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture(name="tiny_mnist")
def _tiny_mnist(tmp_path):
  """Random 'digits' in MNIST-format IDX files: 300 training and 200 test images."""
  rng = np.random.default_rng(0)
  directory = tmp_path / "mnist"
  directory.mkdir()
  for prefix, num in (("train", 300), ("t10k", 200)):
    _write_idx(directory / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (num, 28, 28)))
    _write_idx(directory / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, (num,)))
  return directory


def _mnist_target(directory, classifier_path, warnings):
  config = goodfellow_mnist.get_config(f"dataset=idx:{directory},runlocal")
  return evaluation.make_target(config, datasets.build_data(config, d_steps=1),
                                classifier_path=str(classifier_path), warn=warnings.append)


def test_image_metrics_with_a_classifier(tmp_path, tiny_mnist):
  classifier_path = tmp_path / "classifier"
  gmetrics.save_classifier(str(classifier_path), gmetrics.init_classifier(jax.random.key(0)))
  warnings = []
  target = _mnist_target(tiny_mnist, classifier_path, warnings)
  assert not warnings and target.kind == "mnist"
  images = np.random.default_rng(1).uniform(size=(100, 28, 28, 1)).astype(np.float32)
  metrics, protocol = evaluation.evaluate(images, target, image_scale="sigmoid")
  assert set(metrics) == MNIST_KEYS | CLASSIFIER_KEYS
  assert all(np.isfinite(v) for v in metrics.values())
  assert protocol["extractor"] == str(classifier_path)
  assert protocol["reference_size"] == 200 and "last 300 of the 300" in protocol["parzen_validation"]


def test_missing_classifier_says_so_and_computes_parzen(tmp_path, tiny_mnist):
  warnings = []
  target = _mnist_target(tiny_mnist, tmp_path / "no_classifier", warnings)
  assert len(warnings) == 1 and "experiments.train_classifier" in warnings[0]
  images = np.zeros((50, 28, 28, 1), np.float32)
  metrics, protocol = evaluation.evaluate(images, target, image_scale="sigmoid")
  assert set(metrics) == MNIST_KEYS and protocol["extractor"] is None


def test_inception_compares_an_npz_run_with_the_images_it_trains_on(tmp_path):
  # An archive has no test split: the reference is the training slice, so named.
  images = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3)
  np.savez(tmp_path / "d.npz", x=images)
  config = goodfellow_mnist.get_config("dataset=npz:" + str(tmp_path / "d.npz"))
  config.data.split = "train[:3]"
  reference, description = evaluation.inception_reference(config)
  np.testing.assert_array_equal(reference, images[:3, ..., None])
  assert description == "npz train[:3] split"


def test_stacked_mnist_counts_digit_triples():
  params = gmetrics.init_classifier(jax.random.key(0))
  target = evaluation.Target("stacked_mnist", classifier=params)
  images = np.random.default_rng(0).uniform(size=(64, 28, 28, 3)).astype(np.float32)
  metrics, _ = evaluation.evaluate(images, target, image_scale="sigmoid")
  assert set(metrics) == {"modes_covered", "kl_to_uniform", "channel_kl_to_uniform",
                          "digit_share_max", "digit_share_min", "confident_fraction"}
  assert 1 <= metrics["modes_covered"] <= 64
  assert 0.0 <= metrics["confident_fraction"] <= 1.0
  # The channels' dependence, the rest of the KL, is a KL itself: never negative (up to
  # float32 sums over 1,000 bins).
  assert metrics["kl_to_uniform"] >= metrics["channel_kl_to_uniform"] - 1e-3


def test_stacked_mnist_confident_fraction_is_the_share_of_channels_read_at_0_9():
  params = gmetrics.init_classifier(jax.random.key(0))
  # Logits 30x the initial ones: readings spread from about 0.4 to 1 over noise images.
  params["Dense_1"]["kernel"] = params["Dense_1"]["kernel"] * 30
  images = np.random.default_rng(0).uniform(size=(64, 28, 28, 3)).astype(np.float32)

  def stacked(params):
    target = evaluation.Target("stacked_mnist", classifier=params)
    return evaluation.evaluate(images, target, image_scale="sigmoid")[0]

  # Each channel read alone, as the reader reads a digit of MNIST.
  top = np.concatenate([np.asarray(gmetrics.classifier_features(
      params, images[..., c:c + 1])[1]).max(axis=1) for c in range(3)])
  # A near-tie at 0.9 may read otherwise on another CPU: allow one of the 192 channels.
  expected = np.mean(top >= evaluation.CONFIDENT_READ)
  assert 0.1 < expected < 0.9
  assert stacked(params)["confident_fraction"] == pytest.approx(expected, abs=1 / 192)
  # A reader biased to 3 by 50 logits reads every channel as a 3, at probability ~1.
  biased = jax.tree.map(lambda x: x, params)
  biased["Dense_1"]["bias"] = params["Dense_1"]["bias"].at[3].add(50.0)
  sure = stacked(biased)
  assert sure["confident_fraction"] == 1.0 and sure["digit_share_max"] == 1.0


def test_stacked_mnist_kl_splits_into_the_channels_digits_and_their_dependence():
  pairs = np.stack(np.meshgrid(np.arange(10), np.arange(10)), -1).reshape(100, 2)
  # Channel 0 always reads 1, the other two every pair once: all of the KL is channel 0's.
  ones = evaluation.triple_metrics(np.concatenate([np.ones((100, 1), int), pairs], 1))
  assert ones["modes_covered"] == 100
  np.testing.assert_allclose(ones["kl_to_uniform"], np.log(10), rtol=1e-6)
  np.testing.assert_allclose(ones["channel_kl_to_uniform"], np.log(10), rtol=1e-6)
  assert ones["digit_share_max"] == 1.0 and ones["digit_share_min"] == 0.0
  # Three equal channels: each reads every digit as often, so all of the KL is their
  # dependence (10 of 1,000 triples).
  same = evaluation.triple_metrics(np.repeat(np.arange(10)[:, None], 3, 1))
  assert same["modes_covered"] == 10
  np.testing.assert_allclose(same["kl_to_uniform"], np.log(100), rtol=1e-6)
  np.testing.assert_allclose(same["channel_kl_to_uniform"], 0.0, atol=1e-6)
  assert same["digit_share_max"] == same["digit_share_min"] == 0.1


def test_stacked_mnist_records_the_digit_readers_accuracy_per_channel(tmp_path, tiny_mnist):
  params = gmetrics.init_classifier(jax.random.key(0))
  classifier_path = tmp_path / "classifier"
  gmetrics.save_classifier(str(classifier_path), params)
  config = stacked_mnist.get_config(f"dataset=stacked_mnist:{tiny_mnist},runlocal")
  warnings = []
  target = evaluation.make_target(config, datasets.build_data(config, d_steps=1),
                                  classifier_path=str(classifier_path), warn=warnings.append)
  accuracy = target.protocol["classifier_channel_accuracy"]
  # An untrained reader is far under the protocols' 99%, and says so in one line.
  assert len(warnings) == 1 and "99%" in warnings[0] and "train_classifier" in warnings[0]
  # Channel c holds test digit l_c: reading each channel alone gives the same accuracies.
  images, labels = datasets.stacked_mnist(config, "test", num=evaluation.STACKED_ACCURACY_SIZE)
  for channel, value in enumerate(accuracy):
    truth = (labels // 10 ** (2 - channel)) % 10
    expected = gmetrics.classifier_accuracy(params, images[..., channel:channel + 1], truth)
    # The same reader on the same digits, batched differently: a near-tie may flip on
    # another CPU, so allow a few of the 10,000 readings.
    assert value == pytest.approx(expected, abs=3e-4)
  assert len(accuracy) == 3


def test_in_training_evaluations_refresh_batch_norm_as_the_config_asks():
  """ring.py's evaluator re-estimates the generator's batch-norm averages (50 passes)
  before it samples; each member with its own key; with 0 passes the state as trained."""
  from configs import ring  # pylint: disable=g-import-not-at-top
  from experiments import builders, records  # pylint: disable=g-import-not-at-top

  config = ring.get_config("runlocal")
  config.model.g.hidden, config.model.d.hidden = (8, 8), (8, 8)
  experiment = builders.build(config)
  state = experiment.init_state()
  evaluator = records.Evaluator(experiment)
  assert evaluator.refresh_batches == 50
  refreshed = evaluator.refreshed(state)
  before, after = (jax.tree.leaves(s.g_collections) for s in (state, refreshed))
  assert before and any(not np.array_equal(a, b) for a, b in zip(before, after))
  config.seed = 1
  other = records.Evaluator(builders.build(config), like=evaluator)
  assert not np.array_equal(jax.random.key_data(other.refresh_key),
                            jax.random.key_data(evaluator.refresh_key))
  config.eval.bn_refresh_batches = 0
  assert records.Evaluator(builders.build(config)).refreshed(state) is state


@pytest.mark.parametrize("pack, chunk", [(1, 1000), (3, 64)])
def test_discriminator_metrics_of_one_that_remembers_its_training_images(
    tmp_path, tiny_mnist, monkeypatch, pack, chunk):
  # A discriminator that scores the images it trained on 2, other real images 0 and
  # anything else -2 (the samples): r_v = (2 - 0) / (2 + 2) = 0.5,
  # r_t = 1, and every training image outscores every test one. Packs score the mean of
  # their images; 151 images make 50 whole packs of 3, the last image left out (scoring
  # it would add a -2 to each mean).
  monkeypatch.setattr(evaluation, "CHUNK", chunk)
  target = _mnist_target(tiny_mnist, tmp_path / "no_classifier", [])
  config = goodfellow_mnist.get_config(f"dataset=idx:{tiny_mnist},runlocal")
  source = datasets.build_data(config, d_steps=1, whole_batch=True).source
  seen = {image.tobytes() for image in gdata.to_float(gdata.load_idx(tiny_mnist, "train")[0],
                                                      "sigmoid")}
  unseen = {image.tobytes() for image in gdata.to_float(target.test, "sigmoid")}

  def logits_fn(x):
    scores = np.array([2.0 if image.tobytes() in seen else 0.0 if image.tobytes() in unseen
                       else -2.0 for image in np.asarray(x, np.float32)])
    return scores.reshape(-1, pack).mean(axis=1)

  fake = np.full((151, 28, 28, 1), 0.5, np.float32)
  common = dict(image_scale="sigmoid", pack=pack)
  metrics, protocol = evaluation.discriminator_metrics(
      logits_fn, fake, source, target, training_split="train", **common)
  assert metrics == {"d_train": 2.0, "d_held_out": 0.0, "d_fake": -2.0, "r_v": 0.5, "r_t": 1.0,
                     "train_held_out_auc": 1.0}
  assert protocol["num_images"] == 151 - 151 % pack and protocol.get("pack", 1) == pack
  # No unseen test images (Stacked MNIST, a toy, a run on the test split), or fewer
  # images than a pack: no metrics.
  for other, split, num in ((evaluation.Target("mixture"), "train", 151),
                            (target, "train+test", 151), (target, "train", pack - 1)):
    assert evaluation.discriminator_metrics(
        logits_fn, fake[:num], source, other, training_split=split, **common) == ({}, {})


def test_evaluate_scores_each_members_discriminator_on_its_own_stream(tmp_path, tiny_mnist):
  workdir = tmp_path / "run"
  config = f"--config=configs/goodfellow_mnist.py:dataset=idx:{tiny_mnist},runlocal"
  assert run.main(["run", config, "--config.num_seeds=2", "--config.progress=False",
                   "--config.tensorboard=False", f"--workdir={workdir}"]) == 0
  for extra in ([], ["--discriminator=false"]):
    assert evaluate.main(["evaluate", f"--workdir={workdir}", "--num_samples=40",
                          f"--classifier={tmp_path / 'none'}", *extra]) == 0
  lines = (workdir / "eval.jsonl").read_text().splitlines()
  scored, without = [json.loads(line) for line in lines]
  assert MNIST_KEYS <= set(without) and not {"d_train", "r_v"} & set(without)
  assert "discriminator" not in without["protocol"]
  assert scored["protocol"]["discriminator"]["num_images"] == 40
  # Each member's mean is its own discriminator's on the first images of its own stream
  # (its seed's order of the 300 training images): 40 for evaluate, and for the runner's
  # last evaluation (in each member's metrics.jsonl) as many as the config evaluates.
  saved = workdirs.saved_config(str(workdir))
  gan, state, scale = sample.load(str(workdir))
  source = datasets.build_data(saved, d_steps=1, whole_batch=True).source
  num_logged = min(saved.eval.num_samples, 200)
  means = []
  for index, (name, seed) in enumerate((("seed=0", 0), ("seed=1", 1))):
    stream = source.reseeded(seed)
    images = gdata.to_float(np.concatenate([stream.batch_at(i) for i in range(20)]), scale)
    member = sample.member_state(state, index)
    means.append(float(np.mean(gan_jax.discriminate(gan, member, images[:40]))))
    tolerance = dict(rel=1e-4, abs=2e-6)  # float32 sums in other orders
    assert scored["members"][name]["d_train"] == pytest.approx(means[-1], **tolerance)
    logged = json.loads((workdir / "members" / name / "metrics.jsonl").read_text()
                        .splitlines()[-1])
    assert {"d_held_out", "d_fake", "r_v", "train_held_out_auc"} <= set(logged)
    assert logged["d_train"] == pytest.approx(
        float(np.mean(gan_jax.discriminate(gan, member, images[:num_logged]))), **tolerance)
  assert scored["d_train"] == pytest.approx(np.mean(means), rel=1e-4, abs=2e-6)
  assert 0 <= scored["train_held_out_auc"] <= 1 and -1 <= scored["r_t"] <= 1
