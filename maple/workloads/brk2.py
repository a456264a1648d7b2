"""will-it-scale ``brk2``: resize an existing heap VMA between one and two extra pages.

tests/brk2.c (commit d4ab020): ``sbrk(page)`` once, take the new break as the base, then
loop ``brk(base + page)``, ``brk(base)`` (+2 per pass). The first sbrk after fork is the one
that creates the task's own heap VMA, so the loop only expands and contracts it and
``map_count`` stays constant. In threads mode every thread makes its own ``sbrk(page)`` on the
shared mm, so the threads' bases differ and they move one shared break.
"""

from __future__ import annotations

from typing import Any

from maple.linux import PAGE_SIZE
from maple.workloads.brk1 import Brk1


class Brk2(Brk1):
    """brk1's loop (the same two brk calls) after a prologue that gives the task its own heap."""

    name = "brk2"
    description = "brk unshared increase/decrease of one page"

    def setup(self, mm: Any, task: int) -> int:
        old = mm.brk(0)
        base = old + PAGE_SIZE
        if mm.brk(base) != base:  # sbrk(page)
            raise RuntimeError(f"brk2: sbrk({PAGE_SIZE}) failed")
        return base


WORKLOAD = Brk2
