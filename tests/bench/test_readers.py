"""mmtests and will-it-scale readers: what each file layout loads into a Run."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from maple.bench import stats
from maple.bench.compare import compare_runs
from maple.bench.readers import load_result, mmtests, willitscale
from maple.errors import InputError

DATA = Path(__file__).parent / "data"
OLD = DATA / "mmtests-old"
CURRENT = DATA / "mmtests-current"
WIS = DATA / "wis"


def _totals(path: Path) -> list[float]:
    return [float(line.split("total:")[1]) for line in path.read_text().splitlines() if "total:" in line]


def test_results_tree_one_column_per_run_samples_pooled_over_iterations():
    run = load_result(OLD)
    assert run.meta["source"] == "mmtests"
    assert run.meta["columns"] == ["6.8.0-base", "6.8.0-patched"]
    assert run.meta["benchmarks"] == ["kernbench", "wis-malloc"]
    df = run.samples
    cell = df[(df.mm == "6.8.0-base") & (df.workload == "brk1") & (df["mode"] == "threads") & (df.tasks == 5)]
    expect = [*_totals(OLD / "6.8.0-base/iter-0/wis-malloc/logs/wis-brk1-threads-5.log"),
              *_totals(OLD / "6.8.0-base/iter-1/wis-malloc/logs/wis-brk1-threads-5.log")]
    assert len(expect) == 10 and cell["ops"].tolist() == expect  # 5 samples x 2 iterations
    assert sorted(cell["iteration"].unique()) == [0, 1]
    kb = df[(df.mm == "6.8.0-patched") & (df.workload == "kernbench") & (df.tasks == 4)]
    assert len(kb) == 3 and kb["ops"].isna().all()


def test_current_layout_reads_the_same_samples_as_the_old_one():
    old, cur = load_result(OLD).samples, load_result(CURRENT).samples
    cols = ["workload", "mm", "mode", "tasks", "sample", "ops", "user", "syst", "elsp"]
    assert old[cols].equals(cur[cols])


def test_operations_in_compare_mmtests_order_model_then_workload_then_threads():
    table = next(t for t in compare_runs([load_result(OLD)]).tables if t.title == "wis-malloc")
    names = [op.name for op in table.operations]
    assert names == ["brk1-processes-2", "brk1-processes-5", "malloc1-processes-2", "malloc1-processes-5",
                     "brk1-threads-2", "brk1-threads-5", "malloc1-threads-2", "malloc1-threads-5"]


def test_run_folder_gives_that_run_alone():
    run = load_result(OLD / "6.8.0-patched")
    assert run.meta["columns"] == ["6.8.0-patched"] and run.name == "6.8.0-patched"
    assert set(run.samples["mm"]) == {"6.8.0-patched"}


def test_runs_ordered_by_start_time_stamp_like_compare_kernels(tmp_path):
    tree = tmp_path / "results"
    shutil.copytree(OLD, tree)
    for it in ("iter-0", "iter-1"):  # the patched run now started first
        (tree / "6.8.0-patched" / it / "tests-activity").write_text("5 run-mmtests: Start\n")
    assert load_result(tree).meta["columns"] == ["6.8.0-patched", "6.8.0-base"]


def test_gnu_time_lines():
    line = "885.10user 60.25system 7:40.11elapsed 205%CPU (0avgtext+0data 212344maxresident)k"
    assert mmtests.parse_time_line(line) == pytest.approx((885.10, 60.25, 460.11))
    assert mmtests.parse_time_line("1:02:03.50user 3.5system 1:00:00elapsed 99%CPU") == pytest.approx(
        (3723.5, 3.5, 3600.0))
    assert mmtests.parse_time_line("0inputs+0outputs (0major+12minor)pagefaults 0swaps") is None


def test_compressed_kernbench_log(tmp_path):
    logs = tmp_path / "r" / "run" / "iter-0" / "kernbench" / "logs"
    logs.mkdir(parents=True)
    (logs / "kernbench-8-1.time.gz").write_bytes(gzip.compress(b"10.00user 2.00system 0:03.00elapsed 1%CPU\n"))
    df = load_result(tmp_path / "r").samples
    assert df[["tasks", "user", "syst", "elsp"]].values.tolist() == [[8, 10.0, 2.0, 3.0]]


def test_missing_old_layout_file_is_named(tmp_path):
    tree = tmp_path / "results"
    shutil.copytree(OLD, tree)
    (tree / "6.8.0-base/iter-0/wis-malloc/logs/wis-malloc1-threads-5.log").unlink()
    with pytest.raises(InputError, match="wis-malloc1-threads-5.log' is missing"):
        load_result(tree)


def test_tree_without_known_benchmarks_names_what_was_looked_for(tmp_path):
    (tmp_path / "r" / "run" / "iter-0" / "gitcheckout" / "logs").mkdir(parents=True)
    with pytest.raises(InputError, match=r"hold no will-it-scale \(wis-\*\) or kernbench logs"):
        load_result(tmp_path / "r")


def test_runtest_csv_one_average_per_mode_and_tasks():
    run = load_result(WIS / "brk1.csv")
    assert run.meta["source"] == "will-it-scale" and run.name == "brk1"
    df = run.samples
    assert df[["mode", "tasks", "ops"]].values.tolist() == [
        ["processes", 1, 2480925.0], ["threads", 1, 1490818.0],
        ["processes", 2, 4988015.0], ["threads", 2, 2993597.0]]
    assert df["idle"].tolist() == [50.0, 50.5, 0.0, 1.0]


def test_raw_output_keeps_only_the_measured_samples():
    path = WIS / "raw" / "brk1_processes-2.txt"
    lines = path.read_text().splitlines()
    measured = lines[lines.index("measurement") + 1:]
    expect = [float(ln.split("total:")[1]) for ln in measured if ln.startswith("min:")]
    df = load_result(path).samples
    assert len(expect) == 5 and df["ops"].tolist() == expect
    assert set(df["workload"]) == {"brk1"} and set(df["mode"]) == {"processes"} and set(df["tasks"]) == {2}


def test_raw_output_named_by_description_and_verbose_task_lines(tmp_path):
    text = ("testcase:Separate file shared mapping page fault\nwarmup\n"
            + "   0 -> 10\n   1 -> 12\n   2 -> 11\nmin:10 max:12 total:33\n" * 6
            + "measurement\n" + "   0 -> 10\n   1 -> 12\n   2 -> 11\nmin:10 max:12 total:33\n" * 2
            + "average:33\n")
    path = tmp_path / "out_threads.log"
    path.write_text(text)
    df = willitscale.read_raw(path, "x")
    assert [(r["workload"], r["mode"], r["tasks"], r["ops"]) for r in df] == [("page_fault3", "threads", 3, 33.0)] * 2


def test_raw_output_that_cannot_be_named_is_refused(tmp_path):
    path = tmp_path / "output.txt"
    path.write_text("min:1 max:2 total:3\n")
    with pytest.raises(InputError, match="cannot tell its testcase, mode and task count"):
        load_result(path)


def test_raw_output_cut_in_warmup_is_refused(tmp_path):
    path = tmp_path / "brk1_processes-1.txt"
    path.write_text("testcase:x\nwarmup\nmin:1 max:2 total:3\n")
    with pytest.raises(InputError, match="stops in its warm-up"):
        load_result(path)


def test_neither_kind_is_one_error_naming_what_was_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(InputError) as exc:
        load_result(tmp_path)
    msg = str(exc.value)
    assert "not a maplebench run (meta.json)" in msg
    assert "mmtests results directory (<run>/iter-N/<benchmark>/logs)" in msg
    assert "will-it-scale output (runtest.py CSV, or min:/max:/total: lines)" in msg


def test_csv_throughput_compares_as_ops_per_second(tmp_path):
    other = tmp_path / "brk1-new.csv"
    text = (WIS / "brk1.csv").read_text().replace("2480925", "2232832")  # processes-1 -10%
    other.write_text(text)
    comparison = compare_runs([load_result(WIS / "brk1.csv"), load_result(other)])
    assert comparison.column_names == ["brk1", "brk1-new"]
    row = next(r for r in comparison.tables[0].rows if r.stat == "Hmean" and r.operation.name == "brk1-processes-1")
    assert row.cells[0].value == 2480925.0 and row.cells[1].value == 2232832.0
    assert row.cells[1].percent == pytest.approx(stats.pdiff(2232832.0, 2480925.0))
    assert np.isclose(row.cells[1].percent, -10.0, atol=0.01)


def test_ttest_era_hmean_is_minus_one_over_a_zero_sample():
    base = [100.0, 101.0, 99.0]
    assert stats.hmean_2018([100.0, 0.0]) == -1.0 and np.isnan(stats.hmean([100.0, 0.0]))
    verdict = stats.ttest(base, [100.0, 0.0, 100.0], True)  # -1 against ~100: significant
    assert verdict.significant and verdict.score < 0.10
    assert not stats.ci_overlap(base, [100.0, 0.0, 100.0], True).significant  # CI era: NaN, no star
