"""Simulated Linux address spaces: one syscall implementation, four kernel eras.

``make_mm(kind)`` builds an address space following one kernel era (``KINDS`` maps each
kind to its ``maple.mm.eras.Era``: kernel version, date, one line):

* ``legacy``: v5.17, the augmented rbtree + VMA list + per-thread vmacache;
* ``maple-v5``: the maple tree patch set v5 (Feb 2022) that the seed thread measured:
  in-place brk grow and shrink, on-demand node allocation, RCU once an mm has two users;
* ``maple``: v6.1 as merged (worst-case preallocation, brk shrink splits again);
* ``current``: v6.18, the running kernel of this project's machine (RCU tree, precise
  preallocation, ``__mt_dup`` fork, faults under per-VMA locks).

All run the same code for mmap, munmap, mprotect, brk, page faults, fork and exit
(``maple.mm.mm.MM``); the eras differ only where the kernels did (the index, and the branch
points that consult the ``Era``). Every syscall and fault records its cost events in
``mm.events`` while that recorder is enabled (``maple.mm.events``).

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
from maple.mm.eras import ERAS, Era
from maple.mm.events import EVENTS, EventRecorder, Segment
from maple.mm.layout import MapsEntry, build_vmas, layout_text, layouts, parse_maps
from maple.mm.mm import MM, RULES
from maple.mm.vma import VMA, AnonVma, File

__all__ = [
    "make_mm", "MM", "VMA", "File", "AnonVma", "MMError", "SegmentationFault",
    "layouts", "parse_maps", "MapsEntry", "KINDS", "Era", "EVENTS", "EventRecorder", "Segment",
    "PAGE_SIZE", "PROT_NONE", "PROT_READ", "PROT_WRITE", "PROT_EXEC",
    "MAP_SHARED", "MAP_PRIVATE", "MAP_FIXED", "MAP_ANONYMOUS", "MAP_GROWSDOWN", "MAP_FIXED_NOREPLACE",
]

#: every address-space kind -> its kernel era (``Era``: ``kernel``, ``date``, ``summary``);
#: iterating gives the names, oldest era first
KINDS: dict[str, Era] = dict(ERAS)


def new_index(kind: str):
    """A fresh, empty VMA index for ``kind`` (an era name, or the index names "maple" and
    "legacy"). Raises ``InputError`` for an unknown kind."""
    era = KINDS.get(kind)
    if era is None:
        raise InputError(f"mm kind {kind!r}: expected one of {', '.join(KINDS)}")
    if era.index == "maple":
        from maple.mm.maple_index import MapleVmaIndex

        return MapleVmaIndex()
    from maple.legacy.index import LegacyVmaIndex

    return LegacyVmaIndex()


def make_mm(kind: str, *, layout: str | None = None, index=None, rules: str | None = None) -> MM:
    """A new address space of ``kind`` (a name in ``KINDS``), empty or starting from ``layout``.

    ``layout`` is a built-in layout name (``layouts()``) or ``/proc/PID/maps`` text. ``index``
    substitutes any object implementing the VMA index protocol (tests use a sorted-list
    oracle); ``kind`` then only names the era whose code paths the mm follows (an unknown
    kind: v6.1's). ``rules`` overrides the era's merge/accounting rules: ``"6.1"`` (the
    kernels the maple tree experiment compared; ``legacy``, ``maple-v5``, ``maple``) or
    ``"current"`` (v6.12+; the ``current`` era). Raises ``InputError`` for an unknown kind or
    rule set.
    """
    if rules is not None and rules not in RULES:
        raise InputError(f"rules {rules!r}: expected one of {', '.join(RULES)}")
    era = KINDS.get(kind)
    if index is None:
        index = new_index(kind)
    elif era is None:
        era = KINDS["maple"]
    mm = MM(index, rules=rules, era=era)
    if layout is not None:
        load_layout(mm, layout)
    return mm


def load_layout(mm: MM, layout: str) -> None:
    """Populate an empty ``mm`` with the VMAs of ``layout`` (name or maps text); a history
    layout (``maple.mm.history``) is built by replaying execve and the recorded calls."""
    from maple.mm.layout import is_history_layout

    if is_history_layout(layout):
        from maple.mm.history import build_history

        build_history(mm, layout)
        return
    built = build_vmas(parse_maps(layout_text(layout)))
    mm.populate(built.vmas, start_brk=built.start_brk, brk=built.brk, start_stack=built.start_stack,
                mmap_base=built.mmap_base, arch=built.arch, gate=built.gate, mmap_legacy=built.legacy)
