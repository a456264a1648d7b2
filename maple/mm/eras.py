"""Kernel eras: which code path each simulated kernel takes where Linux changed its VMA code.

An ``Era`` is a small policy object: the syscall layer (``maple.mm.mm.MM``) and the maple VMA
index consult it at the few branch points where the kernels differ -- brk shrinking the heap
in place or through munmap, how tree writes get their nodes (on demand, worst-case or precise
preallocation), when the VMA tree is in RCU mode, how munmap's detached side tree holds the
doomed VMAs, how fork copies the tree, which lock a page fault takes, and how large the
page-cache folios a file fault finds are and how much of one it maps. Everything else is
one implementation, so two eras differ in the cost events they record only because their
code paths differ (docs/eras/ has one page per era with the kernel commits).

Facts and sources: ../shared/reference/kernel-eras.md (sections 2-5) and the kernel trees
cited there (v5.17 ``mm/mmap.c``; the v5 maple patch set of Feb 2022; v6.1 ``mm/mmap.c`` and
``lib/maple_tree.c``; v6.18 ``mm/vma.c``, ``mm/mmap.c``, ``mm/memory.c``, ``kernel/fork.c``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Era", "ERAS", "LEGACY", "MAPLE_V5", "MAPLE", "CURRENT"]


@dataclass(frozen=True)
class Era:
    """One kernel's VMA code paths, as the flags the shared syscall layer branches on.

    ``index``: ``"legacy"`` (augmented rbtree + VMA list + vmacache) or ``"maple"``.
    ``rules``: the merge/accounting rules (``maple.mm.mm.RULES``).
    ``brk_shrink_in_place``: brk shrinks the heap VMA in place (``do_brk_munmap`` of the v5
    patch set) instead of going through munmap (split + detach).
    ``prealloc``: how VMA tree writes get nodes: ``"none"`` (``mas_store_gfp``, on demand),
    ``"worst"`` (v6.1 ``mas_preallocate``: ``1 + 3 * height`` per write) or ``"precise"``
    (6.5+ / 6.12+ store types: what the store type needs).
    ``rcu``: the VMA tree's RCU mode: ``"never"``, ``"multi-user"`` (v5: ``mmget`` sets it,
    sticky, once the mm has a second user) or ``"always"`` (6.3+ ``MM_MT_FLAGS``).
    ``rcu_append_in_place``: an append stays in place in RCU mode (v5; 6.12+ makes it a node
    store).
    ``side_tree``: munmap's detached tree: ``"range"`` (VMAs at their own ranges: one node for
    a single VMA), ``"count"`` (6.5+ SIDETREE: indexed by count, the first VMA at index 0 in
    the root pointer with no node) or ``"none"`` (legacy: a list splice).
    ``munmap_clear_gfp``: munmap's NULL store allocates on demand (6.12+
    ``vma_iter_clear_gfp``) rather than from the preallocation.
    ``downgrade_checks_neighbours``: munmap refuses to downgrade next to a ``VM_GROWSDOWN``
    VMA (until 6.5, "mm: always downgrade mmap_lock if requested").
    ``fork``: ``"rbtree"`` (link by link), ``"insert"`` (in-order maple insertion with
    ``mas_expected_entries``) or ``"mt_dup"`` (6.8+ ``__mt_dup``).
    ``fault_lock``: ``"mmap"`` (``mmap_read_trylock``) or ``"vma"`` (per-VMA lock,
    ``lock_vma_under_rcu``, falling back to the mmap_lock).
    ``vma_free_rcu``: VMAs are freed through RCU (6.4 .. 6.14; the typesafe slab since ~6.15
    frees them at once).
    ``file_folios``: regular files' page cache holds large folios, sized by readahead
    (``maple.mm.readahead``; ext4 since v6.16, 7ac67301e82f "ext4: enable large folio for
    regular file"), and a fault on a cached PMD-sized folio whose PMD is empty maps it with one
    PMD (``finish_fault`` -> ``do_set_pmd``). Off: one order-0 page per missing-page fault.
    ``fault_maps_folio``: ``finish_fault`` maps every page of a file folio that lies in the VMA
    and in the faulting page table, when none of their PTEs is set (v6.18, Kiryl Shutsemau's
    "mm/fault: Try to map the entire file folio in finish_fault()"; before it, only
    shmem/tmpfs: v6.11 anonymous shmem, v6.17 tmpfs). A COW fault still maps its one copy.
    ``readahead_pages``: the backing device's readahead window (``bdi->ra_pages``, pages): a
    property of the machine, not of the kernel; measured on this host (``read_ahead_kb`` 8192
    of the root disk, ``docs/eras/current.md``).
    ``thp_align_files``: mmap places a regular file's mapping (without a hint that fits) so
    that it is 2 MiB-congruent with its file offset, ext4's ``thp_get_unmapped_area`` (for
    non-DAX files since v5.18, "mm/readahead: Align file mappings for non-DAX"); it lets
    ``do_set_pmd`` map PMD-sized folios. Only ``current`` sets it (see docs/eras/current.md).
    ``max_folio_order``: the largest page-cache folio order (x86-64 ``MAX_PAGECACHE_ORDER`` =
    ``HPAGE_PMD_ORDER`` = 9; ext4's ``EXT4_MAX_PAGECACHE_ORDER`` is the same with 4 KiB
    blocks).
    """

    name: str
    kernel: str
    date: str
    summary: str
    index: str
    rules: str = "6.1"
    brk_shrink_in_place: bool = False
    prealloc: str = "none"
    rcu: str = "never"
    rcu_append_in_place: bool = True
    side_tree: str = "range"
    munmap_clear_gfp: bool = False
    downgrade_checks_neighbours: bool = True
    fork: str = "insert"
    fault_lock: str = "mmap"
    vma_free_rcu: bool = False
    file_folios: bool = False
    fault_maps_folio: bool = False
    readahead_pages: int = 2048
    max_folio_order: int = 9
    thp_align_files: bool = False

    def __str__(self) -> str:
        return f"{self.name} ({self.kernel}, {self.date}): {self.summary}"


#: v5.17: augmented rbtree + VMA list + per-thread vmacache (kernel-eras.md section 2)
LEGACY = Era(
    "legacy", "v5.17", "2022-03",
    "augmented rbtree, VMA list and vmacache; brk shrink splits the heap VMA",
    index="legacy", side_tree="none", fork="rbtree",
)

#: the maple tree patch set v5 (Feb 2022) that Mel Gorman measured (section 3)
MAPLE_V5 = Era(
    "maple-v5", "v5.17-rc3 + maple v5", "2022-02",
    "the seed's patch set: in-place brk grow and shrink, on-demand nodes, RCU once an mm has a second user",
    index="maple", brk_shrink_in_place=True, prealloc="none", rcu="multi-user",
)

#: v6.1 as merged (Dec 2022): split back in brk, worst-case preallocation, RCU off (section 4)
MAPLE = Era(
    "maple", "v6.1", "2022-12",
    "maple tree as merged: brk shrink splits again, worst-case preallocation 1+3*height, no RCU",
    index="maple", prealloc="worst",
)

#: v6.18, the running kernel of this project's machine (section 5)
CURRENT = Era(
    "current", "v6.18", "2025-11",
    "RCU tree with RCU-deferred node frees, precise preallocation, __mt_dup fork, per-VMA-lock faults, "
    "large page-cache folios mapped whole by one fault",
    index="maple", rules="current", prealloc="precise", rcu="always", rcu_append_in_place=False,
    side_tree="count", munmap_clear_gfp=True, downgrade_checks_neighbours=False, fork="mt_dup",
    fault_lock="vma", file_folios=True, fault_maps_folio=True, thp_align_files=True,
)

#: every era by name, oldest first
ERAS: dict[str, Era] = {e.name: e for e in (LEGACY, MAPLE_V5, MAPLE, CURRENT)}
