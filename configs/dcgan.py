r"""DCGAN: deep convolutional generator and discriminator with batch norm.

Reproduces the training setting of Radford et al. (2016): Adam with learning rate
2e-4 and beta1 0.5 for both players, batch 128, a 100-D latent (normal, as in the
authors' Torch code), weights from N(0, 0.02), batch norm in both networks
(none on the generator's output or the discriminator's input), LeakyReLU 0.2 in
the discriminator, tanh output, the non-saturating loss, one discriminator
update per generator update. Images are 64x64 for celeb_a, 32x32 for cifar10,
28x28 for the MNIST family.

Run (argument `dataset=` mnist | fashion_mnist | cifar10 | celeb_a | idx:DIR |
npz:FILE | any prepared TFDS image dataset; `runlocal` is a 20-step check). Nothing
is downloaded: prepare TFDS data beforehand, or use local files:

  python -m experiments.run --config=configs/dcgan.py:dataset=celeb_a --workdir=/tmp/dcgan
  python -m experiments.run --config=configs/dcgan.py:dataset=idx:../shared/data/mnist \
      --workdir=/tmp/dcgan_mnist

Expected: on a 2-core CPU one step on 28x28 MNIST (batch 128) takes 0.3-0.6 s;
measured (seed 0): after 1,500 steps (16 minutes on a busy machine) all ten digit
classes, classifier-feature FD 76.5, recall 0.62 (`python -m experiments.evaluate`); 3 seeds as one
population (`--config.num_seeds=3`, results/dcgan_mnist.json): FD 66.7 +- 6.9 at 2,070 steps
(53 minutes), every class on every seed.
The paper shows face and bedroom samples after a few epochs (an epoch of CelebA at
batch 128 is about 1,600 steps): use an accelerator for those.

References:
  Radford et al., 2016, "Unsupervised Representation Learning with Deep
    Convolutional Generative Adversarial Networks", ICLR.
"""

from configs import common


def get_config(arg=None):
  """The DCGAN config; `arg` is "dataset=NAME" and/or "runlocal"."""
  args = common.parse_arg(arg, dataset="celeb_a", runlocal=False)
  config = common.get_config()
  common.set_dataset(config, args.dataset)
  common.image_models(config, "dcgan")
  config.data.batch_size = 128
  config.model.latent_dim = 100
  config.g_optimizer = common.optimizer("adam", lr=2e-4, b1=0.5)
  config.d_optimizer = common.optimizer("adam", lr=2e-4, b1=0.5)
  config.num_steps = 20_000
  config.log_every = 100
  config.eval_every = config.checkpoint_every = 1_000
  if args.runlocal:
    common.runlocal(config)
  return config
