"""The kernel's own maple tree test vectors (lib/test_maple_tree.c), ported to the Python API.

``v(x)`` is xa_mk_value(x). Function names follow the kernel test they port.
"""

from __future__ import annotations

import pytest

from maple.tree import (
    ULONG_MAX,
    ZERO_ENTRY,
    EntryExists,
    InvalidArgument,
    MapleTree,
    MaState,
    NoSpace,
)

from .conftest import v

LONG_MAX = 2**63 - 1


def insert_index(mt: MapleTree, i: int) -> None:
    mt.insert(i, v(i & LONG_MAX))


def erase_index(mt: MapleTree, i: int) -> None:
    assert mt.erase(i) == v(i & LONG_MAX)
    assert mt.load(i) is None


def check_store_range(mt: MapleTree, first: int, last: int, entry: object) -> None:
    mt.store_range(first, last, entry)
    for i in range(first, last + 1):
        assert mt.load(i) is entry or mt.load(i) == entry


def check_insert_range(mt: MapleTree, first: int, last: int, entry: object) -> None:
    mt.insert_range(first, last, entry)
    for i in range(first, min(last, first + 2000) + 1):
        assert mt.load(i) == entry


def check_seq(mt: MapleTree, max: int) -> None:
    assert mt.empty()
    for i in range(max + 1):
        insert_index(mt, i)
        for j in range(i + 1):
            assert mt.load(j) == v(j)
        if i:
            assert mt.height > 0
        assert mt.load(i + 1) is None
    mt.validate()


def check_rev_seq(mt: MapleTree, max: int) -> None:
    assert mt.empty()
    i = max
    while i:
        insert_index(mt, i)
        for j in range(i, max + 1):
            assert mt.load(j) == v(j)
        assert mt.load(i - 1) is None
        mt.set_in_rcu(True)
        assert mt.height
        mt.set_in_rcu(False)
        assert mt.height
        i -= 1
    assert mt.load(max + 1) is None
    mt.validate()


@pytest.mark.parametrize("max", [16, 1000])
def test_check_seq(max: int) -> None:
    check_seq(MapleTree(), max)


def test_check_rev_seq() -> None:
    check_rev_seq(MapleTree(alloc=True), 1000)


def test_basic_insert_set() -> None:
    """maple_tree_seed's opening inserts (flags 0)."""
    mt = MapleTree()
    assert mt.load(5015) is None
    insert_index(mt, 0)
    assert mt.load(0) == v(0)
    assert mt.load(5015) is None
    insert_index(mt, 5003)
    assert mt.load(5002) is None
    for k in (5015, 5014, 5017, 25, 1000, 1001, 1002, 1003, 1005, 5002):
        insert_index(mt, k)
    with pytest.raises(EntryExists):
        insert_index(mt, 5015)
    mt.destroy()
    for k in (1000, 1001, 1003, 1002, 1005):  # holes filled out of order
        insert_index(mt, k)
    for k in (1000, 1001, 1002, 1003, 1005):
        assert mt.load(k) == v(k)
    assert mt.load(1004) is None
    mt.validate()


def test_bound_splits() -> None:
    """check_lower_bound_split / check_upper_bound_split / check_mid_split."""
    huge = 4000 * 1000 * 1000
    for prefill in ([], [(8000 * 1000 * 1000,), (0,)]):
        mt = MapleTree()
        for (k,) in prefill:
            mt.insert(k, k if k else v(0))
        i = huge
        while i > 4096:
            mt.insert(i, i)
            j = huge
            while j >= i:
                assert mt.load(j - 1) is None
                assert mt.load(j) == j
                assert mt.load(j + 1) is None
                j //= 2
            i //= 2
        mt.validate()
    mt = MapleTree()
    i = 4096
    while i < huge:
        mt.insert(i, i)
        i *= 2
    i = 4096
    while i < huge:
        assert mt.load(i) == i and mt.load(i + 1) is None and mt.load(i - 1) is None
        i *= 2
    mt.validate()


def test_check_ranges_basic() -> None:
    mt = MapleTree()
    check_insert_range(mt, 10, 15, v(10))
    check_insert_range(mt, 20, 25, v(20))
    with pytest.raises(EntryExists):
        mt.insert_range(17, 22, v(17))
    assert mt.height
    check_store_range(mt, 17, 22, v(17))
    check_store_range(mt, 9, 1000, v(9))
    check_store_range(mt, 100, 200, v(100))
    assert mt.height
    mt.validate()
    mt.destroy()
    assert mt.height == 0

    for n, first, last, val in ((50, 5, 47, 47), (100, 45, 168, 45), (200, 45, 168, 45), (30, 6, 18, 6)):
        mt = MapleTree()
        check_seq(mt, n)
        check_store_range(mt, first, last, v(val))
        assert mt.height
        mt.validate()


def test_check_ranges_overwrite_levels() -> None:
    mt = MapleTree()
    check_seq(mt, 400)
    check_store_range(mt, 118, 128, v(118))
    for k in (140, 141, 142, 143, 130, 131, 132, 133, 134, 135):
        mt.erase(k)
    assert mt.load(118) == v(118)
    assert mt.load(128) == v(118)
    assert mt.load(127) == v(118)
    assert mt.load(129) == v(129)
    assert mt.load(135) is None
    assert mt.load(140) is None
    mt.validate()
    assert mt.height

    mt = MapleTree()
    check_seq(mt, 400)
    check_store_range(mt, 353, 361, v(353))
    check_store_range(mt, 347, 352, v(347))
    assert mt.load(346) == v(346)
    assert all(mt.load(i) == v(347) for i in range(347, 353))
    assert all(mt.load(i) == v(353) for i in range(353, 362))
    assert mt.load(362) == v(362)
    mt.validate()

    mt = MapleTree()
    check_seq(mt, 400)
    check_store_range(mt, 352, 364, None)
    check_store_range(mt, 351, 363, v(352))
    assert mt.load(350) == v(350)
    assert all(mt.load(i) == v(352) for i in range(351, 364))
    assert mt.load(364) is None
    assert mt.load(365) == v(365)
    mt.validate()

    mt = MapleTree()
    check_seq(mt, 400)
    check_store_range(mt, 352, 364, None)
    check_store_range(mt, 351, 364, v(352))
    assert mt.load(350) == v(350)
    assert all(mt.load(i) == v(352) for i in range(351, 365))
    assert mt.load(365) == v(365)
    mt.validate()

    mt = MapleTree()
    check_seq(mt, 400)
    check_store_range(mt, 362, 367, v(362))
    check_store_range(mt, 353, 361, v(353))
    mt.validate()
    assert mt.height


def test_check_ranges_interesting_cases() -> None:
    mt = MapleTree()
    for i in range(501):
        check_store_range(mt, i * 5, (i + 1) * 5, v(i * 5))
    for first, last, val in ((2400, 2400, 2400), (2411, 2411, 2411), (2412, 2412, 2412), (2396, 2400, 4052020), (2402, 2402, 2402)):
        check_store_range(mt, first, last, v(val))
    mt.validate()

    mt = MapleTree()
    for i in range(501):
        check_store_range(mt, i * 5, (i + 1) * 5, v(i * 5))
    check_store_range(mt, 2422, 2422, v(2422))
    check_store_range(mt, 2424, 2424, v(2424))
    check_store_range(mt, 2425, 2425, v(2))
    check_store_range(mt, 2460, 2470, None)
    check_store_range(mt, 2435, 2460, v(2435))
    check_store_range(mt, 2461, 2470, v(2461))
    assert mt.height
    mt.validate()


def test_check_ranges_in_place_modifications() -> None:
    mt = MapleTree(alloc=True)
    for i in range(501):
        val = i * 5 + 1
        val2 = val + 4
        check_store_range(mt, val, val2, v(val))
    for i in range(10):  # append without touching boundaries
        val = val2 + 5
        val2 = val + 4
        check_store_range(mt, val, val2, v(val))
    val = val2
    for i in range(10):  # append to the end of the last range
        val += 5
        mt.store_range(val, ULONG_MAX, v(val))
        assert mt.load(val) == v(val) and mt.load(ULONG_MAX) == v(val)
    for i in range(10, 30, 2):
        val = i * 5 + 1
        check_store_range(mt, val, val + 5, v(val))
    for i in range(50, 70, 2):
        val2 = i * 5
        check_store_range(mt, val2 - 5, val2, v(val2 - 5))
    for i in range(100, 130, 3):
        check_store_range(mt, i * 5 - 5, i * 5 + 1, v(i * 5 - 5))
    mt.set_in_rcu(True)
    for i in range(150, 180, 3):
        check_store_range(mt, i * 5 - 5, i * 5 + 1, v(i * 5 - 5))
    assert mt.height
    mt.validate()


def test_check_ranges_rebalance_gaps() -> None:
    mt = MapleTree(alloc=True)
    for i in range(51):
        check_store_range(mt, i * 10, (i + 1) * 10, v(i * 10))
    for k in (161, 162, 163):
        check_store_range(mt, k, k, v(k))
    check_store_range(mt, 240, 249, None)
    for k in (200, 210, 220, 230):
        mt.erase(k)
    mt.validate()
    assert mt.height

    mt = MapleTree(alloc=True)
    for i in range(501):
        check_store_range(mt, i * 10, (i + 1) * 10, v(i * 10))
    check_store_range(mt, 4600, 4959, v(1))
    mt.validate()

    mt = MapleTree(alloc=True)
    for i in range(501):
        check_store_range(mt, i * 10, (i + 1) * 10, v(i * 10))
    for k in (4811, 4812, 4861, 4862):
        check_store_range(mt, k, k, v(k))
    check_store_range(mt, 4842, 4849, None)
    mt.validate()


def test_check_ranges_three_way_split_to_height_4() -> None:
    """A 3-child split all the way up an allocation tree raises it to height 4."""
    mt = MapleTree(alloc=True)
    for i in range(1301):
        mt.store_range(i * 10, (i + 1) * 10, v(i * 10))
        assert mt.height < 4
    mt.validate()
    for i in range(5, 215, 10):
        check_store_range(mt, 11450 + i, 11450 + i + 1, None)
        mt.validate()
    for i in range(5, 65, 10):
        check_store_range(mt, 11770 + i, 11770 + i + 1, None)
        mt.validate()
    assert mt.height < 4
    for i in range(5, 45, 10):
        check_store_range(mt, 11700 + i, 11700 + i + 1, None)
        mt.validate()
    assert mt.height >= 4


def test_check_ranges_triple_split_across_levels() -> None:
    """check_ranges' last case as in the current lib/test_maple_tree.c (v6.4 onwards): fill
    parents and leaves, then one store triple-splits across levels to height 4."""
    mt = MapleTree(alloc=True)
    for i in range(1201):
        mt.store_range(i * 10, (i + 1) * 10, v(i * 10))
        assert mt.height < 4
    mt.validate()
    for i in range(5, 455, 10):  # fill parents and leaves before the split
        check_store_range(mt, 7800 + i, 7800 + i + 1, None)
    mt.validate()
    for i in range(1, 16):
        check_store_range(mt, 8185 + i, 8185 + i + 1, v(8185 + i))
    assert mt.height < 4
    mt.validate()
    check_store_range(mt, 8184, 8184, v(8184))  # triple split across multiple levels
    mt.validate()
    assert mt.height == 4


def test_check_find() -> None:
    mt = MapleTree()
    top = 4398046511104
    val = 0
    insert_index(mt, val)
    val += 1
    for _ in range(21):
        if val != 64:
            insert_index(mt, val)
        else:
            mt.insert(val, ZERO_ENTRY)
        val <<= 2

    def expected_sequence(include_zero: bool, limit: int) -> list:
        out = [v(0)]
        k = 1
        while k <= limit and k < top:
            if k == 64:
                if include_zero:
                    out.append(ZERO_ENTRY)
            else:
                out.append(v(k))
            k <<= 2
        return out

    mas = MaState(mt, 0)
    got = []
    while (entry := mas.find(268435456)) is not None:
        got.append(entry)
    assert got == expected_sequence(True, 268435456)

    mas.set(0)
    got = []
    while (entry := mas.find(ULONG_MAX)) is not None:
        got.append(entry)
        mas.pause()
    assert got == expected_sequence(True, ULONG_MAX)

    assert [e for _, _, e in mt.items(0, 300)] == expected_sequence(False, 300)

    insert_index(mt, ULONG_MAX)
    entries = [e for _, _, e in mt.items()]
    assert len(entries) <= 25
    assert entries[-1] == v(LONG_MAX)
    assert entries[:-1] == expected_sequence(False, ULONG_MAX)
    erase_index(mt, ULONG_MAX)

    assert mt.find(17, 512) == (256, 256, v(256))
    assert mt.find(17, 20) is None

    insert_index(mt, ULONG_MAX)
    mas.set(1048576)
    assert mas.find(1048576) == v(1048576)

    # the last value, found by walking to ULONG_MAX and stepping back
    mas.reset()
    mas.index = ULONG_MAX
    mas.find(ULONG_MAX)
    entry = mas.prev(0)
    index, last = mas.index, mas.last
    assert entry == v(top >> 2)
    mas.reset()
    mas.index = mas.last = ULONG_MAX
    mas.erase()
    mas.reset()
    entry2 = mas.prev(0)
    assert entry2 == entry and (mas.index, mas.last) == (index, last)
    mas.set(0)
    assert mas.prev(0) is None
    mt.validate()


def test_check_find_2() -> None:
    mt = MapleTree()
    mas = MaState(mt, 0)
    assert mas.find(ULONG_MAX) is None
    for i in range(256):
        insert_index(mt, i)
        mas.set(0)
        got = []
        while (entry := mas.find(ULONG_MAX)) is not None:
            got.append(entry)
        assert got == [v(j) for j in range(i + 1)]
    for i in range(256):
        erase_index(mt, i)
        mas.set(0)
        got = []
        while (entry := mas.find(ULONG_MAX)) is not None:
            if entry is not ZERO_ENTRY:
                got.append(entry)
        assert got == [v(j) for j in range(i + 1, 256)]
    mt.validate()
    assert mt.empty()


def test_check_rev_find() -> None:
    mt = MapleTree()
    for i in range(201):
        mt.store_range(i * 10, i * 10 + 5, v(i))
    mas = MaState(mt, 1000)
    assert mas.find_rev(1000) == v(100)
    assert mas.find_rev(1000) is None
    mas.set(999)
    assert mas.find_rev(997) is None
    mas.set(1000)
    assert mas.find_rev(900) == v(100)
    assert mas.find_rev(900) == v(99)
    mas.set(20)
    assert [mas.find_rev(0) for _ in range(4)] == [v(2), v(1), v(0), None]


def test_check_next_entry() -> None:
    mt = MapleTree()
    check_seq(mt, 30)
    mas = MaState(mt, 0)
    assert mas.walk() == v(0)
    for i in range(1, 32):
        entry = mas.next(30)
        assert entry == (v(i) if i <= 30 else None)


def test_check_prev_entry() -> None:
    mt = MapleTree()
    check_seq(mt, 30)
    mas = MaState(mt, 16)
    assert mas.find(ULONG_MAX) == v(16)
    assert mas.prev(0) == v(15)

    mt = MapleTree(alloc=True)
    mas = MaState(mt)
    for i in range(17):
        mas.set_range(i * 10, i * 10 + 5)
        mas.store(v(i))
    mas.set(20)
    assert mas.walk() == v(2)
    assert mas.prev(19) is None
    mas.set(80)
    assert mas.walk() == v(8)
    assert mas.prev(76) is None


def test_check_store_null() -> None:
    for setup, first, last, empty_after in (
        (None, 0, ULONG_MAX, True),
        (None, 3, 10, True),
        ((0, 0), 0, ULONG_MAX, True),
        ((0, 0), 0, 5, True),
        ((0, 0), 2, 5, False),
        ((1, 3), 0, ULONG_MAX, True),
    ):
        mt = MapleTree(alloc=True)
        mas = MaState(mt)
        if setup:
            mas.set_range(*setup)
            mas.store(mas)
        mas.set_range(first, last)
        mas.store(None)
        assert mt.empty() == empty_after
        mt.validate()


def test_check_root_expand() -> None:
    mt = MapleTree(alloc=True)
    mas = MaState(mt)
    mas.set(3)
    assert mas.walk() is None
    assert (mas.index, mas.last) == (0, ULONG_MAX)
    ptr = object()
    mas.set(1)
    mas.store(ptr)
    mas.set(0)
    assert mas.walk() is None
    mas.set(1)
    assert mas.walk() is ptr
    mas.set(2)
    assert mas.walk() is None
    mt.validate()

    mt = MapleTree()
    mas = MaState(mt)
    mas.set(0)
    mas.store(ptr)
    assert mt.height == 0
    mas.set(5)
    assert mas.walk() is None
    assert (mas.index, mas.last) == (1, ULONG_MAX)
    mas.set_range(0, 100)
    assert mas.walk() is ptr
    assert mas.last == 0

    mt = MapleTree()
    mas = MaState(mt)
    mas.set(0)
    mas.store(ptr)
    assert mas.next(ULONG_MAX) is None
    assert (mas.index, mas.last) == (1, ULONG_MAX)
    mas.set(1)
    assert mas.prev(0) is ptr
    assert (mas.index, mas.last) == (0, 0)


def test_check_deficient_node() -> None:
    mt = MapleTree()
    mas = MaState(mt)
    for count in list(range(10)) + list(range(20, 39)) + list(range(10, 12)):
        mas.set(count)
        mas.store(v(count))
    mt.validate()


def test_check_gap_combining() -> None:
    seq100 = [74, 75, 76, 50, 100, 2, 44, 45, 46, 43, 20, 50, 3, 80, 81, 82, 76, 2, 79, 85, 4]
    mt = MapleTree(alloc=True)
    index = seq100[0]
    mas = MaState(mt, index)
    check_seq(mt, 100)
    mt.erase(seq100[2])
    assert mt.load(seq100[2]) is None
    mt.erase(seq100[1])
    assert mt.load(seq100[1]) is None

    assert mas.find(ULONG_MAX) == v(index)
    mn1 = mas._node
    mas.next(ULONG_MAX)
    assert mas.next(ULONG_MAX) == v(index + 4)
    assert mas._node is not mn1  # the next entry lives in the next leaf

    mas.reset()
    mas.empty_area_rev(seq100[3], seq100[4], seq100[5])
    assert mas.index == index + 1

    for k in seq100[6:9]:
        mt.erase(k)
    assert mt.load(seq100[6]) is None
    index = seq100[9]
    mas.set(index)
    assert mas.find(ULONG_MAX) == v(index)
    mn1 = mas._node
    assert mas.next(ULONG_MAX) == v(index + 4)
    mas.next(ULONG_MAX)
    assert mas._node is not mn1

    mas.reset()
    mas.empty_area_rev(seq100[10], seq100[11], seq100[12])
    assert mas.index == seq100[6]

    mt.store(seq100[13], None)
    assert mt.load(seq100[13]) is None
    assert mt.load(seq100[14]) == v(seq100[14])
    mt.store(seq100[14], None)
    assert mt.load(seq100[13]) is None and mt.load(seq100[14]) is None
    mas.reset()
    mas.empty_area_rev(seq100[16], seq100[15], seq100[17])
    assert mas.index == seq100[13]
    mt.validate()

    mt.store_range(seq100[18], seq100[14], None)
    mt.erase(seq100[15])
    mas.reset()
    mas.empty_area_rev(seq100[16], seq100[19], seq100[20])
    assert mas.index == seq100[18]
    mt.validate()

    # multi-level gaps
    mt = MapleTree(alloc=True)
    check_seq(mt, 2000)
    mt.erase(1152)
    mt.erase(1151)
    mas = MaState(mt)
    mas.empty_area_rev(1100, 1200, 2)
    assert mas.index == 1151
    mt.validate()

    # rebalancing over two levels
    seq400 = [286, 318, 256, 260, 266, 270, 275, 280, 290, 398, 286, 310]
    mt = MapleTree(alloc=True)
    check_seq(mt, 400)
    mt.store_range(seq400[0], seq400[1], None)
    mt.validate()
    mt = MapleTree(alloc=True)
    check_seq(mt, 400)
    for k in (2, 3, 4, 5, 0, 6, 7, 8):
        mt.store_range(seq400[k], seq400[9], v(seq400[k]))
    mt.store_range(seq400[10], seq400[11], v(seq400[10]))
    mt.validate()


def test_check_node_overwrite() -> None:
    mt = MapleTree()
    for i in range(4000):
        mt.store_range(i * 100, i * 100 + 50, v(i * 100))
    mt.store_range(319951, 367950, None)
    mt.validate()
    assert mt.load(319950) == v(319900)
    assert mt.load(367951) is None  # 367951..367999 was empty already
    assert mt.load(368000) == v(368000)


def test_next_prev_test() -> None:
    mt = MapleTree(alloc=True)
    for i in range(201):
        mt.store_range(i * 10, i * 10 + 5, v(i))
    mas = MaState(mt, 686)
    assert mas.walk() is None
    assert mas.next(1000) == v(69) and (mas.index, mas.last) == (690, 695)
    assert mas.prev(0) == v(68) and (mas.index, mas.last) == (680, 685)
    assert mas.next(1000) == v(69)
    assert mas.next(1000) == v(70) and (mas.index, mas.last) == (700, 705)

    mas.set(70)
    assert mas.walk() == v(7)
    assert mas.next(1000) == v(8) and (mas.index, mas.last) == (80, 85)
    assert mas.prev(70) == v(7)

    mas.set(707)
    assert mas.walk() is None
    assert mas.next(1000) == v(71) and (mas.index, mas.last) == (710, 715)
    mn = mas._node
    assert mas.next(1000) == v(72) and (mas.index, mas.last) == (720, 725)
    assert mas._node is not mn  # "across two levels": 720 starts the next leaf
    assert mas.prev(0) == v(71)

    mas.set(2000)
    assert mas.walk() == v(200) and (mas.index, mas.last) == (2000, 2005)
    assert mas.next(ULONG_MAX) is None
    assert (mas.index, mas.last) == (2006, ULONG_MAX)
    assert mas.prev(0) == v(200) and (mas.index, mas.last) == (2000, 2005)

    mas.set(10)
    assert mas.walk() == v(1)
    assert mas.prev(0) == v(0) and (mas.index, mas.last) == (0, 5)
    assert mas.prev(0) is None

    mt.store_range(0, 5, None)
    mas.set(10)
    assert mas.walk() == v(1)
    assert mas.prev(0) is None
    assert (mas.index, mas.last) == (0, 9)

    mt = MapleTree()
    mt.store(0, v(0))
    mt.store(5, v(5))
    mas = MaState(mt, 5)
    assert mas.walk() == v(5)
    assert mas.prev(4) is None
    mt.validate()


def test_check_empty_area_window() -> None:
    mt = MapleTree(alloc=True)
    for i in range(1, 21):
        mt.store_range(i * 10, i * 10 + 9, v(i))
    mt.store_range(160, 169, None)
    mas = MaState(mt)

    def rev(lo: int, hi: int, size: int) -> tuple[int, int] | None:
        try:
            mas.empty_area_rev(lo, hi, size)
        except NoSpace:
            return None
        return mas.index, mas.last

    def fwd(lo: int, hi: int, size: int) -> tuple[int, int] | None:
        try:
            mas.empty_area(lo, hi, size)
        except NoSpace:
            return None
        return mas.index, mas.last

    assert rev(5, 90, 10) is None
    assert rev(6, 90, 5) is None
    assert rev(5, 90, 5) == (5, 9)
    assert rev(5, 217, 9) == (161, 169)
    assert rev(100, 218, 3) == (216, 218)
    assert rev(100, 218, 16) is None
    assert rev(167, 200, 4) is None
    assert rev(100, 162, 4) is None
    assert fwd(0, 100, 9) == (0, 8)
    assert fwd(0, 100, 4) == (0, 3)
    assert fwd(0, 100, 11) is None
    assert fwd(5, 100, 6) is None
    with pytest.raises(InvalidArgument):
        mas.empty_area(0, 8, 10)
    assert fwd(100, 163, 6) is None
    mt.validate()


def test_check_empty_area_fill() -> None:
    mt = MapleTree(alloc=True)
    mas = MaState(mt)
    max = 0x25D78000
    for shift in range(12, 17):
        size = 1 << shift
        for _ in range(5000 if shift < 16 else 5000):
            mas.empty_area(0, max, size)
            assert mas.last == mas.index + size - 1
            mas.store(v(size))
    mt.validate()
    with pytest.raises(NoSpace):
        mas.empty_area(0, max, 0x1000)
    with pytest.raises(NoSpace):
        mas.empty_area_rev(0, max, 0x1000)


MAPS = [
    (0x565234AF2000, 0x565234AF4000), (0x565234AF4000, 0x565234AF9000), (0x565234AF9000, 0x565234AFB000),
    (0x565234AFC000, 0x565234AFD000), (0x565234AFD000, 0x565234AFE000), (0x565235DEF000, 0x565235E10000),
    (0x7F36D4BFD000, 0x7F36D4EE2000), (0x7F36D4EE2000, 0x7F36D4F04000), (0x7F36D4F04000, 0x7F36D504C000),
    (0x7F36D504C000, 0x7F36D5098000), (0x7F36D5098000, 0x7F36D5099000), (0x7F36D5099000, 0x7F36D509D000),
    (0x7F36D509D000, 0x7F36D509F000), (0x7F36D509F000, 0x7F36D50A5000), (0x7F36D50B9000, 0x7F36D50DB000),
    (0x7F36D50DB000, 0x7F36D50DC000), (0x7F36D50DC000, 0x7F36D50FA000), (0x7F36D50FA000, 0x7F36D5102000),
    (0x7F36D5102000, 0x7F36D5103000), (0x7F36D5103000, 0x7F36D5104000), (0x7F36D5104000, 0x7F36D5105000),
    (0x7FFF5876B000, 0x7FFF5878D000), (0x7FFF5878E000, 0x7FFF58791000), (0x7FFF58791000, 0x7FFF58793000),
]
HOLES = [
    (0x565234AFB000, 0x565234AFC000, 0x1000),
    (0x565234AFE000, 0x565235DEF000, 0x12F1000),
    (0x565235E10000, 0x7F36D4BFD000, 0x28E49EDED000),
]
MTREE_ALLOC_MAX = 0x2000000000000


def _maps_tree() -> MapleTree:
    mt = MapleTree(alloc=True)
    mt.store_range(MTREE_ALLOC_MAX, ULONG_MAX, ZERO_ENTRY)
    for start, end in MAPS:
        check_insert_range(mt, start >> 12, (end >> 12) - 1, v(start >> 12))
        mt.validate()
    return mt


def _alloc(fn, lo: int, hi: int, size: int, expected: int, ret: int, entry: object) -> None:
    if ret:
        with pytest.raises(NoSpace):
            fn(size, entry, lo, hi)
    else:
        assert fn(size, entry, lo, hi) == expected


def test_check_alloc_range() -> None:
    mt = _maps_tree()
    mas = MaState(mt)
    lo = 0x565234AF2000
    for start, end, size in HOLES:
        mas.empty_area(lo >> 12, end >> 12, size >> 12)
        assert mas.index == start >> 12
        lo = end
        mas.reset()
    requests = [
        (0x565234AF9000, 0x7FFF58791000, 0x1000, 0x565234AFB000, 0),
        (0x0, 0x7FFF58791000, 0x1F00, 0x0, 0),
        (34148797436 << 12, 0x7FFF587AF000, 0x3000, 34148798629 << 12, 0),
        (34148798623 << 12, 34148798683 << 12, 0x15000, 0, -16),
        (34148798623 << 12, 0x7FFF587AF000, 0x10000, 34148798632 << 12, 0),
        (0, ULONG_MAX, ULONG_MAX, 0, -16),
        (0, ULONG_MAX, 4503599618982063 << 12, 34359052178 << 12, -16),
        (34148798648 << 12, 34148798648 << 12, 4096, 34148798648 << 12, 0),
    ]
    for lo, hi, size, expected, ret in requests:
        _alloc(mt.alloc_range, lo >> 12, hi >> 12, size >> 12, expected >> 12, ret, v(lo >> 12))
        mt.validate()


def test_check_alloc_rev_range() -> None:
    mt = _maps_tree()
    mas = MaState(mt)
    lo = 0
    for start, end, size in HOLES:
        mas.empty_area_rev(lo, end >> 12, size >> 12)
        assert mas.last + 1 == end >> 12
        assert mas.index == (end >> 12) - (size >> 12)
        lo = end >> 12
        mas.reset()
    requests = [
        (0x565234AF9000, 0x7FFF58791000, 0x1000, 0x7FFF5878D << 12, 0),
        (0x0, 0x565234AF0 << 12, 0x3000, 0x565234AEE << 12, 0),
        (0x0, ULONG_MAX, 0x1000, 562949953421311 << 12, 0),
        (0x0, 0x7F36D5109 << 12, 0x4000, 0x7F36D5106 << 12, 0),
        (0x0, 34148798628 << 12, 19 << 12, 34148797418 << 12, 0),
        (0x0, ULONG_MAX, 562915594369134 << 12, 0, -16),
        (34148798725 << 12, 34148798725 << 12, 1 << 12, 34148798725 << 12, 0),
    ]
    for lo, hi, size, expected, ret in requests:
        _alloc(mt.alloc_rrange, lo >> 12, hi >> 12, size >> 12, expected >> 12, ret, v(lo >> 12))
        mt.validate()
    mt.erase(34148798727)
    mt.erase(34148798725)
    assert mt.alloc_rrange(210253414, mt, 0, 34359052173) == 34148798725
    mt.validate()


@pytest.mark.parametrize("name", ["set", "set2", "set3", "set4", "set5"])
@pytest.mark.parametrize("rcu", [False, True])
def test_check_erase2_sets(name: str, rcu: bool) -> None:
    """check_erase2_testset: replay a recorded VMA trace, validate and count after every op
    (the kernel counts entries with mt_for_each and mas_for_each; here an oracle keeps them)."""
    from .conftest import RangeMap
    from .erase2_sets import ERASE2_SETS

    mt = MapleTree(alloc=True, rcu=rcu)
    oracle = RangeMap()
    for op, first, last in ERASE2_SETS[name]:
        if op == "STORE":
            mt.store_range(first, last, v(first))
            oracle.store(first, last, v(first))
        elif op == "SNULL":
            mt.store_range(first, last, None)
            oracle.store(first, last, None)
        else:
            assert mt.erase(first) == v(first)
            s, e, _ = oracle.range_at(first)
            oracle.store(s, e, None)
        mt.validate()
        if len(oracle):
            assert mt.height
        assert list(mt.items()) == oracle.ranges()
        mas = MaState(mt, 0)
        count = 0
        while mas.find(ULONG_MAX) is not None:
            count += 1
        assert count == len(oracle) == len(mt)


def test_check_spanning_relatives() -> None:
    """A spanning NULL store whose rebalance has to pull in cousin nodes."""
    for alloc in (False, True):
        mt = MapleTree(alloc=alloc)
        for i in range(1001):
            mt.store_range(i * 10, i * 10 + 5, v(i))
        mt.store_range(9365, 9955, None)
        mt.validate()
        assert mt.load(9364) == v(936) and mt.load(9365) is None and mt.load(9955) is None
        assert mt.load(9960) == v(996)


@pytest.mark.parametrize("alloc", [False, True])
@pytest.mark.parametrize("gaps", [False, True])
def test_check_dup(alloc: bool, gaps: bool) -> None:
    """check_dup / check_dup_gaps: bulk copies of trees of many sizes, then mutate both."""
    for n in (0, 1, 10, 15, 16, 17, 100, 257, 1000, 3000):
        mt = MapleTree(alloc=alloc)
        for i in range(n):
            mt.store_range(i * 10, i * 10 + (5 if gaps else 9), v(i))
        copy = mt.dup()
        copy.validate()
        assert list(copy.items()) == list(mt.items())
        assert copy.height == mt.height and len(copy) == len(mt) == n
        if n:
            copy.erase(0)
            mt.store_range(1, 2, "x")
            assert mt.load(0) == v(0) and copy.load(1) is None
            copy.validate()
            mt.validate()


def test_check_collapsing_rebalance() -> None:
    """Delete everything from the right of a tall tree: rebalances collapse it level by level."""
    mt = MapleTree()
    for i in range(8000):
        mt.store_range(i * 4, i * 4 + 1, v(i))
    heights = {mt.height}
    for i in range(7999, -1, -1):
        assert mt.erase(i * 4) == v(i)
        if i % 97 == 0:
            mt.validate()
            heights.add(mt.height)
    assert mt.empty() and mt.height == 0
    assert len(heights) >= 4  # it went down through every height


def test_check_null_expand() -> None:
    """Empty stores next to empty runs merge into one run, across leaves too."""
    mt = MapleTree(alloc=True)
    for i in range(500):
        mt.store_range(i * 10, i * 10 + 9, v(i))
    mas = MaState(mt)
    for i in range(0, 500, 3):
        mas.set_range(i * 10 + 2, i * 10 + 9)
        mas.store(None)
        assert (mas.index, mas.last) == (i * 10 + 2, i * 10 + 9)
    for i in range(1, 500, 3):  # erase the ranges between two empty runs
        mas.set_range(i * 10, i * 10 + 9)
        mas.store(None)
        assert mas.index == (i - 1) * 10 + 2
        assert mas.last == (i * 10 + 9 if i < 499 else ULONG_MAX)  # the last joins the tail run
    mt.validate()
