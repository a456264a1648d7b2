"""mt_validate: an invariant walker in the spirit of sortedcontainers' ``_check()``.

Checked, per node: pivots strictly increasing inside the node's ``[min, max]``, the last pivot
equal to ``max``; slot counts within the geometry (16 / 16 / 10) and, except at the root and
the rightmost node of each level (as the kernel's mt_validate), at least the minimum fill
(mt_min_slots + 1 entries); no leaf but the last ending in an empty range; child ranges equal to the parent's slot
ranges and child parent links pointing back; no dead node reachable; every leaf at the same
depth; in allocation trees every gap equal to the child's true largest empty run. Across leaves:
no two adjacent empty ranges. Finally the stored-range count matches ``len(tree)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maple.tree.constants import (
    ARANGE64_MIN_SLOTS,
    ARANGE64_SLOTS,
    RANGE64_MIN_SLOTS,
    RANGE64_SLOTS,
    ULONG_MAX,
)
from maple.tree.errors import InvariantError
from maple.tree.node import Node, RootEntry, leaf_max_gap

if TYPE_CHECKING:
    from maple.tree.tree import MapleTree


def validate_tree(tree: "MapleTree") -> None:
    """Raise InvariantError describing the first broken invariant of ``tree``."""
    root = tree._root
    if root is None:
        if tree._count != 0:
            raise InvariantError(f"empty tree but len() is {tree._count}")
        return
    if isinstance(root, RootEntry):
        if root.entry is None:
            raise InvariantError("root entry is None")
        if tree._count != 1:
            raise InvariantError(f"lone root entry but len() is {tree._count}")
        return
    if not isinstance(root, Node):
        raise InvariantError(f"root is neither a node nor a root entry: {root!r}")
    if root.parent is not None:
        raise InvariantError("root node has a parent")
    if root.min != 0 or root.max != ULONG_MAX:
        raise InvariantError(f"root node covers [{root.min}, {root.max}], not the whole space")
    state = {"leaf_depth": None, "prev_null": False, "count": 0, "prev_max": -1}
    _check_node(tree, root, 0, ULONG_MAX, 0, True, state)
    if state["prev_max"] != ULONG_MAX:
        raise InvariantError(f"leaves end at {state['prev_max']}, not ULONG_MAX")
    if state["count"] != tree._count:
        raise InvariantError(f"{state['count']} stored ranges but len() is {tree._count}")


def _check_node(tree: "MapleTree", node: Node, nmin: int, nmax: int, depth: int, is_root: bool, state: dict[str, Any]) -> int:
    """Check ``node`` and its subtree; return its largest empty run."""
    where = f"node [{nmin}, {nmax}] at depth {depth}"
    if node.dead:
        raise InvariantError(f"dead {where} is reachable")
    if node.min != nmin or node.max != nmax:
        raise InvariantError(f"{where} records range [{node.min}, {node.max}]")
    pivots = node.pivots
    slots = node.slots
    n = len(slots)
    if len(pivots) != n or n == 0:
        raise InvariantError(f"{where} has {len(pivots)} pivots for {n} slots")
    if node.leaf or not tree.alloc:
        cap, kmin = RANGE64_SLOTS, RANGE64_MIN_SLOTS
    else:
        cap, kmin = ARANGE64_SLOTS, ARANGE64_MIN_SLOTS
    if n > cap:
        raise InvariantError(f"{where} holds {n} slots, more than {cap}")
    if not is_root and n - 1 < kmin and nmax != ULONG_MAX:
        # mt_validate's rule: only the rightmost node of a level may be short (a split's
        # dense-range rule can leave it with mt_min_slots entries)
        raise InvariantError(f"{where} is insufficient: {n} slots, fewer than {kmin + 1}")
    if pivots[-1] != nmax:
        raise InvariantError(f"{where} last pivot {pivots[-1]} != node max")
    prev = nmin - 1
    for i, piv in enumerate(pivots):
        if not isinstance(piv, int) or piv <= prev:
            raise InvariantError(f"{where} pivot {i} = {piv} does not exceed {prev}")
        prev = piv
    if node.leaf:
        if node.gaps is not None:
            raise InvariantError(f"leaf {where} carries gaps")
        ld = state["leaf_depth"]
        if ld is None:
            state["leaf_depth"] = depth
        elif ld != depth:
            raise InvariantError(f"leaf {where} at depth {depth}, others at {ld}")
        if state["prev_max"] != nmin - 1:
            raise InvariantError(f"leaf {where} does not follow the previous leaf ending {state['prev_max']}")
        state["prev_max"] = nmax
        if slots[-1] is None and nmax != ULONG_MAX:
            # mas_is_span_wr keeps every leaf but the last from ending in NULL
            raise InvariantError(f"leaf {where} ends in an empty range")
        for i, entry in enumerate(slots):
            if isinstance(entry, Node):
                raise InvariantError(f"leaf {where} slot {i} holds a node")
            if entry is None:
                if state["prev_null"]:
                    raise InvariantError(f"adjacent empty ranges at index {pivots[i - 1] + 1 if i else nmin}")
                state["prev_null"] = True
            else:
                state["prev_null"] = False
                state["count"] += 1
        gap = leaf_max_gap(pivots, slots, nmin)
        if node.gap >= 0 and node.gap != gap:
            raise InvariantError(f"leaf {where} caches gap {node.gap}, its largest empty run is {gap}")
        return gap
    gaps = node.gaps
    if tree.alloc:
        if gaps is None or len(gaps) != n:
            raise InvariantError(f"{where} of an allocation tree lacks per-child gaps")
    elif gaps is not None:
        raise InvariantError(f"{where} of a regular tree carries gaps")
    best = 0
    cmin = nmin
    for i, child in enumerate(slots):
        if not isinstance(child, Node):
            raise InvariantError(f"{where} slot {i} is not a node: {child!r}")
        if child.parent is not node:
            raise InvariantError(f"{where} child {i} has a wrong parent link")
        gap = _check_node(tree, child, cmin, pivots[i], depth + 1, False, state)
        if gaps is not None and gaps[i] != gap:
            raise InvariantError(f"{where} gap {i} is {gaps[i]}, child's largest empty run is {gap}")
        if gap > best:
            best = gap
        cmin = pivots[i] + 1
    if gaps is not None and node.gap != best:
        raise InvariantError(f"{where} caches gap {node.gap}, its largest empty run is {best}")
    return best
