r"""WGAN-GP: a Wasserstein critic with a gradient penalty instead of weight clipping.

Reproduces Gulrajani et al. (2017), Algorithm 1 with its default values: penalty
weight lambda = 10 on (||grad D(x_hat)|| - 1)^2 at random interpolates, 5 critic
updates per generator update, Adam with learning rate 1e-4 and betas (0.5, 0.9),
batch 64, a 128-D normal latent, no batch norm in the critic (it would mix the
per-example gradients), a DCGAN-style generator and critic. On the toy datasets
(swiss_roll, ring, grid) it takes the paper's toy setting instead: ReLU MLPs of 3
layers of 512 units, batch 256, lambda = 0.1 (the authors' gan_toy.py).
Differences from that script: its weights start He-uniform, here LeCun-normal;
its ring is 8 Gaussians of std 0.014 on a circle of radius 1.41, here PacGAN's
ring (std 0.01, radius 1), scored as PacGAN scores it; 100,000 generator updates
there, 2,000 here.

Run (argument `dataset=` as in dcgan.py, or swiss_roll | ring | grid;
`runlocal` is a 20-step check):

  python -m experiments.run --config=configs/wgan_gp.py:dataset=cifar10 --workdir=/tmp/wgan_gp
  python -m experiments.run --config=configs/wgan_gp.py:dataset=idx:../shared/data/mnist \
      --workdir=/tmp/wgan_gp_mnist
  python -m experiments.run --config=configs/wgan_gp.py:dataset=swiss_roll --workdir=/tmp/roll

Expected: the paper's CIFAR-10 runs take 200,000 generator updates, each with 5
critic updates; convolutional steps take seconds each on a 2-core CPU, so use an
accelerator. On `dataset=swiss_roll` (measured, seed 0): 2,000 steps in about 7 minutes
of a 2-core CPU; samples/step_002000.png shows the samples along the whole roll, with a
few stragglers between its arms (the authors' toy script runs 100,000 steps). On
`dataset=ring` (measured, 3 seeds at 2,000 steps, 33 minutes;
results/wgan_gp_ring.json): 7.7 +- 0.5 modes (7/8/8), 22.1 +- 10.4% of 2,500 samples
within 3 std of a mode (PacGAN's ring, tighter than the authors' toy) and KL 0.38 +-
0.14.

References:
  Gulrajani et al., 2017, "Improved Training of Wasserstein GANs", NeurIPS.
"""

from configs import common


def get_config(arg=None):
  """The WGAN-GP config; `arg` is "dataset=NAME" and/or "runlocal"."""
  args = common.parse_arg(arg, dataset="cifar10", runlocal=False)
  config = common.get_config()
  common.set_dataset(config, args.dataset)
  config.game = "wasserstein"
  config.penalty = "gradient"
  config.d_steps = 5
  config.reuse_fake = False
  config.g_optimizer = common.optimizer("adam", lr=1e-4, b1=0.5, b2=0.9)
  config.d_optimizer = common.optimizer("adam", lr=1e-4, b1=0.5, b2=0.9)
  if common.is_toy(config):
    common.toy_models(config, (512, 512, 512))
    config.data.batch_size = 256
    config.penalty_weight = 0.1
    config.num_steps = 2_000
    config.steps_per_call = 100
    config.log_every = 100
    config.eval_every = config.checkpoint_every = 1_000
  else:
    # The critic's convolutions take their adjoint form (configs/common.py): the
    # penalty's second derivatives are then strided convolutions.
    common.image_models(config, "dcgan", normalization="none")
    config.data.batch_size = 64
    config.model.latent_dim = 128
    config.penalty_weight = 10.0
    config.num_steps = 20_000
    config.log_every = 100
    config.eval_every = config.checkpoint_every = 1_000
  if args.runlocal:
    common.runlocal(config)
  return config
