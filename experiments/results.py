r"""Results as records: one JSON file per README row, and the table rendered from them.

  # Score a trained population and write results/NAME.json:
  python -m experiments.evaluate --workdir=DIR
  python -m experiments.results --record=NAME --workdir=DIR \
      --run_command="python -m experiments.run --config=configs/ring.py --config.num_seeds=3 \
      --workdir=DIR" --published='{"source": "PacGAN Table 1", ...}'
  # Render the table; --check fails when README.md differs, --write rewrites it:
  python -m experiments.results [--check | --write]

A record holds the commands that reproduce it, the resolved config, the seeds, each
seed's metrics with their mean, std (divided by n), min and max, the step evaluated
(and the run's length), the training time, the machine it trained on, the commit of
the code that trained it (`-dirty`: with changes to gan_jax/, experiments/ or
configs/) and the one that recorded it, and the trajectory: the runs' own evaluations
along training (each member's metrics.jsonl, the config's `eval` settings), summarised
over the seeds at each step.
The rendered row puts the mean +- std over n seeds beside the published figure with
its own n and protocol, and says plainly where the row falls short of the paper:
outside the published mean +- 2 standard errors, or stopped before its config's length
(the paper's, where the config reproduces it); and when the paper's error is over more
runs than the row's seeds. A figure without numbers is an anchor too (`shows`: what
every seed must show). `--workdir` and `--run_command` given once per population make
one row of populations that train other seeds of one config
(`--config.seed=S --config.num_seeds=N`); a single run (N = 1) is the population of
its seed, so seeds trained one per core (`taskset -c C`) make a row too.

  # A rerun of a record's commands (on another CPU, say) joins that record:
  python -m experiments.results --rerun=NAME --workdir=DIR --run_command="..."

A rerun must train the record's config and some or all of its seeds and be scored as
the record was; its line under the table says whether each seed's numbers are the
record's and, where they are not, how many standard errors of their difference its
means lie from the record's (over the same seeds).

  # More seeds of a record's config join it (its own workdirs need not exist any more):
  python -m experiments.results --extend=NAME --workdir=DIR --run_command="..."

Prose outside the table that restates a record's figure cites it, so that a new record
cannot leave the prose behind: `<!--r NAME.FIELD-->96.1 ± 5.9<!--/r-->` holds the mean
+- std of FIELD in results/NAME.json, `NAME.FIELD.seeds` each seed's value (joined by
"/"), `NAME.FIELD.min` (`mean`, `std`, `max`) one statistic, `NAME.step` the step
evaluated and `NAME.n` the number of seeds; `NAME.FIELD@STEP` (with any of those
statistics) cites the runs' own evaluation at STEP from the trajectory, and
`NAME.FIELD@FROM-TO` (`FROM-`: to the last) their evaluations over a span:
`.under=95` "k of n", the k of those n under 95 as shown (a percentage, say; `.over=X`,
and `.seeds` after either for each seed's k), `.min`, `.max`, `.n`, or `.means`, the
lowest and highest of the steps' means over the seeds ("17.7-19.3"); `:D` after any
of them gives D digits instead of the table's. `--write` fills them in with the rest and
`--check` fails where one differs. A citation and its figure stay on one line, after a
word (a line that begins with one is an HTML block to Markdown); one in a code span or a
fenced block is an example and left alone. The rendering is `experiments.report`'s.
"""

import datetime
import json
import math
import os
import shlex
import sys
from typing import Sequence

from absl import flags

from experiments import populations
from experiments import report
from experiments import resources
from experiments import sweeps
from experiments import workdir as workdirs
from experiments import writers
from experiments.command import parse_command, parse_flags
from experiments.errors import UserError

RESULTS_DIR = "results"
EVAL_FILE = "eval.jsonl"
EXIT_OK, EXIT_DIFFERS, EXIT_USAGE = 0, 1, 2


def train_seconds(workdir: str, step: int):
  """Seconds of training to `step`, summed over the processes that trained the workdir.

  From train_time.jsonl, one span per checkpoint (a span that `step` cuts counts its
  share of its steps; spans that overlap, a resume from an earlier checkpoint, count
  once); a workdir without one, from before it was written, falls back to the time
  between config.json and the checkpoint of `step`, which includes any pause between
  resumes. None when the record does not reach back to step 0 or forward to `step`.
  """
  spans = workdirs.read_json_records(os.path.join(workdir, workdirs.TIME_FILE))
  if not spans:
    checkpoints = os.path.join(workdir, workdirs.CHECKPOINT_DIR, str(step))
    started = os.path.getmtime(os.path.join(workdir, workdirs.CONFIG_FILE))
    return os.path.getmtime(checkpoints) - started if os.path.exists(checkpoints) else None
  covered, seconds = 0, 0.0
  for span in sorted(spans, key=lambda s: s["from_step"]):
    low, high = span["from_step"], min(span["to_step"], step)
    if low > covered or high <= low:  # A gap (a process that left no line), or past `step`.
      break
    if high > covered:
      seconds += span["seconds"] * (high - covered) / (span["to_step"] - low)
      covered = high
  return seconds if covered >= step else None


def _evaluate_command(workdir: str, config: dict, protocol: dict) -> str:
  """The experiments.evaluate line that gives `protocol` on `workdir`: the checkpoint's
  step and the sample count always, other flags where they depart from the run's config."""
  line = f"python -m experiments.evaluate --workdir={workdir}"
  for flag in ("step", "num_samples"):
    if flag in protocol:
      line += f" --{flag}={protocol[flag]}"
  if protocol.get("seed", 0):
    line += f" --seed={protocol['seed']}"
  refresh = protocol.get("bn_refresh_batches", 0)
  if refresh != (config.get("eval") or {}).get("bn_refresh_batches", 0):
    line += f" --bn_refresh_batches={refresh}"
  if "bn_refresh_batch_size" in protocol:
    line += f" --bn_refresh_batch_size={protocol['bn_refresh_batch_size']}"
  return line


# Config fields in which the populations of one record may differ: which seeds they train.
_SEED_FIELDS = ("seed", "num_seeds", "population")
# Protocol fields that may differ between populations scored alike: where the scorer's
# files lie, and the classifier's accuracy as each evaluation re-measured it.
_PROTOCOL_LOCAL = ("extractor", "classifier_channel_accuracy")


def _seed_order(member: str):
  """`seed=10` after `seed=9`; other names after the seeds, alphabetically."""
  number = member.split("=", 1)[1] if member.startswith("seed=") else ""
  return (int(number), "") if number.isdigit() else (math.inf, member)


def _finite_or_none(value):
  """A metric as metrics.jsonl holds it (a non-finite one as its string): a finite float,
  or None (undefined, as a record's seeds say it)."""
  value = float(value) if isinstance(value, (int, float, str)) else math.nan
  return value if math.isfinite(value) else None


def _history(folder: str, last_step: int) -> dict:
  """A member's own evaluations during training up to `last_step`, by step: the metrics
  that the table shows (`report.SHOWN`: a record keeps what its rows can show) of the
  metrics.jsonl lines in its `folder` (a step logged twice, across a resume: the later)."""
  lines = writers.read_metrics(folder)
  evaluations = [line for line in lines if isinstance(line.get("step"), int)
                 and line["step"] <= last_step and any(f in line for f in report.SHOWN)]
  return {line["step"]: {f: _finite_or_none(line[f]) for f in report.SHOWN if f in line}
          for line in evaluations}


def trajectory(histories: Sequence[dict]) -> list[dict]:
  """Each step that every member evaluated, with each metric's summary over the members."""
  steps = set.intersection(*(set(h) for h in histories)) if histories else set()
  points = []
  for step in sorted(steps):
    fields = [f for f in report.SHOWN if all(f in h[step] for h in histories)]
    points.append({"step": step, **{f: report.seed_summary([h[step][f] for h in histories])
                                    for f in fields}})
  return points


def _evaluated(workdir: str) -> tuple[dict, dict, dict, dict]:
  """`workdir`'s config.json, the config it trained with, its latest evaluation and each
  member's folder (its own logs); a single run's as those of a population of its one seed."""
  config = workdirs.read_config(workdir)
  if config is None:
    raise UserError(f"{workdir} holds no config.json; pass the --workdir of a run")
  evaluations = workdirs.read_json_records(os.path.join(workdir, EVAL_FILE))
  if not evaluations:
    raise UserError(f"{workdir} has no {EVAL_FILE}; run python -m experiments.evaluate "
                    f"--workdir={workdir} first")
  evaluation = evaluations[-1]
  trained = workdirs.with_network_defaults(workdirs.with_added_fields(
      workdirs.apply_changes(config, workdirs.read_changes(workdir))))
  if not config.get("population") and not evaluation.get("members"):
    # A single run (--config.num_seeds=1) is the population of its seed, its logs its own.
    member = {"name": sweeps.member_name({"seed": trained["seed"]}),
              **populations.member_values(trained)}
    scores = {k: v for k, v in evaluation.items() if k not in ("step", "protocol")}
    evaluation = {"step": evaluation.get("step"), "protocol": evaluation.get("protocol", {}),
                  "members": {member["name"]: scores}}
    return (dict(config, population=[member]), dict(trained, population=[member]), evaluation,
            {member["name"]: workdir})
  if not evaluation.get("members"):
    raise UserError(f"{workdir}'s last evaluation scored the population as a single run: "
                    f"run python -m experiments.evaluate --workdir={workdir} again")
  if not config.get("population"):
    raise UserError(f"{workdir}/{workdirs.CONFIG_FILE} lists no population members: record "
                    "a population trained with --config.num_seeds=3")
  folders = {m["name"]: os.path.join(workdir, workdirs.MEMBERS_DIR, m["name"])
             for m in config["population"]}
  return config, trained, evaluation, folders


def _members_settings(config: dict) -> list[dict]:
  """What each member of a population trains with, but its name and seed."""
  return [{k: v for k, v in m.items() if k not in ("name", "seed")}
          for m in config.get("population", [])]


def _trained_on(workdir: str, step: int) -> tuple[list[str], list[str], list[str]]:
  """The machines, package versions and commits named by the training spans up to `step`.

  For a workdir whose spans name no machine or packages (trained before they did), this
  host's CPU and this process's packages, where such records were made; commits only
  where some span names one (a span from before they did counts as "unknown")."""
  spans = [s for s in workdirs.read_json_records(os.path.join(workdir, workdirs.TIME_FILE))
           if s.get("from_step", 0) < step]
  machines = [s["machine"] for s in spans if s.get("machine")]
  software = [s["software"] for s in spans if s.get("software")]
  commits = [s.get("commit", "unknown") for s in spans]
  if all(c == "unknown" for c in commits):
    commits = []
  return machines or [resources.cpu()], software or [resources.software()], commits


def make_record(name: str, workdir: str | os.PathLike | Sequence, *,
                run_command: str | Sequence[str], published: dict, title: str = "",
                note: str = "", goal: dict | None = None, min_seeds: int = 3) -> dict:
  """The record of the latest evaluation (experiments.evaluate) of a population's workdir.

  Args:
    workdir: the population's workdir, or a list of workdirs whose populations train
      other seeds of the same config (`--config.seed=S --config.num_seeds=N`; a single
      run, N = 1, is the population of its seed), all evaluated at the same step with
      the same protocol: their members make one row, its wall time the sum of their
      training times.
    run_command: the command that trained each workdir (a string, or one per workdir).

  Raises:
    UserError: no config, no evaluation, a population scored as a single run,
      populations that differ in more than their seeds or were scored differently, a
      seed twice, or fewer than 3 seeds.
  """
  single = isinstance(workdir, (str, os.PathLike))
  workdir_list = [os.fspath(w) for w in ([workdir] if single else workdir)]
  run_commands = [run_command] if isinstance(run_command, str) else list(run_command)
  if len(run_commands) != len(workdir_list):
    raise UserError(f"{len(workdir_list)} workdirs and {len(run_commands)} run commands: "
                    "give one --run_command per --workdir, in the same order")
  evaluated = [_evaluated(w) for w in workdir_list]
  first, (config, shared, last, _) = workdir_list[0], evaluated[0]
  protocol = {k: v for k, v in last.get("protocol", {}).items() if k not in _PROTOCOL_LOCAL}
  members, seed_of, commands, walls, machines, software, changes = {}, {}, [], [], [], [], []
  histories, populations_made = {}, []
  for w, command, (raw, trained, evaluation, folders) in zip(workdir_list, run_commands,
                                                             evaluated):
    differs = list(workdirs.changes(shared, trained, ignore=("resolved",) + _SEED_FIELDS))
    # Every member of every population trains as the first does (a sweep is not a row).
    if any(m != _members_settings(shared)[0] for m in _members_settings(trained)):
      differs.append("the members' settings (population)")
    if differs:
      raise UserError(f"{w} and {first} differ in {', '.join(differs)}, not only in their "
                      "seeds: one record is one config")
    if evaluation.get("step") != last.get("step"):
      raise UserError(f"{w} was evaluated at step {evaluation.get('step')}, {first} at "
                      f"{last.get('step')}: evaluate both at one step (experiments.evaluate "
                      "--step=S)")
    scored = {k: v for k, v in evaluation.get("protocol", {}).items()
              if k not in _PROTOCOL_LOCAL}
    if scored != protocol:
      fields = sorted(k for k in set(scored) | set(protocol) if scored.get(k) != protocol.get(k))
      raise UserError(f"{w} and {first} were evaluated with different {', '.join(fields)}: "
                      "score both with the same experiments.evaluate flags")
    own = evaluation["members"]
    twice = sorted(set(own) & set(members), key=_seed_order)
    if twice:
      raise UserError(f"{', '.join(twice)} of {w} is already in another workdir: give each "
                      "population other seeds (--config.seed=S)")
    members.update(own)
    histories.update({n: _history(folders[n], last["step"]) for n in own})
    seed_of.update({m["name"]: m.get("seed") for m in raw.get("population", [])})
    own_commands = [command, _evaluate_command(w, raw, evaluation.get("protocol", {}))]
    commands += own_commands
    walls.append(train_seconds(w, evaluation["step"]))
    trained_on, trained_with, trained_at = _trained_on(w, evaluation["step"])
    machines, software = machines + trained_on, software + trained_with
    populations_made.append({
        "members": sorted(own, key=_seed_order), "commands": own_commands,
        "machine": report.joined(*trained_on), "software": report.joined(*trained_with),
        # The code that trained it; `commit` below is the one that recorded it.
        **({"trained_at": report.joined(*trained_at)} if trained_at else {}),
        "wall_time_s": walls[-1]})
    changes += [dict(c, workdir=w) if not single else c for c in workdirs.read_changes(w)]
  if len(members) < min_seeds:
    raise UserError(f"{', '.join(workdir_list)} was evaluated over {len(members)} seed(s); a "
                    "record needs a population of at least 3 (--config.num_seeds=3)")
  names = sorted(members, key=_seed_order)
  fields = set(members[names[0]])
  if any(set(members[n]) != fields for n in names):
    raise UserError(f"the members of {', '.join(workdir_list)} were scored on different "
                    "metrics: evaluate them with the same experiments.evaluate flags")
  metrics = {field: report.seed_summary([members[n].get(field) for n in names])
             for field in members[names[0]]}
  points = trajectory([histories[n] for n in names])
  if not points:
    silent = [n for n in names if not histories[n]]
    print(f"no step up to {last['step']:,} that every member evaluated during training"
          + (f" ({', '.join(silent)}: none)" if silent else "") + "; the record has no trajectory",
          file=sys.stderr)
  made = {"commit": resources.commit(), "date": datetime.date.today().isoformat()}
  for population in populations_made:
    population.update(made, seeds=[seed_of.get(n, n) for n in population["members"]])
  return {
      "name": name,
      "title": title or name,
      "commands": commands,
      "config": config,
      "changes": changes,
      "seeds": [seed_of.get(n, n) for n in names],
      "members": names,
      "step": last["step"],
      "num_steps": shared["num_steps"],
      # Training time: with several populations, theirs added up.
      "wall_time_s": None if None in walls else sum(walls),
      "machine": report.joined(*machines),
      "software": report.joined(*software),
      **made,
      # Which members trained where, with what and when (the fields above join them).
      "populations": populations_made,
      "protocol": last.get("protocol", {}),
      "metrics": metrics,
      # The runs' own evaluations along the way (config.eval, on other samples).
      "trajectory": points,
      "published": published,
      "goal": goal or {},
      "note": note,
  }


# Config fields that change what a run prints, not what it trains.
_DISPLAY_FIELDS = ("progress", "tensorboard")


def _as_trained(record: dict) -> dict:
  """The record's config as it trained: its resumes' recorded changes applied, fields
  added since filled in at their old values."""
  return workdirs.with_network_defaults(workdirs.with_added_fields(
      workdirs.apply_changes(record["config"], record.get("changes", []))))


def _config_changes(old: dict, new: dict) -> dict:
  """`workdirs.changes` of two configs, but for which seeds they train and how they print."""
  return workdirs.changes(old, new, ignore=("resolved",) + _SEED_FIELDS + _DISPLAY_FIELDS)


def drifted_fields(record: dict) -> list[str]:
  """The config fields where a population's run command, resolved by today's config files,
  differs from the config the record trained: none while its commands reproduce it."""
  trained, fields = _as_trained(record), set()
  for population in report.populations_of(record):
    for command in population.get("commands", []):
      words = shlex.split(command)
      if words[1:3] != ["-m", "experiments.run"]:
        continue
      today = {"config": parse_command(["run", *words[3:]]).config.to_dict()}
      fields |= set(_config_changes(trained, _as_trained(today)))
  return sorted(fields)


def _check_same_experiment(record: dict, new: dict, what: str) -> None:
  """Refuses `new` (make_record's) unless it trained `record`'s config, but for its seeds,
  and was scored as `record` was."""
  name = f"results/{record['name']}.json"
  differs = _config_changes(_as_trained(record), _as_trained(new))
  if differs:
    raise UserError(f"{what} trained another config than {name} ({', '.join(differs)}): "
                    "run the record's command")

  def scored(protocol, config):
    protocol = {k: v for k, v in protocol.items() if k not in _PROTOCOL_LOCAL}
    if protocol.get("reference") == "target samples":  # 1-D: the run's seed drew it once.
      protocol.setdefault("reference_seed", config.get("seed", 0))
    return protocol

  again = "evaluate it with the record's experiments.evaluate command"
  if new["step"] != record["step"]:
    raise UserError(f"{what} was evaluated at step {new['step']:,}, {name} at "
                    f"{record['step']:,}: {again}")
  ours, theirs = (scored(r.get("protocol", {}), r["config"]) for r in (new, record))
  fields = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
  if fields:
    raise UserError(f"{what} was evaluated with another {', '.join(fields)} than {name}: "
                    f"{again}")
  # Metrics the evaluator gained since the record was made are left out; one it lacks is not.
  lacks = sorted(set(record["metrics"]) - set(new["metrics"]))
  if lacks:
    raise UserError(f"{what} was scored without {', '.join(lacks)}, unlike {name}: {again}")


def make_rerun(record: dict, workdir: str | os.PathLike | Sequence, *,
               run_command: str | Sequence[str]) -> dict:
  """A rerun of `record`'s commands (or of some of its populations'), on another machine
  say: the machine, packages, commit, date, commands, training time, its members and each
  one's metrics of its populations' evaluations, and each population's provenance.

  Raises:
    UserError: as make_record does (but for one or two seeds), and for populations that
      trained another config or a seed the record lacks, or were scored otherwise.
  """
  rerun = make_record(record["name"], workdir, run_command=run_command, published={},
                      min_seeds=1)
  _check_same_experiment(record, rerun, "the rerun")
  extra = sorted(set(rerun["members"]) - set(record["members"]), key=_seed_order)
  if extra:
    raise UserError(f"the rerun trained {', '.join(extra)}, which results/{record['name']}"
                    f".json lacks (its seeds are {record['seeds']}): rerun the record's "
                    "commands")
  rerun["metrics"] = {f: rerun["metrics"][f] for f in record["metrics"]}
  return {k: rerun[k] for k in ("commands", "machine", "software", "commit", "date",
                                "wall_time_s", "members", "seeds", "metrics", "populations")}


def _merged(old: dict, old_names: list, new: dict, new_names: list, names: list) -> dict:
  """The summary over `names` of two summaries' seeds (each in its own members' order)."""
  values = {**dict(zip(old_names, old["seeds"])), **dict(zip(new_names, new["seeds"]))}
  return report.seed_summary([values[n] for n in names])


def extend_record(record: dict, workdir: str | os.PathLike | Sequence, *,
                  run_command: str | Sequence[str]) -> dict:
  """`record` with the members of other seeds of its config added: their metrics, commands,
  training time, machine and the trajectory's common steps. The record's own workdirs
  need not exist any more (its seeds' numbers are in it).

  Raises:
    UserError: as make_record does (but for one or two seeds), and for a population
      that trained another config, a seed the record has, or was scored otherwise.
  """
  workdir_list = [workdir] if isinstance(workdir, (str, os.PathLike)) else list(workdir)
  new = make_record(record["name"], workdir_list, run_command=run_command, published={},
                    min_seeds=1)
  _check_same_experiment(record, new, "the population")
  twice = sorted(set(new["members"]) & set(record["members"]), key=_seed_order)
  if twice:
    raise UserError(f"{', '.join(twice)} already in results/{record['name']}.json: give the "
                    "population other seeds (--config.seed=S)")
  old_names, new_names = record["members"], new["members"]
  names = sorted(old_names + new_names, key=_seed_order)
  seed_of = {**dict(zip(old_names, record["seeds"])), **dict(zip(new_names, new["seeds"]))}
  metrics = {f: _merged(record["metrics"][f], old_names, new["metrics"][f], new_names, names)
             for f in record["metrics"]}
  theirs = {p["step"]: p for p in new["trajectory"]}
  points = []
  for point in record.get("trajectory", []):
    other = theirs.get(point["step"])
    if other is not None:
      points.append({"step": point["step"], **{
          f: _merged(point[f], old_names, other[f], new_names, names)
          for f in point if f != "step" and f in other}})
  walls = [record.get("wall_time_s"), new["wall_time_s"]]
  # Where, with what and when each population trained: the record's and the new ones'.
  made = {k: report.joined(record.get(k, "unknown"), new[k]) for k in report.PROVENANCE}
  return dict(record, members=names, seeds=[seed_of[n] for n in names], metrics=metrics,
              populations=report.populations_of(record) + new["populations"],
              trajectory=points, commands=record["commands"] + new["commands"],
              changes=record.get("changes", []) + new["changes"],  # Each with its workdir.
              wall_time_s=None if None in walls else sum(walls), **made)


def read_record(path: str) -> dict:
  try:
    with open(path, encoding="utf-8") as f:
      record = json.load(f)
  except OSError as e:
    raise UserError(f"cannot read {path} ({e.strerror}); make it readable or restore it "
                    f"(git checkout {path})") from None
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise UserError(f"{path} is not a record's JSON ({e}); restore it (git checkout "
                    f"{path}) or write it again with --record") from None
  if not isinstance(record, dict) or "metrics" not in record:
    raise UserError(f"{path} is JSON but not a record (no metrics object); restore it (git "
                    f"checkout {path}) or write it again with --record")
  return record


def load_records(directory: str = RESULTS_DIR) -> list[dict]:
  if not os.path.isdir(directory):
    return []
  return [read_record(os.path.join(directory, name))
          for name in sorted(os.listdir(directory)) if name.endswith(".json")]


def _refuse_constant(name: str):
  def refuse(constant):
    raise UserError(f"--{name} holds {constant}: JSON has no NaN or Infinity; give a number")
  return refuse


def _json_flag(name: str, text: str) -> dict:
  try:
    value = json.loads(text, parse_constant=_refuse_constant(name))
  except json.JSONDecodeError as e:
    raise UserError(f"--{name} is not JSON ({e})") from None
  if not isinstance(value, dict):
    raise UserError(f"--{name} must be a JSON object, not {text}")
  return value


def _check_thresholds(flag: str, tests) -> None:
  """Refuses anything but `{metric: [">=" or "<=", number]}`."""
  if not isinstance(tests, dict):
    raise UserError(f'{flag} must be an object {{metric: [">=" or "<=", bound]}}, not {tests}')
  for field, test in tests.items():
    if not (isinstance(test, list) and len(test) == 2 and test[0] in report.GOAL_TESTS
            and isinstance(test[1], (int, float)) and not isinstance(test[1], bool)):
      raise UserError(f'{flag} {field!r} must be [">=" or "<=", a number], not {test}')


def _write_record(record: dict, path: str, workdir_list: Sequence[str]) -> None:
  try:  # Plain JSON: a NaN or an infinity has no place in it.
    text = json.dumps(record, indent=1, sort_keys=True, allow_nan=False)
  except ValueError as e:
    raise UserError(f"the record of {', '.join(workdir_list)} would hold a non-finite "
                    f"number (its config.json's settings?): {e}") from None
  workdirs.write_atomic(path, text + "\n")


def main(argv: list[str]) -> int:
  fv = flags.FlagValues()
  flags.DEFINE_bool("check", False, "Exit 1 when README.md differs from the rendering.",
                    flag_values=fv)
  flags.DEFINE_bool("write", False, "Rewrite README.md's results table.", flag_values=fv)
  flags.DEFINE_string("record", None, "Write results/NAME.json from --workdir.", flag_values=fv)
  flags.DEFINE_multi_string("workdir", None, "The evaluated population's workdir; repeated, "
                            "populations of other seeds of one config, one row.",
                            flag_values=fv)
  flags.DEFINE_multi_string("run_command", None, "The command that trained --workdir (one "
                            "per --workdir, in order).", flag_values=fv)
  flags.DEFINE_string("published", "{}", "The paper's figure as JSON: source, n, error, "
                      "values {metric: [mean, error]}; or, for a figure without numbers, "
                      'shows {metric: [">=" or "<=", bound]} (what it shows).', flag_values=fv)
  flags.DEFINE_string("goal", "{}", "Thresholds every seed must meet, as JSON "
                      '{metric: [">=" or "<=", bound]}.', flag_values=fv)
  flags.DEFINE_string("rerun", None, "Add --workdir, a rerun of results/NAME.json's "
                      "commands (on another machine), to that record.", flag_values=fv)
  flags.DEFINE_string("extend", None, "Add --workdir, populations of other seeds of "
                      "results/NAME.json's config, to that record (--note replaces its note).",
                      flag_values=fv)
  flags.DEFINE_string("title", "", "The row's first cell.", flag_values=fv)
  flags.DEFINE_string("note", "", "A note kept in the record.", flag_values=fv)
  try:
    parse_flags(fv, argv, __doc__)
    given = [f"--{name}" for name in ("record", "rerun", "extend") if fv[name].value]
    if len(given) > 1:
      raise UserError(f"{' and '.join(given)}: give one of them (--record writes a record, "
                      "--rerun and --extend add to one)")
    table_flags = [f"--{name}" for name in ("check", "write") if fv[name].value]
    if given and table_flags:
      raise UserError(f"{' and '.join(given + table_flags)}: give one of them (write the "
                      "record first, then --write the table; --check only compares)")
    if len(table_flags) > 1:
      raise UserError("--check and --write: give one of them (--check compares README.md "
                      "with the rendering, --write rewrites its table)")
    if fv.rerun or fv.extend:
      name = fv.rerun or fv.extend
      # A rerun adds to the record, which keeps its own title, anchor, goal and note.
      kept = ("title", "published", "goal") + (("note",) if fv.rerun else ())
      ignored = [k for k in kept if fv[k].present]
      if ignored:
        raise UserError(f"{given[0]} keeps the record's {', '.join(ignored)}: drop "
                        f"{', '.join('--' + k for k in ignored)} (or write the record again "
                        "with --record)")
      if not fv.workdir:
        raise UserError(f"{given[0]} needs --workdir=DIR of an evaluated population")
      path = os.path.join(RESULTS_DIR, f"{name}.json")
      if not os.path.isfile(path):
        raise UserError(f"{path} does not exist; pass the NAME of a record in {RESULTS_DIR}/")
      record = read_record(path)
      commands = fv.run_command or [""] * len(fv.workdir)
      if fv.rerun:
        rerun = make_rerun(record, fv.workdir, run_command=commands)
        record["reruns"] = [*record.get("reruns", []), rerun]
        shown = report.rerun_line(record, rerun)
      else:
        record = extend_record(record, fv.workdir, run_command=commands)
        record["note"] = fv.note if fv["note"].present else record.get("note", "")
        shown = report.render([record]).splitlines()[2]
      _write_record(record, path, fv.workdir)
      print(shown)
      return EXIT_OK
    if fv.record:
      if not fv.workdir:
        raise UserError("--record needs --workdir=DIR of an evaluated population")
      published, goal = _json_flag("published", fv.published), _json_flag("goal", fv.goal)
      shows = published.get("shows", {})
      _check_thresholds("--goal", goal)
      _check_thresholds("--published's shows", shows)
      if shows and (published.get("values") or goal):
        raise UserError("--published's shows is for a figure without numbers: give it "
                        "without values and without --goal")
      record = make_record(fv.record, fv.workdir,
                           run_command=fv.run_command or [""] * len(fv.workdir),
                           published=published, title=fv.title, note=fv.note, goal=goal)
      unknown = sorted((set(goal) | set(shows)) - set(record["metrics"]))
      if unknown:
        raise UserError(f"the population's evaluation has no {', '.join(unknown)}; its "
                        f"metrics are {', '.join(sorted(record['metrics']))}")
      os.makedirs(RESULTS_DIR, exist_ok=True)
      path = os.path.join(RESULTS_DIR, f"{fv.record}.json")
      _write_record(record, path, fv.workdir)
      print(f"wrote {path}")
      return EXIT_OK
    records = load_records(RESULTS_DIR)
    table = report.render(records)
    if not (fv.check or fv.write):
      print(table)
      return EXIT_OK
    with open(report.README, encoding="utf-8") as f:
      readme = f.read()
    rendered = report.readme_figures(report.readme_with(table, readme), records)
    if fv.write:
      workdirs.write_atomic(report.README, rendered)
      print(f"rewrote the results table of {report.README} and the figures it cites")
      return EXIT_OK
    if rendered != readme:
      print(f"{report.README}'s results table or a figure it cites differs from "
            "results/*.json; run python -m experiments.results --write", file=sys.stderr)
      return EXIT_DIFFERS
    return EXIT_OK
  except UserError as e:
    print(f"error: {e}", file=sys.stderr, flush=True)
    return EXIT_USAGE


if __name__ == "__main__":
  sys.exit(main(sys.argv))
