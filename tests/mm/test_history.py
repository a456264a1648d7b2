"""History layouts (maple.mm.history): execve + the recorded calls, on every kind, and the
store types and events the harness's brk pairs record on the current era."""

from __future__ import annotations

import pytest

from maple.errors import InputError
from maple.linux import PAGE_SIZE, VM_NOHUGEPAGE
from maple.mm import KINDS, layouts, make_mm
from maple.mm import maple_index as MI
from maple.mm.history import (
    GUARD_SIZE,
    MAIN_ARENA_FIRST_BRK,
    THREAD_STACK_SIZE,
    history_layouts,
    load_history,
    start_task_threads,
)
from maple.mm.layout import layout_text, parse_maps
from mm_helpers import check, total

HISTORIES = ("will-it-scale", "maplebench-micro", "maplebench-micro-threaded", "maplebench-micro-wis")


def test_history_layouts_are_built_in():
    assert set(HISTORIES) <= set(history_layouts()) <= set(layouts())
    meta = load_history("will-it-scale").meta
    for key in ("command", "recorded_at", "kernel", "glibc", "strace"):
        assert meta[key]
    assert meta["aslr"] is True and meta["history"]["cut"] > 0


@pytest.mark.parametrize("name", HISTORIES)
@pytest.mark.parametrize("era", list(KINDS))
def test_history_layout_builds_and_validates_on_every_era(era, name):
    mm = make_mm(era, layout=name)
    check(mm)
    assert mm.index.kind in ("maple", "legacy")
    names = {mm.vma_name(v) for v in mm.vmas()}
    assert {"[stack]", "[vdso]", "[vvar]"} <= names


@pytest.mark.parametrize("name", HISTORIES)
def test_history_replay_ends_at_the_recorded_maps(name):
    """The replay reproduces the recorded process's maps at its task start byte for byte
    (will-it-scale, maplebench-micro-wis: once the task thread exists, as it did when they
    were read: for the micro, whose main never mallocs, its [heap] included)."""
    mm = make_mm("current", layout=name)
    if name in ("will-it-scale", "maplebench-micro-wis"):
        start_task_threads(mm, 1)
    assert mm.maps() == load_history(name).meta["history"]["maps_at_start"]


def test_legacy_era_gets_the_same_vmas():
    a, b = make_mm("legacy", layout="will-it-scale"), make_mm("current", layout="will-it-scale")
    assert [(v.start, v.end, v.perms) for v in a.vmas()] == [(v.start, v.end, v.perms) for v in b.vmas()]


def test_history_layout_has_no_maps_text():
    with pytest.raises(InputError, match="history layout"):
        layout_text("will-it-scale")


def test_thread_start_is_pthread_create_per_task():
    mm = make_mm("current", layout="will-it-scale")
    before = mm.map_count
    brk = mm.brk_value
    start_task_threads(mm, 2)
    assert mm.map_count == before + 4 and mm.brk_value == brk  # the harness's heap exists already
    stacks = [v for v in mm.vmas() if v.flags & VM_NOHUGEPAGE]
    assert [(v.end - v.start, v.perms) for v in stacks] == [(GUARD_SIZE, "---p"), (THREAD_STACK_SIZE, "rw-p")] * 2
    assert all(v.anon_vma is not None for v in stacks if v.perms == "rw-p")
    check(mm)


def test_first_thread_of_a_process_without_heap_creates_it():
    """maplebench-micro never mallocs before pthread_create: _dl_allocate_tls's calloc makes
    the main arena sbrk 0x21000 (the recorded -T run shows it)."""
    mm = make_mm("current", layout="maplebench-micro")
    assert mm.brk_value == mm.start_brk
    start_task_threads(mm, 1)
    assert mm.brk_value == mm.start_brk + MAIN_ARENA_FIRST_BRK
    assert mm.vma_name(mm.find_vma(mm.start_brk)) == "[heap]"
    threaded = make_mm("current", layout="maplebench-micro-threaded")
    assert threaded.brk_value - threaded.start_brk == MAIN_ARENA_FIRST_BRK


def test_recorded_thread_start_matches_pthread_create():
    """The calls after the recording's cut are the thread's: mmap PROT_NONE of stack + guard
    with MAP_STACK, mprotect of all but the guard to read-write, then clone."""
    trace = load_history("will-it-scale")
    after = trace.events[trace.meta["history"]["cut"]:]
    m, p, c = after[:3]
    assert m[0] == "m" and m[4] == THREAD_STACK_SIZE + GUARD_SIZE and m[5] == 0 and m[6] & 0x20000
    assert p[0] == "p" and p[3] == m[9] + GUARD_SIZE and p[4] == THREAD_STACK_SIZE and p[5] == 3
    assert c[0] == "c" and c[4] == "t"


def _store_types(mm, calls):
    seen: list[str] = []
    orig = MI.MapleVmaIndex._store_type

    def spy(self, index, last, entry):
        kind = orig(self, index, last, entry)
        seen.append(kind[0])
        return kind

    MI.MapleVmaIndex._store_type = spy
    try:
        out = []
        for call in calls:
            seen.clear()
            call()
            out.append(list(seen))
        return out
    finally:
        MI.MapleVmaIndex._store_type = orig


def _brk_pair(mm):
    base = mm.brk(0)
    for _ in range(2):  # the second pair is the steady one
        mm.events.enabled = True
        mm.events.take()
        grow, shrink = _store_types(mm, [lambda: mm.brk(base + PAGE_SIZE), lambda: mm.brk(base)])
        ev = total(mm.events.take())
        mm.events.enabled = False
    return grow, shrink, ev


def test_threads_brk_pair_spans_leaves_as_on_the_host():
    """On the host (perf), with a task thread both the brk grow (vma_expand -> commit_merge)
    and the shrink (do_vmi_align_munmap -> mas_store_gfp) are maple spanning stores: [heap]
    is the last range of its leaf."""
    mm = make_mm("current", layout="will-it-scale")
    start_task_threads(mm, 1)
    mm.users = 1
    grow, shrink, ev = _brk_pair(mm)
    assert "spanning" in grow and "spanning" in shrink
    assert ev["node_copy"] >= 4 and ev["node_free_rcu"] >= 4
    assert ev.get("vma_alloc", 0) == 0  # grown and shrunk in place


def test_processes_brk_pair_creates_and_removes_a_vma():
    """A forked task's [heap] has two anon_vmas in its chain: the grown page cannot merge."""
    child = make_mm("current", layout="will-it-scale").fork()
    grow, shrink, ev = _brk_pair(child)
    assert "spanning" not in grow + shrink
    assert ev["vma_alloc"] == 1 and ev["vma_free"] == 1


def test_maps_of_the_layout_parse():
    text = make_mm("maple", layout="will-it-scale").maps()
    assert len(parse_maps(text)) == make_mm("maple", layout="will-it-scale").map_count + 1  # + [vsyscall]
