"""page_fault3: MAP_SHARED file mapping, a write fault and +1 per page, page cache persists."""

from __future__ import annotations

import pytest

from maple import workloads
from maple.bench import runner as R
from maple.bench.results import RunWriter, load_run
from maple.linux import MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE
from maple.mm import make_mm

KINDS = ["maple", "legacy"]
MEMSIZE = 128 << 20
PAGES = MEMSIZE // PAGE_SIZE


class Recorder:
    def __init__(self, mm):
        self.mm = mm
        self.counts = {}
        self.calls = []

    def __getattr__(self, name):
        attr = getattr(self.mm, name)
        if name not in ("brk", "mmap", "munmap", "mprotect", "fault"):
            return attr

        def call(*args, **kw):
            result = attr(*args, **kw)
            self.counts[name] = self.counts.get(name, 0) + 1
            if name != "fault":
                self.calls.append((name, args, result))
            else:
                self.calls.append(("fault", args[0], kw.get("write")))
            return result

        return call


def _spans(mm):
    return [(v.start, v.end, v.prot, v.flags) for v in mm.vmas()]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_one_pass(kind, mode):
    wl = workloads.get("page_fault3")
    mm = make_mm(kind, layout=R.default_layout())
    if mode == "processes":
        mm = mm.fork()
    rec = Recorder(mm)
    state = wl.setup(rec, 0)
    file = state[0]
    before = _spans(mm)
    ops = [wl.loop(rec, state) for _ in range(wl.steps_per_loop)]
    assert sum(ops) == PAGES  # +1 per page touched
    assert rec.counts == {"mmap": 1, "fault": PAGES, "munmap": 1}
    name, args, addr = rec.calls[0]
    assert name == "mmap" and args == (0, MEMSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0)
    faults = rec.calls[1:-1]
    assert [f[1] for f in faults] == [addr + i * PAGE_SIZE for i in range(PAGES)]
    assert all(f[2] is True for f in faults)
    assert rec.calls[-1][:2] == ("munmap", (addr, MEMSIZE))
    assert _spans(mm) == before
    mm.validate()


@pytest.mark.parametrize("kind", KINDS)
def test_page_cache_persists_across_passes(kind):
    wl = workloads.get("page_fault3")
    mm = make_mm(kind, layout=R.default_layout()).fork()
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
    mm = make_mm("maple", layout=R.default_layout())
    a, b = wl.setup(mm, 0), wl.setup(mm, 1)
    assert a[0] is not b[0]


def test_short_real_run_both_mms_both_modes(tmp_path):
    cfg = R.RunConfig(workloads=["page_fault3"], procs=[2], samples=2, warmup=0.05, interval=0.05)
    writer = RunWriter(tmp_path / "r", {})
    run = R.Runner(cfg, writer)
    status = run.run()
    R.finish(writer, status, run.error)
    assert status == "complete", run.error
    df = load_run(tmp_path / "r").samples
    assert len(df) == 8
    assert set(zip(df.mm, df["mode"])) == {(k, m) for k in KINDS for m in ("processes", "threads")}
    assert (df.ops % 512 == 0).all()  # the counter moves a 512-page step at a time
