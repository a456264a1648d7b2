"""The pre-6.1 VMA index: augmented rbtree + VMA list + vmacache (mm/mmap.c, v5.15/v5.17).

Until Linux 6.1 an address space tracked its VMAs three times over:

* ``mm->mm_rb``, a red-black tree keyed by ``vm_start`` whose nodes are embedded in the VMAs
  and augmented with ``rb_subtree_gap`` (the largest free gap below any VMA of the subtree,
  stack guard gaps included), so that ``unmapped_area`` finds room in O(log n);
* ``mm->mmap``, the doubly linked list ``vm_next``/``vm_prev`` in address order, plus
  ``mm->highest_vm_end`` (the gap above the last VMA is not in the tree);
* the per-thread ``vmacache`` of recent ``find_vma`` results, invalidated by bumping
  ``mm->vmacache_seqnum`` whenever a VMA is unlinked.

:class:`LegacyVmaIndex` implements the VMA index protocol (``/work/briefs/index-protocol.md``)
with exactly those structures and the kernel's algorithms: ``find_vma`` = vmacache, then the
rbtree walk of v5.15; ``unmapped_area[_topdown]`` = the v5.17 rbtree walks; insertion =
``find_vma_links`` + ``__vma_link_list`` + ``__vma_link_rb``; munmap's detach =
``detach_vmas_to_be_unmapped``; fork = ``dup_mmap``'s link-by-link rebuild; exit = a list walk.

The index reads only ``start``, ``end`` and ``flags`` of a VMA and writes only its embedded
links (:class:`~maple.legacy.links.VmaLinks`), except :meth:`LegacyVmaIndex.adjust`, which
sets the VMA's new ``start``/``end`` itself (as ``__vma_adjust`` does) and then fixes gaps.

Cost model (``counters``; see ``docs/legacy.md``): a VMA's first 64-byte cache line holds
vm_start, vm_end, vm_next, vm_prev, vm_rb and rb_subtree_gap; vm_flags is in the second.
Every rbtree node a search visits costs one line; evaluating ``vm_start_gap`` costs the flags
line; mm_struct and task_struct fields are free (hot in both designs).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from maple.legacy.links import VmaLinks
from maple.legacy.rbtree import AugmentedRBTree
from maple.legacy.vmacache import VMACACHE_MASK, VmaCache
from maple.linux import PAGE_SHIFT, VM_GROWSDOWN, VM_GROWSUP, vm_end_gap, vm_start_gap

VMA = Any

# Per-thread counter slots in ThreadCache.counts.
_NODES, _LINES, _VMAS, _LIST = 0, 1, 2, 3



class _Off:
    """A recorder that is never enabled (``maple.mm.events.EventRecorder``'s interface; this
    package does not import ``maple.mm``)."""

    __slots__ = ()
    enabled = False

    def add(self, name: str, n: int = 1) -> None:
        pass


#: stands in for the owning mm's recorder until the mm attaches it
_OFF = _Off()


def _start_gap(vma: VMA) -> int:
    """``vm_start_gap(vma)``: vm_start less the stack guard gap for VM_GROWSDOWN."""
    flags = vma.flags
    if flags & VM_GROWSDOWN:
        return vm_start_gap(vma.start, flags)
    return vma.start


def _end_gap(vma: VMA) -> int:
    """``vm_end_gap(vma)``: vm_end plus the guard gap for VM_GROWSUP (none on x86-64)."""
    flags = vma.flags
    if VM_GROWSUP and flags & VM_GROWSUP:
        return vm_end_gap(vma.end, flags)
    return vma.end


def vma_compute_gap(vma: VMA) -> int:
    """``vma_compute_gap``: free space between the previous VMA's end gap and this start gap.

    0 when they touch or the guard gap overlaps the previous VMA; measured from address 0
    when there is no previous VMA.
    """
    gap = _start_gap(vma)
    prev = vma.vm_prev
    if prev is not None:
        prev_end = _end_gap(prev)
        gap = gap - prev_end if gap > prev_end else 0
    return gap


class VmaGapTree(AugmentedRBTree):
    """``mm_rb`` with ``RB_DECLARE_CALLBACKS_MAX(vma_gap_callbacks, ..., vma_compute_gap)``.

    ``compute_max`` is specialised with ``vma_compute_gap`` inlined (the hottest function of
    every legacy write). Lines: the node's first line (start, links, rb_subtree_gap), its
    vm_flags line (vm_start_gap), the previous VMA's first line (vm_end), each child's
    first line (rb_subtree_gap).
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(vma_compute_gap)

    # Kept apart from AugmentedRBTree.compute_max on purpose: the shared form (own part here,
    # children folded by one helper) measured +16% per call, and this runs on every write.
    def compute_max(self, node: VMA, exit: bool) -> bool:
        self.computes += 1
        flags = node.flags
        value = vm_start_gap(node.start, flags) if flags & VM_GROWSDOWN else node.start
        prev = node.vm_prev
        lines = 2
        if prev is not None:
            lines = 3
            prev_end = _end_gap(prev) if VM_GROWSUP else prev.end
            value = value - prev_end if value > prev_end else 0
        child = node.rb_left
        if child is not None:
            lines += 1
            if child.rb_subtree_gap > value:
                value = child.rb_subtree_gap
        child = node.rb_right
        if child is not None:
            lines += 1
            if child.rb_subtree_gap > value:
                value = child.rb_subtree_gap
        self.cache_lines += lines
        if exit and node.rb_subtree_gap == value:
            return True
        node.rb_subtree_gap = value
        return False


class LegacyVmaIndex:
    """VMAs in an augmented rbtree, a linked list and a per-thread vmacache (pre-6.1)."""

    kind = "legacy"

    __slots__ = ("_tree", "_cache", "mmap", "highest_vm_end", "map_count", "events", "era",
                 "_inserts", "_erases", "_snap")

    def __init__(self) -> None:
        tree = VmaGapTree()
        self._tree = tree
        self._cache = VmaCache()
        #: ``mm->mmap``: the first VMA of the list.
        self.mmap: VMA | None = None
        #: ``mm->highest_vm_end``: vm_end_gap of the last VMA, 0 when empty.
        self.highest_vm_end = 0
        #: ``mm->map_count``.
        self.map_count = 0
        #: the owning mm's cost-event recorder (disabled until the mm attaches its own)
        self.events: Any = _OFF
        self.era = None
        #: rb_insert_augmented / rb_erase_augmented calls, for the cost events
        self._inserts = 0
        self._erases = 0
        self._snap = self._event_state()

    # -- cost events ------------------------------------------------------------------------

    def _event_state(self) -> tuple[int, ...]:
        """The cumulative counts the cost events are deltas of."""
        cache = self._cache
        tree = self._tree
        nodes, _, _, list_updates = cache.thread_counts()
        hits, misses = cache.hits, cache.misses
        return (nodes, tree.rotations, tree.computes, list_updates, hits + misses, misses,
                cache.seqnum, self._inserts, self._erases)

    def attach_events(self, events: Any, era: Any) -> None:
        """Record into ``events`` (the owning mm's recorder); counting restarts here."""
        self.events = events
        self.era = era
        self._snap = self._event_state()

    def sync_events(self) -> None:
        """Forget work done while nobody recorded (the mm calls it as a recorded syscall or
        fault starts)."""
        self._snap = self._event_state()

    def flush_events(self) -> None:
        """Record what the index did since the last flush, from its own counters: rbtree
        node reads (``rb_walk``), rotations, ``rb_subtree_gap`` recomputations, list
        splices, vmacache lookups, misses (each followed by a walk and ``vmacache_update``)
        and invalidations, rbtree inserts and erases. The mm calls it at every lock
        transition, so each delta lands in the lock context that did the work."""
        cur = self._event_state()
        snap = self._snap
        if cur == snap:
            return
        self._snap = cur
        add = self.events.add
        for name, now, before in zip(_LEGACY_EVENTS, cur, snap):
            if now != before:
                add(name, now - before)
        if cur[5] != snap[5]:
            add("vmacache_update", cur[5] - snap[5])

    # -- introspection --------------------------------------------------------------------

    @property
    def counters(self) -> dict[str, int]:
        """A fresh dict of cumulative cost counts (exact and repeatable)."""
        cache = self._cache
        nodes, lines, vmas, list_updates = cache.thread_counts()
        tree = self._tree
        return {
            "nodes_visited": nodes,
            "cache_lines": lines + tree.cache_lines,
            "nodes_allocated": 0,
            "nodes_freed": 0,
            "rb_rotations": tree.rotations,
            "gap_updates": tree.computes,
            "vmacache_hits": cache.hits,
            "vmacache_misses": cache.misses,
            "list_updates": list_updates,
            "vmas_visited": vmas,
            "nodes_preallocated": 0,  # the rbtree's links are embedded in the VMAs
        }

    @property
    def vmacache(self) -> VmaCache:
        """This mm's vmacache (seqnum and per-thread slots)."""
        return self._cache

    @property
    def root(self) -> VMA | None:
        """The VMA at the root of ``mm_rb``."""
        return self._tree.root

    def __len__(self) -> int:
        return self.map_count

    def __iter__(self) -> Iterator[VMA]:
        """VMAs in address order, following ``vm_next`` (not counted)."""
        vma = self.mmap
        while vma is not None:
            nxt = vma.vm_next
            yield vma
            vma = nxt

    def __repr__(self) -> str:
        return f"<LegacyVmaIndex {self.map_count} VMAs>"

    # -- lookups --------------------------------------------------------------------------

    def find_vma(self, addr: int) -> VMA | None:
        """``find_vma``: the first VMA with ``end > addr``: vmacache, then the rbtree walk."""
        cache = self._cache
        tc = cache.thread()
        counts = tc.counts
        # vmacache_find, inlined (the hot path of every fault): see VmaCache.find.
        slots = tc.vmas
        if tc.seqnum == cache.seqnum:
            scanned = 0
            for vma in slots:
                if vma is not None:
                    scanned += 1
                    if vma.start <= addr < vma.end:
                        counts[_LINES] += scanned
                        counts[_VMAS] += scanned
                        tc.hits += 1
                        return vma
            counts[_LINES] += scanned
            counts[_VMAS] += scanned
        else:
            tc.seqnum = cache.seqnum
            slots[0] = slots[1] = slots[2] = slots[3] = None
        tc.misses += 1
        vma = None
        node = self._tree.root
        steps = 0
        while node is not None:
            steps += 1
            if node.end > addr:
                vma = node
                if node.start <= addr:
                    break
                node = node.rb_left
            else:
                node = node.rb_right
        counts[_NODES] += steps
        counts[_LINES] += steps
        counts[_VMAS] += steps
        if vma is not None:
            slots[(addr >> PAGE_SHIFT) & VMACACHE_MASK] = vma  # vmacache_update
        return vma

    def find_vma_prev(self, addr: int) -> tuple[VMA | None, VMA | None]:
        """``find_vma_prev``: ``(find_vma(addr), its vm_prev)``, prev = ``rb_last`` if none."""
        vma = self.find_vma(addr)
        if vma is not None:
            return vma, vma.vm_prev
        node = self._tree.root
        steps = 0
        if node is not None:
            steps = 1
            while node.rb_right is not None:
                node = node.rb_right
                steps += 1
        counts = self._cache.thread().counts
        counts[_NODES] += steps
        counts[_LINES] += steps
        counts[_VMAS] += steps
        return None, node

    def peek_vma(self, addr: int) -> VMA | None:
        """The first VMA with ``end > addr``, read without counting or touching the
        vmacache: the page-table model asks it which page-table pages ``free_pgtables``
        may free, and munmap whether a stack follows (the kernel knows both from the walk
        it already did)."""
        node = self._tree.root
        found = None
        while node is not None:
            if node.end > addr:
                found = node
                if node.start <= addr:
                    break
                node = node.rb_left
            else:
                node = node.rb_right
        return found

    def vma_lookup(self, addr: int) -> VMA | None:
        """``vma_lookup`` (v5.15): ``find_vma``, rejected unless it contains ``addr``."""
        vma = self.find_vma(addr)
        if vma is not None and addr < vma.start:
            return None
        return vma

    def find_vma_intersection(self, start: int, end: int) -> VMA | None:
        """``find_vma_intersection``: the first VMA overlapping ``[start, end)``."""
        vma = self.find_vma(start)
        if vma is not None and end <= vma.start:
            return None
        return vma

    def next_vma(self, vma: VMA) -> VMA | None:
        """``vma->vm_next``."""
        counts = self._cache.thread().counts
        counts[_LINES] += 1
        counts[_VMAS] += 1
        return vma.vm_next

    def prev_vma(self, vma: VMA) -> VMA | None:
        """``vma->vm_prev``."""
        counts = self._cache.thread().counts
        counts[_LINES] += 1
        counts[_VMAS] += 1
        return vma.vm_prev

    # -- linking --------------------------------------------------------------------------

    def _link_list(self, vma: VMA, prev: VMA | None, counts: list[int]) -> None:
        """``__vma_link_list``: splice ``vma`` in after ``prev`` (or at the head)."""
        vma.vm_prev = prev
        if prev is not None:
            nxt = prev.vm_next
            prev.vm_next = vma
            lines = 2
        else:
            nxt = self.mmap
            self.mmap = vma
            lines = 1
        vma.vm_next = nxt
        updates = 3
        if nxt is not None:
            nxt.vm_prev = vma
            updates += 1
            lines += 1
        counts[_LIST] += updates
        counts[_LINES] += lines

    def _link_rb(self, vma: VMA, parent: VMA | None, left: bool) -> None:
        """``__vma_link_rb``: fix the following gap, link with gap 0, set its gap, rebalance."""
        tree = self._tree
        nxt = vma.vm_next
        if nxt is not None:
            tree.propagate(nxt)  # vma_gap_update(vma->vm_next)
        else:
            self.highest_vm_end = _end_gap(vma)
        tree.link(vma, parent, left)
        vma.rb_subtree_gap = 0
        tree.propagate(vma)  # vma_gap_update(vma)
        tree.insert_color(vma)

    def insert(self, vma: VMA) -> None:
        """``vma_link``: ``find_vma_links`` to the slot, then list and rbtree links.

        Raises AssertionError if ``vma`` is empty or overlaps an indexed VMA (where the kernel's
        ``find_vma_links`` returns -ENOMEM); nothing is changed then.
        """
        start = vma.start
        end = vma.end
        if not start < end:
            raise AssertionError(f"insert: empty or inverted VMA [{start:#x}, {end:#x})")
        node = self._tree.root
        parent = None
        prev = None
        left = False
        steps = 0
        while node is not None:
            steps += 1
            parent = node
            if node.end > start:
                if node.start < end:
                    raise AssertionError(
                        f"insert: [{start:#x}, {end:#x}) overlaps "
                        f"[{node.start:#x}, {node.end:#x})"
                    )
                node = node.rb_left
                left = True
            else:
                prev = node
                node = node.rb_right
                left = False
        counts = self._cache.thread().counts
        counts[_NODES] += steps
        counts[_LINES] += steps
        counts[_VMAS] += steps
        self._link_list(vma, prev, counts)
        self._link_rb(vma, parent, left)
        self.map_count += 1
        self._inserts += 1

    def _is_linked(self, vma: VMA) -> bool:
        return vma.rb_parent is not None or self._tree.root is vma

    def remove(self, vma: VMA) -> None:
        """``__vma_unlink``: rbtree erase, list unlink, ``vmacache_invalidate``; then the gap
        of the following VMA (or ``highest_vm_end``) is refreshed."""
        if not self._is_linked(vma):
            raise AssertionError(f"remove: {vma!r} is not in this index")
        tree = self._tree
        tree.erase(vma)
        self._erases += 1
        prev = vma.vm_prev
        nxt = vma.vm_next
        counts = self._cache.thread().counts
        # __vma_unlink_list
        if prev is not None:
            prev.vm_next = nxt
        else:
            self.mmap = nxt
        updates = 1
        lines = 1
        if nxt is not None:
            nxt.vm_prev = prev
            updates += 1
            lines += 1
        counts[_LIST] += updates
        counts[_LINES] += lines
        self._cache.invalidate()
        if nxt is not None:
            tree.propagate(nxt)
        else:
            self.highest_vm_end = _end_gap(prev) if prev is not None else 0
        self.map_count -= 1
        _clear_links(vma)

    def remove_range(self, start: int, end: int, vmas: list[VMA]) -> None:
        """``detach_vmas_to_be_unmapped``: erase each VMA of the run from the rbtree, splice
        the run out of the list at once, fix the next gap, invalidate the vmacache once.

        ``vmas`` must be consecutive in the list, inside ``[start, end)``, and every VMA
        starting below ``end`` after the first must be in it (the caller split the edges).
        Checked before anything changes; AssertionError otherwise.
        """
        if not vmas:
            return
        first = vmas[0]
        if not self._is_linked(first):
            raise AssertionError(f"remove_range: {first!r} is not in this index")
        vma = first
        for i, expect in enumerate(vmas):
            if vma is not expect:
                raise AssertionError(
                    f"remove_range: vmas[{i}] {expect!r} is not the list successor {vma!r}"
                )
            if vma.start < start or vma.end > end:
                raise AssertionError(
                    f"remove_range: [{vma.start:#x}, {vma.end:#x}) is not inside "
                    f"[{start:#x}, {end:#x})"
                )
            vma = vma.vm_next
        if vma is not None and vma.start < end:
            raise AssertionError(
                f"remove_range: {vma!r} starts below {end:#x} but is not in vmas"
            )
        tree = self._tree
        counts = self._cache.thread().counts
        prev = first.vm_prev
        first.vm_prev = None
        updates = 1
        lines = 0
        vma = first
        tail = first
        while vma is not None and vma.start < end:
            tree.erase(vma)
            self._erases += 1
            self.map_count -= 1
            tail = vma
            vma = vma.vm_next
            lines += 1
        if prev is not None:
            prev.vm_next = vma
            lines += 1
        else:
            self.mmap = vma
        updates += 1
        if vma is not None:
            vma.vm_prev = prev
            updates += 1
            lines += 1
            tree.propagate(vma)
        else:
            self.highest_vm_end = _end_gap(prev) if prev is not None else 0
        tail.vm_next = None
        updates += 1
        counts[_LIST] += updates
        counts[_LINES] += lines
        self._cache.invalidate()
        for vma in vmas:
            _clear_links(vma)

    def adjust(self, vma: VMA, start: int, end: int) -> None:
        """``__vma_adjust`` without insert/remove: set new bounds, then ``vma_gap_update``
        of ``vma`` (start moved) and of the next VMA or ``highest_vm_end`` (end moved).

        The new range must stay clear of the neighbours (AssertionError otherwise, nothing
        changed); ``vma.start``/``vma.end`` are written here.
        """
        if not self._is_linked(vma):
            raise AssertionError(f"adjust: {vma!r} is not in this index")
        if not start < end:
            raise AssertionError(f"adjust: empty or inverted range [{start:#x}, {end:#x})")
        prev = vma.vm_prev
        nxt = vma.vm_next
        if prev is not None and prev.end > start:
            raise AssertionError(
                f"adjust: [{start:#x}, {end:#x}) overlaps previous VMA ending {prev.end:#x}"
            )
        if nxt is not None and nxt.start < end:
            raise AssertionError(
                f"adjust: [{start:#x}, {end:#x}) overlaps next VMA starting {nxt.start:#x}"
            )
        tree = self._tree
        counts = self._cache.thread().counts
        counts[_LINES] += 1
        if start != vma.start:
            vma.start = start
            tree.propagate(vma)
        if end != vma.end:
            vma.end = end
            if nxt is None:
                self.highest_vm_end = _end_gap(vma)
            else:
                tree.propagate(nxt)

    # -- gap search (v5.17) ---------------------------------------------------------------

    def _count_search(self, nodes: int, lines: int, vmas: int) -> None:
        counts = self._cache.thread().counts
        counts[_NODES] += nodes
        counts[_LINES] += lines
        counts[_VMAS] += vmas

    def unmapped_area(
        self, length: int, low: int, high: int, align_mask: int = 0, align_offset: int = 0
    ) -> int | None:
        """``unmapped_area``: lowest aligned start of ``length`` free bytes in ``[low, high)``.

        The v5.17 walk: go left while the left subtree may hold a large enough gap ending at
        or above ``low + length``; else test the node's own gap (the gap below it); else go
        right; else climb until arriving from a left child and test that node. Last, the gap
        above ``highest_vm_end``. ``length`` is padded by ``align_mask`` for the search, as in
        the kernel. None where the kernel returns -ENOMEM.
        """
        size = length + align_mask
        if high < size:
            return None
        high_limit = high - size
        if low > high_limit:
            return None
        low_limit = low + size
        vma = self._tree.root
        nodes = lines = vmas = 0
        found = False
        gap_start = gap_end = 0
        if vma is not None:
            nodes = lines = vmas = 1
            if vma.rb_subtree_gap >= size:
                arrived_from_left = False
                while True:
                    if not arrived_from_left:
                        # Visit the left subtree if it looks promising.
                        gap_end = _start_gap(vma)
                        lines += 1
                        if gap_end >= low_limit:
                            left = vma.rb_left
                            if left is not None:
                                lines += 1
                                vmas += 1
                                if left.rb_subtree_gap >= size:
                                    vma = left
                                    nodes += 1
                                    continue
                        prev = vma.vm_prev
                        if prev is not None:
                            gap_start = _end_gap(prev)
                            lines += 1
                            vmas += 1
                        else:
                            gap_start = 0
                    arrived_from_left = False
                    # check_current: the gap just below this VMA.
                    if gap_start > high_limit:
                        self._count_search(nodes, lines, vmas)
                        return None
                    if gap_end >= low_limit and gap_end > gap_start and gap_end - gap_start >= size:
                        found = True
                        break
                    # Visit the right subtree if it looks promising.
                    right = vma.rb_right
                    if right is not None:
                        lines += 1
                        vmas += 1
                        if right.rb_subtree_gap >= size:
                            vma = right
                            nodes += 1
                            continue
                    # Go back up to the next candidate node.
                    while True:
                        parent = vma.rb_parent
                        if parent is None:
                            break
                        child = vma
                        vma = parent
                        nodes += 1
                        lines += 1
                        vmas += 1
                        if child is parent.rb_left:
                            gap_start = _end_gap(vma.vm_prev)
                            gap_end = _start_gap(vma)
                            lines += 2
                            vmas += 1
                            arrived_from_left = True
                            break
                    if not arrived_from_left:
                        break  # climbed out of the root: check the highest gap
        if not found:
            # check_highest: the gap above the last VMA is not in the tree.
            gap_start = self.highest_vm_end
            if gap_start > high_limit:
                self._count_search(nodes, lines, vmas)
                return None
        self._count_search(nodes, lines, vmas)
        # Clip to the caller's low limit, then align up.
        if gap_start < low:
            gap_start = low
        gap_start += (align_offset - gap_start) & align_mask
        return gap_start

    # The mirror of unmapped_area, as in mm/mmap.c: the two walks differ in every branch (which
    # side first, where the highest gap is checked, which limit ends the search), not in names.
    def unmapped_area_topdown(
        self, length: int, low: int, high: int, align_mask: int = 0, align_offset: int = 0
    ) -> int | None:
        """``unmapped_area_topdown``: highest aligned start of ``length`` free bytes in
        ``[low, high)``.

        The v5.17 mirror walk: first the gap above ``highest_vm_end``; then, from the root,
        prefer right subtrees whose gaps start low enough, then the node's own gap, then the
        left subtree, climbing from right children. None where the kernel returns -ENOMEM.
        """
        size = length + align_mask
        if high < size:
            return None
        high_limit = high - size
        if low > high_limit:
            return None
        low_limit = low + size
        gap_end = high
        if self.highest_vm_end > high_limit:
            vma = self._tree.root
            if vma is None:
                return None
            nodes = lines = vmas = 1
            if vma.rb_subtree_gap < size:
                self._count_search(nodes, lines, vmas)
                return None
            arrived_from_right = False
            while True:
                if not arrived_from_right:
                    # Visit the right subtree if it looks promising.
                    prev = vma.vm_prev
                    if prev is not None:
                        gap_start = _end_gap(prev)
                        lines += 1
                        vmas += 1
                    else:
                        gap_start = 0
                    if gap_start <= high_limit:
                        right = vma.rb_right
                        if right is not None:
                            lines += 1
                            vmas += 1
                            if right.rb_subtree_gap >= size:
                                vma = right
                                nodes += 1
                                continue
                arrived_from_right = False
                # check_current
                gap_end = _start_gap(vma)
                lines += 1
                if gap_end < low_limit:
                    self._count_search(nodes, lines, vmas)
                    return None
                if gap_start <= high_limit and gap_end > gap_start and gap_end - gap_start >= size:
                    break
                # Visit the left subtree if it looks promising.
                left = vma.rb_left
                if left is not None:
                    lines += 1
                    vmas += 1
                    if left.rb_subtree_gap >= size:
                        vma = left
                        nodes += 1
                        continue
                # Go back up to the next candidate node.
                while True:
                    parent = vma.rb_parent
                    if parent is None:
                        self._count_search(nodes, lines, vmas)
                        return None
                    child = vma
                    vma = parent
                    nodes += 1
                    lines += 1
                    vmas += 1
                    if child is parent.rb_right:
                        prev = vma.vm_prev
                        if prev is not None:
                            gap_start = _end_gap(prev)
                            lines += 1
                            vmas += 1
                        else:
                            gap_start = 0
                        arrived_from_right = True
                        break
            self._count_search(nodes, lines, vmas)
            # Clip to the caller's high limit.
            if gap_end > high:
                gap_end = high
        # Highest aligned start that fits below gap_end.
        gap_end -= length
        gap_end -= (gap_end - align_offset) & align_mask
        return gap_end

    # -- whole-mm operations ----------------------------------------------------------------

    def dup(self, copy: Callable[[VMA], VMA | None]) -> LegacyVmaIndex:
        """``dup_mmap`` (pre-6.1): walk the parent's list and link each copy at the tail of
        the child's list and as the rightmost rbtree node, one ``__vma_link_rb`` at a time.

        ``copy`` returns the child's VMA, or None to skip (VM_DONTCOPY). Reading the parent's
        list is charged to this index; building the child is charged to the child.
        """
        child = LegacyVmaIndex()
        ccounts = child._cache.thread().counts
        read = 0
        prev = None
        vma = self.mmap
        while vma is not None:
            read += 1
            tmp = copy(vma)
            if tmp is not None:
                # vm_area_dup clears the list links; link at the list tail.
                tmp.vm_next = None
                tmp.vm_prev = prev
                if prev is not None:
                    prev.vm_next = tmp
                    ccounts[_LINES] += 1
                else:
                    child.mmap = tmp
                ccounts[_LIST] += 2
                # The rightmost slot is the right child of the previous copy.
                child._link_rb(tmp, prev, False)
                child.map_count += 1
                prev = tmp
            vma = vma.vm_next
        counts = self._cache.thread().counts
        counts[_LINES] += read
        counts[_VMAS] += read
        ev = self.events
        if ev.enabled:
            # dup_mmap's rbtree and list work happens in the forking task: record the
            # child's link-by-link build here (the child's own recorder starts after it)
            self.flush_events()
            cstate = child._event_state()
            if child.map_count:
                ev.add("rb_insert", child.map_count)
            for name, i in (("rb_rotate", 1), ("rb_gap_update", 2), ("vma_list_update", 3)):
                if cstate[i]:
                    ev.add(name, cstate[i])
        return child

    def clear(self) -> None:
        """``exit_mmap``: walk the list freeing every VMA (links cleared), empty the index.

        The vmacache seqnum is bumped too, so no thread can hit a freed VMA afterwards.
        """
        read = 0
        vma = self.mmap
        while vma is not None:
            read += 1
            nxt = vma.vm_next
            _clear_links(vma)
            vma = nxt
        counts = self._cache.thread().counts
        counts[_LINES] += read
        counts[_VMAS] += read
        self._tree.root = None
        self.mmap = None
        self.highest_vm_end = 0
        self.map_count = 0
        self._cache.invalidate()

    # -- invariants ---------------------------------------------------------------------------

    def validate(self) -> None:
        """Check every invariant; raise AssertionError naming the first broken one.

        The rbtree (colours, black height, parent links, exact ``rb_subtree_gap``, order by
        ``vm_start``), the list (head, back links, ascending non-overlapping non-empty VMAs,
        the same VMAs in the same order as the rbtree), ``map_count``, ``highest_vm_end``
        and the calling thread's vmacache (seqnum not ahead of the mm's; when current,
        every cached VMA is live in this index). Counts nothing.
        """
        tree = self._tree
        count = tree.check(key=_vm_start, own=vma_compute_gap)
        if count != self.map_count:
            raise AssertionError(f"rbtree holds {count} VMAs, map_count is {self.map_count}")
        live = set()
        prev = None
        vma = self.mmap
        rb = tree.first()
        n = 0
        while vma is not None:
            n += 1
            if n > self.map_count:
                raise AssertionError(f"list is longer than map_count {self.map_count}")
            if vma.vm_prev is not prev:
                raise AssertionError(f"{vma!r}: vm_prev is {vma.vm_prev!r}, expected {prev!r}")
            if not vma.start < vma.end:
                raise AssertionError(f"{vma!r}: empty range [{vma.start:#x}, {vma.end:#x})")
            if prev is not None and prev.end > vma.start:
                raise AssertionError(f"{prev!r} and {vma!r} overlap or are out of order")
            if rb is not vma:
                raise AssertionError(f"list has {vma!r} where the rbtree has {rb!r}")
            live.add(id(vma))
            rb = tree.next(rb)
            prev = vma
            vma = vma.vm_next
        if n != self.map_count:
            raise AssertionError(f"list holds {n} VMAs, map_count is {self.map_count}")
        highest = _end_gap(prev) if prev is not None else 0
        if self.highest_vm_end != highest:
            raise AssertionError(
                f"highest_vm_end is {self.highest_vm_end:#x}, expected {highest:#x}"
            )
        cache = self._cache
        tc = cache.thread()
        if tc.seqnum > cache.seqnum:
            raise AssertionError(f"thread seqnum {tc.seqnum} ahead of mm seqnum {cache.seqnum}")
        if tc.seqnum == cache.seqnum:
            for slot, cached in enumerate(tc.vmas):
                if cached is not None and id(cached) not in live:
                    raise AssertionError(f"vmacache slot {slot} holds unlinked {cached!r}")


#: event names of ``_event_state``'s fields, in order
_LEGACY_EVENTS = ("rb_walk", "rb_rotate", "rb_gap_update", "vma_list_update", "vmacache_lookup",
                  "vmacache_miss", "vmacache_invalidate", "rb_insert", "rb_erase")


def _vm_start(vma: VMA) -> int:
    return vma.start


#: Drop a detached VMA's links so it pins no neighbours (not counted): the links go back to
#: the state a new VMA starts in.
_clear_links = VmaLinks.__init__
