"""mmap and munmap semantics, case by case, on every index kind."""

from __future__ import annotations

import errno

import pytest

from maple.linux import MMAP_MIN_ADDR, STACK_GUARD_GAP, TASK_SIZE, VM_ACCOUNT, VM_GROWSDOWN, VM_SHARED
from maple.mm import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    File,
    MMError,
)
from mm_helpers import ANON, BASE, FIXED, RW, P, check, rel


def fixed(mm, page, pages, prot=RW, flags=FIXED, file=None, pgoff=0):
    addr = mm.mmap(BASE + page * P, pages * P, prot, flags, file, pgoff)
    assert addr == BASE + page * P
    return addr


# ---------------------------------------------------------------- placement


def test_topdown_placement_below_mmap_base_and_merging(mm):
    a = mm.mmap(0, 2 * P, RW, ANON)
    assert a == mm.mmap_base - 2 * P
    b = mm.mmap(0, 3 * P, RW, ANON)
    assert b == a - 3 * P
    # the second mapping merged into the first (vma_merge case 3): one VMA
    assert [(v.start, v.end) for v in mm.vmas()] == [(b, a + 2 * P)]
    check(mm)


def test_topdown_skips_holes_too_small(mm):
    top = mm.mmap_base
    mm.mmap(top - 2 * P, P, RW, FIXED)  # leaves a 1-page hole at the top
    addr = mm.mmap(0, 2 * P, PROT_READ, ANON)
    assert addr == top - 4 * P
    addr2 = mm.mmap(0, P, PROT_READ, ANON)  # fits the 1-page hole
    assert addr2 == top - P
    check(mm)


def test_hint_used_when_free_and_ignored_when_taken(mm):
    hint = BASE + 64 * P
    assert mm.mmap(hint, P, RW, ANON) == hint
    # taken: placed top-down instead, not over the existing mapping
    other = mm.mmap(hint, P, PROT_READ, ANON)
    assert other != hint and other == mm.mmap_base - P
    # an unaligned hint is rounded down to its page (round_hint_to_min)
    assert mm.mmap(hint + 5 * P + 123, P, PROT_READ, ANON) == hint + 5 * P
    check(mm)


def test_hint_below_mmap_min_addr_is_raised(mm):
    assert mm.mmap(P, P, RW, ANON) == MMAP_MIN_ADDR


def test_hint_respects_stack_guard_gap(mm):
    stack = BASE + 1024 * P
    mm.mmap(stack, 4 * P, RW, FIXED | MAP_GROWSDOWN)
    assert mm.vmas()[0].flags & VM_GROWSDOWN
    hint = stack - 8 * P  # inside the 256-page guard gap below the stack
    assert mm.mmap(hint, P, RW, ANON) != hint
    hint2 = stack - STACK_GUARD_GAP - P
    assert mm.mmap(hint2, P, RW, ANON) == hint2
    check(mm)


def test_topdown_search_respects_stack_guard_gap(mm):
    stack = BASE + 4096 * P
    mm.mmap(stack, 4 * P, RW, FIXED | MAP_GROWSDOWN)
    mm.mmap_base = stack
    addr = mm.mmap(0, 2 * P, RW, ANON)
    assert addr == stack - STACK_GUARD_GAP - 2 * P
    check(mm)


def test_topdown_falls_back_to_bottom_up(mm):
    mm.mmap_base = MMAP_MIN_ADDR + 2 * P  # nothing fits below mmap_base
    addr = mm.mmap(0, 4 * P, RW, ANON)
    assert addr == (TASK_SIZE // 3 + P - 1) & ~(P - 1)  # PAGE_ALIGN(TASK_SIZE / 3): 0x2aaaaaaab000


def test_unmapped_area_enomem_when_full(mm):
    with pytest.raises(MMError) as e:
        mm.mmap(0, TASK_SIZE, RW, ANON)
    assert e.value.errno == errno.ENOMEM


# ---------------------------------------------------------------- flags


def test_vm_account_for_private_writable_only(mm):
    fixed(mm, 0, 1, RW)
    fixed(mm, 2, 1, PROT_READ)
    fixed(mm, 4, 1, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    flags = [v.flags for v in mm.vmas()]
    assert flags[0] & VM_ACCOUNT and not flags[1] & VM_ACCOUNT and not flags[2] & VM_ACCOUNT
    assert flags[2] & VM_SHARED
    assert [v.perms for v in mm.vmas()] == ["rw-p", "r--p", "rw-s"]


def test_shared_anonymous_mappings_never_merge(mm):
    fixed(mm, 0, 1, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    fixed(mm, 1, 1, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    assert rel(mm) == [(0, 1, "rw-s"), (1, 2, "rw-s")]
    assert mm.vmas()[0].file is not mm.vmas()[1].file


def test_read_only_file_shared_writable_is_eacces(mm):
    ro = File("/etc/ro", writable=False)
    with pytest.raises(MMError) as e:
        fixed(mm, 0, 1, RW, MAP_SHARED | MAP_FIXED, ro)
    assert e.value.errno == errno.EACCES
    fixed(mm, 0, 1, PROT_READ, MAP_SHARED | MAP_FIXED, ro)
    assert mm.vmas()[0].perms == "r--s"
    # VM_MAYWRITE was cleared: it can never become writable
    with pytest.raises(MMError) as e:
        mm.mprotect(BASE, P, RW)
    assert e.value.errno == errno.EACCES


@pytest.mark.parametrize(
    "args, err",
    [
        ((BASE, 0, RW, ANON), errno.EINVAL),
        ((BASE, -P, RW, ANON), errno.EINVAL),
        ((BASE + 1, P, RW, FIXED), errno.EINVAL),
        ((BASE, P, RW, MAP_ANONYMOUS), errno.EINVAL),  # neither shared nor private
        ((BASE, P, RW, MAP_PRIVATE), errno.EBADF),  # no file
        ((TASK_SIZE - P, 2 * P, RW, FIXED), errno.ENOMEM),
    ],
)
def test_mmap_errors(mm, args, err):
    with pytest.raises(MMError) as e:
        mm.mmap(*args)
    assert e.value.errno == err
    assert mm.map_count == 0


def test_map_fixed_replaces_existing(mm):
    fixed(mm, 0, 6, RW)
    fixed(mm, 2, 2, PROT_READ)
    assert rel(mm) == [(0, 2, "rw-p"), (2, 4, "r--p"), (4, 6, "rw-p")]
    # same attributes again: splits and then merges back into one VMA (case 1)
    fixed(mm, 2, 2, RW)
    assert rel(mm) == [(0, 6, "rw-p")]
    # over several VMAs and a hole
    fixed(mm, 8, 2, PROT_READ)
    fixed(mm, 1, 8, PROT_EXEC | PROT_READ)
    assert rel(mm) == [(0, 1, "rw-p"), (1, 9, "r-xp"), (9, 10, "r--p")]
    check(mm)


def test_map_fixed_noreplace(mm):
    fixed(mm, 4, 2)
    with pytest.raises(MMError) as e:
        mm.mmap(BASE + 5 * P, 4 * P, RW, ANON | MAP_FIXED_NOREPLACE)
    assert e.value.errno == errno.EEXIST
    with pytest.raises(MMError) as e:
        mm.mmap(BASE + 3 * P, 2 * P, RW, ANON | MAP_FIXED_NOREPLACE)
    assert e.value.errno == errno.EEXIST
    assert mm.mmap(BASE + 6 * P, P, RW, ANON | MAP_FIXED_NOREPLACE) == BASE + 6 * P
    assert rel(mm) == [(4, 7, "rw-p")]
    check(mm)


# ---------------------------------------------------------------- merge cases on mmap


def test_merge_case1_prev_and_next(mm):
    fixed(mm, 0, 2)
    fixed(mm, 3, 2)
    before = mm.counters
    fixed(mm, 2, 1)
    assert rel(mm) == [(0, 5, "rw-p")]
    after = mm.counters
    assert after["merges"] - before["merges"] == 1
    assert after["vmas_freed"] - before["vmas_freed"] == 1
    assert after["vmas_allocated"] == before["vmas_allocated"]
    check(mm)


def test_merge_case2_prev_only(mm):
    fixed(mm, 0, 2)
    fixed(mm, 3, 2, PROT_READ)
    fixed(mm, 2, 1)
    assert rel(mm) == [(0, 3, "rw-p"), (3, 5, "r--p")]
    check(mm)


def test_merge_case3_next_only(mm):
    fixed(mm, 0, 2, PROT_READ)
    fixed(mm, 3, 2)
    fixed(mm, 2, 1)
    assert rel(mm) == [(0, 2, "r--p"), (2, 5, "rw-p")]
    assert mm.vmas()[1].pgoff == (BASE >> 12) + 2
    check(mm)


def test_file_merge_needs_pgoff_contiguity(mm):
    f = File("/lib/x.so")
    fixed(mm, 0, 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 0)
    fixed(mm, 2, 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 2)  # contiguous: merges
    assert rel(mm) == [(0, 4, "r--p")]
    fixed(mm, 4, 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 9)  # not contiguous
    fixed(mm, 6, 1, PROT_READ, MAP_PRIVATE | MAP_FIXED, File("/lib/y.so"), 11)  # other file
    assert rel(mm) == [(0, 4, "r--p"), (4, 6, "r--p"), (6, 7, "r--p")]
    # the hole-filling mapping below next must end exactly at next's pgoff
    fixed(mm, 10, 2, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 20)
    fixed(mm, 9, 1, PROT_READ, MAP_PRIVATE | MAP_FIXED, f, 19)
    assert rel(mm)[-1] == (9, 12, "r--p") and mm.vmas()[-1].pgoff == 19
    assert f.mapcount == 3
    check(mm)


def test_merge_anon_vma_compatibility(mm):
    fixed(mm, 0, 2)
    fixed(mm, 3, 2)
    mm.fault(BASE, write=True)  # prev gets anon_vma A
    mm.fault(BASE + 4 * P, write=True)  # next gets a different anon_vma B
    a, b = (v.anon_vma for v in mm.vmas())
    assert a is not None and b is not None and a is not b
    fixed(mm, 2, 1)
    # prev and next may not become one VMA (A != B): prev grows (case 2)
    assert rel(mm) == [(0, 3, "rw-p"), (3, 5, "rw-p")]
    assert mm.vmas()[0].anon_vma is a
    check(mm)


def test_mprotect_merges_into_prev_with_anon_vma(mm):
    fixed(mm, 0, 2)
    fixed(mm, 2, 2, PROT_READ)
    mm.fault(BASE, write=True)
    mm.mprotect(BASE + 2 * P, 2 * P, RW)  # same flags now, but no anon_vma on the right
    # mprotect merge: prev has anon_vma, the changed VMA none -> merge (case 7)
    assert rel(mm) == [(0, 4, "rw-p")]
    check(mm)


# ---------------------------------------------------------------- munmap


def test_munmap_splits_at_both_ends_and_middle(mm):
    fixed(mm, 0, 10)
    mm.munmap(BASE, P)  # head
    assert rel(mm) == [(1, 10, "rw-p")]
    mm.munmap(BASE + 9 * P, P)  # tail
    assert rel(mm) == [(1, 9, "rw-p")]
    before = mm.counters["splits"]
    mm.munmap(BASE + 4 * P, 2 * P)  # middle: two pieces remain
    assert rel(mm) == [(1, 4, "rw-p"), (6, 9, "rw-p")]
    assert mm.counters["splits"] - before == 2  # split at start, then at end
    assert mm.vmas()[1].pgoff == (BASE >> 12) + 6
    check(mm)


def test_munmap_across_several_vmas(mm):
    for i, prot in enumerate([PROT_READ, RW, PROT_EXEC, PROT_READ, RW]):
        fixed(mm, 2 * i, 2, prot)
    fixed(mm, 12, 2, PROT_NONE)
    assert mm.map_count == 6
    before = mm.counters
    mm.munmap(BASE + P, 8 * P)  # cuts into the first and the fifth, removes three
    assert rel(mm) == [(0, 1, "r--p"), (9, 10, "rw-p"), (12, 14, "---p")]
    after = mm.counters
    assert after["splits"] - before["splits"] == 2
    assert after["vmas_freed"] - before["vmas_freed"] == 5
    assert mm.map_count == 3
    check(mm)


def test_munmap_nothing_mapped_and_errors(mm):
    mm.munmap(BASE, 4 * P)  # nothing there: success
    fixed(mm, 0, 1)
    for args, err in [((BASE + 1, P), errno.EINVAL), ((BASE, 0), errno.EINVAL), ((TASK_SIZE + P, P), errno.EINVAL)]:
        with pytest.raises(MMError) as e:
            mm.munmap(*args)
        assert e.value.errno == err
    mm.munmap(BASE, 1)  # length rounds up to a page
    assert mm.map_count == 0


def test_munmap_drops_ptes_but_page_cache_survives(mm):
    f = File("/data/f")
    fixed(mm, 0, 4, RW, MAP_SHARED | MAP_FIXED, f, 0)
    for i in range(3):
        mm.fault(BASE + i * P, write=True)
    assert len(mm.page_table) == 3 and f.pages == {0, 1, 2}
    mm.munmap(BASE, 4 * P)
    assert not mm.page_table and f.pages == {0, 1, 2} and f.mapcount == 0
    fixed(mm, 8, 4, RW, MAP_SHARED | MAP_FIXED, f, 1)
    mm.fault(BASE + 8 * P)
    assert f.pages == {0, 1, 2} and f.mapcount == 1
    assert mm.counters["pages_unmapped"] == 3
    check(mm)


# ---------------------------------------------------------------- map_count limit


def test_default_limit_is_linux_default(mm):
    assert mm.max_map_count == 65530


def test_map_count_limit_enomem(mm):
    mm.max_map_count = 6
    for i in range(7):  # do_mmap refuses only once map_count exceeds the limit
        fixed(mm, 2 * i, 1, RW if i % 2 else PROT_READ)
    assert mm.map_count == 7
    with pytest.raises(MMError) as e:
        fixed(mm, 40, 1)
    assert e.value.errno == errno.ENOMEM
    # do_mmap checks the count before anything else, even for a mapping that would merge
    with pytest.raises(MMError) as e:
        fixed(mm, 1, 1, PROT_READ)
    assert e.value.errno == errno.ENOMEM
    assert mm.map_count == 7
    check(mm)


def test_map_count_limit_split_and_munmap(mm):
    fixed(mm, 0, 8)
    mm.max_map_count = 1
    with pytest.raises(MMError) as e:
        mm.munmap(BASE + 2 * P, P)  # middle split
    assert e.value.errno == errno.ENOMEM
    with pytest.raises(MMError) as e:
        mm.mprotect(BASE + 2 * P, P, PROT_READ)
    assert e.value.errno == errno.ENOMEM
    mm.munmap(BASE, P)  # an edge split adds no VMA overall: allowed
    assert rel(mm) == [(1, 8, "rw-p")]
    check(mm)


@pytest.mark.slow
def test_map_count_limit_at_65530(kind):
    from mm_helpers import new_mm

    mm = new_mm(kind)
    for i in range(65531):
        mm.mmap(BASE + 2 * i * P, P, PROT_READ, FIXED)
    with pytest.raises(MMError) as e:
        mm.mmap(0, P, PROT_READ, ANON)
    assert e.value.errno == errno.ENOMEM
    mm.validate()
