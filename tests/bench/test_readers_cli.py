"""``compare`` / ``plot`` / ``gate`` on mmtests and will-it-scale results, end to end.

The golden files ``tests/bench/golden/mmtests-*.txt`` are the real compare-mmtests.pl's output
on the trees under ``tests/bench/data`` (``scripts/mmtests_golden.sh``: gormanm/mmtests
93946ac6 for the t-test era, a0369e62 for the CI era, with R), so these tests check byte for
byte that maplebench prints what mmtests prints.
"""

from __future__ import annotations

from pathlib import Path

from cli_helpers import assert_input_error, run_cli

HERE = Path(__file__).parent
DATA = HERE / "data"
GOLDEN = HERE / "golden"


def _golden(name: str) -> str:
    return (GOLDEN / name).read_text()


def test_old_layout_tree_ttest_era_byte_for_byte(capsys):
    rc, out, err = run_cli(capsys, "compare", DATA / "mmtests-old")
    assert rc == 0 and err == ""
    assert out == _golden("mmtests-ttest.txt")


def test_current_layout_tree_prints_the_same(capsys):
    rc, out, _ = run_cli(capsys, "compare", DATA / "mmtests-current", "--significance", "ttest")
    assert rc == 0 and out == _golden("mmtests-ttest.txt")


def test_run_folders_passed_one_by_one(capsys):
    rc, out, _ = run_cli(capsys, "compare", DATA / "mmtests-old/6.8.0-base", DATA / "mmtests-old/6.8.0-patched")
    assert rc == 0 and out == _golden("mmtests-ttest.txt")


def test_ci_era_byte_for_byte(capsys):
    rc, out, _ = run_cli(capsys, "compare", DATA / "mmtests-ci", "--significance", "ci")
    assert rc == 0 and out == _golden("mmtests-ci.txt")
    rc, out, _ = run_cli(capsys, "compare", DATA / "mmtests-old", "--significance", "ci")
    assert rc == 0 and out.startswith(_golden("mmtests-kernbench-ci.txt") + "\n")


def test_zero_sample_ttest_era_row_is_zero_and_starred(capsys):
    _, out, _ = run_cli(capsys, "compare", DATA / "mmtests-old")
    lines = out.splitlines()
    # baseline Hmean was -1: the whole row prints 0.00, the compared cell still starred
    assert "Hmean     malloc1-threads-5              0.00 (   0.00%)            0.00 *   0.00%*" in lines
    # compared Hmean was -1: 0.00, starred (the t-test compared -1 with the baseline's mean)
    assert "Hmean     malloc1-processes-2      1790738.37 (   0.00%)            0.00 *   0.00%*" in lines


def test_zero_sample_ci_era_keeps_the_compared_hmean(capsys):
    _, out, _ = run_cli(capsys, "compare", DATA / "mmtests-old", "--significance", "ci")
    row = next(ln for ln in out.splitlines() if ln.startswith("Hmean     malloc1-threads-5"))
    logs = [DATA / f"mmtests-old/6.8.0-patched/iter-{i}/wis-malloc/logs/wis-malloc1-threads-5.log" for i in (0, 1)]
    totals = [float(ln.split("total:")[1]) for p in logs for ln in p.read_text().splitlines() if "total:" in ln]
    hmean = len(totals) / sum(1 / t for t in totals)
    # the baseline's own cell prints 0.00; the compared one its Hmean against NaN (100%), unstarred
    assert row.split()[2:] == ["0.00", "(", "0.00%)", f"{hmean:.2f}", "(", "100.00%)"]


def test_runtest_csv_end_to_end(capsys, tmp_path):
    other = tmp_path / "brk1-patched.csv"
    other.write_text((DATA / "wis/brk1.csv").read_text().replace("4988015", "4489214"))
    rc, out, _ = run_cli(capsys, "compare", DATA / "wis/brk1.csv", other, "--stats", "Hmean")
    assert rc == 0
    lines = out.splitlines()
    # a name without '-' splits as mmtests splits it: its name less the last letter / the name
    assert lines[0] == " " * 22 + f"{'brk':>27}{'brk1':>27}"
    assert lines[1] == " " * 22 + f"{'brk1':>27}{'patched':>27}"
    assert lines[2] == f"Hmean brk1-processes-1{2480925:16.2f} (   0.00%){2480925:16.2f} (   0.00%)"
    # one sample per cell: no spread, so the t-test stars any difference (SE = 0)
    assert lines[3] == f"Hmean brk1-processes-2{4988015:16.2f} (   0.00%){4489214:16.2f} * -10.00%*"


def test_raw_output_folder_end_to_end(capsys):
    rc, out, _ = run_cli(capsys, "compare", DATA / "wis/raw", "--format", "csv")
    assert rc == 0
    rows = [ln.split(",") for ln in out.splitlines()[1:]]
    hmeans = {r[2]: float(r[8]) for r in rows if r[1] == "Hmean"}
    assert set(hmeans) == {"brk1-processes-1", "brk1-processes-2"}
    assert 2_300_000 < hmeans["brk1-processes-1"] < 2_500_000


def test_gate_between_two_mmtests_runs(capsys):
    base, cur = DATA / "mmtests-ci/6.8.0-base", DATA / "mmtests-ci/6.8.0-patched"
    rc, out, _ = run_cli(capsys, "gate", "--baseline", base, "--current", cur, "--significance", "ci")
    assert rc == 0, out  # about 3% slower: within the default 5%
    rc, out, _ = run_cli(capsys, "gate", "--baseline", base, "--current", cur, "--significance", "ci",
                         "--threshold", "2")
    assert rc == 1 and "brk1-processes-5" in out and "elsp-4" in out


def test_plot_of_an_mmtests_tree(capsys, tmp_path):
    out_file = tmp_path / "wis.png"
    rc, out, _ = run_cli(capsys, "plot", DATA / "mmtests-ci", "-o", out_file)
    assert rc == 0 and out_file.stat().st_size > 1000


def test_folder_of_neither_kind_exits_2_with_one_line(capsys, tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here\n")
    assert_input_error(capsys, ["compare", tmp_path], "mmtests results directory")
    assert_input_error(capsys, ["plot", tmp_path, "-o", tmp_path / "x.png"], "will-it-scale output")
    assert_input_error(capsys, ["gate", "--baseline", tmp_path, "--current", tmp_path], "maplebench run")


def test_mmtests_run_beside_will_it_scale_and_maplebench_results(capsys, tmp_path):
    """mmtests files its rows under the benchmark (wis-brk1); a will-it-scale CSV and a
    maplebench run call that table will-it-scale. They used to share 'no operation'."""
    rc, out, err = run_cli(capsys, "compare", DATA / "wis/brk1.csv", DATA / "mmtests-old/6.8.0-base",
                           "--stats", "Hmean")
    assert rc == 0, err
    rows = [ln for ln in out.splitlines() if ln.startswith("Hmean brk1-processes-2")]
    assert len(rows) == 1 and f"{4988015:16.2f}" in rows[0]
    rc, out, err = run_cli(capsys, "run", "brk1", "--procs", "2", "--mm", "maple", "--quick", "--quiet",
                           "--out", tmp_path, "--name", "r")
    assert rc == 0, err
    rc, out, err = run_cli(capsys, "compare", DATA / "mmtests-old/6.8.0-base", tmp_path / "r", "--stats", "Hmean")
    assert rc == 0, err
    assert [ln.split()[1] for ln in out.splitlines() if ln.startswith("Hmean")][:2] == [
        "brk1-processes-2", "brk1-threads-2"]
