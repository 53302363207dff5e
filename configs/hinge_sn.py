r"""SNGAN: the hinge loss with a spectrally normalised discriminator.

Reproduces Miyato et al. (2018): every discriminator layer spectrally normalised
(one power iteration per update), the hinge loss, Adam with learning rate 2e-4
and betas (0, 0.9), 5 discriminator updates per generator update, batch 64, a
128-D normal latent. `arch=resnet` (the default for 32x32 and 64x64 images) is
the paper's CIFAR-10 ResNet pair; `arch=cnn` (the default for 28x28) is a DCGAN
generator with batch norm and a DCGAN discriminator with spectral norm and no
batch norm, close to the paper's "standard CNN".

Run (argument `dataset=` as in dcgan.py; `arch=resnet|cnn`; `runlocal` is a
20-step check):

  python -m experiments.run --config=configs/hinge_sn.py:dataset=cifar10 --workdir=/tmp/sngan
  python -m experiments.run --config=configs/hinge_sn.py:dataset=idx:../shared/data/mnist \
      --workdir=/tmp/sngan_mnist

Expected: the paper reports an Inception score of about 8.2 on CIFAR-10 with the
ResNet pair after 50,000 generator updates. Not trained to the end here: a step
takes 5 discriminator updates of convolutional networks, many seconds per step
on a 2-core CPU, so use an accelerator. Measured on MNIST (`dataset=idx:DIR`,
`arch=cnn`, 3 seeds as one population, results/hinge_sn_mnist.json): 0.6-0.8 steps/s
for the population on 2 cores (about 20 hours for 50,000 steps); at step 1,801, 10,000
samples (`python -m experiments.evaluate`) score a classifier-feature FD of 58.6 +- 0.8
and Parzen 90.9 +- 0.6, all ten digits every seed, still improving.

References:
  Miyato et al., 2018, "Spectral Normalization for Generative Adversarial
    Networks", ICLR.
  Lim and Ye, 2017, "Geometric GAN" (the hinge loss).
"""

from configs import common

_MNIST_LIKE = ("mnist", "fashion_mnist", "idx")


def get_config(arg=None):
  """The SNGAN config; `arg` is "dataset=NAME", "arch=resnet|cnn" and/or "runlocal"."""
  args = common.parse_arg(arg, dataset="cifar10", arch="", runlocal=False)
  config = common.get_config()
  common.set_dataset(config, args.dataset)
  arch = args.arch or ("cnn" if config.data.name in _MNIST_LIKE else "resnet")
  if arch == "resnet":
    common.image_models(config, "resnet", spectral_norm=True)
  elif arch == "cnn":
    common.image_models(config, "dcgan", normalization="none", spectral_norm=True)
  else:
    raise ValueError(f"unknown arch {arch!r}; use arch=resnet or arch=cnn")
  config.game = "hinge"
  config.d_steps = 5
  config.data.batch_size = 64
  config.model.latent_dim = 128
  config.g_optimizer = common.optimizer("adam", lr=2e-4, b1=0.0, b2=0.9)
  config.d_optimizer = common.optimizer("adam", lr=2e-4, b1=0.0, b2=0.9)
  config.num_steps = 50_000
  config.log_every = 100
  config.eval_every = config.checkpoint_every = 1_000
  if args.runlocal:
    common.runlocal(config)
  return config
