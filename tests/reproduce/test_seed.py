"""Modeled percentages from measurements, the plan, kinds, and a tiny real run."""

from __future__ import annotations

import io
import math

import pytest
from reproduce_helpers import constructed_measure

from maple.bench import stats
from maple.errors import InputError
from maple.reproduce.published import load
from maple.reproduce.seed import (
    Group, Settings, check_kind, count_cells, measure, modeled_row, percent, reproduce, seed_plan,
)

ROWS = {r.operation: r for r in load()}


def _samples(g, kind, n, base, new):
    """Constructed samples: new kind at 70 % of base ops in processes mode, 150 % in threads
    mode; kernbench syst 5 % longer; brk2 at 90 % of brk1 on the base kind."""
    if g.workload == "kernbench":
        f = 1.05 if kind == new else 1.0
        return {"user": [10.0, 10.0], "syst": [2.0 * f, 2.0 * f], "elsp": [5.0, 5.0]}
    ops = 1000.0 * n * (0.9 if g.workload == "brk2" else 1.0)
    if kind == new and kind != base:
        ops *= 0.7 if g.mode == "processes" else 1.5
    return {"ops": [ops, ops * 1.01]}


fake_measure = constructed_measure(_samples)


def test_plan_covers_every_published_row() -> None:
    plan = seed_plan()
    groups = {(g.workload, g.mode): g for g in plan}
    for r in load():
        g = groups[(r.workload, r.mode)]
        if r.tasks is not None:
            assert r.tasks in g.procs, r.operation
    assert groups[("brk1", "processes")].procs[-1] == 320 and len(groups[("brk1", "processes")].procs) == 16
    assert groups[("brk1", "threads")].procs[-1] == 203 and len(groups[("brk1", "threads")].procs) == 12
    assert groups[("kernbench", "processes")].procs == (2, 4, 8, 16, 32, 64, 128)
    assert groups[("brk2", "processes")].kinds("legacy", "maple") == ("legacy",)
    assert count_cells(plan, "legacy", "maple") == sum(len(g.procs) * (1 if g.base_only else 2) for g in plan)
    assert count_cells(plan, "legacy", "legacy") == sum(len(g.procs) for g in plan)


def test_percent_is_mmtests() -> None:
    assert percent([100.0, 100.0], [70.0, 70.0], "ops") == pytest.approx(-30.0)
    assert percent([10.0], [10.5], "syst") == pytest.approx(-5.0)  # more time is worse
    assert percent([100.0, 50.0], [80.0], "ops") == pytest.approx(stats.pdiff(80.0, stats.hmean([100.0, 50.0])))
    assert math.isnan(percent([], [1.0], "ops"))
    assert math.isnan(percent([0.0, 5.0], [0.0, 5.0], "ops"))  # a window with no op: no Hmean


def test_modeled_rows_from_constructed_measurements() -> None:
    plan = seed_plan()
    data = fake_measure(plan, "legacy", "maple", None, _Quiet())
    r = modeled_row(ROWS["Hmean brk1-processes-8"], data, plan, "legacy", "maple")
    assert r.tasks == (8,) and r.modeled == (pytest.approx(-30.0),) and r.agrees
    r = modeled_row(ROWS["Hmean brk1-threads-79"], data, plan, "legacy", "maple")
    assert r.modeled == (pytest.approx(50.0),) and r.agrees
    r = modeled_row(ROWS["Hmean malloc1-threads"], data, plan, "legacy", "maple")
    assert r.tasks == groups(plan)[("malloc1", "threads")].procs
    assert all(v == pytest.approx(50.0) for v in r.modeled) and not r.agrees  # sign target: negative
    r = modeled_row(ROWS["Amean syst-16"], data, plan, "legacy", "maple")
    assert r.modeled == (pytest.approx(-5.0),) and r.agrees
    r = modeled_row(ROWS["Amean user-16"], data, plan, "legacy", "maple")
    assert r.modeled == (0.0,) and not r.agrees
    r = modeled_row(ROWS["brk2 vs brk1"], data, plan, "legacy", "maple")  # on the base kind
    assert len(r.modeled) == 16 and all(v == pytest.approx(-10.0) for v in r.modeled) and r.agrees
    assert r.modeled_text() == "-10.00..-10.00" and r.tasks_text().startswith("2,5,8,")


def test_modeled_text_has_no_negative_zero() -> None:
    r = modeled_row(ROWS["Amean elsp-2"], {("kernbench", "legacy", "processes", 2): {"elsp": [100000.0]},
                                           ("kernbench", "maple", "processes", 2): {"elsp": [100001.0]}},
                    seed_plan(), "legacy", "maple")
    assert -0.005 < r.modeled[0] < 0 and r.modeled_text() == "0.00"


def test_missing_cells_are_nan_and_never_agree() -> None:
    r = modeled_row(ROWS["Hmean brk1-processes-8"], {}, seed_plan(), "legacy", "maple")
    assert math.isnan(r.modeled[0]) and not r.agrees and r.modeled_text() == "nan"


def test_reproduce_reports_every_row_and_progress() -> None:
    err = io.StringIO()
    rep = reproduce("legacy", "maple", measure_fn=fake_measure, progress_stream=err)
    assert [r.row for r in rep.results] == load()
    lines = err.getvalue().splitlines()
    assert len(lines) == count_cells(seed_plan(), "legacy", "maple")
    assert lines[0] == f"reproduce seed: [1/{len(lines)}] brk1 legacy processes 2"
    assert rep.agreeing == sum(r.agrees for r in rep.results) > 0


def test_unknown_kinds_are_refused_before_anything_runs() -> None:
    def boom(*a):
        raise AssertionError("ran")

    with pytest.raises(InputError, match="--base 'nope'"):
        reproduce("nope", "maple", measure_fn=boom)
    with pytest.raises(InputError, match="--new 'host'"):
        reproduce("legacy", "host", measure_fn=boom)
    assert check_kind("legacy", "--base") == "legacy"


def test_a_tiny_real_run_through_the_runner() -> None:
    """Wall clock, two tasks, one short sample: real cells, real percentages."""
    plan = (Group("brk1", "processes", (2,)), Group("brk2", "processes", (2,), base_only=True),
            Group("kernbench", "processes", (2,)))
    settings = Settings(clock="wall", cpus=None, smt=1, samples=1, interval=0.05)
    data = measure(plan, "legacy", "maple", settings, _Quiet())
    assert set(data) == {("brk1", "legacy", "processes", 2), ("brk1", "maple", "processes", 2),
                         ("brk2", "legacy", "processes", 2), ("kernbench", "legacy", "processes", 2),
                         ("kernbench", "maple", "processes", 2)}
    assert data[("brk1", "maple", "processes", 2)]["ops"][0] > 0
    assert set(data[("kernbench", "legacy", "processes", 2)]) == {"user", "syst", "elsp"}
    r = modeled_row(ROWS["Hmean brk1-processes-2"], data, plan, "legacy", "maple")
    assert not math.isnan(r.modeled[0])


class _Quiet:
    def cell(self, index, total, cell):
        pass

    def tick(self, warmup):
        pass


def groups(plan):
    return {(g.workload, g.mode): g for g in plan}


def test_explain_counts_events_of_one_steady_cycle() -> None:
    """brk1-processes creates and destroys one VMA per grow/shrink pair on either kind."""
    from maple.reproduce.explain import events_per_op, main, report

    legacy, legacy_ctx = events_per_op("brk1", "legacy", "processes")
    maple, _ = events_per_op("brk1", "maple", "processes")
    assert legacy["syscall"] == maple["syscall"] == 1.0
    assert legacy["vma_alloc"] == maple["vma_alloc"] == 0.5  # one VMA per two brk calls
    assert legacy["rb_insert"] == 0.5 and "rb_insert" not in maple and maple["node_walk"] > 0
    assert set(legacy_ctx) >= {"none", "write"}
    text = report("brk1", "processes", "legacy", "maple")
    assert "ns per op" in text and "rb_insert" in text
    assert main(["brk1", "processes", "legacy"]) == 2
    assert main(["brk1", "processes", "legacy", "nope"]) == 2
