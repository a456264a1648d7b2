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
