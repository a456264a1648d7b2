"""Differential property: random traces replay to the same address spaces on both kinds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maple.linux import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE
from maple.trace.faults import FaultModel
from maple.trace.format import Trace
from maple.trace.replay import Replay

PROTS = st.sampled_from([0, 1, 3, 5, 7])
BASE = 0x1000_0000_0000
STRIDE = 0x100_0000
START_BRK = 0x256D000  # cc1's break in the default layout: brk addresses line up


@st.composite
def random_trace(draw):
    events: list[tuple] = [("x", 1, 0, 0)]
    regions: dict[int, list[tuple[int, int]]] = {1: []}  # pid -> (trace start, pages)
    live = [1]
    brk = {1: None}
    next_pid = 2
    n = draw(st.integers(5, 45))
    for k in range(n):
        pid = draw(st.sampled_from(live))
        regs = regions[pid]
        what = draw(
            st.sampled_from(["mmap", "mmap", "fixed", "munmap", "mprotect", "brk", "mremap", "fork", "exit"])
        )
        if what == "mmap" or not regs and what in ("fixed", "munmap", "mprotect", "mremap"):
            pages = draw(st.integers(1, 8))
            t = BASE + (len(events) + 1) * STRIDE
            shared = draw(st.booleans())
            anon = draw(st.booleans())
            flags = (MAP_SHARED if shared else MAP_PRIVATE) | (MAP_ANONYMOUS if anon else 0)
            events.append(("m", pid, 1, 0, pages * PAGE_SIZE, draw(PROTS), flags, None if anon else 0, 0, t))
            regs.append((t, pages))
        elif what in ("fixed", "munmap", "mprotect"):
            t, pages = draw(st.sampled_from(regs))
            off = draw(st.integers(0, pages - 1))
            cnt = draw(st.integers(1, pages - off))
            a, ln = t + off * PAGE_SIZE, cnt * PAGE_SIZE
            if what == "fixed":
                flags = MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS
                events.append(("m", pid, 1, a, ln, draw(PROTS), flags, None, 0, a))
            elif what == "munmap":
                events.append(("u", pid, 1, a, ln, 0))
            else:
                events.append(("p", pid, 1, a, ln, draw(PROTS), 0))
        elif what == "mremap":
            i = draw(st.integers(0, len(regs) - 1))
            t, pages = regs[i]
            new_pages = draw(st.integers(1, 10))
            moved = draw(st.booleans())
            dest = BASE + (len(events) + 1) * STRIDE if moved else t
            events.append(("r", pid, 1, t, pages * PAGE_SIZE, new_pages * PAGE_SIZE, 1, 0, dest))
            regs[i] = (dest, new_pages)
        elif what == "brk":
            if brk[pid] is None:
                events.append(("b", pid, 1, 0, START_BRK))
                brk[pid] = START_BRK
            else:
                new = START_BRK + draw(st.integers(0, 40)) * PAGE_SIZE
                events.append(("b", pid, 1, new, new))
                brk[pid] = new
        elif what == "fork":
            child = next_pid
            next_pid += 1
            events.append(("c", pid, 1, child, "f"))
            regions[child] = list(regs)
            brk[child] = brk[pid]
            live.append(child)
        elif what == "exit" and len(live) > 1 and pid != 1:
            events.append(("e", pid, 1))
            live.remove(pid)
    return Trace(files=["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "/usr/lib/libfoo.so"], events=events)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_trace(), st.integers(0, 3))
def test_random_traces_replay_identically_on_both_kinds(trace, seed):
    a = Replay(trace, "maple", keep_maps=True, faults=FaultModel(seed=seed))
    b = Replay(trace, "legacy", keep_maps=True, faults=FaultModel(seed=seed))
    for i, ev in enumerate(trace.events):
        a.step(i, ev, True)
        b.step(i, ev, True)
        a.validate()
        b.validate()
        assert a.live_maps() == b.live_maps()
    assert a.stats == b.stats
    a.finish()
    b.finish()
    assert a.exit_maps == b.exit_maps
    assert a.counters["vmas_allocated"] == a.counters["vmas_freed"]
    assert {k: a.counters[k] for k in ("splits", "merges", "pages_mapped")} == {
        k: b.counters[k] for k in ("splits", "merges", "pages_mapped")
    }
