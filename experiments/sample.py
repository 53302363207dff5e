r"""Writes samples of a trained generator to a .npy file.

  python -m experiments.sample --workdir=DIR --num=N --out=FILE.npy [--seed=0] [--ema=true] [--step=N]
  python -m experiments.sample --workdir=POPULATION_DIR --member=seed=1 --num=N --out=FILE.npy

The array is float32 `[N, *data_shape]`, in the data's own scale:

* images: pixel intensities in [0, 1] (the stored uint8 value / 255), whatever
  range the generator works in ([-1, 1] for tanh outputs);
* low-dimensional data: the raw coordinates, as the data are generated.

Samples come from the latest checkpoint in DIR/checkpoints (`--step=N` for another
one the run keeps), with the generator's EMA
parameters when the run keeps them (`--ema=false` for the raw parameters). The
network is rebuilt from DIR/config.json, so the data need not be present. A
population's workdir needs `--member=NAME` (a folder name under DIR/members). Exit
status 2 with one line on stderr for a missing or foreign workdir and bad flags.
"""

import os
import sys
import tempfile
from typing import Optional

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from experiments import builders
from experiments import datasets
from experiments import resources
from experiments import run
from experiments import workdir as workdirs
from experiments.builders import UserError
from experiments.command import parse_flags
from gan_jax import checkpoint
from gan_jax import data as gdata
import gan_jax
from gan_jax import xla_cpu

CHUNK = 1024  # Samples per generator call (images).
POINTS_CHUNK = 65536  # Low-dimensional samples per call: dispatch, not memory, bounds these.


def member_names(workdir: str) -> list[str]:
  """The member names of a population's workdir ([] for a single run)."""
  saved = run.read_workdir_config(workdir) or {}
  return [m["name"] for m in saved.get("population") or []]


def member_state(state, index: int):
  """Member `index` of a population's stacked state."""
  return jax.tree.map(lambda x: x[index], state)


def read_config(workdir: str) -> dict:
  """`workdir`'s config.json as written by experiments.run.

  Raises:
    UserError: `workdir` holds no run.
  """
  saved = run.read_workdir_config(workdir)
  if saved is None:
    raise UserError(f"{workdir} holds no {run.CONFIG_FILE}; pass the --workdir of a run "
                    "started with experiments.run")
  return saved


def load(workdir: str, step: Optional[int] = None):
  """Rebuilds the GAN of `workdir` and restores its latest state (or that of `step`).

  Returns:
    `(gan, state, scale)`; a population's state has a leading member axis
    (`member_names`, `member_state`).

  Raises:
    UserError: no run in `workdir`, or a checkpoint that does not fit its config.
  """
  saved = read_config(workdir)
  checkpoint_dir = os.path.join(workdir, run.CHECKPOINT_DIR)
  if checkpoint.latest_step(checkpoint_dir) is None:
    raise UserError(f"{checkpoint_dir} holds no checkpoint yet; train longer (checkpoints "
                    "are written every checkpoint_every steps)")
  resolved, population = saved.get("resolved"), saved.get("population")
  if not resolved:
    raise UserError(f"{workdir}/{run.CONFIG_FILE} lacks its 'resolved' data fields; it was not "
                    "written by experiments.run")
  config = workdirs.saved_config(workdir)
  spec = datasets.DataSpec(resolved["data_kind"], tuple(resolved["data_shape"]))
  gan = builders.build_gan(config, spec)
  init_key = builders.keys(config.seed)[0]
  example = jnp.zeros((builders.example_rows(config), *spec.shape), jnp.float32)
  init = lambda key: gan_jax.init_state(gan, key, example)
  if population:  # Shapes only: every member's state has the first one's.
    abstract = jax.eval_shape(lambda: jax.vmap(init)(jax.random.split(init_key, len(population))))
  else:
    abstract = jax.eval_shape(lambda: init(init_key))
  state, _ = workdirs.restore_latest(
      workdir, abstract, fix=f"{run.CONFIG_FILE} and the checkpoint are from different runs",
      step=step)
  return gan, state, resolved.get("image_scale")


def samples(gan, state, num: int, seed: int, ema: bool, scale=None, out=None,
            progress: bool = False) -> np.ndarray:
  """`num` samples `[num, *data_shape]` in the data's scale, drawn in chunks from `seed`.

  With `out` (an array or a memory-mapped `.npy`), each chunk is written into it as
  it comes, so memory stays bounded by one chunk whatever `num` is.
  """
  chunk = CHUNK if scale is not None else POINTS_CHUNK
  draw = jax.jit(lambda state, key: gan_jax.sample(gan, state, key, chunk, ema=ema))
  key = jax.random.key(seed)
  chunks = range(-(-num // chunk))
  if progress:
    chunks = tqdm.tqdm(chunks, unit="chunk", desc=f"{num} samples", file=sys.stderr,
                       disable=not sys.stderr.isatty())
  parts = []
  for i in chunks:
    part = gdata.to_unit_range(np.asarray(draw(state, jax.random.fold_in(key, i))), scale)
    part = part[:num - i * chunk]
    if out is None:
      parts.append(part)
    else:
      out[i * chunk:i * chunk + len(part)] = part
  return np.concatenate(parts) if out is None else out


def _check_out(path: str) -> None:
  """Refuses an --out that cannot be written, before any sampling."""
  if not path.endswith(".npy"):
    raise UserError(f"--out={path} must end in .npy (np.save adds it otherwise)")
  if os.path.isdir(path):
    raise UserError(f"--out={path} is a directory; pass a file name such as {path.rstrip('/')}/samples.npy")
  out_dir = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(out_dir):
    raise UserError(f"--out={path}: directory {out_dir} does not exist; create it first")
  workdirs.check_writable(out_dir, "--out")


def main(argv: list[str]) -> int:
  fv = flags.FlagValues()
  flags.DEFINE_string("workdir", None, "The run's directory.", flag_values=fv)
  flags.DEFINE_integer("num", None, "How many samples.", flag_values=fv)
  flags.DEFINE_string("out", None, "Output .npy file.", flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of the latents.", flag_values=fv)
  flags.DEFINE_bool("ema", True, "Use the generator's EMA parameters when kept.", flag_values=fv)
  flags.DEFINE_string("member", None, "A population's member (a folder under DIR/members).",
                      flag_values=fv)
  flags.DEFINE_integer("step", None, "The checkpoint's step (default: the latest kept).",
                       flag_values=fv)
  try:
    parse_flags(fv, argv, __doc__)
    for name in ("workdir", "num", "out"):
      if fv[name].value is None:
        raise UserError(f"--{name} is required: --workdir=DIR --num=N --out=FILE.npy")
    if fv.num < 1:
      raise UserError(f"--num must be >= 1, got {fv.num}")
    if fv.seed < 0:
      raise UserError(f"--seed must be >= 0, got {fv.seed}")
    _check_out(fv.out)
    if not os.path.isdir(fv.workdir):
      raise UserError(f"--workdir={fv.workdir} does not exist; pass the --workdir of a run")
    gan, state, scale = load(fv.workdir, fv.step)
    names = member_names(fv.workdir)
    if names:
      if fv.member not in names:
        raise UserError(f"{fv.workdir} holds a population: pass --member=NAME, one of "
                        f"{', '.join(names)}")
      state = member_state(state, names.index(fv.member))
    elif fv.member is not None:
      raise UserError(f"--member={fv.member}: {fv.workdir} holds a single run, not a population; "
                      "drop --member")
    shape = (fv.num, *run.read_workdir_config(fv.workdir)["resolved"]["data_shape"])
    size = int(np.prod(shape, dtype=np.float64)) * 4
    resources.require_disk(size, fv.out, f"--num={fv.num} float32 samples of shape {shape[1:]}",
                           "lower --num or write --out elsewhere")
  except UserError as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    return run.EXIT_USAGE
  # Written aside and renamed into place: an existing --out is replaced only whole.
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(fv.out)),
                             prefix=f".{os.path.basename(fv.out)}.", suffix=".npy")
  os.close(fd)
  try:
    os.chmod(tmp, 0o644)
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
    with open(tmp, "r+b") as f:  # Claim the space now: a memory map meeting a full disk dies.
      os.posix_fallocate(f.fileno(), 0, os.path.getsize(tmp))
    samples(gan, state, fv.num, fv.seed, fv.ema, scale, out=array, progress=True)
    array.flush()
    del array
    os.replace(tmp, fv.out)
  except KeyboardInterrupt:
    return run.EXIT_INTERRUPTED
  except OSError as e:
    print(f"error: writing {fv.out} failed ({e.strerror}); nothing was written: free space or "
          "write --out elsewhere", file=sys.stderr, flush=True)
    return run.EXIT_DISK
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  print(f"wrote {shape} float32 samples from step {int(np.asarray(state.step).reshape(-1)[0])} "
        f"to {fv.out}")
  return run.EXIT_OK


if __name__ == "__main__":
  xla_cpu.apply_defaults()  # Before JAX starts (gan_jax/xla_cpu.py).
  _status = main(sys.argv)
  if _status == run.EXIT_USAGE:
    workdirs.exit_now(_status)
  sys.exit(_status)
