"""Replaying traces on both mm kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from maple.linux import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE
from maple.mm import parse_maps
from maple.trace.format import Trace, read_trace
from maple.trace.replay import DEFAULT_LAYOUT, Replay, replay
from maple.trace.strace import parse_strace

DATA = Path(__file__).parent / "data"
SHIPPED = Path(__file__).resolve().parents[2] / "maple" / "trace" / "data" / "kernbench-brotli.trace.gz"
KINDS = ("maple", "legacy")
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


@pytest.fixture(scope="module")
def shipped() -> Trace:
    return read_trace(SHIPPED)


def spans(maps_text: str) -> list[tuple[int, int, str]]:
    out = []
    for line in maps_text.splitlines():
        rng, perms = line.split()[:2]
        s, e = (int(x, 16) for x in rng.split("-"))
        out.append((s, e, perms))
    return out


def test_shipped_trace_replays_identically_on_both_kinds(shipped):
    results = {kind: replay(shipped, kind, keep_maps=True) for kind in KINDS}
    a, b = results["maple"], results["legacy"]
    # every address space, just before its teardown (validate() ran there), is the same
    assert a.exit_maps == b.exit_maps
    assert len(a.exit_maps) == a.stats["exits"] == 112
    assert a.stats == b.stats
    assert a.stats["execs"] == 112 and a.stats["faults"] > 10 * a.stats["syscalls"] // 2
    assert not a.tasks and not b.tasks
    # the simulation follows the trace exactly: no call succeeds in one and fails in the other
    # (make's first brk calls need the break at the end of its bss, as load_elf_binary sets it)
    assert a.stats["diverged"] == b.stats["diverged"] == 0
    assert a.divergences == b.divergences == []
    # the mm-level effects agree too; only the index's own costs differ
    for key in ("vmas_allocated", "vmas_freed", "splits", "merges", "pages_mapped", "mmap_calls", "brk_calls"):
        assert a.counters[key] == b.counters[key], key
    assert a.counters["vmas_allocated"] == a.counters["vmas_freed"]


def test_shipped_trace_slice_live_address_spaces_match(shipped):
    """Stop in the middle of the build: the live mms agree and validate."""
    stop = len(shipped.events) // 3
    live = {}
    for kind in KINDS:
        r = Replay(shipped, kind).run(stop=stop)
        r.validate()
        live[kind] = r.live_maps()
        assert len(live[kind]) >= 3
        # the replayed cc1 address spaces hold the trace's libraries at the translated places
        for text in live[kind].values():
            assert parse_maps(text) is not None
    assert live["maple"] == live["legacy"]


def test_each_step_keeps_every_mm_valid(shipped):
    r = {kind: Replay(shipped, kind) for kind in KINDS}
    for i, ev in enumerate(shipped.events[:700]):
        for kind in KINDS:
            r[kind].step(i, ev, True)
        if i % 7 == 0 or ev[0] in "xce":
            r["maple"].validate()
            r["legacy"].validate()
            assert r["maple"].live_maps() == r["legacy"].live_maps()


def test_replay_is_deterministic(shipped):
    one = Replay(shipped, "maple").run(stop=1500).finish()
    two = Replay(shipped, "maple").run(stop=1500).finish()
    assert one.counters == two.counters and one.stats == two.stats


def test_real_python_trace_fork_thread_mremap_and_failed_call():
    """Recorded with ``maplebench record --keep-log``: the log and the trace of one run."""
    tr = read_trace(DATA / "python-fork-thread-mremap.trace.gz")
    parsed = parse_strace((DATA / "python-fork-thread-mremap.strace").read_text().splitlines())
    assert parsed.events == tr.events
    assert [tr.files[f] for f in tr.layouts] == [tr.files[tr.events[0][3]]]  # python's own image
    a, b = (replay(tr, kind, keep_maps=True) for kind in KINDS)
    assert a.exit_maps == b.exit_maps
    assert a.stats == b.stats
    assert a.stats["diverged"] == 0
    assert a.stats["forks"] == 2  # the thread shares, the two forks copy
    assert a.stats["failed_skipped"] == 1  # the MAP_FIXED_NOREPLACE that hit EEXIST


def _trace(*events, layouts=None) -> Trace:
    return Trace(files=["/bin/prog", "/lib/libc.so.6"], events=list(events), layouts=layouts or {})


def _anon_mm_vmas(r: Replay, pid: int):
    return [(v.start, v.end, v.prot) for v in r.tasks[pid].mm.vmas() if v.file is None]


@pytest.mark.parametrize("kind", KINDS)
def test_nonfixed_placement_is_translated_for_fixed_overlays_and_munmap(kind):
    # The trace placed a 4-page reservation at T; the simulation places it wherever it likes.
    T = 0x10_0000_0000
    tr = _trace(
        ("x", 1, 0, 0),
        ("m", 1, 0, 0, 4 * PAGE_SIZE, PROT_READ, MAP_PRIVATE, 1, 0, T),
        ("m", 1, 0, T + PAGE_SIZE, PAGE_SIZE, RW, MAP_PRIVATE | MAP_FIXED, 1, PAGE_SIZE, T + PAGE_SIZE),
        ("p", 1, 0, T + 3 * PAGE_SIZE, PAGE_SIZE, 0, 0),
    )
    r = Replay(tr, kind).run()
    lib = [(v.start, v.end, v.prot, v.pgoff) for v in r.tasks[1].mm.vmas() if v.file is not None and v.file.path == "/lib/libc.so.6"]
    S = lib[0][0]
    assert S != T
    assert lib == [
        (S, S + PAGE_SIZE, PROT_READ, 0),
        (S + PAGE_SIZE, S + 2 * PAGE_SIZE, RW, 1),
        (S + 2 * PAGE_SIZE, S + 3 * PAGE_SIZE, PROT_READ, 2),
        (S + 3 * PAGE_SIZE, S + 4 * PAGE_SIZE, 0, 3),
    ]
    r.step(9, ("u", 1, 0, T, 4 * PAGE_SIZE, 0), True)
    assert not [v for v in r.tasks[1].mm.vmas() if v.file is not None and v.file.path == "/lib/libc.so.6"]
    assert r.stats["diverged"] == 0
    r.validate()


@pytest.mark.parametrize("kind", KINDS)
def test_mremap_in_place_and_moving(kind):
    T = 0x20_0000_0000
    base = [("x", 1, 0, 0), ("m", 1, 0, 0, 4 * PAGE_SIZE, RW, ANON, None, 0, T)]
    hole = [("u", 1, 0, T + 2 * PAGE_SIZE, 2 * PAGE_SIZE, 0)]

    def run(*events):
        r = Replay(_trace(*base, *events), kind).run()
        assert r.stats["diverged"] == 0
        r.validate()
        return r, r.tasks[1].mm, r.tasks[1].amap.translate(T)

    # grow in place into the room the munmap left: one VMA of 4 pages again
    r, mm, S = run(*hole, ("r", 1, 0, T, 2 * PAGE_SIZE, 4 * PAGE_SIZE, 1, 0, T))
    v = mm.find_vma(S)
    assert (v.start, v.end) == (S, S + 4 * PAGE_SIZE)
    # shrink in place
    r, mm, S = run(("r", 1, 0, T, 4 * PAGE_SIZE, PAGE_SIZE, 1, 0, T))
    v = mm.find_vma(S)
    assert (v.start, v.end) == (S, S + PAGE_SIZE)
    nxt = mm.find_vma(S + PAGE_SIZE)
    assert nxt is None or nxt.start >= S + 4 * PAGE_SIZE
    # grown in place in the trace, but the simulation has a neighbour there: it moves
    r, mm, S0 = run()
    r.step(5, ("r", 1, 0, T, 4 * PAGE_SIZE, 6 * PAGE_SIZE, 1, 0, T), True)
    S = r.tasks[1].amap.translate(T)
    v = mm.find_vma(S)
    assert (v.start, v.end) == (S, S + 6 * PAGE_SIZE) and S != S0
    assert r.stats["diverged"] == 0
    # moved by the traced kernel: the old range is gone, the new one is translated
    N = 0x30_0000_0000
    r, mm, S = run(*hole, ("r", 1, 0, T, 2 * PAGE_SIZE, 8 * PAGE_SIZE, 1, 0, N))
    new = r.tasks[1].amap.translate(N)
    v = mm.find_vma(new)
    assert (v.start, v.end, v.prot) == (new, new + 8 * PAGE_SIZE, RW)
    assert all(not (w.start < S0 + 2 * PAGE_SIZE and w.end > S0) or w is v for w in mm.vmas())


@pytest.mark.parametrize("kind", KINDS)
def test_brk_follows_the_simulated_break_and_refusals_only_read_it(kind):
    B = 0x5555_5559_3000
    tr = _trace(
        ("x", 1, 0, 0),
        ("b", 1, 0, 0, B),
        ("b", 1, 0, B + 8 * PAGE_SIZE, B + 8 * PAGE_SIZE),
        ("b", 1, 0, B + 2**40, B + 8 * PAGE_SIZE),  # refused by the traced kernel
    )
    r = Replay(tr, kind).run()
    sp = r.tasks[1]
    start = sp.mm.brk(0) - 8 * PAGE_SIZE
    assert sp.brk_delta == start - B
    heap = sp.mm.find_vma(start)
    assert (heap.start, heap.end) == (start, start + 8 * PAGE_SIZE)
    assert r.stats["diverged"] == 0
    assert sp.mm.counters["brk_calls"] == 4  # three replayed brks + the query above


@pytest.mark.parametrize("kind", KINDS)
def test_fork_copies_vfork_shares_exit_tears_down(kind):
    T = 0x40_0000_0000
    tr = _trace(
        ("x", 1, 0, 0),
        ("m", 1, 0, 0, PAGE_SIZE, RW, ANON, None, 0, T),
        ("c", 1, 0, 2, "f"),
        ("c", 1, 0, 3, "v"),
        ("u", 2, 0, T, PAGE_SIZE, 0),  # the fork's own copy
        ("m", 3, 0, 0, PAGE_SIZE, PROT_READ, ANON, None, 0, T + 0x100000),  # lands in 1's mm
    )
    r = Replay(tr, kind).run()
    one, two, three = r.tasks[1], r.tasks[2], r.tasks[3]
    assert three is one and one.users == 2
    assert two.mm is not one.mm
    S = one.amap.translate(T)
    assert one.mm.find_vma(S).start == S  # untouched by the child's munmap
    v = two.mm.find_vma(S)
    assert v is None or v.start > S
    assert len(_anon_mm_vmas(r, 1)) == len(_anon_mm_vmas(r, 2)) + 2
    mm1 = one.mm
    r.step(10, ("x", 3, 0, 0), True)  # the vfork child execs: 1 keeps its mm
    assert r.tasks[3] is not one and one.users == 1 and mm1.map_count > 0
    r.step(11, ("e", 1, 0), True)
    assert mm1.map_count == 0 and 1 not in r.tasks
    assert r.stats["exits"] == 1


def test_failed_calls_are_not_replayed():
    tr = _trace(
        ("x", 1, 0, 0),
        ("m", 1, 0, 0, 1 << 40, RW, ANON, None, 0, "!ENOMEM"),
        ("u", 1, 0, 0x1000, PAGE_SIZE, "!EINVAL"),
        ("p", 1, 0, 0x1000, PAGE_SIZE, RW, "!ENOMEM"),
    )
    r = Replay(tr, "maple").run()
    assert r.stats["failed_skipped"] == 3 and r.stats["syscalls"] == 0
    assert r.tasks[1].mm.counters["mmap_calls"] == 0


def test_default_layout_is_a_real_execve_image():
    vmas = spans(DEFAULT_LAYOUT)
    names = DEFAULT_LAYOUT
    assert "[stack]" in names and "[vdso]" in names and "ld-linux" in names
    assert all(s < e for s, e, _ in vmas)
    r = Replay(_trace(("x", 1, 0, 0)), "legacy").run()
    assert r.tasks[1].mm.map_count == len(vmas)


def test_user_time_is_scaled_trace_time(monkeypatch):
    import time

    tr = _trace(("x", 1, 0, 0), ("b", 1, 1500, 0, 0x555555593000), ("b", 1, 500, 0, 0x555555593000))
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    r = Replay(tr, "maple", user_scale=1.0).run()
    assert r.user == pytest.approx(0.002)
    assert slept == [pytest.approx(0.0015)]  # the last 0.5 ms stays below the sleep threshold
