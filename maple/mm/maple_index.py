"""``MapleVmaIndex``: the v6.1 VMA index, every VMA in one allocation-range maple tree.

Each VMA is stored at ``[vm_start, vm_end - 1]`` of ``MapleTree(alloc=True)``; the ranges
between VMAs are NULL. There is no VMA list, no rbtree and no vmacache: lookups are tree
walks (``mt_find``, ``mtree_load``, ``mas_walk`` + ``mas_prev``), gap searches use the tree's
per-node gap tracking (``mas_empty_area[_rev]``), munmap removes any run of VMAs with one NULL
store, brk grows the heap VMA with one store over its new range, and fork copies the whole
tree in one pass, mapping each VMA to the child's as it goes.

Cost model (``counters``): the tree's own ``nodes_visited``, ``nodes_allocated`` and
``nodes_freed`` (and ``cache_lines``/``gap_updates`` when the tree reports them); when the
tree does not model cache lines, each node visited is charged ``LINES_PER_NODE`` = 2 lines
(a 256-byte node: the pivot line the search stops in plus the slot line it loads).
``vmas_visited`` counts the VMA structs the index reads (only the ones it returns or is
handed, never the neighbours the tree walk passes), each charged one more cache line.
``nodes_preallocated`` counts what v6.1's ``mas_preallocate`` asks the slab for before every
VMA tree write (``1 + 3 * height`` nodes, the worst case of a spanning store; most are handed
back unused by ``mas_destroy``): the hidden cost behind "modifications are more expensive".
It is kept apart from ``nodes_allocated``, which counts the nodes the tree really builds.
"""

from __future__ import annotations

from typing import Callable, Iterator

from maple.linux import VM_GROWSDOWN, vm_end_gap, vm_start_gap
from maple.tree import ULONG_MAX, EntryExists, InvalidArgument, MapleTree, MaState, NoSpace

__all__ = ["MapleVmaIndex", "LINES_PER_NODE"]

#: modelled cache lines per maple node visited, used when the tree does not count lines itself
LINES_PER_NODE = 2

_COUNTER_KEYS = (
    "nodes_visited", "cache_lines", "nodes_allocated", "nodes_freed", "rb_rotations",
    "gap_updates", "vmacache_hits", "vmacache_misses", "list_updates", "vmas_visited",
    "nodes_preallocated",
)
#: VM_STARTGAP_FLAGS on x86-64 (VM_GROWSUP is VM_NONE there)
_STARTGAP_FLAGS = VM_GROWSDOWN


class MapleVmaIndex:
    """The maple-tree VMA index of Linux 6.1 (``mm->mm_mt``), implementing the VMA index
    protocol described in docs/mm.md."""

    kind = "maple"
    __slots__ = ("_mt", "_vmas_visited", "_preallocated")

    def __init__(self, tree: MapleTree | None = None) -> None:
        self._mt = MapleTree(alloc=True) if tree is None else tree
        self._vmas_visited = 0
        self._preallocated = 0

    # ------------------------------------------------------------------ inspection

    @property
    def tree(self) -> MapleTree:
        """The underlying ``MapleTree(alloc=True)`` (``mm->mm_mt``)."""
        return self._mt

    @property
    def counters(self) -> dict[str, int]:
        out = dict.fromkeys(_COUNTER_KEYS, 0)
        tc = self._mt.counters
        for key in _COUNTER_KEYS:
            if key in tc:
                out[key] = tc[key]
        if "cache_lines" not in tc:
            out["cache_lines"] = out["nodes_visited"] * LINES_PER_NODE
        out["vmas_visited"] = self._vmas_visited
        out["cache_lines"] += self._vmas_visited
        out["nodes_preallocated"] = self._preallocated
        return out

    def __len__(self) -> int:
        return len(self._mt)

    def __iter__(self) -> Iterator:
        return (entry for _, _, entry in self._mt.items())

    def __repr__(self) -> str:
        return f"<MapleVmaIndex {len(self)} VMAs, height {self._mt.height}>"

    # ------------------------------------------------------------------ lookups

    def find_vma(self, addr: int):
        """``find_vma``: ``mt_find(mm_mt, addr, ULONG_MAX)``."""
        found = self._mt.find(addr)
        if found is None:
            return None
        self._vmas_visited += 1
        return found[2]

    def find_vma_prev(self, addr: int):
        """``find_vma_prev``: ``mas_walk(addr)``, ``mas_prev(0)``, then ``mas_next`` if the
        walk landed in a gap."""
        mas = MaState(self._mt, addr)
        vma = mas.walk()
        prev = mas.prev(0)
        if vma is None:
            vma = mas.next(ULONG_MAX)
        self._vmas_visited += (vma is not None) + (prev is not None)
        return vma, prev

    def vma_lookup(self, addr: int):
        """``vma_lookup``: ``mtree_load``."""
        vma = self._mt.load(addr)
        if vma is not None:
            self._vmas_visited += 1
        return vma

    def find_vma_intersection(self, start: int, end: int):
        """``find_vma_intersection``: ``mt_find(mm_mt, start, end - 1)``."""
        if end <= start:
            return None
        found = self._mt.find(start, end - 1)
        if found is None:
            return None
        self._vmas_visited += 1
        return found[2]

    def next_vma(self, vma):
        """The VMA after ``vma``: ``mas_find`` from ``vm_end`` (``vma_next``)."""
        found = self._mt.find(vma.end) if vma.end <= ULONG_MAX else None
        if found is None:
            return None
        self._vmas_visited += 1
        return found[2]

    def prev_vma(self, vma):
        """The VMA before ``vma``: walk to it and ``mas_prev(0)`` (``vma_prev``)."""
        mas = MaState(self._mt, vma.start)
        mas.walk()
        prev = mas.prev(0)
        if prev is not None:
            self._vmas_visited += 1
        return prev

    # ------------------------------------------------------------------ modification

    def _preallocate(self) -> None:
        """v6.1 ``mas_preallocate``: ``1 + 3 * height`` nodes requested before each write
        (``mas_node_count_gfp(mas, 1 + mas_mt_height(mas) * 3, ...)``)."""
        self._preallocated += 1 + 3 * self._mt.height

    def insert(self, vma) -> None:
        """``vma_mas_store`` of a new VMA at ``[vm_start, vm_end - 1]``."""
        self._preallocate()
        try:
            self._mt.insert_range(vma.start, vma.end - 1, vma)
        except EntryExists:
            raise AssertionError(f"insert: {vma!r} overlaps an indexed VMA") from None

    def remove(self, vma) -> None:
        """``vma_mas_remove``: one NULL store over the VMA's range."""
        self._preallocate()
        self._mt.store_range(vma.start, vma.end - 1, None)

    def remove_range(self, start: int, end: int, vmas) -> None:
        """munmap's detach (``do_mas_align_munmap``): ONE NULL store over ``[start, end - 1]``."""
        if vmas:
            self._preallocate()
            self._mt.store_range(start, end - 1, None)

    def adjust(self, vma, start: int, end: int) -> None:
        """Change ``vma``'s bounds in place (``vma_mas_store`` + ``vma_mas_szero``): a NULL
        store over any part it gives up, and, if it grows, one store over its new range."""
        old_start, old_end = vma.start, vma.end
        self._preallocate()  # __vma_adjust / vma_expand / do_brk_flags preallocate once
        vma.start = start
        vma.end = end
        store_range = self._mt.store_range
        if start > old_start:
            store_range(old_start, start - 1, None)
        if end < old_end:
            store_range(end, old_end - 1, None)
        if start < old_start or end > old_end:
            store_range(start, end - 1, vma)

    # ------------------------------------------------------------------ gap search

    def unmapped_area(self, length: int, low: int, high: int, align_mask: int = 0, align_offset: int = 0):
        """``unmapped_area`` (v6.1 with the 2023 guard-gap re-check): lowest fit or ``None``."""
        need = length + align_mask
        low_limit = low
        mas = MaState(self._mt)
        while True:
            if not self._search_gap(mas, low_limit, high, need, False):
                return None
            gap = mas.index
            gap += (align_offset - gap) & align_mask
            tmp, grows_down = self._guard_neighbour(mas)
            if grows_down:
                if vm_start_gap(tmp.start, tmp.flags) < gap + length - 1:
                    low_limit = tmp.end
                    continue
            elif tmp is not None and vm_end_gap(tmp.end, tmp.flags) > gap:
                low_limit = vm_end_gap(tmp.end, tmp.flags)
                continue
            return gap

    def unmapped_area_topdown(self, length: int, low: int, high: int, align_mask: int = 0, align_offset: int = 0):
        """``unmapped_area_topdown`` (v6.1 with the 2023 guard-gap re-check): highest fit."""
        need = length + align_mask
        high_limit = high
        mas = MaState(self._mt)
        while True:
            if not self._search_gap(mas, low, high_limit, need, True):
                return None
            gap = mas.last + 1 - length
            gap -= (gap - align_offset) & align_mask
            gap_end = mas.last
            tmp, grows_down = self._guard_neighbour(mas)
            if grows_down:
                if vm_start_gap(tmp.start, tmp.flags) <= gap_end:
                    high_limit = vm_start_gap(tmp.start, tmp.flags)
                    continue
            elif tmp is not None and vm_end_gap(tmp.end, tmp.flags) > gap:
                high_limit = tmp.start
                continue
            return gap

    @staticmethod
    def _search_gap(mas: MaState, low: int, high: int, need: int, rev: bool) -> bool:
        """``mas_empty_area`` (``rev``: ``mas_empty_area_rev``) for ``need`` free indices in
        ``[low, high)``, from a reset state; False where it fails or the window is too small."""
        if low > high - 1 or need == 0 or need - 1 > high - 1 - low:
            return False
        mas.reset()
        try:
            if rev:
                mas.empty_area_rev(low, high - 1, need)
            else:
                mas.empty_area(low, high - 1, need)
        except (NoSpace, InvalidArgument):
            return False
        return True

    def _guard_neighbour(self, mas: MaState) -> tuple[object | None, bool]:
        """The VMA whose guard gap may cut into the gap ``mas`` just found (the 2023 re-check
        of both ``unmapped_area`` walks): the next VMA if it has a start guard gap, otherwise
        the previous one (or None). Returns ``(vma, True)`` for the next VMA, ``(vma, False)``
        for the previous; counts every VMA read."""
        tmp = mas.next(ULONG_MAX)
        if tmp is not None:
            self._vmas_visited += 1
            if tmp.flags & _STARTGAP_FLAGS:
                return tmp, True
        tmp = mas.prev(0)
        if tmp is not None:
            self._vmas_visited += 1
        return tmp, False

    # ------------------------------------------------------------------ fork and exit

    def dup(self, copy: Callable) -> MapleVmaIndex:
        """fork (v6.8 ``dup_mmap`` over ``__mt_dup``): copy the tree node by node in one pass,
        replacing every VMA with ``copy(vma)`` (the child's VMA) as its slot is copied; where
        ``copy`` returns None (``VM_DONTCOPY``) the range is left empty in the child.

        Counters: the parent's tree counts the nodes it read, the child's tree the nodes it
        allocated and wrote (plus the walks that empty any ``VM_DONTCOPY`` ranges)."""
        return MapleVmaIndex(self._mt.dup(copy))

    def clear(self) -> None:
        """``exit_mmap``'s ``__mt_destroy``: free every node (the tree counts them)."""
        self._mt.destroy()

    # ------------------------------------------------------------------ checking

    def validate(self) -> None:
        """``validate_mm_mt``: the tree's invariants, and every entry at ``[start, end - 1]``."""
        self._mt.validate()
        count = 0
        prev_end = 0
        for first, last, vma in self._mt.items():
            assert first == vma.start and last == vma.end - 1, (
                f"{vma!r} stored at [{first:#x}, {last:#x}]"
            )
            assert vma.start >= prev_end, f"{vma!r} overlaps its predecessor"
            prev_end = vma.end
            count += 1
        assert count == len(self._mt), f"items() gave {count} entries, len() says {len(self._mt)}"
