r"""LSGAN: least-squares losses for both players.

Reproduces the objective of Mao et al. (2017) with the 0-1 coding (a = 0, b = 1,
c = 1: D regresses real to 1 and fake to 0, G pushes fakes to 1), in the DCGAN
training setting the paper builds on: Adam with learning rate 2e-4 and beta1 0.5,
batch 64, a 100-D normal latent, DCGAN networks with batch norm (the paper's own
LSUN networks are wider).

On a toy mixture (`dataset=ring`: the paper's Gaussian-mixture figure, 8 Gaussians of
std 0.01 on a circle of radius 1) it takes the setting of the authors' code for that
figure (`xudonmao/LSGAN`, `stability_comparison/mixture_gaussian/ls.py`, itself built
on the unrolled GAN's notebook): both networks MLPs of 2 hidden layers of 128 tanh
units and a linear output, weights orthogonal times 1.4, biases 0; z ~ N(0, I_256);
batch 512; Adam with beta1 0.5, learning rate 1e-3 for G and 1e-4 for D; both players
step at once from the same point (one session run computes both updates); 35,000
steps, the figure's snapshots every 5,000. Differences that remain: their mixture
has 9 components at angles linspace(0, 2 pi, 9), so the mode at (0, 1) is drawn
twice as often as the others (2/9 against 1/9), here 8 equal modes; their losses
are sums over the batch (`tf.nn.l2_loss`), here means (Adam makes the scale all but
irrelevant). The paper's figure is a kernel density plot (no numbers); the results
count modes and high-quality samples (within 3 std) on 2,500 samples.

Run (argument `dataset=` as in dcgan.py, or ring | grid; `runlocal` is a 20-step check):

  python -m experiments.run --config=configs/lsgan.py:dataset=celeb_a --workdir=/tmp/lsgan
  python -m experiments.run --config=configs/lsgan.py:dataset=ring --workdir=/tmp/lsgan_ring \
      --config.num_seeds=3

Expected: the mixture figure shows LSGAN covering the 8 modes at the end while the
regular GAN settles on one. Measured on the ring over 3 seeds at the authors' 35,000
steps (results/lsgan_ring.json and lsgan_ring_regular.json; 2,500 samples, high quality
within 3 std): LSGAN 0/8/8 modes with 0.0/1.4/1.2% of its samples high quality, seeds 1
and 2 spreading 8 blobs 3.7-3.9 std beside the centres, which a kernel density plot such
as the paper's shows as the 8 modes; the regular GAN (`--config.game=non_saturating`)
1/1/8 modes and 0.3/0.0/55.3%. Over 3 seeds the setting does not separate the two
losses.
Image datasets: DCGAN speed (see dcgan.py); the paper reports LSUN bedroom samples
after about 25 epochs.

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
    # The authors' code of the mixture figure (stability_comparison/mixture_gaussian).
    common.toy_models(config, (128, 128), latent_dim=256)
    for net in (config.model.g, config.model.d):
      net.activation = "tanh"
      net.orthogonal_gain = 1.4
    config.update_rule = "simultaneous"
    config.g_optimizer = common.optimizer("adam", lr=1e-3, b1=0.5)
    config.d_optimizer = common.optimizer("adam", lr=1e-4, b1=0.5)
    config.data.batch_size = 512
    config.num_steps = 35_000
    config.steps_per_call = 100
    config.log_every = 500
    config.eval_every = config.checkpoint_every = 5_000
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
