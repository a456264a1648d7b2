"""Comparison tables: columns, operations, significance placement, counters."""

from __future__ import annotations

import math

import golden_runs as runs
import pytest

from maple.bench import stats
from maple.bench.compare import (
    COUNTERS_TITLE,
    WIS_TITLE,
    columns_for,
    compare_columns,
    compare_runs,
    resolve_stats,
)
from maple.bench.results import load_run
from maple.errors import InputError


def _table(comparison, title):
    return next(t for t in comparison.tables if t.title == title)


def _row(table, stat, op):
    return next(r for r in table.rows if r.stat == stat and r.operation.name == op)


def test_single_run_compares_legacy_against_maple(tmp_path):
    run = load_run(runs.reference_single(tmp_path, "seed"))
    cols = columns_for([run])
    assert [(c.name, c.mm) for c in cols] == [("seed-legacy", "legacy"), ("seed-maple", "maple")]
    comparison = compare_runs([run])
    row = _row(_table(comparison, WIS_TITLE), "Hmean", "brk1-processes-2")
    assert row.cells[0].value == pytest.approx(stats.hmean(runs.BRK1_BASE))
    assert row.cells[1].value == pytest.approx(stats.hmean(runs.BRK1_NEW))
    assert row.cells[0].significant is None and row.cells[0].percent == 0.0
    assert row.cells[1].significant is True
    assert row.cells[1].percent == pytest.approx(stats.pdiff(row.cells[1].value, row.cells[0].value))


def test_several_runs_first_is_baseline(tmp_path):
    base, new = runs.reference_pair(tmp_path)
    both = runs.reference_single(tmp_path, "both")
    cols = columns_for([load_run(new), load_run(base), load_run(both), load_run(base)])
    assert [c.name for c in cols] == ["6.8.0-patched", "6.8.0-base", "both-legacy", "both-maple",
                                      "6.8.0-base#2"]
    comparison = compare_columns(cols)
    row = _row(_table(comparison, WIS_TITLE), "Hmean", "brk1-processes-2")
    assert row.cells[0].percent == 0.0 and row.cells[1].percent > 40  # base is better than patched
    assert [c.significant for c in row.cells] == [None, True, True, False, True]


def test_operation_names_and_order(tmp_path):
    rows = (runs.loop_rows("brk1", "maple", "threads", 12, [100, 101, 99])
            + runs.loop_rows("brk1", "maple", "processes", 5, [100, 101, 99])
            + runs.loop_rows("brk1", "maple", "processes", 2, [100, 101, 99])
            + runs.timed_rows("kernbench", "maple", "processes", 4, [1.0, 1.1], [2.0, 2.1], [3.0, 3.1])
            + runs.timed_rows("kernbench", "maple", "threads", 4, [1.0, 1.1], [2.0, 2.1], [3.0, 3.1]))
    run = load_run(runs.write_run(tmp_path / "r", "r", rows))
    comparison = compare_runs([run], stat_names=["Hmean"])
    wis = _table(comparison, WIS_TITLE)
    assert [op.name for op in wis.operations] == ["brk1-processes-2", "brk1-processes-5", "brk1-threads-12"]
    kb = _table(comparison, "kernbench")
    assert kb.field_length == 12 and kb.headline == "Amean" and not kb.higher_is_better
    assert [op.name for op in kb.operations] == [
        "user-processes-4", "syst-processes-4", "elsp-processes-4",
        "user-threads-4", "syst-threads-4", "elsp-threads-4",
    ]
    assert {r.stat for r in kb.rows} == {"Amean"}  # --stats Hmean names the headline mean


def test_only_common_operations_are_compared(tmp_path):
    a = runs.write_run(tmp_path / "a", "a", runs.loop_rows("brk1", "maple", "processes", 2, [5, 6, 7])
                       + runs.loop_rows("brk1", "maple", "processes", 5, [9, 9, 8]))
    b = runs.write_run(tmp_path / "b", "b", runs.loop_rows("brk1", "maple", "processes", 2, [5, 6, 8]))
    comparison = compare_runs([load_run(a), load_run(b)])
    assert [op.name for op in comparison.tables[0].operations] == ["brk1-processes-2"]
    assert comparison.skipped == ["brk1-processes-5"]
    c = runs.write_run(tmp_path / "c", "c", runs.loop_rows("malloc1", "maple", "processes", 2, [5, 6, 8]))
    with pytest.raises(InputError, match="no operation in common"):
        compare_runs([load_run(a), load_run(c)])


def test_counter_table(tmp_path):
    base, new = runs.reference_pair(tmp_path)
    comparison = compare_runs([load_run(base), load_run(new)])
    counters = _table(comparison, COUNTERS_TITLE)
    assert counters.headline is None and counters.kind == "counters"
    assert [r.stat for r in counters.rows] == ["nodes_visited"] * 3 + ["nodes_allocated"] * 3
    row = _row(counters, "nodes_visited", "kernbench-processes-2")
    assert [c.value for c in row.cells] == [27.125, 9.75]
    assert row.cells[1].percent == pytest.approx(100 - 9.75 * 100 / 27.125)
    assert all(c.significant is None for r in counters.rows for c in r.cells)


def test_resolve_stats():
    assert resolve_stats(None, "ci", True)[2] == "HStddev"
    assert resolve_stats(["mean", "Hmean", "BHmean-95", "Max"], "ttest", False) == ["Amean", "BAmean-95", "Max"]
    assert resolve_stats(["Amean", "Gmean"], "ttest", True) == ["Hmean", "Gmean"]
    assert resolve_stats(["percentile-90", "Max-90", "percentile-25"], "ttest", True) == ["Max-90", "1st-qrtle"]
    with pytest.raises(InputError, match="unknown statistic 'Nope'"):
        compare_columns([], stat_names=["Nope"])


def test_stars_follow_the_rule(tmp_path):
    """+1.5 % at CoV 2 %: starred under ttest, not under ci (the reference's example)."""
    import numpy as np
    from scipy import stats as sps

    z = sps.norm.ppf((np.arange(15) + 0.5) / 15)
    z = (z - z.mean()) / z.std(ddof=1)
    base = [round(100000 * (1 + 0.02 * v)) for v in z]
    new = [round(101500 * (1 + 0.02 * v)) for v in z[::-1]]
    a = runs.write_run(tmp_path / "a", "a", runs.loop_rows("brk1", "maple", "processes", 2, base))
    b = runs.write_run(tmp_path / "b", "b", runs.loop_rows("brk1", "maple", "processes", 2, new))
    runs_ = [load_run(a), load_run(b)]
    t = _row(compare_runs(runs_, significance="ttest").tables[0], "Hmean", "brk1-processes-2")
    c = _row(compare_runs(runs_, significance="ci").tables[0], "Hmean", "brk1-processes-2")
    assert t.cells[1].significant is True and c.cells[1].significant is False
    assert math.isclose(t.cells[1].percent, c.cells[1].percent)


def test_all_zero_counters_are_left_out(tmp_path):
    zero = {"nodes_visited": 4.0, "forks": 0.0, "splits": 0.0}
    a = runs.write_run(tmp_path / "a", "a", runs.loop_rows("brk1", "maple", "processes", 2, [5, 6, 7], zero))
    b = runs.write_run(tmp_path / "b", "b", runs.loop_rows("brk1", "maple", "processes", 2, [5, 6, 7],
                                                          {**zero, "splits": 0.5}))
    counters = _table(compare_runs([load_run(a), load_run(b)]), COUNTERS_TITLE)
    assert [r.stat for r in counters.rows] == ["nodes_visited", "splits"]
    assert counters.rows[1].cells[1].percent == -99.0  # pndiff from a zero baseline


def test_corrupt_sample_is_named(tmp_path):
    folder = runs.write_run(tmp_path / "bad", "bad", runs.loop_rows("brk1", "maple", "processes", 2, [5, 6, 7]))
    csv_path = folder / "samples.csv"
    lines = csv_path.read_text().splitlines()
    cells = lines[2].split(",")
    cells[5] = "lots"  # the ops column
    lines[2] = ",".join(cells)
    csv_path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"column 'ops' holds a non-number \('lots'\)"):
        compare_runs([load_run(folder)])


def test_empty_run_is_named(tmp_path):
    from maple.bench.results import RunWriter

    writer = RunWriter(tmp_path / "empty", {"name": "empty"})
    writer.finish("complete")
    with pytest.raises(InputError, match="empty' holds no samples"):
        compare_runs([load_run(tmp_path / "empty")])


def test_simulated_kinds_are_ordered_as_the_kernels_and_host_last():
    from maple.bench.compare import MM_ORDER, _mm_key
    from maple.mm import KINDS

    assert MM_ORDER == tuple(KINDS)  # one order: the eras' own
    kinds = ["host", "current", "maple", "maple-v5", "legacy"]
    assert sorted(kinds, key=_mm_key) == ["legacy", "maple-v5", "maple", "current", "host"]
