"""The augmented rbtree on plain nodes: invariants, augmented maxima, kernel rotation counts."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maple.legacy.rbtree import AugmentedRBTree


class PNode:
    """A plain node: a key, an own value, and the embedded links the tree expects."""

    __slots__ = ("key", "val", "rb_parent", "rb_left", "rb_right", "rb_red", "rb_subtree_gap")

    def __init__(self, key: int, val: int = 0) -> None:
        self.key = key
        self.val = val
        self.rb_parent = self.rb_left = self.rb_right = None
        self.rb_red = False
        self.rb_subtree_gap = 0

    def __repr__(self) -> str:
        return f"PNode({self.key})"


def own(node: PNode) -> int:
    return node.val


def key(node: PNode) -> int:
    return node.key


def insert(tree: AugmentedRBTree, node: PNode) -> None:
    """The caller's half of an rbtree insert, as the kernel's users write it."""
    parent = None
    link = tree.root
    left = False
    while link is not None:
        parent = link
        left = node.key < link.key
        link = link.rb_left if left else link.rb_right
    tree.link(node, parent, left)
    node.rb_subtree_gap = 0
    tree.propagate(node)
    tree.insert_color(node)


def subtree_max(node: PNode | None) -> int:
    if node is None:
        return -1
    return max(node.val, subtree_max(node.rb_left), subtree_max(node.rb_right))


def assert_tree(tree: AugmentedRBTree, nodes: dict[int, PNode]) -> None:
    assert tree.check(key=key) == len(nodes)
    assert [n.key for n in tree] == sorted(nodes)
    for n in nodes.values():
        assert n.rb_subtree_gap == subtree_max(n)
    if nodes:
        assert tree.root.rb_subtree_gap == max(n.val for n in nodes.values())
        assert tree.first() is nodes[min(nodes)]
        assert tree.last() is nodes[max(nodes)]
    else:
        assert tree.root is None and tree.first() is None and tree.last() is None


ops = st.lists(
    st.one_of(
        st.tuples(st.just("ins"), st.integers(0, 200), st.integers(0, 1000)),
        st.tuples(st.just("del"), st.integers(0, 10**6), st.just(0)),
        st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 1000)),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_random_insert_erase_keeps_every_invariant(sequence):
    tree = AugmentedRBTree(own)
    nodes: dict[int, PNode] = {}
    for op, a, b in sequence:
        if op == "ins":
            if a in nodes:
                continue
            nodes[a] = node = PNode(a, b)
            insert(tree, node)
        elif op == "del" and nodes:
            k = sorted(nodes)[a % len(nodes)]
            tree.erase(nodes.pop(k))
        elif op == "set" and nodes:
            # An in-place change of a node's own value, fixed by propagate (vma_gap_update).
            node = nodes[sorted(nodes)[a % len(nodes)]]
            node.val = b
            tree.propagate(node)
        assert_tree(tree, nodes)


def test_large_random_run_against_sorted_keys():
    rnd = random.Random(7)
    tree = AugmentedRBTree(own)
    nodes: dict[int, PNode] = {}
    for i in range(4000):
        if nodes and rnd.random() < 0.45:
            k = rnd.choice(sorted(nodes))
            tree.erase(nodes.pop(k))
        else:
            k = rnd.randrange(10**6)
            if k not in nodes:
                nodes[k] = PNode(k, rnd.randrange(10**6))
                insert(tree, nodes[k])
        if i % 200 == 0:
            assert_tree(tree, nodes)
    assert_tree(tree, nodes)
    while nodes:
        tree.erase(nodes.pop(next(iter(nodes))))
    assert_tree(tree, nodes)


def test_next_and_prev_walk_in_order():
    tree = AugmentedRBTree()
    nodes = [PNode(k) for k in (50, 20, 80, 10, 30, 70, 90, 25, 35)]
    for n in nodes:
        insert(tree, n)
    ordered = sorted(nodes, key=key)
    for a, b in zip(ordered, ordered[1:]):
        assert tree.next(a) is b
        assert tree.prev(b) is a
    assert tree.next(ordered[-1]) is None
    assert tree.prev(ordered[0]) is None


def test_ascending_inserts_rotate_as_lib_rbtree():
    # 1, 2, 3: one left rotation at 1. 4: colour flip. 5: rotation. 6: flip. 7: rotation.
    tree = AugmentedRBTree()
    nodes = []
    expected = [0, 0, 1, 1, 2, 2, 3]
    for k, rotations in zip(range(1, 8), expected):
        nodes.append(PNode(k))
        insert(tree, nodes[-1])
        assert tree.rotations == rotations
    assert tree.root.key == 2
    assert tree.check(key=key) == 7


def test_zigzag_insert_is_a_double_rotation():
    tree = AugmentedRBTree()
    for k in (3, 1, 2):
        insert(tree, PNode(k))
    assert tree.rotations == 2
    assert tree.root.key == 2
    assert not tree.root.rb_red and tree.root.rb_left.rb_red and tree.root.rb_right.rb_red


def test_erasing_a_red_leaf_needs_no_rebalancing():
    tree = AugmentedRBTree()
    a, b, c = PNode(1), PNode(2), PNode(3)
    for n in (b, a, c):
        insert(tree, n)
    assert tree.rotations == 0 and a.rb_red
    tree.erase(a)
    assert tree.rotations == 0
    assert tree.check(key=key) == 2


def test_erase_of_black_leaf_rebalances_with_rotation():
    # 2 black root, 1 black, 3 black after 4's colour flip; 4 red under 3. Erasing 1 leaves
    # 2's left side short: case 4 (far nephew 4 red) rotates left at 2.
    tree = AugmentedRBTree()
    nodes = {k: PNode(k) for k in (2, 1, 3, 4)}
    for k in (2, 1, 3, 4):
        insert(tree, nodes[k])
    assert tree.rotations == 0
    tree.erase(nodes[1])
    assert tree.rotations == 1
    assert tree.root.key == 3
    assert tree.check(key=key) == 3


def test_augmented_value_follows_rotations_and_erase():
    tree = AugmentedRBTree(own)
    nodes = {k: PNode(k, val=k * 10) for k in range(1, 16)}
    for k in range(1, 16):
        insert(tree, nodes[k])
    assert tree.root.rb_subtree_gap == 150
    tree.erase(nodes[15])
    assert tree.root.rb_subtree_gap == 140
    nodes[3].val = 999
    tree.propagate(nodes[3])
    assert tree.root.rb_subtree_gap == 999
    assert tree.check(key=key) == 14


def test_check_reports_broken_invariants():
    tree = AugmentedRBTree(own)
    nodes = {k: PNode(k, k) for k in (2, 1, 3)}
    for k in (2, 1, 3):
        insert(tree, nodes[k])
    nodes[1].rb_subtree_gap = 77
    with pytest.raises(AssertionError, match="augmented value 77"):
        tree.check(key=key)
    nodes[1].rb_subtree_gap = 1
    nodes[1].rb_red = False  # 1 black, 3 red: the two sides' black heights differ
    with pytest.raises(AssertionError, match="black height"):
        tree.check(key=key)
    nodes[1].rb_red = True
    nodes[3].rb_parent = nodes[1]
    with pytest.raises(AssertionError, match="has parent"):
        tree.check(key=key)
    nodes[3].rb_parent = nodes[2]
    nodes[1].key = 5
    with pytest.raises(AssertionError, match="out of order"):
        tree.check(key=key)
