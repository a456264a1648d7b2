"""Address translation (against a per-page oracle), the fault model and the job split."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maple.linux import PAGE_SIZE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE
from maple.trace.addrmap import AddressMap
from maple.trace.faults import FaultModel
from maple.trace.format import Trace, read_trace
from maple.trace.jobs import ROOT, split_jobs

SHIPPED = Path(__file__).resolve().parents[2] / "maple" / "trace" / "data" / "kernbench-brotli.trace.gz"

# Work in units of pages over a small window so ranges collide often.
PAGE = st.integers(0, 64)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(PAGE, st.integers(1, 16), st.integers(-50, 50)), max_size=25),
    PAGE,
    st.integers(1, 40),
)
def test_addrmap_matches_page_oracle(sets, q_start, q_len):
    amap = AddressMap()
    oracle: dict[int, int] = {}  # page -> delta in pages
    for start, n, delta in sets:
        amap.set(start * PAGE_SIZE, (start + n) * PAGE_SIZE, delta * PAGE_SIZE)
        for p in range(start, start + n):
            oracle[p] = delta
        amap.check()
    for p in range(0, 90):
        want = p + oracle.get(p, 0)
        assert amap.translate(p * PAGE_SIZE + 5) == want * PAGE_SIZE + 5
        assert amap.delta_at(p * PAGE_SIZE) == (oracle[p] * PAGE_SIZE if p in oracle else None)
    # pieces: the query's pages translated one by one, then coalesced
    pieces = amap.pieces(q_start * PAGE_SIZE, (q_start + q_len) * PAGE_SIZE)
    pages = [p + oracle.get(p, 0) for p in range(q_start, q_start + q_len)]
    flat = [a // PAGE_SIZE for s, e in pieces for a in range(s, e, PAGE_SIZE)]
    assert flat == pages
    for (s1, e1), (s2, e2) in zip(pieces, pieces[1:]):
        assert e1 != s2  # adjacent pieces with the same offset were merged


def test_addrmap_copy_is_independent():
    a = AddressMap()
    a.set(0x1000, 0x3000, 0x10000)
    b = a.copy()
    b.set(0x2000, 0x4000, 0)
    assert a.items() == [(0x1000, 0x3000, 0x10000)]
    assert b.items() == [(0x1000, 0x2000, 0x10000), (0x2000, 0x4000, 0)]


def test_fault_model_counts_spacing_and_determinism():
    fm = FaultModel(fraction=0.25, cap=16, seed=3)
    start = 0x7F0000000000
    pages, write = fm.pages(start, start + 40 * PAGE_SIZE, PROT_READ | PROT_WRITE, 7)
    assert write is True and len(pages) == 10  # ceil(40 / 4)
    assert all(start <= a < start + 40 * PAGE_SIZE and a % PAGE_SIZE == 0 for a in pages)
    assert len(set(pages)) == 10
    assert [b - a for a, b in zip(pages, pages[1:])] == [4 * PAGE_SIZE] * 9
    assert fm.pages(start, start + 40 * PAGE_SIZE, PROT_READ | PROT_WRITE, 7) == (pages, True)
    # capped for big arenas, read faults for text, nothing for PROT_NONE, one page minimum
    big, _ = fm.pages(start, start + 10_000 * PAGE_SIZE, PROT_READ | PROT_EXEC, 1)
    assert len(big) == 16
    assert fm.pages(start, start + 8 * PAGE_SIZE, PROT_READ | PROT_EXEC, 1)[1] is False
    assert fm.pages(start, start + 8 * PAGE_SIZE, PROT_NONE, 1) == ([], False)
    assert len(fm.pages(start, start + PAGE_SIZE, PROT_READ, 1)[0]) == 1
    # the offset depends on the event index, spreading faults over the first stride
    offsets = {fm.pages(start, start + 400 * PAGE_SIZE, PROT_READ, i)[0][0] for i in range(50)}
    assert len(offsets) > 5
    with pytest.raises(ValueError):
        FaultModel(fraction=1.5)


def test_job_split_synthetic():
    tr = Trace(
        files=["make"],
        events=[
            ("x", 1, 0, 0),
            ("c", 1, 0, 2, "v"),  # job 0
            ("c", 1, 0, 3, "t"),  # a thread of the root stays root
            ("x", 2, 0, 0),
            ("c", 2, 0, 4, "f"),  # grandchild: still job 0
            ("m", 4, 0, 0, 4096, 3, 0x22, None, 0, 0x1000),
            ("c", 1, 0, 5, "f"),  # job 1
            ("b", 3, 0, 0, 0x1000),
            ("e", 4, 0),
            ("e", 2, 0),
            ("e", 5, 0),
            ("e", 1, 0),
        ],
    )
    split = split_jobs(tr)
    assert split.job_of == [ROOT, 0, ROOT, 0, 0, 0, 1, ROOT, 0, 0, 1, ROOT]
    assert split.sizes == [6, 2]
    assert split.deal(1) == [0, 0]
    assert split.deal(2) == [0, 1]
    sel0, sel1 = split.selector(2, 0), split.selector(2, 1)
    assert [sel0(i) for i in range(12)] == [True, True, True, True, True, True, None, True, True, True, None, True]
    assert [sel1(i) for i in range(12)] == [False, None, False, None, None, None, True, False, None, None, True, False]
    with pytest.raises(ValueError):
        split.deal(0)


def test_job_split_of_the_shipped_trace_balances_slots():
    tr = read_trace(SHIPPED)
    split = split_jobs(tr)
    assert split.njobs == 37  # 36 compiles and the link, each started by make
    assert sum(split.sizes) + split.job_of.count(ROOT) == len(tr.events)
    for slots in (2, 4, 8):
        owner = split.deal(slots)
        load = [sum(s for s, o in zip(split.sizes, owner) if o == k) for k in range(slots)]
        assert max(load) - min(load) <= max(split.sizes)
