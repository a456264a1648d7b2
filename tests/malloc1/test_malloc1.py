"""malloc1: glibc's large malloc is mmap(128 MiB + a page) + one header write fault + munmap."""

from __future__ import annotations

import pytest

from maple import workloads
from maple.bench import runner as R
from maple.bench.results import RunWriter, load_run
from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE
from maple.mm import make_mm
from maple.workloads.malloc1 import glibc_mmap_size

KINDS = ["maple", "legacy"]
LENGTH = (128 << 20) + PAGE_SIZE


class Recorder:
    def __init__(self, mm):
        self.mm = mm
        self.log = []

    def __getattr__(self, name):
        attr = getattr(self.mm, name)
        if name not in ("brk", "mmap", "munmap", "mprotect", "fault"):
            return attr

        def call(*args, **kw):
            result = attr(*args, **kw)
            self.log.append((name, args, kw, result, self.mm.map_count))
            return result

        return call


def _spans(mm):
    return [(v.start, v.end, v.prot, v.flags) for v in mm.vmas()]


def test_glibc_size():
    assert glibc_mmap_size(128 << 20) == LENGTH
    assert glibc_mmap_size(64 << 20) == (64 << 20) + PAGE_SIZE
    assert glibc_mmap_size(4096 * 3 - 24) == 4096 * 3  # request + 16 bytes of header fit
    assert glibc_mmap_size(4096 * 3 - 16) == 4096 * 4


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_one_pass(kind, mode):
    wl = workloads.get("malloc1")
    mm = make_mm(kind, layout=R.default_layout())
    if mode == "processes":
        mm = mm.fork()
    rec = Recorder(mm)
    state = wl.setup(rec, 0)
    before = _spans(mm)
    for _ in range(2):
        rec.log.clear()
        assert wl.loop(rec, state) == 1  # one malloc/free pair
        names = [c[0] for c in rec.log]
        assert names == ["mmap", "fault", "munmap"]
        mmap_call, fault_call, munmap_call = rec.log
        addr = mmap_call[3]
        assert mmap_call[1] == (0, LENGTH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        assert addr % PAGE_SIZE == 0
        assert fault_call[1] == (addr,) and fault_call[2] == {"write": True}
        assert munmap_call[1] == (addr, LENGTH)
        assert _spans(mm) == before  # free gives everything back
        mm.validate()


@pytest.mark.parametrize("kind", KINDS)
def test_mapping_is_live_between_malloc_and_free(kind):
    mm = make_mm(kind, layout=R.default_layout())
    addr = mm.mmap(0, LENGTH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    vma = mm.find_vma(addr)
    assert vma.start <= addr and vma.end >= addr + LENGTH
    mm.fault(addr, write=True)
    mm.munmap(addr, LENGTH)
    after = mm.find_vma(addr)
    assert after is None or after.start >= addr + LENGTH or after.end <= addr


def test_short_real_run_both_mms_both_modes(tmp_path):
    cfg = R.RunConfig(workloads=["malloc1"], procs=[2], samples=2, warmup=0.05, interval=0.05)
    writer = RunWriter(tmp_path / "r", {})
    run = R.Runner(cfg, writer)
    status = run.run()
    R.finish(writer, status, run.error)
    assert status == "complete", run.error
    df = load_run(tmp_path / "r").samples
    assert len(df) == 8 and df.ops.sum() > 0
    assert set(zip(df.mm, df["mode"])) == {(k, m) for k in KINDS for m in ("processes", "threads")}
