"""The discrete-event scheduler against closed forms (flat profiles, synthetic calls)."""

from __future__ import annotations

import pytest
from clock_helpers import flat_profile

from maple.clock.programs import CycleProgram
from maple.clock.scheduler import IndependentTasks, Simulation, placement, window_samples
from maple.mm.events import Segment

MS = 1e6


def _call(ctx: str, name: str = "brk", pre: float = 1, work: int = 1) -> tuple:
    """One call: ``pre`` syscalls outside the lock, ``work`` node writes in ``ctx``."""
    return (name, [Segment("none", None, {"syscall": pre}), Segment(ctx, None, {"node_write": work})], 1)


def _rates(sim: Simulation, ms: int = 4) -> list[tuple[int, int, int, float]]:
    return window_samples(sim, [k * MS for k in range(ms + 1)])


def test_placement_fills_cores_first_then_siblings_then_shares():
    assert placement(3, 4, 2) == [0, 2, 1]
    assert placement(5, 4, 2) == [0, 2, 1, 3, 0]
    assert placement(5, 4, 1) == [0, 1, 2, 3, 0]


@pytest.mark.parametrize("tasks,cpus", [(1, 4), (3, 4), (4, 4), (8, 4), (12, 4), (6, 4)])
def test_independent_tasks_scale_to_the_cpu_count(tasks, cpus):
    """T tasks on C CPUs, nothing shared: rate = min(T, C) / call cost, minus context switches
    when CPUs are shared; the closed form and the event simulation agree."""
    prof = flat_profile({"syscall": 100.0, "node_write": 900.0}, context_switch_ns=0.0)
    calls = [_call("write")]
    sim = Simulation(prof, [CycleProgram(calls) for _ in range(tasks)], cpus=cpus, shared_mm=False)
    got = window_samples(sim, [0, 12 * MS])[0][0]  # 12 ms: whole rounds of 3 ms slices
    expected = min(tasks, cpus) * 12 * MS / 1000.0
    assert got == pytest.approx(expected, rel=2e-3)
    closed = IndependentTasks(prof, calls, tasks, cpus=cpus)
    assert sum(closed.counts(12 * MS)) == pytest.approx(got, rel=2e-3)


def test_independent_tasks_time_sharing_pays_context_switches():
    prof = flat_profile({"syscall": 100.0, "node_write": 900.0}, context_switch_ns=30000.0)
    closed = IndependentTasks(prof, [_call("write")], 8, cpus=4)
    # each CPU: two tasks alternate 3 ms slices, a 30 us switch before every slice but the
    # first; slices start at 0, 3, 6.03, 9.06, ... 27.24 ms: nine switches within 30 ms
    per_cpu = (30 * MS - 9 * 30000.0) / 1000.0
    assert sum(closed.counts(30 * MS)) == pytest.approx(4 * per_cpu, rel=1e-3)


def test_smt_siblings_share_a_core():
    prof = flat_profile({"node_write": 1000.0}, smt_factor=0.6)
    calls = [_call("write", pre=0)]
    alone = IndependentTasks(prof, calls, 2, cpus=4, smt=2).counts(MS)  # one per core
    shared = IndependentTasks(prof, calls, 4, cpus=4, smt=2).counts(MS)  # both threads busy
    assert alone == [1000, 1000]
    assert shared == [600, 600, 600, 600]
    sim = Simulation(prof, [CycleProgram(calls) for _ in range(4)], cpus=4, smt=2, shared_mm=False)
    assert _rates(sim, 1)[0][:3] == (2400, 600, 600)


@pytest.mark.parametrize("tasks", [2, 3, 4])
def test_one_writer_lock_serialises(tasks):
    """Every call holds mmap_lock for write for w = 1 us; outside it 0.2 us: the lock is the
    bottleneck, the rate is 1 / w whatever the task count (spinners take it at release)."""
    prof = flat_profile({"syscall": 200.0, "node_write": 1000.0})
    sim = Simulation(prof, [CycleProgram([_call("write")]) for _ in range(tasks)], cpus=8)
    samples = _rates(sim)
    for total, lo, hi, _ in samples[1:]:
        assert total == pytest.approx(1000, abs=2)
        assert hi - lo <= 1  # spinners queue FIFO: fair


def test_writer_lock_with_cache_line_transfers():
    """A handed-over critical section grows by the lock word's transfer to the new owner and
    by the shared data the last owner wrote (the release's own transfer is charged to the
    releaser after it left the lock)."""
    prof = flat_profile({"syscall": 200.0, "node_write": 1000.0}, cacheline_ns=50.0)
    sim = Simulation(prof, [CycleProgram([_call("write")]) for _ in range(2)], cpus=8)
    total = _rates(sim)[-1][0]
    # per call under the lock: 1000 work + 50 (node_write line written on the other CPU)
    # + 50 (lock word on acquire)
    assert total == pytest.approx(MS / 1100.0, abs=2)


@pytest.mark.parametrize("tasks", [1, 2, 4, 8])
def test_reader_only_lock_scales(tasks):
    prof = flat_profile({"fault": 200.0, "node_walk": 800.0})
    calls = [("fault", [Segment("none", None, {"fault": 1}), Segment("read", None, {"node_walk": 1})], 1)]
    sim = Simulation(prof, [CycleProgram(calls) for _ in range(tasks)], cpus=8)
    total = _rates(sim)[-1][0]
    assert total == pytest.approx(tasks * 1000, abs=tasks)


def test_a_writer_sleeps_after_the_reader_owned_spin_budget():
    """A writer facing a reader that holds the lock for 50 us spins 10.5 us (one reader), then
    sleeps; it gets the lock when the reader releases, after the wake-up latency."""
    prof = flat_profile({"syscall": 100.0, "fault": 100.0, "node_walk": 50000.0, "node_write": 1000.0},
                        wakeup_ns=3000.0)
    reader = [("fault", [Segment("none", None, {"fault": 1}), Segment("read", None, {"node_walk": 1})], 1)]
    writer = [("brk", [Segment("none", None, {"syscall": 2}), Segment("write", None, {"node_write": 1})], 1)]

    class Once(CycleProgram):
        def execute(self):
            segs, ops, _ = super().execute()
            return segs, ops, None

    sim = Simulation(prof, [Once(reader), Once(writer)], cpus=4)
    w = sim.tasks[1]
    sim.run_until(200.0 + 10500.0 + 1.0)  # arrived at 200, spun the budget
    assert w.state == "sleeping" and w.lock.nonspinnable
    sim.run_until(100.0 + 50000.0 + 3000.0 + 1000.0 - 1.0)
    assert w.ops == 0
    sim.run_until(100.0 + 50000.0 + 3000.0 + 1000.0 + 1.0)
    assert w.ops == 1 and sim.tasks[0].ops == 1


def test_tlb_shootdown_costs_one_round_trip_then_a_send_per_further_cpu():
    prof = flat_profile({"tlb_shootdown": 1000.0}, ipi_ns=300.0, ipi_extra_ns=50.0)
    calls = [("munmap", [Segment("write", None, {"tlb_shootdown": 1})], 1)]
    for tasks in (1, 2, 4):
        sim = Simulation(prof, [CycleProgram(calls) for _ in range(tasks)], cpus=8)
        total = _rates(sim, 2)[-1][0]
        per_call = 1000.0 + (0.0 if tasks == 1 else 300.0 + 50.0 * (tasks - 2))
        assert total == pytest.approx(MS / per_call, abs=2)


def test_same_inputs_same_trajectory():
    prof = flat_profile({"syscall": 130.0, "node_write": 770.0, "fault": 90.0, "node_walk": 310.0},
                        cacheline_ns=40.0)
    mixed = [_call("write"), ("fault", [Segment("none", None, {"fault": 1}), Segment("read", None, {"node_walk": 3})], 1)]
    runs = []
    for _ in range(2):
        sim = Simulation(prof, [CycleProgram(mixed) for _ in range(6)], cpus=4, smt=2)
        runs.append(_rates(sim, 3))
    assert runs[0] == runs[1]


def test_cache_lines_charged_for_lines_written_elsewhere_not_lines_read():
    """Each call writes 1 shared line and reads 9 more (node walks, free here): the next owner
    on the other CPU fetches the 1 line the last owner wrote (and the lock word), not all 10."""
    prof = flat_profile({"syscall": 200.0, "node_write": 1000.0, "node_walk": 0.0}, cacheline_ns=50.0)
    call = ("brk", [Segment("none", None, {"syscall": 1}), Segment("write", None, {"node_write": 1, "node_walk": 9})], 1)
    sim = Simulation(prof, [CycleProgram([call]) for _ in range(2)], cpus=8)
    total = _rates(sim)[-1][0]
    assert total == pytest.approx(MS / 1100.0, abs=2)  # 1000 work + 50 (one line) + 50 (lock word)
