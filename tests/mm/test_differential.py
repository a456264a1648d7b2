"""Differential: random syscall sequences give identical address spaces on every index.

The maple tree index, the legacy rbtree/list/vmacache index and the sorted-list oracle run
the same sequence in lockstep; after every step each mm must validate, answer every lookup
consistently, and hold exactly the same VMAs (bounds, flags, pgoff, file, anon_vma sharing),
page tables and break, and every call must return the same value or fail with the same errno.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maple.mm import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_PRIVATE,
    MAP_SHARED,
    File,
    MMError,
)
from maple.mm.mm import RULES
from mm_helpers import BASE, KINDS, P, check, new_mm

WINDOW = 48  # pages of the window the random operations aim at

prots = st.sampled_from([1, 3, 1, 3, 0, 5, 7])
page = st.integers(0, WINDOW - 1)
npages = st.integers(1, 12)
mmap_kinds = st.sampled_from(
    ["fixed", "fixed", "fixed", "hint", "any", "noreplace", "file", "shared", "shared_file", "stack"]
)

_mmap = st.tuples(st.just("mmap"), page, npages, prots, mmap_kinds, st.integers(0, 8))
_mprotect = st.tuples(st.just("mprotect"), page, st.integers(1, 5), prots)
_fault = st.tuples(st.just("fault"), st.one_of(page, page, page, st.integers(-300, -1)), st.booleans())
_by_name = {
    "mmap": _mmap,
    "munmap": st.tuples(st.just("munmap"), page, npages),
    "mprotect": _mprotect,
    "brk": st.tuples(st.just("brk"), st.integers(-3, 12)),
    "fault": _fault,
    "fork": st.tuples(st.just("fork")),
}
#: weighted: mmap and mprotect often (merges and splits), fork rarely
ops = st.sampled_from(
    ["mmap"] * 6 + ["munmap"] * 2 + ["mprotect"] * 5 + ["brk"] * 2 + ["fault"] * 4 + ["fork"]
).flatmap(_by_name.__getitem__)


class Run:
    """One address space plus its own files (page caches must not be shared across kinds)."""

    def __init__(self, kind: str, layout: str | None, rules: str = "6.1") -> None:
        self.mm = new_mm(kind, layout, rules)
        self.files = [File("/data/a", inode=1), File("/data/b", inode=2)]

    def step(self, op):
        mm = self.mm
        name = op[0]
        try:
            if name == "mmap":
                _, pg, n, prot, how, fileno = op
                addr, file, pgoff = BASE + pg * P, None, 0
                flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
                if how == "hint":
                    flags = MAP_PRIVATE | MAP_ANONYMOUS
                elif how == "any":
                    addr, flags = 0, MAP_PRIVATE | MAP_ANONYMOUS
                elif how == "noreplace":
                    flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE
                elif how == "file":
                    flags, file, pgoff = MAP_PRIVATE | MAP_FIXED, self.files[fileno % 2], pg + fileno
                elif how == "shared":
                    flags = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED
                elif how == "shared_file":
                    flags, file, pgoff = MAP_SHARED | MAP_FIXED, self.files[fileno % 2], pg
                elif how == "stack":
                    flags |= MAP_GROWSDOWN
                return mm.mmap(addr, n * P, prot, flags, file, pgoff)
            if name == "munmap":
                return mm.munmap(BASE + op[1] * P, op[2] * P)
            if name == "mprotect":
                return mm.mprotect(BASE + op[1] * P, op[2] * P, op[3])
            if name == "brk":
                return mm.brk(mm.start_brk + op[1] * P // 2)
            if name == "fault":
                return mm.fault(BASE + op[1] * P + 8, op[2])
            if name == "fork":
                child = mm.fork()
                mm.exit()
                self.mm = child
                return None
        except MMError as e:
            return ("error", e.errno, getattr(e, "code", None))
        raise AssertionError(op)

    def snapshot(self):
        mm = self.mm
        anon_ids: dict[int, int] = {}
        vmas = []
        for v in mm.vmas():
            a = None if v.anon_vma is None else anon_ids.setdefault(id(v.anon_vma), len(anon_ids))
            vmas.append((v.start, v.end, v.flags, v.pgoff, v.file.path if v.file else None, a, v.anon_vma_chain))
        files = [(f.path, sorted(f.pages), f.mapcount) for f in self.files]
        return vmas, sorted(mm.page_table.items()), mm.brk_value, mm.map_count, files


def run_lockstep(layout, sequence, rules="6.1"):
    runs = [Run(kind, layout, rules) for kind in KINDS]
    for i, op in enumerate(sequence):
        results = [r.step(op) for r in runs]
        for r in runs:
            check(r.mm)
        assert results.count(results[0]) == len(results), f"step {i} {op}: {dict(zip(KINDS, results))}"
        snaps = [r.snapshot() for r in runs]
        for kind, snap in zip(KINDS[1:], snaps[1:]):
            assert snap == snaps[0], f"step {i} {op}: {kind} differs from {KINDS[0]}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout=st.sampled_from([None, None, "cat"]), sequence=st.lists(ops, max_size=30), rules=st.sampled_from(RULES))
def test_random_syscalls_agree(layout, sequence, rules):
    run_lockstep(layout, sequence, rules)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout=st.sampled_from([None, "cat", "python"]), sequence=st.lists(ops, max_size=120), rules=st.sampled_from(RULES))
def test_random_syscalls_agree_long(layout, sequence, rules):
    run_lockstep(layout, sequence, rules)


def test_known_sequence_agrees():
    """A fixed sequence touching every path once, so the default run always covers them."""
    run_lockstep(
        "cat",
        [
            ("mmap", 0, 8, 3, "fixed", 0),
            ("fault", 1, True),
            ("mprotect", 2, 2, 1),
            ("mmap", 10, 4, 1, "file", 0),
            ("mmap", 14, 4, 1, "file", 0),
            ("mmap", 20, 2, 3, "stack", 0),
            ("fault", -3, True),
            ("brk", 6),
            ("fork",),
            ("brk", 9),
            ("munmap", 1, 15),
            ("mmap", 0, 3, 7, "any", 0),
            ("mprotect", 0, 1, 3),
            ("brk", 0),
        ],
    )
