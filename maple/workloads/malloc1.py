"""will-it-scale ``malloc1``: ``malloc(128 MiB)`` then ``free``, as glibc performs them.

tests/malloc1.c never touches the memory, but glibc does: 128 MiB is far above the largest
dynamic mmap threshold (32 MiB on 64-bit), so ``malloc`` maps the chunk on its own
(sysmalloc_mmap: request + chunk overhead rounded up to a page, i.e. 128 MiB plus one page,
anonymous, private, read-write), writes the chunk header (one write fault on the first page),
and ``free`` unmaps it (munmap_chunk). One op per pass.
"""

from __future__ import annotations

from typing import Any

from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE
from maple.workloads.base import LoopWorkload

MEMSIZE = 128 << 20
#: glibc on x86-64: SIZE_SZ = 8, MALLOC_ALIGNMENT = 16.
_SIZE_SZ = 8
_ALIGN_MASK = 15


def glibc_mmap_size(request: int, page: int = PAGE_SIZE) -> int:
    """Length glibc's sysmalloc_mmap maps for a ``request``-byte malloc (request2size + SIZE_SZ)."""
    nb = (request + _SIZE_SZ + _ALIGN_MASK) & ~_ALIGN_MASK
    return (nb + _SIZE_SZ + page - 1) & ~(page - 1)


class Malloc1(LoopWorkload):
    name = "malloc1"
    description = "malloc/free of 128MB"
    unit = "malloc/free pairs"
    det_warmup_loops = 2
    det_loops = 32

    def setup(self, mm: Any, task: int) -> int:
        return glibc_mmap_size(MEMSIZE)

    def loop(self, mm: Any, length: int) -> int:
        addr = mm.mmap(0, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        mm.fault(addr, write=True)  # set_head() on the chunk header
        mm.munmap(addr, length)
        return 1


WORKLOAD = Malloc1
