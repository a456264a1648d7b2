"""The per-thread VMA cache (mm/vmacache.c, include/linux/vmacache.h; removed in v6.1).

Each task kept the last four VMAs its ``find_vma`` calls returned, tagged with the mm's
``vmacache_seqnum`` at the time. Lookups linearly scan all four slots for a VMA containing
the address (``VMACACHE_HASH`` only chooses the slot to *fill*); any unlink of a VMA bumps the
mm's seqnum (``vmacache_invalidate``), and a task that sees a seqnum different from its own
flushes its slots and misses. The seqnum is an unbounded Python int, as the kernel's u64 since
"mm: get rid of vmacache_flush_all() entirely" (2018).

Here one :class:`VmaCache` belongs to one address space (the mm's seqnum plus a
``threading.local`` holding each thread's :class:`ThreadCache`). A simulated task is a Python
thread working on one mm, so a (thread, mm) pair plays the kernel's (task, current->mm). The
per-thread object also carries that thread's cost counters, so concurrent readers under the
mmap read lock never write shared memory and the counts stay exact.
"""

from __future__ import annotations

import threading
from typing import Any

from maple.linux import PAGE_SHIFT

VMACACHE_BITS = 2
VMACACHE_SIZE = 1 << VMACACHE_BITS
VMACACHE_MASK = VMACACHE_SIZE - 1


def vmacache_hash(addr: int) -> int:
    """``VMACACHE_HASH``: the slot that ``vmacache_update`` fills for ``addr``."""
    return (addr >> PAGE_SHIFT) & VMACACHE_MASK


class ThreadCache:
    """One thread's ``struct vmacache`` for one mm, plus that thread's counters.

    ``counts`` is the owner's per-thread cost counters (``[nodes_visited, cache_lines,
    vmas_visited, list_updates]`` for the legacy index), kept here so that one
    ``threading.local`` lookup serves both.
    """

    __slots__ = ("seqnum", "vmas", "hits", "misses", "counts")

    def __init__(self, seqnum: int) -> None:
        self.seqnum = seqnum
        self.vmas: list[Any] = [None] * VMACACHE_SIZE
        self.hits = 0
        self.misses = 0
        self.counts = [0, 0, 0, 0]


class VmaCache:
    """An mm's vmacache: its seqnum and every thread's four slots."""

    __slots__ = ("seqnum", "_local", "_threads")

    def __init__(self) -> None:
        self.seqnum = 0
        self._local = threading.local()
        #: Every ThreadCache ever created for this mm (list.append is atomic), for counters.
        self._threads: list[ThreadCache] = []

    def thread(self) -> ThreadCache:
        """The calling thread's cache for this mm, created empty on first use."""
        try:
            return self._local.cache
        except AttributeError:
            tc = ThreadCache(self.seqnum)
            self._local.cache = tc
            self._threads.append(tc)
            return tc

    def find(self, addr: int, tc: ThreadCache | None = None) -> Any:
        """``vmacache_find``: a cached VMA containing ``addr``, or None (counts hit/miss).

        A stale seqnum flushes the thread's slots first. Each non-empty slot scanned costs
        one cache line (the VMA's vm_start/vm_end), charged to ``tc.counts[1]``.
        """
        if tc is None:
            tc = self.thread()
        vmas = tc.vmas
        if tc.seqnum != self.seqnum:
            tc.seqnum = self.seqnum
            vmas[0] = vmas[1] = vmas[2] = vmas[3] = None
            tc.misses += 1
            return None
        lines = 0
        for vma in vmas:
            if vma is not None:
                lines += 1
                if vma.start <= addr < vma.end:
                    tc.counts[1] += lines
                    tc.counts[2] += lines
                    tc.hits += 1
                    return vma
        tc.counts[1] += lines
        tc.counts[2] += lines
        tc.misses += 1
        return None

    def update(self, addr: int, vma: Any, tc: ThreadCache | None = None) -> None:
        """``vmacache_update``: remember ``vma`` in the slot ``VMACACHE_HASH(addr)``."""
        if tc is None:
            tc = self.thread()
        tc.vmas[(addr >> PAGE_SHIFT) & VMACACHE_MASK] = vma

    def invalidate(self) -> None:
        """``vmacache_invalidate``: every thread's cache for this mm becomes stale."""
        self.seqnum += 1

    def flush(self) -> None:
        """``vmacache_flush``: empty the calling thread's slots."""
        tc = self.thread()
        tc.vmas[:] = [None] * VMACACHE_SIZE

    def entries(self) -> list[Any]:
        """The calling thread's slots as a lookup would see them (all None when stale)."""
        tc = self.thread()
        if tc.seqnum != self.seqnum:
            return [None] * VMACACHE_SIZE
        return list(tc.vmas)

    @property
    def hits(self) -> int:
        return sum(tc.hits for tc in self._threads)

    @property
    def misses(self) -> int:
        return sum(tc.misses for tc in self._threads)

    def thread_counts(self) -> list[int]:
        """Sum of every thread's ``counts`` vector."""
        total = [0, 0, 0, 0]
        for tc in list(self._threads):
            c = tc.counts
            total[0] += c[0]
            total[1] += c[1]
            total[2] += c[2]
            total[3] += c[3]
        return total
