"""Large page-cache folios (era ``current``): readahead sizes them, one fault maps a whole folio.

The host's facts these mirror (docs/eras/current.md): a sequential pass of shared write
faults over a sparse 128 MiB ext4 file leaves 2048 order-0 pages, then 2048 pages each of
order 2, 4, 6, 8 and the rest order 9 (PMD-mapped), and takes one fault per folio.
"""

from __future__ import annotations

from collections import Counter

import pytest

from maple.mm import KINDS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, File, make_mm
from maple.mm.mm import PTE_HUGE, PTE_WRITE
from maple.mm.readahead import next_ra_size
from mm_helpers import BASE, P, RW, check, total

MiB = 1 << 20
#: eras whose file faults map one page each
PER_PAGE = tuple(k for k in KINDS if not KINDS[k].fault_maps_folio)


def recording(kind: str = "current"):
    mm = make_mm(kind)
    mm.events.enabled = True
    return mm


def touch_pass(mm, f: File, size: int, flags: int = MAP_SHARED, addr: int = BASE, pgoff: int = 0):
    """mmap ``size`` bytes of ``f`` at ``addr``, write every page through the MMU, munmap;
    returns (faults, events of the faults, events of the munmap)."""
    a = mm.mmap(addr, size, RW, flags | MAP_FIXED, f, pgoff)
    mm.events.take()
    f0 = mm.counters["faults"]
    for off in range(0, size, P):
        mm.touch(a + off, write=True)
    faults = mm.counters["faults"] - f0
    ev = total(mm.events.take())
    check(mm)
    mm.munmap(a, size)
    zap = total(mm.events.take())
    check(mm)
    return faults, ev, zap


def warm_file(kind: str = "current") -> tuple:
    """A recording mm of ``kind`` and a 128 MiB file whose page cache one shared write pass
    has filled (the steady state of page_fault3)."""
    mm = recording(kind)
    f = File("/tmp/wis", size=128 * MiB)
    touch_pass(mm, f, 128 * MiB)
    return mm, f


def folio_sizes(f: File) -> Counter:
    """Folio size (pages) -> how many folios of that size ``f``'s page cache holds."""
    out: Counter = Counter()
    for p in f.pages:
        head, n = f.folio(p)
        if head == p:
            out[n] += 1
    return out


def test_next_ra_size_ramps_then_caps():
    assert [next_ra_size(c, 2048) for c in (4, 64, 512, 1024, 2048)] == [16, 256, 1024, 2048, 2048]


def test_a_sequential_pass_creates_the_hosts_folio_ramp():
    mm = recording()
    f = File("/tmp/wis", size=128 * MiB)
    faults, ev, zap = touch_pass(mm, f, 128 * MiB)
    assert folio_sizes(f) == {1: 2048, 4: 512, 16: 128, 64: 32, 256: 8, 512: 44}
    assert faults == 2772 == ev["fault"]
    assert ev["page_cache_alloc"] == 32768  # every page once, by readahead
    assert ev["page_mkwrite"] == faults  # ext4_page_mkwrite: once per folio
    # 44 PMD entries; every other page has its own PTE
    assert ev["pte_set"] == 32768 - 44 * 512 + 44
    assert ev["pte_table_alloc"] == 20  # the first 10240 pages: 20 PTE tables; no table under a PMD
    assert zap["pte_zap"] == 32768 - 44 * 512 + 44 and zap["pte_table_free"] == 20


def test_the_steady_state_pass_finds_every_folio_cached():
    mm, f = warm_file()
    faults, ev, _ = touch_pass(mm, f, 128 * MiB)
    assert faults == 2772
    assert ev["page_cache_hit"] == ev["page_mkwrite"] == faults
    assert "page_cache_alloc" not in ev
    assert mm.counters["pages_mapped"] == 2 * 32768


@pytest.mark.parametrize("kind", PER_PAGE)
def test_older_eras_fault_every_page(kind):
    mm = recording(kind)
    f = File("/tmp/wis", size=16 * MiB)
    for _ in range(2):
        faults, ev, zap = touch_pass(mm, f, 16 * MiB)
        assert faults == ev["pte_set"] == ev["page_mkwrite"] == zap["pte_zap"] == 4096
    assert f.folio_order == {}


def test_private_write_faults_copy_one_page_each():
    mm = recording()
    f = File("/tmp/wis", size=16 * MiB)
    touch_pass(mm, f, 16 * MiB)  # the cache now holds order-0 and order-2 folios
    faults, ev, _ = touch_pass(mm, f, 16 * MiB, MAP_PRIVATE)
    assert faults == ev["page_copy"] == ev["pte_set"] == 4096
    assert mm.counters["cow_faults"] == 4096


def test_a_folio_beyond_the_vma_falls_back_to_one_page():
    mm = recording()
    f = File("/tmp/wis", size=16 * MiB)
    touch_pass(mm, f, 16 * MiB)  # pages 2048.. are order-2 folios
    # map file pages [2049, 2059): the folio at 2048 starts before the VMA, the one at 2056
    # ends after it; [2052, 2056) lies inside
    a = mm.mmap(BASE, 10 * P, RW, MAP_SHARED | MAP_FIXED, f, 2049)
    mm.events.take()
    faulted = [k for k in range(10) if mm.touch(a + k * P, write=True)]
    check(mm)
    assert faulted == [0, 1, 2, 3, 7, 8, 9]
    assert total(mm.events.take())["pte_set"] == 3 + 4 + 3


def test_a_folio_across_two_page_tables_falls_back_to_one_page():
    mm = recording()
    f = File("/tmp/wis", size=16 * MiB)
    touch_pass(mm, f, 16 * MiB)
    # file page 2048 (an order-2 folio's head) at 2 pages below a 2 MiB boundary
    a = BASE + 2 * MiB - 2 * P
    mm.mmap(a, 8 * P, RW, MAP_SHARED | MAP_FIXED, f, 2048)
    faulted = [k for k in range(8) if mm.touch(a + k * P, write=True)]
    check(mm)
    # [2048, 2052) crosses the table boundary: per page; [2052, 2056) is one table's
    assert faulted == [0, 1, 2, 3, 4]


def test_a_present_pte_in_the_folio_falls_back_to_one_page():
    mm = recording()
    f = File("/tmp/wis", size=16 * MiB)
    touch_pass(mm, f, 16 * MiB)
    a = mm.mmap(BASE, 4 * P, RW, MAP_PRIVATE | MAP_FIXED, f, 2048)  # one order-2 folio
    mm.fault(a + P, write=True)  # COW: one private page
    mm.events.take()
    mm.fault(a + 2 * P)  # read: pte_range_none fails, finish_fault maps one page
    assert total(mm.events.take())["pte_set"] == 1
    assert sorted(mm.page_table) == [(a >> 12) + 1, (a >> 12) + 2]
    check(mm)


def test_a_read_fault_maps_the_whole_folio_read_only():
    mm = recording()
    f = File("/tmp/wis", size=16 * MiB)
    touch_pass(mm, f, 16 * MiB)
    a = mm.mmap(BASE, 4 * P, RW, MAP_SHARED | MAP_FIXED, f, 2048)
    mm.fault(a + 3 * P)
    assert [mm.page_table[(a >> 12) + k] & PTE_WRITE for k in range(4)] == [0, 0, 0, 0]
    mm.events.take()
    assert mm.touch(a + P, write=True)  # write to a read-only PTE: per page (wp_page_shared)
    ev = total(mm.events.take())
    assert ev["page_mkwrite"] == ev["pte_set"] == 1
    assert not mm.touch(a + 2 * P)
    check(mm)


def test_pmd_mapping_and_its_partial_unmap():
    mm, f = warm_file()
    # file pages [10240, 10752) are one order-9 folio; map 4 MiB from there at a 2 MiB boundary
    a = mm.mmap(BASE, 4 * MiB, RW, MAP_SHARED | MAP_FIXED, f, 10240)
    mm.events.take()
    assert mm.touch(a + 5 * P, write=True)
    ev = total(mm.events.take())
    assert ev["pte_set"] == 1 and "pte_table_alloc" not in ev
    assert len(mm.page_table) == 512 and all(v & PTE_HUGE for v in mm.page_table.values())
    assert not any(mm.touch(a + k * P, write=True) for k in range(512))
    check(mm)
    # unmapping one page drops the whole PMD (the rest re-faults)
    mm.munmap(a + 7 * P, P)
    zap = total(mm.events.take())
    assert zap["pte_zap"] == 1 and "pte_table_free" not in zap
    assert mm.page_table == {}
    check(mm)
    mm.events.take()
    assert mm.touch(a, write=True)  # now inside a VMA of 7 pages: one page
    assert total(mm.events.take())["pte_set"] == 1
    check(mm)


def test_a_misaligned_vma_maps_a_pmd_folio_page_by_page():
    mm, f = warm_file()
    a = mm.mmap(BASE + P, 4 * MiB, RW, MAP_SHARED | MAP_FIXED, f, 10240)  # vm_start - pgoff unaligned
    assert mm.touch(a, write=True) and mm.touch(a + P, write=True)
    assert len(mm.page_table) == 2
    check(mm)


def test_a_write_to_a_read_only_pmd_splits_and_remaps_it():
    mm, f = warm_file()
    a = mm.mmap(BASE, 2 * MiB, RW, MAP_SHARED | MAP_FIXED, f, 10240)
    mm.fault(a)
    assert all(v == PTE_HUGE | 1 for v in mm.page_table.values())
    mm.events.take()
    mm.fault(a + 9 * P, write=True)
    ev = total(mm.events.take())
    assert ev["pte_zap"] == 1 and ev["pte_set"] == 1 and ev["page_mkwrite"] == 1
    assert len(mm.page_table) == 512 and all(v & PTE_WRITE and v & PTE_HUGE for v in mm.page_table.values())
    check(mm)
    mm.mprotect(a, 2 * MiB, PROT_READ)  # change_huge_pmd: one entry
    assert all(v == PTE_HUGE | 1 for v in mm.page_table.values())
    mm.mprotect(a, P, PROT_READ | 0)  # no-op on flags already read-only
    check(mm)


def test_fork_leaves_a_file_pmd_to_the_childs_faults():
    mm, f = warm_file()
    a = mm.mmap(BASE, 2 * MiB, RW, MAP_PRIVATE | MAP_FIXED, f, 10240)
    mm.fault(a)  # read: PMD-mapped, read-only
    mm.fault(a + 2 * MiB - P, write=False)
    anon = mm.mmap(0, P, RW, MAP_PRIVATE | 0x20)
    mm.fault(anon, write=True)
    v = mm.find_vma(a)
    mm._anon_vma_prepare(v)  # a private file VMA with an anon_vma has its PTEs copied
    child = mm.fork()
    assert not any(p & PTE_HUGE for p in child.page_table.values())
    check(mm)
    check(child)
    assert child.touch(a + 5 * P)  # the child re-faults
    check(child)
    child.exit()
    mm.exit()


def test_shmem_gets_no_readahead():
    mm = recording()
    a = mm.mmap(0, 64 * P, RW, MAP_SHARED | 0x20)  # shared anonymous: a shmem file
    mm.events.take()
    assert all(mm.touch(a + k * P, write=True) for k in range(64))
    ev = total(mm.events.take())
    assert ev["page_cache_alloc"] == ev["pte_set"] == 64
    check(mm)


def test_exit_counts_a_pmd_as_one_entry():
    mm, f = warm_file()
    a = mm.mmap(BASE, 2 * MiB + 4 * P, RW, MAP_SHARED | MAP_FIXED, f, 10240)
    mm.fault(a, write=True)
    mm.fault(a + 2 * MiB, write=True)  # the next order-9 folio sticks out of the VMA: one page
    mm.events.take()
    mm.exit()
    ev = total(mm.events.take())
    assert ev["pte_zap"] == 2 and ev["pte_table_free"] == 1


@pytest.mark.parametrize("layout", [None, "cat"])
def test_file_mappings_are_placed_pmd_congruent_with_their_offset(layout):
    mm = make_mm("current", layout=layout)
    f = File("/tmp/wis", size=256 * MiB)
    for pgoff in (0, 1, 511, 512):
        a = mm.mmap(0, 128 * MiB, RW, MAP_SHARED, f, pgoff)
        assert (a - pgoff * P) % (2 * MiB) == 0, (hex(a), pgoff)
    # no aligned 2 MiB of the file inside: the plain search
    assert mm._thp_get_unmapped_area(0, 2 * MiB, 1) == 0
    assert mm._thp_get_unmapped_area(0, 2 * MiB, 0) != 0
    mm.mmap(0, 2 * MiB, RW, MAP_SHARED, f, 1)
    check(mm)


@pytest.mark.parametrize("kind", PER_PAGE)
def test_older_eras_place_file_mappings_as_before(kind):
    a, b = make_mm(kind, layout="cat"), make_mm(kind, layout="cat")
    f = File("/tmp/wis")
    assert a.mmap(0, 128 * MiB, RW, MAP_SHARED, f) == b.mmap(0, 128 * MiB, RW, MAP_PRIVATE | 0x20)


@pytest.mark.parametrize("kind", ["current", *PER_PAGE])
def test_page_mkwrite_walks_every_block_of_the_folio(kind):
    """ext4's block_page_mkwrite works per buffer_head of the whole folio, however many of its
    pages the fault maps: one block per page touched in steady state, whatever the folio sizes;
    one page_mkwrite per fault."""
    mm, f = warm_file(kind)
    faults, ev, _zap = touch_pass(mm, f, 128 * MiB)
    assert ev["page_mkwrite"] == faults
    assert ev["page_mkwrite_block"] == 128 * MiB // P
    if kind == "current":
        assert faults == sum(folio_sizes(f).values()) < ev["page_mkwrite_block"]
