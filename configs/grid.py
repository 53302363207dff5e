r"""2-D grid of 25 Gaussians in PacGAN's protocol (Lin et al. 2018, Table 1).

The setting of configs/ring.py (PacGAN's `synthetic_data_experiments/2DGrid_GAN&PacGAN`)
on 25 Gaussians of std 0.05 at the means {-4, -2, 0, 2, 4}^2: a fixed set of 100,000
points in 100,000 fixed packs, the batch-norm generator MLP of 4 x 400 units (epsilon
1e-4), the 3-layer maxout discriminator (200 units, 5 pieces), weights N(0, 0.02^2),
Adam 1e-4 with beta1 0.8, simultaneous updates, batch 100, 400,000 steps; 2,500 samples,
high quality within 3 std. The differences that remain are those listed in
configs/ring.py. The records results/grid.json (10 seeds) and results/grid_pac4.json
trained on fresh points every step with epsilon 1e-5, this config's defaults when they
were made (`--config.data.fixed_points=0 --config.model.g.batch_norm_epsilon=1e-5`).

Run (arguments: `pac=M` packs M samples per discriminator input; `steps=N` a shorter
run; `runlocal` a 20-step check):

  python -m experiments.run --config=configs/grid.py --workdir=/tmp/grid --config.num_seeds=3
  python -m experiments.run --config=configs/grid.py:pac=4 --workdir=/tmp/grid_pac4

Expected: PacGAN Table 1 (mean +- standard error over 10 trials): GAN 17.3 +- 0.8 modes
and 94.8 +- 0.7% high-quality samples (KL 0.70 +- 0.07); PacGAN4 24.8 +- 0.2, 93.6 +-
0.6% and KL 0.04 +- 0.01. About 80 steps/s a seed on a 2-core CPU (80 minutes a run); a
3-seed population with its evaluations 35-37 on an AMD EPYC, 43-60 alone on an Intel
Xeon (2-3 hours). Measured over 6 seeds at 400k on an Intel Xeon
(results/grid_reference_data.json, two populations of 3): 17.2 +- 2.7 modes
(17/20/17/21/15/13), 94.3 +- 1.9% high quality and KL 0.66 +- 0.22, all three inside
PacGAN's +- 2 SE. On fresh points with epsilon 1e-5, over 10 seeds at 400k
(results/grid.json): 14.8 +- 2.8 modes (below PacGAN's +- 2 SE, 15.7-18.9; 16.0 on the
AMD EPYC's 6 seeds, 13.0 on the Intel Xeon's 4) and 95.1 +- 1.8% high quality (inside);
over the runs' own evaluations from 100k on a seed there covers 16.1 modes, against 17.3
for the reference's set and epsilon, 1.0 standard error apart. PacGAN4 there (`pac=4`,
20-23 steps/s for 3 seeds on an Intel Xeon, about 5.2 hours) over 3 seeds at 400k
(results/grid_pac4.json): 24.7 +- 0.5 modes (25/25/24), 94.3 +- 0.8% high quality and KL
0.05 +- 0.03, all three inside PacGAN4's +- 2 SE; its high quality climbs slowly (75% at
100k, 90% at 200k, 93-95% from 280k on).

References:
  Srivastava et al., 2017, "VEEGAN: Reducing Mode Collapse in GANs using Implicit
    Variational Learning", NeurIPS.
  Lin et al., 2018, "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS.
"""

from configs import ring


def get_config(arg=None):
  """The grid config; `arg` is "pac=M" and/or "runlocal"."""
  return ring.protocol_config("grid", arg, num_steps=400_000)


def get_sweep(arg=None):
  """PacGAN's comparison: packing degree 1 (plain GAN) to 4, three seeds each."""
  return ring.get_sweep(arg)
