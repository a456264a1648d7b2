"""page_fault3: MAP_SHARED file mapping, a write fault and +1 per page, page cache persists."""

from __future__ import annotations

import pytest
from wis_helpers import CELLS, KINDS, MODES, new_mm, short_real_run, spans, start_pass

from maple import workloads
from maple.linux import MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE

MEMSIZE = 128 << 20
PAGES = MEMSIZE // PAGE_SIZE


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", MODES)
def test_one_pass(kind, mode):
    wl, mm, rec, state = start_pass("page_fault3", kind, mode)
    file = state[0]
    before = spans(mm)
    ops = [wl.loop(rec, state) for _ in range(wl.steps_per_loop)]
    assert sum(ops) == PAGES  # +1 per page touched
    assert rec.counts() == {"mmap": 1, "fault": PAGES, "munmap": 1}
    name, args, addr = rec.log[0].name, rec.log[0].args, rec.log[0].result
    assert name == "mmap" and args == (0, MEMSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0)
    faults = rec.log[1:-1]
    assert [f.args[0] for f in faults] == [addr + i * PAGE_SIZE for i in range(PAGES)]
    assert all(f.kw.get("write") is True for f in faults)
    assert rec.log[-1][:2] == ("munmap", (addr, MEMSIZE))
    assert spans(mm) == before
    mm.validate()


@pytest.mark.parametrize("kind", KINDS)
def test_page_cache_persists_across_passes(kind):
    wl = workloads.get("page_fault3")
    mm = new_mm(kind).fork()
    state = wl.setup(mm, 0)
    file = state[0]
    assert len(file.pages) == 0
    for _ in range(wl.steps_per_loop):
        wl.loop(mm, state)
    assert len(file.pages) == PAGES  # still cached after the munmap
    cached = set(file.pages)
    for _ in range(wl.steps_per_loop):
        wl.loop(mm, state)
    assert file.pages == cached  # the second pass found every page already cached


def test_tasks_have_separate_files():
    wl = workloads.get("page_fault3")
    mm = new_mm("maple")
    a, b = wl.setup(mm, 0), wl.setup(mm, 1)
    assert a[0] is not b[0]


def test_short_real_run_both_mms_both_modes(tmp_path):
    df = short_real_run(tmp_path, "page_fault3")
    assert len(df) == 8
    assert set(zip(df.mm, df["mode"])) == CELLS
    assert (df["count"] % 512 == 0).all()  # the counter moves a 512-page step at a time
