"""An augmented red-black tree with embedded links, after lib/rbtree.c and rbtree_augmented.h.

The kernel's rbtree allocates nothing: a ``struct rb_node`` is embedded in the object being
indexed, and the caller does the search (it knows the key) while the library only links a
node where the caller's walk ended (``rb_link_node``) and then rebalances
(``rb_insert_color``). This module keeps that split. Nodes are any objects with the slots

* ``rb_parent``, ``rb_left``, ``rb_right`` (node or ``None``) and ``rb_red`` (bool), and
* ``rb_subtree_gap``: the augmented value (named after its one user, the VMA tree),

which is exactly what :class:`maple.legacy.links.VmaLinks` declares.

Augmentation follows ``RB_DECLARE_CALLBACKS_MAX``: every node's augmented value is the maximum
of its own value (the ``own`` callable, e.g. ``vma_compute_gap``) and its children's augmented
values. The three callbacks of ``struct rb_augment_callbacks`` are methods here:

* ``propagate(node, stop)``: recompute from ``node`` upward, stopping early at the first node
  whose value did not change, or at ``stop``;
* ``_copy(old, new)``: ``new`` takes ``old``'s value (erase moves the successor into place);
* ``_rotate(old, new)``: after a rotation ``new`` takes ``old``'s value (it now heads the same
  subtree) and ``old`` is recomputed.

Rebalancing is the kernel's: ``insert_color`` is ``__rb_insert`` (cases: colour flip; rotate at
parent; rotate at grandparent) and ``erase`` is ``rb_erase_augmented`` followed by
``____rb_erase_color`` (cases 1-4 and their mirrors), so rotation counts match the C code's.

Counters (exact, for the cost model of :mod:`maple.legacy.index`): ``rotations`` (augment
rotate callbacks, one per rotation), ``computes`` (augmented value recomputations) and
``cache_lines`` (one per node whose links, colour or augmented value a step reads or writes;
see ``docs/legacy.md``).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

Node = Any


def _zero(node: Node) -> int:
    return 0


class AugmentedRBTree:
    """An rbtree root plus the augment callbacks (``struct rb_root`` + ``rb_augment_callbacks``).

    ``own(node)`` returns the node's own augmented value; the tree keeps
    ``node.rb_subtree_gap = max(own(node), left.rb_subtree_gap, right.rb_subtree_gap)``.
    """

    __slots__ = ("root", "_own", "rotations", "computes", "cache_lines")

    def __init__(self, own: Callable[[Node], int] | None = None) -> None:
        self.root: Node | None = None
        self._own = own if own is not None else _zero
        self.rotations = 0
        self.computes = 0
        self.cache_lines = 0

    # -- augment callbacks (RB_DECLARE_CALLBACKS_MAX) -------------------------------------

    def compute_max(self, node: Node, exit: bool) -> bool:
        """``RBNAME_compute_max``: recompute ``node``'s value; with ``exit``, return True
        (and write nothing) when it is unchanged."""
        self.computes += 1
        lines = 1
        value = self._own(node)
        child = node.rb_left
        if child is not None:
            lines += 1
            if child.rb_subtree_gap > value:
                value = child.rb_subtree_gap
        child = node.rb_right
        if child is not None:
            lines += 1
            if child.rb_subtree_gap > value:
                value = child.rb_subtree_gap
        self.cache_lines += lines
        if exit and node.rb_subtree_gap == value:
            return True
        node.rb_subtree_gap = value
        return False

    def propagate(self, node: Node | None, stop: Node | None = None) -> None:
        """``RBNAME_propagate``: fix values from ``node`` up to (not including) ``stop``."""
        compute = self.compute_max
        while node is not stop:
            if compute(node, True):
                break
            node = node.rb_parent

    def _copy(self, old: Node, new: Node) -> None:
        new.rb_subtree_gap = old.rb_subtree_gap

    def _rotate(self, old: Node, new: Node) -> None:
        self.rotations += 1
        new.rb_subtree_gap = old.rb_subtree_gap
        self.compute_max(old, False)

    # -- linking helpers ----------------------------------------------------------------

    def _change_child(self, old: Node, new: Node | None, parent: Node | None) -> None:
        """``__rb_change_child``: make ``parent`` (or the root) point at ``new``."""
        if parent is None:
            self.root = new
        elif parent.rb_left is old:
            parent.rb_left = new
        else:
            parent.rb_right = new

    def _rotate_set_parents(self, old: Node, new: Node, red: bool) -> None:
        """``__rb_rotate_set_parents``: ``new`` takes ``old``'s place and colour."""
        parent = old.rb_parent
        new.rb_parent = parent
        new.rb_red = old.rb_red
        old.rb_parent = new
        old.rb_red = red
        self._change_child(old, new, parent)
        # old, new and the parent whose child pointer changed
        self.cache_lines += 2 if parent is None else 3

    def link(self, node: Node, parent: Node | None, left: bool) -> None:
        """``rb_link_node``: attach ``node`` as a red leaf where the caller's search ended."""
        node.rb_parent = parent
        node.rb_left = None
        node.rb_right = None
        node.rb_red = True
        if parent is None:
            self.root = node
            self.cache_lines += 1
        else:
            if left:
                parent.rb_left = node
            else:
                parent.rb_right = node
            self.cache_lines += 2

    # -- insertion ----------------------------------------------------------------------

    # Mirrored left/right as lib/rbtree.c is: a getattr/setattr version of the two halves
    # measured +12% per insert (link + rebalance), so the copies stay.
    def insert_color(self, node: Node) -> None:
        """``rb_insert_augmented`` / ``__rb_insert``: rebalance after ``link``."""
        parent = node.rb_parent
        while True:
            if parent is None:
                node.rb_red = False
                break
            if not parent.rb_red:
                self.cache_lines += 1
                break
            gparent = parent.rb_parent
            uncle = gparent.rb_right
            if parent is not uncle:
                # parent is gparent's left child
                if uncle is not None and uncle.rb_red:
                    # Case 1: red uncle, flip colours and continue from the grandparent.
                    uncle.rb_red = False
                    parent.rb_red = False
                    gparent.rb_red = True
                    self.cache_lines += 3
                    node = gparent
                    parent = node.rb_parent
                    continue
                tmp = parent.rb_right
                if node is tmp:
                    # Case 2: node is the right child: rotate left at parent.
                    tmp = node.rb_left
                    parent.rb_right = tmp
                    node.rb_left = parent
                    if tmp is not None:
                        tmp.rb_parent = parent
                        tmp.rb_red = False
                        self.cache_lines += 1
                    parent.rb_parent = node
                    parent.rb_red = True
                    self.cache_lines += 2
                    self._rotate(parent, node)
                    parent = node
                    tmp = node.rb_right
                # Case 3: rotate right at the grandparent.
                gparent.rb_left = tmp
                parent.rb_right = gparent
                if tmp is not None:
                    tmp.rb_parent = gparent
                    tmp.rb_red = False
                    self.cache_lines += 1
                self._rotate_set_parents(gparent, parent, True)
                self._rotate(gparent, parent)
                break
            else:
                uncle = gparent.rb_left
                if uncle is not None and uncle.rb_red:
                    uncle.rb_red = False
                    parent.rb_red = False
                    gparent.rb_red = True
                    self.cache_lines += 3
                    node = gparent
                    parent = node.rb_parent
                    continue
                tmp = parent.rb_left
                if node is tmp:
                    tmp = node.rb_right
                    parent.rb_left = tmp
                    node.rb_right = parent
                    if tmp is not None:
                        tmp.rb_parent = parent
                        tmp.rb_red = False
                        self.cache_lines += 1
                    parent.rb_parent = node
                    parent.rb_red = True
                    self.cache_lines += 2
                    self._rotate(parent, node)
                    parent = node
                    tmp = node.rb_left
                gparent.rb_right = tmp
                parent.rb_left = gparent
                if tmp is not None:
                    tmp.rb_parent = gparent
                    tmp.rb_red = False
                    self.cache_lines += 1
                self._rotate_set_parents(gparent, parent, True)
                self._rotate(gparent, parent)
                break

    # -- erasure ------------------------------------------------------------------------

    def erase(self, node: Node) -> None:
        """``rb_erase_augmented``: unlink ``node``, fix values, then rebalance colours."""
        child = node.rb_right
        tmp = node.rb_left
        if tmp is None:
            # At most one child (the right one), which must be red under a black node.
            parent = node.rb_parent
            self._change_child(node, child, parent)
            self.cache_lines += 1 if parent is None else 2
            if child is not None:
                child.rb_parent = parent
                child.rb_red = node.rb_red
                self.cache_lines += 1
                rebalance = None
            else:
                rebalance = None if node.rb_red else parent
            tmp = parent
        elif child is None:
            parent = node.rb_parent
            tmp.rb_parent = parent
            tmp.rb_red = node.rb_red
            self._change_child(node, tmp, parent)
            self.cache_lines += 2 if parent is None else 3
            rebalance = None
            tmp = parent
        else:
            successor = child
            tmp = child.rb_left
            if tmp is None:
                # The successor is the right child.
                parent = successor
                child2 = successor.rb_right
                self._copy(node, successor)
                self.cache_lines += 2
            else:
                # The successor is the leftmost node of the right subtree.
                lines = 2
                while tmp is not None:
                    parent = successor
                    successor = tmp
                    tmp = tmp.rb_left
                    lines += 1
                child2 = successor.rb_right
                parent.rb_left = child2
                successor.rb_right = child
                child.rb_parent = successor
                self.cache_lines += lines
                self._copy(node, successor)
                self.propagate(parent, successor)
            tmp = node.rb_left
            successor.rb_left = tmp
            tmp.rb_parent = successor
            grand = node.rb_parent
            self._change_child(node, successor, grand)
            self.cache_lines += 1 if grand is None else 2
            if child2 is not None:
                child2.rb_parent = parent
                child2.rb_red = False
                self.cache_lines += 1
                rebalance = None
            else:
                rebalance = None if successor.rb_red else parent
            successor.rb_parent = grand
            successor.rb_red = node.rb_red
            tmp = successor
        self.propagate(tmp, None)
        if rebalance is not None:
            self._erase_color(rebalance)

    # Mirrored left/right like insert_color (whose getattr form measured +12% per insert).
    def _erase_color(self, parent: Node) -> None:
        """``____rb_erase_color``: restore black height below ``parent`` after an erase."""
        node = None
        while True:
            sibling = parent.rb_right
            if node is not sibling:
                # node is parent's left child (or the removed leaf's empty slot).
                if sibling.rb_red:
                    # Case 1: red sibling: rotate left at parent.
                    tmp1 = sibling.rb_left
                    parent.rb_right = tmp1
                    sibling.rb_left = parent
                    tmp1.rb_parent = parent
                    tmp1.rb_red = False
                    self.cache_lines += 1
                    self._rotate_set_parents(parent, sibling, True)
                    self._rotate(parent, sibling)
                    sibling = tmp1
                tmp1 = sibling.rb_right
                if tmp1 is None or not tmp1.rb_red:
                    tmp2 = sibling.rb_left
                    if tmp2 is None or not tmp2.rb_red:
                        # Case 2: black sibling with black children: recolour.
                        sibling.rb_red = True
                        self.cache_lines += 2
                        if parent.rb_red:
                            parent.rb_red = False
                        else:
                            node = parent
                            parent = node.rb_parent
                            if parent is not None:
                                continue
                        break
                    # Case 3: rotate right at sibling.
                    tmp1 = tmp2.rb_right
                    sibling.rb_left = tmp1
                    tmp2.rb_right = sibling
                    parent.rb_right = tmp2
                    if tmp1 is not None:
                        tmp1.rb_parent = sibling
                        tmp1.rb_red = False
                        self.cache_lines += 1
                    tmp2.rb_parent = parent
                    sibling.rb_parent = tmp2
                    self.cache_lines += 3
                    self._rotate(sibling, tmp2)
                    tmp1 = sibling
                    sibling = tmp2
                # Case 4: rotate left at parent and recolour.
                tmp2 = sibling.rb_left
                parent.rb_right = tmp2
                sibling.rb_left = parent
                tmp1.rb_parent = sibling
                tmp1.rb_red = False
                self.cache_lines += 1
                if tmp2 is not None:
                    tmp2.rb_parent = parent
                    self.cache_lines += 1
                self._rotate_set_parents(parent, sibling, False)
                self._rotate(parent, sibling)
                break
            else:
                sibling = parent.rb_left
                if sibling.rb_red:
                    tmp1 = sibling.rb_right
                    parent.rb_left = tmp1
                    sibling.rb_right = parent
                    tmp1.rb_parent = parent
                    tmp1.rb_red = False
                    self.cache_lines += 1
                    self._rotate_set_parents(parent, sibling, True)
                    self._rotate(parent, sibling)
                    sibling = tmp1
                tmp1 = sibling.rb_left
                if tmp1 is None or not tmp1.rb_red:
                    tmp2 = sibling.rb_right
                    if tmp2 is None or not tmp2.rb_red:
                        sibling.rb_red = True
                        self.cache_lines += 2
                        if parent.rb_red:
                            parent.rb_red = False
                        else:
                            node = parent
                            parent = node.rb_parent
                            if parent is not None:
                                continue
                        break
                    tmp1 = tmp2.rb_left
                    sibling.rb_right = tmp1
                    tmp2.rb_left = sibling
                    parent.rb_left = tmp2
                    if tmp1 is not None:
                        tmp1.rb_parent = sibling
                        tmp1.rb_red = False
                        self.cache_lines += 1
                    tmp2.rb_parent = parent
                    sibling.rb_parent = tmp2
                    self.cache_lines += 3
                    self._rotate(sibling, tmp2)
                    tmp1 = sibling
                    sibling = tmp2
                tmp2 = sibling.rb_right
                parent.rb_left = tmp2
                sibling.rb_right = parent
                tmp1.rb_parent = sibling
                tmp1.rb_red = False
                self.cache_lines += 1
                if tmp2 is not None:
                    tmp2.rb_parent = parent
                    self.cache_lines += 1
                self._rotate_set_parents(parent, sibling, False)
                self._rotate(parent, sibling)
                break

    # -- traversal (rb_first / rb_last / rb_next / rb_prev); not counted ---------------------

    def first(self) -> Node | None:
        """``rb_first``: the leftmost node."""
        node = self.root
        if node is None:
            return None
        while node.rb_left is not None:
            node = node.rb_left
        return node

    def last(self) -> Node | None:
        """``rb_last``: the rightmost node."""
        node = self.root
        if node is None:
            return None
        while node.rb_right is not None:
            node = node.rb_right
        return node

    @staticmethod
    def next(node: Node) -> Node | None:
        """``rb_next``: in-order successor."""
        if node.rb_right is not None:
            node = node.rb_right
            while node.rb_left is not None:
                node = node.rb_left
            return node
        parent = node.rb_parent
        while parent is not None and node is parent.rb_right:
            node = parent
            parent = node.rb_parent
        return parent

    @staticmethod
    def prev(node: Node) -> Node | None:
        """``rb_prev``: in-order predecessor."""
        if node.rb_left is not None:
            node = node.rb_left
            while node.rb_right is not None:
                node = node.rb_right
            return node
        parent = node.rb_parent
        while parent is not None and node is parent.rb_left:
            node = parent
            parent = node.rb_parent
        return parent

    def __iter__(self) -> Iterator[Node]:
        node = self.first()
        nxt = self.next
        while node is not None:
            yield node
            node = nxt(node)

    # -- invariants ---------------------------------------------------------------------

    def check(
        self, key: Callable[[Node], Any] | None = None, own: Callable[[Node], int] | None = None
    ) -> int:
        """Walk the whole tree and raise ``AssertionError`` on any broken invariant.

        Checks: the root is black and parentless, every child's parent link points back, no
        red node has a red child, every root-to-leaf path has the same number of black nodes,
        every augmented value equals ``max(own, children)`` exactly, and (given ``key``) the
        in-order keys strictly increase. ``own`` overrides the tree's own-value callable
        (an uncounted twin). Returns the number of nodes. Counts nothing.
        """
        root = self.root
        if root is None:
            return 0
        if root.rb_parent is not None:
            raise AssertionError(f"root {root!r} has parent {root.rb_parent!r}")
        if root.rb_red:
            raise AssertionError(f"root {root!r} is red")
        if own is None:
            own = self._own
        count = 0
        black_height = None
        prev_key = None
        # Iterative in-order walk with the black depth of each node on the stack.
        stack: list[tuple[Node, int]] = []
        node, depth = root, 0
        while stack or node is not None:
            while node is not None:
                depth += 0 if node.rb_red else 1
                stack.append((node, depth))
                node = node.rb_left
            node, depth = stack.pop()
            count += 1
            left, right = node.rb_left, node.rb_right
            for child in (left, right):
                if child is None:
                    if black_height is None:
                        black_height = depth
                    elif depth != black_height:
                        raise AssertionError(
                            f"black height {depth} below {node!r}, expected {black_height}"
                        )
                    continue
                if child.rb_parent is not node:
                    raise AssertionError(
                        f"{child!r} has parent {child.rb_parent!r}, expected {node!r}"
                    )
                if node.rb_red and child.rb_red:
                    raise AssertionError(f"red {node!r} has red child {child!r}")
            expect = own(node)
            if left is not None and left.rb_subtree_gap > expect:
                expect = left.rb_subtree_gap
            if right is not None and right.rb_subtree_gap > expect:
                expect = right.rb_subtree_gap
            if node.rb_subtree_gap != expect:
                raise AssertionError(
                    f"{node!r}: augmented value {node.rb_subtree_gap}, expected {expect}"
                )
            if key is not None:
                k = key(node)
                if prev_key is not None and not prev_key < k:
                    raise AssertionError(f"keys out of order: {prev_key!r} then {k!r}")
                prev_key = k
            node = right
        return count
