"""LegacyVmaIndex: differential against a sorted-list oracle, kernel cases, cost counters."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from legacy_helpers import P, Oracle, TVma, free_windows_ok, guard_gap_swallows_a_vma

from maple.legacy.index import LegacyVmaIndex, vma_compute_gap
from maple.linux import STACK_GUARD_GAP, VM_GROWSDOWN

PAGES = 2048  # address space of the differential tests, in pages
GUARD = STACK_GUARD_GAP // P


def copy_vma(v: TVma) -> TVma:
    return TVma(v.start, v.end, v.flags, v.name)


def make(*ranges, flags=None):
    idx = LegacyVmaIndex()
    vmas = []
    for i, (s, e) in enumerate(ranges):
        v = TVma(s * P, e * P, (flags or {}).get(i, 0))
        idx.insert(v)
        vmas.append(v)
    idx.validate()
    return idx, vmas


# -- differential state machine --------------------------------------------------------------


class LegacyIndexMachine(RuleBasedStateMachine):
    """Random inserts, removals, munmap detaches, bound changes, forks and exits, checked
    query by query against a brute-force oracle, with validate() after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.idx = LegacyVmaIndex()
        self.oracle = Oracle()

    def _overlaps(self, start, end):
        return self.oracle.intersection(start, end) is not None

    @rule(first=st.integers(0, PAGES - 1), pages=st.integers(1, 48), grows=st.integers(0, 9))
    def insert(self, first, pages, grows):
        start, end = first * P, (first + pages) * P
        v = TVma(start, end, VM_GROWSDOWN if grows == 0 else 0)
        if self._overlaps(start, end):
            before = list(self.idx)
            with pytest.raises(AssertionError, match="overlaps"):
                self.idx.insert(v)
            assert list(self.idx) == before
            return
        self.idx.insert(v)
        self.oracle.vmas.append(v)
        self.oracle.sort()

    @precondition(lambda self: self.oracle.vmas)
    @rule(data=st.data())
    def remove(self, data):
        v = data.draw(st.sampled_from(self.oracle.vmas))
        self.idx.remove(v)
        self.oracle.vmas.remove(v)
        assert v.vm_next is None and v.rb_parent is None

    @precondition(lambda self: self.oracle.vmas)
    @rule(data=st.data())
    def remove_range(self, data):
        vmas = self.oracle.vmas
        i = data.draw(st.integers(0, len(vmas) - 1))
        j = data.draw(st.integers(i + 1, min(len(vmas), i + 4)))
        run = vmas[i:j]
        # munmap's [start, end) may extend into the free space around the run.
        lo = vmas[i - 1].end if i else 0
        hi = vmas[j].start if j < len(vmas) else run[-1].end + 8 * P
        start = data.draw(st.integers(lo // P, run[0].start // P)) * P
        end = data.draw(st.integers(run[-1].end // P, hi // P)) * P
        seq = self.idx.vmacache.seqnum
        self.idx.remove_range(start, end, run)
        assert self.idx.vmacache.seqnum == seq + 1
        del vmas[i:j]

    @precondition(lambda self: self.oracle.vmas)
    @rule(data=st.data())
    def adjust(self, data):
        vmas = self.oracle.vmas
        i = data.draw(st.integers(0, len(vmas) - 1))
        v = vmas[i]
        lo = vmas[i - 1].end // P if i else 0
        hi = vmas[i + 1].start // P if i + 1 < len(vmas) else PAGES + 64
        start = data.draw(st.integers(lo, v.end // P - 1))
        end = data.draw(st.integers(start + 1, hi))
        self.idx.adjust(v, start * P, end * P)
        assert (v.start, v.end) == (start * P, end * P)

    @precondition(lambda self: self.oracle.vmas)
    @rule(data=st.data())
    def adjust_into_neighbour_is_refused(self, data):
        vmas = self.oracle.vmas
        if len(vmas) < 2:
            return
        i = data.draw(st.integers(0, len(vmas) - 2))
        v, nxt = vmas[i], vmas[i + 1]
        before = (v.start, v.end)
        with pytest.raises(AssertionError, match="overlaps next"):
            self.idx.adjust(v, v.start, nxt.start + P)
        assert (v.start, v.end) == before

    @rule(skip=st.integers(0, 4))
    def fork(self, skip):
        parent = list(self.idx)
        dropped = set(id(v) for v in parent[::skip + 1]) if skip else set()

        def copy(v):
            return None if id(v) in dropped else copy_vma(v)

        child = self.idx.dup(copy)
        child.validate()
        assert [(v.start, v.end) for v in child] == [
            (v.start, v.end) for v in parent if id(v) not in dropped
        ]
        assert list(self.idx) == parent  # the parent is untouched
        self.idx = child
        self.oracle.vmas = list(child)

    @rule()
    def exit_and_restart(self):
        if len(self.oracle.vmas) < 20:
            return
        vmas = list(self.idx)
        self.idx.clear()
        assert len(self.idx) == 0 and list(self.idx) == []
        assert all(v.vm_next is None and v.rb_parent is None for v in vmas)
        self.oracle.vmas = []

    @rule(addr=st.integers(0, PAGES * P + 4 * P))
    def lookups(self, addr):
        idx, o = self.idx, self.oracle
        assert idx.find_vma(addr) is o.find_vma(addr)
        vma, prev = idx.find_vma_prev(addr)
        ovma, oprev = o.find_vma_prev(addr)
        assert vma is ovma and prev is oprev
        assert idx.vma_lookup(addr) is o.vma_lookup(addr)
        for pages in (1, 5, 40):
            end = addr + pages * P
            assert idx.find_vma_intersection(addr, end) is o.intersection(addr, end)
        if vma is not None:
            assert idx.next_vma(vma) is o.find_vma(vma.end)
            assert idx.prev_vma(vma) is oprev

    @rule(
        pages=st.integers(1, 300),
        low=st.integers(0, PAGES),
        high=st.integers(0, PAGES + 64),
        align=st.sampled_from([0, 0, 1, 3, 15]),
        offset=st.integers(0, 15),
    )
    def gap_search(self, pages, low, high, align, offset):
        length, low, high = pages * P, low * P, high * P
        mask = align * P
        off = (offset & align) * P
        o = self.oracle
        exact = not guard_gap_swallows_a_vma(o)
        for search, brute in (
            (self.idx.unmapped_area, o.unmapped_area),
            (self.idx.unmapped_area_topdown, o.unmapped_area_topdown),
        ):
            got = search(length, low, high, mask, off)
            if got is not None:
                assert free_windows_ok(o, got, length, low, high), (search.__name__, got)
                assert (got - off) & mask == 0
            if exact:
                assert got == brute(length, low, high, mask, off), search.__name__

    @invariant()
    def valid(self):
        self.idx.validate()
        assert list(self.idx) == self.oracle.vmas
        assert len(self.idx) == len(self.oracle.vmas)


LegacyIndexMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLegacyIndexDifferential = LegacyIndexMachine.TestCase


@pytest.mark.slow
def test_long_seeded_differential():
    """Long random soak: inserts, removals, lookups and gap searches, 1M steps."""
    rnd = random.Random(20221)
    idx, o = LegacyVmaIndex(), Oracle()
    for step in range(1_000_000):
        r = rnd.random()
        if r < 0.45 or not o.vmas:
            s = rnd.randrange(PAGES) * P
            v = TVma(s, s + rnd.randrange(1, 48) * P, VM_GROWSDOWN if rnd.random() < 0.05 else 0)
            if o.intersection(v.start, v.end) is None:
                idx.insert(v)
                o.vmas.append(v)
                o.sort()
        elif r < 0.85:
            v = rnd.choice(o.vmas)
            idx.remove(v)
            o.vmas.remove(v)
        else:
            addr = rnd.randrange(PAGES * P)
            assert idx.find_vma(addr) is o.find_vma(addr)
            ln, lo, hi = rnd.randrange(1, 200) * P, rnd.randrange(PAGES) * P, rnd.randrange(PAGES) * P
            if not guard_gap_swallows_a_vma(o):
                assert idx.unmapped_area(ln, lo, hi) == o.unmapped_area(ln, lo, hi)
                assert idx.unmapped_area_topdown(ln, lo, hi) == o.unmapped_area_topdown(ln, lo, hi)
        if step % 1000 == 0:
            idx.validate()
    idx.validate()


# -- protocol edge cases -----------------------------------------------------------------------


def test_empty_index():
    idx = LegacyVmaIndex()
    assert idx.kind == "legacy"
    assert len(idx) == 0 and list(idx) == []
    assert idx.find_vma(0) is None
    assert idx.find_vma_prev(123) == (None, None)
    assert idx.vma_lookup(0) is None
    assert idx.find_vma_intersection(0, P) is None
    assert idx.unmapped_area(P, 0, 10 * P) == 0
    assert idx.unmapped_area_topdown(P, 0, 10 * P) == 9 * P
    assert idx.unmapped_area(11 * P, 0, 10 * P) is None
    assert idx.unmapped_area_topdown(11 * P, 0, 10 * P) is None
    idx.validate()


def test_find_vma_prev_without_a_following_vma_returns_the_last():
    idx, (a, b) = make((10, 20), (30, 40))
    assert idx.find_vma_prev(40 * P) == (None, b)
    assert idx.find_vma_prev(25 * P) == (b, a)
    assert idx.find_vma_prev(0) == (a, None)


def test_insert_rejects_empty_and_overlapping_vmas_without_change():
    idx, (a,) = make((10, 20))
    with pytest.raises(AssertionError, match="empty"):
        idx.insert(TVma(30 * P, 30 * P))
    with pytest.raises(AssertionError, match="overlaps"):
        idx.insert(TVma(19 * P, 21 * P))
    assert list(idx) == [a] and len(idx) == 1
    idx.validate()


def test_remove_of_a_vma_not_in_the_index_is_refused():
    idx, _ = make((10, 20))
    with pytest.raises(AssertionError, match="not in this index"):
        idx.remove(TVma(10 * P, 20 * P))


def test_remove_range_checks_the_run_before_changing_anything():
    idx, (a, b, c, d) = make((10, 20), (20, 30), (30, 40), (60, 70))
    with pytest.raises(AssertionError, match="not the list successor"):
        idx.remove_range(10 * P, 40 * P, [a, c])
    with pytest.raises(AssertionError, match="not inside"):
        idx.remove_range(10 * P, 25 * P, [a, b])
    with pytest.raises(AssertionError, match="starts below"):
        idx.remove_range(10 * P, 40 * P, [a, b])
    assert list(idx) == [a, b, c, d]
    idx.validate()
    idx.remove_range(5 * P, 50 * P, [a, b, c])
    assert list(idx) == [d] and idx.mmap is d and d.vm_prev is None
    assert idx.highest_vm_end == 70 * P
    idx.validate()
    idx.remove_range(60 * P, 70 * P, [d])
    assert idx.highest_vm_end == 0 and idx.mmap is None
    idx.validate()


def test_adjust_updates_gaps_and_highest_vm_end():
    idx, (a, b) = make((10, 20), (30, 40))
    idx.adjust(b, 25 * P, 50 * P)
    assert idx.highest_vm_end == 50 * P
    assert b.rb_subtree_gap >= vma_compute_gap(b) == 5 * P
    idx.validate()
    idx.adjust(a, 0, 25 * P)  # now touching b
    assert vma_compute_gap(b) == 0
    idx.validate()
    with pytest.raises(AssertionError, match="overlaps next"):
        idx.adjust(a, 0, 26 * P)
    with pytest.raises(AssertionError, match="overlaps previous"):
        idx.adjust(b, 24 * P, 50 * P)
    with pytest.raises(AssertionError, match="empty"):
        idx.adjust(b, 30 * P, 30 * P)
    idx.validate()


def test_rb_subtree_gap_of_growsdown_vma_includes_the_guard_gap():
    # A stack 1000 pages above a library: its own gap shrinks by the 256-page guard gap.
    idx, (lib, stack) = make((100, 110), (1110, 1200), flags={1: VM_GROWSDOWN})
    assert vma_compute_gap(stack) == (1000 - GUARD) * P
    # A stack whose guard gap reaches over the previous VMA has gap 0.
    idx2, (_, stack2) = make((100, 110), (200, 300), flags={1: VM_GROWSDOWN})
    assert vma_compute_gap(stack2) == 0
    # A stack near 0 is measured from 0 with the guard gap clamped there.
    idx3, (low_stack,) = make((100, 110), flags={0: VM_GROWSDOWN})
    assert vma_compute_gap(low_stack) == 0
    for i in (idx, idx2, idx3):
        i.validate()


def test_topdown_placement_keeps_clear_of_a_stack_guard_gap():
    idx, (lib, stack) = make((100, 110), (1000, 1100), flags={1: VM_GROWSDOWN})
    # Highest window of 10 pages below 1000 must end at the guard gap (1000 - 256).
    assert idx.unmapped_area_topdown(10 * P, 0, 1000 * P) == (1000 - GUARD - 10) * P
    assert idx.unmapped_area(10 * P, 500 * P, 1000 * P) == 500 * P
    # Nothing fits between the guard gap and the library for a 700-page window.
    assert idx.unmapped_area_topdown(700 * P, 110 * P, 1000 * P) is None


def test_alignment_pads_the_search_and_rounds_as_the_kernel():
    idx, _ = make((0, 3), (20, 40))
    # 4-page alignment (mask 3 pages): bottom-up rounds 3 up to 4; top-down from 20 down.
    assert idx.unmapped_area(2 * P, 0, 100 * P, 3 * P, 0) == 4 * P
    assert idx.unmapped_area(2 * P, 0, 100 * P, 3 * P, P) == 5 * P
    assert idx.unmapped_area_topdown(2 * P, 0, 20 * P, 3 * P, 0) == 16 * P
    # The padded length must fit: the 17-page gap 3..20 cannot take 15 + 3 padding pages,
    # so the search moves on to 40 although an aligned 15-page window exists at 4..19.
    assert idx.unmapped_area(15 * P, 0, 100 * P, 3 * P, 0) == 40 * P
    assert idx.unmapped_area(14 * P, 0, 100 * P, 3 * P, 0) == 4 * P


def test_bottom_up_walk_skips_a_gap_hidden_behind_a_guard_gap_as_v5_17_did():
    """v5.17 prunes the left subtree of a node whose vm_start_gap is below low + length.

    A VMA sitting inside a stack's guard gap breaks the assumption behind that pruning, so
    the lowest gap is missed and the search falls through to highest_vm_end. Reproduced on
    purpose (faithfulness); the brute-force answer would be 0x11000.
    """
    g = TVma(0x200000, 0x210000, VM_GROWSDOWN)  # guard gap starts at 0x100000
    a = TVma(0x10000, 0x11000)
    z = TVma(0x300000, 0x301000)
    x = TVma(0x180000, 0x181000)  # inside g's guard gap
    idx = LegacyVmaIndex()
    for v in (g, a, z, x):
        idx.insert(v)
    idx.validate()
    assert idx.root is g
    o = Oracle()
    o.vmas = list(idx)
    assert o.unmapped_area(0x100000, 0x11000, 0x500000) == 0x11000
    assert idx.unmapped_area(0x100000, 0x11000, 0x500000) == 0x301000


def test_dup_links_one_by_one_and_skips_dontcopy():
    idx, vmas = make(*[(i * 10, i * 10 + 5) for i in range(50)])
    child = idx.dup(lambda v: None if v.start == 100 * P else copy_vma(v))
    child.validate()
    assert len(child) == 49
    assert [v.start for v in child] == [v.start for v in vmas if v.start != 100 * P]
    assert all(c is not p for c, p in zip(child, idx))
    c = child.counters
    assert c["rb_rotations"] > 0 and c["gap_updates"] > 0
    assert c["nodes_visited"] == 0  # no find_vma_links walk: always linked at the right end
    # The parent paid for reading its list, once per VMA.
    assert idx.counters["vmas_visited"] >= 50
    # The child has its own (empty) vmacache.
    assert child.vmacache.entries() == [None] * 4


def test_clear_empties_and_invalidates():
    idx, vmas = make((10, 20), (30, 40))
    idx.find_vma(10 * P)
    seq = idx.vmacache.seqnum
    before = idx.counters
    idx.clear()
    assert len(idx) == 0 and idx.root is None and idx.highest_vm_end == 0
    assert idx.vmacache.seqnum == seq + 1
    assert idx.find_vma(10 * P) is None
    assert idx.counters["vmas_visited"] == before["vmas_visited"] + 2
    idx.validate()
    idx.insert(vmas[0])  # a cleared index is reusable
    idx.validate()


# -- counters ----------------------------------------------------------------------------------


def test_counters_have_the_protocol_keys_and_are_fresh_dicts():
    idx = LegacyVmaIndex()
    c = idx.counters
    assert set(c) == {
        "nodes_visited", "cache_lines", "nodes_allocated", "nodes_freed", "rb_rotations",
        "gap_updates", "vmacache_hits", "vmacache_misses", "list_updates", "vmas_visited",
        "nodes_preallocated",
    }
    assert all(v == 0 for v in c.values())
    c["nodes_visited"] = 99
    assert idx.counters["nodes_visited"] == 0


def test_exact_counts_for_small_operations():
    idx = LegacyVmaIndex()
    a = TVma(10 * P, 20 * P)
    idx.insert(a)
    c = idx.counters
    # vm_prev, mm->mmap, vm_next written; no walk; gap computed once (from 0: 10 pages).
    assert c["list_updates"] == 3
    assert c["nodes_visited"] == 0
    assert c["gap_updates"] == 1 and a.rb_subtree_gap == 10 * P
    assert c["rb_rotations"] == 0
    idx.find_vma(15 * P)
    c2 = idx.counters
    assert c2["nodes_visited"] == 1 and c2["vmas_visited"] == 1
    assert c2["vmacache_misses"] == 1 and c2["vmacache_hits"] == 0
    idx.find_vma(15 * P)
    c3 = idx.counters
    assert c3["vmacache_hits"] == 1 and c3["nodes_visited"] == 1
    assert c3["cache_lines"] == c2["cache_lines"] + 1  # one slot scanned
    b = TVma(30 * P, 40 * P)
    idx.insert(b)  # walk visits a; links after it
    c4 = idx.counters
    assert c4["nodes_visited"] == 2
    assert c4["list_updates"] == 3 + 3 + 0  # b.prev, a.next, b.next (no next to fix)


def test_ascending_inserts_count_kernel_rotations():
    idx = LegacyVmaIndex()
    for i in range(7):
        idx.insert(TVma(i * 10 * P, (i * 10 + 5) * P))
    assert idx.counters["rb_rotations"] == 3  # as lib/rbtree.c for 1..7 ascending
    idx.validate()


def run_sequence(seed: int) -> dict[str, int]:
    rnd = random.Random(seed)
    idx = LegacyVmaIndex()
    live = []
    for _ in range(3000):
        r = rnd.random()
        if r < 0.4 or not live:
            s = rnd.randrange(4096) * P
            v = TVma(s, s + rnd.randrange(1, 16) * P)
            try:
                idx.insert(v)
                live.append(v)
            except AssertionError:
                pass
        elif r < 0.6:
            idx.remove(live.pop(rnd.randrange(len(live))))
        elif r < 0.8:
            idx.find_vma(rnd.randrange(4096) * P)
        else:
            idx.unmapped_area_topdown(rnd.randrange(1, 64) * P, 0, 4096 * P)
    idx = idx.dup(copy_vma)
    idx.clear()
    return idx.counters


def test_counters_are_deterministic():
    first = run_sequence(3)
    assert first == run_sequence(3)
    assert first != run_sequence(4)
