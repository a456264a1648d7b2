"""Test doubles and a brute-force oracle for the legacy index tests.

The VMA class is local (it inherits VmaLinks) so these tests never import maple.mm.
"""

from __future__ import annotations

from maple.legacy.links import VmaLinks
from maple.linux import PAGE_SIZE, VM_GROWSDOWN, vm_end_gap, vm_start_gap


class TVma(VmaLinks):
    """A minimal VMA: the fields the index may read, plus the embedded links."""

    __slots__ = ("start", "end", "flags", "name")

    def __init__(self, start: int, end: int, flags: int = 0, name: str = "") -> None:
        VmaLinks.__init__(self)
        self.start = start
        self.end = end
        self.flags = flags
        self.name = name

    def __repr__(self) -> str:
        grows = " growsdown" if self.flags & VM_GROWSDOWN else ""
        return f"TVma({self.start:#x}, {self.end:#x}{grows})"


class Oracle:
    """Sorted list of (start, end, flags, vma): brute-force answers to every query."""

    def __init__(self) -> None:
        self.vmas: list[TVma] = []

    def sort(self) -> None:
        self.vmas.sort(key=lambda v: v.start)

    def find_vma(self, addr: int):
        for v in self.vmas:
            if v.end > addr:
                return v
        return None

    def find_vma_prev(self, addr: int):
        prev = None
        for v in self.vmas:
            if v.end > addr:
                return v, prev
            prev = v
        return None, prev

    def vma_lookup(self, addr: int):
        for v in self.vmas:
            if v.start <= addr < v.end:
                return v
        return None

    def intersection(self, start: int, end: int):
        for v in self.vmas:
            if v.end > start and v.start < end:
                return v
        return None

    def gaps(self) -> list[tuple[int, int]]:
        """Free gaps in address order, guard gaps applied: (gap_start, gap_end or None)."""
        out = []
        prev_end = 0
        for v in self.vmas:
            out.append((prev_end, vm_start_gap(v.start, v.flags)))
            prev_end = vm_end_gap(v.end, v.flags)
        out.append((prev_end, None))
        return out

    def unmapped_area(self, length, low, high, align_mask=0, align_offset=0):
        """Lowest gap (in address order) where a padded window fits; then clip + align."""
        size = length + align_mask
        if high < size or low > high - size:
            return None
        for gs, ge in self.gaps():
            if gs > high - size:
                return None
            if ge is not None and not (ge >= low + size and ge > gs and ge - gs >= size):
                continue
            start = max(gs, low)
            start += (align_offset - start) & align_mask
            return start
        return None

    def unmapped_area_topdown(self, length, low, high, align_mask=0, align_offset=0):
        size = length + align_mask
        if high < size or low > high - size:
            return None
        for gs, ge in reversed(self.gaps()):
            if ge is None:
                if gs <= high - size:
                    end = high
                    break
                continue
            if ge < low + size:
                return None
            if gs <= high - size and ge > gs and ge - gs >= size:
                end = min(ge, high)
                break
        else:
            return None
        end -= length
        end -= (end - align_offset) & align_mask
        return end


def free_windows_ok(oracle: Oracle, start: int, length: int, low: int, high: int) -> bool:
    """A result is sane: inside [low, high) and clear of every VMA and guard gap."""
    if start < low or start + length > high:
        return False
    for gs, ge in oracle.gaps():
        if gs <= start and (ge is None or start + length <= ge):
            return True
    return False


P = PAGE_SIZE


def guard_gap_swallows_a_vma(oracle: Oracle) -> bool:
    """True if some VMA starts inside a VM_GROWSDOWN VMA's guard gap.

    v5.17's bottom-up walk prunes a left subtree when the node's ``vm_start_gap`` is below
    ``low + length``, assuming every gap to the left ends at or below it; a VMA starting in
    the guard gap breaks that assumption, and the kernel can then skip a lower gap. The
    brute-force oracle does not model that quirk, so exact comparison needs this to be False.
    """
    vmas = oracle.vmas
    for i, v in enumerate(vmas):
        if v.flags & VM_GROWSDOWN and i > 0:
            if vmas[i - 1].start >= vm_start_gap(v.start, v.flags):
                return True
    return False
