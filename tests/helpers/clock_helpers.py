"""Model-clock test helpers: flat cost profiles and a tiny mm that records events by hand.

``BreakMM`` is a stand-in address space with one shared program break, recording the cost
events of its ``brk`` the way ``maple.mm`` does (syscall outside the lock, the work under
``mmap_lock`` for write, a shrink's unmap after ``downgrade``), so the scheduler and
``ModelPass`` can be tested through the runner with known costs.
"""

from __future__ import annotations

from typing import Any

from maple.clock.profile import SCHEDULER, CostProfile
from maple.mm.events import EVENTS, EventRecorder
from maple.workloads.base import LoopWorkload

PAGE = 4096


def flat_profile(costs: dict[str, float] | None = None, **sched: float) -> CostProfile:
    """Every event free except ``costs``; cache-line transfers free unless given."""
    base = {
        "context_switch_ns": 1000.0, "wakeup_ns": 3000.0, "cacheline_ns": 0.0,
        "rwsem_spin_base_ns": 10000.0, "rwsem_spin_per_reader_ns": 500.0, "rwsem_spin_readers_max": 30.0,
        "rwsem_handoff_ns": 4e6, "smt_factor": 0.6, "ipi_ns": 0.0, "ipi_extra_ns": 0.0,
        "sched_slice_ns": 3e6,
    }
    base.update(sched)
    assert set(base) == set(SCHEDULER)
    all_costs = {k: 0.0 for k in EVENTS}
    all_costs.update(costs or {})
    return CostProfile("flat", all_costs, base, {"machine": "test", "kernel": "-", "date": "-", "command": "-"})


class BreakMM:
    """One program break shared by every task using this mm; ``brk`` records its events."""

    def __init__(self, brk: int = 0x10000) -> None:
        self.events = EventRecorder()
        self.users = 1
        self.base = brk
        self.cur = brk
        self.calls = 0

    def brk(self, addr: int) -> int:
        ev = self.events
        ev.add("syscall")
        ev.enter("write")
        ev.add("mmap_lock")
        self.calls += 1
        if addr and addr != self.cur:
            if addr > self.cur:
                ev.add("vma_alloc")
                ev.add("node_write", 2)
            else:
                ev.add("node_write")
                ev.enter("read")
                ev.add("vma_free")
            self.cur = addr
        ev.enter("none")
        return self.cur

    def fork(self) -> "BreakMM":
        return BreakMM(self.cur)


class BrkLoop(LoopWorkload):
    """brk1's loop on ``BreakMM``."""

    name = "brkx"
    description = "brk up, brk down"
    unit = "brk calls"
    det_warmup_loops = 1
    det_loops = 2

    def setup(self, mm: Any, task: int) -> int:
        return mm.brk(0)

    def loop(self, mm: Any, base: int) -> int:
        mm.brk(base + PAGE)
        mm.brk(base)
        return 2


class MemoryWriter:
    """A run writer that keeps rows in memory."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)
