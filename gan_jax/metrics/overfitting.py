"""How far a discriminator has learned its training images over their distribution.

Karras et al. (2020, "Training Generative Adversarial Networks with Limited Data")
watch three means of the discriminator's raw outputs: on the images it trains on, on
held-out real images, and on generated ones. While the discriminator generalises,
held-out images score like training ones; as it overfits, their scores fall toward
the generated ones'. Their two heuristics are

  r_v = (E[D_train] - E[D_held_out]) / (E[D_train] - E[D_fake]),
  r_t = E[sign(D_train)],

r_v being 0 for no overfitting and 1 for complete overfitting (held-out images scored
like fakes), r_t the share of training images on the real side of 0 less the share on
the fake side. Beside them we give a rank form of r_v's numerator, free of the
outputs' scale and offset and of the fakes: the probability that a training image
outscores a held-out one (ties count half; the area under the ROC curve,
Mann-Whitney's U / (n m)), 0.5 when the discriminator cannot tell them apart.

r_t reads the sign of an absolute logit (the minimax, non-saturating and hinge
games); a Wasserstein critic's or a relativistic discriminator's outputs carry no
meaningful 0, so for those only r_v and the rank are read.
"""

import numpy as np


def rank_probability(x: np.ndarray, y: np.ndarray) -> float:
  """P(X > Y) + P(X = Y) / 2 for X drawn from `x` and Y from `y`, exactly.

  The area under the ROC curve of the scores `x` (positives) against `y`; 0.5 for
  samples of one distribution; NaN where a score is not finite. O((n + m) log m).
  """
  x = np.ravel(np.asarray(x, np.float64))
  y = np.sort(np.ravel(np.asarray(y, np.float64)))
  if not (np.isfinite(x).all() and np.isfinite(y).all()):
    return float("nan")
  below = np.searchsorted(y, x, side="left")  # y < x
  tied = np.searchsorted(y, x, side="right") - below  # y == x
  return float((below.sum() + 0.5 * tied.sum()) / (len(x) * len(y)))


def discriminator_overfitting(train: np.ndarray, held_out: np.ndarray,
                              fake: np.ndarray) -> dict:
  """The discriminator's mean outputs and the overfitting heuristics of Karras et al.

  Args:
    train: `[N]` raw outputs (logits, critic values) on images it trained on.
    held_out: `[M]` raw outputs on real images it never saw (a test split).
    fake: `[K]` raw outputs on generated images.

  Returns:
    `d_train`, `d_held_out`, `d_fake` (the means), `r_v`, `r_t` and `train_held_out_auc`
    (`rank_probability(train, held_out)`), as Python floats. `r_v` is NaN when the
    training and generated means are equal.
  """
  means = [float(np.mean(np.asarray(v, np.float64))) for v in (train, held_out, fake)]
  d_train, d_held_out, d_fake = means
  gap = d_train - d_fake
  return {"d_train": d_train, "d_held_out": d_held_out, "d_fake": d_fake,
          "r_v": (d_train - d_held_out) / gap if gap != 0 else float("nan"),
          "r_t": float(np.mean(np.sign(np.asarray(train, np.float64)))),
          "train_held_out_auc": rank_probability(train, held_out)}
