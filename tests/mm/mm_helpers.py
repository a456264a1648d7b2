"""Helpers for the address-space tests: building mms of every kind and checking them."""

from __future__ import annotations

from maple.linux import PAGE_SIZE
from maple.mm import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE, make_mm
from oracle_index import OracleVmaIndex

KINDS = ("maple", "legacy", "oracle")
P = PAGE_SIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
FIXED = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
#: a base address far from anything the empty mm places on its own
BASE = 0x100000000


def new_mm(kind: str, layout: str | None = None, rules: str = "6.1"):
    if kind == "oracle":
        return make_mm("oracle", layout=layout, index=OracleVmaIndex(), rules=rules)
    return make_mm(kind, layout=layout, rules=rules)


def spans(mm) -> list[tuple[int, int, str]]:
    """(start, end, perms) of every VMA, relative to BASE where above it."""
    return [(v.start, v.end, v.perms) for v in mm.vmas()]


def rel(mm, base: int = BASE) -> list[tuple[int, int, str]]:
    """VMAs as (first page, last page + 1, perms) relative to ``base``, for readable asserts."""
    return [((v.start - base) // P, (v.end - base) // P, v.perms) for v in mm.vmas() if v.start >= base]


def check(mm) -> None:
    """``validate()`` plus every lookup answered consistently by the index."""
    mm.validate()
    index = mm.index
    vmas = list(index)
    prev = None
    for v in vmas:
        assert index.find_vma(v.start) is v
        assert index.find_vma(v.end - 1) is v
        assert index.vma_lookup(v.start) is v
        assert index.vma_lookup(v.end - 1) is v
        assert index.find_vma_prev(v.start) == (v, prev)
        assert index.prev_vma(v) is prev
        if prev is not None:
            assert index.next_vma(prev) is v
            if prev.end < v.start:
                assert index.find_vma(prev.end) is v
                assert index.vma_lookup(prev.end) is None
                assert index.find_vma_intersection(prev.end, v.start) is None
                assert index.find_vma_prev(prev.end) == (v, prev)
        prev = v
    if prev is not None:
        assert index.next_vma(prev) is None
        assert index.find_vma(prev.end) is None
        assert index.find_vma_prev(prev.end) == (None, prev)


def total(segments) -> dict[str, int]:
    """Events of recorded segments (``mm.events.take()``) summed over lock contexts."""
    out: dict[str, int] = {}
    for seg in segments:
        for name, n in seg.events.items():
            out[name] = out.get(name, 0) + n
    return out
