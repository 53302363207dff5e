r"""The 1-D Gaussian toy of the seeds: learn N(4, 0.5^2) with minibatch discrimination.

Reproduces the AYLIEN "gan-intro" tutorial (2016; the seeds' Portuguese walkthrough
of it): data N(4, 0.5^2); the generator `linear(4) -> softplus -> linear(1)` on
uniform noise in [-8, 8] (the tutorial stratifies it over that range); the
discriminator a tanh MLP of width 8 with a minibatch-discrimination layer (5
kernels of dimension 3, Salimans et al. 2016); the minimax discriminator loss and
the -log D(G(z)) generator loss; plain gradient descent from 0.005, decayed by
0.95 every 150 updates; batch 8; fresh noise for the generator's update.

Run (arguments: `minibatch=false` drops minibatch discrimination, which lets the
generator collapse onto a narrow spike at the mean; `runlocal` is a 20-step check):

  python -m experiments.run --config=configs/gaussian_1d.py --workdir=/tmp/gauss
  python -m experiments.run --config=configs/gaussian_1d.py:minibatch=false --workdir=/tmp/g0

Expected on a 2-core CPU (measured): 5,000 steps in 10-15 s, the 1-Wasserstein distance
between 10,000 samples and the data (metrics.jsonl, "wasserstein_1d") falling from 7.0
at step 1,000 to 0.16 +- 0.03 at step 5,000 over 3 seeds (0.143/0.200/0.148 on an AMD
EPYC, 0.17 +- 0.06 on an Intel Xeon; results/gaussian_1d.json), a histogram in
samples/step_005000.png covering [3.3, 5.0] around the mean 4 (seed 0). With
`minibatch=false` seed 0 ends near 0.17 with a two-horned histogram.

References:
  AYLIEN, 2016, "An introduction to Generative Adversarial Networks (with code in
    TensorFlow)", https://github.com/AYLIEN/gan-intro
  Salimans et al., 2016, "Improved Techniques for Training GANs", NeurIPS.
"""

from configs import common


def get_config(arg=None):
  """The gan-intro config; `arg` is "minibatch=true|false" and/or "runlocal"."""
  args = common.parse_arg(arg, minibatch=True, runlocal=False)
  config = common.get_config()
  common.set_dataset(config, "gaussian_1d")  # N(4, 0.5^2)
  config.data.batch_size = 8
  config.model.generator = config.model.discriminator = "gaussian_1d"
  config.model.g = dict(hidden=4)
  config.model.d = dict(hidden=4, minibatch=args.minibatch)
  config.model.latent_dim = 1
  config.model.latent = "uniform"
  config.model.latent_scale = 8.0
  config.game = "non_saturating"
  config.reuse_fake = False
  config.g_optimizer = common.optimizer("sgd", lr=0.005, lr_decay=0.95, lr_decay_every=150)
  config.d_optimizer = common.optimizer("sgd", lr=0.005, lr_decay=0.95, lr_decay_every=150)
  config.num_steps = 5_000
  config.steps_per_call = 100
  config.log_every = 500
  config.eval_every = config.checkpoint_every = 1_000
  config.eval.num_samples = 10_000
  if args.runlocal:
    common.runlocal(config)
  return config
