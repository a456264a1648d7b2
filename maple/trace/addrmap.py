"""Translate the traced program's addresses into the simulated address space's.

The simulation places non-fixed mappings itself, so the address a traced mmap returned is
generally not the simulated one. Every later call naming a trace address (an ``munmap``, an
``mprotect``, a ``MAP_FIXED`` overlay inside a reservation, an ``mremap``) must hit the same
memory in the simulation. :class:`AddressMap` remembers, for disjoint half-open ranges of the
trace's address space, the offset to add to get the simulated address. A newer range overwrites
the older ranges it overlaps (the kernel's own MAP_FIXED semantics, applied to the map).

Storage is three flat parallel lists sorted by start, searched with ``bisect`` (a process has a
few hundred mappings at most; the lists stay small and cache-friendly).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right


class AddressMap:
    """Disjoint ``[start, end) -> delta`` ranges; ``sim = trace + delta``."""

    __slots__ = ("starts", "ends", "deltas")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.deltas: list[int] = []

    def copy(self) -> "AddressMap":
        """An independent copy (a forked child translates like its parent did)."""
        new = AddressMap()
        new.starts = self.starts[:]
        new.ends = self.ends[:]
        new.deltas = self.deltas[:]
        return new

    def __len__(self) -> int:
        return len(self.starts)

    def items(self) -> list[tuple[int, int, int]]:
        """``(start, end, delta)`` in address order."""
        return list(zip(self.starts, self.ends, self.deltas))

    def set(self, start: int, end: int, delta: int) -> None:
        """Map ``[start, end)`` with ``delta``, clipping whatever it overlaps."""
        if end <= start:
            return
        starts, ends, deltas = self.starts, self.ends, self.deltas
        # First range that ends after start, last range that starts before end.
        lo = bisect_right(ends, start)
        hi = bisect_left(starts, end)
        new_s = [start]
        new_e = [end]
        new_d = [delta]
        if lo < hi:
            if starts[lo] < start:  # keep the left remainder
                new_s.insert(0, starts[lo])
                new_e.insert(0, start)
                new_d.insert(0, deltas[lo])
            if ends[hi - 1] > end:  # keep the right remainder
                new_s.append(end)
                new_e.append(ends[hi - 1])
                new_d.append(deltas[hi - 1])
        starts[lo:hi] = new_s
        ends[lo:hi] = new_e
        deltas[lo:hi] = new_d

    def delta_at(self, addr: int) -> int | None:
        """The delta of the range containing ``addr``, or ``None``."""
        i = bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.ends[i]:
            return self.deltas[i]
        return None

    def pieces(self, start: int, end: int) -> list[tuple[int, int]]:
        """``[start, end)`` as simulated ``(start, end)`` ranges, in trace order.

        Parts the map does not cover translate to themselves (delta 0): they are the
        execve-time mappings, which the replay builds at the trace's own addresses (traces are
        recorded without address-space randomisation), or memory the trace never placed.
        Neighbouring parts with the same delta come back as one range.
        """
        starts, ends, deltas = self.starts, self.ends, self.deltas
        out: list[tuple[int, int]] = []
        i = bisect_right(ends, start)
        n = len(starts)
        pos = start
        while pos < end:
            if i < n and starts[i] <= pos:
                e = ends[i] if ends[i] < end else end
                d = deltas[i]
                i += 1
            else:
                e = starts[i] if i < n and starts[i] < end else end
                d = 0
            s = pos + d
            if out and out[-1][1] == s:
                out[-1] = (out[-1][0], e + d)
            else:
                out.append((s, e + d))
            pos = e
        return out

    def translate(self, addr: int) -> int:
        """``addr`` in the simulation (itself where the map does not cover it)."""
        i = bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.ends[i]:
            return addr + self.deltas[i]
        return addr

    def check(self) -> None:
        """Invariant walker: sorted, disjoint, non-empty ranges."""
        starts, ends = self.starts, self.ends
        assert len(starts) == len(ends) == len(self.deltas)
        for i, (s, e) in enumerate(zip(starts, ends)):
            assert s < e, (s, e)
            if i:
                assert ends[i - 1] <= s, (ends[i - 1], s)
