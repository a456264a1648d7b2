"""``maplebench compare``: output formats, options and one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import golden_runs as runs
import pytest
from cli_helpers import assert_input_error, run_cli


GOLDEN = Path(__file__).resolve().parents[1] / "bench" / "golden"


def test_text_matches_golden(capsys, pair):
    rc, out, err = run_cli(capsys, "compare", *pair)
    assert rc == 0 and err == ""
    assert out == (GOLDEN / "compare-ttest.txt").read_text()
    rc, out, _ = run_cli(capsys, "compare", *pair, "--significance", "ci")
    assert out == (GOLDEN / "compare-ci.txt").read_text()


def test_single_run(capsys, tmp_path):
    rc, out, _ = run_cli(capsys, "compare", runs.reference_single(tmp_path, "seed"))
    assert rc == 0 and out == (GOLDEN / "compare-single.txt").read_text()


def test_stats_and_formats(capsys, pair):
    rc, out, _ = run_cli(capsys, "compare", *pair, "--stats", "Hmean")
    lines = out.splitlines()
    assert "Hmean brk1-processes-2         5264123.70 (   0.00%)      3488010.51 * -33.74%*" in lines
    assert "Amean user-2      885.34 (   0.00%)      886.07 *  -0.08%*" in lines
    assert not any(line.startswith(("Min", "Stddev", "BHmean")) for line in lines)
    rc, out, _ = run_cli(capsys, "compare", *pair, "--format", "json", "--stats", "Min,mean", "--stats", "Max")
    data = json.loads(out)
    assert [r["statistic"] for r in data["tables"][0]["rows"]] == ["Min"] * 2 + ["Hmean"] * 2 + ["Max"] * 2
    rc, out, _ = run_cli(capsys, "compare", *pair, "--format", "markdown")
    assert out.startswith("### will-it-scale") and "| Hmean | brk1-processes-2 |" in out
    rc, out, _ = run_cli(capsys, "compare", *pair, "--format", "csv", "--significance", "welch")
    assert out.splitlines()[0].startswith("table,statistic,operation")


def test_note_on_skipped_operations(capsys, tmp_path, pair):
    extra = runs.write_run(tmp_path / "extra", "extra",
                           runs.reference_rows("maple", new=True)
                           + runs.loop_rows("brk2", "maple", "processes", 2, [10, 11, 12]))
    rc, out, err = run_cli(capsys, "compare", pair[0], extra)
    assert rc == 0 and "brk2-processes-2" not in out
    assert err.count("\n") == 1 and "left out: brk2-processes-2" in err


@pytest.mark.parametrize("status", ["failed", "interrupted", "running"])
def test_incomplete_runs(capsys, tmp_path, status, pair):
    if status == "running":  # a live writer holds the run's lock: it is really running
        from maple.bench.results import RunWriter

        writer = RunWriter(tmp_path / "bad", {"name": "bad"})
        writer.add_rows(runs.reference_rows("maple", new=True))
        bad = tmp_path / "bad"
    else:
        bad = runs.write_run(tmp_path / "bad", "bad", runs.reference_rows("maple", new=True), status=status)
    rc, out, err = run_cli(capsys, "compare", pair[0], bad)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and f"is {status}, not complete" in err and str(bad) in err
    rc, out, err = run_cli(capsys, "compare", pair[0], bad, "--allow-incomplete")
    assert rc == 0 and "Hmean" in out


def test_bad_input(capsys, tmp_path, pair):
    (tmp_path / "notrun").mkdir()
    other = runs.write_run(tmp_path / "other", "other",
                           runs.loop_rows("brk2", "maple", "threads", 3, [10, 11, 12]))
    cases = [
        (["compare", tmp_path / "nope"], "does not exist"),
        (["compare", tmp_path / "notrun"], "is not a maplebench run"),
        (["compare", pair[0], other], "no operation in common"),
        (["compare", pair[0], "--stats", "Median"], "unknown statistic 'Median'"),
        (["compare", pair[0], "--format", "xml"], "xml"),
        (["compare", pair[0], "--significance", "bayes"], "bayes"),
        (["compare"], "RESULT"),
    ]
    for argv, needle in cases:
        assert_input_error(capsys, argv, needle)


# ---------------------------------------------------------------------------- issue 12: units


def test_units_in_csv_json_and_markdown(capsys, pair):
    """Issue 12: throughput was per interval and no output said what unit it was in."""
    rc, out, _ = run_cli(capsys, "compare", *pair, "--format", "markdown")
    assert rc == 0
    assert "### will-it-scale (ops/s)" in out and "### kernbench (s)" in out
    assert "### counters per op (count per op)" in out
    rc, out, _ = run_cli(capsys, "compare", *pair, "--format", "csv")
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["unit"] for r in rows if r["table"] == "will-it-scale"} == {"ops/s"}
    assert {r["unit"] for r in rows if r["table"] == "kernbench"} == {"s"}
    rc, out, _ = run_cli(capsys, "compare", *pair, "--format", "json")
    units = {t["title"]: t["unit"] for t in json.loads(out)["tables"]}
    assert units == {"will-it-scale": "ops/s", "kernbench": "s", "counters per op": "count per op"}


def test_old_per_interval_runs_compare_in_ops_per_second(capsys, tmp_path):
    """Issue 12: a default run (1 s) against a --quick run (0.1 s) printed Hmean -90.26 % starred."""
    slow = runs.format1_run(tmp_path / "default", 1.0, [100000, 101000, 99000, 100500, 99500])
    quick = runs.format1_run(tmp_path / "quick", 0.1, [10000, 10100, 9900, 10050, 9950])
    rc, out, err = run_cli(capsys, "compare", slow, quick, "--format", "json")
    assert rc == 0
    [hmean] = [r for t in json.loads(out)["tables"] for r in t["rows"] if r["statistic"] == "Hmean"]
    assert hmean["cells"][0]["value"] == pytest.approx(hmean["cells"][1]["value"])
    assert abs(hmean["cells"][1]["percent"]) < 1e-9 and not hmean["cells"][1]["significant"]
    assert "ops per 0.1 s interval converted to ops/s" in err
    assert "different intervals (default: 1 s, quick: 0.1 s); throughput is ops/s in each" in err
    rc, out, err = run_cli(capsys, "gate", "--baseline", slow, "--current", quick, "--only", "throughput")
    assert rc == 0 and out.startswith("gate: OK")


def test_old_run_without_an_interval_is_refused(capsys, tmp_path):
    old = runs.format1_run(tmp_path / "old", 1.0, [5, 6, 7])
    meta = json.loads((old / "meta.json").read_text())
    del meta["options"]["interval"]
    (old / "meta.json").write_text(json.dumps(meta))
    assert_input_error(capsys, ["compare", old], "per sampling interval (format 1)")


def test_cut_complete_run_is_refused_not_compared(capsys, tmp_path, pair):
    """Issue 12: a samples.csv cut mid-row was compared silently (a maple-only column)."""
    text = (pair[1] / "samples.csv").read_text()
    (pair[1] / "samples.csv").write_text(text[:-20])
    assert_input_error(capsys, ["compare", *pair], "ends mid-row")
    assert_input_error(capsys, ["gate", "--baseline", pair[0], "--current", pair[1]], "ends mid-row")
