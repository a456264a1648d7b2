"""brk2: sbrk once, then resize one VMA; map_count constant; threads get distinct bases."""

from __future__ import annotations

import pytest
from wis_helpers import CELLS, KINDS, Recorder, new_mm, short_real_run

from maple import workloads
from maple.linux import PAGE_SIZE


@pytest.mark.parametrize("kind", KINDS)
def test_processes_setup_creates_the_vma_and_the_loop_resizes_it(kind):
    wl = workloads.get("brk2")
    child = new_mm(kind).fork()
    before = child.map_count
    old_brk = child.brk(0)
    rec = Recorder(child)
    base = wl.setup(rec, 0)
    assert base == old_brk + PAGE_SIZE
    assert [(c.name, c.args, c.result) for c in rec.log] == [("brk", (0,), old_brk), ("brk", (base,), base)]
    n0 = child.map_count
    assert n0 == before + 1  # the first brk after fork made the task's own heap VMA
    own = child.find_vma(old_brk)
    assert own.start == old_brk and own.end == base
    for _ in range(3):
        rec.log.clear()
        assert wl.loop(rec, base) == 2
        assert [(c.name, c.args, c.result) for c in rec.log] == [
            ("brk", (base + PAGE_SIZE,), base + PAGE_SIZE), ("brk", (base,), base)]
        assert [c.map_count for c in rec.log] == [n0, n0]  # expand and contract, never a new VMA
        assert child.find_vma(old_brk).end == base
        child.validate()


@pytest.mark.parametrize("kind", KINDS)
def test_threads_each_sbrk_gives_a_distinct_base(kind):
    wl = workloads.get("brk2")
    mm = new_mm(kind)
    bases = [wl.setup(mm, t) for t in range(3)]
    assert bases == [bases[0] + i * PAGE_SIZE for i in range(3)]
    n0 = mm.map_count
    for b in bases:
        assert wl.loop(mm, b) == 2
        assert mm.map_count == n0
    mm.validate()


def test_short_real_run_both_mms_both_modes(tmp_path):
    df = short_real_run(tmp_path, "brk2")
    assert len(df) == 8 and df.ops.sum() > 0
    assert set(zip(df.mm, df["mode"])) == CELLS
