"""What a run records as it trains: metrics, evaluations and pictures, per member.

`RunRecords` knows where each record goes (the workdir; each population member's
folder under members/, with the members' spread in the workdir's own
metrics.jsonl) and evaluates each member with its `Evaluator`, which samples from
a fixed latent batch (pictures) and a fixed key (metrics).
"""

import os
import sys
from typing import Optional

import jax
import numpy as np

import gan_jax
from experiments import builders
from experiments import evaluation
from experiments import pictures
from experiments import populations
from experiments import workdir as workdirs
from experiments import writers
from experiments.errors import UserError


class Evaluator:
  """Samples from a fixed latent batch (pictures) and a fixed key (metrics).

  `like`: an evaluator of another population member, whose compiled samplers and
  reference data this one shares (the members share the GAN; one reference makes
  their metrics compare like with like).
  """

  def __init__(self, experiment: builders.Experiment, like: Optional["Evaluator"] = None):
    self.experiment = experiment
    gan, config = experiment.gan, experiment.config
    self.latents = gan.latents(jax.random.fold_in(experiment.eval_key, 0),
                               config.eval.num_pictures)
    self.metrics_key = jax.random.fold_in(experiment.eval_key, 1)
    self.refresh_batches = config.eval.bn_refresh_batches
    self.refresh_key = jax.random.fold_in(experiment.eval_key, 2)  # this member's own
    if like is not None:
      self._from_latents, self._draw, self._refresh = like._from_latents, like._draw, like._refresh
      self._logits, self.target = like._logits, like.target
      return
    self._refresh = jax.jit(lambda state, key: gan_jax.refresh_batch_stats(
        gan, state, key, self.refresh_batches, config.data.batch_size))
    self._from_latents = jax.jit(lambda state, z: gan_jax.sample_from_latents(gan, state, z))
    self._draw = jax.jit(lambda state, key, n: gan_jax.sample(gan, state, key, n),
                         static_argnums=2)
    self._logits = jax.jit(lambda state, x: gan_jax.discriminate(gan, state, x))
    try:
      self.target = evaluation.make_target(config, experiment.data)
    except UserError as e:  # Training goes on; only the metrics are missing.
      print(f"evaluation: {e}; no evaluation metrics in metrics.jsonl", file=sys.stderr)
      self.target = evaluation.Target("none")

  def refreshed(self, state):
    """`state` with the generator's batch-norm averages re-estimated (eval.bn_refresh_batches)."""
    return self._refresh(state, self.refresh_key) if self.refresh_batches else state

  def _samples(self, state) -> np.ndarray:
    """config.eval.num_samples samples of `state`, in the model's scale, from the fixed key."""
    return evaluation.draw(lambda key, n: self._draw(state, key, n), self.metrics_key,
                           self.experiment.config.eval.num_samples)

  def metrics(self, state) -> dict:
    """experiments/evaluation.py's metrics on config.eval.num_samples samples of `state`
    (`refreshed` first, where the config asks), and for MNIST its discriminator's
    (`evaluation.discriminator_metrics`, on this member's own data stream)."""
    config = self.experiment.config
    if self.target.kind == "none":
      return {}
    samples = self._samples(state)
    metrics, _ = evaluation.evaluate(samples, self.target, image_scale=self.experiment.scale)
    metrics.update(evaluation.discriminator_metrics(
        lambda x: self._logits(state, x), samples, self.experiment.data.source, self.target,
        training_split=config.data.split, image_scale=self.experiment.scale,
        pack=config.model.pack)[0])
    return metrics

  def picture(self, state, step: int) -> np.ndarray:
    data = self.experiment.data
    kind = data.spec.kind
    samples = self._from_latents(state, self.latents)
    if kind == "points":  # A fuller cloud than the picture batch.
      samples = self._samples(state)
    return pictures.picture(np.asarray(samples), kind=kind, reference=data.reference,
                            scale=self.experiment.scale, mixture=data.mixture,
                            title=f"step {step}")


class RunRecords:
  """Where a run's records and pictures go: its workdir, and each member's folder."""

  def __init__(self, experiment, workdir: str, step: int):
    config = experiment.config
    self.population = isinstance(experiment, populations.Population)
    self.names = [m.name for m in experiment.members] if self.population else [None]
    self.dirs = [workdir if name is None else os.path.join(workdir, workdirs.MEMBERS_DIR, name)
                 for name in self.names]
    self.writing = experiment.writer
    if self.population:  # One reference for all (for 1-D data: the first member's draw).
      first, *others = experiment.member_experiments
      self.evaluators = [Evaluator(first)]
      self.evaluators += [Evaluator(e, like=self.evaluators[0]) for e in others]
    else:
      self.evaluators = [Evaluator(experiment)]
    self.writers = []
    if self.writing:
      for directory in self.dirs:
        os.makedirs(os.path.join(directory, workdirs.SAMPLES_DIR), exist_ok=True)
        writers.truncate_metrics(directory, step)  # Records past the checkpoint come again.
        self.writers.append(writers.MetricsWriter(directory, tensorboard=config.tensorboard))
      if self.population:
        writers.truncate_metrics(workdir, step)
        self.summary = writers.MetricsWriter(workdir, tensorboard=config.tensorboard)

  def values(self, metrics) -> list[dict]:
    """Each member's metrics as Python floats (one dict for a single run)."""
    if not self.population:
      return [{k: float(v) for k, v in gan_jax.parallel.fetch(metrics).items()}]
    arrays = gan_jax.parallel.gather(metrics)
    return [{k: float(v[i]) for k, v in arrays.items()} for i in range(len(self.names))]

  def evaluate(self, state, step: int) -> list[dict]:
    """Each member's evaluation metrics; writes each member's picture."""
    if self.population:
      host = gan_jax.parallel.gather(state)  # Every process takes part; process 0 evaluates.
      states = [jax.tree.map(lambda x, i=i: x[i], host) for i in range(len(self.names))]
    elif self.evaluators[0].experiment.mesh is not None:
      # A host copy of the replicated state: no collective, so the other processes go on.
      states = [gan_jax.parallel.fetch(state)] if self.writing else [None]
    else:
      states = [state]
    if not self.writing:
      return [{} for _ in self.names]
    results = []
    for evaluator, member_state, directory, writer in zip(
        self.evaluators, states, self.dirs, self.writers):
      member_state = evaluator.refreshed(member_state)  # once, for metrics and picture
      results.append(evaluator.metrics(member_state))
      image = evaluator.picture(member_state, step)
      pictures.save_png(os.path.join(directory, workdirs.SAMPLES_DIR, f"step_{step:06d}.png"), image)
      writer.write_image(step, "samples", image)
    return results

  def write(self, step: int, records: list[dict]) -> dict:
    """Writes each member's record (and their spread); returns the run's record."""
    if not records[0] or not self.writing:
      return {}
    for writer, record in zip(self.writers, records):
      writer.write(step, record)
    if not self.population:
      return records[0]
    combined = populations.spread(records)
    self.summary.write(step, combined)
    return combined

  def close(self):
    """Closes every writer, even when one fails (a full disk); re-raises the first error."""
    errors = []
    for writer in self.writers + ([self.summary] if self.writing and self.population else []):
      try:
        writer.close()
      except Exception as e:  # pylint: disable=broad-except
        errors.append(e)
    if errors:
      raise errors[0]
