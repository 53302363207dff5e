r"""Unrolled GAN on the 2-D ring of 8 Gaussians of Metz et al.

Reproduces the mixture experiment of Metz et al. (2017), Section 3.1 and
Appendix A: 8 Gaussians of std 0.02 on a circle of radius 2; a generator MLP of 2
ReLU layers of 128 units on a 256-D normal latent; a discriminator MLP of 1 ReLU
layer of 128 units; Adam with beta1 0.5, learning rates 1e-3 (generator) and 1e-4
(discriminator), batch 512 and 25,000 steps (as in the authors' notebook,
`poolio/unrolled_gan`); K = 10 differentiable discriminator updates (Adam's own, on
the step's fixed minibatch) between the generator and its loss (`unroll=0` trains
the plain GAN baseline of the same game). The
generator minimises the paper's f_K (eq. 10): the minimax value E log D(x) +
E log(1 - D(G(z))) against the discriminator after the K updates, data term
included, since those updates depend on the generator (the notebook minimises the
same); `--config.game=non_saturating` takes -log D(G(z)) against it instead.

Run (arguments: `unroll=K`; `runlocal` is a 20-step check):

  python -m experiments.run --config=configs/unrolled.py --workdir=/tmp/unrolled
  python -m experiments.run --config=configs/unrolled.py:unroll=0 --workdir=/tmp/unrolled0

Expected on a 2-core CPU (measured on an AMD EPYC, 6 seeds): 25,000 steps in about 6
minutes a seed (a 3-seed population: 13 minutes beside another run); the modes are
found one by one (the runs' own evaluations, mean over the seeds: 0.7, 2.8, 5.0, 7.0
and 7.5 modes at 5k-25k). At 25,000 steps 5 of 6 seeds cover all 8 modes (seed 2
covers 5), 14-51% of the samples high quality, within 3 std
(results/unrolled_minimax.json); trained on to 50,000 steps
(`--config.num_steps=50000`), 5 of 6 cover all 8 there, 18-65% high quality (seed 5
drops between 6 and 8 modes from 30,000 on; results/unrolled_minimax_50k.json). The
non-saturating loss reads the same at 25,000 steps: 5 of 6 seeds at 8 modes (seed 3
at 7), 6-48% high quality (results/unrolled.json); on an Intel Xeon, whose kernels
sum in another order, its seed 2 covers 5 at 25,000 and all 8 from 35,000 on.
With `unroll=0` (the same objective without the look-ahead; 4 minutes for 3 seeds)
the plain GAN covers 0-1 modes on average over 3 seeds at each of its evaluations to
20,000 steps and 5, 0 and 4 at 25,000 (results/unrolled_k0.json), not the one mode at
a time of the paper's Figure 1: seed 1's discriminator wins outright and the minimax
loss's gradient vanishes (its d_loss 5e-6 at 25,000). With the non-saturating
loss (`:unroll=0 --config.game=non_saturating`) the generator covers at most one mode
at every evaluation, hopping between modes as in the paper's Figure 1.

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
