"""``index.dup(copy)``: fork's one-pass copy of the VMA index, on every index kind."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maple.linux import VM_READ, VM_WRITE
from maple.mm import new_index
from maple.mm.maple_index import MapleVmaIndex
from maple.mm.vma import VMA
from mm_helpers import BASE, P
from oracle_index import OracleVmaIndex


def make_index(kind: str):
    return OracleVmaIndex() if kind == "oracle" else new_index(kind)


def fill(index, n: int) -> list[VMA]:
    vmas = [VMA(BASE + 3 * i * P, BASE + (3 * i + 1 + i % 2) * P, VM_READ | VM_WRITE) for i in range(n)]
    for v in vmas:
        index.insert(v)
    return vmas


@pytest.mark.parametrize("n", [0, 1, 2, 17, 300])
def test_dup_maps_every_vma_in_address_order_and_drops_nones(kind, n):
    index = make_index(kind)
    vmas = fill(index, n)
    seen = []

    def copy(v):
        seen.append(v)
        if len(seen) % 3 == 0:  # VM_DONTCOPY
            return None
        return VMA(v.start, v.end, v.flags)

    child = index.dup(copy)
    assert seen == vmas  # each parent VMA handed over exactly once, in address order
    kept = [v for i, v in enumerate(vmas) if (i + 1) % 3]
    got = list(child)
    assert [(v.start, v.end) for v in got] == [(v.start, v.end) for v in kept]
    assert all(c is not p for c, p in zip(got, kept)) and len(child) == len(kept)
    for i, v in enumerate(vmas):  # the dropped ranges are holes in the child
        hit = child.vma_lookup(v.start)
        assert (hit is None) == ((i + 1) % 3 == 0)
    child.validate()
    assert list(index) == vmas  # the parent is untouched
    index.validate()


def test_maple_dup_is_one_tree_pass_with_counted_nodes():
    index = MapleVmaIndex()
    fill(index, 1000)
    before = index.counters
    child = index.dup(lambda v: VMA(v.start, v.end, v.flags))
    after = index.counters
    c = child.counters
    # the parent read each of its nodes once; the child allocated as many and walked none
    assert after["nodes_visited"] - before["nodes_visited"] == c["nodes_allocated"] > 0
    assert c["nodes_visited"] == 0 and c["nodes_freed"] == 0 and c["vmas_visited"] == 0
    assert after["nodes_allocated"] == before["nodes_allocated"]
    child.clear()
    assert child.counters["nodes_freed"] == c["nodes_allocated"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), max_size=120))
def test_maple_dup_matches_the_oracle(keep):
    maple, oracle = MapleVmaIndex(), OracleVmaIndex()
    vm = fill(maple, len(keep))
    fill(oracle, len(keep))
    it = iter(keep)
    mc = maple.dup(lambda v: VMA(v.start, v.end, v.flags) if next(it) else None)
    it = iter(keep)
    oc = oracle.dup(lambda v: VMA(v.start, v.end, v.flags) if next(it) else None)
    mc.validate()
    assert [(v.start, v.end) for v in mc] == [(v.start, v.end) for v in oc]
    assert len(mc) == len(oc) == sum(keep)
    for v in vm:
        assert (mc.find_vma(v.start) is None) == (oc.find_vma(v.start) is None)
        r1, r2 = mc.find_vma(v.start), oc.find_vma(v.start)
        assert (r1 and (r1.start, r1.end)) == (r2 and (r2.start, r2.end))
