r"""LSGAN: least-squares losses for both players.

Reproduces the objective of Mao et al. (2017) with the 0-1 coding (a = 0, b = 1,
c = 1: D regresses real to 1 and fake to 0, G pushes fakes to 1), in the DCGAN
training setting the paper builds on: Adam with learning rate 2e-4 and beta1 0.5,
batch 64, a 100-D normal latent, DCGAN networks with batch norm (the paper's own
LSUN networks are wider). On the toy ring (the paper's Figure 3 mixture of 8
Gaussians) it uses ReLU MLPs of 2 layers of 128 units.

Run (argument `dataset=` as in dcgan.py, or ring | grid; `runlocal` is a 20-step check):

  python -m experiments.run --config=configs/lsgan.py:dataset=celeb_a --workdir=/tmp/lsgan
  python -m experiments.run --config=configs/lsgan.py:dataset=ring --workdir=/tmp/lsgan_ring

Expected on a 2-core CPU (measured, 3 seeds as one population, results/lsgan_ring.json):
`dataset=ring`, 10,000 steps in about 4 minutes; in this setting every seed's
generator lands on ONE of the 8 modes (1 mode, 81 +- 25% high quality at step
10,000): the mode-seeking failure the paper's mixture figure shows for the regular
GAN is not avoided here, so treat the toy run as a baseline, not a reproduction. Image datasets: DCGAN
speed (see dcgan.py); the paper reports LSUN bedroom samples after about 25 epochs.

References:
  Mao et al., 2017, "Least Squares Generative Adversarial Networks", ICCV.
"""

from configs import common


def get_config(arg=None):
  """The LSGAN config; `arg` is "dataset=NAME" and/or "runlocal"."""
  args = common.parse_arg(arg, dataset="celeb_a", runlocal=False)
  config = common.get_config()
  common.set_dataset(config, args.dataset)
  config.game = "least_squares"
  config.g_optimizer = common.optimizer("adam", lr=2e-4, b1=0.5)
  config.d_optimizer = common.optimizer("adam", lr=2e-4, b1=0.5)
  if common.is_toy(config):
    common.toy_models(config, (128, 128), latent_dim=256)
    config.data.batch_size = 256
    config.num_steps = 10_000
    config.steps_per_call = 100
    config.log_every = 500
    config.eval_every = config.checkpoint_every = 2_000
  else:
    common.image_models(config, "dcgan")
    config.data.batch_size = 64
    config.model.latent_dim = 100
    config.num_steps = 20_000
    config.log_every = 100
    config.eval_every = config.checkpoint_every = 1_000
  if args.runlocal:
    common.runlocal(config)
  return config
