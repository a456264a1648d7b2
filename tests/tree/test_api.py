"""Normal-API behaviour, bad input, dup/destroy, counters and geometry."""

from __future__ import annotations

import errno
import threading

import pytest

from maple.tree import (
    ARANGE64_SLOTS,
    RANGE64_SLOTS,
    ULONG_MAX,
    ZERO_ENTRY,
    EntryExists,
    InvalidArgument,
    InvariantError,
    MapleError,
    MapleTree,
    MaState,
    NoSpace,
)
from maple.tree.node import Node

from .conftest import v


def sample_tree(alloc: bool = False) -> MapleTree:
    mt = MapleTree(alloc=alloc)
    for i in range(500):
        mt.store_range(i * 10, i * 10 + 6, v(i))
    return mt


def snapshot(mt: MapleTree) -> list:
    return list(mt.items())


def test_constants_and_errors() -> None:
    assert ULONG_MAX == 2**64 - 1
    assert (RANGE64_SLOTS, ARANGE64_SLOTS) == (16, 10)
    assert issubclass(InvalidArgument, ValueError) and InvalidArgument.errno == errno.EINVAL
    assert issubclass(EntryExists, KeyError) and EntryExists.errno == errno.EEXIST
    assert NoSpace.errno == errno.EBUSY
    assert issubclass(InvariantError, AssertionError)
    for cls in (InvalidArgument, EntryExists, NoSpace, InvariantError):
        assert issubclass(cls, MapleError)
    assert repr(ZERO_ENTRY) == "ZERO_ENTRY"
    from maple import MapleTree as Reexported

    assert Reexported is MapleTree


BAD_INDICES = [-1, ULONG_MAX + 1, 1.0, "3", None, True, False, 2**70]


@pytest.mark.parametrize("bad", BAD_INDICES)
def test_bad_indices_rejected_and_tree_unchanged(bad: object) -> None:
    mt = sample_tree(alloc=True)
    before = snapshot(mt)
    calls = [
        lambda: mt.load(bad),
        lambda: mt.store(bad, 1),
        lambda: mt.store_range(bad, 5, 1),
        lambda: mt.store_range(0, bad, 1),
        lambda: mt.insert(bad, 1),
        lambda: mt.insert_range(bad, 10, 1),
        lambda: mt.erase(bad),
        lambda: mt.find(bad),
        lambda: mt.items(bad, 10),
        lambda: mt.alloc_range(1, 1, bad, 100),
        lambda: mt.alloc_rrange(1, 1, 0, bad),
        lambda: MaState(mt, bad),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument) as info:
            call()
        assert repr(bad) in str(info.value) or str(bad) in str(info.value)
    assert snapshot(mt) == before
    mt.validate()


def test_reversed_ranges_and_bad_entries() -> None:
    mt = sample_tree(alloc=True)
    before = snapshot(mt)
    with pytest.raises(InvalidArgument, match="reversed"):
        mt.store_range(10, 9, 1)
    with pytest.raises(InvalidArgument, match="reversed"):
        mt.insert_range(10, 9, 1)
    with pytest.raises(InvalidArgument, match="None"):
        mt.insert(7, None)
    with pytest.raises(InvalidArgument, match="None"):
        mt.alloc_range(5, None)
    with pytest.raises(InvalidArgument):
        MaState(mt).set_range(9, 3)
    mas = MaState(mt, 9, 3)
    with pytest.raises(InvalidArgument):
        mas.store(1)
    assert snapshot(mt) == before
    mt.validate()


def test_alloc_range_argument_errors() -> None:
    regular = sample_tree(alloc=False)
    with pytest.raises(InvalidArgument, match="allocation tree"):
        regular.alloc_range(4, 1)
    with pytest.raises(InvalidArgument, match="allocation tree"):
        regular.alloc_rrange(4, 1)
    mt = sample_tree(alloc=True)
    before = snapshot(mt)
    with pytest.raises(InvalidArgument, match="size 0"):
        mt.alloc_range(0, 1)
    with pytest.raises(InvalidArgument, match="smaller than size"):
        mt.alloc_range(10, 1, 0, 5)
    with pytest.raises(InvalidArgument, match="min 9 > max 3"):
        mt.alloc_rrange(1, 1, 9, 3)
    with pytest.raises(NoSpace):
        mt.alloc_range(4, 1, 0, 9)  # [7, 9] is the only hole: too small
    mas = MaState(mt)
    with pytest.raises(InvalidArgument):
        mas.empty_area(5, 4, 1)
    with pytest.raises(InvalidArgument):
        mas.empty_area_rev(0, 10, 0)
    assert snapshot(mt) == before
    mt.validate()


def test_insert_collisions_include_zero_entry() -> None:
    mt = MapleTree()
    mt.store_range(10, 19, ZERO_ENTRY)
    with pytest.raises(EntryExists):
        mt.insert(15, 1)
    with pytest.raises(EntryExists):
        mt.insert_range(0, 10, 1)
    mt.insert_range(0, 9, 1)
    mt.insert_range(20, ULONG_MAX, 2)
    assert mt.load(15) is None and mt.load(9) == 1 and mt.load(ULONG_MAX) == 2
    assert mt.erase(12) is None  # the reservation goes; it loads as None
    mt.insert(12, 3)
    mt.validate()


def test_alloc_range_finds_lowest_and_highest() -> None:
    mt = MapleTree(alloc=True)
    assert mt.alloc_range(10, "a") == 0
    assert mt.alloc_rrange(10, "b") == ULONG_MAX - 9
    assert mt.alloc_range(5, "c", 100, 200) == 100
    assert mt.alloc_rrange(5, "d", 100, 200) == 196
    assert mt.load(ULONG_MAX) == "b" and mt.load(198) == "d"
    mt.validate()
    lone = MapleTree(alloc=True)
    lone.store(0, "root")
    assert lone.alloc_range(1, "x") == 1
    lone2 = MapleTree(alloc=True)
    lone2.store(0, "root")
    with pytest.raises(NoSpace):
        lone2.alloc_range(1, "x", 0, 0)


def test_edges_zero_and_ulong_max() -> None:
    mt = MapleTree()
    mt.store(ULONG_MAX, "top")
    mt.store(0, "bottom")
    assert mt.load(ULONG_MAX) == "top" and mt.load(0) == "bottom"
    assert mt.find(1) == (ULONG_MAX, ULONG_MAX, "top")
    assert list(mt.items()) == [(0, 0, "bottom"), (ULONG_MAX, ULONG_MAX, "top")]
    mt.store_range(0, ULONG_MAX, "all")
    assert len(mt) == 1 and mt.height == 1 and mt.load(12345) == "all"
    mt.store_range(0, ULONG_MAX, None)
    assert mt.empty() and len(mt) == 0 and mt.height == 0
    mt.validate()


def test_lone_root_entry_geometry() -> None:
    mt = MapleTree()
    mt.store(0, "p")
    assert mt.height == 0 and len(mt) == 1 and mt.load(0) == "p" and mt.load(1) is None
    mt.store(1, "q")
    assert mt.height == 1 and mt.load(0) == "p" and mt.load(1) == "q"
    mt.validate()
    mt2 = MapleTree()
    mt2.store(0, "p")
    mt2.store_range(5, 9, None)  # NULL elsewhere is a no-op
    assert mt2.height == 0 and mt2.load(0) == "p"
    mt2.erase(0)
    assert mt2.empty()


def test_geometry_fanout() -> None:
    """Leaves hold at most 16 slots; internal nodes 16 (regular) or 10 (alloc)."""
    for alloc, fan in ((False, 16), (True, 10)):
        mt = MapleTree(alloc=alloc)
        for i in range(5000):
            mt.store_range(i * 4, i * 4 + 2, v(i))
        mt.validate()
        stack = [mt._root]
        while stack:
            node = stack.pop()
            assert len(node.slots) <= (16 if node.leaf else fan)
            if not node.leaf:
                stack.extend(node.slots)
        assert mt.height == 4


def test_dup_is_independent_and_counts_nodes() -> None:
    for alloc in (False, True):
        mt = sample_tree(alloc)
        copy = mt.dup()
        copy.validate()
        assert snapshot(copy) == snapshot(mt)
        assert (copy.alloc, copy.rcu) == (mt.alloc, mt.rcu)
        assert copy.counters["nodes_allocated"] == mt.counters["nodes_live"]
        copy.store_range(0, 100, "x")
        assert mt.load(50) == v(5)
        mt.erase(0)
        assert copy.load(0) == "x"
        mt.validate()
        copy.validate()


def test_destroy_frees_everything() -> None:
    mt = sample_tree()
    mt.destroy()
    assert mt.empty() and len(mt) == 0 and mt.height == 0
    c = mt.counters
    assert c["nodes_allocated"] == c["nodes_freed"] and c["nodes_live"] == 0
    mt.store(5, 1)
    assert mt.load(5) == 1
    mt.validate()


def test_counters_deterministic_and_meaningful() -> None:
    def run() -> dict:
        mt = MapleTree(alloc=True)
        for i in range(2000):
            mt.store_range(i * 8, i * 8 + 3, i + 1)
        for i in range(0, 2000, 7):
            mt.erase(i * 8)
        for i in range(3000):
            mt.load((i * 37) % 16000)
        return mt.counters

    a, b = run(), run()
    assert a == b
    assert a["nodes_allocated"] > a["nodes_freed"] > 0
    assert a["nodes_visited"] > 3000 * 3  # every load walks the full height
    assert a["cache_lines"] > a["nodes_visited"]

    mt = sample_tree()
    before = mt.counters
    mt.load(1234)
    after = mt.counters
    assert after["nodes_visited"] - before["nodes_visited"] == mt.height
    assert 2 * mt.height <= after["cache_lines"] - before["cache_lines"] <= 3 * mt.height


def test_validate_detects_corruption() -> None:
    mt = sample_tree(alloc=True)
    leaf = mt._root
    while not leaf.leaf:
        leaf = leaf.slots[0]
    leaf.slots[1] = None
    leaf.slots[2] = None  # two adjacent empty ranges
    with pytest.raises(InvariantError, match="adjacent empty"):
        mt.validate()
    mt = sample_tree(alloc=True)
    mt._root.gaps[0] += 1
    with pytest.raises(InvariantError, match="gap"):
        mt.validate()
    mt = sample_tree()
    mt._root.slots[1].parent = None
    with pytest.raises(InvariantError, match="parent"):
        mt.validate()
    mt = sample_tree()
    mt._count += 1
    with pytest.raises(InvariantError, match="len"):
        mt.validate()


def test_mapping_sugar_and_lock() -> None:
    mt = MapleTree()
    mt[5] = "a"
    mt[10:20] = "b"
    assert mt[15] == "b" and 5 in mt and 6 not in mt and bool(mt)
    del mt[15]
    assert mt[12] is None
    assert list(mt.keys()) == [(5, 5)] and list(mt.values()) == ["a"]
    assert isinstance(mt.lock, type(threading.Lock()))
    assert not mt.lock.locked()
    assert "MapleTree" in repr(mt)


def test_rcu_mode_replaces_nodes_and_marks_dead() -> None:
    mt = MapleTree(rcu=True)
    for i in range(100):
        mt.store_range(i * 10, i * 10 + 4, v(i))
    leaf = mt._root
    while not leaf.leaf:
        leaf = leaf.slots[0]
    mt.store_range(2, 3, "x")  # node store: a fresh node is published
    assert leaf.dead
    new_leaf = mt._root
    while not new_leaf.leaf:
        new_leaf = new_leaf.slots[0]
    assert not new_leaf.dead and isinstance(new_leaf, Node)
    mt.validate()


def test_dup_with_map_entry_and_dropped_ranges() -> None:
    for alloc in (False, True):
        mt = sample_tree(alloc)
        mt.store_range(5000, 5009, ZERO_ENTRY)
        copy = mt.dup(lambda e: None if e in (v(3), v(4), v(250)) else ("child", e))
        copy.validate()
        expected = [
            (first, last, ("child", e))
            for first, last, e in mt.items()
            if e not in (v(3), v(4), v(250))
        ]
        assert list(copy.items()) == expected
        assert copy.load(5005) is None and copy.find(5000, 5009) is None
        assert len(copy) == len(mt) - 3
        with pytest.raises(EntryExists):
            copy.insert(5003, 1)  # the ZERO_ENTRY reservation was copied as is
        mt.validate()
    lone = MapleTree()
    lone.store(0, "p")
    assert lone.dup(lambda e: e.upper()).load(0) == "P"
    assert lone.dup(lambda e: None).empty()


def test_items_survives_writes_in_the_loop_body() -> None:
    mt = sample_tree()
    seen = []
    for first, last, entry in mt.items():
        seen.append(first)
        mt.erase(first)  # restructures leaves under the iterator
        if first % 100 == 0:
            mt.store_range(first + 10, first + 12, "new")  # lands ahead of the iterator
    mt.validate()
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert set(range(0, 5000, 10)) <= set(seen)  # every original range (or its new head)
    assert {f + 13 for f in range(0, 4900, 100)} <= set(seen)  # the remainders behind "new"
    assert mt.empty()  # everything yielded was erased: nothing was skipped


def test_normal_api_writers_take_the_lock() -> None:
    mt = MapleTree()
    done = threading.Event()

    def writer() -> None:
        mt.store_range(1, 2, "w")
        done.set()

    with mt.lock:
        thread = threading.Thread(target=writer)
        thread.start()
        assert not done.wait(0.2)  # blocked on the tree lock
        assert mt.load(1) is None  # readers never take it
    thread.join(5)
    assert done.is_set() and mt.load(1) == "w"


def test_contract_edges_found_by_the_audit() -> None:
    """mt_for_each with first > last visits nothing; sizes beyond ULONG_MAX and reserved
    entries are refused by alloc_range; XA_ZERO_ENTRY is never kept in the root pointer."""
    mt = sample_tree(alloc=True)
    before = snapshot(mt)
    assert list(mt.items(50, 10)) == []
    with pytest.raises(InvalidArgument):
        mt.items(-1, 10)
    for size in (ULONG_MAX + 1, 1 << 70):
        with pytest.raises(InvalidArgument):
            mt.alloc_range(size, "x")
        with pytest.raises(InvalidArgument):
            mt.alloc_rrange(size, "x")
        with pytest.raises(InvalidArgument):
            MaState(mt).empty_area(0, ULONG_MAX, size)
    with pytest.raises(InvalidArgument):
        mt.alloc_range(5, ZERO_ENTRY)
    assert snapshot(mt) == before
    mt.validate()
    empty = MapleTree(alloc=True)
    with pytest.raises(InvalidArgument):
        empty.alloc_range(ULONG_MAX + 1, "x")
    assert empty.empty()
    zero = MapleTree()
    zero.store(0, ZERO_ENTRY)  # mas_store_root expands an internal entry into a leaf
    assert zero.height == 1 and zero.load(0) is None and list(zero.items()) == []
    with pytest.raises(EntryExists):
        zero.insert(0, "p")
    zero.validate()
    zero.store(0, "p")  # overwriting it in place keeps the leaf
    assert zero.load(0) == "p" and zero.height == 1
    zero.validate()
