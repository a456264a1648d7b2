"""A third, deliberately simple VMA index: two parallel sorted lists and bisect.

It implements the VMA index protocol (docs: /work/briefs/index-protocol.md, mirrored in
docs/mm.md) with no cleverness at all, so the address space's syscall semantics can be
checked against it independently of either real index. Every gap search is a linear scan
over the gaps, written straight from the definition of ``vm_unmapped_area``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from maple.linux import vm_end_gap, vm_start_gap

ULONG_MAX = (1 << 64) - 1

COUNTER_KEYS = (
    "nodes_visited", "cache_lines", "nodes_allocated", "nodes_freed", "rb_rotations",
    "gap_updates", "vmacache_hits", "vmacache_misses", "list_updates", "vmas_visited",
    "nodes_preallocated",
)


class OracleVmaIndex:
    kind = "oracle"

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._vmas: list = []

    @property
    def counters(self) -> dict[str, int]:
        return dict.fromkeys(COUNTER_KEYS, 0)

    def __len__(self) -> int:
        return len(self._vmas)

    def __iter__(self):
        return iter(list(self._vmas))

    def _first_ending_after(self, addr: int) -> int:
        # VMAs do not overlap, so ends are sorted too: first i with end > addr
        i = bisect_right(self._starts, addr) - 1
        if i >= 0 and self._vmas[i].end > addr:
            return i
        return i + 1

    def find_vma(self, addr):
        i = self._first_ending_after(addr)
        return self._vmas[i] if i < len(self._vmas) else None

    def peek_vma(self, addr):
        return self.find_vma(addr)  # the oracle counts nothing anyway

    def find_vma_prev(self, addr):
        i = self._first_ending_after(addr)
        vma = self._vmas[i] if i < len(self._vmas) else None
        prev = self._vmas[i - 1] if i > 0 else None
        return vma, prev

    def vma_lookup(self, addr):
        vma = self.find_vma(addr)
        return vma if vma is not None and vma.start <= addr else None

    def find_vma_intersection(self, start, end):
        vma = self.find_vma(start)
        return vma if vma is not None and vma.start < end else None

    def _index_of(self, vma) -> int:
        i = bisect_left(self._starts, vma.start)
        assert i < len(self._vmas) and self._vmas[i] is vma, f"{vma!r} is not indexed"
        return i

    def next_vma(self, vma):
        i = self._index_of(vma) + 1
        return self._vmas[i] if i < len(self._vmas) else None

    def prev_vma(self, vma):
        i = self._index_of(vma)
        return self._vmas[i - 1] if i > 0 else None

    def insert(self, vma) -> None:
        i = bisect_left(self._starts, vma.start)
        if i > 0:
            assert self._vmas[i - 1].end <= vma.start, f"{vma!r} overlaps {self._vmas[i - 1]!r}"
        if i < len(self._vmas):
            assert vma.end <= self._vmas[i].start, f"{vma!r} overlaps {self._vmas[i]!r}"
        self._starts.insert(i, vma.start)
        self._vmas.insert(i, vma)

    def remove(self, vma) -> None:
        i = self._index_of(vma)
        del self._starts[i]
        del self._vmas[i]

    def remove_range(self, start, end, vmas) -> None:
        if not vmas:
            return
        i = self._index_of(vmas[0])
        j = i + len(vmas)
        assert self._vmas[i:j] == list(vmas), "remove_range: vmas are not a contiguous run"
        assert start <= vmas[0].start and vmas[-1].end <= end
        del self._starts[i:j]
        del self._vmas[i:j]

    def adjust(self, vma, start, end) -> None:
        i = self._index_of(vma)
        assert start < end
        if i > 0:
            assert self._vmas[i - 1].end <= start, "adjust overlaps the previous VMA"
        if i + 1 < len(self._vmas):
            assert end <= self._vmas[i + 1].start, "adjust overlaps the next VMA"
        vma.start = start
        vma.end = end
        self._starts[i] = start

    def _gaps(self):
        """(gap_start, gap_end) of every free span, guard gaps applied, ascending."""
        prev_end = 0
        for v in self._vmas:
            yield prev_end, vm_start_gap(v.start, v.flags)
            prev_end = vm_end_gap(v.end, v.flags)
        yield prev_end, ULONG_MAX + 1

    def unmapped_area(self, length, low, high, align_mask=0, align_offset=0):
        need = length + align_mask
        for gs, ge in self._gaps():
            lo, hi = max(gs, low), min(ge, high)
            if hi > lo and hi - lo >= need:
                gap = lo + ((align_offset - lo) & align_mask)
                return gap
        return None

    def unmapped_area_topdown(self, length, low, high, align_mask=0, align_offset=0):
        need = length + align_mask
        for gs, ge in reversed(list(self._gaps())):
            lo, hi = max(gs, low), min(ge, high)
            if hi > lo and hi - lo >= need:
                gap = hi - length
                gap -= (gap - align_offset) & align_mask
                return gap
        return None

    def dup(self, copy):
        new = OracleVmaIndex()
        for v in self._vmas:
            c = copy(v)
            if c is not None:
                new._starts.append(c.start)
                new._vmas.append(c)
        return new

    def clear(self) -> None:
        self._starts.clear()
        self._vmas.clear()

    def validate(self) -> None:
        assert len(self._starts) == len(self._vmas)
        prev_end = 0
        for s, v in zip(self._starts, self._vmas):
            assert s == v.start, f"stale start {s:#x} for {v!r}"
            assert v.start < v.end, f"empty {v!r}"
            assert v.start >= prev_end, f"{v!r} overlaps its predecessor"
            prev_end = v.end
