"""The command line of the tools: config files, their overrides, the run's flags.

Every mistake becomes a `UserError` with one line naming the problem and the fix:
a config file that does not exist, is not Python, does not parse, fails to
import, raises in `get_config`, or returns something other than a ConfigDict;
an override of a field the config lacks; a value of the wrong type.
"""

import hashlib
import importlib.util
import os
import re
from typing import NamedTuple, NoReturn, Optional

from absl import flags
import ml_collections
from ml_collections import config_flags

from experiments.errors import UserError

HELP_FLAGS = ("--help", "-h", "--helpshort", "--helpfull", "-?")
_TRUE, _FALSE = ("true", "t", "1"), ("false", "f", "0")


class Command(NamedTuple):
  config: ml_collections.ConfigDict
  config_path: str  # the --config value, e.g. "configs/ring.py:runlocal"
  workdir: str
  sweep: bool
  coordinator_address: Optional[str] = None  # multi-process runs; None: auto-detect
  num_processes: Optional[int] = None
  process_id: Optional[int] = None
  module: object = None  # the loaded config module (its get_sweep, for --sweep)


def _first_line(error: BaseException) -> str:
  text = str(error).strip()
  return (text.splitlines()[0] if text else type(error).__name__)[:200]


def load_config_module(path: str):
  """Imports the config file at `path` as a module; raises UserError in one line."""
  if not os.path.isfile(path):
    raise UserError(f"--config={path}: no such config file; pass a path such as configs/ring.py")
  if not path.endswith(".py"):
    raise UserError(f"--config={path} is not a Python config file; pass a .py file that "
                    "defines get_config(), such as configs/ring.py")
  digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]
  spec = importlib.util.spec_from_file_location(f"gan_jax_config_{digest}", path)
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except SyntaxError as e:
    raise UserError(f"{path}:{e.lineno}: syntax error ({e.msg}); fix the config file") from None
  except ImportError as e:
    raise UserError(f"{path}: import failed ({_first_line(e)}); install the module or fix the "
                    "import (configs are run from the repository root)") from None
  except Exception as e:  # pylint: disable=broad-except
    raise UserError(f"{path} raised {type(e).__name__} while loading ({_first_line(e)}); fix "
                    "the config file") from None
  if not callable(getattr(module, "get_config", None)):
    raise UserError(f"{path} defines no get_config(); a config file defines "
                    "get_config(arg=None) returning an ml_collections.ConfigDict")
  return module


def load_config(spec: str):
  """`(config, module)` of `--config=PATH[:ARG]`; raises UserError in one line."""
  path, _, arg = spec.partition(":")
  module = load_config_module(path)
  try:
    config = module.get_config(arg) if arg else module.get_config()
  except UserError:
    raise
  except ValueError as e:  # The config's own check of its argument.
    raise UserError(f"--config={spec}: {_first_line(e)}") from None
  except Exception as e:  # pylint: disable=broad-except
    raise UserError(f"{path}: get_config({repr(arg) if arg else ''}) raised {type(e).__name__} "
                    f"({_first_line(e)}); fix the config file or its argument") from None
  if not isinstance(config, ml_collections.ConfigDict):
    raise UserError(f"{path}: get_config() returned {type(config).__name__}, not an "
                    "ml_collections.ConfigDict; return one (e.g. from configs.common.get_config())")
  return config, module


def split_config_flag(argv: list[str]):
  """`(spec, rest)`: the value of --config and argv without it (None if absent)."""
  spec, rest, i = None, [], 0
  while i < len(argv):
    arg = argv[i]
    if arg.startswith("--config="):
      spec = arg[len("--config="):]
    elif arg == "--config" and i + 1 < len(argv):
      spec, i = argv[i + 1], i + 1
    else:
      rest.append(arg)
    i += 1
  return spec, rest


def _env_int(name: str) -> Optional[int]:
  value = os.environ.get(name)
  return int(value) if value and value.isdigit() else None


def _override_error(error: BaseException, argv: list[str]) -> str:
  """One line for an override that names a missing field or has a bad value."""
  text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
  text = text.strip().strip("'\"")
  field = re.search(r"(?:key|field|attribute)\s+'?([\w.]+)'?", text)
  for arg in argv:
    name = arg.split("=")[0]
    if name.startswith("--config.") and field and name.endswith(field.group(1)):
      return (f"{name}: the config has no such field; check the spelling against the config "
              "file (nested fields are --config.a.b=VALUE)")
  bad = [a.split("=")[0] for a in argv if a.startswith("--config.")]
  return (f"{bad[-1] if bad else '--config'}: the config has no such field ({text.splitlines()[0]}); "
          "check the spelling against the config file (nested fields are --config.a.b=VALUE)")


def _flag_message(text: str) -> str:
  lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
  return lines[0] if lines else "bad command line"


def parse_command(argv: list[str], doc: str = "") -> Command:
  """Parses the command line of experiments.run into a `Command`; raises UserError.

  `--help` prints `doc` and the flags, with `--config=FILE` also the config file's
  docstring and its fields, and exits 0.
  """
  spec, rest = split_config_flag(argv[1:])
  fv = flags.FlagValues()
  flags.DEFINE_string("workdir", None, "Directory of the run's outputs.", flag_values=fv)
  flags.DEFINE_bool("sweep", False, "Run every member of the config's get_sweep().",
                    flag_values=fv)
  # A multi-process run (one process per host): JAX detects TPU pods, Slurm and Open MPI
  # itself; elsewhere name the coordinator (process 0's host:port) and this process.
  flags.DEFINE_string("coordinator_address", os.environ.get("JAX_COORDINATOR_ADDRESS"),
                      "host:port of process 0 of a multi-process run.", flag_values=fv)
  flags.DEFINE_integer("num_processes", _env_int("JAX_NUM_PROCESSES"),
                       "Number of processes of a multi-process run.", flag_values=fv)
  flags.DEFINE_integer("process_id", _env_int("JAX_PROCESS_ID"),
                       "This process's index in a multi-process run.", flag_values=fv)
  help_asked = asks_for_help(rest, fv)
  rest = without_help(rest, fv)
  doc = (f"{doc.strip()}\n\n--config=FILE[:ARG] names the config file; with it, --help also "
         "shows the file's docstring and the config's fields, overrides applied.")
  if help_asked and spec is None:
    exit_with(usage(doc, fv))
  if spec is None:
    if any(a.startswith("--workdir") for a in rest) or not any(
        a.startswith("--config.") for a in rest):
      raise UserError("--config is required, e.g. --config=configs/ring.py")
    raise UserError("--config.FIELD overrides need --config=FILE first, e.g. "
                    "--config=configs/ring.py")
  config, module = load_config(spec)
  try:
    # The overrides are parsed (and checked against the config) when the flag is defined.
    config_flags.DEFINE_config_dict("config", config, "The config, with --config.FIELD overrides.",
                                    flag_values=fv, sys_argv=[argv[0], *rest])
    leftover = fv([argv[0], *rest])
  except flags.Error as e:
    text = str(e)
    if "Traceback" in text or "no such" in text.lower() or "not found" in text.lower() or (
        "Could not" in text and "config." in text):
      raise UserError(_override_error(e, rest)) from None
    raise UserError(_flag_message(text)) from None
  except (AttributeError, KeyError) as e:  # An override of a field the config lacks.
    raise UserError(_override_error(e, rest)) from None
  if len(leftover) > 1:
    raise UserError(f"unexpected argument {leftover[1]!r}; flags take the form --name=value")
  if help_asked:
    # The config is shown as its fields, its overrides applied, not as a flag.
    exit_with(f"{usage(doc, fv, skip=('config',))}\n\n{spec}: {(module.__doc__ or '').strip()}"
              f"\n\nIts fields (--config.FIELD=VALUE overrides any):\n{fv.config}")
  if not fv.workdir:
    raise UserError("--workdir is required, e.g. --workdir=/tmp/ring")
  if fv.coordinator_address and (fv.num_processes is None or fv.process_id is None):
    raise UserError("--coordinator_address needs --num_processes and --process_id too "
                    "(or JAX_NUM_PROCESSES and JAX_PROCESS_ID)")
  return Command(fv.config, spec, fv.workdir, fv.sweep, fv.coordinator_address,
                 fv.num_processes, fv.process_id, module)


def usage(doc: str, fv: flags.FlagValues, skip: tuple[str, ...] = ()) -> str:
  """A tool's `--help`: its docstring (its usage), then each of its flags and default."""
  lines = [doc.strip(), "", "Flags:"]
  for name in sorted(fv):
    if name.split(".")[0] in skip:  # A skipped flag and its --FLAG.FIELD overrides.
      continue
    flag = fv[name]
    text = flag.help.splitlines()[0].rstrip(";")  # Without absl's note on repeated flags.
    if isinstance(flag, flags.MultiFlag):
      text += " (repeatable)"
    elif flag.default not in (None, ""):
      default = flag.default_as_str.strip("'")  # absl quotes every default.
      text += f" (default: {default})"
    lines.append(f"  --{name}: {text}")
  return "\n".join(lines)


def _help_flags(args: list[str], fv: Optional[flags.FlagValues] = None) -> dict[int, bool]:
  """The positions of `args` that are help flags, each with whether it asks for help.

  `--help`, `--help=true` (t, 1) ask and `--help=false` (f, 0) does not, as absl reads a
  boolean; a help flag given as the value of the flag before it (`--note --help` or
  `-note --help`, a string flag of `fv`) is that value, and one after `--` (absl's end
  of flags) an argument. Raises UserError for another `--help=VALUE`.
  """
  found, value_of_previous = {}, False
  for i, arg in enumerate(args):
    name, eq, value = arg.partition("=")
    if value_of_previous:  # Read left to right: `--note --note --help` asks for help.
      value_of_previous = False
      continue
    if arg == "--":
      break
    bare = name[2:] if name.startswith("--") else name[1:] if name.startswith("-") else ""
    if name in HELP_FLAGS:
      if eq and value.lower() not in _TRUE + _FALSE:
        raise UserError(f"{arg}: give {name}, {name}=true or {name}=false")
      found[i] = not eq or value.lower() in _TRUE
    elif fv is not None and bare and not eq and bare in fv and not fv[bare].boolean:
      value_of_previous = True  # The next argument is this flag's value.
  return found


def asks_for_help(args: list[str], fv: Optional[flags.FlagValues] = None) -> bool:
  return any(_help_flags(args, fv).values())


def without_help(args: list[str], fv: Optional[flags.FlagValues] = None) -> list[str]:
  """`args` less their help flags (those that are not another flag's value)."""
  found = _help_flags(args, fv)
  return [arg for i, arg in enumerate(args) if i not in found]


def exit_with(text: str) -> NoReturn:
  """Prints a tool's usage to stdout and exits 0 (absl's own --help exits 1)."""
  print(text)
  raise SystemExit(0)


def parse_flags(fv: flags.FlagValues, argv: list[str], doc: str,
                positional: bool = False) -> list[str]:
  """Parses `argv` into `fv` (a tool's own flags); raises UserError in one line.

  `--help` prints `doc` (the tool's docstring) and the flags, and exits 0. Returns the
  positional arguments, which only a tool that takes them (`positional`) accepts.
  """
  if asks_for_help(argv[1:], fv):
    exit_with(usage(doc, fv))
  try:
    rest = fv(argv[:1] + without_help(argv[1:], fv))[1:]
  except flags.Error as e:
    raise UserError(str(e).splitlines()[0]) from None
  if rest and not positional:
    raise UserError(f"unexpected argument {rest[0]!r}; flags take the form --name=value")
  return rest


def load_sweep(command: Command) -> list[dict]:
  """The overrides of `get_sweep()` in the config file."""
  path, _, arg = command.config_path.partition(":")
  if not callable(getattr(command.module, "get_sweep", None)):
    raise UserError(f"{path} defines no get_sweep(); drop --sweep or add one")
  try:
    members = command.module.get_sweep(arg) if arg else command.module.get_sweep()
  except ValueError as e:
    raise UserError(f"{path}: get_sweep: {_first_line(e)}") from None
  except Exception as e:  # pylint: disable=broad-except
    raise UserError(f"{path}: get_sweep raised {type(e).__name__} ({_first_line(e)}); fix the "
                    "config file") from None
  if not members:
    raise UserError(f"{path}: get_sweep() returned no members; return a list of overrides")
  return members
