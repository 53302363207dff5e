r"""2-D grid of 25 Gaussians in the VEEGAN/PacGAN protocol.

Reproduces the 2-D grid experiment of Srivastava et al. (2017), Table 1, as rerun
by PacGAN (Lin et al., 2018, Table 2): 25 Gaussians of std 0.05 at the means
{-4, -2, 0, 2, 4}^2; a generator MLP of 4 ReLU layers of 400 units on a 2-D
normal latent; a discriminator MLP of 3 ReLU layers of 200 units (the papers use
maxout units); Adam 1e-4 with beta1 0.5; batch 100; the non-saturating loss.
Evaluation draws 2,500 samples: a sample is high quality within 3 std of a mode,
a mode is covered when it has a high-quality sample.

Run (arguments: `pac=M` packs M samples per discriminator input, as PacGAN does;
`runlocal` shrinks everything to a 20-step check):

  python -m experiments.run --config=configs/grid.py --workdir=/tmp/grid
  python -m experiments.run --config=configs/grid.py:pac=2 --workdir=/tmp/grid_pac2

Expected on a 2-core CPU (measured, seed 0): 30,000 steps in about 4 minutes;
about 20 of the 25 modes covered and 40-50% high-quality samples at steps
25,000-30,000 (metrics.jsonl: "modes_covered", "high_quality_fraction",
"kl_to_uniform"). PacGAN reports about 17 modes for a plain GAN in its setting
and about 23 with packing.

References:
  Srivastava et al., 2017, "VEEGAN: Reducing Mode Collapse in GANs using Implicit
    Variational Learning", NeurIPS.
  Lin et al., 2018, "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS.
"""

from configs import ring


def get_config(arg=None):
  """The grid config; `arg` is "pac=M" and/or "runlocal"."""
  return ring.protocol_config("grid", arg, num_steps=30_000)


def get_sweep(arg=None):
  """PacGAN's comparison: packing degree 1 (plain GAN) to 4, three seeds each."""
  return ring.get_sweep(arg)
