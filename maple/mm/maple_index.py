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
``nodes_preallocated`` counts what the era's ``mas_preallocate`` asks the slab for before each
VMA tree write (one request per ``mas_preallocate`` .. ``mas_destroy`` bracket): v6.1's worst
case ``1 + 3 * height`` nodes (most handed back unused by ``mas_destroy``: the hidden cost
behind "modifications are more expensive"), the precise count of 6.5+ eras, and nothing for
eras that allocate on demand (the v5 patch set) or for ``mas_store_gfp`` writes. It is the
same number as the ``node_prealloc`` events, by one code path (``_account``), and is kept
apart from ``nodes_allocated``, which counts the nodes the tree really builds.

Cost events (``maple.mm.events``; recorded only while ``events.enabled``): every tree write
is classified before it happens as the kernel's store type (``mas_wr_store_type``: exact fit,
slot store, append, node store, split, rebalance, spanning store, root store) by a read-only
peek at the leaf, and after it the tree's own allocation and free counts are read as deltas.
The era (``maple.mm.eras.Era``) then decides what the kernel's path does with that store:
where its nodes come from (on demand, ``mas_preallocate``'s worst case or the precise count),
whether a node store is an on-stack copy or, in RCU mode, a new node with the old one freed
after a grace period. Walks are the tree's ``nodes_visited`` delta, flushed by the mm at each
lock transition (``flush_events``).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Callable, Iterator

from maple.linux import VM_GROWSDOWN, vm_end_gap, vm_start_gap
from maple.mm.events import EventRecorder
from maple.tree import ULONG_MAX, EntryExists, InvalidArgument, MapleTree, MaState, NoSpace
from maple.tree.constants import ARANGE64_SLOTS, RANGE64_MIN_SLOTS, RANGE64_SLOTS
from maple.tree.tree import extend_null

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
#: fewest slots a non-root leaf may keep (mt_min_slots + 1)
_LEAF_MIN = RANGE64_MIN_SLOTS + 1

#: store types (mas_wr_store_type, lib/maple_tree.c v6.12+; the same cases in MT6 and v6.1)
EXACT, SLOT, APPEND, NODE, SPLIT, REBALANCE, SPANNING, ROOT = (
    "exact", "slot", "append", "node", "split", "rebalance", "spanning", "root",
)
#: a disabled recorder shared by indexes that nobody records (never enabled)
_OFF = EventRecorder()


class MapleVmaIndex:
    """The maple-tree VMA index of Linux 6.1 (``mm->mm_mt``), implementing the VMA index
    protocol described in docs/mm.md."""

    kind = "maple"
    __slots__ = ("_mt", "_vmas_visited", "_preallocated", "events", "era", "gfp", "_walked", "_bracket",
                 "_worst", "_precise")

    def __init__(self, tree: MapleTree | None = None) -> None:
        self._mt = MapleTree(alloc=True) if tree is None else tree
        self._vmas_visited = 0
        self._preallocated = 0
        #: the owning mm's recorder (a disabled one until the mm attaches its own)
        self.events: EventRecorder = _OFF
        #: the era whose allocation policy the events follow (None: v6.1's)
        self.era = None
        #: the era's ``mas_preallocate`` policy, as flags the write paths test
        self._worst, self._precise = True, False
        #: set by the mm around a write its kernel path does with ``mas_store_gfp`` (on demand)
        self.gfp = False
        self._walked = self._mt.counters["nodes_visited"]
        #: an open ``begin_op`` bracket (several index calls, one preallocation)
        self._bracket: list | None = None

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

    def peek_vma(self, addr: int):
        """The first VMA with ``end > addr``, read without counting: the page-table model
        asks it which page-table pages ``free_pgtables`` may free, and munmap whether a
        stack follows (the kernel knows both from the walk it already did)."""
        index = addr
        while True:
            node, inner, _, _ = self._mt._top
            if inner is None:
                return node.entry if node is not None and index == 0 else None
            for _ in inner:
                node = node.slots[bisect_left(node.pivots, index)]
            sl = node.slots
            for k in range(bisect_left(node.pivots, index), len(sl)):
                if sl[k] is not None:
                    return sl[k]
            if node.max == ULONG_MAX:
                return None
            index = node.max + 1

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
        """The unrecorded path's ``mas_preallocate`` request for one write outside a bracket:
        v6.1's ``1 + 3 * height`` (``mas_node_count_gfp(mas, 1 + mas_mt_height(mas) * 3, ...)``)
        on worst-case eras; nothing on on-demand eras or for ``mas_store_gfp`` writes. Precise
        eras always take the classified path (``_slow``), whose ``_account`` counts."""
        if self._bracket is None and not self.gfp and self._worst:
            self._preallocated += 1 + 3 * self._mt.height

    @property
    def _slow(self) -> bool:
        """Writes go through ``_write`` (store classification): while recording events, and
        always on precise-preallocation eras, whose request depends on the store type."""
        return self.events.enabled or self._precise

    def insert(self, vma) -> None:
        """``vma_mas_store`` of a new VMA at ``[vm_start, vm_end - 1]``."""
        if self._slow:
            acc = self._op_start()
            self._write(vma.start, vma.end - 1, vma, acc, True)
            self._op_end(acc)
            return
        self._preallocate()
        try:
            self._mt.insert_range(vma.start, vma.end - 1, vma)
        except EntryExists:
            raise AssertionError(f"insert: {vma!r} overlaps an indexed VMA") from None

    def remove(self, vma) -> None:
        """``vma_mas_remove``: one NULL store over the VMA's range."""
        if self._slow:
            acc = self._op_start()
            self._write(vma.start, vma.end - 1, None, acc)
            self._op_end(acc)
            return
        self._preallocate()
        self._mt.store_range(vma.start, vma.end - 1, None)

    def remove_range(self, start: int, end: int, vmas) -> None:
        """munmap's detach (``do_mas_align_munmap``): ONE NULL store over ``[start, end - 1]``."""
        if vmas:
            if self._slow:
                acc = self._op_start()
                self._write(start, end - 1, None, acc)
                self._op_end(acc)
                return
            self._preallocate()
            self._mt.store_range(start, end - 1, None)

    def adjust(self, vma, start: int, end: int) -> None:
        """Change ``vma``'s bounds in place (``vma_mas_store`` + ``vma_mas_szero``): a NULL
        store over any part it gives up, and, if it grows, one store over its new range."""
        old_start, old_end = vma.start, vma.end
        vma.start = start
        vma.end = end
        if self._slow:
            acc = self._op_start()
            if start > old_start:
                self._write(old_start, start - 1, None, acc)
            if end < old_end:
                self._write(end, old_end - 1, None, acc)
            if start < old_start or end > old_end:
                self._write(start, end - 1, vma, acc)
            self._op_end(acc)
            return
        self._preallocate()  # __vma_adjust / vma_expand / do_brk_flags preallocate once
        store_range = self._mt.store_range
        if start > old_start:
            store_range(old_start, start - 1, None)
        if end < old_end:
            store_range(end, old_end - 1, None)
        if start < old_start or end > old_end:
            store_range(start, end - 1, vma)

    # ------------------------------------------------------------------ cost events

    @property
    def rcu(self) -> bool:
        """Whether the VMA tree is in RCU mode (``mt_in_rcu``)."""
        return self._mt.rcu

    def set_in_rcu(self) -> None:
        """``mt_set_in_rcu``: sticky from now on (v5 ``mmget``; 6.3+ from creation)."""
        if not self._mt.rcu:
            self._mt.set_in_rcu(True)

    def flush_events(self) -> None:
        """Record the node reads done since the last flush (``node_walk``: the tree's own
        ``nodes_visited`` delta). The mm calls it at every lock transition."""
        visited = self._mt._visited
        n = visited - self._walked
        if n:
            self._walked = visited
            self.events.add("node_walk", n)

    def sync_events(self) -> None:
        """Forget walks done while nobody recorded (the mm calls it as a recorded syscall
        or fault starts)."""
        self._walked = self._mt._visited

    def begin_op(self) -> None:
        """Open one ``mas_preallocate`` .. ``mas_destroy`` bracket over several index calls
        (``__split_vma``: the kernel's ``__vma_adjust`` preallocates once for the shrink
        and the insert), so the bracket's one request is counted once."""
        self._bracket = [self._mt.height, 0, 0]

    def end_op(self) -> None:
        """Close the bracket: account its nodes by the era's policy."""
        acc = self._bracket
        self._bracket = None
        if acc is not None:
            self._account(acc)

    def _op_start(self) -> list:
        """Start one index operation (one ``mas_preallocate`` .. ``mas_destroy`` bracket):
        ``[height before, nodes used, nodes a precise request asks]``."""
        if self._bracket is not None:
            return self._bracket
        return [self._mt.height, 0, 0]

    def _op_end(self, acc: list) -> None:
        """End an index operation unless a bracket is open."""
        if acc is not self._bracket:
            self._account(acc)

    def _account(self, acc: list) -> None:
        """Where the operation's nodes came from, by the era's allocation policy."""
        height, used, need = acc
        add = self.events.add
        if self.gfp or not (self._worst or self._precise):  # mas_store_gfp / no preallocation
            if used:
                add("node_alloc", used)
            return
        request = 1 + 3 * height if self._worst else need
        if request:
            self._preallocated += request
            add("node_prealloc", request)
        if used < request:
            add("node_prealloc_unused", request - used)
        elif used > request:  # beyond the request: the store allocates the rest itself
            add("node_alloc", used - request)

    def _store_type(self, index: int, last: int, entry) -> tuple[str, int]:
        """``mas_wr_store_type`` for a store of ``entry`` over ``[index, last]``, decided
        from the leaf as it is before the store (read-only, uncounted). Returns the type and,
        for a split, how many levels split (the leaf plus every full ancestor above it)."""
        node, inner, _, _ = self._mt._top
        if inner is None or (index == 0 and last == ULONG_MAX):
            return ROOT, 0
        full = []
        for _ in inner:
            full.append(len(node.slots) >= (ARANGE64_SLOTS if node.gaps is not None else RANGE64_SLOTS))
            node = node.slots[bisect_left(node.pivots, index)]
        piv = node.pivots
        sl = node.slots
        lmin, lmax = node.min, node.max
        if last > lmax:
            return SPANNING, 0
        o = bisect_left(piv, index)
        oe = o if last <= piv[o] else bisect_left(piv, last, o)
        if entry is None:  # mas_wr_extend_null, the tree's own
            o, oe, index, last = extend_null(piv, sl, o, oe, index, last, lmin)
            # mas_is_span_wr, as MapleTree._store decides it (the same rule, read before the
            # store): a NULL reaching the end of any leaf but the last is a spanning store
            if last == lmax and last != ULONG_MAX:
                return SPANNING, 0
        rmin = piv[o - 1] + 1 if o else lmin
        head = index > rmin
        tail = last < piv[oe]
        if not head and not tail and o == oe:
            return EXACT, 0
        n = len(sl)
        new_n = n - (oe - o) + head + tail
        if new_n > RANGE64_SLOTS:
            levels = 1
            for f in reversed(full):
                if not f:
                    break
                levels += 1
            return SPLIT, levels
        if new_n < _LEAF_MIN and full:
            return REBALANCE, 0
        if new_n == n and oe - o == 1:
            return SLOT, 0
        if new_n == n + 1 and o == oe == n - 1 and head != tail:
            return APPEND, 0
        return NODE, 0

    def _write(self, first: int, last: int, entry, acc: list, insert: bool = False) -> None:
        """One tree write with its events: classify, store, read the tree's deltas."""
        mt = self._mt
        kind, levels = self._store_type(first, last, entry)
        height = mt.height
        a0, f0 = mt._allocated, mt._freed
        if insert:
            try:
                mt.insert_range(first, last, entry)
            except EntryExists:
                raise AssertionError(f"insert: {entry!r} overlaps an indexed VMA") from None
        else:
            mt.store_range(first, last, entry)
        add = self.events.add
        rcu = mt.rcu
        era = self.era
        if kind is APPEND and rcu and era is not None and not era.rcu_append_in_place:
            kind = NODE  # 6.12+: no appends in RCU mode
        if kind is EXACT or kind is SLOT or kind is APPEND:
            add("node_write")  # in place, no node (slot stores are RCU-safe two-slot shifts)
            used = need = 0
        elif kind is NODE:
            add("node_copy")  # on-stack node rebuilt and copied back, or a new node (RCU)
            used = need = 1 if rcu else 0
            if rcu:
                add("node_free_rcu")
        else:
            used = mt._allocated - a0
            freed = mt._freed - f0
            if used:
                add("node_copy", used)
            if freed:
                add("node_free_rcu" if rcu else "node_free", freed)
            if kind is SPLIT:
                need = 2 * levels + 1
            elif kind is REBALANCE:
                need = 2 * height + 1
            elif kind is SPANNING:
                need = 1 + 3 * height
            else:
                need = 1
        if kind is not EXACT and height > 1:
            add("gap_update", height - 1)
        acc[1] += used
        acc[2] += need

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
        allocated and wrote (plus the walks that empty any ``VM_DONTCOPY`` ranges).

        Events (recorded in this index's recorder, the forking task's): with the era's
        ``fork == "mt_dup"`` every child node is one ``mt_dup_node`` and every VMA one
        ``node_write`` (its slot replaced by the child's VMA); with ``"insert"`` (v5 .. 6.7)
        the child tree is built by in-order insertion: ``mas_expected_entries`` preallocates
        its nodes (6.1+; on demand before), each VMA is one store, each node one copy."""
        child = MapleVmaIndex(self._mt.dup(copy))
        era = self.era
        nodes = child._mt._allocated
        insertion_prealloc = (era is None or era.fork != "mt_dup") and (self._worst or self._precise)
        if insertion_prealloc:  # mas_expected_entries: the child's nodes, requested up front
            self._preallocated += nodes
        ev = self.events
        if ev.enabled:
            self.flush_events()
            vmas = len(child._mt)
            if era is not None and era.fork == "mt_dup":
                if nodes:
                    ev.add("mt_dup_node", nodes)
            elif nodes:
                ev.add("node_prealloc" if insertion_prealloc else "node_alloc", nodes)
                ev.add("node_copy", nodes)
            if vmas:
                ev.add("node_write", vmas)
        return child

    def clear(self) -> None:
        """``exit_mmap``'s ``__mt_destroy``: free every node (the tree counts them). RCU mode
        is cleared first (``mt_clear_in_rcu``), so the frees are immediate."""
        f0 = self._mt._freed
        self._mt.destroy()
        if self.events.enabled:
            freed = self._mt._freed - f0
            if freed:
                self.events.add("node_free", freed)

    def attach_events(self, events: EventRecorder, era) -> None:
        """Record into ``events`` (the owning mm's recorder) following ``era``'s policies;
        counting restarts from the tree's current state."""
        self.events = events
        self.era = era
        policy = "worst" if era is None else era.prealloc
        self._worst, self._precise = policy == "worst", policy == "precise"
        self._walked = self._mt._visited
        self._bracket = None

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
