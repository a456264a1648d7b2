"""MapleTree: the kernel's maple tree (lib/maple_tree.c) in pure Python.

The tree maps non-overlapping inclusive ranges ``[first, last]`` of ``0 .. ULONG_MAX`` to Python
objects. Empty ranges are stored as ``None`` slots, exactly as the kernel stores NULL: they are
never adjacent, so every maximal empty run is one slot, and an allocation tree can keep the size
of the largest run per child (the "gap") to answer ``empty_area`` in O(height).

Writes follow the kernel's classification (mas_wr_store_type): a store into one leaf is an exact
fit (one slot reference replaced in place), or a node store (the leaf rewritten; in place without
RCU, a fresh copy published with one reference store with RCU); a leaf that would overflow is
split (trying to push data into a sibling first, 3-way when two nodes cannot hold it); a
non-root node that would fall below the minimum fill is rebalanced with a sibling or cousin;
a write crossing leaves is a spanning store. All slow paths share one level-by-level rebuild
(`_rebuild`, after mas_spanning_rebalance) that never modifies a node readers can reach: it
builds replacement nodes bottom-up until a single node replaces a single node, then publishes it
with one reference store and marks every replaced node dead.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from maple.tree.constants import (
    ARANGE64_MIN_SLOTS,
    ARANGE64_SLOTS,
    RANGE64_MIN_SLOTS,
    RANGE64_SLOTS,
    ULONG_MAX,
    ZERO_ENTRY,
)
from maple.tree.errors import EntryExists, InvalidArgument, NoSpace
from maple.tree.node import (
    ARANGE64_WALK_LINES,
    NODE_WRITE_LINES,
    RANGE64_WALK_LINES,
    Node,
    RootEntry,
    leaf_max_gap,
)

_MAX = ULONG_MAX
_LEAF_LINES = RANGE64_WALK_LINES
_LEAF_MIN = RANGE64_MIN_SLOTS + 1  # fewest entries a non-root leaf / range64 node may hold
_ARANGE_MIN = ARANGE64_MIN_SLOTS + 1  # fewest children a non-root arange64 node may hold
_WHOLE_LEAF_LINES = (NODE_WRITE_LINES,) * RANGE64_SLOTS  # an iteration reads the whole leaf


def extend_null(
    piv: list[int], sl: list[Any], o: int, oe: int, index: int, last: int, lmin: int
) -> tuple[int, int, int, int]:
    """``mas_wr_extend_null``: a NULL written over slots ``o..oe`` of a leaf (pivots ``piv``,
    slots ``sl``, lowest index ``lmin``) swallows the empty runs next to it. Returns the
    widened ``(o, oe, index, last)``. Shared by the write path and read-only classifiers of
    a store (the mm's ``mas_wr_store_type`` peek)."""
    if sl[o] is None:
        index = piv[o - 1] + 1 if o else lmin
    elif o and index == piv[o - 1] + 1 and sl[o - 1] is None:
        o -= 1
        index = piv[o - 1] + 1 if o else lmin
    if sl[oe] is None:
        last = piv[oe]
    elif last == piv[oe] and oe + 1 < len(sl) and sl[oe + 1] is None:
        oe += 1
        last = piv[oe]
    return o, oe, index, last


def check_index(value: Any, name: str = "index") -> int:
    """Return ``value`` as an index in ``0 .. ULONG_MAX`` or raise InvalidArgument naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int in 0..ULONG_MAX, not {type(value).__name__} {value!r}")
    value = int(value)
    if value < 0 or value > _MAX:
        raise InvalidArgument(f"{name} {value} is outside 0..ULONG_MAX")
    return value


def check_range(first: Any, last: Any) -> tuple[int, int]:
    """Validate an inclusive range (mtree_store_range's -EINVAL checks)."""
    if type(first) is not int or type(last) is not int or first < 0 or last > _MAX or first > last:
        first = check_index(first, "first")
        last = check_index(last, "last")
        if first > last:
            raise InvalidArgument(f"reversed range: first {first} > last {last}")
    return first, last


class MapleTree:
    """A maple tree: ``MapleTree(alloc=True)`` is an allocation tree (MT_FLAGS_ALLOC_RANGE),
    ``rcu=True`` enables lockless readers (MT_FLAGS_USE_RCU)."""

    __slots__ = (
        "_root",
        "_top",
        "_height",
        "alloc",
        "rcu",
        "lock",
        "_count",
        "_seq",
        "_allocated",
        "_freed",
        "_visited",
        "_lines",
        "__weakref__",
    )

    def __init__(self, *, alloc: bool = False, rcu: bool = False) -> None:
        self._root: Node | RootEntry | None = None
        self._top: tuple = (None, None, 0, None)
        self._height = 0
        self.alloc = bool(alloc)
        self.rcu = bool(rcu)
        self.lock = threading.Lock()
        self._count = 0
        self._seq = 0
        self._allocated = 0
        self._freed = 0
        self._visited = 0
        self._lines = 0

    def _set_root(self, root: Node | RootEntry | None) -> None:
        """Install a new root. ``_top`` bundles the root with its height so a lockless reader
        picks up both with one attribute load (they change together)."""
        if root.__class__ is Node:
            height = 1
            node = root
            while not node.leaf:
                node = node.slots[0]
                height += 1
            inner_lines = ARANGE64_WALK_LINES if self.alloc else RANGE64_WALK_LINES
            self._root = root
            self._height = height
            self._top = (root, range(height - 1), height, inner_lines)
        else:
            self._root = root
            self._height = 0
            self._top = (root, None, 0, None)

    # ------------------------------------------------------------------ introspection
    def __repr__(self) -> str:
        flags = []
        if self.alloc:
            flags.append("alloc=True")
        if self.rcu:
            flags.append("rcu=True")
        return f"MapleTree({', '.join(flags)}) with {self._count} ranges, height {self.height}"

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._root is not None

    def __contains__(self, index: int) -> bool:
        return self.load(index) is not None

    def __iter__(self) -> Iterator[tuple[int, int, Any]]:
        return self.items()

    @property
    def height(self) -> int:
        """mt_height: 0 empty or lone root entry, 1 for a single leaf, and so on."""
        return self._height

    @property
    def counters(self) -> dict[str, int]:
        """Deterministic work counts since creation (see docs/tree.md for the cache-line model)."""
        return {
            "nodes_allocated": self._allocated,
            "nodes_freed": self._freed,
            "nodes_live": self._allocated - self._freed,
            "nodes_visited": self._visited,
            "cache_lines": self._lines,
        }

    def empty(self) -> bool:
        """mtree_empty."""
        return self._root is None

    # ------------------------------------------------------------------ reads
    def load(self, index: int, _bisect: Any = bisect_left, _leaf_lines: tuple = _LEAF_LINES) -> Any:
        """mtree_load: the entry covering ``index``; ZERO_ENTRY and empty ranges load as None."""
        if index.__class__ is not int or index < 0 or index > _MAX:
            index = check_index(index)
        while True:  # _walk inlined: the call costs the hottest path 5-9% (see _walk)
            node, inner, height, inner_lines = self._top
            if inner is None:
                if node is None or index:
                    return None
                entry = node.entry
                return None if entry is ZERO_ENTRY else entry
            lines = 0
            for _ in inner:
                o = _bisect(node.pivots, index)
                lines += inner_lines[o]
                node = node.slots[o]
            o = _bisect(node.pivots, index)
            entry = node.slots[o]
            self._visited += height
            self._lines += lines + _leaf_lines[o]
            if node.dead:  # replaced under us (rcu): restart from the root
                continue
            return None if entry is ZERO_ENTRY else entry

    def __getitem__(self, index: int) -> Any:
        return self.load(index)

    def _walk(self, index: int, leaf_lines: tuple = _LEAF_LINES) -> tuple[Any, int]:
        """mas_walk's descent for readers: (leaf, offset of the slot holding ``index``), counting
        the nodes and cache lines touched (``leaf_lines[offset]`` for the leaf). With no node
        to walk it returns (the lone RootEntry or None, -1). The caller reads the slot, then
        checks ``leaf.dead`` and walks again if a writer retired the leaf meanwhile (rcu).

        The hot readers keep their own copy of this loop, measured side by side in round 3:
        ``load`` (the call cost it 5-9%), ``find`` (find_vma: 8-13% at 1,000 ranges) and
        ``MaState._locate`` (mas_walk: ~7%). Writers use ``_path_to``, which also records the
        path (appending per level would slow every reader); ``_store`` inlines that one."""
        node, inner, height, inner_lines = self._top
        if inner is None:
            return node, -1
        lines = 0
        for _ in inner:
            o = bisect_left(node.pivots, index)
            lines += inner_lines[o]
            node = node.slots[o]
        o = bisect_left(node.pivots, index)
        self._visited += height
        self._lines += lines + leaf_lines[o]
        return node, o

    def _range_at(self, index: int) -> tuple[int, int, Any]:
        """The stored range containing ``index`` as (first, last, raw entry); counts the walk."""
        while True:
            node, o = self._walk(index)
            if o < 0:
                if node is None:
                    return 0, _MAX, None
                if index == 0:
                    return 0, 0, node.entry
                return 1, _MAX, None
            entry = node.slots[o]
            if node.dead:
                continue
            pivots = node.pivots
            return (pivots[o - 1] + 1 if o else node.min), pivots[o], entry

    def _path_to(self, index: int) -> tuple[list[tuple[Node, int]], Node, int]:
        """mas_wr_walk's descent: (path of (node, offset) above the leaf holding ``index``, leaf,
        offset). Writers need the path to rebuild upwards; readers use ``_walk``."""
        node, inner, height, inner_lines = self._top
        path = []
        lines = 0
        for _ in inner:
            o = bisect_left(node.pivots, index)
            lines += inner_lines[o]
            path.append((node, o))
            node = node.slots[o]
        o = bisect_left(node.pivots, index)
        self._visited += height
        self._lines += lines + _LEAF_LINES[o]
        return path, node, o

    def find(self, index: int = 0, max: int = _MAX) -> tuple[int, int, Any] | None:
        """mt_find: the first entry overlapping ``[index, max]`` as (first, last, entry), or None.

        ZERO_ENTRY ranges are skipped. Unlike the C function the caller's index is not updated;
        use the returned ``last + 1`` to continue (mt_for_each does exactly that)."""
        if type(index) is not int or type(max) is not int or index < 0 or index > _MAX or max < 0 or max > _MAX:
            index = check_index(index)
            max = check_index(max, "max")
        if index > max:
            return None
        while True:  # _walk inlined: find_vma's path; the call cost it 8-13% at 1,000 ranges
            node, inner, height, inner_lines = self._top
            if inner is None:
                if node is None or index:
                    return None
                entry = node.entry
                if entry is ZERO_ENTRY:
                    return None
                return 0, 0, entry
            lines = 0
            for _ in inner:
                o = bisect_left(node.pivots, index)
                lines += inner_lines[o]
                node = node.slots[o]
            pivots = node.pivots
            o = bisect_left(pivots, index)
            self._visited += height
            self._lines += lines + _LEAF_LINES[o]
            slots = node.slots
            end = len(slots)
            start = pivots[o - 1] + 1 if o else node.min
            while o < end:
                if start > max:
                    return None
                entry = slots[o]
                if entry is not None and entry is not ZERO_ENTRY:
                    if node.dead:
                        break
                    return start, pivots[o], entry
                start = pivots[o] + 1
                o += 1
            else:
                if node.max == _MAX:
                    return None
                index = node.max + 1
                if index > max:
                    return None
            # dead node: restart at the same index

    def items(self, first: int = 0, last: int = _MAX) -> Iterator[tuple[int, int, Any]]:
        """mt_for_each: (first, last, entry) of every stored range overlapping ``[first, last]``,
        ascending, ZERO_ENTRY skipped. Safe against concurrent rcu writers and against writes
        made by the loop body (iteration resumes after the last range yielded)."""
        first = check_index(first, "first")
        last = check_index(last, "last")
        if first > last:  # mt_for_each with index > max visits nothing
            return iter(())
        return self._iter(first, last)

    def _iter(self, index: int, last: int) -> Iterator[tuple[int, int, Any]]:
        resume = -1  # after a change: skip ranges starting at or before this index
        while True:
            seq = self._seq  # writers bump it before they change (or retire) any node
            node, o = self._walk(index, _WHOLE_LEAF_LINES)
            if o < 0:
                if node is not None and index == 0 and node.entry is not ZERO_ENTRY:
                    yield 0, 0, node.entry
                return
            pivots = node.pivots
            prev = pivots[o - 1] if o else node.min - 1
            batch = []
            for stop, entry in zip(pivots[o:], node.slots[o:]):
                if prev >= last:
                    break
                if entry is not None and entry is not ZERO_ENTRY and prev >= resume:
                    batch.append((prev + 1, stop, entry))
                prev = stop
            if node.dead:  # retired while we read it (rcu): read the replacement
                continue
            for item in batch:
                yield item
                if self._seq != seq:  # the tree changed: re-walk after what was yielded
                    break
            else:
                if node.max >= last:
                    return
                index = node.max + 1
                resume = node.max
                continue
            stop = item[1]
            if stop >= last:
                return
            index = stop + 1
            resume = stop

    def keys(self) -> Iterator[tuple[int, int]]:
        """(first, last) of every stored range."""
        for first, last, _ in self.items():
            yield first, last

    def values(self) -> Iterator[Any]:
        """Every stored entry, in index order."""
        for _, _, entry in self.items():
            yield entry

    # ------------------------------------------------------------------ normal-API writes
    def store(self, index: int, entry: Any) -> None:
        """mtree_store: ``store_range(index, index, entry)``."""
        self.store_range(index, index, entry)

    def store_range(self, first: int, last: int, entry: Any) -> None:
        """mtree_store_range: overwrite all of ``[first, last]``; ``None`` erases that span."""
        if type(first) is not int or type(last) is not int or first < 0 or last > _MAX or first > last:
            first, last = check_range(first, last)
        with self.lock:
            self._store(first, last, entry)

    def __setitem__(self, key: int | slice, entry: Any) -> None:
        if isinstance(key, slice):
            if key.step is not None:
                raise InvalidArgument("a range key has no step")
            self.store_range(key.start, key.stop, entry)
        else:
            self.store_range(key, key, entry)

    def insert(self, index: int, entry: Any) -> None:
        """mtree_insert: ``insert_range(index, index, entry)``."""
        self.insert_range(index, index, entry)

    def insert_range(self, first: int, last: int, entry: Any) -> None:
        """mtree_insert_range: store only if all of ``[first, last]`` is empty (EntryExists otherwise)."""
        first, last = check_range(first, last)
        if entry is None:
            raise InvalidArgument("insert of a None entry (use store_range to erase)")
        with self.lock:
            start, stop, cur = self._range_at(first)
            if cur is not None or stop < last:
                raise EntryExists(f"[{first}, {last}] is not empty")
            self._store(first, last, entry)

    def erase(self, index: int) -> Any:
        """mtree_erase: empty the whole range containing ``index``; return its entry (None if
        there was none; a ZERO_ENTRY reservation is removed and reported as None)."""
        if index.__class__ is not int or index < 0 or index > _MAX:
            index = check_index(index)
        with self.lock:
            entry = self._erase(index)
        return None if entry is ZERO_ENTRY else entry

    def __delitem__(self, index: int) -> None:
        self.erase(index)

    def alloc_range(self, size: int, entry: Any, min: int = 0, max: int = _MAX) -> int:
        """mtree_alloc_range: insert ``entry`` in the lowest empty window of ``size`` in
        ``[min, max]`` and return the window's first index."""
        return self._alloc(size, entry, min, max, False)

    def alloc_rrange(self, size: int, entry: Any, min: int = 0, max: int = _MAX) -> int:
        """mtree_alloc_rrange: as alloc_range, the highest window."""
        return self._alloc(size, entry, min, max, True)

    def _alloc(self, size: Any, entry: Any, lo: Any, hi: Any, rev: bool) -> int:
        if not self.alloc:
            raise InvalidArgument("alloc_range needs an allocation tree (MapleTree(alloc=True))")
        if entry is None or entry is ZERO_ENTRY:  # mt_is_reserved entries are refused too
            raise InvalidArgument(f"alloc_range of a reserved entry {entry!r}")
        check_area_args(lo, hi, size)
        with self.lock:
            first = self._empty_area(lo, hi, size, rev)
            self._store(first, first + size - 1, entry)
        return first

    def destroy(self) -> None:
        """mtree_destroy: free every node and leave an empty tree with the same flags."""
        with self.lock:
            self._seq += 1
            root = self._root
            self._set_root(None)
            self._count = 0
            if root.__class__ is Node:
                self._kill_subtree(root)

    clear = destroy

    def dup(self, map_entry: Callable[[Any], Any] | None = None) -> "MapleTree":
        """mtree_dup / __mt_dup: a node-by-node copy with the same flags (the fork bulk copy).

        ``map_entry``, if given, is applied to every stored entry (ZERO_ENTRY excepted) during
        the copy, as dup_mmap replaces each VMA with the child's copy; where it returns None the
        range is left empty in the copy (VM_DONTCOPY). This costs one pass over the nodes
        instead of a walk per entry."""
        new = MapleTree(alloc=self.alloc, rcu=self.rcu)
        dropped: list[tuple[int, int]] = []
        with self.lock:
            root = self._root
            if root.__class__ is Node:
                counts = [0]
                new._set_root(_copy_node(root, None, counts, map_entry, dropped))
                new._allocated = counts[0]
                new._lines = counts[0] * NODE_WRITE_LINES
                self._visited += counts[0]
                self._lines += counts[0] * NODE_WRITE_LINES
            elif root is not None:
                entry = root.entry
                if map_entry is not None and entry is not ZERO_ENTRY:
                    mapped = map_entry(entry)
                    if mapped is None:
                        dropped.append((0, 0))
                    else:
                        entry = mapped
                new._set_root(RootEntry(entry))
            new._count = self._count
        for first, last in dropped:  # the copy is private until returned: no lock needed
            new._store(first, last, None)
        return new

    __copy__ = dup

    def set_in_rcu(self, on: bool = True) -> None:
        """mt_set_in_rcu / mt_clear_in_rcu."""
        with self.lock:
            self.rcu = bool(on)

    def validate(self) -> None:
        """mt_validate: check every invariant; raises InvariantError naming the first broken one."""
        from maple.tree.validate import validate_tree

        validate_tree(self)

    # ------------------------------------------------------------------ gap search
    def _empty_area(self, lo: int, hi: int, size: int, rev: bool = False) -> int:
        """mas_empty_area (mas_empty_area_rev if ``rev``) core: start of the lowest (highest)
        ``size`` window of empty slots in [lo, hi]; NoSpace if there is none."""
        root = self._root
        if root.__class__ is not Node:
            if root is not None and lo == 0:
                lo = 1
                if hi - lo < size - 1:
                    raise NoSpace(f"no empty window of {size} in [0, {hi}]")
            return hi - size + 1 if rev else lo
        found = self._rev_awalk(root, lo, hi, size) if rev else self._awalk(root, lo, hi, size)
        if found is None:
            raise NoSpace(f"no empty window of {size} in [{lo}, {hi}]")
        return found

    def _awalk(self, node: Node, lo: int, hi: int, size: int) -> int | None:
        self._visited += 1
        self._lines += NODE_WRITE_LINES
        pivots = node.pivots
        slots = node.slots
        o = bisect_left(pivots, lo)
        start = pivots[o - 1] + 1 if o else node.min
        end = len(slots)
        if node.leaf:
            while o < end:
                if start > hi:
                    return None
                stop = pivots[o]
                if slots[o] is None:
                    a = start if start > lo else lo
                    b = stop if stop < hi else hi
                    if b - a + 1 >= size:
                        return a
                start = stop + 1
                o += 1
            return None
        gaps = node.gaps
        while o < end:
            if start > hi:
                return None
            if gaps is None or gaps[o] >= size:
                found = self._awalk(slots[o], lo, hi, size)
                if found is not None:
                    return found
            start = pivots[o] + 1
            o += 1
        return None

    # _awalk and _rev_awalk are mirror images kept apart on purpose: one direction-parametrised
    # walk measured 22-28% slower on the gap search (round 3; mmap placement's hot path)
    def _rev_awalk(self, node: Node, lo: int, hi: int, size: int) -> int | None:
        self._visited += 1
        self._lines += NODE_WRITE_LINES
        pivots = node.pivots
        slots = node.slots
        o = bisect_left(pivots, hi)
        if o == len(slots):
            o -= 1
        if node.leaf:
            while o >= 0:
                stop = pivots[o]
                start = pivots[o - 1] + 1 if o else node.min
                if stop < lo:
                    return None
                if slots[o] is None:
                    a = start if start > lo else lo
                    b = stop if stop < hi else hi
                    if b - a + 1 >= size:
                        return b - size + 1
                o -= 1
            return None
        gaps = node.gaps
        while o >= 0:
            if pivots[o] < lo:
                return None
            if gaps is None or gaps[o] >= size:
                found = self._rev_awalk(slots[o], lo, hi, size)
                if found is not None:
                    return found
            o -= 1
        return None

    # ------------------------------------------------------------------ the write path
    def _store(self, index: int, last: int, entry: Any) -> tuple[Any, int, int]:
        """mas_store core. Returns (first overwritten entry, first, last of the written range
        after NULL coalescing)."""
        self._seq += 1
        root = self._root
        if root.__class__ is not Node:
            return self._store_root(index, last, entry)
        if index == 0 and last == _MAX:
            return self._new_root(entry), 0, _MAX
        # mas_wr_walk: _path_to inlined, every store's path (brk, mmap: 1.5-3.5% slower with the call)
        node, inner, height, inner_lines = self._top
        path = []
        lines = 0
        for _ in inner:
            o = bisect_left(node.pivots, index)
            lines += inner_lines[o]
            path.append((node, o))
            node = node.slots[o]
        o = bisect_left(node.pivots, index)
        self._visited += height
        self._lines += lines + _LEAF_LINES[o]
        return self._store_leaf(path, node, o, index, last, entry)

    def _erase(self, index: int) -> Any:
        """mtree_erase core: one walk, then a NULL store over the whole range found."""
        root = self._root
        if root.__class__ is not Node:
            if root is None or index:
                return None
            self._seq += 1
            return self._store_root(0, 0, None)[0]
        path, node, o = self._path_to(index)
        pivots = node.pivots
        slots = node.slots
        entry = slots[o]
        if entry is None:
            return None
        self._seq += 1
        n = len(slots)
        if 0 < o < n - 1 and not self.rcu:
            # fast path: an interior entry of the leaf; it and any empty neighbour become one
            # empty slot in place (neighbours in other leaves need the general path)
            left = slots[o - 1] is None
            right = slots[o + 1] is None
            new_n = n - left - right
            if new_n >= _LEAF_MIN if path else new_n > 1:
                start = pivots[o - 2] + 1 if o > 1 else node.min
                end = pivots[o + 1]
                if not left:
                    start = pivots[o - 1] + 1
                if not right:
                    end = pivots[o]
                if right:
                    del pivots[o]
                    del slots[o + 1]
                slots[o] = None
                if left:
                    del pivots[o - 1]
                    del slots[o - 1]
                self._count -= 1
                self._lines += NODE_WRITE_LINES
                if self.alloc:
                    gap = node.gap
                    merged = end - start + 1
                    if gap < 0 or merged > gap:
                        node.gap = merged if gap >= 0 else -1
                        if path:
                            self._update_gaps(path, node)
                return entry
        first = pivots[o - 1] + 1 if o else node.min
        if first == 0 and pivots[o] == _MAX:
            self._new_root(None)
        else:
            self._store_leaf(path, node, o, first, pivots[o], None)
        return entry

    def _store_leaf(
        self, path: list[tuple[Node, int]], leaf: Node, o: int, index: int, last: int, entry: Any
    ) -> tuple[Any, int, int]:
        """The write once the walk reached ``leaf`` at offset ``o`` (mas_wr_store_entry): pick
        exact fit, node store, split, rebalance or spanning store."""
        piv = leaf.pivots
        sl = leaf.slots
        old = sl[o]
        rmax = piv[o]
        if old is None and entry is not None and last <= rmax and not self.rcu and len(sl) < RANGE64_SLOTS - 1:
            # fast path: an entry into (part of) one empty slot of a leaf with room to spare
            rmin = piv[o - 1] + 1 if o else leaf.min
            if index > rmin:
                if last < rmax:
                    piv[o:o] = [index - 1, last]
                    sl[o:o] = [None, entry]
                else:
                    piv.insert(o, index - 1)
                    sl.insert(o + 1, entry)
            elif last < rmax:
                piv.insert(o, last)
                sl.insert(o, entry)
            else:
                sl[o] = entry
            self._count += 1
            self._lines += NODE_WRITE_LINES
            if self.alloc and rmax - rmin + 1 >= leaf.gap:  # may have been the largest gap
                leaf.gap = -1
                if path:
                    self._update_gaps(path, leaf)
            return None, index, last
        lmax = leaf.max
        if last > lmax:
            return self._spanning_store(index, last, entry, old)
        lmin = leaf.min
        oe = o if last <= rmax else bisect_left(piv, last, o)
        if entry is None:
            o, oe, index, last = extend_null(piv, sl, o, oe, index, last, lmin)
            # mas_is_span_wr: a NULL written up to the end of a leaf other than the last is a
            # spanning store (only the rightmost leaf may end in NULL), so it is rebalanced with
            # what follows. Hence no leaf's first slot continues an empty run from its left
            # neighbour, and the left edge needs no check.
            if last == lmax and last != _MAX:
                return self._spanning_store(index, last, None, old)
            if index == 0 and last == _MAX:
                return self._new_root(None), 0, _MAX
        rmin = piv[o - 1] + 1 if o else lmin
        rmax = piv[oe]
        head = index > rmin
        tail = last < rmax
        # stored-range count and, in allocation trees, the leaf's new largest gap
        if o == oe:
            first_old = sl[o]
            removed = first_old is not None
            added = (entry is not None) + ((head or tail) and removed) * (head + tail)
        else:
            removed = 0
            for x in sl[o : oe + 1]:
                if x is not None:
                    removed += 1
            added = (entry is not None) + (head and sl[o] is not None) + (tail and sl[oe] is not None)
        self._count += added - removed
        alloc = self.alloc
        if alloc:
            gap = leaf.gap
            if gap < 0:
                gap = leaf.gap = leaf_max_gap(piv, sl, lmin)
            if entry is None:
                new_gap = gap if gap > last - index else last - index + 1
            else:
                new_gap = gap
                k = o
                prev = rmin - 1
                while k <= oe:  # overwriting (part of) the largest empty run: rescan later
                    if sl[k] is None and piv[k] - prev == gap:
                        new_gap = -1
                        break
                    prev = piv[k]
                    k += 1
        if not head and not tail and o == oe:
            # exact fit: one reference store, safe for rcu readers
            sl[o] = entry
            self._lines += NODE_WRITE_LINES
            if alloc and new_gap != gap:
                leaf.gap = new_gap
                if path:
                    self._update_gaps(path, leaf)
            return old, index, last
        if head:
            if tail:
                newp = [index - 1, last, rmax]
                news = [sl[o], entry, sl[oe]]
            else:
                newp = [index - 1, last]
                news = [sl[o], entry]
        elif tail:
            newp = [last, rmax]
            news = [entry, sl[oe]]
        else:
            newp = [last]
            news = [entry]
        new_n = len(sl) - (oe - o) + head + tail
        if new_n > RANGE64_SLOTS or (new_n < _LEAF_MIN and path):
            self._rebuild(
                path, path, leaf, leaf, piv[:o] + newp + piv[oe + 1 :], sl[:o] + news + sl[oe + 1 :], True, new_n > RANGE64_SLOTS
            )
            return old, index, last
        if self.rcu:
            new = Node(piv[:o] + newp + piv[oe + 1 :], sl[:o] + news + sl[oe + 1 :], True, lmin)
            self._allocated += 1
            if path:
                parent, po = path[-1]
                new.parent = parent
                parent.slots[po] = new
            else:
                self._set_root(new)
            leaf.dead = True
            leaf.parent = None
            self._freed += 1
            leaf = new
        else:
            piv[o : oe + 1] = newp
            sl[o : oe + 1] = news
        self._lines += NODE_WRITE_LINES
        if alloc:
            leaf.gap = new_gap
            if path and new_gap != gap:
                self._update_gaps(path, leaf)
        return old, index, last

    def _store_root(self, index: int, last: int, entry: Any) -> tuple[Any, int, int]:
        """mas_store_root / mas_root_expand: writes to an empty tree or a lone root entry."""
        root = self._root
        old_entry = root.entry if root is not None else None
        old = old_entry if index == 0 else None
        if entry is None:
            if root is None:
                return None, 0, _MAX
            if index == 0:  # the lone entry is erased; nothing else is stored
                self._set_root(None)
                self._count = 0
                return old, 0, _MAX
            return None, 1, _MAX
        if index == 0 and last == 0 and entry is not ZERO_ENTRY:
            # an internal entry (XA_ZERO_ENTRY's low bits are 10) never sits in the root
            # pointer: mas_store_root expands it into a leaf (mas_root_expand)
            self._set_root(RootEntry(entry))
            self._count = 1
            return old, 0, 0
        pivots = []
        slots = []
        if index > 0:
            if root is not None:
                pivots.append(0)
                slots.append(old_entry)
                if index > 1:
                    pivots.append(index - 1)
                    slots.append(None)
            else:
                pivots.append(index - 1)
                slots.append(None)
        pivots.append(last)
        slots.append(entry)
        if last < _MAX:
            pivots.append(_MAX)
            slots.append(None)
        self._set_root(Node(pivots, slots, True, 0))
        self._allocated += 1
        self._lines += NODE_WRITE_LINES
        self._count = 1 + (1 if root is not None and index > 0 else 0)
        return old, index, last

    def _new_root(self, entry: Any) -> Any:
        """mas_new_root: a store over [0, ULONG_MAX] replaces the whole tree."""
        root = self._root
        old = self._range_at(0)[2]
        if entry is None:
            self._set_root(None)
            self._count = 0
        else:
            self._set_root(Node([_MAX], [entry], True, 0))
            self._allocated += 1
            self._lines += NODE_WRITE_LINES
            self._count = 1
        if root.__class__ is Node:
            self._kill_subtree(root)
        return old

    def _spanning_store(self, index: int, last: int, entry: Any, old: Any) -> tuple[Any, int, int]:
        """mas_wr_spanning_store: a write whose range crosses leaves (or whose empty range must
        merge with an empty run in a neighbouring leaf)."""
        if entry is None:
            first, stop, cur = self._range_at(index)
            if cur is None:
                index = first
            elif index == first and index:
                first, stop, cur = self._range_at(index - 1)
                if cur is None:
                    index = first
            first, stop, cur = self._range_at(last)
            if cur is None:
                last = stop
            elif last == stop and last != _MAX:
                first, stop, cur = self._range_at(last + 1)
                if cur is None:
                    last = stop
            if index == 0 and last == _MAX:
                return self._new_root(None), 0, _MAX
        removed = 0
        for _, _, x in self._raw_ranges(index, last):
            if x is not None:
                removed += 1
        lpath, lleaf, lo = self._path_to(index)
        # the right side is walked at last + 1, as mas_wr_spanning_store does: a write ending
        # on a leaf's last pivot takes the following leaf into the rebuild
        rpath, rleaf, ro = self._path_to(last + 1 if last < _MAX else last)
        lpiv = lleaf.pivots
        rpiv = rleaf.pivots
        P = lpiv[:lo]
        S = lleaf.slots[:lo]
        added = 0
        if index > (lpiv[lo - 1] + 1 if lo else lleaf.min):
            P.append(index - 1)
            S.append(lleaf.slots[lo])
            added += lleaf.slots[lo] is not None
        P.append(last)
        S.append(entry)
        added += entry is not None
        if last < _MAX:
            if (rpiv[ro - 1] + 1 if ro else rleaf.min) <= last:  # the tail of a range cut at last
                added += rleaf.slots[ro] is not None
            P += rpiv[ro:]
            S += rleaf.slots[ro:]
        self._count += added - removed
        self._rebuild(lpath, rpath, lleaf, rleaf, P, S, True)
        return old, index, last

    def _raw_ranges(self, index: int, last: int) -> Iterator[tuple[int, int, Any]]:
        """Every slot (empty ones included) overlapping [index, last], raw entries."""
        while True:
            path, node, o = self._path_to(index)
            pivots = node.pivots
            slots = node.slots
            start = pivots[o - 1] + 1 if o else node.min
            for o in range(o, len(slots)):
                yield start, pivots[o], slots[o]
                if pivots[o] >= last:
                    return
                start = pivots[o] + 1
            index = node.max + 1

    def _make(self, pivots: list[int], slots: list[Any], leaf: bool, nmin: int) -> Node:
        """Allocate and fill one node (a node write: all four lines)."""
        if leaf:
            node = Node(pivots, slots, True, nmin)
        else:
            if self.alloc:
                gaps = [child.gap if child.gap >= 0 else child.max_gap() for child in slots]
            else:
                gaps = None
            node = Node(pivots, slots, False, nmin, gaps)
            for child in slots:
                child.parent = node
        self._allocated += 1
        self._lines += NODE_WRITE_LINES
        return node

    def _split(
        self,
        P: list[int],
        S: list[Any],
        leaf: bool,
        cap: int,
        kmin: int,
        nmin: int,
        split: int = -1,
        dense_min: int | None = None,
        null_end: int = -1,
    ) -> list[Node]:
        """Cut an overfull big node into two or three nodes (mab_calc_split, mab_no_null_split,
        lib/maple_tree.c as of v6.12-v6.18).

        ``split`` given (>= 0) is a push's fixed split (mas_push_data); otherwise it is computed:
        3-way when two nodes cannot hold the data (mab_middle_node), else half, moved right
        while the left part spans fewer than ``cap - 1`` indices from ``dense_min`` (the
        kernel's dense-range rule; ``dense_min`` defaults to the node's ``nmin``; mas_split
        passes 0 at the leaf level). ``null_end`` is the b_end the NULL check compares against
        (mas_push_data's right push leaves b_end one past the last entry)."""
        b_end = len(P) - 1
        mid = 0
        # The kernel's tests (b_end - split > mt_min_slots) can leave the right node with
        # mt_min_slots entries, one short; mt_validate tolerates that only in the rightmost
        # node, so elsewhere the right node is kept sufficient (one more entry).
        rmin = kmin if P[-1] == _MAX else kmin + 1
        if split < 0:
            split = b_end // 2
            if b_end >= 2 * cap or (S[split] is None and b_end >= 2 * cap - 1):
                split = b_end // 3
                mid = 2 * split
            else:
                lo = nmin if dense_min is None else dense_min
                while split < cap - 1 and P[split] - lo < cap - 1 and b_end - split > rmin:
                    split += 1
        if leaf:
            end = b_end if null_end < 0 else null_end
            split = _no_null_split(S, split, cap, end, rmin)
            if mid:
                mid = _no_null_split(S, mid, cap, end, rmin)
        make = self._make
        if mid:
            return [
                make(P[: split + 1], S[: split + 1], leaf, nmin),
                make(P[split + 1 : mid + 1], S[split + 1 : mid + 1], leaf, P[split] + 1),
                make(P[mid + 1 :], S[mid + 1 :], leaf, P[mid] + 1),
            ]
        return [
            make(P[: split + 1], S[: split + 1], leaf, nmin),
            make(P[split + 1 :], S[split + 1 :], leaf, P[split] + 1),
        ]

    def _rebuild(
        self,
        lpath: list[tuple[Node, int]],
        rpath: list[tuple[Node, int]],
        lnode: Node,
        rnode: Node,
        P: list[int],
        S: list[Any],
        leaf: bool,
        split_mode: bool = False,
    ) -> None:
        """Replace the nodes ``lnode .. rnode`` (one level, contiguous) by nodes holding the big
        node ``P``/``S``, level by level up to where one node replaces one node (mas_split,
        mas_rebalance and mas_spanning_rebalance in one loop). Underfull data pulls in a sibling
        or cousin (right before left at each level, ascending: mast_spanning_rebalance);
        overfull data is split 2- or 3-way (mab_calc_split); with ``split_mode`` (mas_split: a
        leaf store overflowed) it is first pushed into the left, then the right sibling if that
        avoids a split (mas_push_data). A root with one child collapses, a split root grows the
        tree. Replaced nodes are marked dead only after the new subtree is published."""
        alloc = self.alloc
        lpath = list(lpath)
        rpath = list(rpath)
        consumed = [lnode] if lnode is rnode else [lnode, rnode]
        dropped: list[Any] = []
        depth = len(lpath)
        publish_path = None
        published = None
        # mas_split's dense-range reference: 0 at the leaf level (prev_l_mas starts at 0), then
        # the min of the node split one level below (prev_l_mas = *mast.l)
        split_min = 0
        while True:
            if leaf or not alloc:
                cap = RANGE64_SLOTS
                kmin = RANGE64_MIN_SLOTS
            else:
                cap = ARANGE64_SLOTS
                kmin = ARANGE64_MIN_SLOTS
            n = len(P)
            if depth == 0:
                if n <= cap:
                    if leaf:
                        new_root = None if n == 1 and S[0] is None else self._make(P, S, True, 0)
                    elif n == 1:
                        new_root = S[0]
                        while not new_root.leaf and len(new_root.slots) == 1:
                            consumed.append(new_root)
                            new_root = new_root.slots[0]
                        new_root.parent = None
                    else:
                        new_root = self._make(P, S, False, 0)
                    self._set_root(new_root)
                    break
                nodes = self._split(P, S, leaf, cap, kmin, 0, dense_min=split_min if split_mode else None)
                P = [nd.max for nd in nodes]
                S = nodes
                leaf = False
                continue
            pl, lo = lpath[depth - 1]
            pr, ro = rpath[depth - 1]
            split = -1
            null_end = -1
            if n <= kmin:
                # insufficient: pull in a neighbour (mas_rebalance / mast_spanning_rebalance)
                if ro + 1 < len(pr.slots):
                    ro += 1
                    sib = pr.slots[ro]
                    P = P + sib.pivots
                    S = S + sib.slots
                    consumed.append(sib)
                elif lo > 0:
                    lo -= 1
                    sib = pl.slots[lo]
                    P = sib.pivots + P
                    S = sib.slots + S
                    consumed.append(sib)
                else:
                    # ascend until a level has a right or (failing that) a left neighbour
                    for k in range(depth - 2, -1, -1):
                        nd, off = rpath[k]
                        if off + 1 < len(nd.slots):
                            rpath[k] = (nd, off + 1)
                            x = nd.slots[off + 1]
                            for j in range(k + 1, depth):
                                rpath[j] = (x, 0)
                                x = x.slots[0]
                            P = P + x.pivots
                            S = S + x.slots
                            consumed.append(x)
                            pr, ro = rpath[depth - 1]
                            break
                        nd, off = lpath[k]
                        if off > 0:
                            lpath[k] = (nd, off - 1)
                            x = nd.slots[off - 1]
                            for j in range(k + 1, depth):
                                lpath[j] = (x, len(x.slots) - 1)
                                x = x.slots[-1]
                            P = x.pivots + P
                            S = x.slots + S
                            consumed.append(x)
                            pl, lo = lpath[depth - 1]
                            break
                n = len(P)
            elif split_mode and n > cap and pl is pr and lo == ro:
                # mas_push_data: spill into the left, else the right sibling rather than split
                # upwards. slot_total counts the big node's and the sibling's last offsets
                # (b_end + end); room is 2 * slots - 2, one less for a leaf (no 3-way split
                # afterwards) and one less for the rightmost node.
                space = 2 * cap - 2 - (1 if leaf else 0) - (1 if pr.pivots[ro] == _MAX else 0)
                if lo > 0 and (n - 1) + (len(pl.slots[lo - 1].slots) - 1) < space:
                    lo -= 1
                    sib = pl.slots[lo]
                    P = sib.pivots + P
                    S = sib.slots + S
                    consumed.append(sib)
                    split = cap - 2  # the left node gets slots - 1 entries
                elif ro + 1 < len(pr.slots) and (n - 1) + (len(pr.slots[ro + 1].slots) - 1) < space:
                    ro += 1
                    sib = pr.slots[ro]
                    P = P + sib.pivots
                    S = S + sib.slots
                    consumed.append(sib)
                    # split = slot_total - (slots - 2): the right node gets slots - 1 entries;
                    # the kernel's b_end is one past the last entry here (mas_mab_cp)
                    split = len(P) - cap
                    null_end = len(P)
                n = len(P)
            nmin = pl.pivots[lo - 1] + 1 if lo else pl.min
            if n <= cap:
                nodes = [self._make(P, S, leaf, nmin)]
            else:
                nodes = self._split(
                    P, S, leaf, cap, kmin, nmin, split, dense_min=split_min if split_mode else None, null_end=null_end
                )
                split_min = nmin
            if pl is pr and lo == ro and len(nodes) == 1:
                node = nodes[0]
                node.parent = pl
                pl.slots[lo] = node  # the one reference store that publishes the new subtree
                published = node
                publish_path = lpath[:depth]
                break
            maxes = [nd.max for nd in nodes]
            if pl is pr and not self.rcu:
                # without rcu the parent is rewritten in place when it can absorb the change
                # (the kernel's non-RCU node store of the parent)
                parent_n = len(pl.slots) - (ro - lo + 1) + len(nodes)
                pcap, pmin = (ARANGE64_SLOTS, _ARANGE_MIN) if alloc else (RANGE64_SLOTS, _LEAF_MIN)
                if parent_n <= pcap and (parent_n >= pmin if depth > 1 else parent_n > 1):
                    dropped.extend(pl.slots[lo + 1 : ro])
                    pl.pivots[lo : ro + 1] = maxes
                    pl.slots[lo : ro + 1] = nodes
                    for nd in nodes:
                        nd.parent = pl
                    if alloc:
                        pl.gaps[lo : ro + 1] = [nd.gap if nd.gap >= 0 else nd.max_gap() for nd in nodes]
                        pl.gap = max(pl.gaps)
                    self._lines += NODE_WRITE_LINES
                    published = pl
                    publish_path = lpath[: depth - 1]
                    break
            if pl is pr:
                dropped.extend(pl.slots[lo + 1 : ro])
                P = pl.pivots[:lo] + maxes + pl.pivots[ro + 1 :]
                S = pl.slots[:lo] + nodes + pl.slots[ro + 1 :]
                consumed.append(pl)
            else:
                dropped.extend(pl.slots[lo + 1 :])
                dropped.extend(pr.slots[:ro])
                P = pl.pivots[:lo] + maxes + pr.pivots[ro + 1 :]
                S = pl.slots[:lo] + nodes + pr.slots[ro + 1 :]
                consumed.append(pl)
                consumed.append(pr)
            lnode = pl
            rnode = pr
            depth -= 1
            leaf = False
        # retire what was replaced (after publication, as the kernel does with call_rcu)
        seen = set()
        freed = 0
        for node in consumed:
            key = id(node)
            if key not in seen:
                seen.add(key)
                node.dead = True
                node.parent = None  # no parent/child cycles among the dead: refcounting frees them
                freed += 1
        stack = dropped
        while stack:
            node = stack.pop()
            if node.__class__ is not Node or id(node) in seen:
                continue
            seen.add(id(node))
            node.dead = True
            node.parent = None
            freed += 1
            if not node.leaf:
                stack.extend(node.slots)
        self._freed += freed
        if published is not None and alloc:
            self._update_gaps(publish_path, published)

    def _update_gaps(self, path: list[tuple[Node, int]], node: Node) -> None:
        """mas_update_gap: push a changed subtree gap up the parents until one is unchanged."""
        gap = node.gap
        if gap < 0:
            gap = node.gap = leaf_max_gap(node.pivots, node.slots, node.min)
        for parent, off in reversed(path):
            gaps = parent.gaps
            if gaps[off] == gap:
                return
            gaps[off] = gap
            self._lines += NODE_WRITE_LINES
            gap = parent.gap = max(gaps)

    def _kill_subtree(self, root: Node) -> None:
        """Mark a detached subtree dead and count its nodes freed (mt_destroy_walk)."""
        stack = [root]
        freed = 0
        while stack:
            node = stack.pop()
            node.dead = True
            node.parent = None
            freed += 1
            if not node.leaf:
                stack.extend(node.slots)
        self._freed += freed


def _no_null_split(S: list[Any], split: int, cap: int, b_end: int, kmin: int) -> int:
    """mab_no_null_split: never end a node on an empty slot; move the split right if the
    right part keeps more than mt_min_slots entries past it, else left."""
    if S[split] is None:
        if split < cap - 1 and b_end - split > kmin:
            return split + 1
        return split - 1
    return split


def check_area_args(lo: Any, hi: Any, size: Any) -> None:
    """mas_empty_area's -EINVAL checks, with messages naming the bad value."""
    lo = check_index(lo, "min")
    hi = check_index(hi, "max")
    if isinstance(size, bool) or not isinstance(size, int):
        raise InvalidArgument(f"size must be an int, not {type(size).__name__} {size!r}")
    if lo > hi:
        raise InvalidArgument(f"min {lo} > max {hi}")
    if size <= 0 or size > _MAX:
        raise InvalidArgument(f"size {size} must be in 1..ULONG_MAX")
    if hi - lo < size - 1:
        raise InvalidArgument(f"window [{lo}, {hi}] is smaller than size {size}")


def _copy_node(
    node: Node,
    parent: Node | None,
    counts: list[int],
    map_entry: Callable[[Any], Any] | None = None,
    dropped: list[tuple[int, int]] | None = None,
) -> Node:
    counts[0] += 1
    if node.leaf:
        slots = node.slots[:]
        if map_entry is not None:
            pivots = node.pivots
            for i, entry in enumerate(slots):
                if entry is not None and entry is not ZERO_ENTRY:
                    mapped = map_entry(entry)
                    if mapped is None:  # keep the original for now; dup() empties the range
                        dropped.append((pivots[i - 1] + 1 if i else node.min, pivots[i]))
                    else:
                        slots[i] = mapped
        new = Node(node.pivots[:], slots, True, node.min)
        new.gap = node.gap
    else:
        children = [_copy_node(child, None, counts, map_entry, dropped) for child in node.slots]
        new = Node(node.pivots[:], children, False, node.min, node.gaps[:] if node.gaps is not None else None)
        for child in children:
            child.parent = new
    new.parent = parent
    return new
