"""Node packing follows the kernel: split and push decisions (mas_split, mas_push_data,
mab_calc_split, mab_no_null_split) and the store-type rule that makes a NULL written to the end
of a leaf a spanning store (mas_is_span_wr), lib/maple_tree.c v6.12-v6.18.

The expected layouts were worked out by hand from those functions; each case sits on a boundary
where an off-by-one in the kernel's arithmetic changes the result.
"""

from __future__ import annotations

from maple.tree import ULONG_MAX, MapleTree, MaState

from .conftest import v


def leaves(mt: MapleTree) -> list[tuple[int, int, int]]:
    """(min, max, slots used) of every leaf, left to right."""
    out = []
    stack = [mt._root]
    while stack:
        node = stack.pop()
        if node.leaf:
            out.append((node.min, node.max, len(node.slots)))
        else:
            stack.extend(reversed(node.slots))
    return out


def rev_inserts(first: int, last: int) -> MapleTree:
    mt = MapleTree(alloc=True)
    for i in range(first, last - 1, -1):
        mt.insert(i, v(i))
    mt.validate()
    return mt


def test_push_right_leaves_slots_minus_one_on_the_right() -> None:
    """Issue 12's smallest case. 1000..987 fill the root leaf (16 slots with the NULLs either
    side), 986 splits it 9 | 8, and 979..985 refill the left leaf; 978 overflows it (17) and
    mas_push_data pushes right: slot_total = 16 + 7 = 23 < 29, split = 23 - 14 = 9, so the
    right leaf gets 15 entries and the left keeps 10."""
    mt = rev_inserts(1000, 978)
    assert leaves(mt) == [(0, 986, 10), (987, ULONG_MAX, 15)]
    assert mt.height == 2


def test_push_left_at_the_space_boundary() -> None:
    """The rightmost leaf overflows (17) next to a left sibling holding 12: slot_total =
    16 + 11 = 27 is below space = 2 * 16 - 2 - 1 (leaf) - 1 (rightmost) = 28, so the data is
    pushed left (an off-by-one in the sum splits instead); the left leaf gets slots - 1 = 15."""
    mt = rev_inserts(1000, 976)
    assert leaves(mt) == [(0, 986, 12), (987, ULONG_MAX, 15)]
    mt.insert(1002, v(1002))  # [1001] NULL, 1002, [1003, MAX] NULL: 17 slots
    mt.validate()
    assert leaves(mt) == [(0, 989, 15), (990, ULONG_MAX, 14)]
    assert mt.height == 2


def test_split_when_two_leaves_cannot_absorb() -> None:
    """One entry more in the left sibling (13) and the push no longer fits (28 >= 28):
    mab_calc_split halves the 17 entries, 9 | 8, and the parent gains a child."""
    mt = rev_inserts(1000, 975)
    assert leaves(mt) == [(0, 986, 13), (987, ULONG_MAX, 15)]
    mt.insert(1002, v(1002))
    mt.validate()
    assert leaves(mt) == [(0, 986, 13), (987, 995, 9), (996, ULONG_MAX, 8)]


def test_null_store_at_leaf_end_rebalances_with_next_leaf() -> None:
    """Erasing a leaf's last entry writes NULL up to the leaf's end: mas_is_span_wr makes it a
    spanning store that combines the leaf with the next one (10 + 15 = 25 entries) and splits
    them 13 | 12, so no leaf but the last ever ends in NULL."""
    mt = rev_inserts(1000, 978)
    assert mt.erase(986) == v(986)
    mt.validate()
    assert leaves(mt) == [(0, 989, 13), (990, ULONG_MAX, 12)]


def test_check_spanning_store_height() -> None:
    """tools/testing/radix-tree/maple.c check_spanning_store_height: singletons until height 3,
    then one store over [90, 140] must bring the tree back to height 2."""
    mt = MapleTree(alloc=True)
    mas = MaState(mt)
    index = 0
    while mt.height != 3:
        with mt.lock:
            mas.store(v(index))
        index += 1
        mas.set(index)
    mas.set_range(90, 140)
    with mt.lock:
        mas.store(v(index))
    mt.validate()
    assert mt.height == 2


def test_sequential_inserts_pack_like_the_kernel() -> None:
    """check_seq's shape: ascending singletons push left into full-minus-one leaves, so every
    leaf but the last two holds 15 slots (mas_push_data: split = slots - 2)."""
    mt = MapleTree()
    for i in range(301):
        mt.insert(i, v(i))
    mt.validate()
    counts = [n for _, _, n in leaves(mt)]
    assert counts[:-2] == [15] * (len(counts) - 2)


def test_root_split_dense_rule_leaves_the_rightmost_leaf_short() -> None:
    """check_seq's first split (0..15 in a regular tree): b_end 16, split 8 moves right while
    pivot - 0 < 15 and b_end - split > mt_min_slots (6), stopping at 10: 11 | 6. The short leaf
    is the rightmost, which mt_validate allows (end < mt_min_slots only where max != ULONG_MAX)."""
    mt = MapleTree()
    for i in range(16):
        mt.insert(i, v(i))
    mt.validate()
    assert leaves(mt) == [(0, 10, 11), (11, ULONG_MAX, 6)]


def test_validate_rejects_what_the_kernel_never_builds() -> None:
    import pytest

    from maple.tree import InvariantError

    mt = rev_inserts(1000, 978)  # [0, 986] x10 | [987, MAX] x15
    left = mt._root.slots[0]
    left.slots[-1] = None  # a leaf other than the last ending in NULL
    left.gap = -1
    mt._root.gaps[0] = left.max_gap()
    mt._root.gap = max(mt._root.gaps)
    mt._count -= 1
    with pytest.raises(InvariantError, match="ends in an empty range"):
        mt.validate()
    mt = rev_inserts(1000, 978)
    left = mt._root.slots[0]
    del left.pivots[1:5], left.slots[1:5]  # 6 slots in a leaf that is not the rightmost
    mt._count -= 4
    with pytest.raises(InvariantError, match="insufficient"):
        mt.validate()
