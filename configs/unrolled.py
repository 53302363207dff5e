r"""Unrolled GAN on the 2-D ring of 8 Gaussians of Metz et al.

Reproduces the mixture experiment of Metz et al. (2017), Section 3.1 and
Appendix A: 8 Gaussians of std 0.02 on a circle of radius 2; a generator MLP of 2
ReLU layers of 128 units on a 256-D normal latent; a discriminator MLP of 1 ReLU
layer of 128 units; Adam with beta1 0.5, learning rates 1e-3 (generator) and 1e-4
(discriminator); batch 512; the generator's loss taken through K = 10
differentiable discriminator updates (`unroll=0` trains the plain GAN baseline,
which hops from mode to mode instead of covering them).

Run (arguments: `unroll=K`; `runlocal` is a 20-step check):

  python -m experiments.run --config=configs/unrolled.py --workdir=/tmp/unrolled
  python -m experiments.run --config=configs/unrolled.py:unroll=0 --workdir=/tmp/unrolled0

Expected on a 2-core CPU (measured): 25,000 steps in about 6 minutes a seed with K =
10 (a 3-seed population: 15 minutes on an AMD EPYC, 12 on an Intel Xeon); the modes are
found one by one. At 25,000 steps all 8 are covered on seeds 0-2 on an AMD EPYC
(34-48% high-quality samples, within 3 std); on an Intel Xeon, whose kernels sum in
another order, seed 2 covers 5 and high quality reads 11-29% (README, Results), and
trained on (`--config.num_steps=60000`) every seed covers all 8 from 35,000 steps on,
with high quality 51-62% at 60,000. With `unroll=0` (2 minutes) the generator
covers at most one mode at every evaluation, hopping between modes as in the paper's
Figure 1.

References:
  Metz et al., 2017, "Unrolled Generative Adversarial Networks", ICLR.
"""

import ml_collections

from configs import common
from experiments import sweeps


def get_config(arg=None):
  """The unrolled GAN config; `arg` is "unroll=K" and/or "runlocal"."""
  args = common.parse_arg(arg, unroll=10, runlocal=False)
  if args.unroll < 0:
    raise ValueError(f"unroll={args.unroll}: use K >= 1 unrolling steps, or 0 for a plain GAN")
  config = common.get_config()
  common.set_dataset(config, "ring")
  config.data.params = ml_collections.ConfigDict(dict(num_modes=8, radius=2.0, std=0.02))
  config.data.batch_size = 512
  config.model.latent_dim = 256
  config.model.g.hidden = (128, 128)
  config.model.d.hidden = (128,)
  # The paper's objective: G minimises f_K, the minimax value after K updates of D.
  config.game = "minimax"
  if args.unroll:
    config.update_rule = "unrolled"
    config.unroll_steps = args.unroll
  config.g_optimizer = common.optimizer("adam", lr=1e-3, b1=0.5)
  config.d_optimizer = common.optimizer("adam", lr=1e-4, b1=0.5)
  config.num_steps = 25_000
  config.steps_per_call = 100
  config.log_every = 500
  config.eval_every = config.checkpoint_every = 5_000
  if args.runlocal:
    common.runlocal(config)
  return config


def get_sweep(arg=None):
  """The paper's Figure 1 comparison: no unrolling against 5 and 10 steps."""
  del arg
  return [
      {"update_rule": "alternating"},
      *sweeps.product(sweeps.axis("update_rule", ["unrolled"]),
                      sweeps.axis("unroll_steps", [5, 10])),
  ]
