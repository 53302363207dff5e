"""Results records: the README's table is the rendering of results/*.json."""

import json
import os
import re
from pathlib import Path
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments import evaluate  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import report  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import resources  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import results  # pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import run  # pylint: disable=g-import-not-at-top,wrong-import-position

pytestmark = pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
  monkeypatch.chdir(ROOT)


def _refuse(constant):
  raise ValueError(f"{constant} is not JSON")


def test_readme_results_table_is_the_rendering_of_the_records(capsys):
  assert results.main(["results", "--check"]) == 0, capsys.readouterr().err
  # Both table flags at once: one line, exit 2, README.md untouched.
  readme = (ROOT / report.README).read_text()
  assert results.main(["results", "--check", "--write"]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "--check and --write: give one of them" in err, err
  assert (ROOT / report.README).read_text() == readme
  for path in sorted((ROOT / results.RESULTS_DIR).glob("*.json")):
    json.loads(path.read_text(), parse_constant=_refuse)  # Plain JSON: no NaN or Infinity.
  for record in results.load_records():
    assert len(record["members"]) >= 3 and record["commands"] and record["commit"]
    summaries = [s for p in record.get("trajectory", []) for f, s in p.items() if f != "step"]
    for summary in [*record["metrics"].values(), *summaries]:
      finite = [v for v in summary["seeds"] if v is not None]
      if finite:
        assert summary["mean"] == pytest.approx(np.mean(finite))
        assert summary["std"] == pytest.approx(np.std(finite))


def test_every_records_run_commands_still_resolve_to_the_config_it_trained(monkeypatch):
  """A record's commands reproduce it only while today's config files resolve them to
  the config it trained: a config change that would move a record's numbers fails here
  (rerun the record, or give the old setting on its command line)."""
  monkeypatch.chdir(ROOT)
  for record in results.load_records():
    assert results.drifted_fields(record) == [], record["name"]
  # A population's command that now resolves otherwise: the fields that moved.
  (record,) = [r for r in results.load_records() if r["name"] == "r3gan_ring"]
  record["populations"] = [dict(report.populations_of(record)[0])]
  record["populations"][0]["commands"] = [
      record["populations"][0]["commands"][0] + " --config.d_steps=2 --config.data.batch_size=64",
      "python -m experiments.evaluate --workdir=DIR"]
  assert results.drifted_fields(record) == ["d_steps", "data.batch_size"]


def _record(mean, step=400_000):
  return {"name": "x", "title": "x", "members": ["a", "b", "c"], "step": step,
          "num_steps": 400_000, "machine": "m", "commit": "c", "date": "d",
          "metrics": {"modes_covered": {"seeds": [mean] * 3, "mean": mean, "std": 0.0,
                                        "min": mean, "max": mean}},
          "published": {"source": "P", "n": 3, "error": "SE",
                        "values": {"modes_covered": [6.3, 0.5]}}}


def test_prose_that_cites_a_records_figure_is_rewritten_from_it_and_checked(
    tmp_path, monkeypatch, capsys):
  record = _record(7.0)
  record["metrics"]["high_quality_fraction"] = {
      "seeds": [0.986, 0.964, None], "mean": 0.975, "std": 0.011, "min": 0.964, "max": 0.986}
  record["trajectory"] = [{"step": 20000, "modes_covered": {
      "seeds": [5.0, 6.0, 7.0], "mean": 6.0, "std": 0.8165, "min": 5.0, "max": 7.0}}]
  record["trajectory"][0]["high_quality_fraction"] = {"seeds": [0.90, 0.97, 0.99]}
  record["trajectory"] += [
      {"step": 40000, "high_quality_fraction": {"seeds": [0.96, 0.94, None]}},
      {"step": 60000, "high_quality_fraction": {"seeds": [0.93, 0.98, 0.99]}}]
  (tmp_path / results.RESULTS_DIR).mkdir()
  (tmp_path / results.RESULTS_DIR / "x.json").write_text(json.dumps(record))
  monkeypatch.chdir(tmp_path)
  prose = (f"{report.BEGIN}\n{report.END}\n"
           "At <!--r x.step-->1<!--/r--> steps over <!--r x.n-->0<!--/r--> seeds: "
           "<!--r x.high_quality_fraction-->97.5 ± 1.1<!--/r-->% "
           "(<!--r x.high_quality_fraction.seeds-->98.6/96.4/n/a<!--/r-->, at least "
           "<!--r x.high_quality_fraction.min:0-->96<!--/r-->), "
           "<!--r x.modes_covered:0-->7 ± 0<!--/r--> modes.\n"
           "At 20k <!--r x.modes_covered@20000.seeds:0-->?<!--/r--> modes.\n"
           "Under 95%: <!--r x.high_quality_fraction@20000-.under=95-->?<!--/r--> "
           "(<!--r x.high_quality_fraction@20000-.under=95.seeds-->?<!--/r-->), from 40k "
           "<!--r x.high_quality_fraction@40000-.under=95-->?<!--/r-->, at 40k only "
           "<!--r x.high_quality_fraction@40000-40000.under=95-->?<!--/r-->, over 96.5 "
           "<!--r x.high_quality_fraction@20000-.over=96.5-->?<!--/r-->; "
           "<!--r x.high_quality_fraction@20000-.n-->?<!--/r--> read "
           "<!--r x.high_quality_fraction@20000-.min:0-->?<!--/r-->-"
           "<!--r x.high_quality_fraction@20000-.max-->?<!--/r-->%, their steps' means "
           "<!--r x.high_quality_fraction@20000-.means-->?<!--/r--> "
           "(<!--r x.high_quality_fraction@20000-.means:0-->?<!--/r-->), at 20k "
           "<!--r x.modes_covered@20000-.means-->?<!--/r-->.\n"
           "An example in a code span: `<!--r y.step-->9<!--/r-->`, and after one: "
           "`x`<!--r x.n-->0<!--/r-->.\n```\n<!--r y.n-->fenced<!--/r-->\n```\n")
  readme = tmp_path / report.README
  readme.write_text(prose)
  assert results.main(["results", "--write"]) == 0
  written = readme.read_text()
  assert written.endswith(
      "At <!--r x.step-->400,000<!--/r--> steps over <!--r x.n-->3<!--/r--> seeds: "
      "<!--r x.high_quality_fraction-->97.5 ± 1.1<!--/r-->% "
      "(<!--r x.high_quality_fraction.seeds-->98.6/96.4/n/a<!--/r-->, at least "
      "<!--r x.high_quality_fraction.min:0-->96<!--/r-->), "
      "<!--r x.modes_covered:0-->7 ± 0<!--/r--> modes.\n"
      "At 20k <!--r x.modes_covered@20000.seeds:0-->5/6/7<!--/r--> modes.\n"
      "Under 95%: <!--r x.high_quality_fraction@20000-.under=95-->3 of 8<!--/r--> "
      "(<!--r x.high_quality_fraction@20000-.under=95.seeds-->2/1/0<!--/r-->), from 40k "
      "<!--r x.high_quality_fraction@40000-.under=95-->2 of 5<!--/r-->, at 40k only "
      "<!--r x.high_quality_fraction@40000-40000.under=95-->1 of 2<!--/r-->, over 96.5 "
      "<!--r x.high_quality_fraction@20000-.over=96.5-->4 of 8<!--/r-->; "
      "<!--r x.high_quality_fraction@20000-.n-->8<!--/r--> read "
      "<!--r x.high_quality_fraction@20000-.min:0-->90<!--/r-->-"
      "<!--r x.high_quality_fraction@20000-.max-->99.0<!--/r-->%, their steps' means "
      "<!--r x.high_quality_fraction@20000-.means-->95.0-96.7<!--/r--> "
      "(<!--r x.high_quality_fraction@20000-.means:0-->95-97<!--/r-->), at 20k "
      "<!--r x.modes_covered@20000-.means-->6.0<!--/r-->.\n"
      "An example in a code span: `<!--r y.step-->9<!--/r-->`, and after one: "
      "`x`<!--r x.n-->3<!--/r-->.\n```\n<!--r y.n-->fenced<!--/r-->\n```\n"), written
  assert results.main(["results", "--check"]) == 0
  # A new record leaves the prose behind: --check fails until --write.
  record["metrics"]["modes_covered"]["mean"] = 8.0
  (tmp_path / results.RESULTS_DIR / "x.json").write_text(json.dumps(record))
  capsys.readouterr()
  assert results.main(["results", "--check"]) == 1
  assert "a figure it cites differs" in capsys.readouterr().err
  # A metric undefined for every seed has no mean: the citation reads n/a.
  record["metrics"]["kl_to_uniform"] = {"seeds": [None, None, None]}
  (tmp_path / results.RESULTS_DIR / "x.json").write_text(json.dumps(record))
  readme.write_text(written + "KL <!--r x.kl_to_uniform-->?<!--/r--> and "
                    "<!--r x.kl_to_uniform.max-->?<!--/r-->.\n")
  assert results.main(["results", "--write"]) == 0
  assert readme.read_text().endswith("KL <!--r x.kl_to_uniform-->n/a ± n/a<!--/r--> and "
                                     "<!--r x.kl_to_uniform.max-->n/a<!--/r-->.\n")
  # A citation of a record, field, statistic or step that is not there, one left open or
  # typed wrong, or one that begins a line (Markdown cuts such a line out of its paragraph):
  # one line, exit 2, README.md left as it was.
  for bad, says in (("And <!--r y.modes_covered-->?<!--/r-->", "no y.json"),
                    ("And <!--r x.wasserstein_1d-->?<!--/r-->", "FIELD one of"),
                    ("And <!--r x.modes_covered.median-->?<!--/r-->", "NAME.step"),
                    ("And <!--r x.step:two-->?<!--/r-->", "a number"),
                    ("And <!--r x.modes_covered:\u00b2-->?<!--/r-->", "a number"),
                    ("And <!--r x.modes_covered@80000-->?<!--/r-->", "are 20000, 40000, 60000"),
                    ("And <!--r x.modes_covered@40000-.under=6-->?<!--/r-->", "steps 20000-60000"),
                    ("And <!--r x.modes_covered@20000-.median-->?<!--/r-->", ".under=X"),
                    ("And <!--r x.modes_covered@20000-.under=-->?<!--/r-->", ".under=X"),
                    ("And <!--r x.modes_covered@20000-.means.seeds-->?<!--/r-->", ".means"),
                    ("And <!--r x.modes_covered@2e4-.n-->?<!--/r-->", "FROM-TO steps"),
                    ("And <!--r x.step-->400,\n000<!--/r-->", "on one line"),
                    ("And <!-- r x.step-->400,000<!--/r-->", "on one line"),
                    ("<!--r x.step-->400,000<!--/r--> steps", "begins a line")):
    readme.write_text(written + bad + "\n")
    assert results.main(["results", "--write"]) == 2
    err = capsys.readouterr().err
    cites = re.search(r"<!-- ?r (\S+?)-->", bad).group(1)
    assert err.count("\n") == 1 and says in err and cites in err, err
    assert readme.read_text() == written + bad + "\n"


def test_verdict_is_inside_only_within_two_standard_errors_and_at_full_length():
  assert report.verdict(_record(7.2)).startswith("inside")  # |7.2 - 6.3| <= 1.0
  assert report.verdict(_record(7.4)) == "**short of the paper** (modes above its ±2 SE)"
  assert report.verdict(_record(5.2)) == "**short of the paper** (modes below its ±2 SE)"
  assert "trained 100,000 of the config's 400,000" in report.verdict(_record(6.3, 100_000))
  # A run cut short by its own --config.num_steps is measured against its config file's length.
  record = dict(_record(6.3, 100_000), num_steps=100_000, commands=[
      "python -m experiments.run --config=configs/ring.py --config.num_steps=100000 --workdir=W"])
  assert report.verdict(record) == (
      "inside the paper's ±2 SE; trained 100,000 of the config's 400,000 steps")
  record["published"] = {"source": "no published figure"}
  assert report.verdict(record) == (
      "no published figure; trained 100,000 of the config's 400,000 steps")
  table = report.render([_record(7.2)])
  assert "7.2 ± 0.0 modes (n=3)" in table and "6.3 ± 0.5 modes" in table


def test_a_verdict_says_when_the_paper_ran_more_seeds():
  record = _record(6.3)
  assert report.verdict(record) == "inside the paper's ±2 SE"  # 3 seeds, as the paper's 3.
  record["published"]["n"] = 10
  assert report.verdict(record) == "inside the paper's ±2 SE; 3 seeds against its 10"
  assert report.verdict(dict(record, step=100_000)) == (
      "inside the paper's ±2 SE; trained 100,000 of the config's 400,000 steps; "
      "3 seeds against its 10")


def test_a_metric_undefined_for_a_seed_says_over_how_many_seeds_it_is():
  record = _record(8.0)
  # The KL over the modes is undefined for a seed with no high-quality sample.
  record["metrics"]["kl_to_uniform"] = {"seeds": [None, 0.4, 0.2], "mean": 0.3, "std": 0.1,
                                        "min": 0.2, "max": 0.4}
  table = report.render([record])
  assert "0.300 ± 0.100 KL (over 2 seeds, undefined for 1) (n=3)" in table
  assert "8.0 ± 0.0 modes, " in table and "modes (over" not in table


def test_a_goal_holds_only_when_every_seed_meets_it():
  record = _record(8.0)
  record["metrics"]["high_quality_fraction"] = {"seeds": [0.98, 0.975, 0.96], "mean": 0.9717,
                                                "std": 0.01, "min": 0.96, "max": 0.98}
  record["goal"] = {"modes_covered": [">=", 8], "high_quality_fraction": [">=", 0.97]}
  # The mean (97.2%) passes; the worst seed (96%) does not.
  assert report.verdict(record) == "**short of the goal** (% high quality missed by 1 of 3 seeds)"
  record["goal"]["high_quality_fraction"] = [">=", 0.95]
  assert report.verdict(record) == "meets the goal on every seed"
  record["goal"] = {"modes_covered": ["<=", 7.5]}  # An upper bound reads the largest seed.
  assert "short of the goal" in report.verdict(record)
  assert "goal, every seed: ≤ 7.5 modes" in report.render([record])


def test_a_record_of_an_evaluated_population(tmp_path, capsys):
  workdir = tmp_path / "pop"
  assert run.main(["run", "--config=configs/ring.py:runlocal", "--config.model.g.hidden=(16,)",
                   "--config.model.d.hidden=(16,)", "--config.tensorboard=False",
                   "--config.num_seeds=3", f"--workdir={workdir}"]) == 0
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--num_samples=100"]) == 0
  record = results.make_record("ring_test", str(workdir), run_command="python -m ...",
                               published={})
  members = json.loads((workdir / "eval.jsonl").read_text().splitlines()[-1])["members"]
  assert record["members"] == ["seed=0", "seed=1", "seed=2"] and record["step"] == 20
  modes = [members[n]["modes_covered"] for n in record["members"]]
  assert record["metrics"]["modes_covered"]["seeds"] == modes
  assert record["metrics"]["modes_covered"]["mean"] == pytest.approx(np.mean(modes))
  assert record["config"]["population"][0]["name"] == "seed=0"
  assert record["seeds"] == [0, 1, 2] and record["wall_time_s"] >= 0
  # The trajectory: the members' own evaluations at eval_every (10) during training.
  own = [[json.loads(line) for line in (workdir / "members" / n / "metrics.jsonl").open()]
         for n in record["members"]]
  assert [p["step"] for p in record["trajectory"]] == [10, 20]
  at_20 = [next(line["modes_covered"] for line in lines if line["step"] == 20) for lines in own]
  assert record["trajectory"][-1]["modes_covered"]["seeds"] == at_20
  assert report.render([record]).splitlines()[-1].startswith("- ring_test, modes / % high")
  capsys.readouterr()
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--num_samples=100"]) == 0
  os.remove(workdir / "eval.jsonl")
  assert results.main(["results", "--record=x", f"--workdir={workdir}"]) == 2
  assert "experiments.evaluate" in capsys.readouterr().err


def test_a_trajectory_keeps_the_steps_every_seed_evaluated(tmp_path):
  """A step logged twice across a resume counts once (the later); a step that a member
  lacks, or past the evaluated step, is left out; a non-finite value is undefined."""
  lines = {"a": [{"step": 10, "modes_covered": 1.0}, {"step": 20, "modes_covered": 5.0},
                 {"step": 20, "d_loss": 0.7},  # No evaluation in this line.
                 {"step": 20, "modes_covered": 7.0, "kl_to_uniform": "nan"},
                 {"step": 30, "modes_covered": 8.0}, {"step": 40, "modes_covered": 8.0}],
           "b": [{"step": 20, "modes_covered": 5.0, "kl_to_uniform": 0.5},
                 {"step": 30, "modes_covered": 6.0}, {"step": 40, "modes_covered": 4.0}]}
  for member, records in lines.items():
    (tmp_path / "members" / member).mkdir(parents=True)
    (tmp_path / "members" / member / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records))
  histories = [results._history(str(tmp_path / "members" / m), last_step=30)
               for m in ("a", "b")]
  points = results.trajectory(histories)
  assert [p["step"] for p in points] == [20, 30]
  assert points[0]["modes_covered"]["seeds"] == [7.0, 5.0]
  assert points[0]["modes_covered"]["mean"] == 6.0
  assert points[0]["kl_to_uniform"]["seeds"] == [None, 0.5]
  assert points[0]["kl_to_uniform"]["mean"] == 0.5  # Over the one seed where it is defined.
  assert "kl_to_uniform" not in points[1]
  record = dict(_record(7.0), title="`x.py`", trajectory=points)
  assert report.render([record]).splitlines()[-1] == (
      "- `x.py`, modes / KL: 20 6.0/0.500, 30 7.0/?")
  # Modes at the last step undefined for every seed: still a metric of the line.
  points[1]["modes_covered"] = report.seed_summary([None, None])
  assert report.render([record]).splitlines()[-1] == "- `x.py`, modes / KL: 20 6.0/0.500, 30 ?/?"
  # No metric defined anywhere: no line.
  record["trajectory"] = [{"step": 20, "modes_covered": report.seed_summary([None])}]
  assert "Along training" not in report.render([record])
  # Steps in thousands, from a million on in millions.
  record["trajectory"] = [{"step": step, "modes_covered": report.seed_summary([1.0])}
                          for step in (999_999, 20_000, 1_000_000, 1_050_000, 1_300_000)]
  assert report.render([record]).splitlines()[-1] == (
      "- `x.py`, modes: 999,999 1.0, 20k 1.0, 1M 1.0, 1.05M 1.0, 1.3M 1.0")


def test_a_trajectory_trained_on_lists_its_steps_past_the_earlier_records():
  """A record whose trajectory begins with another's (the same runs, recorded earlier and
  trained on) lists its steps past the longest such record; other records list all."""
  def point(step, modes):
    return {"step": step, "modes_covered": report.seed_summary([modes, modes])}

  points = [point(10, 3.0), point(20, 5.0), point(30, 7.0)]
  first = dict(_record(5.0), name="first", title="`a.py`", trajectory=points[:1])
  middle = dict(_record(5.0), name="middle", title="`b.py`", trajectory=points[:2])
  last = dict(_record(7.0), name="last", title="`c.py`", trajectory=points)
  other = dict(_record(7.0), name="other", title="`d.py`", trajectory=[point(10, 4.0),
                                                                        point(20, 5.0)])
  records = [first, middle, last, other]
  assert report.continued(last, records) is middle
  assert report.continued(middle, records) is first
  assert report.continued(first, records) is None and report.continued(other, records) is None
  lines = report.render(records).splitlines()
  assert "- `c.py`, modes: as middle to 20, then 30 7.0" in lines
  assert "- `b.py`, modes: as first to 10, then 20 5.0" in lines
  assert "- `d.py`, modes: 10 4.0, 20 5.0" in lines
  # A metric that only the later steps have: the lines differ in what they show, no "as".
  kl = dict(point(40, 8.0), kl_to_uniform=report.seed_summary([0.1, 0.1]))
  last["trajectory"] = [*points, kl]
  assert report.continued(last, records) is None


def test_rows_of_runs_trained_on_follow_the_row_they_continue_by_step():
  """Rows are by name, except that a record of runs trained on follows the record it
  continues, shortest first, whatever the names say; the machines and trajectory lines
  follow the rows."""
  def point(step):
    return {"step": step, "modes_covered": report.seed_summary([5.0, 5.0])}

  points = [point(10), point(20), point(30)]
  # The first record's name sorts between its continuations', and after another record's.
  records = [dict(_record(5.0, step), name=name, title=f"`{name}.py`", machine=name,
                  trajectory=points[:length])
             for name, step, length in [("z_long", 30, 3), ("m_short", 10, 1),
                                        ("a_middle", 20, 2)]]
  records.append(dict(_record(5.0), name="b_other", title="`b_other.py`", machine="b_other"))
  assert [report.origin(r, records)["name"] for r in records] == [
      "m_short", "m_short", "m_short", "b_other"]
  assert [r["name"] for r in report.in_order(records)] == [
      "b_other", "m_short", "a_middle", "z_long"]
  lines = report.render(records).splitlines()
  rows = [line.split(" |")[0] for line in lines if line.startswith("| `")]
  assert rows == ["| `b_other.py`", "| `m_short.py`", "| `a_middle.py`", "| `z_long.py`"]
  machines = [line.split(":")[0] for line in lines if line.startswith("- ") and ":" in line
              and not line.startswith("- `")]
  assert machines == ["- b_other", "- m_short", "- a_middle", "- z_long"]
  along = [line.split(",")[0] for line in lines if line.startswith("- `")]
  assert along == ["- `m_short.py`", "- `a_middle.py`", "- `z_long.py`"]


# A small ring GAN's config, for records of real (if short) runs; at the MLP generator's
# default batch-norm epsilon, what a workdir written before that field trained with.
_RING = ["--config=configs/ring.py:runlocal", "--config.model.g.hidden=(16,)",
         "--config.model.d.hidden=(16,)", "--config.tensorboard=False",
         "--config.model.g.batch_norm_epsilon=1e-5"]


def _trained(workdir, *flags):
  """`workdir` trained on _RING with `flags` and evaluated on 100 samples."""
  assert run.main(["run", *_RING, *flags, f"--workdir={workdir}"]) == 0
  assert evaluate.main(["evaluate", f"--workdir={workdir}", "--num_samples=100"]) == 0
  return workdir


def _two_populations(tmp_path):
  """Seeds 0-2 and seeds 3-4 of one config, trained and evaluated as two populations."""
  return (_trained(tmp_path / "seeds0", "--config.num_seeds=3"),
          _trained(tmp_path / "seeds3", "--config.seed=3", "--config.num_seeds=2"))


def test_populations_of_other_seeds_make_one_record(tmp_path, monkeypatch, capsys):
  """Seeds 0-2 and 3-4 of one config, trained as two populations: one row of 5 seeds."""
  monkeypatch.setattr(resources, "commit", lambda: "t0")  # The code that trains...
  first, second = _two_populations(tmp_path)
  monkeypatch.setattr(resources, "commit", lambda: "c1")  # ...and the one that records.
  record = results.make_record("x", [str(first), str(second)], run_command=["A", "B"],
                               published={})
  assert record["members"] == [f"seed={i}" for i in range(5)]
  assert record["seeds"] == [0, 1, 2, 3, 4]
  assert record["commands"][0] == "A" and record["commands"][2] == "B"
  assert str(second) in record["commands"][3]
  assert record["wall_time_s"] > 0 and record["step"] == 20
  modes = [json.loads((w / "eval.jsonl").read_text().splitlines()[-1])["members"][n][
      "modes_covered"] for w, names in ((first, range(3)), (second, range(3, 5)))
           for n in (f"seed={i}" for i in names)]
  assert record["metrics"]["modes_covered"]["seeds"] == modes
  # Each member's trajectory is its own workdir's evaluations during training.
  own = [[json.loads(line) for line in (w / "members" / f"seed={i}" / "metrics.jsonl").open()]
         for w, names in ((first, range(3)), (second, range(3, 5))) for i in names]
  assert [p["step"] for p in record["trajectory"]] == [10, 20]
  for point in record["trajectory"]:
    assert point["modes_covered"]["seeds"] == [
        next(line["modes_covered"] for line in lines if line["step"] == point["step"])
        for lines in own]
  # The machine and packages are those the populations trained on, as their training
  # times say.
  assert record["machine"] == resources.machine()
  assert record["software"] == resources.software()
  spans = second / "train_time.jsonl"
  spans.write_text(spans.read_text().replace(resources.machine(), "test machine B").replace(
      resources.software(), "jax B"))
  record = results.make_record("x", [second, first], run_command=["B", "A"], published={})
  assert record["machine"] == f"test machine B + {resources.machine()}"
  assert record["software"] == f"jax B + {resources.software()}"
  # Each population keeps its own: which seeds trained where, and how long.
  second_made, first_made = record["populations"]
  assert second_made["seeds"] == [3, 4] and second_made["members"] == ["seed=3", "seed=4"]
  assert second_made["machine"] == "test machine B" and second_made["software"] == "jax B"
  assert first_made["seeds"] == [0, 1, 2] and first_made["machine"] == resources.machine()
  assert second_made["commands"] == record["commands"][:2]
  # And the code that trained it, from its spans (one from before they named it:
  # unknown); the commit that recorded it is the record's.
  assert (first_made["trained_at"], second_made["trained_at"], record["commit"]) == (
      "t0", "t0", "c1")
  lines = spans.read_text().splitlines()
  assert len(lines) == 2  # A checkpoint at each of its two evaluations.
  spans.write_text("\n".join([json.dumps({k: v for k, v in json.loads(lines[0]).items()
                                          if k != "commit"}), lines[1]]) + "\n")
  made = results.make_record("x", second, run_command="B", published={}, min_seeds=2)
  assert made["populations"][0]["trained_at"] == "unknown + t0"
  spans.write_text("\n".join(json.dumps({k: v for k, v in json.loads(line).items()
                                         if k != "commit"}) for line in lines) + "\n")
  made = results.make_record("x", second, run_command="B", published={}, min_seeds=2)
  assert "trained_at" not in made["populations"][0]  # None named: as records made before.
  assert sum(p["wall_time_s"] for p in record["populations"]) == pytest.approx(
      record["wall_time_s"])
  # Listed by lowest seed, whatever order the populations were given in.
  assert report.measured_on(record) == (
      f"x: seeds 0-2 on {resources.machine()}, trained at commit t0, recorded at commit c1, "
      f"{record['date']}; seeds 3-4 on test machine B, trained at commit t0, recorded at "
      f"commit c1, {record['date']}")
  # Given in another order, the seeds still follow the members.
  assert record["members"] == [f"seed={i}" for i in range(5)]
  assert record["seeds"] == [0, 1, 2, 3, 4] and record["commands"][0] == "B"

  single = tmp_path / "single"
  shutil.copytree(second, single)
  evaluation = json.loads((single / "eval.jsonl").read_text().splitlines()[-1])
  del evaluation["members"]
  (single / "eval.jsonl").write_text(json.dumps(evaluation) + "\n")
  with pytest.raises(results.UserError, match="single run"):
    results.make_record("x", [first, single], run_command=["A", "C"], published={})
  evaluation["members"], evaluation["step"] = {"seed=9": {}}, 10
  (single / "eval.jsonl").write_text(json.dumps(evaluation) + "\n")
  with pytest.raises(results.UserError, match="at step 10"):
    results.make_record("x", [first, single], run_command=["A", "C"], published={})

  # A network argument added since a workdir was written is at its default there.
  config = json.loads((second / "config.json").read_text())
  assert config["model"]["g"].pop("batch_norm_epsilon") == 1e-5
  (second / "config.json").write_text(json.dumps(config))
  assert results.make_record("x", [first, second], run_command=["A", "B"],
                             published={})["seeds"] == [0, 1, 2, 3, 4]
  config["model"]["g"]["batch_norm_epsilon"] = 1e-4
  (second / "config.json").write_text(json.dumps(config))
  with pytest.raises(results.UserError, match="model.g.batch_norm_epsilon"):
    results.make_record("x", [first, second], run_command=["A", "B"], published={})
  config["model"]["g"]["batch_norm_epsilon"] = 1e-5
  (second / "config.json").write_text(json.dumps(config))

  population = config.pop("population")
  (second / "config.json").write_text(json.dumps(config))
  for order in ([first, second], [second, first]):
    with pytest.raises(results.UserError, match=re.escape(f"{second}/config.json lists no")):
      results.make_record("x", order, run_command=["A", "B"], published={})
  config["population"] = population
  (second / "config.json").write_text(json.dumps(config))

  capsys.readouterr()
  twice = ["results", "--record=x", f"--workdir={first}", f"--workdir={first}",
           "--run_command=A", "--run_command=A"]
  assert results.main(twice) == 2
  assert "seed=0" in capsys.readouterr().err
  config = json.loads((second / "config.json").read_text())
  config["d_optimizer"]["lr"] *= 2
  (second / "config.json").write_text(json.dumps(config))
  assert results.main(["results", "--record=x", f"--workdir={first}", f"--workdir={second}",
                       "--run_command=A", "--run_command=B"]) == 2
  assert "differ in d_optimizer" in capsys.readouterr().err
  assert results.main(["results", "--record=x", f"--workdir={first}", f"--workdir={second}",
                       "--run_command=A"]) == 2
  assert "one --run_command per --workdir" in capsys.readouterr().err


def test_single_runs_of_other_seeds_make_one_record_with_a_population(tmp_path):
  """A single run (--config.num_seeds=1) is the population of its seed: seeds trained
  one per core make a row, alone or beside a population, their trajectories their own."""
  population = _trained(tmp_path / "seeds0", "--config.num_seeds=2")
  single = _trained(tmp_path / "seed2", "--config.seed=2", "--config.num_seeds=1")
  record = results.make_record("x", [population, single], run_command=["A", "B"],
                               published={})
  assert record["members"] == ["seed=0", "seed=1", "seed=2"]
  assert record["seeds"] == [0, 1, 2] and record["populations"][1]["seeds"] == [2]
  scored = json.loads((single / "eval.jsonl").read_text().splitlines()[-1])
  assert record["metrics"]["modes_covered"]["seeds"][2] == scored["modes_covered"]
  own = [json.loads(line) for line in (single / "metrics.jsonl").open()]
  assert record["trajectory"][-1]["modes_covered"]["seeds"][2] == next(
      line["modes_covered"] for line in own if line["step"] == 20)
  # Its seed, once: a single run of seed 1 beside seeds 0-1 is refused.
  twice = _trained(tmp_path / "seed1", "--config.seed=1", "--config.num_seeds=1")
  with pytest.raises(results.UserError, match="seed=1 of"):
    results.make_record("x", [population, twice], run_command=["A", "C"], published={})
  # Three single runs are a row; two are not; one of another learning rate is refused.
  third = _trained(tmp_path / "seed3", "--config.seed=3", "--config.num_seeds=1")
  alone = results.make_record("x", [twice, single, third], run_command=["C", "B", "D"],
                              published={})
  assert alone["seeds"] == [1, 2, 3] and alone["config"]["population"][0]["seed"] == 1
  with pytest.raises(results.UserError, match="over 2 seed"):
    results.make_record("x", [twice, single], run_command=["C", "B"], published={})
  other = _trained(tmp_path / "lr", "--config.seed=4", "--config.num_seeds=1",
                   "--config.d_optimizer.lr=0.5")
  with pytest.raises(results.UserError, match="differ in d_optimizer.lr"):
    results.make_record("x", [population, other], run_command=["A", "E"], published={})


def test_a_qualitative_figure_is_an_anchor_every_seed_must_show():
  record = _record(8.0)
  record["published"] = {"source": "Metz et al. 2017, Figure 1",
                         "shows": {"modes_covered": [">=", 8]}}
  assert report.verdict(record) == "as the paper's figure shows (modes), on every seed"
  assert "Metz et al. 2017, Figure 1; its figure shows: ≥ 8 modes" in report.render([record])
  record["metrics"]["modes_covered"].update(seeds=[8, 8, 1], min=1)
  assert report.verdict(record) == (
      "**unlike the paper's figure** (modes: not as it shows, on a seed)")
  record["published"]["shows"] = {"modes_covered": ["<=", 1]}  # A figure of a collapse.
  assert report.verdict(record).startswith("**unlike the paper's figure** (modes")
  record["published"] = {"source": "no published figure"}
  assert report.verdict(record) == "no published figure"


@pytest.mark.parametrize("published, goal", [
    ('{"source": "F", "shows": {"modes_covered": ["=", 8]}}', "{}"),
    ('{"source": "F", "shows": {"modes_covered": [">=", "8"]}}', "{}"),
    ('{"source": "F", "shows": 8}', "{}"),
    ('{"source": "F", "shows": {"modes_covered": [">=", 8]}, "values": {"x": [1, 1]}}', "{}"),
    ('{"source": "F", "shows": {"modes_covered": [">=", 8]}}', '{"modes_covered": [">=", 8]}'),
    ("{}", '{"modes_covered": [">=", true]}'),
    ("{}", '{"modes_covered": [">=", Infinity]}'),
    ('{"source": "P", "n": 10, "values": {"modes_covered": [NaN, 0.5]}}', "{}"),
])
def test_a_malformed_anchor_or_goal_is_refused_in_one_line(capsys, published, goal):
  argv = ["results", "--record=x", "--workdir=/nonexistent", f"--published={published}",
          f"--goal={goal}"]
  assert results.main(argv) == 2
  err = capsys.readouterr().err.strip()
  assert err.count("\n") == 0 and ("shows" in err or "--goal" in err or "NaN" in err)


def test_a_record_says_how_its_evaluation_departs_from_the_runs_config():
  """The evaluate line reproduces the protocol: the step, the sample count, a seed other than
  0 and a batch-norm refresh the config lacks are flags."""
  line = results._evaluate_command("W", {"eval": {}}, {"bn_refresh_batches": 50})
  assert line == "python -m experiments.evaluate --workdir=W --bn_refresh_batches=50"
  same = results._evaluate_command("W", {"eval": {"bn_refresh_batches": 50}},
                                   {"bn_refresh_batches": 50})
  assert same == "python -m experiments.evaluate --workdir=W"
  assert results._evaluate_command("W", {"eval": {"bn_refresh_batches": 50}}, {}) == (
      "python -m experiments.evaluate --workdir=W --bn_refresh_batches=0")
  assert results._evaluate_command(
      "W", {"eval": {"bn_refresh_batches": 50}},
      {"bn_refresh_batches": 100, "bn_refresh_batch_size": 20000}) == (
      "python -m experiments.evaluate --workdir=W --bn_refresh_batches=100 "
      "--bn_refresh_batch_size=20000")
  protocol = {"step": 121100, "num_samples": 2500, "seed": 3, "bn_refresh_batches": 50}
  assert results._evaluate_command("W", {"eval": {"bn_refresh_batches": 50}}, protocol) == (
      "python -m experiments.evaluate --workdir=W --step=121100 --num_samples=2500 --seed=3")


def test_software_names_an_accelerator_plugin_only_where_one_is_installed(monkeypatch):
  """The kernels of a GPU or TPU come from a plugin package; a CPU host has none."""
  class Dist:
    def __init__(self, name):
      self.metadata, self.version = {"Name": name}, installed[name]
  installed = {"jax": "1", "jaxlib": "1", "flax": "2", "optax": "3",
               "jax-cuda12-plugin": "1", "jax-cuda12-pjrt": "1", "numpy": "4"}
  # A distribution on two paths of sys.path is found twice and named once.
  monkeypatch.setattr(resources.importlib.metadata, "distributions",
                      lambda: [Dist(n) for n in [*installed, *installed]])
  monkeypatch.setattr(resources.importlib.metadata, "version", installed.__getitem__)
  assert resources.software.__wrapped__() == (
      "jax 1, jaxlib 1, flax 2, optax 3, jax-cuda12-pjrt 1, jax-cuda12-plugin 1")
  del installed["jax-cuda12-plugin"], installed["jax-cuda12-pjrt"]
  assert resources.software.__wrapped__() == "jax 1, jaxlib 1, flax 2, optax 3"


def test_cpu_names_the_cores_a_pinned_process_may_use(monkeypatch):
  """A run pinned to one core of two (`taskset -c 1`) says so in its record's machine."""
  monkeypatch.setattr(resources.os, "cpu_count", lambda: 2)
  monkeypatch.setattr(resources.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
  assert resources.cpu().endswith(", 2 cores")
  monkeypatch.setattr(resources.os, "sched_getaffinity", lambda pid: {1}, raising=False)
  assert resources.cpu().endswith(", 1 of 2 cores")


def test_wall_time_adds_the_training_processes_and_refuses_a_gap(tmp_path):
  """Spans of train_time.jsonl: overlaps (a resume from an earlier checkpoint) count
  once; a process that left no line leaves the time unknown."""
  spans = tmp_path / "train_time.jsonl"
  spans.write_text('{"from_step": 0, "to_step": 100, "seconds": 10.0}\n'
                   '{"from_step": 80, "to_step": 180, "seconds": 20.0}\n')
  assert results.train_seconds(str(tmp_path), 180) == pytest.approx(10.0 + 20.0 * 80 / 100)
  assert results.train_seconds(str(tmp_path), 50) == pytest.approx(5.0)
  assert results.train_seconds(str(tmp_path), 200) is None  # nothing recorded past 180
  spans.write_text('{"from_step": 0, "to_step": 100, "seconds": 10.0}\n'
                   '{"from_step": 150, "to_step": 200, "seconds": 20.0}\n')
  assert results.train_seconds(str(tmp_path), 200) is None


def _metrics(**seeds):
  return {field: report.seed_summary(values) for field, values in seeds.items()}


def test_a_rerun_says_how_many_standard_errors_its_means_lie_from_the_records():
  """The standard error of the difference of two means over n = 3 seeds each: a summary's
  std divides by n, so each mean's variance is std^2 / (n - 1)."""
  record = dict(_record(7.0), metrics=_metrics(modes_covered=[6.0, 7.0, 8.0]))
  # Each std^2 = 2/3, variance of each mean 1/3: 1 SE of the difference = sqrt(2/3) = 0.816.
  near = {"metrics": _metrics(modes_covered=[7.5, 8.5, 9.5]), "machine": "B", "commit": "c",
          "date": "d", "members": ["a", "b", "c"]}
  far = dict(near, metrics=_metrics(modes_covered=[7.7, 8.7, 9.7]))
  assert report.distances(record, near)["modes"] == pytest.approx(1.5 / np.sqrt(2 / 3))
  assert report.distances(record, far)["modes"] == pytest.approx(1.7 / np.sqrt(2 / 3))
  same = dict(near, metrics=record["metrics"])
  assert "every seed's numbers identical" in report.rerun_line(record, same)
  assert "the means lie 1.8 SE (modes) of their difference apart" in report.rerun_line(
      record, near)
  assert " on B (commit c, d): " in report.rerun_line(record, near)
  # A rerun trained by other code than recorded it names both.
  assert " on B (trained at commit t + unknown, recorded at commit c, d): " in (
      report.rerun_line(record, dict(near, populations=[{"trained_at": "t"}, {}])))
  assert " on B (commit c, d): " in report.rerun_line(record, dict(near, populations=[{}]))
  assert report.rerun_line(record, far).endswith(
      "the means lie 2.1 SE (modes) of their difference apart: **modes more than 2 SE apart**")
  # The flag goes by the printed distance: 1.65 / 0.816 = 2.02 reads 2.0, not past 2.
  edge = dict(near, metrics=_metrics(modes_covered=[7.65, 8.65, 9.65]))
  assert report.rerun_line(record, edge).endswith("2.0 SE (modes) of their difference apart")
  # Seeds alike within each population (no error) and yet means apart: infinitely far.
  flat = {"metrics": _metrics(modes_covered=[8.0, 8.0, 8.0])}
  assert report.distances(dict(record, **flat), dict(near, metrics=_metrics(
      modes_covered=[7.0, 7.0, 7.0])))["modes"] == np.inf
  assert report.rerun_line(
      dict(record, **flat), dict(near, metrics=_metrics(modes_covered=[7.0, 7.0, 7.0]))
  ).endswith("the seeds' numbers differ; **modes apart with no spread within either**")
  assert report.distances(dict(record, **flat), dict(near, **flat))["modes"] == 0.0
  # A rerun stored before reruns named their members stands for all the record's seeds.
  old = {k: v for k, v in near.items() if k != "members"}
  assert report.rerun_line(record, old) == report.rerun_line(record, near)
  record["goal"] = {"modes_covered": [">=", 7.0]}
  assert report.rerun_line(record, near).endswith("; meets the goal on every seed")
  assert "**short of the goal** (modes" in report.rerun_line(record, same)
  del record["goal"]
  record["published"] = {"source": "F", "shows": {"modes_covered": [">=", 7.5]}}
  assert report.rerun_line(record, near).endswith(
      "; as the paper's figure shows (modes), on every seed")
  assert report.rerun_line(record, same).endswith(
      "; **unlike the paper's figure** (modes: not as it shows, on a seed)")
  # A metric undefined for a seed counts over the others; one defined for no seed is skipped.
  record["metrics"]["kl_to_uniform"] = report.seed_summary([0.1, 0.2, None])
  assert list(report.distances(record, dict(near, metrics={
      **near["metrics"], "kl_to_uniform": report.seed_summary([None, None, None])}))) == ["modes"]
  assert "Reruns of a record's commands" in report.render([dict(record, reruns=[far])])

  # A rerun of some of the record's seeds is set beside the record over those seeds.
  del record["metrics"]["kl_to_uniform"]
  record = dict(record, members=["a", "b", "c", "d"],
                metrics=_metrics(modes_covered=[6.0, 7.0, 8.0, 100.0]),
                populations=[{"members": ["a", "b", "c"], "machine": "m"},
                             {"members": ["d"], "machine": "z"}])
  line = report.rerun_line(record, near)
  assert "(n=3); the record, on m: 7.0 ± 0.8 modes;" in line and "1.8 SE" in line
  one = dict(near, members=["d"], metrics=_metrics(modes_covered=[90.0]))
  assert report.distances(record, one) == {}  # One seed: no standard error.
  assert ("(n=1); the record, on z: 100.0 ± 0.0 modes; the seeds' numbers differ; as the "
          "paper's") in report.rerun_line(record, one)
  # One over both populations is set beside both machines.
  both = dict(near, members=["a", "b", "c", "d"], metrics=_metrics(
      modes_covered=[6.0, 7.0, 8.0, 100.0]))
  assert "(n=4); the record, on m + z: 30.2 ± 40.3 modes; every seed's" in report.rerun_line(
      record, both)


def test_measured_on_lists_each_machines_seeds_in_order_and_reads_hand_edited_populations():
  """Populations made alike are one group; groups go by their lowest seed; a field a
  population lacks reads as unknown."""
  record = {"name": "x", "populations": [
      {"members": ["seed=2"], "seeds": [2], "machine": "B", "commit": "c", "date": "d"},
      {"members": ["seed=3"], "seeds": [3], "machine": "A", "commit": "c", "date": "d"},
      {"members": ["seed=0", "seed=1"], "seeds": [1, 0], "machine": "A", "commit": "c",
       "date": "d"},
      {"members": ["seed=4"], "seeds": [4]}]}
  assert report.measured_on(record) == (
      "x: seeds 0, 1, 3 on A, commit c, d; seed 2 on B, commit c, d; "
      "seed 4 on unknown, commit unknown, unknown")
  assert report._machine_over(record, ["seed=4"]) == "unknown"
  assert [report._seed_span(s) for s in ([4], [0, 1, 2], [1, 5], [])] == [
      "seed 4", "seeds 0-2", "seeds 1, 5", "no seeds"]
  record["populations"][-1].update(machine="A", commit="c", date="d")
  assert report.measured_on(record) == (
      "x: seeds 0, 1, 3, 4 on A, commit c, d; seed 2 on B, commit c, d")
  # Rendered, each record's machines are one item of the list under the table.
  rendered = report.render([dict(_record(6.3), populations=record["populations"])])
  assert "Measured on:\n\n- x: seeds 0, 1, 3, 4 on A, commit c, d; seed 2 on B" in rendered
  # Code that trained at another commit than the one that recorded is named apart.
  record["populations"][0]["trained_at"] = "t0 + t1-dirty"
  record["populations"][1]["trained_at"] = "c"
  assert report.measured_on(record) == (
      "x: seeds 0, 1, 3, 4 on A, commit c, d; "
      "seed 2 on B, trained at commit t0 + t1-dirty, recorded at commit c, d")


def test_commit_names_the_code_that_runs_and_marks_its_changes(tmp_path, monkeypatch):
  """`abc1234`, `abc1234-dirty` once the code folders change (an edit or a new file;
  other files do not count), "unknown" outside a git checkout of the project."""
  env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

  def git(*args):
    return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t",
                           "-c", "user.email=t@t", *args], capture_output=True, text=True,
                          check=True, env=env).stdout.strip()
  monkeypatch.setattr(resources, "_ROOT", str(tmp_path / "project"))
  (tmp_path / "project").mkdir()
  assert resources.commit.__wrapped__() == "unknown"  # No repository at all.
  git("init", "-q")
  (tmp_path / "project" / "gan_jax").mkdir()
  (tmp_path / "project" / "gan_jax" / "a.py").write_text("x = 1\n")
  git("add", "-A")
  git("commit", "-qm", "one")
  # The project inside another repository (an installed copy, say) is not that one's.
  assert resources.commit.__wrapped__() == "unknown"
  monkeypatch.setattr(resources, "_ROOT", str(tmp_path))
  head = git("rev-parse", "--short=7", "HEAD")
  (tmp_path / "README.md").write_text("notes\n")
  assert resources.commit.__wrapped__() == head
  (tmp_path / "configs").mkdir()
  (tmp_path / "configs" / "new.py").write_text("y = 2\n")
  assert resources.commit.__wrapped__() == f"{head}-dirty"
  shutil.rmtree(tmp_path / "configs")
  (tmp_path / "project" / "gan_jax" / "a.py").write_text("x = 2\n")
  assert resources.commit.__wrapped__() == head  # project/gan_jax is not the code's gan_jax.
  git("mv", "project/gan_jax", "gan_jax")
  assert resources.commit.__wrapped__() == f"{head}-dirty"
  # A git hook's GIT_DIR (of another repository) does not redirect it.
  monkeypatch.setenv("GIT_DIR", str(tmp_path / "project" / ".git"))
  assert resources.commit.__wrapped__() == f"{head}-dirty"


def test_a_rerun_joins_its_record_only_with_the_records_config_seeds_and_protocol(
    tmp_path, monkeypatch, capsys):
  # The same command twice: the same program on the same CPU.
  first, again = (_trained(tmp_path / w, "--config.num_seeds=3") for w in ("first", "again"))
  monkeypatch.setattr(results, "RESULTS_DIR", str(tmp_path / "results"))
  assert results.main(["results", "--record=x", f"--workdir={first}", "--run_command=A"]) == 0
  capsys.readouterr()
  assert results.main(["results", "--rerun=x", f"--workdir={again}", "--run_command=A"]) == 0
  assert "every seed's numbers identical to the record's" in capsys.readouterr().out
  record = json.loads((tmp_path / "results" / "x.json").read_text())
  (rerun,) = record["reruns"]
  assert rerun["metrics"] == record["metrics"] and rerun["commands"][0] == "A"
  assert [p["seeds"] for p in rerun["populations"]] == [[0, 1, 2]]
  assert str(again) in rerun["commands"][1] and rerun["machine"] == record["machine"]
  assert rerun["members"] == record["members"] and rerun["seeds"] == [0, 1, 2]
  assert rerun["software"] == record["software"] == resources.software()

  # Scored otherwise (another sample count, fewer metrics), other seeds, another config,
  # a record's own fields: refused in one line, the record kept.
  before = (tmp_path / "results" / "x.json").read_text()
  fewer = tmp_path / "fewer"
  shutil.copytree(again, fewer)
  lines = (fewer / "eval.jsonl").read_text().splitlines()
  evaluation = json.loads(lines[-1])
  for metrics in evaluation["members"].values():
    del metrics["kl_to_uniform"]
  (fewer / "eval.jsonl").write_text("\n".join(lines[:-1] + [json.dumps(evaluation)]) + "\n")
  assert evaluate.main(["evaluate", f"--workdir={again}", "--num_samples=50"]) == 0
  other = _trained(tmp_path / "other", "--config.num_seeds=3", "--config.seed=1")
  lr = _trained(tmp_path / "lr", "--config.num_seeds=3", "--config.d_optimizer.lr=0.001")
  capsys.readouterr()
  for flags, message in (
      ([again], "another num_samples"),
      ([fewer], "the rerun was scored without kl_to_uniform, unlike results/x.json"),
      ([other], "the rerun trained seed=3, which results/x.json lacks"),
      ([lr], "another config than results/x.json (d_optimizer.lr)"),
      ([first, "--note=n", "--title=t"], "--rerun keeps the record's title, note: drop "
       "--title, --note")):
    assert results.main(["results", "--rerun=x", f"--workdir={flags[0]}", *flags[1:]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
  assert results.main(["results", "--rerun=nope", f"--workdir={again}"]) == 2
  assert "results/nope.json does not exist" in capsys.readouterr().err
  assert (tmp_path / "results" / "x.json").read_text() == before
  # A record scored before the evaluator gained a metric takes a rerun scored on it too,
  # on the record's metrics.
  older = json.loads(before)
  del older["metrics"]["mode_spread"]
  (tmp_path / "results" / "x.json").write_text(json.dumps(older))
  assert results.main(["results", "--rerun=x", f"--workdir={first}", "--run_command=A"]) == 0
  record = json.loads((tmp_path / "results" / "x.json").read_text())
  assert set(record["reruns"][-1]["metrics"]) == set(older["metrics"]) == set(
      json.loads(before)["metrics"]) - {"mode_spread"}
  (tmp_path / "results" / "x.json").write_text(before)
  # A record that is not JSON: one line, whether added to or rendered.
  (tmp_path / "results" / "y.json").write_text("{not json")
  for argv in (["--rerun=y", f"--workdir={first}"], ["--check"]):
    assert results.main(["results", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "y.json is not a record's JSON" in err, err
  (tmp_path / "results" / "y.json").write_text("[1, 2]")  # JSON, but no record.
  assert results.main(["results", "--check"]) == 2
  assert "y.json is JSON but not a record" in capsys.readouterr().err


def test_more_seeds_extend_a_record_as_one_record_of_both_populations(
    tmp_path, monkeypatch, capsys):
  """--extend adds a population of other seeds to a record without the record's workdirs:
  the same row as a record made from both workdirs at once."""
  first, second = _two_populations(tmp_path)
  both = results.make_record("x", [str(first), str(second)], run_command=["A", "B"],
                             published={})
  monkeypatch.setattr(results, "RESULTS_DIR", str(tmp_path / "results"))
  assert results.main(["results", "--record=x", f"--workdir={first}", "--run_command=A",
                       "--note=old"]) == 0
  path = tmp_path / "results" / "x.json"
  record = json.loads(path.read_text())
  record.update(commit="c0", date="d0", software="jax 0")  # As if made before.
  del record["populations"]  # The field is newer: the record is one population.
  path.write_text(json.dumps(record))
  shutil.rmtree(first)  # The record holds its seeds' numbers.
  assert results.main(["results", "--extend=x", f"--workdir={second}", "--run_command=B",
                       "--note=new"]) == 0
  assert "(n=5)" in capsys.readouterr().out
  extended = json.loads(path.read_text())
  for field in ("members", "seeds", "metrics", "trajectory", "commands", "machine", "step"):
    assert extended[field] == both[field], field
  assert extended["note"] == "new"
  assert extended["wall_time_s"] == pytest.approx(both["wall_time_s"])
  # Each population's commit, date and packages are kept.
  assert extended["commit"] == f"c0 + {both['commit']}"
  assert extended["date"] == f"d0 + {both['date']}"
  assert extended["software"] == f"jax 0 + {resources.software()}"
  made, added = extended["populations"]
  assert (made["seeds"], made["commit"], made["date"], made["software"]) == (
      [0, 1, 2], "c0", "d0", "jax 0")
  assert (added["seeds"], added["commit"], added["commands"][0]) == (
      [3, 4], both["commit"], "B")
  assert report.measured_on(extended) == (
      f"x: seeds 0-2 on {both['machine']}, commit c0, d0; "
      f"seeds 3-4 on {both['machine']}, commit {both['commit']}, {both['date']}")

  # A rerun of one of its populations stands beside the record over that population's seeds.
  assert results.main(["results", "--rerun=x", f"--workdir={second}", "--run_command=B"]) == 0
  out = capsys.readouterr().out
  assert "(n=2)" in out and "every seed's numbers identical to the record's" in out, out

  # Seeds the record has, or another config: refused in one line, the record kept.
  before = path.read_text()
  lr = _trained(tmp_path / "lr", "--config.seed=5", "--config.num_seeds=2",
                "--config.d_optimizer.lr=0.001")
  capsys.readouterr()
  for flags, message in ((["--workdir=" + str(second)], "seed=3, seed=4 already in"),
                         (["--workdir=" + str(lr)],
                          "another config than results/x.json (d_optimizer.lr)"),
                         (["--workdir=" + str(lr), "--goal={}"], "--extend keeps the record's "
                          "goal: drop --goal")):
    assert results.main(["results", "--extend=x", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
  assert results.main(["results", "--extend=x", "--rerun=x", f"--workdir={lr}"]) == 2
  assert "--rerun and --extend: give one of them" in capsys.readouterr().err
  for table in ("--write", "--check"):  # Else taken and then silently not done.
    assert results.main(["results", "--extend=x", f"--workdir={lr}", table]) == 2
    assert f"--extend and {table}: give one of them" in capsys.readouterr().err
  assert path.read_text() == before
  # A third population: no --note keeps the note, an empty one clears it.
  third = _trained(tmp_path / "third", "--config.seed=5", "--config.num_seeds=2")
  capsys.readouterr()
  assert results.main(["results", "--extend=x", f"--workdir={third}"]) == 0
  thrice = json.loads(path.read_text())
  assert thrice["note"] == "new" and thrice["seeds"] == [0, 1, 2, 3, 4, 5, 6]
  assert [p["seeds"] for p in thrice["populations"]] == [[0, 1, 2], [3, 4], [5, 6]]
  path.write_text(before)
  assert results.main(["results", "--extend=x", f"--workdir={third}", "--note="]) == 0
  assert json.loads(path.read_text())["note"] == ""
