"""Simulated Linux address spaces: one syscall implementation over two VMA indexes.

``make_mm("maple")`` tracks VMAs in a ``MapleTree(alloc=True)`` as Linux 6.1 does;
``make_mm("legacy")`` uses the pre-6.1 augmented rbtree + VMA list + per-thread vmacache.
Both run the same code for mmap, munmap, mprotect, brk, page faults, fork and exit
(``maple.mm.mm.MM``), so the two kinds differ only where the kernel's did: in the index.

    >>> from maple.mm import make_mm, PROT_READ, PROT_WRITE, MAP_PRIVATE, MAP_ANONYMOUS
    >>> mm = make_mm("maple", layout="cat")
    >>> addr = mm.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    >>> mm.fault(addr, write=True)
    >>> mm.munmap(addr, 8192)

See docs/mm.md for the semantics followed, the cost model behind ``mm.counters`` and the VMA
index protocol.
"""

from __future__ import annotations

from maple.errors import InputError
from maple.linux import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_PRIVATE,
    MAP_SHARED,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from maple.mm.errors import MMError, SegmentationFault
from maple.mm.layout import MapsEntry, build_vmas, layout_text, layouts, parse_maps
from maple.mm.mm import MM, RULES
from maple.mm.vma import VMA, AnonVma, File

__all__ = [
    "make_mm", "MM", "VMA", "File", "AnonVma", "MMError", "SegmentationFault",
    "layouts", "parse_maps", "MapsEntry", "KINDS",
    "PAGE_SIZE", "PROT_NONE", "PROT_READ", "PROT_WRITE", "PROT_EXEC",
    "MAP_SHARED", "MAP_PRIVATE", "MAP_FIXED", "MAP_ANONYMOUS", "MAP_GROWSDOWN", "MAP_FIXED_NOREPLACE",
]

#: the two address-space kinds
KINDS = ("maple", "legacy")


def new_index(kind: str):
    """A fresh, empty VMA index of ``kind`` ("maple" or "legacy")."""
    if kind == "maple":
        from maple.mm.maple_index import MapleVmaIndex

        return MapleVmaIndex()
    if kind == "legacy":
        from maple.legacy.index import LegacyVmaIndex

        return LegacyVmaIndex()
    raise InputError(f"mm kind {kind!r}: expected one of {', '.join(KINDS)}")


def make_mm(kind: str, *, layout: str | None = None, index=None, rules: str = "6.1") -> MM:
    """A new address space of ``kind``, empty or starting from ``layout``.

    ``layout`` is a built-in layout name (``layouts()``) or ``/proc/PID/maps`` text. ``index``
    substitutes any object implementing the VMA index protocol (tests use a sorted-list
    oracle); ``kind`` is then ignored. ``rules`` picks the merge/accounting rules: ``"6.1"``
    (default; the kernels the maple tree experiment compared) or ``"current"`` (what a
    v6.12+ kernel does, used to check the simulation against the running kernel).
    """
    if index is None:
        index = new_index(kind)
    if rules not in RULES:
        raise InputError(f"rules {rules!r}: expected one of {', '.join(RULES)}")
    mm = MM(index, rules=rules)
    if layout is not None:
        load_layout(mm, layout)
    return mm


def load_layout(mm: MM, layout: str) -> None:
    """Populate an empty ``mm`` with the VMAs of ``layout`` (name or maps text)."""
    built = build_vmas(parse_maps(layout_text(layout)))
    mm.populate(built.vmas, start_brk=built.start_brk, brk=built.brk, start_stack=built.start_stack,
                mmap_base=built.mmap_base, arch=built.arch, gate=built.gate, mmap_legacy=built.legacy)
