"""will-it-scale ``page_fault1``: write-fault every page of a fresh 128 MiB anonymous mapping.

tests/page_fault1.c: ``mmap`` 128 MiB ``PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS``,
write one byte per page with the counter bumped per page (the op is a page touched), then
``munmap``. A pass is 32768 ops with 4 KiB pages; it runs as ``steps_per_loop`` steps of 512
pages (one page-table page's worth) so the counter moves during the pass.

``PageTouchLoop`` is shared with page_fault2 and page_fault3, which map a per-task file.
"""

from __future__ import annotations

from typing import Any

from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PAGE_SHIFT, PAGE_SIZE, PROT_READ, PROT_WRITE
from maple.mm.mm import PTE_WRITE
from maple.workloads.base import LoopWorkload

MEMSIZE = 128 << 20
PAGES = MEMSIZE // PAGE_SIZE
PAGES_PER_STEP = 512


def task_file(task: int) -> Any:
    """A task's own file (mkstemp + ftruncate to 128 MiB + unlink in the testcases).

    Files are sparse; their size (``i_size``, 128 MiB) bounds readahead. The page cache
    (``File.pages``) starts empty and keeps what faults bring in.
    """
    from maple.mm import File

    return File(f"/tmp/willitscale.{task} (deleted)", inode=1000 + task, size=MEMSIZE)


class PageTouchLoop(LoopWorkload):
    """mmap, one write per page (counter per page), munmap; split into 512-page steps."""

    unit = "pages touched"
    steps_per_loop = PAGES // PAGES_PER_STEP
    det_warmup_loops = 1
    det_loops = 1
    flags = MAP_PRIVATE | MAP_ANONYMOUS
    uses_file = False

    def setup(self, mm: Any, task: int) -> list[Any]:
        # [file, mapped address or None, next page index]
        return [task_file(task) if self.uses_file else None, None, 0]

    def loop(self, mm: Any, state: list[Any]) -> int:
        file, addr, page = state
        if addr is None:
            addr = state[1] = mm.mmap(0, MEMSIZE, PROT_READ | PROT_WRITE, self.flags, file, 0)
        fault = mm.fault
        stop = page + PAGES_PER_STEP
        a = addr + page * PAGE_SIZE
        if file is not None and self.flags & MAP_SHARED and mm.era.file_folios:
            # the MMU: a page whose writable PTE an earlier fault installed (a whole large
            # folio mapped at once) is written without a fault (MM.touch, inlined); a private
            # write copies one page per fault, so only shared file mappings get here
            pte_of = mm.page_table.get
            for _ in range(PAGES_PER_STEP):
                if not pte_of(a >> PAGE_SHIFT, 0) & PTE_WRITE:
                    fault(a, write=True)
                a += PAGE_SIZE
        else:
            # a fault maps only the page faulted on, and each page is written once per pass:
            # every write faults
            for _ in range(PAGES_PER_STEP):
                fault(a, write=True)
                a += PAGE_SIZE
        if stop >= PAGES:
            mm.munmap(addr, MEMSIZE)
            state[1] = None
            state[2] = 0
        else:
            state[2] = stop
        return PAGES_PER_STEP

    def teardown(self, mm: Any, state: list[Any]) -> None:
        if state[1] is not None:
            mm.munmap(state[1], MEMSIZE)
            state[1] = None


class PageFault1(PageTouchLoop):
    name = "page_fault1"
    description = "Anonymous memory page fault"


WORKLOAD = PageFault1
