"""brk1: the syscalls and VMA changes of one pass, per mode, and a short real run."""

from __future__ import annotations

import pytest
from wis_helpers import CELLS, KINDS, Recorder, new_mm, short_real_run

from maple import workloads
from maple.linux import PAGE_SIZE


@pytest.mark.parametrize("kind", KINDS)
def test_processes_pass_creates_and_destroys_a_vma(kind):
    wl = workloads.get("brk1")
    child = new_mm(kind).fork()
    rec = Recorder(child)
    base = wl.setup(rec, 0)
    assert base == child.brk(0)
    n0 = child.map_count
    for _ in range(3):
        rec.log.clear()
        assert wl.loop(rec, base) == 2  # one op per brk call
        assert [(c.name, c.args) for c in rec.log] == [("brk", (base + PAGE_SIZE,)), ("brk", (base,))]
        assert [c.result for c in rec.log] == [base + PAGE_SIZE, base]
        # the forked heap cannot be extended: a new VMA each pass, gone again after
        assert [c.map_count for c in rec.log] == [n0 + 1, n0]
        child.validate()
    # between the two calls: the new page is a VMA of its own next to the inherited heap
    child.brk(base + PAGE_SIZE)
    grown = child.find_vma(base)
    assert (grown.start, grown.end) == (base, base + PAGE_SIZE)
    assert child.find_vma(base - 1).end == base
    child.brk(base)
    assert child.find_vma(base - 1).end == base


@pytest.mark.parametrize("kind", KINDS)
def test_threads_pass_resizes_the_shared_heap(kind):
    wl = workloads.get("brk1")
    mm = new_mm(kind)
    rec = Recorder(mm)
    base = wl.setup(rec, 0)
    n0 = mm.map_count
    heap = mm.find_vma(base - 1)
    assert heap is not None and heap.end == base
    rec.log.clear()
    wl.loop(rec, base)
    # the starting mm owns its heap's anon_vma: brk expands it in place
    assert [c.map_count for c in rec.log] == [n0, n0]
    assert mm.find_vma(base - 1).end == base
    mm.validate()


def test_short_real_run_both_mms_both_modes(tmp_path):
    df = short_real_run(tmp_path, "brk1")
    assert len(df) == 8
    assert set(zip(df.mm, df["mode"])) == CELLS
    assert df.ops.sum() > 0
    counters = [c for c in df.columns if c.endswith("_per_op")]
    assert counters
    # deterministic: one value per cell
    assert (df.groupby(["mm", "mode"])[counters].nunique() == 1).all().all()
