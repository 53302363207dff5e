r"""WGAN with weight clipping: a critic kept 0.01-Lipschitz-ish by clipping its weights.

Reproduces the setting of Arjovsky et al. (2017), Algorithm 1 with its default
values: RMSProp with learning rate 5e-5 for both players (decay 0.99, as in the
authors' PyTorch code), weights clipped to [-0.01, 0.01] after every critic
update, 5 critic updates per generator update, batch 64, DCGAN networks with
batch norm (the paper's main LSUN setting), a 100-D normal latent, fresh noise
for the generator's update, RMSProp in the form of the authors' PyTorch code
(epsilon 1e-8 added to the root, `eps_in_sqrt=False`). Not reproduced: the authors'
100 critic updates during the first 25 generator updates and every 500th.

On the toy datasets (ring, grid, swiss_roll) it takes the weight-clipping setting of
Gulrajani et al.'s toy script (gan_toy.py, MODE = "wgan"), the baseline of their
Figure 1: ReLU MLPs of 3 layers of 512 units, batch 256, 5 critic updates, clipping
to [-0.01, 0.01], TF1's RMSProp with learning rate 5e-5 (decay 0.9, epsilon 1e-10
under the root, the average of squared gradients starting at ones,
`initial_scale=1`). Differences from that script: its weights start He-uniform,
here LeCun-normal (most are clipped at the first update in both); its ring is 8
Gaussians of std 0.014 on a circle of radius 1.41, here PacGAN's ring (std 0.01,
radius 1), scored as PacGAN scores it; 100,000 generator updates there, 10,000 here.

Run (argument `dataset=` as in dcgan.py, or ring | grid | swiss_roll; `runlocal` is a
20-step check):

  python -m experiments.run --config=configs/wgan.py:dataset=celeb_a --workdir=/tmp/wgan
  python -m experiments.run --config=configs/wgan.py:dataset=idx:../shared/data/mnist \
      --workdir=/tmp/wgan_mnist
  python -m experiments.run --config=configs/wgan.py:dataset=ring --config.num_seeds=3 \
      --workdir=/tmp/wgan_ring

Expected: -d_loss, the critic's estimate of the Wasserstein distance (up to a
scale), decreases over training while samples improve (the paper's Figure 3).
Not trained to the end here: each step takes 5 critic updates of a DCGAN critic,
about 5x a DCGAN step (about 2 s on MNIST on a 2-core CPU), so use an accelerator.
On `dataset=ring` (measured, 3 seeds at 10,000 generator updates, 79 minutes on a 2-core
CPU; results/wgan_ring.json): 7.0 +- 1.4 modes (8/8/5), 16.3 +- 7.5% of 2,500 samples
within 3 std of a mode and KL 0.67 +- 0.52, 54% of the samples between the modes: the
clipped critic's smooth underfitting (Gulrajani et al.'s Figure 1).

References:
  Arjovsky et al., 2017, "Wasserstein Generative Adversarial Networks", ICML.
"""

from configs import common


def get_config(arg=None):
  """The WGAN config; `arg` is "dataset=NAME" (images or a toy) and/or "runlocal"."""
  args = common.parse_arg(arg, dataset="celeb_a", runlocal=False)
  config = common.get_config()
  common.set_dataset(config, args.dataset)
  config.game = "wasserstein"
  config.d_steps = 5
  config.reuse_fake = False
  if common.is_toy(config):
    # gan_toy.py with MODE = "wgan": TF1's RMSPropOptimizer (decay 0.9, epsilon 1e-10
    # under the root, its average of squared gradients starting at ones).
    common.toy_models(config, (512, 512, 512))
    config.data.batch_size = 256
    rmsprop = dict(decay=0.9, eps=1e-10, initial_scale=1.0, eps_in_sqrt=True)
    config.num_steps = 10_000
    config.steps_per_call = 100
  else:
    common.image_models(config, "dcgan")
    config.data.batch_size = 64
    config.model.latent_dim = 100
    # torch.optim.RMSprop(lr=5e-5) of the authors' code: alpha 0.99, eps 1e-8 outside the root.
    rmsprop = dict(decay=0.99, eps=1e-8, eps_in_sqrt=False)
    config.num_steps = 20_000
  config.g_optimizer = common.optimizer("rmsprop", lr=5e-5, **rmsprop)
  config.d_optimizer = common.optimizer("rmsprop", lr=5e-5, clip=0.01, **rmsprop)
  config.log_every = 100
  config.eval_every = config.checkpoint_every = 1_000
  if args.runlocal:
    common.runlocal(config)
  return config
