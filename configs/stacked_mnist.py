r"""Stacked MNIST: 1,000 modes (three digits as colour channels), with and without packing.

Reproduces the Stacked MNIST mode-collapse benchmark of Metz et al. (2017) in the
protocol of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018): each
28x28x3 training image stacks three MNIST digits drawn independently, so there
are 1,000 digit triples (modes); evaluation draws 26,000 samples, classifies each
channel with the in-domain MNIST classifier (`python -m experiments.train_classifier`)
and reports how many of the 1,000 triples appear and the KL divergence of their
histogram from uniform. The networks are DCGAN's (`dcgan.py`) with three
channels, Adam 2e-4 with beta1 0.5, batch 64, a 100-D normal latent, the
non-saturating loss. `pac=2` makes the discriminator judge packs of two samples
(PacDCGAN2).

Run (argument `dataset=stacked_mnist:DIR` builds the 128,000 training images from
the MNIST IDX files in DIR, or from TFDS "mnist" without `:DIR`; `pac=M`;
`runlocal` is a 20-step check):

  python -m experiments.run \
      --config=configs/stacked_mnist.py:dataset=stacked_mnist:../shared/data/mnist \
      --workdir=/tmp/stacked
  python -m experiments.run \
      --config=configs/stacked_mnist.py:dataset=stacked_mnist:../shared/data/mnist,pac=2 \
      --workdir=/tmp/stacked_pac2
  python -m experiments.evaluate --workdir=/tmp/stacked   # 26,000 samples

Expected: PacGAN's Table 3 reports (its own runs of the VEEGAN protocol) 99 modes
and KL 3.40 for DCGAN, 1,000 modes and KL 0.06 for PacDCGAN2. Measured on a
2-core CPU (seed 0, 5,000 steps, about 15 minutes): all 1,000 modes, KL 0.29; this
full-width DCGAN does not collapse. With a quarter-width discriminator
(`--config.model.d.base_features=16`, as Metz et al. shrink it to provoke
collapse): 937 modes, KL 0.58, and 935 modes, KL 0.75 with `pac=2`.

References:
  Metz et al., 2017, "Unrolled Generative Adversarial Networks", ICLR.
  Srivastava et al., 2017, "VEEGAN: Reducing Mode Collapse in GANs using Implicit
    Variational Learning", NeurIPS.
  Lin et al., 2018, "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS.
"""

from configs import common


def get_config(arg=None):
  """The Stacked MNIST config; `arg` is "dataset=stacked_mnist[:DIR]", "pac=M", "runlocal"."""
  args = common.parse_arg(arg, dataset="stacked_mnist", pac=1, runlocal=False)
  if not args.dataset.startswith("stacked_mnist"):
    raise ValueError(f"dataset={args.dataset}: this config trains on stacked_mnist[:DIR]")
  config = common.get_config()
  common.set_dataset(config, args.dataset)
  common.image_models(config, "dcgan")
  config.model.pack = args.pac
  config.data.batch_size = 64
  config.model.latent_dim = 100
  config.g_optimizer = common.optimizer("adam", lr=2e-4, b1=0.5)
  config.d_optimizer = common.optimizer("adam", lr=2e-4, b1=0.5)
  config.num_steps = 20_000
  config.log_every = 100
  config.eval_every = config.checkpoint_every = 1_000
  if args.runlocal:
    common.runlocal(config)
  return config
