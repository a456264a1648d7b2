"""Tree nodes: the kernel's 256-byte maple_node as three flat Python lists.

A node keeps ``pivots`` and ``slots`` as parallel lists of the same length ``end + 1``. Unlike the
kernel, the last pivot is always stored and equals the node's maximum (the kernel leaves it
implied by the parent); this lets ``bisect_left(pivots, index)`` find the slot holding ``index``
with no special case. Geometry is the kernel's: a leaf holds at most 16 slots, a regular
internal node 16 children, an allocation-tree internal node 10 children plus ``gaps`` (the
largest empty run inside each child).

A node's range ``[min, max]`` never changes during its life: writes that move a boundary build
new nodes. ``dead`` is the kernel's "parent points to itself" mark: a node replaced by a writer
(mte_set_node_dead); lockless readers that meet one restart from the root.
"""

from __future__ import annotations

from typing import Any

from maple.tree.constants import ARANGE64_SLOTS, RANGE64_SLOTS


def _walk_lines(pivot_base: int, npivots: int, slot_base: int, nslots: int) -> tuple[int, ...]:
    """Cache lines a walk touches when it stops at each offset: the lines from the parent
    pointer (byte 0) up to the last pivot compared, plus the line holding the slot."""
    table = []
    for off in range(nslots):
        last_pivot = min(off, npivots - 1)
        lines = set(range(0, (pivot_base + 8 * last_pivot + 7) // 64 + 1))
        lines.add((slot_base + 8 * off) // 64)
        table.append(len(lines))
    return tuple(table)


RANGE64_WALK_LINES = _walk_lines(8, RANGE64_SLOTS - 1, 128, RANGE64_SLOTS)
"""leaf_64 / range_64 layout: parent @0, pivot i @8+8i (15), slot i @128+8i (16)."""

ARANGE64_WALK_LINES = _walk_lines(8, ARANGE64_SLOTS - 1, 80, ARANGE64_SLOTS)
"""arange_64 layout: parent @0, pivot i @8+8i (9), slot i @80+8i (10), gap i @160+8i, meta @240."""

NODE_WRITE_LINES = 4
"""A node write (new node, in-place rewrite, or gap update) touches all four lines."""


class Node:
    """One maple node. ``gaps`` is None except in allocation-tree internal nodes."""

    __slots__ = ("pivots", "slots", "gaps", "gap", "parent", "min", "max", "leaf", "dead", "lines")

    pivots: list[int]
    slots: list[Any]
    gaps: list[int] | None
    parent: "Node | None"

    def __init__(
        self,
        pivots: list[int],
        slots: list[Any],
        leaf: bool,
        nmin: int,
        gaps: list[int] | None = None,
    ) -> None:
        self.pivots = pivots
        self.slots = slots
        self.gaps = gaps
        self.gap = max(gaps) if gaps is not None else -1  # largest empty run below; -1: not cached
        self.parent = None
        self.min = nmin
        self.max = pivots[-1]
        self.leaf = leaf
        self.dead = False
        self.lines = ARANGE64_WALK_LINES if gaps is not None else RANGE64_WALK_LINES

    def __repr__(self) -> str:
        kind = "leaf" if self.leaf else ("arange" if self.gaps is not None else "range")
        return f"<{kind} node [{self.min}, {self.max}] {len(self.slots)} slots{' dead' if self.dead else ''}>"

    def max_gap(self) -> int:
        """Largest empty run under this node (mas_leaf_max_gap / ma_max_gap), cached in ``gap``."""
        gap = self.gap
        if gap < 0:
            if not self.leaf:
                raise TypeError("regular internal nodes keep no gaps")
            gap = self.gap = leaf_max_gap(self.pivots, self.slots, self.min)
        return gap


def leaf_max_gap(pivots: list[int], slots: list[Any], nmin: int) -> int:
    """Largest NULL run among a leaf's slots (mas_leaf_max_gap)."""
    best = 0
    prev = nmin - 1
    for piv, entry in zip(pivots, slots):
        if entry is None and piv - prev > best:
            best = piv - prev
        prev = piv
    return best


class RootEntry:
    """A lone entry at ``[0, 0]`` stored in the root pointer itself (no node, height 0)."""

    __slots__ = ("entry",)

    def __init__(self, entry: Any) -> None:
        self.entry = entry

    def __repr__(self) -> str:
        return f"<root entry {self.entry!r}>"
