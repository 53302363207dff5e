r"""WGAN with weight clipping: a critic kept 0.01-Lipschitz-ish by clipping its weights.

Reproduces the setting of Arjovsky et al. (2017), Algorithm 1 with its default
values: RMSProp with learning rate 5e-5 for both players (decay 0.99, as in the
authors' PyTorch code), weights clipped to [-0.01, 0.01] after every critic
update, 5 critic updates per generator update, batch 64, DCGAN networks with
batch norm (the paper's main LSUN setting), a 100-D normal latent, fresh noise
for the generator's update. Not reproduced: the authors' 100 critic updates
during the first 25 generator updates and every 500th.

Run (argument `dataset=` as in dcgan.py; `runlocal` is a 20-step check):

  python -m experiments.run --config=configs/wgan.py:dataset=celeb_a --workdir=/tmp/wgan
  python -m experiments.run --config=configs/wgan.py:dataset=idx:../shared/data/mnist \
      --workdir=/tmp/wgan_mnist

Expected: -d_loss, the critic's estimate of the Wasserstein distance (up to a
scale), decreases over training while samples improve (the paper's Figure 3).
Not trained to the end here: each step takes 5 critic updates of a DCGAN critic,
about 5x a DCGAN step (about 2 s on MNIST on a 2-core CPU), so use an accelerator.

References:
  Arjovsky et al., 2017, "Wasserstein Generative Adversarial Networks", ICML.
"""

from configs import common


def get_config(arg=None):
  """The WGAN config; `arg` is "dataset=NAME" and/or "runlocal"."""
  args = common.parse_arg(arg, dataset="celeb_a", runlocal=False)
  config = common.get_config()
  common.set_dataset(config, args.dataset)
  common.image_models(config, "dcgan")
  config.data.batch_size = 64
  config.model.latent_dim = 100
  config.game = "wasserstein"
  config.d_steps = 5
  config.reuse_fake = False
  config.g_optimizer = common.optimizer("rmsprop", lr=5e-5, decay=0.99)
  config.d_optimizer = common.optimizer("rmsprop", lr=5e-5, decay=0.99, clip=0.01)
  config.num_steps = 20_000
  config.log_every = 100
  config.eval_every = config.checkpoint_every = 1_000
  if args.runlocal:
    common.runlocal(config)
  return config
