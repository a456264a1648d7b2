"""The runner's mechanics, on a stand-in address space (the mm's own tests cover the mm).

Timing: intervals are 0.05 s and no assertion depends on how fast anything ran.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time

import pandas as pd
import pytest

from maple.bench import runner as R
from maple.bench import sampling
from maple.bench.results import RunWriter, load_run
from maple.errors import InputError
from maple.workloads.base import LoopWorkload, TimedWorkload


class FakeMM:
    """Counts calls; ``fork`` gives an independent copy, as MM.fork would."""

    def __init__(self, log=None):
        self.calls = 0
        self.log = log

    def fork(self):
        return FakeMM(self.log)

    @property
    def counters(self):
        return {"calls": self.calls, "lines": 3 * self.calls, "label": "not a number"}


class Count(LoopWorkload):
    name = "count"
    description = "count"
    unit = "calls"
    det_warmup_loops = 2
    det_loops = 5

    def setup(self, mm, task):
        return task

    def loop(self, mm, task):
        mm.calls += 1
        if mm.log is not None:
            mm.log.append(task)
        return 2


class Boom(Count):
    """Task 1 raises after a few hundred steps; task 0 never does."""

    def setup(self, mm, task):
        return [task, 0]

    def loop(self, mm, st):
        st[1] += 1
        if st[0] == 1 and st[1] > 200:
            raise ZeroDivisionError("task one gave up")
        return 1


class EarlyOnly(Count):
    """Counts only during its first 0.15 s: everything it counts lands in the warm-up."""

    def setup(self, mm, task):
        return [None]

    def loop(self, mm, st):
        now = time.monotonic()
        if st[0] is None:
            st[0] = now
        if now - st[0] < 0.15:
            return 1
        time.sleep(0.001)
        return 0


def _children() -> set[int]:
    """Live child processes of this process (any thread's), from /proc."""
    pids: set[int] = set()
    base = f"/proc/{os.getpid()}/task"
    for tid in os.listdir(base):
        try:
            with open(f"{base}/{tid}/children") as fh:
                pids.update(int(x) for x in fh.read().split())
        except OSError:
            pass
    return pids


needs_proc_children = pytest.mark.skipif(
    not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"), reason="no /proc children list"
)


def _run(tmp_path, workload, **kw):
    cfg = R.RunConfig(workloads=[workload.name], **{"samples": 3, "warmup": 0.1, "interval": 0.05, "clock": "wall", **kw})
    writer = RunWriter(tmp_path / "run", {"name": "run"})
    run = R.Runner(cfg, writer, mm_factory=lambda kind: FakeMM(), workloads={workload.name: workload})
    status = run.run()
    R.finish(writer, status, run.error)
    return status, run, tmp_path / "run"


def test_sample_counts_and_columns(tmp_path):
    status, run, folder = _run(tmp_path, Count(), procs=[1, 2])
    assert status == "complete"
    df = load_run(folder).samples
    assert len(df) == 2 * 2 * 2 * 3  # mm x mode x tasks x samples
    assert list(df.columns[:10]) == ["workload", "mm", "mode", "tasks", "sample", "ops", "min", "max",
                                     "count", "seconds"]
    for _, cell in df.groupby(["mm", "mode", "tasks"]):
        assert list(cell["sample"]) == [1, 2, 3]
        assert (cell["calls_per_op"] == 0.5).all() and (cell["lines_per_op"] == 1.5).all()
    assert "label_per_op" not in df.columns
    assert (df["min"] <= df["max"]).all()
    one = df[df.tasks == 1]
    assert (one["min"] == one["ops"]).all() and (one["max"] == one["ops"]).all()
    two = df[df.tasks == 2]
    assert ((two["min"] + two["max"] - two["ops"]).abs() <= 1e-6 * two["ops"]).all()  # sum over tasks
    # throughput is per second of the window measured, whatever the interval (issue 12)
    assert (df["seconds"] >= 0.05).all() and (df["seconds"] < 5).all()
    assert ((df["ops"] - df["count"] / df["seconds"]).abs() <= 1e-9 * df["ops"]).all()
    assert (df["count"] == df["count"].round()).all() and (df["count"] > 0).all()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["status"] == "complete"


def test_warmup_samples_are_discarded(tmp_path):
    ticks = []

    class P:
        def cell(self, *a):
            pass

        def tick(self, warmup):
            ticks.append(warmup)

    cfg = R.RunConfig(workloads=["early"], mms=["maple"], modes=["processes"], procs=[2], clock="wall",
                      samples=2, warmup=0.3, interval=0.05, deterministic=False)
    assert cfg.warmup_samples == 6  # 0.3 s of 0.05 s samples, as will-it-scale's 6 x 1 s
    wl = EarlyOnly()
    wl.name = "early"
    writer = RunWriter(tmp_path / "w", {})
    run = R.Runner(cfg, writer, progress=P(), mm_factory=lambda k: FakeMM(), workloads={"early": wl})
    assert run.run() == "complete"
    assert ticks == [True] * 6 + [False] * 2
    rows = writer.rows
    assert [r["sample"] for r in rows] == [1, 2]
    # each sample sleeps at least one interval, so the first 0.15 s of counting is all warm-up
    assert all(r["ops"] == 0 and r["count"] == 0 for r in rows)


def test_timed_pass_first_sample_covers_start(tmp_path):
    with R.TimedPass(Count(), FakeMM(), "threads", 2, affinity=False) as tp:
        tp.start()
        samples = list(tp.samples(4, 0.05))
    assert len(samples) == 4
    assert all(total == lo + hi for total, lo, hi, _ in samples)
    assert sum(s[0] for s in samples) > 0
    assert all(0.05 <= seconds < 5 for *_, seconds in samples)  # the window measured


@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_worker_that_raises_fails_the_run_and_keeps_samples(tmp_path, mode):
    status, run, folder = _run(tmp_path, Boom(), procs=[1, 2], modes=[mode], mms=["maple"],
                               warmup=0.05, samples=40)
    assert status == "failed"
    assert "ZeroDivisionError: task one gave up" in run.error
    assert "Traceback" in run.error and "task 1" in run.error
    loaded = load_run(folder, allow_incomplete=True)
    assert loaded.meta["status"] == "failed"
    assert "task one gave up" in loaded.meta["error"]
    df = loaded.samples
    assert len(df[df.tasks == 1]) == 40  # the cell before the failure is kept whole


@needs_proc_children
def test_processes_are_reaped_and_threads_joined(tmp_path):
    before = threading.active_count()
    kids = _children()
    status, _, _ = _run(tmp_path, Boom(), procs=[2], mms=["maple"], warmup=0.05, samples=40)
    assert status == "failed"
    assert _children() == kids  # every task reaped, none left as a zombie
    assert threading.active_count() == before


def test_keyboard_interrupt_marks_run_interrupted(tmp_path):
    calls = []

    class P:
        def cell(self, index, total, cell):
            pass

        def tick(self, warmup):
            calls.append(warmup)
            if len(calls) == 5:
                raise KeyboardInterrupt

    cfg = R.RunConfig(workloads=["count"], mms=["maple"], modes=["processes"], procs=[1, 2], clock="wall",
                      samples=3, warmup=0.05, interval=0.05)
    kids = _children()
    writer = RunWriter(tmp_path / "i", {})
    run = R.Runner(cfg, writer, progress=P(), mm_factory=lambda k: FakeMM(), workloads={"count": Count()})
    status = run.run()
    R.finish(writer, status)
    assert status == "interrupted"
    assert _children() == kids
    loaded = load_run(tmp_path / "i", allow_incomplete=True)
    assert loaded.meta["status"] == "interrupted"
    assert len(loaded.samples) == 3  # cell one complete; cell two interrupted before a row


def test_deterministic_counters_repeat_and_processes_tasks_are_identical():
    wl = Count()
    a = R.deterministic_counters(wl, FakeMM(), "processes", 4)
    b = R.deterministic_counters(wl, FakeMM(), "processes", 4)
    c = R.deterministic_counters(wl, FakeMM(), "processes", 4, simulate_tasks=3)
    assert a == b == c == {"calls_per_op": 0.5, "lines_per_op": 1.5}


def test_deterministic_threads_take_turns():
    log: list[int] = []
    mm = FakeMM(log)
    wl = Count()
    per_op = R.deterministic_counters(wl, mm, "threads", 3)
    assert per_op == {"calls_per_op": 0.5, "lines_per_op": 1.5}
    steps = wl.det_warmup_loops + wl.det_loops
    assert log == [0, 1, 2] * steps  # strict lockstep: one step per task per round


def test_deterministic_threads_error_is_reported():
    with pytest.raises(R.WorkerError, match="task one gave up"):
        wl = Boom()
        wl.det_loops = 5000
        R.deterministic_counters(wl, FakeMM(), "threads", 2)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no affinity API")
def test_threads_are_bound_round_robin():
    seen = {}

    class Where(Count):
        def setup(self, mm, task):
            seen[task] = os.sched_getaffinity(0)
            return task

    cpus = sorted(os.sched_getaffinity(0))
    with R.TimedPass(Where(), FakeMM(), "threads", 3, affinity=True) as tp:
        tp.start()
        list(tp.samples(1, 0.01))
    for task in range(3):
        assert seen[task] == {cpus[task % len(cpus)]}
    assert os.sched_getaffinity(0) == set(cpus)  # the sampling thread stays unbound


@pytest.mark.parametrize(
    "kw, bad",
    [({"samples": 0}, "--samples '0'"), ({"interval": 0}, "--interval '0'"),
     ({"interval": -1.0}, "--interval '-1.0'"), ({"mms": ["maple", "btree"]}, "--mm 'btree'"),
     ({"modes": ["fibres"]}, "--mode 'fibres'"), ({"warmup": -1.0}, "--warmup '-1.0'"),
     # issue 12: every option finite and within sane bounds
     ({"interval": math.inf}, "--interval 'inf': must be a finite"),
     ({"interval": 1e308}, "--interval '1e+308': must be at most 3600"),
     ({"interval": 1e-9}, "--interval '1e-09': must be at least 0.01"),
     ({"interval": math.nan}, "--interval 'nan': must be a finite"),
     ({"warmup": math.inf}, "--warmup 'inf': must be a finite"),
     ({"warmup": math.nan}, "--warmup 'nan': must be a finite"),
     ({"warmup": 1e9}, "--warmup '1000000000.0': must be at most 3600"),
     ({"samples": 1_000_000_000}, "--samples '1000000000': must be an integer from 1 to 10000"),
     ({"samples": 2.5}, "--samples '2.5'"), ({"samples": True}, "--samples 'True'"),
     ({"samples": 10_000, "interval": 100.0}, "would sample for 46.3 days"),
     ({"procs": [1, 5000]}, "--procs: 5000 tasks is more than 2048"),
     ({"procs": [0]}, "--procs: bad task counts"),
     ({"cpus": 0}, "--cpus '0'"), ({"cpus": 10**6}, "--cpus '1000000'"), ({"cpus": 2.0}, "--cpus '2.0'"),
     ({"smt": 0}, "--smt '0'"), ({"smt": 9}, "--smt '9'"),
     ({"jobs": 0}, "--jobs '0'"), ({"jobs": -1}, "--jobs '-1'"),
     ({"params": {"trace": "x.gz"}}, "--trace 'x.gz': no workload of this run takes it (brk1; it is for kernbench, trace)"),
     ({"workload_modes": {"brk1": ["fibres"]}}, "--mode 'fibres'")],
)
def test_config_errors(kw, bad):
    with pytest.raises(InputError, match=re.escape(bad)):
        R.RunConfig(workloads=["brk1"], **{"clock": "wall", **kw}).validate()


@pytest.mark.parametrize(
    "kw, bad",
    [({"interval": 1e-9}, "--interval '1e-09': must be at least 1e-06 seconds"),
     ({"interval": math.inf}, "--interval 'inf': must be a finite"),
     ({"samples": 1000, "interval": 0.1}, "--samples 1000 --warmup 0.002 --interval 0.1: each cell would simulate 100 s"),
     ({"mms": ["host", "maple"], "host_interval": 0.001}, "--host-interval '0.001': must be at least 0.01"),
     ({"clock": "sundial"}, "--clock 'sundial'")],
)
def test_model_clock_config_errors(kw, bad):
    """Under the model clock the interval is virtual (bounded below by 1 us, not 10 ms), a
    cell's virtual time is bounded, and host cells keep real-time bounds."""
    with pytest.raises(InputError, match=re.escape(bad)):
        R.RunConfig(workloads=["brk1"], **{"clock": "model", "warmup": 0.002, **kw}).validate()


def test_config_accepts_the_bounds():
    R.RunConfig(workloads=["brk1"], interval=0.01, warmup=0, samples=10_000, procs=[2048], clock="wall").validate()
    R.RunConfig(workloads=["brk1"], interval=3600, warmup=3600, samples=1, clock="wall").validate()
    R.RunConfig(workloads=["brk1"], interval=1e-6, warmup=0, samples=10_000, clock="model", cpus=1, smt=8,
                jobs=1).validate()
    R.RunConfig(workloads=["brk1"], clock="model", cpus=4096).validate()


@pytest.mark.parametrize("option, kw", [("--cpus '4'", {"cpus": 4}), ("--smt '2'", {"smt": 2}),
                                         ("--profile 'prior'", {"profile": "prior"}), ("--jobs '2'", {"jobs": 2}),
                                         ("--scheduler 'tcp://127.0.0.1:1'", {"scheduler": "tcp://127.0.0.1:1"})])
def test_model_clock_options_are_refused_under_the_wall_clock(option, kw):
    """They used to be ignored silently (a dead --scheduler passed unnoticed)."""
    with pytest.raises(InputError, match=re.escape(f"{option}: applies to --clock model only")):
        R.RunConfig(workloads=["brk1"], clock="wall", **kw).validate()


def test_trace_goes_only_to_the_workloads_that_take_it():
    from maple.workloads.brk1 import WORKLOAD as Brk1
    from maple.workloads.kernbench import WORKLOAD as Kernbench

    cfg = R.RunConfig(workloads=["brk1", "kernbench"], params={"trace": "t.gz"})
    cfg.validate()  # kernbench takes it
    assert cfg.params_for(Kernbench) == {"trace": "t.gz"} and cfg.params_for(Brk1) == {}


def test_workload_modes_override_modes():
    cfg = R.RunConfig(workloads=["brk1", "kernbench"], mms=["maple"], procs=[2],
                      workload_modes={"kernbench": ("processes",)})
    assert [(c.workload, c.mode) for c in cfg.cells()] == [
        ("brk1", "processes"), ("brk1", "threads"), ("kernbench", "processes")]


def test_estimate_counts_loop_cells_in_real_seconds():
    cfg = R.RunConfig(workloads=["brk1", "kernbench"], procs=[2, 4], samples=5, warmup=6, interval=1, clock="wall")
    # 2 tasks x 2 modes x 2 mms brk1 cells of 11 one-second samples; kernbench is not estimated
    assert cfg.estimate_seconds({"brk1": "loop", "kernbench": "timed"}) == 8 * 11
    cfg.clock = "model"
    assert cfg.estimate_seconds({"brk1": "loop"}) == 0  # simulated seconds say nothing of real time


def test_throughput_is_per_second_of_the_window():
    assert R.throughput(300, 100, 200, 0.5) == {"ops": 600.0, "min": 200.0, "max": 400.0, "count": 300,
                                                "seconds": 0.5}
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(R.WorkerError, match="window"):
            R.throughput(1, 1, 1, bad)


def test_rows_reach_the_disk_as_each_sample_is_taken(tmp_path):
    """Issue 12: rows were written when a cell ended, so a kill lost every sample of the cell."""
    seen = []

    class P:
        def cell(self, *a):
            pass

        def tick(self, warmup):
            if not warmup:
                seen.append(len(pd.read_csv(tmp_path / "d" / "samples.csv")) if (tmp_path / "d" / "samples.csv").exists() else 0)

    cfg = R.RunConfig(workloads=["count"], mms=["maple"], modes=["threads"], procs=[1], samples=4,
                      warmup=0, interval=0.05, deterministic=False, clock="wall")
    writer = RunWriter(tmp_path / "d", {})
    run = R.Runner(cfg, writer, progress=P(), mm_factory=lambda k: FakeMM(), workloads={"count": Count()})
    assert run.run() == "complete"
    # the tick of sample k comes before its row is stored: k - 1 rows are on disk by then
    assert seen == [0, 1, 2, 3]


def test_a_full_disk_fails_the_run_with_one_line(tmp_path, monkeypatch):
    from maple.bench import results

    cfg = R.RunConfig(workloads=["count"], mms=["maple"], modes=["threads"], procs=[1], samples=5,
                      warmup=0, interval=0.05, deterministic=False, clock="wall")
    writer = RunWriter(tmp_path / "d", {})
    run = R.Runner(cfg, writer, mm_factory=lambda k: FakeMM(), workloads={"count": Count()})
    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > 2:
            raise OSError(28, "No space left on device")
        real(fd)

    monkeypatch.setattr(results.os, "fsync", fsync)
    assert run.run() == "failed"
    assert run.error == f"{tmp_path / 'd' / 'samples.csv'}: No space left on device"
    monkeypatch.setattr(results.os, "fsync", real)
    assert len(pd.read_csv(tmp_path / "d" / "samples.csv")) == 2  # what was written survived


def test_unknown_workload():
    with pytest.raises(InputError, match="unknown workload 'brk3'"):
        R.RunConfig(workloads=["brk3"]).validate()


def test_cells_order_mm_innermost():
    cfg = R.RunConfig(workloads=["brk1"], procs=[1, 2], modes=["processes"])
    assert [(c.tasks, c.mm) for c in cfg.cells()] == [(1, "maple"), (1, "legacy"), (2, "maple"), (2, "legacy")]


def test_error_message_fits_one_pipe_write():
    r, w = os.pipe()
    try:
        sampling._send_error(w, 7, "x" * 10000 + "\nthe last line")
        msg = sampling._read_error(r)
    finally:
        os.close(r)
        os.close(w)
    assert msg.startswith("...") and msg.endswith("the last line")
    assert len(msg.encode()) <= 4096


def test_sample_stats_is_will_it_scales_line():
    # per task increments 5, 0, 7 -> min:0 max:7 total:12
    assert R.sample_stats([15, 20, 7], [10, 20, 0], 1.0) == (12, 0, 7, 1.0)
    assert R.sample_stats([3], [0], 0.5) == (3, 3, 3, 0.5)


class Timed(TimedWorkload):
    name = "timed"
    description = "timed"

    def __init__(self, fail_at=None, **params):
        super().__init__(**params)
        self.fail_at = fail_at
        self.calls = []

    def iteration(self, mm_kind, tasks, mode):
        self.calls.append((mm_kind, tasks, mode))
        if len(self.calls) == self.fail_at:
            raise RuntimeError("compile failed")
        return {"user": 1.5, "syst": 0.25 * tasks, "elsp": 2.0, "faults_per_op": 0.5, "ignored": 9}


def test_timed_workload_rows(tmp_path):
    wl = Timed()
    cfg = R.RunConfig(workloads=["timed"], mms=["maple", "legacy"], modes=["processes"], procs=[1, 4], clock="wall",
                      samples=2)
    writer = RunWriter(tmp_path / "t", {})
    run = R.Runner(cfg, writer, mm_factory=lambda k: FakeMM(), workloads={"timed": wl})
    assert run.ticks() == 8  # no warm-up iterations for timed workloads
    assert run.run() == "complete"
    assert len(wl.calls) == 8 and wl.calls[0] == ("maple", 1, "processes")
    df = pd.DataFrame(writer.rows)
    assert list(df.columns) == ["workload", "mm", "mode", "tasks", "sample", "user", "syst", "elsp",
                                "faults_per_op"]
    assert list(df[df.tasks == 4]["syst"]) == [1.0] * 4
    assert list(df["sample"]) == [1, 2] * 4


def test_timed_workload_failure_keeps_earlier_rows(tmp_path):
    wl = Timed(fail_at=3)
    cfg = R.RunConfig(workloads=["timed"], mms=["maple"], modes=["threads"], procs=[1, 2], samples=2, clock="wall")
    writer = RunWriter(tmp_path / "t", {})
    run = R.Runner(cfg, writer, mm_factory=lambda k: FakeMM(), workloads={"timed": wl})
    assert run.run() == "failed"
    assert "compile failed" in run.error and "iteration 1" in run.error
    assert len(writer.rows) == 2


class WhichMM(Count):
    """Fails unless the mm it gets is right for the mode."""

    seen: list = []

    def setup(self, mm, task):
        WhichMM.seen.append(mm)
        return task

    def loop(self, mm, task):
        if self.mode == "processes" and not getattr(mm, "forked", False):
            raise AssertionError("a process task must work on a fork of the starting mm")
        return 1


class ForkingMM(FakeMM):
    def fork(self):
        child = ForkingMM()
        child.forked = True
        return child


@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_tasks_get_a_fork_or_the_shared_mm(mode):
    WhichMM.seen = []
    wl = WhichMM()
    wl.mode = mode
    start = ForkingMM()
    with R.TimedPass(wl, start, mode, 3, affinity=False) as tp:
        tp.start()
        got = list(tp.samples(2, 0.05))
    assert len(got) == 2
    if mode == "threads":
        assert len(WhichMM.seen) == 3 and all(mm is start for mm in WhichMM.seen)
    else:
        assert WhichMM.seen == []  # setup ran in the children, on their forks
