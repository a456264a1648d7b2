"""will-it-scale ``mmap2``: map and unmap 128 MiB of a per-task file, untouched.

tests/mmap2.c: each task creates its own 128 MiB (sparse, unlinked) file once, then loops
``mmap(NULL, 128 MiB, PROT_READ|PROT_WRITE, MAP_PRIVATE, fd, 0)``, ``munmap``; one op per
pair.
"""

from __future__ import annotations

from typing import Any

from maple.linux import MAP_PRIVATE, PROT_READ, PROT_WRITE
from maple.workloads.base import LoopWorkload
from maple.workloads.page_fault1 import MEMSIZE, task_file


class Mmap2(LoopWorkload):
    name = "mmap2"
    description = "Separate file mmap/munmap of 128MB"
    unit = "mmap/munmap pairs"
    det_warmup_loops = 2
    det_loops = 32

    def setup(self, mm: Any, task: int) -> Any:
        return task_file(task)

    def loop(self, mm: Any, file: Any) -> int:
        addr = mm.mmap(0, MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, file, 0)
        mm.munmap(addr, MEMSIZE)
        return 1


WORKLOAD = Mmap2
