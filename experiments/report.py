"""How records read: the README's Results table and the figures its prose cites.

`render` makes the table from records (`experiments.results.load_records` reads them
from results/*.json): one row a record (mean +- std over its seeds beside the
published figure or the goal, and a verdict), then where each was measured, each
rerun beside its record and the runs' own evaluations along training. `readme_figures`
fills in each `<!--r NAME.FIELD-->figure<!--/r-->` citation (`cited`; the forms are
listed in the help of `python -m experiments.results`, which writes the records and
rewrites or checks README.md).
"""

import math
import re
import shlex

from experiments.command import load_config, split_config_flag
from experiments.errors import UserError

README = "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
# A cited figure, on one line; one in a code span or a fenced block is an example.
FIGURE = re.compile(r"<!--r ([^<>\n]*?)-->([^<>\n]*)<!--/r-->")
CODE = re.compile(r"(`+).*?\1", re.S)

# How each metric is shown: (label, scale, digits).
SHOWN = {
    "modes_covered": ("modes", 1, 1),
    "high_quality_fraction": ("% high quality", 100, 1),
    "kl_to_uniform": ("KL", 1, 3),
    "wasserstein_1d": ("W1", 1, 3),
    "parzen_log_likelihood": ("Parzen", 1, 1),
    "frechet_distance": ("FD", 1, 1),
    "inception_fid": ("Inception FID", 1, 2),
}


def _shown(field: str) -> tuple[str, float, int]:
  """(label, scale, digits) of a metric; one SHOWN does not list is shown as named, to 3 digits."""
  return SHOWN.get(field, (field, 1, 3))


def _number(field: str, value, digits: int | None = None) -> str:
  """`value` of metric `field` as shown (scaled, to its digits or `digits`); "n/a" if undefined."""
  _, scale, shown = _shown(field)
  if value is None or not math.isfinite(value):
    return "n/a"
  return f"{value * scale:.{shown if digits is None else digits}f}"


def seed_summary(values: list) -> dict:
  """A metric over the seeds: each seed's value (None where undefined), and the mean, std
  (divided by n), min and max of the finite ones."""
  finite = [v for v in values if v is not None and math.isfinite(v)]
  if not finite:
    return {"seeds": values}
  mean = sum(finite) / len(finite)
  std = math.sqrt(sum((v - mean) ** 2 for v in finite) / len(finite))
  return {"seeds": values, "mean": mean, "std": std, "min": min(finite), "max": max(finite)}


def joined(*parts: str) -> str:
  """`a + b`: each of the parts (themselves joined so, or not) once, in order."""
  return " + ".join(dict.fromkeys(p for part in parts for p in part.split(" + ")))


# Where, with what and when a population trained.
PROVENANCE = ("machine", "software", "commit", "date")


def populations_of(record: dict) -> list[dict]:
  """The record's populations: each one's members and seeds, commands, machine, packages,
  commit, date and training time (a record made before they were kept: one population,
  its own fields)."""
  if record.get("populations"):
    return record["populations"]
  return [{"members": record["members"], "seeds": record.get("seeds", record["members"]),
           "commands": record.get("commands", []),
           **{k: record.get(k, "unknown") for k in PROVENANCE},
           "wall_time_s": record.get("wall_time_s")}]


def _machine_over(record: dict, members: list[str]) -> str:
  """The machines that trained `members` of the record."""
  return joined(*[p.get("machine", "unknown") for p in populations_of(record)
                  if set(p.get("members", [])) & set(members)]) or record["machine"]


def _seed_span(seeds: list) -> str:
  """`seed 4`, `seeds 0-2`, `seeds 1, 5`; `no seeds` for a population that names none."""
  if not seeds:
    return "no seeds"
  runs = len(seeds) > 1 and all(isinstance(s, int) for s in seeds) and (
      seeds == list(range(seeds[0], seeds[0] + len(seeds))))
  shown = f"{seeds[0]}-{seeds[-1]}" if runs else ", ".join(map(str, seeds))
  return f"seed{'s' if len(seeds) > 1 else ''} {shown}"


def _commits(made: dict) -> str:
  """`commit c`, or `trained at commit t, recorded at commit c` where the code that
  trained a population (or a rerun's populations) is not the one that recorded it."""
  recorded = made.get("commit", "unknown")
  named = [p.get("trained_at", "unknown") for p in made.get("populations", [])]
  trained = made.get("trained_at") or (
      joined(*named) if any(n != "unknown" for n in named) else recorded)
  if trained == recorded:
    return f"commit {recorded}"
  return f"trained at commit {trained}, recorded at commit {recorded}"


def measured_on(record: dict) -> str:
  """`name: machine, commit c, date` (with `_commits`); for populations made apart, each
  population's, in the order of their lowest seeds."""
  def where(p):  # A hand-edited population may lack a field.
    return f"{p.get('machine', 'unknown')}, {_commits(p)}, {p.get('date', 'unknown')}"

  def key(seed):  # Integer seeds in order, then any others by name.
    return (0, seed, "") if isinstance(seed, int) else (1, 0, str(seed))

  seeds = {}  # Populations made alike count as one.
  for p in populations_of(record):
    seeds.setdefault(where(p), []).extend(p.get("seeds", p.get("members", [])))
  if len(seeds) == 1:
    return f"{record['name']}: {next(iter(seeds))}"
  spans = sorted(((sorted(s, key=key), w) for w, s in seeds.items()),
                 key=lambda span: key(span[0][0]) if span[0] else (2, 0, ""))
  return f"{record['name']}: " + "; ".join(f"{_seed_span(s)} on {w}" for s, w in spans)


def _rerun_members(record: dict, rerun: dict) -> list[str]:
  """The members a rerun trained (reruns stored before the field: all the record's)."""
  return rerun.get("members", record["members"])


def _over(record: dict, members: list[str]) -> dict:
  """The record's metrics over `members` only (a rerun of some of its populations)."""
  index = [record["members"].index(n) for n in members]
  return {field: seed_summary([summary["seeds"][i] for i in index])
          for field, summary in record["metrics"].items()}


def distances(record: dict, rerun: dict) -> dict[str, float]:
  """Each shown metric's distance between the rerun's mean and the record's (over the
  rerun's members), in standard errors of the difference of the two means (each the
  seeds' sample std over sqrt(n)); a metric without an error (one seed) is left out, and
  one whose seeds agree within both (no error) but whose means differ is infinitely far."""
  ours = _over(record, _rerun_members(record, rerun))
  apart = {}
  for field in SHOWN:
    a, b = ours.get(field, {}), rerun["metrics"].get(field, {})
    if "mean" not in a or "mean" not in b:
      continue
    # A summary's std divides by n; the sample variance of the mean is std^2 / (n - 1).
    counts = [sum(v is not None for v in m["seeds"]) for m in (a, b)]
    if min(counts) < 2:
      continue
    error = math.sqrt(sum(m["std"] ** 2 / (n - 1) for m, n in zip((a, b), counts)))
    difference = abs(b["mean"] - a["mean"])
    apart[_shown(field)[0]] = (0.0 if difference == 0 else math.inf if error == 0
                               else difference / error)
  return apart


def rerun_line(record: dict, rerun: dict) -> str:
  """One Markdown item: a rerun beside the record (over the rerun's members), how far
  apart their means are, and whether it meets the record's goal or figure."""
  members = _rerun_members(record, rerun)
  ours = _over(record, members)
  shown = [f for f in SHOWN if f in rerun["metrics"] and f in ours]
  cells = ", ".join(_cell(rerun["metrics"][f], f) for f in shown)
  theirs = ", ".join(_cell(ours[f], f) for f in shown)
  if shown and all(rerun["metrics"][f]["seeds"] == ours[f]["seeds"] for f in shown):
    words = "every seed's numbers identical to the record's"
  else:
    apart = distances(record, rerun)
    finite = {label: d for label, d in apart.items() if not math.isinf(d)}
    flat = [label for label, d in apart.items() if math.isinf(d)]
    words = "the seeds' numbers differ" + ("; the means lie " + ", ".join(
        f"{d:.1f} SE ({label})" for label, d in finite.items()) + " of their difference apart"
        if finite else "")
    far = [label for label, d in finite.items() if round(d, 1) > 2]  # As printed.
    if far:
      words += f": **{', '.join(far)} more than 2 SE apart**"
    if flat:
      words += f"; **{', '.join(flat)} apart with no spread within either**"
  published = record.get("published") or {}
  if record.get("goal"):
    words += "; " + _goal_words(record["goal"], rerun["metrics"])
  elif published.get("shows") and not published.get("values"):
    words += "; " + _shows_words(published["shows"], rerun["metrics"])
  return (f"- {record['title']} on {rerun['machine']} ({_commits(rerun)}, "
          f"{rerun['date']}): {cells} (n={len(members)}); the record, on "
          f"{_machine_over(record, members)}: {theirs}; {words}")


def _cell(summary: dict, field: str) -> str:
  label = _shown(field)[0]
  if "mean" not in summary:
    return f"{label} n/a"
  cell = f"{_number(field, summary['mean'])} ± {_number(field, summary['std'])} {label}"
  seeds = summary.get("seeds", [])
  undefined = sum(v is None or not math.isfinite(v) for v in seeds)
  if undefined:  # e.g. a KL over the modes of a seed without a high-quality sample.
    cell += f" (over {len(seeds) - undefined} seeds, undefined for {undefined})"
  return cell


GOAL_TESTS = {">=": lambda got, bound: got >= bound, "<=": lambda got, bound: got <= bound}


def goal_misses(record: dict) -> list[str]:
  """The goal's metrics that some seed misses (a goal holds for every seed)."""
  misses = []
  for field, (op, bound) in (record.get("goal") or {}).items():
    summary = record["metrics"].get(field, {})
    worst = summary.get("min" if op == ">=" else "max")
    if worst is None or not GOAL_TESTS[op](worst, bound):
      misses.append(_shown(field)[0])
  return misses


def _goal_text(goal: dict, lead: str = "goal, every seed") -> str:
  parts = []
  for field, (op, bound) in goal.items():
    label, scale, _ = _shown(field)
    parts.append(f"{'≥' if op == '>=' else '≤'} {bound * scale:g} {label}")
  return f"{lead}: " + ", ".join(parts)


def _goal_words(goal: dict, metrics: dict, length: str = "") -> str:
  misses = []
  for field, (op, bound) in goal.items():
    if not goal_misses({"goal": {field: (op, bound)}, "metrics": metrics}):
      continue
    seeds = metrics.get(field, {}).get("seeds") or []
    missed = sum(v is None or not GOAL_TESTS[op](v, bound) for v in seeds)
    who = f"{missed} of {len(seeds)} seeds" if seeds else "a seed"
    misses.append(f"{_shown(field)[0]} missed by {who}")
  if misses:
    return f"**short of the goal** ({', '.join(misses)}{length})"
  return "meets the goal on every seed" + length


def _shows_words(shows: dict, metrics: dict, length: str = "") -> str:
  """A qualitative anchor (a figure, not a table): each seed must show what it shows."""
  misses = goal_misses({"goal": shows, "metrics": metrics})
  if misses:
    # Not "short of": a figure may show a failure (a collapse) that a seed avoids.
    return (f"**unlike the paper's figure** ({', '.join(misses)}: not as it shows, on a seed"
            f"{length})")
  return (f"as the paper's figure shows ({', '.join(_shown(f)[0] for f in shows)}), on every "
          f"seed{length}")


def config_steps(record: dict) -> int:
  """The length of the config file that the record's run command names, as the file reads now.

  A run may be cut short by its own `--config.num_steps`; its row is measured against
  the config's length (the paper's, where the config reproduces it). A command that
  names no config file: the run's own length.
  """
  spec, _ = split_config_flag(shlex.split(record["commands"][0]) if record.get("commands") else [])
  return record["num_steps"] if spec is None else load_config(spec)[0].num_steps


def verdict(record: dict) -> str:
  """Where the row stands against the published figure (or its goal), in words."""
  steps = config_steps(record)
  length = "" if record["step"] >= steps else (
      f"; trained {record['step']:,} of the config's {steps:,} steps")
  if record.get("goal"):
    return _goal_words(record["goal"], record["metrics"], length)
  published = record.get("published") or {}
  values = published.get("values") or {}
  if not values and published.get("shows"):
    return _shows_words(published["shows"], record["metrics"], length)
  if not values:
    return "no published figure" + length
  seeds, trials = len(record["members"]), published.get("n")
  if isinstance(trials, int) and trials > seeds:  # The paper's error is over more runs.
    length += f"; {seeds} seeds against its {trials}"
  short = []
  for field, (mean, error) in values.items():
    got = record["metrics"].get(field, {}).get("mean")
    label = _shown(field)[0]
    if got is None:
      short.append(f"{label} not measured")
    elif abs(got - mean) > 2 * error:
      short.append(f"{label} {'above' if got > mean else 'below'}")
  if short:
    return f"**short of the paper** ({', '.join(short)} its ±2 SE{length})"
  return f"inside the paper's ±2 SE{length}"


def _anchor_value(field: str, mean: float, error: float) -> str:
  label, scale, _ = _shown(field)
  return f"{mean * scale:g} ± {error * scale:g} {label}"


def render(records: list[dict]) -> str:
  """The Markdown table of `records`, one row each."""
  lines = ["| SPEC | step (wall) | result, mean ± std over n seeds | published | verdict |",
           "|---|---|---|---|---|"]
  ordered = in_order(records)
  for r in ordered:
    shown = [f for f in SHOWN if f in r["metrics"]]
    result = ", ".join(_cell(r["metrics"][f], f) for f in shown) + f" (n={len(r['members'])})"
    seconds = r.get("wall_time_s")
    wall = ("" if not seconds else f" ({seconds:.0f} s)" if seconds < 60
            else f" ({seconds / 60:.0f} min)")
    published = r.get("published") or {}
    anchor = "; ".join(_anchor_value(field, mean, error)
                       for field, (mean, error) in (published.get("values") or {}).items())
    anchor = (f"{published.get('source', '')}: {anchor} (± {published.get('error', 'SE')}, "
              f"n={published.get('n', '?')})") if anchor else published.get("source", "—")
    if published.get("shows") and not published.get("values"):
      anchor = f"{anchor}; {_goal_text(published['shows'], 'its figure shows')}"
    if r.get("goal"):
      anchor = f"{_goal_text(r['goal'])}; {anchor}" if anchor != "—" else _goal_text(r["goal"])
    lines.append(f"| {r['title']} | {r['step']:,}{wall} | {result} | {anchor} | {verdict(r)} |")
  lines.append("")
  machines = list(dict.fromkeys(measured_on(r) for r in ordered))
  lines += ["Measured on:", "", *(f"- {m}" for m in machines)] if machines else [
      "No records yet."]
  reruns = [rerun_line(r, rerun) for r in ordered for rerun in r.get("reruns", [])]
  if reruns:
    lines += ["", "Reruns of a record's commands, the same seeds on another machine (a "
              "seed's training is bitwise reproducible on one CPU; on another its numbers "
              "may differ, and what a record promises there is the mean within the seeds' "
              "error):", "", *reruns]
  along = trajectory_lines(records)
  if along:
    lines += ["", "Along training, the runs' own evaluations (each config's `eval` settings, "
              "on other samples than the row's), means over the row's seeds (over those where "
              "a metric is defined):", "", *along]
  return "\n".join(lines)


def in_order(records: list[dict]) -> list[dict]:
  """`records` by name, except that runs trained on follow the record they continue, by step:
  the rows of one trajectory stay together, shortest first."""
  return sorted(records, key=lambda r: (origin(r, records)["name"], r["step"], r["name"]))


def origin(record: dict, records: list[dict]) -> dict:
  """The first record of the runs `record`'s were trained on from: the end of its chain of
  `continued` records (`record` itself if it continues none)."""
  while (earlier := continued(record, records)) is not None:
    record = earlier
  return record


def trajectory_lines(records: list[dict]) -> list[str]:
  """The Markdown items of the records with a trajectory, in table order, each starting where
  the record it continues ends."""
  return [trajectory_line(r, continued(r, records)) for r in in_order(records)
          if r.get("trajectory") and trajectory_fields(r)]


def trajectory_fields(record: dict) -> list[str]:
  """The first two shown metrics that the record's trajectory has a mean of."""
  return [f for f in SHOWN if any("mean" in p.get(f, {}) for p in record["trajectory"])][:2]


def continued(record: dict, records: list[dict]) -> dict | None:
  """The record of the longest trajectory that `record`'s begins with: the same runs,
  recorded at an earlier step and trained on (None if there is none)."""
  points = record.get("trajectory") or []
  fields = trajectory_fields(record) if points else []
  earlier = [other for other in records
             if 0 < len(other.get("trajectory") or []) < len(points)
             and points[:len(other["trajectory"])] == other["trajectory"]
             and trajectory_fields(other) == fields]
  return max(earlier, key=lambda other: len(other["trajectory"]), default=None)


def trajectory_line(record: dict, earlier: dict | None = None) -> str:
  """One Markdown item: the record's first two shown metrics at each step it evaluated,
  past those of `earlier` (a record whose trajectory this one's continues) when given."""
  points, fields = record["trajectory"], trajectory_fields(record)

  def shown(point, field):
    return _number(field, point[field]["mean"]) if "mean" in point.get(field, {}) else "?"

  def at(step):
    if step >= 1_000_000 and step % 1000 == 0:
      return f"{step / 1e6:g}M"
    return f"{step // 1000:,}k" if step >= 1000 and step % 1000 == 0 else f"{step:,}"

  start = len(earlier["trajectory"]) if earlier else 0
  values = ", ".join(f"{at(p['step'])} " + "/".join(shown(p, f) for f in fields)
                     for p in points[start:])
  if earlier:
    values = f"as {earlier['name']} to {at(earlier['trajectory'][-1]['step'])}, then {values}"
  return f"- {record['title']}, {' / '.join(SHOWN[f][0] for f in fields)}: {values}"


def readme_with(table: str, readme: str) -> str:
  """`readme` with the text between the results markers replaced by `table`."""
  if BEGIN not in readme or END not in readme:
    raise UserError(f"{README} has no {BEGIN} ... {END} block for the results table")
  head, rest = readme.split(BEGIN, 1)
  _, tail = rest.split(END, 1)
  return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def cited(reference: str, records: dict[str, dict]) -> str:
  """The text of a figure reference: `NAME.FIELD[@STEP][.STAT]`, `NAME.step` or `NAME.n`, `:D`.

  `NAME.FIELD@FROM-TO.STAT` cites the runs' own evaluations over a span (`_cited_span`).
  """
  where, _, digits = reference.partition(":")
  name, _, what = where.partition(".")
  if name not in records:
    raise UserError(f"{README} cites {reference!r}, but results/ has no {name}.json; cite "
                    f"one of {', '.join(sorted(records))}")
  record = records[name]
  if digits and not re.fullmatch(r"[0-9]+", digits):
    raise UserError(f"{README} cites {reference!r}: the digits after ':' must be a number")
  if what == "step":
    return f"{record['step']:,}"
  if what == "n":
    return str(len(record["members"]))
  what, _, stat = what.partition(".")
  field, at, step = what.partition("@")
  if at and "-" in step:
    return _cited_span(reference, record, field, step, stat, digits)
  if at:  # The runs' own evaluation at `step`, from the trajectory.
    points = [p for p in record.get("trajectory", []) if str(p["step"]) == step]
    if not points:
      raise UserError(f"{README} cites {reference!r}, but {name}'s trajectory has no step "
                      f"{step}; its steps are "
                      f"{', '.join(str(p['step']) for p in record.get('trajectory', []))}")
    metrics = {f: summary for f, summary in points[0].items() if f != "step"}
  else:
    metrics = record["metrics"]
  summary = metrics.get(field)
  if summary is None or stat not in ("", "seeds", "mean", "std", "min", "max"):
    raise UserError(f"{README} cites {reference!r}: give NAME.FIELD[@STEP][.seeds|.mean|.std|"
                    f".min|.max], NAME.step or NAME.n, FIELD one of "
                    f"{', '.join(sorted(metrics))}")
  places = int(digits) if digits else None
  if not stat:  # A metric undefined for every seed has no mean: "n/a".
    mean, std = (_number(field, summary.get(key), places) for key in ("mean", "std"))
    return f"{mean} ± {std}"
  if stat == "seeds":
    return "/".join(_number(field, value, places) for value in summary["seeds"])
  return _number(field, summary.get(stat), places)


def _cited_span(reference: str, record: dict, field: str, span: str, stat: str,
                digits: str) -> str:
  """The runs' own evaluations of `field` at the steps of `span` (`FROM-TO`, `FROM-`: to the end).

  `stat` is `min` or `max` over them, `n` their number, `means` the lowest and highest of
  the steps' means over the seeds ("17.7-19.3"; one figure where they agree), or `under=X`
  (`over=X`): "k of n", the k of them whose shown value (a percentage, say) is under
  (over) X; `.seeds` after it gives each seed's k, "/"-joined.
  """
  trajectory = record.get("trajectory", [])
  steps = re.fullmatch(r"([0-9]+)-([0-9]*)", span)
  counting = re.fullmatch(r"(under|over)=([0-9]+(?:\.[0-9]+)?)(\.seeds)?", stat)
  points = []
  if steps:
    low, high = int(steps[1]), int(steps[2]) if steps[2] else math.inf
    points = [p for p in trajectory if field in p and low <= p["step"] <= high]
  if not points or not (counting or stat in ("min", "max", "n", "means")):
    held = (f"steps {trajectory[0]['step']}-{trajectory[-1]['step']}" if trajectory
            else "empty")
    raise UserError(f"{README} cites {reference!r}: give NAME.FIELD@FROM-[TO].min|.max|.n|"
                    f".means|.under=X|.over=X[.seeds], FROM-TO steps within "
                    f"{record['name']}'s trajectory ({held}) and FIELD one it holds")
  places = int(digits) if digits else None
  if stat == "means":  # Each step's mean over its seeds with a value.
    means = [m for m in (seed_summary(p[field]["seeds"]).get("mean") for p in points)
             if m is not None]
    low, high = (_number(field, m, places) for m in (min(means, default=None),
                                                     max(means, default=None)))
    return low if low == high else f"{low}-{high}"
  by_seed = list(zip(*(p[field]["seeds"] for p in points)))
  by_seed = [[v for v in values if v is not None and math.isfinite(v)] for values in by_seed]
  values = [v for values in by_seed for v in values]
  if stat == "n":
    return str(len(values))
  if not counting:
    return _number(field, (min if stat == "min" else max)(values, default=None), places)
  test, bound, seeds = counting.groups()
  scale = _shown(field)[1]
  counts = [sum((v * scale < float(bound)) if test == "under" else (v * scale > float(bound))
                for v in values) for values in by_seed]
  return "/".join(map(str, counts)) if seeds else f"{sum(counts)} of {len(values)}"


def readme_figures(readme: str, records: list[dict]) -> str:
  """`readme` with each figure it cites (`<!--r REFERENCE-->text<!--/r-->`) made the record's.

  Code spans and fenced blocks are examples: they are blanked out (lengths and line breaks
  kept) before the citations are looked for, and stay as they are.
  """
  by_name = {record["name"]: record for record in records}
  prose = CODE.sub(lambda code: re.sub(r"[^\n]", "_", code.group(0)), readme)
  for line in prose.split("\n"):
    if re.search(r"<!--r |<!--/r-->", FIGURE.sub("", line)):  # Typed wrong, or unclosed.
      raise UserError(f"{README} has a citation not written <!--r NAME.FIELD-->figure<!--/r--> "
                      f"on one line: {line!r}")
    if FIGURE.match(line.lstrip()):
      raise UserError(f"{README} begins a line with a citation, which Markdown reads as an "
                      f"HTML block and cuts out of its paragraph; put a word before it: {line!r}")
  parts, done = [], 0
  for figure in FIGURE.finditer(prose):
    parts += [readme[done:figure.start(2)], cited(figure.group(1).strip(), by_name)]
    done = figure.end(2)
  return "".join(parts) + readme[done:]
