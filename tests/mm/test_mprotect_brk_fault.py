"""mprotect (every vma_merge case it reaches), brk, page faults and fork, on every index."""

from __future__ import annotations

import errno

import pytest

from maple.linux import STACK_GUARD_GAP, VM_ACCOUNT, VM_DONTCOPY, VM_WIPEONFORK
from maple.mm import (
    MAP_GROWSDOWN,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    File,
    MMError,
    SegmentationFault,
)
from maple.mm.mm import PTE_PRESENT, PTE_WRITE
from mm_helpers import BASE, FIXED, RW, P, check, new_mm, rel

R = PROT_READ
RX = PROT_READ | PROT_EXEC
RWX = RW | PROT_EXEC


def fixed(mm, page, pages, prot=RW, flags=FIXED, file=None, pgoff=0):
    return mm.mmap(BASE + page * P, pages * P, prot, flags, file, pgoff)


# ---------------------------------------------------------------- mprotect


def test_mprotect_split_middle_and_merge_back(mm):
    fixed(mm, 0, 6)
    mm.mprotect(BASE + 2 * P, 2 * P, R)
    assert rel(mm) == [(0, 2, "rw-p"), (2, 4, "r--p"), (4, 6, "rw-p")]
    assert mm.counters["splits"] == 2
    check(mm)
    mm.mprotect(BASE + 2 * P, 2 * P, RW)  # case 6: prev absorbs the middle and next
    assert rel(mm) == [(0, 6, "rw-p")]
    assert mm.vmas()[0].pgoff == BASE >> 12
    check(mm)


def test_mprotect_with_anon_vma_keeps_account_and_merges_back(mm):
    fixed(mm, 0, 6)
    mm.fault(BASE, write=True)
    mm.mprotect(BASE + 2 * P, 2 * P, R)
    vmas = mm.vmas()
    assert len({id(v.anon_vma) for v in vmas}) == 1  # splits share the anon_vma
    assert all(v.flags & VM_ACCOUNT for v in vmas)  # an anon_vma keeps the charge
    mm.mprotect(BASE + 2 * P, 2 * P, RW)
    assert rel(mm) == [(0, 6, "rw-p")]
    check(mm)


def test_mprotect_read_only_keeps_vm_account_in_61(mm):
    fixed(mm, 0, 2)
    fixed(mm, 2, 2, R)
    mm.mprotect(BASE, 2 * P, R)
    assert mm.vmas()[0].flags & VM_ACCOUNT  # "cannot reduce our commit" (v6.1)
    assert rel(mm) == [(0, 2, "r--p"), (2, 4, "r--p")]  # so it cannot merge


def test_mprotect_read_only_drops_vm_account_without_anon_vma_current(kind):
    mm = new_mm(kind, rules="current")
    fixed(mm, 0, 2)
    fixed(mm, 2, 2, R)
    mm.mprotect(BASE, 2 * P, R)
    assert rel(mm) == [(0, 4, "r--p")] and not mm.vmas()[0].flags & VM_ACCOUNT
    mm.mprotect(BASE, 2 * P, RW)
    assert mm.vmas()[0].flags & VM_ACCOUNT
    check(mm)


def test_anon_vma_merge_rules_differ_between_61_and_current(kind):
    """Memory with an anon_vma joining a neighbour without one: 6.1 refuses (the neighbour's
    anon_vma chain is empty, not singular), current kernels let the neighbour take it."""
    for rules, expected in (("6.1", [(0, 2, "rw-p"), (2, 4, "rw-p")]), ("current", [(0, 4, "rw-p")])):
        mm = new_mm(kind, rules=rules)
        fixed(mm, 0, 2)  # no anon_vma
        fixed(mm, 2, 2, R)
        mm.mprotect(BASE + 2 * P, 2 * P, RW)
        mm.fault(BASE + 2 * P, write=True)  # merged already (no anon_vma on either side)
        assert rel(mm) == [(0, 4, "rw-p")]
        mm.munmap(BASE, 4 * P)
        fixed(mm, 2, 2)
        mm.fault(BASE + 2 * P, write=True)  # [2, 4) gets an anon_vma
        mm.mprotect(BASE + 2 * P, 2 * P, R)
        fixed(mm, 0, 2)  # a fresh neighbour without anon_vma, different prot: no merge
        assert mm.map_count == 2
        mm.mprotect(BASE + 2 * P, 2 * P, RW)  # src has an anon_vma, target (prev) none
        assert rel(mm) == expected, rules
        check(mm)


def test_mprotect_wrprotects_ptes(mm):
    fixed(mm, 0, 2)
    mm.fault(BASE, write=True)
    assert mm.page_table[BASE >> 12] == PTE_PRESENT | PTE_WRITE
    mm.mprotect(BASE, 2 * P, R)
    assert mm.page_table[BASE >> 12] == PTE_PRESENT


# ---------------------------------------------------------------- brk


def test_brk_zero_returns_break_and_below_start_is_refused(mm):
    start = mm.brk(0)
    assert start == mm.start_brk
    assert mm.brk(start - P) == start
    assert mm.map_count == 0


def test_brk_grows_in_place_and_shrinks(mm):
    start = mm.brk(0)
    assert mm.brk(start + 100) == start + 100  # sub-page break: one page mapped
    assert [(v.start, v.end) for v in mm.vmas()] == [(start, start + P)]
    heap = mm.vmas()[0]
    assert mm.brk(start + 5 * P) == start + 5 * P
    assert mm.vmas() == [heap] and heap.end == start + 5 * P  # expanded in place
    assert mm.counters["brk_expansions"] == 1
    assert mm.brk(start + 2 * P) == start + 2 * P
    assert [(v.start, v.end) for v in mm.vmas()] == [(start, start + 2 * P)]
    assert mm.maps().splitlines()[0].endswith("[heap]")
    assert mm.brk(start + 2 * P - 10) == start + 2 * P - 10  # same page: only the value
    assert mm.map_count == 1
    assert mm.brk(start) == start
    assert mm.map_count == 0
    check(mm)


def test_brk_refuses_to_hit_next_vma(mm):
    start = mm.brk(0)
    fixed_at = start + 8 * P
    mm.mmap(fixed_at, P, RW, FIXED)
    assert mm.brk(start + 7 * P) == start + 7 * P  # one page left before the next VMA
    assert mm.brk(start + 8 * P) == start + 7 * P  # would leave no page: refused
    check(mm)


def test_brk_refuses_the_stack_guard_gap(mm):
    start = mm.brk(0)
    stack = start + STACK_GUARD_GAP + 16 * P
    mm.mmap(stack, 4 * P, RW, FIXED | MAP_GROWSDOWN)
    assert mm.brk(start + 15 * P) == start + 15 * P
    assert mm.brk(start + 16 * P) == start + 15 * P
    check(mm)


def test_brk_next_to_incompatible_vma_creates_new_vma(mm):
    start = mm.brk(0)
    mm.brk(start + P)
    mm.mprotect(start, P, R)
    mm.brk(start + 2 * P)
    assert [(v.start, v.end, v.perms) for v in mm.vmas()] == [
        (start, start + P, "r--p"),
        (start + P, start + 2 * P, "rw-p"),
    ]
    check(mm)


# ---------------------------------------------------------------- faults


def test_fault_unmapped_is_segv_maperr(mm):
    with pytest.raises(SegmentationFault) as e:
        mm.fault(BASE)
    assert e.value.code == "SEGV_MAPERR" and e.value.errno == errno.EFAULT
    fixed(mm, 4, 1)
    with pytest.raises(SegmentationFault) as e:
        mm.fault(BASE + 2 * P)  # in the gap below a normal VMA
    assert e.value.code == "SEGV_MAPERR"
    assert isinstance(e.value, MMError) and isinstance(e.value, OSError)


def test_fault_permissions_are_segv_accerr(mm):
    fixed(mm, 0, 1, R)
    fixed(mm, 2, 1, PROT_NONE)
    mm.fault(BASE)
    with pytest.raises(SegmentationFault) as e:
        mm.fault(BASE, write=True)
    assert e.value.code == "SEGV_ACCERR" and e.value.errno == errno.EACCES
    with pytest.raises(SegmentationFault) as e:
        mm.fault(BASE + 2 * P)
    assert e.value.errno == errno.EACCES


def test_fault_maps_pages_and_counts(mm):
    fixed(mm, 0, 4)
    mm.fault(BASE + 10)  # read: zero page, no anon_vma yet
    assert mm.page_table == {BASE >> 12: PTE_PRESENT}
    assert mm.vmas()[0].anon_vma is None
    mm.fault(BASE + 20, write=True)  # write to the zero page: COW (wp_page_copy), anon_vma
    assert mm.page_table == {BASE >> 12: PTE_PRESENT | PTE_WRITE}
    assert mm.vmas()[0].anon_vma is not None
    mm.fault(BASE + 30, write=True)
    c = mm.counters
    assert (c["faults"], c["pages_mapped"], c["cow_faults"], c["minor_faults"]) == (3, 1, 1, 1)


def test_fault_private_file_write_is_cow(mm):
    f = File("/lib/data")
    fixed(mm, 0, 2, RW, MAP_PRIVATE | 0x10, f, 3)
    mm.fault(BASE + P, write=True)
    assert f.pages == {4}
    assert mm.counters["cow_faults"] == 1 and mm.vmas()[0].anon_vma is not None


def test_fault_grows_stack_down(mm):
    top = BASE + 1024 * P
    mm.mmap(top - 2 * P, 2 * P, RW, FIXED | MAP_GROWSDOWN)
    mm.fault(top - 5 * P + 8, write=True)
    (stack,) = mm.vmas()
    assert (stack.start, stack.end) == (top - 5 * P, top)
    assert stack.pgoff == (top - 5 * P) >> 12
    assert mm.counters["stack_expansions"] == 1
    check(mm)


def test_stack_growth_stops_at_guard_gap(mm):
    top = BASE + 1024 * P
    mm.mmap(top - 2 * P, 2 * P, RW, FIXED | MAP_GROWSDOWN)
    low_end = top - 2 * P - STACK_GUARD_GAP - 4 * P
    mm.mmap(low_end - P, P, R, FIXED)
    mm.fault(low_end + STACK_GUARD_GAP)  # exactly the guard gap away: allowed
    with pytest.raises(SegmentationFault) as e:
        mm.fault(low_end + STACK_GUARD_GAP - P)
    assert e.value.code == "SEGV_MAPERR"
    check(mm)


def test_shared_page_cache_is_per_file(kind):
    f = File("/dev/shm/x")
    a, b = new_mm(kind), new_mm(kind)
    for mm in (a, b):
        mm.mmap(BASE, 4 * P, RW, MAP_SHARED | 0x10, f, 0)
    a.fault(BASE, write=True)
    b.fault(BASE + P)
    assert f.pages == {0, 1} and f.mapcount == 2


# ---------------------------------------------------------------- fork and exit


def test_fork_copies_vmas_and_first_child_brk_creates_new_vma(kind):
    parent = new_mm(kind, layout="cat")
    start = parent.brk(0)
    heap = parent.find_vma(start - 1)
    assert heap.anon_vma is not None
    child = parent.fork()
    assert [(v.start, v.end, v.flags, v.pgoff) for v in child.vmas()] == [
        (v.start, v.end, v.flags, v.pgoff) for v in parent.vmas()
    ]
    assert all(c is not p for c, p in zip(child.vmas(), parent.vmas()))
    n = parent.map_count
    # child: the inherited heap VMA has a two-entry anon_vma chain, so brk adds a VMA
    child.brk(start + P)
    assert child.map_count == n + 1
    child.brk(start + 2 * P)  # the new VMA itself is mergeable: grows in place
    assert child.map_count == n + 1
    child.brk(start)
    assert child.map_count == n
    # parent: its heap VMA's chain is still singular, brk expands it in place
    parent.brk(start + P)
    assert parent.map_count == n
    check(parent)
    check(child)


def test_fork_cow_and_dontcopy_and_wipeonfork(mm):
    fixed(mm, 0, 2)
    fixed(mm, 4, 2, R)
    fixed(mm, 8, 2, PROT_EXEC)
    mm.fault(BASE, write=True)
    vmas = mm.vmas()
    vmas[1].flags |= VM_DONTCOPY
    vmas[2].flags |= VM_WIPEONFORK
    child = mm.fork()
    assert rel(child) == [(0, 2, "rw-p"), (8, 10, "--xp")]
    assert child.page_table == {BASE >> 12: PTE_PRESENT}
    assert mm.page_table == {BASE >> 12: PTE_PRESENT}  # both sides write-protected
    child.fault(BASE, write=True)
    assert child.counters["cow_faults"] == 1
    assert child.vmas()[0].anon_vma.parent is vmas[0].anon_vma
    assert child.vmas()[0].anon_vma_chain == 2
    check(child)


def test_exit_frees_everything(kind):
    mm = new_mm(kind, layout="cat")
    n = mm.map_count
    mm.fault(mm.brk(0) - 1, write=True)
    mm.exit()
    assert mm.map_count == 0 and mm.vmas() == [] and not mm.page_table
    c = mm.counters
    assert c["vmas_freed"] == n and c["exits"] == 1
    check(mm)
