"""MaState iteration semantics: check_state_handling (newer lib/test_maple_tree.c) and friends."""

from __future__ import annotations

from maple.tree import ULONG_MAX, ZERO_ENTRY, MapleTree, MaState

from .conftest import v

P1, P2, P3 = object(), object(), object()


def three_ranges() -> tuple[MapleTree, MaState]:
    mt = MapleTree(alloc=True)
    mt.store_range(0x1000, 0x1500, P1)
    mt.store_range(0x2000, 0x2500, P2)
    mt.store_range(0x3000, 0x3500, P3)
    return mt, MaState(mt)


def at(mas: MaState, entry: object, first: int, last: int) -> bool:
    return (mas.index, mas.last) == (first, last) and entry is not None


def test_root_entry_walks() -> None:
    mt = MapleTree(alloc=True)
    mt.store(0, P1)
    mas = MaState(mt)
    assert mas.walk() is P1 and (mas.index, mas.last) == (0, 0) and mas.status == "root"
    mas.pause()
    mas.set(0)
    mas.pause()
    assert mas.walk() is P1 and mas.status == "root"
    mas.set(10)
    assert mas.walk() is None and (mas.index, mas.last) == (1, ULONG_MAX) and mas.status == "none"
    mas.index = mas.last = 0
    assert mas.walk() is P1 and (mas.index, mas.last) == (0, 0)
    mas.set(0)
    assert mas.find(ULONG_MAX) is P1
    assert mas.find(ULONG_MAX) is None
    mas.set(0)
    assert mas.next(ULONG_MAX) is None and (mas.index, mas.last) == (1, ULONG_MAX)
    assert mas.prev(0) is P1 and (mas.index, mas.last) == (0, 0)
    mas.set(5)
    assert mas.find_rev(0) is P1


def test_state_handling_next() -> None:
    mt, mas = three_ranges()
    mas.set(0)
    assert mas.next(ULONG_MAX) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)
    mas.set(0)
    mas.pause()
    assert mas.next(ULONG_MAX) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)
    assert mas.next(0x2100) is P2 and (mas.index, mas.last) == (0x2000, 0x2500)  # spanning limit
    assert mas.next(0x2999) is None and (mas.index, mas.last) == (0x2501, 0x2FFF)
    assert mas.status == "overflow"
    assert mas.next(ULONG_MAX) is P3 and (mas.index, mas.last) == (0x3000, 0x3500)
    assert mas.next(ULONG_MAX) is None and (mas.index, mas.last) == (0x3501, ULONG_MAX)
    assert mas.next(ULONG_MAX) is None and (mas.index, mas.last) == (0x3501, ULONG_MAX)
    assert mas.prev(0) is P3 and (mas.index, mas.last) == (0x3000, 0x3500)


def test_state_handling_prev() -> None:
    mt, mas = three_ranges()
    mas.set(0x2000)
    assert mas.walk() is P2
    assert mas.prev(0) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)
    mas.next(ULONG_MAX)
    assert mas.prev(0x1200) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)  # spanning limit
    assert mas.prev(0x1200) is None and (mas.index, mas.last) == (0x1000, 0x1500)
    assert mas.status == "underflow"
    assert mas.prev(0x0100) is None and (mas.index, mas.last) == (0, 0x0FFF)
    assert mas.prev(0) is None and (mas.index, mas.last) == (0, 0x0FFF)
    assert mas.prev(0) is None and (mas.index, mas.last) == (0, 0x0FFF)
    assert mas.next(ULONG_MAX) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)
    assert mas.prev(0x1000) is None and (mas.index, mas.last) == (0x1000, 0x1500)
    assert mas.find(ULONG_MAX) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)
    mas.set(0x3600)
    assert mas.prev(0) is P3
    mas.pause()
    assert mas.prev(0) is P2 and (mas.index, mas.last) == (0x2000, 0x2500)
    assert mas.prev(0x1600) is None and (mas.index, mas.last) == (0x1501, 0x1FFF)
    assert mas.prev(0) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)


def test_state_handling_find() -> None:
    mt, mas = three_ranges()
    mas.set(0)
    assert mas.find(ULONG_MAX) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)
    mas.set(0)
    mas.pause()
    assert mas.find(ULONG_MAX) is P1
    mas.set(0x1200)
    assert mas.find(ULONG_MAX) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)
    assert mas.find(ULONG_MAX) is P2 and (mas.index, mas.last) == (0x2000, 0x2500)
    assert mas.find(0x2700) is None and (mas.index, mas.last) == (0x2501, 0x2FFF)
    assert mas.find(0x5000) is P3 and (mas.index, mas.last) == (0x3000, 0x3500)
    assert mas.find(ULONG_MAX) is None and (mas.index, mas.last) == (0x3501, ULONG_MAX)
    assert mas.find_rev(0) is P3 and (mas.index, mas.last) == (0x3000, 0x3500)
    assert mas.find_rev(0) is P2 and (mas.index, mas.last) == (0x2000, 0x2500)
    mas.pause()
    assert mas.find_rev(0) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)
    assert mas.find_rev(0) is None and (mas.index, mas.last) == (0, 0x0FFF)
    assert mas.status == "underflow"
    mas.set(0x1200)
    assert mas.find_rev(0) is P1 and (mas.index, mas.last) == (0x1000, 0x1500)


def test_state_handling_walk() -> None:
    mt, mas = three_ranges()
    for pause in (False, True):
        mas.set(0x1200)
        if pause:
            mas.pause()
        assert mas.walk() is P1 and (mas.index, mas.last) == (0x1000, 0x1500)
        mas.set(0x1600)
        if pause:
            mas.pause()
        assert mas.walk() is None and (mas.index, mas.last) == (0x1501, 0x1FFF)
    mas.index = mas.last = 0x1200
    assert mas.walk() is P1
    mas.index = mas.last = 0x1600
    assert mas.walk() is None and (mas.index, mas.last) == (0x1501, 0x1FFF)


def test_state_handling_turnarounds() -> None:
    mt = MapleTree(alloc=True)
    mas = MaState(mt)
    for count in range(30):
        mas.set(count)
        mas.store(v(count))
    mas.set(0)
    entry = mas.walk()
    mas.set(0)
    mas.prev(0)
    assert mas.status == "underflow"
    assert mas.find(ULONG_MAX) == entry
    entry = mas.next(ULONG_MAX)
    index = mas.index
    mas.prev(index)
    assert mas.status == "underflow"
    assert mas.next(ULONG_MAX) == entry
    mas.prev(0)
    mas.next(index - 1)
    assert mas.status == "overflow"
    assert mas.next(ULONG_MAX) == entry


def test_iteration_with_stores_in_loop() -> None:
    """check_iteration: overwriting the current or the next entry inside a mas_find loop."""
    mt = MapleTree()
    for i in range(100):
        mt.store_range(i * 10, i * 10 + 9, v(i))
    mas = MaState(mt, 0)
    seen = []
    while (entry := mas.find(ULONG_MAX)) is not None:
        seen.append(mas.index)
        if mas.index == 190:  # overwrite the current entry and part of the next
            mas.last = 205
            mas.store(v(2000))
        if mas.index == 300:  # shrink the current entry
            mas.last = 305
            mas.store(v(3000))
    mt.validate()
    assert 190 in seen and 206 in seen and 210 in seen
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert mt.load(200) == v(2000) and mt.load(206) == v(20)
    assert mt.load(305) == v(3000) and mt.load(306) == v(30)
    assert 306 in seen


def test_erase_through_state_merges_empty_runs() -> None:
    mt = MapleTree()
    for i in range(10):
        mt.store_range(i * 10, i * 10 + 4, v(i))
    mas = MaState(mt, 52)
    assert mas.erase() == v(5)
    assert (mas.index, mas.last) == (45, 59)
    assert mas.erase() is None
    mt.validate()


def test_find_zero_entry_raw_and_normal_api_skips() -> None:
    mt = MapleTree()
    mt.store_range(10, 19, ZERO_ENTRY)
    mt.store_range(30, 39, v(3))
    mas = MaState(mt)
    assert mas.find(ULONG_MAX) is ZERO_ENTRY
    assert mas.find(ULONG_MAX) == v(3)
    assert list(mt.items()) == [(30, 39, v(3))]
    assert mt.find(0) == (30, 39, v(3))
    assert mt.load(15) is None
    assert len(mt) == 2


def test_state_survives_foreign_writes() -> None:
    mt = MapleTree()
    for i in range(200):
        mt.store_range(i * 10, i * 10 + 4, v(i))
    mas = MaState(mt, 500)
    assert mas.walk() == v(50)
    mt.store_range(0, 499, None)  # restructures the tree under the state
    assert mas.next(ULONG_MAX) == v(51)
    assert mas.prev(0) == v(50)
    assert mas.prev(0) is None
    mt.validate()
