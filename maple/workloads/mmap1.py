"""will-it-scale ``mmap1``: map and unmap 128 MiB of anonymous memory, untouched.

tests/mmap1.c: ``mmap(NULL, 128 MiB, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS)``,
``munmap``; one op per pair.
"""

from __future__ import annotations

from typing import Any

from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from maple.workloads.base import LoopWorkload

MEMSIZE = 128 << 20


class Mmap1(LoopWorkload):
    name = "mmap1"
    description = "Anonymous memory mmap/munmap of 128MB"
    unit = "mmap/munmap pairs"
    det_warmup_loops = 2
    det_loops = 32

    def loop(self, mm: Any, state: Any) -> int:
        addr = mm.mmap(0, MEMSIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        mm.munmap(addr, MEMSIZE)
        return 1


WORKLOAD = Mmap1
