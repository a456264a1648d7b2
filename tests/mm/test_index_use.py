"""How the address space drives its index: the calls the kernel's design implies, and
deterministic counters."""

from __future__ import annotations

import errno
from collections import Counter

import pytest

from maple.mm import MM, PROT_READ, MMError, make_mm
from maple.mm import new_index as _new_index
from mm_helpers import ANON, BASE, FIXED, RW, P, check, new_mm


class Spy:
    """Forwards to a real index and counts the protocol calls the mm makes."""

    def __init__(self, index) -> None:
        self._index = index
        self.calls: Counter = Counter()

    def __getattr__(self, name):
        attr = getattr(self._index, name)
        if callable(attr):
            def call(*args, **kw):
                self.calls[name] += 1
                return attr(*args, **kw)
            return call
        return attr

    def __len__(self):
        return len(self._index)

    def __iter__(self):
        return iter(self._index)


@pytest.fixture(params=["maple", "legacy"])
def spied(request):
    spy = Spy(_new_index(request.param))
    return MM(spy), spy


def test_munmap_of_many_vmas_is_one_detach(spied):
    mm, spy = spied
    for i in range(6):
        mm.mmap(BASE + 2 * i * P, P, RW if i % 2 else PROT_READ, FIXED)
    spy.calls.clear()
    mm.munmap(BASE, 12 * P)
    assert spy.calls["remove_range"] == 1 and spy.calls["remove"] == 0
    assert mm.map_count == 0


def test_brk_growth_is_one_in_place_adjust(spied):
    mm, spy = spied
    start = mm.brk(0)
    mm.brk(start + P)
    spy.calls.clear()
    mm.brk(start + 3 * P)
    assert spy.calls["adjust"] == 1 and spy.calls["insert"] == 0 and spy.calls["remove"] == 0


def test_fork_copies_the_index_in_one_dup(spied):
    mm, spy = spied
    for i in range(5):
        mm.mmap(BASE + 2 * i * P, P, RW, FIXED)
    spy.calls.clear()
    child = mm.fork()
    assert spy.calls["dup"] == 1 and spy.calls["insert"] == 0
    assert child.map_count == 5
    check(child)


def test_mprotect_merge_back_removes_instead_of_inserting(spied):
    mm, spy = spied
    mm.mmap(BASE, 3 * P, RW, FIXED)
    mm.mprotect(BASE + P, P, PROT_READ)
    spy.calls.clear()
    mm.mprotect(BASE + P, P, RW)
    assert spy.calls["insert"] == 0 and spy.calls["remove"] == 2 and spy.calls["adjust"] == 1


def workload(mm):
    start = mm.brk(0)
    for i in range(20):
        a = mm.mmap(0, (i % 3 + 1) * P, RW if i % 2 else PROT_READ, ANON)
        mm.fault(a, write=bool(i % 2))
        mm.brk(start + (i % 4) * P)
        if i % 3 == 0:
            mm.munmap(a, P)
        mm.find_vma(a)
    child = mm.fork()
    child.brk(start + 9 * P)
    child.exit()
    return mm.counters, child.counters


@pytest.mark.parametrize("kind", ["maple", "legacy"])
def test_counters_are_exact_and_repeatable(kind):
    first = workload(new_mm(kind, "cat"))
    second = workload(new_mm(kind, "cat"))
    assert first == second
    counters = first[0]
    assert counters["nodes_visited"] > 0 and counters["cache_lines"] > 0
    assert counters["syscalls"] == 20 + 20 + 7 + 1 + 1  # mmap, brk, munmap, brk(0), fork
    assert counters["faults"] == 20


def test_counters_have_the_protocol_keys():
    mm = make_mm("maple")
    keys = set(mm.counters)
    assert {
        "nodes_visited", "cache_lines", "nodes_allocated", "nodes_freed", "rb_rotations", "gap_updates",
        "vmacache_hits", "vmacache_misses", "list_updates", "vmas_visited",
        "syscalls", "faults", "vmas_allocated", "vmas_freed", "splits", "merges", "pages_mapped",
    } <= keys
    assert set(make_mm("legacy").counters) == keys


def test_vma_embeds_the_legacy_links_and_has_no_dict():
    from maple.legacy.links import VmaLinks
    from maple.mm import VMA

    v = VMA(BASE, BASE + P, 0x73)
    assert isinstance(v, VmaLinks) and not hasattr(v, "__dict__")
    assert (v.vm_next, v.rb_parent, v.rb_subtree_gap) == (None, None, 0)
    assert v.prot == RW and v.perms == "rw-p" and v.pages == 1


def test_maple_preallocates_one_plus_three_times_height_per_write():
    """v6.1's mas_preallocate asks for 1 + 3 * height nodes before every VMA tree write."""
    mm = make_mm("maple", layout="cat")
    height = mm.index.tree.height
    before = mm.counters["nodes_preallocated"]
    top = mm.brk(0)
    mm.brk(top + P)  # one write: grows the heap VMA in place
    assert mm.counters["nodes_preallocated"] - before == 1 + 3 * height
    assert make_mm("legacy", layout="cat").counters["nodes_preallocated"] == 0


@pytest.mark.parametrize("kind", ["maple", "legacy"])
def test_find_vma_takes_addresses_as_unsigned_long(kind):
    mm = make_mm(kind, layout="cat")
    assert mm.find_vma(-1) is None  # ULONG_MAX: above every VMA, on both kinds
    assert mm.find_vma(0) is mm.vmas()[0]


@pytest.mark.parametrize("kind", ["maple", "legacy"])
def test_prot_bits_as_linux_checks_them(kind):
    """Checked on Linux 6.18: mmap(prot=0x80 or 0x40) succeeds, mprotect accepts PROT_SEM (0x8)
    and refuses 0x40 and 0x80 with EINVAL."""
    mm = make_mm(kind)
    a = mm.mmap(0, 2 * P, PROT_READ | 0x40, ANON)  # do_mmap ignores unknown prot bits
    assert mm.vmas()[0].prot == PROT_READ
    mm.mprotect(a, P, PROT_READ | 0x8)  # PROT_SEM passes arch_validate_prot
    with pytest.raises(MMError) as exc:
        mm.mprotect(a, P, PROT_READ | 0x40)
    assert exc.value.errno == errno.EINVAL
    mm.validate()
