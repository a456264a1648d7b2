"""MaState: the kernel's advanced API (struct ma_state) over a MapleTree.

A state remembers a position (the leaf and slot of the range last returned) so that
``find``/``next``/``prev`` step in O(1) inside a leaf and re-walk from the root only when they
cross into another leaf. It notices writes made through other handles (and, in rcu mode, nodes
replaced by a concurrent writer: the kernel's dead-node check) and re-walks from ``index``.

Status follows the kernel's ``ma_status``: ``start`` (walk before use), ``active``, ``pause``,
``none`` (nothing there: empty tree, or past a lone root entry), ``root`` (at the lone root
entry), ``overflow`` / ``underflow`` (an iteration hit its limit; the position is kept so a
larger limit or the other direction resumes from it).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from maple.tree.constants import ULONG_MAX
from maple.tree.errors import InvalidArgument
from maple.tree.node import RANGE64_WALK_LINES as _LEAF_LINES
from maple.tree.node import Node
from maple.tree.tree import MapleTree, check_area_args, check_index

_MAX = ULONG_MAX

START = "start"
ACTIVE = "active"
PAUSE = "pause"
NONE = "none"
ROOT = "root"
OVERFLOW = "overflow"
UNDERFLOW = "underflow"


class MaState:
    """MA_STATE(name, tree, index, last): a cursor and write handle on ``tree``."""

    __slots__ = ("tree", "index", "last", "status", "_node", "_off", "_seq")

    def __init__(self, tree: MapleTree, index: int = 0, last: int | None = None) -> None:
        if not isinstance(tree, MapleTree):
            raise TypeError(f"MaState needs a MapleTree, not {type(tree).__name__}")
        self.tree = tree
        self.index = check_index(index)
        self.last = self.index if last is None else check_index(last, "last")
        self.status = START
        self._node: Node | None = None
        self._off = 0
        self._seq = -1

    def __repr__(self) -> str:
        return f"MaState(index={self.index}, last={self.last}, status={self.status})"

    # ------------------------------------------------------------------ positioning
    def set(self, index: int) -> None:
        """mas_set: move to ``index`` (range ``[index, index]``) and restart."""
        self.index = self.last = check_index(index)
        self.status = START
        self._node = None

    def set_range(self, index: int, last: int) -> None:
        """mas_set_range: the range of the next write; restart."""
        index = check_index(index)
        last = check_index(last, "last")
        if index > last:
            raise InvalidArgument(f"reversed range: index {index} > last {last}")
        self.index = index
        self.last = last
        self.status = START
        self._node = None

    def reset(self) -> None:
        """mas_reset: forget the position; the next operation walks from the root."""
        self.status = START
        self._node = None

    def pause(self) -> None:
        """mas_pause: drop the position so the lock may be released; find/next resume after
        ``last``, prev/find_rev before ``index``."""
        self.status = PAUSE
        self._node = None

    def _locate(self, index: int) -> Any:
        """Walk from the root to the slot holding ``index``: sets index/last to its range and
        returns its raw entry (mas_walk's work). Restarts on dead nodes."""
        tree = self.tree
        while True:  # MapleTree._walk inlined: the call cost mas_walk ~7% (see _walk)
            self._seq = tree._seq
            node, inner, height, inner_lines = tree._top
            if inner is None:
                self._node = None
                if node is None:
                    self.index, self.last = 0, _MAX
                    self.status = NONE
                    return None
                if index == 0:
                    self.index = self.last = 0
                    self.status = ROOT
                    return node.entry
                self.index, self.last = 1, _MAX
                self.status = NONE
                return None
            lines = 0
            for _ in inner:
                o = bisect_left(node.pivots, index)
                lines += inner_lines[o]
                node = node.slots[o]
            pivots = node.pivots
            o = bisect_left(pivots, index)
            tree._visited += height
            tree._lines += lines + _LEAF_LINES[o]
            entry = node.slots[o]
            if node.dead:
                continue
            self._node = node
            self._off = o
            self.index = pivots[o - 1] + 1 if o else node.min
            self.last = pivots[o]
            self.status = ACTIVE
            return entry

    def _revalidate(self, at: int) -> None:
        """Re-walk to ``at`` if the tree changed since the position was taken (or the node
        died). Iterations re-walk to the far end of what they already reported (``last`` going
        forward, ``index`` going back), so a range that changed meanwhile is never reported
        twice or out of order."""
        node = self._node
        if node is None or node.dead or self._seq != self.tree._seq:
            self._locate(at)

    # ------------------------------------------------------------------ reads
    def walk(self) -> Any:
        """mas_walk: the entry at ``index`` (raw: ZERO_ENTRY is returned as is, None if empty);
        index/last become the range holding index (the empty run around it if none)."""
        return self._locate(self.index)

    def find(self, max: int = _MAX) -> Any:
        """mas_find: first call returns the entry containing or after ``index`` (up to ``max``),
        later calls the next one; None (and overflow) when there is none."""
        st = self.status
        if st == ACTIVE:
            return self._next_slot(max)
        if st == UNDERFLOW or st == OVERFLOW:
            return self._forward_from_limit(st, max)
        if st == PAUSE:
            if self.last >= max:
                self.status = OVERFLOW
                return None
            self.index = self.last + 1
        elif st == ROOT or st == NONE:
            if self.tree._root.__class__ is Node and self._seq != self.tree._seq:
                pass  # the tree grew since: walk again from index
            else:
                self.status = NONE
                if st == ROOT:
                    self.index, self.last = 1, _MAX
                return None
        if self.index > max:
            self.status = OVERFLOW
            return None
        entry = self._locate(self.index)
        if entry is not None:
            return entry
        if self.status == NONE:
            return None
        return self._next_slot(max)

    def find_rev(self, min: int = 0) -> Any:
        """mas_find_rev: first call returns the entry containing or before ``index`` (down to
        ``min``), later calls the previous one."""
        st = self.status
        if st == ACTIVE:
            return self._prev_slot(min)
        if st == OVERFLOW or st == UNDERFLOW:
            return self._back_from_limit(st, min)
        if st == PAUSE:
            if self.index <= min:
                self.status = UNDERFLOW
                return None
            self.index = self.last = self.index - 1
        elif st == ROOT:
            self.status = UNDERFLOW
            return None
        if self.index < min:
            self.status = UNDERFLOW
            return None
        entry = self._locate(self.index)
        if entry is not None:
            return entry
        if self.status == NONE:
            return self._root_prev(min)
        return self._prev_slot(min)

    # next/prev (and find/find_rev, _next_slot/_prev_slot) mirror each other but are not
    # symmetric at the edges (a lone root entry sits at index 0), so each keeps its own body.
    def next(self, max: int = _MAX) -> Any:
        """mas_next: the next entry strictly after the current range, if it starts <= ``max``."""
        st = self.status
        if st == ACTIVE:
            return self._next_slot(max)
        if st == UNDERFLOW or st == OVERFLOW:
            return self._forward_from_limit(st, max)
        if st == START or st == PAUSE:
            self._locate(self.index)
            if self.status == ACTIVE:
                return self._next_slot(max)
        # root / none: nothing follows a lone root entry
        if self.tree._root is not None:
            self.index, self.last = 1, _MAX
        self.status = OVERFLOW if self.tree._root is not None else NONE
        return None

    def prev(self, min: int = 0) -> Any:
        """mas_prev: the previous entry strictly before the current range, if it ends >= ``min``."""
        st = self.status
        if st == ACTIVE:
            return self._prev_slot(min)
        if st == OVERFLOW or st == UNDERFLOW:
            return self._back_from_limit(st, min)
        if st == START or st == PAUSE:
            self._locate(self.index)
            if self.status == ACTIVE:
                return self._prev_slot(min)
            if self.status == ROOT:
                self.status = UNDERFLOW
                return None
            return self._root_prev(min)
        if st == NONE:
            return self._root_prev(min)
        self.status = UNDERFLOW
        return None

    def _forward_from_limit(self, st: str, max: int) -> Any:
        """find/next after an iteration stopped at a limit: turn around after an underflow,
        step on after an overflow if ``max`` now allows it."""
        if st == UNDERFLOW:
            return self._resume(max, True)
        if self.last >= max:
            return None
        return self._next_slot(max)

    def _back_from_limit(self, st: str, min: int) -> Any:
        """find_rev/prev after an iteration stopped at a limit (the mirror of the above)."""
        if st == OVERFLOW:
            return self._resume(min, False)
        if self.index <= min:
            return None
        return self._prev_slot(min)

    def _resume(self, limit: int, forward: bool) -> Any:
        """Turn around after hitting a limit: an iteration that underflowed stands *before* its
        current range, one that overflowed *after* it, so stepping the other way first returns
        the entry of the current range itself (if any)."""
        self._revalidate(self.index)
        node = self._node
        if node is not None:
            entry = node.slots[self._off]
            if entry is not None:
                self.status = ACTIVE
                return entry
        return self._next_slot(limit) if forward else self._prev_slot(limit)

    def _root_prev(self, min: int) -> Any:
        """prev from [1, ULONG_MAX] of a lone-root-entry tree: the root entry at [0, 0]."""
        root = self.tree._root
        if root is not None and root.__class__ is not Node and min == 0:
            self.index = self.last = 0
            self.status = ROOT
            return root.entry
        self.status = UNDERFLOW if root is not None else NONE
        return None

    def _next_slot(self, max: int) -> Any:
        """mas_next_slot(empty=false): step right, skipping empty ranges, limited by ``max``."""
        self._revalidate(self.last)
        if self._node is None:  # empty tree or lone root entry: nothing follows [0, 0]
            if self.tree._root is not None and self.last < max:
                self.index, self.last = 1, _MAX
            self.status = OVERFLOW if self.tree._root is not None else NONE
            return None
        while True:
            if self.last >= max:
                self.status = OVERFLOW
                return None
            node = self._node
            o = self._off + 1
            want = self.last + 1
            if o < len(node.slots):
                self.index = want
                self.last = node.pivots[o]
                self._off = o
                entry = node.slots[o]
                walk = node.dead  # replaced under us (rcu): find the same place in the new tree
            else:
                walk = True  # the next leaf
            if walk:
                entry = self._locate(want)
                if self._node is None:  # the tree shrank to a lone root entry (or nothing)
                    self.status = OVERFLOW
                    return None
                if self.index < want:  # that range changed: it counts as already passed
                    continue
            if entry is not None:
                self.status = ACTIVE
                return entry

    def _prev_slot(self, min: int) -> Any:
        """mas_prev_slot(empty=false): step left, skipping empty ranges, limited by ``min``."""
        self._revalidate(self.index)
        if self._node is None:
            if self.status == NONE and self.index > 0:
                return self._root_prev(min)
            self.status = UNDERFLOW
            return None
        while True:
            if self.index <= min:
                self.status = UNDERFLOW
                return None
            node = self._node
            o = self._off - 1
            want = self.index - 1
            if o >= 0:
                self.last = want
                self.index = node.pivots[o - 1] + 1 if o else node.min
                self._off = o
                entry = node.slots[o]
                dead = walk = node.dead
            else:
                dead = False
                walk = True  # the previous leaf
            if walk:
                entry = self._locate(want)
                if self._node is None:  # the tree shrank to a lone root entry (or nothing)
                    # status as before this refactor: root after a leaf crossing, underflow
                    # after a dead node (see the round-3 report; kept, counters/behaviour frozen)
                    if entry is None or dead:
                        self.status = UNDERFLOW
                    return entry
                if self.last > want:
                    continue
            if entry is not None:
                self.status = ACTIVE
                return entry

    # ------------------------------------------------------------------ writes (caller holds tree.lock)
    def store(self, entry: Any) -> Any:
        """mas_store: write ``entry`` over ``[index, last]``; return the first entry overwritten.
        Afterwards index/last describe the written range (widened if an empty store merged)."""
        index, last = self.index, self.last
        if index > last:
            raise InvalidArgument(f"reversed range: index {index} > last {last}")
        old, self.index, self.last = self.tree._store(index, last, entry)
        self._node = None
        self.status = ACTIVE
        return old

    def erase(self) -> Any:
        """mas_erase: empty the whole range holding ``index``; return what was there."""
        entry = self._locate(self.index)
        if entry is None:
            return None
        _, self.index, self.last = self.tree._store(self.index, self.last, None)
        self._node = None
        self.status = ACTIVE
        return entry

    # ------------------------------------------------------------------ gap search
    def empty_area(self, min: int, max: int, size: int) -> None:
        """mas_empty_area: the lowest empty window of ``size`` within [min, max] becomes
        index/last. InvalidArgument for bad limits, NoSpace if there is none."""
        self._empty_area(min, max, size, False)

    def empty_area_rev(self, min: int, max: int, size: int) -> None:
        """mas_empty_area_rev: the highest such window."""
        self._empty_area(min, max, size, True)

    def _empty_area(self, min: int, max: int, size: int, rev: bool) -> None:
        check_area_args(min, max, size)
        start = self.tree._empty_area(min, max, size, rev)
        self.index = start
        self.last = start + size - 1
        self.status = START
        self._node = None
