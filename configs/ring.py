r"""2-D ring of 8 Gaussians in the VEEGAN/PacGAN protocol.

Reproduces the 2-D ring experiment of Srivastava et al. (2017), Table 1, in the
setting PacGAN (Lin et al., 2018, Table 2) reran with packing: 8 Gaussians of std
0.01 evenly spaced on a circle of radius 1; a generator MLP of 4 ReLU layers of
400 units on a 2-D normal latent; a discriminator MLP of 3 ReLU layers of 200
units (the papers use maxout units); Adam 1e-4 with beta1 0.5; batch 100; the
non-saturating loss. Evaluation draws 2,500 samples: a sample is high quality
within 3 std of a mode, a mode is covered when it has a high-quality sample.

Run (arguments: `pac=M` packs M samples per discriminator input, as PacGAN does;
`runlocal` shrinks everything to a 20-step check):

  python -m experiments.run --config=configs/ring.py --workdir=/tmp/ring
  python -m experiments.run --config=configs/ring.py:pac=2 --workdir=/tmp/ring_pac2

Expected on a 2-core CPU (measured, seed 0): 20,000 steps in about 2.5 minutes;
all 8 modes covered from step 5,000 on, 75-95% high-quality samples and a KL to
uniform below 0.1 at steps 10,000-20,000 (metrics.jsonl: "modes_covered",
"high_quality_fraction", "kl_to_uniform"); samples/step_020000.png shows 8 tight
clusters on the circle. With `pac=2`: 8 modes, 79% high-quality samples and a KL
to uniform of 0.13 at step 20,000 (2.5 minutes of CPU time). The papers report 8
modes for their best models.

References:
  Srivastava et al., 2017, "VEEGAN: Reducing Mode Collapse in GANs using Implicit
    Variational Learning", NeurIPS.
  Lin et al., 2018, "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS.
"""

from configs import common
from experiments import sweeps


def get_config(arg=None):
  """The ring config; `arg` is "pac=M" and/or "runlocal"."""
  return protocol_config("ring", arg, num_steps=20_000)


def protocol_config(dataset: str, arg, *, num_steps: int):
  """The VEEGAN/PacGAN setting on `dataset` ("ring" or "grid")."""
  args = common.parse_arg(arg, pac=1, runlocal=False)
  config = common.get_config()
  common.set_dataset(config, dataset)
  config.data.batch_size = 100
  config.model.latent_dim = 2
  config.model.g.hidden = (400, 400, 400, 400)
  config.model.d.hidden = (200, 200, 200)
  config.model.pack = args.pac
  config.g_optimizer = common.optimizer("adam", lr=1e-4, b1=0.5)
  config.d_optimizer = common.optimizer("adam", lr=1e-4, b1=0.5)
  config.num_steps = num_steps
  config.steps_per_call = 100  # A small MLP: fuse steps to save dispatches.
  config.log_every = 500
  config.eval_every = config.checkpoint_every = 5_000
  if args.runlocal:
    common.runlocal(config)
  return config


def get_sweep(arg=None):
  """PacGAN's comparison: packing degree 1 (plain GAN) to 4, three seeds each."""
  del arg
  return sweeps.product(sweeps.axis("model.pack", [1, 2, 3, 4]), sweeps.axis("seed", [0, 1, 2]))
