"""malloc1: glibc's large malloc is mmap(128 MiB + a page) + one header write fault + munmap."""

from __future__ import annotations

import pytest
from wis_helpers import CELLS, KINDS, MODES, new_mm, short_real_run, spans, start_pass

from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE
from maple.workloads.malloc1 import glibc_mmap_size

LENGTH = (128 << 20) + PAGE_SIZE


def test_glibc_size():
    assert glibc_mmap_size(128 << 20) == LENGTH
    assert glibc_mmap_size(64 << 20) == (64 << 20) + PAGE_SIZE
    assert glibc_mmap_size(4096 * 3 - 24) == 4096 * 3  # request + 16 bytes of header fit
    assert glibc_mmap_size(4096 * 3 - 16) == 4096 * 4


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", MODES)
def test_one_pass(kind, mode):
    wl, mm, rec, state = start_pass("malloc1", kind, mode)
    before = spans(mm)
    for _ in range(2):
        rec.log.clear()
        assert wl.loop(rec, state) == 1  # one malloc/free pair
        names = [c.name for c in rec.log]
        assert names == ["mmap", "fault", "munmap"]
        mmap_call, fault_call, munmap_call = rec.log
        addr = mmap_call.result
        assert mmap_call.args == (0, LENGTH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        assert addr % PAGE_SIZE == 0
        assert fault_call.args == (addr,) and fault_call.kw == {"write": True}
        assert munmap_call.args == (addr, LENGTH)
        assert spans(mm) == before  # free gives everything back
        mm.validate()


@pytest.mark.parametrize("kind", KINDS)
def test_mapping_is_live_between_malloc_and_free(kind):
    mm = new_mm(kind)
    addr = mm.mmap(0, LENGTH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    vma = mm.find_vma(addr)
    assert vma.start <= addr and vma.end >= addr + LENGTH
    mm.fault(addr, write=True)
    mm.munmap(addr, LENGTH)
    after = mm.find_vma(addr)
    assert after is None or after.start >= addr + LENGTH or after.end <= addr


def test_short_real_run_both_mms_both_modes(tmp_path):
    df = short_real_run(tmp_path, "malloc1")
    assert len(df) == 8 and df.ops.sum() > 0
    assert set(zip(df.mm, df["mode"])) == CELLS
