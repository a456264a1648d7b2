"""will-it-scale ``brk1``: grow the heap by one page and shrink it back.

tests/brk1.c: read the break once, then loop ``brk(break + page)``, ``brk(break)``, counting
one op per brk call (+2 per pass). In processes mode the task's mm is a ``fork()`` of the
starting mm, whose heap VMA the child cannot extend (its anon_vma is shared with the parent),
so every pass creates and destroys a VMA: brk1-processes measures VMA creation, not heap
resizing. That follows from ``MM.fork``/``MM.brk``, not from anything here.
"""

from __future__ import annotations

from typing import Any

from maple.linux import PAGE_SIZE
from maple.workloads.base import LoopWorkload


class Brk1(LoopWorkload):
    name = "brk1"
    description = "brk increase/decrease of one page"
    unit = "brk calls"
    det_warmup_loops = 2
    det_loops = 32

    def setup(self, mm: Any, task: int) -> int:
        return mm.brk(0)

    def loop(self, mm: Any, base: int) -> int:
        top = base + PAGE_SIZE
        if mm.brk(top) != top:
            raise RuntimeError(f"{self.name}: brk({top:#x}) failed")
        if mm.brk(base) != base:
            raise RuntimeError(f"{self.name}: brk({base:#x}) failed")
        return 2


WORKLOAD = Brk1
