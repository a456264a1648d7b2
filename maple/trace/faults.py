"""The page-fault model: which pages a replayed mapping touches.

An strace log has no page faults, yet faults are where a VMA index is read most (every fault
walks the index under the read lock). The replay synthesises them deterministically:

* after every successful ``mmap`` (and ``mremap`` that grows or moves), and after every ``brk``
  that grows the heap, the new range's pages are touched;
* a ``PROT_NONE`` range is not touched (guard regions, reservations);
* of ``n`` pages, ``k = min(cap, ceil(n * fraction))`` are touched, evenly spaced every
  ``n // k`` pages from a seeded offset; the seed mixes the model's seed with the event's index
  in the trace, so every replay of a trace touches the same pages whatever the job split;
* writable ranges take write faults, the others (text, read-only data) read faults.

Defaults: ``fraction = 1/4``, ``cap = 16`` pages per call. A compiler maps many small file and
anonymous ranges and a few large arenas; the cap keeps the arenas from dominating the replay.
"""

from __future__ import annotations

from maple.linux import PAGE_SHIFT, PROT_WRITE

_MIX = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1


class FaultModel:
    """Deterministic choice of the pages to touch in a new range."""

    __slots__ = ("fraction", "cap", "seed")

    def __init__(self, fraction: float = 0.25, cap: int = 16, seed: int = 0) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fault fraction {fraction!r} not in [0, 1]")
        if cap < 0:
            raise ValueError(f"fault cap {cap!r} is negative")
        self.fraction = fraction
        self.cap = cap
        self.seed = seed

    def pages(self, start: int, end: int, prot: int, index: int) -> tuple[list[int], bool]:
        """Addresses to fault in ``[start, end)`` for trace event ``index``, and whether to write."""
        if not prot or end <= start or not self.cap or not self.fraction:
            return [], False
        n = (end - start) >> PAGE_SHIFT
        if n <= 0:
            return [], False
        k = -(-int(n * self.fraction * 1_000_000) // 1_000_000)  # ceil without float error
        if k > self.cap:
            k = self.cap
        if k <= 0:
            return [], False
        step = n // k
        h = ((self.seed + 1) * _MIX ^ (index * 0xBF58476D1CE4E5B9)) & _MASK
        h ^= h >> 31
        first = h % step
        return [start + ((first + i * step) << PAGE_SHIFT) for i in range(k)], bool(prot & PROT_WRITE)
