"""``maplebench gate``: exit 0 / 1 / 2, the regression table, --only and --update."""

from __future__ import annotations

import json

import golden_runs as runs
from cli_helpers import assert_input_error, run_cli


def test_exit_codes(capsys, pair):
    base, new = pair
    rc, out, _ = run_cli(capsys, "gate", "--baseline", base, "--current", base)
    assert rc == 0 and out.startswith("gate: OK")
    rc, out, _ = run_cli(capsys, "gate", "--baseline", base, "--current", new)
    assert rc == 1
    lines = out.splitlines()
    assert lines[0].startswith("gate: FAIL: 1 regression(s) beyond 5%")
    assert lines[1].split()[:4] == ["mm", "table", "statistic", "operation"]
    assert lines[2].split()[:6] == ["maple", "will-it-scale", "Hmean", "brk1-processes-2", "5264123.70", "3488010.51"]
    rc, out, _ = run_cli(capsys, "gate", "--baseline", base, "--current", new, "--threshold", "40")
    assert rc == 0
    rc, out, _ = run_cli(capsys, "gate", "--baseline", base, "--current", new, "--only", "counters")
    assert rc == 0 and "0 headline mean(s) and 6 counter(s)" in out
    rc, out, _ = run_cli(capsys, "gate", "--baseline", new, "--current", base, "--only", "counters")
    assert rc == 1 and out.count("counters per op") == 6
    rc, out, _ = run_cli(capsys, "gate", "--baseline", new, "--current", base, "--only", "throughput")
    assert rc == 0


def test_update(capsys, tmp_path, pair):
    base, new = pair
    dst = tmp_path / "baselines" / "ci"
    rc, out, _ = run_cli(capsys, "gate", "--baseline", dst, "--current", base, "--update")
    assert rc == 0 and "updated" in out
    rc, _, _ = run_cli(capsys, "gate", "--baseline", dst, "--current", new)
    assert rc == 1
    rc, out, _ = run_cli(capsys, "gate", "--baseline", dst, "--current", new, "--update")
    assert rc == 0 and "gate: FAIL" in out and "updated" in out  # reported, then accepted
    assert json.loads((dst / "meta.json").read_text())["name"] == "6.8.0-patched"
    rc, _, _ = run_cli(capsys, "gate", "--baseline", dst, "--current", new)
    assert rc == 0


def test_bad_input(capsys, tmp_path, pair):
    base, new = pair
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    failed = runs.write_run(tmp_path / "failed", "failed", runs.reference_rows("maple", True), "failed")
    cases = [
        (["gate", "--baseline", base, "--current", new, "--threshold", "five"], "--threshold 'five'"),
        (["gate", "--baseline", base, "--current", new, "--threshold", "-2"], "--threshold '-2'"),
        (["gate", "--baseline", tmp_path / "none", "--current", new], "does not exist"),
        (["gate", "--baseline", base, "--current", failed], "is failed, not complete"),
        (["gate", "--baseline", afile, "--current", new, "--update"], "refusing to overwrite"),
        (["gate", "--baseline", base], "--current"),
        (["gate", "--baseline", base, "--current", new, "--only", "latency"], "latency"),
    ]
    for argv, needle in cases:
        assert_input_error(capsys, argv, needle)
    assert afile.read_text() == "x"


def test_markdown_report(capsys, pair):
    base, new = pair
    rc, out, _ = run_cli(capsys, "gate", "--baseline", base, "--current", new, "--format", "markdown")
    assert rc == 1 and out.startswith("**gate: FAIL**: 1 regression(s) beyond 5%")
    assert "| maple | will-it-scale | Hmean | brk1-processes-2 | 5264123.70 | 3488010.51 | -33.74% |" in out
    rc, out, _ = run_cli(capsys, "gate", "--baseline", base, "--current", base, "--format", "markdown")
    assert rc == 0 and out.startswith("**gate: OK**: 0 regression(s)")


def test_partial_coverage(capsys, tmp_path):
    """Issue 12: gate between a two-mm run and a maple-only run said OK; half was never gated."""
    both = runs.reference_single(tmp_path, "both")
    maple = runs.write_run(tmp_path / "maple", "maple", runs.reference_rows("maple", new=True))
    rc, out, _ = run_cli(capsys, "gate", "--baseline", both, "--current", maple, "--only", "counters")
    assert rc == 1
    assert out.startswith("gate: FAIL: 3 cell(s) not in both runs, so not gated: brk1 legacy processes 2 "
                          "(baseline only)")
    rc, out, _ = run_cli(capsys, "gate", "--baseline", both, "--current", maple, "--only", "counters",
                         "--allow-partial")
    assert rc == 0 and out.startswith("gate: OK") and "3 cell(s) not in both runs were not gated" in out
    rc, out, _ = run_cli(capsys, "gate", "--baseline", both, "--current", maple, "--only", "counters",
                         "--allow-partial", "--format", "markdown")
    assert rc == 0 and out.startswith("**gate: OK**") and "brk1 legacy processes 2 (baseline only)" in out


def test_update_to_an_unwritable_place_is_one_line(capsys, tmp_path, pair):
    base, _ = pair
    assert_input_error(capsys, ["gate", "--baseline", "/proc/ci", "--current", base, "--update"], "/proc/ci")
    assert_input_error(capsys, ["gate", "--baseline", "/proc/self/ci/x", "--current", base, "--update"],
                       "/proc/self/ci/x")
