"""Kernel eras as mm kinds: each era's own code path, seen through its cost events."""

from __future__ import annotations

import random
import threading
import time

import pytest

from maple.errors import InputError
from maple.mm import KINDS, MAP_GROWSDOWN, PROT_READ, Era, SegmentationFault, make_mm
from mm_helpers import BASE, FIXED, P, RW, total


def brk_events(kind: str, mode: str):
    """(grow, shrink) events of one brk1 loop in ``mode``: processes = a forked child (its
    first brk creates a VMA that the shrink removes), threads = a shared mm (the heap grows
    and shrinks in place or by split)."""
    mm = make_mm(kind, layout="cat")
    if mode == "processes":
        mm = mm.fork()
    else:
        mm.users = 2
    mm.events.enabled = True
    base = mm.brk(0)
    mm.events.take()
    mm.brk(base + P)
    grow = mm.events.take()
    mm.brk(base)
    shrink = mm.events.take()
    return grow, shrink


def test_kinds_name_the_eras_with_kernel_and_date():
    assert list(KINDS) == ["legacy", "maple-v5", "maple", "current"]
    for name, era in KINDS.items():
        assert isinstance(era, Era) and era.name == name
        assert era.kernel and era.date and era.summary
        mm = make_mm(name)
        assert mm.era is era and mm.kind == era.index
    assert KINDS["legacy"].kernel == "v5.17" and KINDS["maple"].kernel == "v6.1"
    assert KINDS["current"].kernel == "v6.18"
    assert make_mm("current").rules == "current" and make_mm("maple").rules == "6.1"


def test_make_mm_keeps_the_rules_override_and_refuses_unknown_kinds():
    assert make_mm("maple", rules="current").rules == "current"
    assert make_mm("current", rules="6.1").rules == "6.1"
    with pytest.raises(InputError, match="'v6.1'"):
        make_mm("v6.1")
    with pytest.raises(InputError, match="'7.0'"):
        make_mm("maple", rules="7.0")


def test_brk_threads_shrink_in_place_on_the_patch_set_allocates_nothing():
    grow, shrink = brk_events("maple-v5", "threads")
    ev = total(shrink)
    for name in ("vma_alloc", "vma_dup", "avc_alloc", "node_alloc", "node_prealloc", "vma_free"):
        assert name not in ev, name
    assert ev["anon_vma_lock"] == 1 and ev["node_write"] == 1 and ev["mmap_lock_downgrade"] == 1
    assert [s.ctx for s in shrink] == ["none", "write", "read"]
    g = total(grow)
    assert g["anon_vma_lock"] == 1 and g["node_write"] == 1
    assert "node_alloc" not in g and "node_prealloc" not in g


def test_brk_threads_on_6_1_splits_and_preallocates():
    grow, shrink = brk_events("maple", "threads")
    g = total(grow)
    assert g["node_prealloc"] == g["node_prealloc_unused"] == 7  # 1 + 3 * height 2
    assert g["anon_vma_lock"] == 1 and "vma_alloc" not in g
    ev = total(shrink)
    # __split_vma: a VMA copy and an anon_vma chain, one preallocation of 7; munmap another
    # 7; the detached side tree one node; the anon_vma lock three times (clone, adjust, unlink)
    assert ev["vma_dup"] == 1 and ev["avc_alloc"] == 1
    assert ev["node_prealloc"] == 14 and ev["node_prealloc_unused"] == 14
    assert ev["node_alloc"] == 1 and ev["node_free"] == 1
    assert ev["anon_vma_lock"] == 3 and ev["avc_free"] == 1 and ev["vma_free"] == 1


def test_brk_threads_on_legacy_splits_and_invalidates_the_vmacache():
    grow, shrink = brk_events("legacy", "threads")
    ev = total(shrink)
    assert ev["vma_dup"] == 1 and ev["avc_alloc"] == 1 and ev["anon_vma_lock"] == 3
    assert ev["vmacache_invalidate"] == 1 and ev["rb_insert"] == 1 and ev["rb_erase"] == 1
    assert "node_walk" not in ev
    g = total(grow)
    assert g["anon_vma_lock"] == 1 and "rb_insert" not in g and "vma_alloc" not in g


def test_brk_threads_on_current_splits_with_precise_rcu_nodes():
    grow, shrink = brk_events("current", "threads")
    g = total(grow)
    assert "node_prealloc" not in g and "node_alloc" not in g  # a slot store needs none
    assert g["vma_write_lock"] == 1 and g["anon_vma_lock"] == 1
    ev = total(shrink)
    # split: one node store in RCU mode (1 node, the old one RCU-freed); munmap's NULL store
    # allocates on demand; the single doomed VMA sits in the side tree's root pointer
    assert ev["vma_dup"] == 1 and ev["node_prealloc"] == 1 and ev["node_alloc"] == 1
    assert ev["node_free_rcu"] == 2 and "node_free" not in ev
    assert ev["anon_vma_lock"] == 3


@pytest.mark.parametrize("kind", list(KINDS))
def test_brk_processes_creates_and_removes_a_vma(kind):
    grow, shrink = brk_events(kind, "processes")
    g, s = total(grow), total(shrink)
    assert g["vma_alloc"] == 1 and s.get("vma_free", 0) + s.get("vma_free_rcu", 0) == 1
    assert "vma_dup" not in s  # the whole VMA goes: no split
    assert "anon_vma_lock" not in g and "anon_vma_lock" not in s  # brk memory was never touched
    if kind == "maple-v5" or kind == "maple":
        assert "node_alloc" not in g and g["node_copy"] == 1  # on-stack node store
        assert s["node_alloc"] == 1 and s["node_free"] == 1  # the side tree's node
    if kind == "current":
        assert g["node_alloc"] == 1 and g["node_free_rcu"] == 1  # RCU node store, on demand
        assert s["node_alloc"] == 1 and s["node_free_rcu"] == 1 and "node_free" not in s
    if kind == "legacy":
        assert g["rb_insert"] == 1 and s["rb_erase"] == 1 and s["vmacache_invalidate"] == 1


def test_brk2_processes_on_the_patch_set_is_in_place_both_ways():
    """brk2: the child's own startup VMA (no anon_vma) grows and shrinks in place on v5,
    by merge and split on 5.17 and 6.1."""
    out = {}
    for kind in KINDS:
        mm = make_mm(kind, layout="cat").fork()
        start = mm.brk(0)
        mm.brk(start + P)  # sbrk(page): the child's own VMA
        mm.events.enabled = True
        base = mm.brk(0)
        mm.events.take()
        mm.brk(base + P)
        mm.brk(base)
        out[kind] = total(mm.events.take())
    assert "vma_dup" not in out["maple-v5"] and "node_alloc" not in out["maple-v5"]
    for kind in ("legacy", "maple", "current"):
        assert out[kind]["vma_dup"] == 1, kind


def test_patch_set_rcu_follows_mm_users():
    mm = make_mm("maple-v5", layout="cat")
    assert not mm.index.rcu
    child = mm.fork()
    assert not child.index.rcu
    mm.users = 2
    assert mm.index.rcu
    mm.users = 1
    assert mm.index.rcu  # sticky
    assert make_mm("current").index.rcu and not make_mm("maple").index.rcu


def test_fork_on_current_copies_the_tree_and_6_1_builds_it():
    events = {}
    for kind in ("maple", "current"):
        mm = make_mm(kind, layout="cat")
        mm.events.enabled = True
        child = mm.fork()
        events[kind] = total(mm.events.take())
        nodes = child.index.tree.counters["nodes_allocated"]
        assert events[kind]["vma_dup"] == mm.map_count
        assert events[kind]["node_write"] == child.map_count
        if kind == "current":
            assert events[kind]["mt_dup_node"] == nodes and "node_prealloc" not in events[kind]
        else:
            assert events[kind]["node_prealloc"] == nodes and "mt_dup_node" not in events[kind]
    assert mm.maps() == child.maps()


def test_a_fault_on_current_takes_no_mmap_lock():
    mm = make_mm("current", layout=None)
    mm.mmap(BASE, 8 * P, RW, FIXED)
    mm.fault(BASE, write=True)  # the first write sets the anon_vma up
    mm.events.enabled = True
    mm.fault(BASE + P, write=True)
    segs = mm.events.take()
    assert [s.ctx for s in segs] == ["none", "vma"]
    vma = mm.find_vma(BASE)
    assert segs[1].lock is vma
    ev = total(segs)
    assert "mmap_lock" not in ev and ev["vma_lock"] == 1
    assert ev["page_zero"] == 1 and ev["pte_set"] == 1
    assert segs[0].events["node_walk"] > 0  # the lockless walk, outside any lock
    # the same fault on 6.1 takes the mmap_lock for read
    old = make_mm("maple", layout=None)
    old.mmap(BASE, 8 * P, RW, FIXED)
    old.fault(BASE, write=True)
    old.events.enabled = True
    old.fault(BASE + P, write=True)
    assert [s.ctx for s in old.events.take()] == ["none", "read"]


def test_current_first_anonymous_write_prepares_the_anon_vma_under_trylock():
    mm = make_mm("current", layout=None)
    mm.mmap(BASE, 8 * P, RW, FIXED)
    mm.events.enabled = True
    mm.fault(BASE, write=True)
    segs = mm.events.take()
    assert [s.ctx for s in segs] == ["none", "vma", "read", "vma"]
    assert segs[2].events["anon_vma_alloc"] == 1 and segs[2].events["mmap_lock"] == 1
    assert segs[3].events["page_zero"] == 1


def test_current_falls_back_to_the_mmap_lock():
    mm = make_mm("current", layout=None)
    mm.mmap(BASE, 4 * P, RW, MAP_GROWSDOWN | FIXED)
    mm.events.enabled = True
    # below a stack: no VMA contains the address, so the fault takes the mmap_lock, then
    # the write lock to grow the stack
    mm.fault(BASE - P, write=True)
    assert [s.ctx for s in mm.events.take()] == ["none", "read", "write"]
    # a gap: no VMA either; the mmap_lock path raises
    with pytest.raises(SegmentationFault):
        mm.fault(BASE + 16 * P)
    assert [s.ctx for s in mm.events.take()] == ["none", "read"]


def test_current_fault_waits_out_a_writer_on_its_vma():
    """A VMA write-locked by an mmap_lock writer cannot be read-locked: the fault falls
    back to the mmap_lock and runs once the writer is gone."""
    mm = make_mm("current", layout=None)
    mm.mmap(BASE, 4 * P, RW, FIXED)
    mm.fault(BASE, write=True)
    vma = mm.find_vma(BASE)
    mm.mmap_lock.down_write()
    mm._vma_start_write(vma)  # what a writer modifying this VMA does
    mm.events.enabled = True
    done = []
    t = threading.Thread(target=lambda: (mm.fault(BASE + P, write=True), done.append(1)))
    t.start()
    deadline = time.monotonic() + 10
    while not mm.mmap_lock.waiters and time.monotonic() < deadline:
        time.sleep(0.001)
    assert mm.mmap_lock.waiters == ("read",) and not done
    mm._write_unlock()
    t.join(10)
    assert done == [1]
    segs = mm.events.take()
    assert [s.ctx for s in segs] == ["none", "read"]
    assert mm.page_table[(BASE + P) >> 12]


def test_current_faults_race_with_munmap_safely():
    """Threads fault on a VMA while another maps and unmaps next to it and over it."""
    mm = make_mm("current", layout=None)
    mm.mmap(BASE, 64 * P, RW, FIXED)
    stop = threading.Event()
    errors = []

    def faulter(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            try:
                mm.fault(BASE + rng.randrange(64) * P, write=True)
            except SegmentationFault:
                pass
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
                return

    threads = [threading.Thread(target=faulter, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(200):
            pg = i % 48
            mm.munmap(BASE + pg * P, 8 * P)
            mm.mmap(BASE + pg * P, 8 * P, RW if i % 3 else PROT_READ, FIXED)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert not errors
    mm.validate()


def same_layouts(kinds, rules, seed):
    rng = random.Random(seed)
    mms = [make_mm(k, layout="cat", rules=rules) for k in kinds]
    for _ in range(150):
        r = rng.random()
        pg, n = rng.randrange(0, 40), rng.randint(1, 6)
        prot = rng.choice([0, PROT_READ, RW])
        results = []
        for mm in mms:
            base = mm.brk(0)
            try:
                if r < 0.25:
                    res = mm.brk(base + (pg % 7 - 3) * P)
                elif r < 0.5:
                    res = mm.mmap(BASE + pg * P, n * P, prot, FIXED)
                elif r < 0.65:
                    res = mm.mprotect(BASE + pg * P, n * P, prot)
                elif r < 0.8:
                    res = mm.munmap(BASE + pg * P, n * P)
                elif r < 0.9:
                    res = mm.fault(BASE + pg * P, write=True)
                else:
                    child = mm.fork()
                    res = child.maps()
                    child.exit()
            except Exception as e:
                res = repr(e)
            results.append(res)
        assert results.count(results[0]) == len(results), results
        maps = [mm.maps() for mm in mms]
        assert maps.count(maps[0]) == len(maps)
        for mm in mms:
            mm.validate()


@pytest.mark.parametrize("seed", range(3))
def test_eras_of_one_rule_set_give_the_same_vmas_and_errors(seed):
    same_layouts(["legacy", "maple-v5", "maple"], "6.1", seed)
    same_layouts(["current", "maple", "legacy"], "current", seed)
