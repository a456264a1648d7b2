"""HostPass through the runner: samples from the real kernel, failures, reaping, meta.json."""

from __future__ import annotations

import os
import platform
import signal
import time
from pathlib import Path

import pytest

from maple import workloads
from maple.bench.runner import RunConfig, Runner, WorkerError
from maple.host import TESTCASES, sysinfo
from maple.host.backend import HostPass


class ListWriter:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add_rows(self, rows: list[dict]) -> None:
        self.rows.extend(rows)


def _harness_pids(binary: Path) -> list[int]:
    """Live processes running ``binary`` (this session's own build)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "exe") == str(binary):
                stat = (entry / "stat").read_text()
                if stat[stat.rindex(")") + 2] != "Z":
                    out.append(int(entry.name))
        except OSError:
            continue
    return out


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():  # CONFIG_PROC_CHILDREN off
        pytest.skip("/proc/PID/task/TID/children not available")
    return [int(p) for p in path.read_text().split()]


def test_every_testcase_samples_in_both_modes(host_build):
    config = RunConfig(workloads=list(TESTCASES), mms=["host"], modes=["processes", "threads"], procs=[2],
                       samples=2, warmup=0, interval=0.05, clock="wall")
    writer = ListWriter()
    run = Runner(config, writer)
    assert run.run() == "complete", run.error
    cells = {}
    for row in writer.rows:
        cells.setdefault((row["workload"], row["mode"], row["tasks"]), []).append(row)
        assert set(row) == {"workload", "mm", "mode", "tasks", "sample", "ops", "min", "max", "count",
                            "seconds"}  # no counters
        assert row["mm"] == "host"
        assert 0 <= row["min"] <= row["max"] and row["min"] * 2 <= row["ops"] <= row["max"] * 2
        assert 0.05 <= row["seconds"] < 5 and row["ops"] == row["count"] / row["seconds"]  # ops/s
    assert sorted(cells) == sorted((w, m, 2) for w in TESTCASES for m in ("processes", "threads"))
    for key, rows in cells.items():
        assert [r["sample"] for r in rows] == [1, 2]
        assert sum(r["ops"] for r in rows) > 0, key


def test_counters_land_in_the_runner_slots_and_windows_are_timed(host_build):
    with HostPass(workloads.get("brk2"), "threads", 2, build=host_build) as source:
        source.start()
        samples = list(source.samples(3, 0.05))
        counts = source.area.counts()
    assert len(samples) == 3
    for total, lo, hi, seconds in samples:
        assert total > 0 and lo > 0 and seconds >= 0.05
    assert all(c > 0 and c % 2 == 0 for c in counts)  # brk2 adds 2 per pass, in one store
    assert sum(s[0] for s in samples) <= sum(counts)


def test_close_reaps_the_harness_and_its_tasks(host_build):
    source = HostPass(workloads.get("mmap1"), "processes", 2, build=host_build)
    with source:
        source.start()
        next(iter(source.samples(1, 0.02)))
        harness = source.proc.pid
        children = _children(harness)
        assert len(children) == 2
    assert source.proc.returncode is not None
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert _harness_pids(host_build.binary) == []


def test_a_task_killed_by_a_signal_is_a_worker_error(host_build):
    with HostPass(workloads.get("brk1"), "processes", 2, build=host_build) as source:
        source.start()
        harness = source.proc.pid
        child = _children(harness)[1]
        os.kill(child, signal.SIGKILL)
        with pytest.raises(WorkerError, match=r"task 1 \(pid \d+\): brk1: killed by signal 9"):
            list(source.samples(20, 0.05))
    assert _harness_pids(host_build.binary) == []


@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_a_failing_setup_is_a_worker_error_with_its_message(host_build, monkeypatch, tmp_path, mode):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))  # mkstemp fails in the task's setup
    with HostPass(workloads.get("page_fault2"), mode, 2, build=host_build) as source:
        with pytest.raises(WorkerError, match=r"page_fault2 .*task \d: page_fault2: mkstemp: No such file"):
            source.start()
    assert _harness_pids(host_build.binary) == []


def test_interrupt_stops_the_run_and_reaps_everything(host_build):
    class Interrupt:
        ticks = 0

        def cell(self, index, total, cell):
            pass

        def tick(self, warmup):
            self.ticks += 1
            if self.ticks == 2:
                raise KeyboardInterrupt

    config = RunConfig(workloads=["page_fault1"], mms=["host"], modes=["threads"], procs=[2],
                       samples=5, warmup=0, interval=0.05, clock="wall")
    writer = ListWriter()
    run = Runner(config, writer, progress=Interrupt())
    assert run.run() == "interrupted"
    assert len(writer.rows) == 1  # the sample before the interrupt is kept
    assert _harness_pids(host_build.binary) == []


def test_binding_is_round_robin_over_cores(host_build):
    sets = sysinfo.cpu_sets()
    allowed = sorted(os.sched_getaffinity(0))
    assert sorted(c for s in sets for c in s) == allowed
    assert sysinfo.cpu_sets_arg([[0, 2], [1, 3]]) == "0,2:1,3"
    tasks = len(sets) + 1  # one more task than cores: the last wraps to the first core
    with HostPass(workloads.get("brk1"), "threads", tasks, build=host_build) as source:
        source.start()
        pid = source.proc.pid
        threads = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))[1:]  # [0] is the main thread
        bound = [sorted(os.sched_getaffinity(t)) for t in threads]
    assert bound == [sets[i % len(sets)] for i in range(tasks)]


def test_meta_records_the_kernel_cpus_and_compiler(host_build):
    run = Runner(RunConfig(workloads=["brk1"], mms=["host", "maple"]), ListWriter())
    host = run.meta(argv=["x"])["host"]
    assert host["kernel_release"] == platform.release()
    assert host["cpus"] == len(os.sched_getaffinity(0))
    assert host["cpu_model"] and host["page_size"] == os.sysconf("SC_PAGE_SIZE")
    assert host["compiler"]["path"] == host_build.compiler.path
    assert host["compiler"]["version"] == host_build.compiler.version
    assert host["compiler"]["flags"] == ["-O2", "-g", "-Wall", "-pthread"]
    assert "host" not in Runner(RunConfig(workloads=["brk1"], mms=["maple"]), ListWriter()).meta(argv=["x"])


def test_host_cells_ignore_the_clock_option(host_build):
    run = Runner(RunConfig(workloads=["brk1"], mms=["host"], clock="model"), ListWriter())
    from maple.bench.runner import Cell

    source = run.sample_source(workloads.get("brk1"), Cell("brk1", "host", "threads", 1))
    assert isinstance(source, HostPass)
    source.close()


def test_host_cells_sample_real_seconds_under_the_model_clock(host_build):
    """--clock model's interval is virtual; host cells take the real host_interval instead."""
    config = RunConfig(workloads=["brk1"], mms=["host"], modes=["processes"], procs=[1], samples=2,
                       clock="model", host_interval=0.05, host_warmup=0.05)
    assert config.interval == 0.002 and config.timing("host") == (1, 0.05)
    writer = ListWriter()
    run = Runner(config, writer)
    assert run.run() == "complete", run.error
    assert [r["sample"] for r in writer.rows] == [1, 2]
    assert all(0.05 <= r["seconds"] < 5 for r in writer.rows)
