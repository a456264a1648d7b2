"""Kernel cost events: what a syscall's or a fault's code path does, in order, by lock context.

The model clock (``maple.clock``) turns time into something the seed's tables can be compared
with: every syscall and page fault on a simulated mm *records the kernel-level events its code
path performs* (a VMA allocated, a maple node copied, an rbtree rotation, a TLB shootdown, ...),
and a cost profile prices each event in nanoseconds. The events come from executing the code
path, never from a per-workload table.

Events are grouped into **segments**: a maximal run of events done in one *lock context*.

=========  ===========================================================================
context    meaning
=========  ===========================================================================
``none``   outside ``mmap_lock`` (syscall entry, the exception entry of a fault, ...)
``read``   holding ``mmap_lock`` for read (faults before per-VMA locks, downgraded munmap)
``write``  holding ``mmap_lock`` for write (mmap, munmap, mprotect, brk, fork)
``vma``    holding one VMA's per-VMA lock only (faults from 6.4 on); ``Segment.lock`` names it
=========  ===========================================================================

A segment boundary is a lock transition: ``none -> write`` is an acquisition, ``write -> read``
a downgrade (``mmap_write_downgrade``), ``read -> none`` a release. The scheduler replays those
transitions against its model of the kernel rwsem, so contention comes from the order of
segments, and cost from their events.

Recording is off unless a clock asks for it (``recorder.enabled = True``): the hot paths call
``add`` unconditionally, and a disabled recorder returns at once.

The vocabulary (``EVENTS``) is the contract between the mm (which emits) and cost profiles
(which price); a profile must price every name here.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CONTEXTS", "EVENTS", "Segment", "EventRecorder"]

#: lock contexts, see the module docstring
CONTEXTS = ("none", "read", "write", "vma")

#: event name -> what one occurrence is (kernel function where it has one)
EVENTS: dict[str, str] = {
    # entry and locking
    "syscall": "one syscall entry and exit (entry_SYSCALL_64 .. sysret)",
    "fault": "one page-fault exception entry and exit (asm_exc_page_fault, do_user_addr_fault)",
    "mmap_lock": "one uncontended mmap_lock acquire + release (atomic RMW pair on mm->mmap_lock)",
    "mmap_lock_downgrade": "mmap_write_downgrade",
    "vma_lock": "one per-VMA lock acquire + release (lock_vma_under_rcu, vma_end_read)",
    "vma_write_lock": "vma_start_write: one VMA marked write-locked until mmap_write_unlock (6.4+)",
    # the mmap path
    "do_mmap": "the mmap syscall's own path, beyond the events it shares with brk: vm_mmap_pgoff, "
               "security_mmap_file/security_mmap_addr, do_mmap's checks, get_unmapped_area's setup "
               "(its tree search is node_walk), mmap_region's state, vma_set_page_prot, ksm/khugepaged hooks",
    # VMAs and anon_vmas
    "vma_alloc": "vm_area_alloc (slab alloc + zero of a vm_area_struct)",
    "vma_dup": "vm_area_dup (slab alloc + copy), as in __split_vma and dup_mmap",
    "vma_free": "vm_area_free, immediate",
    "vma_free_rcu": "vm_area_free deferred to an RCU grace period (6.4+)",
    "anon_vma_alloc": "anon_vma_alloc",
    "anon_vma_free": "anon_vma_free",
    "avc_alloc": "anon_vma_chain_alloc",
    "avc_free": "anon_vma_chain free (unlink_anon_vmas)",
    "anon_vma_lock": "one anon_vma root rwsem write cycle (anon_vma_lock_write/unlock)",
    "i_mmap_lock": "one i_mapping->i_mmap rwsem write cycle with an interval-tree update",
    # the maple tree
    "node_walk": "one maple node read during a walk (a cache line or two of pivots/slots)",
    "node_write": "one in-place maple node write (slot store, append, pivot or gap update)",
    "node_copy": "one maple node rebuilt by copying (on-stack node store, split, rebalance)",
    "node_alloc": "one maple node allocated on demand (mas_alloc_nodes from mas_store_gfp)",
    "node_prealloc": "one maple node allocated by mas_preallocate",
    "node_prealloc_unused": "one preallocated node returned unused (mas_destroy)",
    "node_free": "one maple node freed at once",
    "node_free_rcu": "one maple node freed after an RCU grace period (ma_free_rcu)",
    "gap_update": "one level of maple gap propagation (mas_update_gap)",
    # the legacy index
    "rb_walk": "one rbtree node read during a descent",
    "rb_insert": "rb_insert_augmented (link + recolour)",
    "rb_erase": "rb_erase_augmented",
    "rb_rotate": "one rbtree rotation",
    "rb_gap_update": "one rb_subtree_gap recomputation (vma_gap_update / augment propagate)",
    "vma_list_update": "one vm_next/vm_prev list splice",
    "vmacache_lookup": "vmacache_find (seqnum check + up to 4 compares)",
    "vmacache_miss": "a vmacache lookup that missed",
    "vmacache_update": "vmacache_update after a tree walk",
    "vmacache_invalidate": "vmacache_invalidate (mm->vmacache_seqnum++)",
    # page tables, pages and TLB
    "pte_table_alloc": "one page-table page allocated (__pte_alloc)",
    "pte_table_free": "one page-table page freed (free_pgtables)",
    "pte_set": "one PTE installed (or one PMD entry mapping a PMD-sized file folio, do_set_pmd)",
    "pte_zap": "one PTE cleared (zap_pte_range; or one file PMD entry, zap_huge_pmd / __split_huge_pmd)",
    "pte_copy": "one PTE copied at fork (copy_page_range)",
    "page_zero": "one anonymous page allocated and zeroed",
    "page_copy": "one page allocated and copied by a write to a present read-only private PTE (wp_page_copy)",
    "page_cache_hit": "one folio found in the page cache by a fault (filemap_fault's lookup)",
    "page_cache_alloc": "one page added to the page cache (by a fault, or by the readahead it started)",
    "page_mkwrite": "one shared-file write fault's page_mkwrite + dirtying (of the whole folio)",
    "page_mkwrite_block": "one block of that folio walked by page_mkwrite (ext4_page_mkwrite -> "
                          "block_page_mkwrite: __block_write_begin_int and block_commit_write per "
                          "buffer_head; 4 KiB blocks: one per page of the folio)",
    "tlb_flush_local": "one local TLB flush (range or full)",
    "tlb_shootdown": "one TLB flush IPI round to the other CPUs running this mm",
    # fork and exit
    "fork_vma": "one VMA copied at fork (dup_mmap per-VMA work beyond the allocations)",
    "mt_dup_node": "one maple node copied by __mt_dup (6.8+ fork)",
}


class Segment(NamedTuple):
    """Events done in one lock context, in program order.

    ``ctx``: one of ``CONTEXTS``; ``lock``: the per-VMA lock's key in ``vma`` context, else
    ``None``; ``events``: event name -> count.
    """

    ctx: str
    lock: object
    events: dict[str, int]


class EventRecorder:
    """Collects the events of one mm's code paths as a list of segments.

    ``add(name, n)`` counts an event in the current context; ``enter(ctx, lock)`` starts a new
    segment (a lock transition); ``take()`` returns the segments recorded since the last call
    and starts afresh in context ``none``. Disabled (the default), ``add`` and ``enter`` do
    nothing, so the syscall paths pay one attribute test when no model clock is running.
    """

    __slots__ = ("enabled", "_segments", "_events", "_ctx", "_lock")

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self._segments: list[Segment] = []
        self._events: dict[str, int] = {}
        self._ctx = "none"
        self._lock: object = None

    def add(self, name: str, n: int = 1) -> None:
        """Count ``n`` occurrences of event ``name`` in the current context."""
        if self.enabled:
            ev = self._events
            ev[name] = ev.get(name, 0) + n

    def enter(self, ctx: str, lock: object = None) -> None:
        """Close the current segment and continue in ``ctx`` (a lock transition)."""
        if not self.enabled:
            return
        if self._events or ctx != self._ctx:
            self._segments.append(Segment(self._ctx, self._lock, self._events))
            self._events = {}
        self._ctx = ctx
        self._lock = lock

    @property
    def context(self) -> str:
        """The current lock context."""
        return self._ctx

    def take(self) -> list[Segment]:
        """The segments since the last ``take`` (empty ones dropped); resets to ``none``."""
        segs = self._segments
        if self._events:
            segs.append(Segment(self._ctx, self._lock, self._events))
        self._segments = []
        self._events = {}
        self._ctx = "none"
        self._lock = None
        return [s for s in segs if s.events or s.ctx != "none"]
