r"""Stacked MNIST: 1,000 modes (three digits as colour channels), with and without packing.

Reproduces the Stacked MNIST mode-collapse benchmark of Metz et al. (2017) in the
protocol of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al., 2018): each
28x28x3 training image stacks three MNIST digits drawn independently, so there
are 1,000 digit triples (modes); evaluation draws 26,000 samples, classifies each
channel with the in-domain MNIST classifier (`python -m experiments.train_classifier`;
its accuracy on each channel of 10,000 stacked test images is recorded with every
evaluation) and reports how many of the 1,000 triples appear and the KL divergence
of their histogram from uniform. `pac=M` makes the discriminator judge packs of M
samples (PacDCGAN-M). Argument `setting=` picks one of two protocols:

* `veegan` (default): PacGAN's code of the VEEGAN protocol (`stacked_MNIST_experiments/
  VEEGAN_experiment`), the DCGAN of the TensorFlow DCGAN code
  (`gan_jax/models/tf_dcgan.py`: G projects z to 2x2x512 and upsamples through 4, 7,
  14 to 28 with 5x5 transposed convolutions; D 5x5 stride-2 convolutions with 64,
  128, 256, 512 channels), z ~ U(-1, 1)^100, Adam 2e-4 with beta1 0.5 for both,
  batch 64, the non-saturating loss, 50 epochs of 128,000 images drawn from all
  70,000 MNIST digits (train and test, `data.split="train+test"`), 100,000 steps,
  each one discriminator update and two generator updates on the same latents
  (`g_steps=2`), the tanh generator trained against images in [0, 1]
  (`data.scale="sigmoid"`, the reference's `X / 255`), scored every epoch.
  Differences from that code: it draws each run's 128,000 triples anew, here one
  fixed draw for every run; its epochs walk the images in one fixed order, here
  reshuffled each epoch; the digit reader is ours (`experiments.train_classifier`,
  99.2% here) and reads samples clipped to [0, 1] (its Keras classifier reads the raw
  tanh outputs, negatives included); its generator's batch-norm averages move at
  every training-mode pass (five an iteration, two of them only to print losses),
  here at the two updates. With `pac=M` both see 64 packs of M per batch, and the
  generator makes each pack's M members in M passes (batch statistics of 64 each);
  there each pass moves the averages in turn (M moves a call), here they move once, by
  the passes' mean.
* `metz`: the networks of Metz et al., whose discriminator is weak on purpose
  (`gan_jax/models/metz.py`: G 4x4x64 -> 7x7x32 -> 14x14x16 -> 28x28x8 -> 3
  channels; D 3x3 stride-2 convolutions with 2, 4, 8 channels, `d_size=quarter`,
  or 4, 8, 16, `d_size=half`, batch norm, LeakyReLU 0.3), z ~ N(0, I)^256, Adam
  2e-4 for D and 1e-4 for G with betas (0.5, 0.99), batch 128, one update each per
  step on the same latents, 500,000 steps (PacGAN's code of this protocol,
  `unrolled_GAN_experiment/D=0.25G`). Differences from that code: there every batch
  stacks freshly drawn digits (unlimited triples), here the 128,000 training
  images; its samples are drawn with batch norm in training mode (statistics of
  each batch of 128), here with the running averages; it scores 25,600 samples,
  here 26,000. With `pac=M` both see 128 packs of M per batch, and the generator
  makes each pack's M members in M passes.

Run (argument `dataset=stacked_mnist:DIR` builds the 128,000 training images from
the MNIST IDX files in DIR, or from TFDS "mnist" without `:DIR`; `pac=M`;
`setting=veegan|metz`; `d_size=quarter|half` for `metz`; `runlocal` is a 20-step check):

  python -m experiments.run \
      --config=configs/stacked_mnist.py:dataset=stacked_mnist:../shared/data/mnist \
      --workdir=/tmp/stacked
  python -m experiments.run \
      --config=configs/stacked_mnist.py:dataset=stacked_mnist:../shared/data/mnist,pac=2 \
      --workdir=/tmp/stacked_pac2
  python -m experiments.run \
      --config=configs/stacked_mnist.py:dataset=stacked_mnist:../shared/data/mnist,setting=metz \
      --workdir=/tmp/stacked_metz --config.num_seeds=3
  python -m experiments.evaluate --workdir=/tmp/stacked   # 26,000 samples

Expected (PacGAN's tables, mean +- standard error): `veegan`: its DCGAN 78.9 +- 6.5
modes, KL 4.50 +- 0.13, PacDCGAN2 1000.0 +- 0.0 and KL 0.06 +- 0.003 (10 trials;
VEEGAN's own table gives DCGAN 99 modes, KL 3.40). `metz`, D = 1/4 G: its DCGAN 78.5
+- 17.6 modes, KL 5.21 +- 0.19, PacDCGAN2 484.5 +- 33.0 and 2.61 +- 0.22 (50 trials;
Metz et al. report 30.6 +- 20.7 modes, KL 5.99 +- 0.42); D = 1/2 G: 487.7 +- 34.6,
KL 2.24 +- 0.15, and 840.7 +- 15.9, KL 1.00 +- 0.05. Measured: a `veegan` step of one
seed takes 3.2 s on a 2-core CPU under load; one discriminator and one generator update
take 0.65 s on the idle CPU (`python -m benchmarks.stacked_dcgan`; the setting's step adds
a second generator update): more than 18 hours a seed for 100,000 steps, so train it on an
accelerator. `metz` (D = 1/4 G), 3 seeds as one population, evaluated at step
10,000 of 500,000 (1.4-1.7 steps/s on 2 CPU cores, 112 minutes; results/
stacked_mnist_metz.json): 2, 3 and 41 modes, KL 6.35 +- 0.73: collapsed, as the papers'
weak discriminator is meant to, and short of PacGAN's 78.5 at this length.

References:
  Metz et al., 2017, "Unrolled Generative Adversarial Networks", ICLR.
  Srivastava et al., 2017, "VEEGAN: Reducing Mode Collapse in GANs using Implicit
    Variational Learning", NeurIPS.
  Lin et al., 2018, "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS; code: https://github.com/fjxmlzn/PacGAN.
"""

from configs import common
from gan_jax.models import metz

SETTINGS = ("veegan", "metz")


def get_config(arg=None):
  """The Stacked MNIST config; `arg`: "dataset=...", "pac=M", "setting=...", "d_size=...", "runlocal"."""
  args = common.parse_arg(arg, dataset="stacked_mnist", pac=1, setting="veegan",
                          d_size="quarter", runlocal=False)
  if not args.dataset.startswith("stacked_mnist"):
    raise ValueError(f"dataset={args.dataset}: this config trains on stacked_mnist[:DIR]")
  if args.setting not in SETTINGS:
    raise ValueError(f"setting={args.setting}: use one of {', '.join(SETTINGS)}")
  if args.d_size not in metz.DISCRIMINATOR_WIDTHS:
    raise ValueError(f"d_size={args.d_size}: use one of {', '.join(metz.DISCRIMINATOR_WIDTHS)}")
  if args.setting != "metz" and args.d_size != "quarter":
    raise ValueError(f"d_size={args.d_size} sizes the setting=metz discriminator; add setting=metz")
  config = common.get_config()
  common.set_dataset(config, args.dataset)
  config.model.pack = args.pac
  config.model.generator_passes = args.pac  # Each pack member in a pass of its own.
  if args.setting == "veegan":
    common.image_models(config, "tf_dcgan")
    config.data.split = "train+test"
    config.data.scale = "sigmoid"
    config.data.batch_size = 64 * args.pac  # 64 discriminator inputs (packs).
    config.model.latent_dim = 100
    config.model.latent = "uniform"
    config.g_optimizer = common.optimizer("adam", lr=2e-4, b1=0.5)
    config.d_optimizer = common.optimizer("adam", lr=2e-4, b1=0.5)
    config.g_steps = 2
    config.num_steps = 100_000
    config.eval_every = config.checkpoint_every = 2_000  # An epoch of 128,000 images.
  else:
    common.image_models(config, "metz", size=args.d_size)
    config.data.batch_size = 128 * args.pac  # 128 discriminator inputs (packs).
    config.model.latent_dim = 256
    config.g_optimizer = common.optimizer("adam", lr=1e-4, b1=0.5, b2=0.99)
    config.d_optimizer = common.optimizer("adam", lr=2e-4, b1=0.5, b2=0.99)
    config.num_steps = 500_000
    config.steps_per_call = 10
    config.eval_every = config.checkpoint_every = 10_000
  config.log_every = 100
  config.eval.num_samples = 26_000  # Every evaluation, in training too (VEEGAN's protocol).
  if args.runlocal:
    common.runlocal(config)
  return config
