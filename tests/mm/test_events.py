"""Cost events: what each syscall and fault path records, split by lock context."""

from __future__ import annotations

import pytest

from maple.mm import EVENTS, KINDS, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, File, make_mm
from mm_helpers import ANON, BASE, FIXED, P, RW, total

ERAS = tuple(KINDS)


def ctxs(segments) -> list[str]:
    return [s.ctx for s in segments]


def recording(kind: str, layout: str | None = "cat", fork: bool = False):
    mm = make_mm(kind, layout=layout)
    if fork:
        mm = mm.fork()
    mm.events.enabled = True
    return mm


@pytest.mark.parametrize("kind", ERAS)
def test_events_are_off_by_default(kind):
    mm = make_mm(kind, layout="cat")
    assert mm.events.enabled is False
    base = mm.brk(0)
    mm.brk(base + P)
    mm.brk(base)
    addr = mm.mmap(0, 4 * P, RW, ANON)
    mm.fault(addr, write=True)
    mm.munmap(addr, 4 * P)
    assert mm.events.take() == []


@pytest.mark.parametrize("kind", ERAS)
def test_recording_does_not_change_the_counters(kind):
    def run(record: bool):
        mm = make_mm(kind, layout="cat")
        mm.events.enabled = record
        base = mm.brk(0)
        for _ in range(3):
            mm.brk(base + 2 * P)
            mm.brk(base + P)
        addr = mm.mmap(0, 64 * P, RW, ANON)
        for i in range(0, 64, 5):
            mm.fault(addr + i * P, write=True)
        mm.mprotect(addr + 8 * P, 8 * P, PROT_READ)
        mm.munmap(addr + 4 * P, 20 * P)
        child = mm.fork()
        child.exit()
        return mm.counters, mm.maps()

    assert run(True) == run(False)


@pytest.mark.parametrize("kind", ["legacy", "maple"])
def test_brk_that_creates_a_vma_vs_one_that_expands_in_place(kind):
    # processes mode: after fork the heap's anon_vma chain is not singular, so brk adds a VMA
    child = recording(kind, fork=True)
    base = child.brk(0)
    child.events.take()
    child.brk(base + P)
    create = total(child.events.take())
    # threads mode: the parent's heap (own anon_vma) expands in place
    mm = recording(kind)
    base = mm.brk(0)
    mm.events.take()
    mm.brk(base + P)
    expand = total(mm.events.take())
    assert create["vma_alloc"] == 1 and "vma_alloc" not in expand
    assert "anon_vma_lock" not in create and expand["anon_vma_lock"] == 1
    assert create["syscall"] == expand["syscall"] == 1
    assert create["mmap_lock"] == expand["mmap_lock"] == 1
    if kind == "legacy":
        assert create["rb_insert"] == 1 and "rb_insert" not in expand
        assert expand["rb_gap_update"] >= 1
        assert create["vmacache_lookup"] >= 1
    else:
        # 6.1: the new VMA goes in with mas_store_gfp (an on-stack node store, no node);
        # the in-place expansion preallocates 1 + 3 * height and hands every node back
        assert create["node_copy"] == 1 and "node_prealloc" not in create
        height = mm.index.tree.height
        assert expand["node_prealloc"] == expand["node_prealloc_unused"] == 1 + 3 * height
        assert expand["node_write"] == 1 and "node_copy" not in expand
        assert create["node_walk"] > 0 and expand["node_walk"] > 0


@pytest.mark.parametrize("kind", ERAS)
def test_do_mmap_is_the_mmap_path_alone(kind):
    # every mmap call goes through do_mmap, failed or merged ones too; brk, munmap and
    # mprotect never do (do_brk_flags and do_vmi_munmap are their own paths)
    mm = recording(kind, layout=None)
    addr = mm.mmap(BASE, 2 * P, RW, FIXED)
    mm.mmap(addr + 2 * P, P, RW, FIXED)  # merges with the first
    assert total(mm.events.take())["do_mmap"] == 2
    mm.mprotect(addr, P, PROT_READ)
    mm.munmap(addr, 3 * P)
    mm.brk(mm.brk(0) + P)
    assert "do_mmap" not in total(mm.events.take())


@pytest.mark.parametrize("kind", ERAS)
def test_munmap_segments_write_then_downgraded_read(kind):
    mm = recording(kind, layout=None)
    addr = mm.mmap(BASE, 8 * P, RW, FIXED)  # alone in its 2 MiB: its page table goes too
    mm.fault(addr, write=True)
    mm.events.take()
    mm.munmap(addr, 8 * P)
    segs = mm.events.take()
    assert ctxs(segs) == ["none", "write", "read"]
    none, write, read = segs
    assert none.events == {"syscall": 1}
    assert write.events["mmap_lock"] == 1 and write.events["mmap_lock_downgrade"] == 1
    # the unmap phase runs after the downgrade: zap, TLB flush, page table, VMA and anon frees
    assert read.events["pte_zap"] == 1
    assert read.events["tlb_flush_local"] == 1 and "tlb_shootdown" not in read.events
    assert read.events["pte_table_free"] == 1
    assert read.events.get("vma_free", 0) + read.events.get("vma_free_rcu", 0) == 1
    assert read.events["avc_free"] == 1 and read.events["anon_vma_free"] == 1
    # recording starts over in context none
    assert mm.events.context == "none"


@pytest.mark.parametrize("kind", ERAS)
def test_a_second_user_turns_the_flush_into_a_shootdown(kind):
    mm = recording(kind)
    mm.users = 4
    addr = mm.mmap(0, 8 * P, RW, ANON)
    mm.fault(addr, write=True)
    mm.events.take()
    mm.munmap(addr, 8 * P)
    ev = total(mm.events.take())
    assert ev["tlb_flush_local"] == 1 and ev["tlb_shootdown"] == 1
    with pytest.raises(ValueError):
        mm.users = 0


@pytest.mark.parametrize("kind", ERAS)
def test_page_tables_of_a_malloc1_op(kind):
    """malloc1: mmap 128 MiB + 1 page, write the header, munmap: one PTE table each way
    (alone in the address space, so no neighbour lends its anon_vma or shares the table)."""
    mm = recording(kind, layout=None)
    length = (128 << 20) + P
    for _ in range(2):
        addr = mm.mmap(0, length, RW, ANON)
        mm.fault(addr, write=True)
        mm.munmap(addr, length)
        ev = total(mm.events.take())
        assert ev["pte_table_alloc"] == 1 and ev["pte_table_free"] == 1
        assert ev["page_zero"] == 1 and ev["pte_set"] == 1 and ev["pte_zap"] == 1
        assert ev["anon_vma_alloc"] == 1 and ev["anon_vma_free"] == 1
        assert ev["syscall"] == 2 and ev["fault"] == 1


@pytest.mark.parametrize("kind", ERAS)
def test_a_page_table_shared_with_a_neighbour_stays(kind):
    mm = recording(kind)
    mm.mmap(BASE, 2 * P, RW, FIXED)
    mm.mmap(BASE + 2 * P, 2 * P, PROT_READ, FIXED)  # same 2 MiB, different flags
    mm.fault(BASE, write=True)
    mm.fault(BASE + 2 * P)
    mm.events.take()
    mm.munmap(BASE, 2 * P)
    ev = total(mm.events.take())
    assert ev["pte_zap"] == 1 and "pte_table_free" not in ev
    mm.munmap(BASE + 2 * P, 2 * P)
    assert total(mm.events.take())["pte_table_free"] == 1


@pytest.mark.parametrize("kind", ERAS)
def test_file_faults_find_or_add_page_cache_pages(kind):
    mm = recording(kind)
    f = File("/tmp/data")
    addr = mm.mmap(0, 4 * P, RW, MAP_SHARED, f)
    mm.fault(addr, write=True)
    first = total(mm.events.take())
    mm.munmap(addr, 4 * P)
    addr = mm.mmap(0, 4 * P, RW, MAP_SHARED, f)
    mm.events.take()
    mm.fault(addr, write=True)
    again = total(mm.events.take())
    # eras with large page-cache folios read around the fault: a whole window, of order-0
    # folios (the first window's order), so each fault still maps one page
    window = mm.era.readahead_pages if mm.era.file_folios else 1
    assert first["page_cache_alloc"] == window and "page_cache_hit" not in first
    assert first["pte_set"] == again["pte_set"] == 1
    assert again["page_cache_hit"] == 1 and "page_cache_alloc" not in again
    assert first["page_mkwrite"] == again["page_mkwrite"] == 1
    assert "anon_vma_alloc" not in first  # shared file pages need no anon_vma


@pytest.mark.parametrize("kind", ERAS)
def test_fork_records_the_copies_and_the_child_records_on_its_own(kind):
    mm = recording(kind)
    addr = mm.mmap(0, 4 * P, RW, ANON)
    mm.fault(addr, write=True)
    mm.fault(addr + P, write=True)
    mm.events.take()
    child = mm.fork()
    segs = mm.events.take()
    ev = total(segs)
    assert ctxs(segs) == ["none", "write"]
    n = mm.map_count
    assert ev["vma_dup"] == ev["fork_vma"] == n
    assert ev["pte_copy"] == 2 and ev["pte_table_alloc"] == 1
    assert ev["anon_vma_alloc"] == sum(v.anon_vma is not None for v in mm.vmas())
    assert ev["tlb_flush_local"] == 1 and ev["mmap_lock"] == 2
    assert child.events is not mm.events and child.events.enabled
    assert child.events.take() == []
    child.brk(child.brk(0) + P)
    assert total(child.events.take())["syscall"] == 2  # brk(0), then the grow
    assert mm.events.take() == []


def test_every_recorded_name_is_in_the_vocabulary():
    seen: set[str] = set()
    f = File("/tmp/x")  # shared by every mm below: later ones find its pages cached
    for kind in ERAS:
        for fork in (False, True):
            mm = recording(kind, fork=fork)
            mm.users = 1 if fork else 3
            base = mm.brk(0)
            for _ in range(2):
                mm.brk(base + 3 * P)
                mm.brk(base + P)
            a = mm.mmap(0, 32 * P, RW, ANON)
            b = mm.mmap(0, 8 * P, RW, MAP_PRIVATE, f)
            for i in range(8):
                mm.fault(a + i * P, write=i % 2 == 0)
                mm.fault(b + i * P, write=i % 3 == 0)
            mm.fault(a, write=True)  # write to a read-only PTE: COW
            mm.mprotect(a, 4 * P, PROT_READ)
            mm.mprotect(a, 4 * P, RW)
            mm.munmap(a + 2 * P, 4 * P)
            c = mm.fork()
            c.exit()
            mm.exit()
            for seg in mm.events.take():
                seen.update(seg.events)
    assert seen <= set(EVENTS), sorted(seen - set(EVENTS))
    # the paths above reach most of the vocabulary
    for name in ("syscall", "fault", "mmap_lock", "mmap_lock_downgrade", "vma_alloc", "vma_dup",
                 "vma_free", "anon_vma_alloc", "avc_alloc", "avc_free", "anon_vma_lock",
                 "i_mmap_lock", "node_walk", "node_write", "node_copy", "node_alloc",
                 "node_prealloc", "node_prealloc_unused", "node_free", "node_free_rcu",
                 "rb_walk", "rb_insert", "rb_erase", "rb_gap_update", "vma_list_update",
                 "vmacache_lookup", "vmacache_miss", "vmacache_invalidate", "pte_table_alloc",
                 "pte_table_free", "pte_set", "pte_zap", "pte_copy", "page_zero", "page_copy",
                 "page_cache_alloc", "page_cache_hit", "tlb_flush_local", "tlb_shootdown",
                 "fork_vma", "mt_dup_node", "vma_lock", "vma_write_lock"):
        assert name in seen, name


@pytest.mark.parametrize("kind", ERAS)
def test_a_fault_on_a_gap_records_its_lock_and_fails(kind):
    from maple.mm import SegmentationFault

    mm = recording(kind, layout=None)
    mm.mmap(BASE, P, RW, FIXED)
    mm.events.take()
    with pytest.raises(SegmentationFault):
        mm.fault(BASE + 8 * P)
    segs = mm.events.take()
    assert ctxs(segs) == ["none", "read"]
    assert segs[1].events["mmap_lock"] == 1
    assert mm.events.context == "none"


def test_mmap_fixed_over_a_mapping_unmaps_without_downgrading():
    mm = recording("maple", layout=None)
    mm.mmap(BASE, 4 * P, RW, FIXED)
    mm.fault(BASE, write=True)
    mm.events.take()
    mm.mmap(BASE, 4 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
    segs = mm.events.take()
    assert ctxs(segs) == ["none", "write"]
    assert segs[1].events["pte_zap"] == 1 and "mmap_lock_downgrade" not in segs[1].events


@pytest.mark.parametrize("kind", [k for k in ERAS if k != "legacy"])
def test_nodes_preallocated_is_what_the_eras_preallocation_requests(kind):
    """The counter and the ``node_prealloc`` events are one number: the v5 patch set allocates
    on demand (0), v6.1 requests 1 + 3 * height per mas_preallocate bracket (a split's adjust
    and insert share one), ``mas_store_gfp`` writes (brk's new VMA) request nothing."""
    def calls(mm) -> int:
        before = mm.counters["nodes_preallocated"]
        base = mm.brk(0)
        for _ in range(3):
            mm.brk(base + P)  # new VMA: mas_store_gfp
            mm.brk(base)  # munmap of the whole VMA
        addr = mm.mmap(0, 64 * P, RW, ANON)
        mm.mprotect(addr + 8 * P, 8 * P, PROT_READ)  # two splits
        mm.munmap(addr, 64 * P)
        return mm.counters["nodes_preallocated"] - before

    mm = make_mm(kind, layout="cat").fork()  # processes mode: brk grows by a new VMA
    mm.events.enabled = True
    counted = calls(mm)
    assert counted == total(mm.events.take()).get("node_prealloc", 0)
    # recording off, the counter comes from the write path's own preallocation: the same
    assert calls(make_mm(kind, layout="cat").fork()) == counted
    era = KINDS[kind]
    if era.prealloc == "none":
        assert counted == 0
    elif era.prealloc == "worst":
        assert mm.index.tree.height == 2
        # 3 brk shrinks (munmap), the mmap, mprotect's two splits, the munmap: 7 requests of 7
        assert counted == 7 * 7
    else:
        assert 0 < counted < 6 * (1 + 3 * mm.index.tree.height)


def test_store_classification_agrees_with_the_tree_on_spanning_and_exact_stores(monkeypatch):
    """The index classifies each write before it happens (for its events); the tree decides
    the same cases while storing. A differential over random VMA-like stores: SPANNING exactly
    when the tree takes its spanning store, EXACT exactly when the write covers one stored
    range or one empty run exactly."""
    import random

    from maple.mm.maple_index import EXACT, ROOT, SPANNING, MapleVmaIndex
    from maple.tree import MapleTree

    spans = []
    real = MapleTree._spanning_store

    def spy(self, *args):
        spans.append(True)
        return real(self, *args)

    monkeypatch.setattr(MapleTree, "_spanning_store", spy)
    index = MapleVmaIndex()
    mt = index.tree
    rng = random.Random(7)
    page = 4096
    for step in range(3000):
        start = rng.randrange(0, 4000) * page
        end = start + rng.randrange(1, 40) * page
        entry = None if rng.random() < 0.4 else f"v{step}"
        kind, _ = index._store_type(start, end - 1, entry)
        got = mt.find(start, end - 1)
        bounded = (start == 0 or mt.load(start - 1) is not None) and mt.load(end) is not None
        if got is None:  # inside one empty run: a NULL is widened to the run (mas_wr_extend_null)
            exact = entry is None or bounded
        else:  # one stored range exactly, not widened into empty neighbours by a NULL
            exact = (got[0], got[1]) == (start, end - 1) and (entry is not None or bounded)
        spans.clear()
        mt.store_range(start, end - 1, entry)
        if kind is ROOT:  # an empty tree or a lone root entry: mas_store_root
            continue
        assert (kind is SPANNING) == bool(spans), (step, kind, start, end)
        assert (kind is EXACT) == exact or kind is SPANNING, (step, kind, start, end)
    mt.validate()
