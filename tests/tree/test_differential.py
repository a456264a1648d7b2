"""Property-based differential tests: the tree against the oracle range map, validate() after
every step, both flavours, rcu on and off; plus a long random fuzz (slow)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from maple.tree import ULONG_MAX, ZERO_ENTRY, EntryExists, MapleTree, MaState, NoSpace

from .conftest import RangeMap

SPAN = 600
idx = st.one_of(st.integers(0, SPAN), st.integers(ULONG_MAX - 3, ULONG_MAX))
length = st.one_of(st.integers(0, 3), st.integers(0, 40), st.integers(0, 400))
values = st.one_of(st.integers(1, 10**6), st.just(ZERO_ENTRY))


class TreeMachine(RuleBasedStateMachine):
    """Random normal-API and MaState operations mirrored on the oracle."""

    @initialize(alloc=st.booleans(), rcu=st.booleans(), prefill=st.integers(0, 300))
    def setup(self, alloc: bool, rcu: bool, prefill: int) -> None:
        self.tree = MapleTree(alloc=alloc, rcu=rcu)
        self.oracle = RangeMap()
        for i in range(prefill):  # dense prefill so splits and rebalances happen early
            self.tree.store_range(i * 3, i * 3 + 1, i + 1)
            self.oracle.store(i * 3, i * 3 + 1, i + 1)

    def _clip(self, a: int, n: int) -> tuple[int, int]:
        return a, min(a + n, ULONG_MAX)

    @rule(a=idx, n=length, val=values)
    def store_range(self, a: int, n: int, val: object) -> None:
        a, b = self._clip(a, n)
        self.tree.store_range(a, b, val)
        self.oracle.store(a, b, val)

    @rule(a=idx, n=length)
    def store_null(self, a: int, n: int) -> None:
        a, b = self._clip(a, n)
        self.tree.store_range(a, b, None)
        self.oracle.store(a, b, None)

    @rule(a=idx)
    def erase(self, a: int) -> None:
        first, last, val = self.oracle.range_at(a)
        got = self.tree.erase(a)
        assert got == (None if val is ZERO_ENTRY else val)
        if val is not None:
            self.oracle.store(first, last, None)

    @rule(a=idx, n=length, val=st.integers(1, 100))
    def insert_range(self, a: int, n: int, val: int) -> None:
        a, b = self._clip(a, n)
        first, last, cur = self.oracle.range_at(a)
        free = cur is None and last >= b
        try:
            self.tree.insert_range(a, b, val)
        except EntryExists:
            assert not free
        else:
            assert free
            self.oracle.store(a, b, val)

    @precondition(lambda self: self.tree.alloc)
    @rule(lo=idx, n=length, size=st.integers(1, 50), rev=st.booleans())
    def alloc_range(self, lo: int, n: int, size: int, rev: bool) -> None:
        hi = min(lo + n + size, ULONG_MAX)
        if hi - lo < size - 1:
            return
        expected = (self.oracle.empty_area_rev if rev else self.oracle.empty_area)(lo, hi, size)
        fn = self.tree.alloc_rrange if rev else self.tree.alloc_range
        try:
            got = fn(size, 7, lo, hi)
        except NoSpace:
            got = None
        assert got == expected
        if got is not None:
            self.oracle.store(got, got + size - 1, 7)

    @rule(a=idx)
    def load(self, a: int) -> None:
        val = self.oracle.load(a)
        assert self.tree.load(a) == (None if val is ZERO_ENTRY else val)

    @rule(a=idx, n=length)
    def walk_and_step(self, a: int, n: int) -> None:
        mas = MaState(self.tree, a)
        first, last, val = self.oracle.range_at(a)
        got = mas.walk()
        assert got == val
        if self.tree.height:  # a lone root entry reports [1, ULONG_MAX] for every empty index
            assert (mas.index, mas.last) == (first, last)
        ranges = self.oracle.ranges()
        after = [r for r in ranges if r[0] > last]
        before = [r for r in ranges if r[1] < first]
        nxt = mas.next(ULONG_MAX)
        assert nxt == (after[0][2] if after else None)
        if after:
            assert (mas.index, mas.last) == after[0][:2]
        mas.set(a)
        mas.walk()
        prv = mas.prev(0)
        assert prv == (before[-1][2] if before else None)

    @rule(a=idx, n=length)
    def iterate(self, a: int, n: int) -> None:
        a, b = self._clip(a, n)
        expected = [r for r in self.oracle.ranges() if r[1] >= a and r[0] <= b]
        mas = MaState(self.tree, a)
        got = []
        while (e := mas.find(b)) is not None:
            got.append((mas.index, mas.last, e))
        assert got == expected
        assert list(self.tree.items(a, b)) == [r for r in expected if r[2] is not ZERO_ENTRY]

    @rule(a=idx, n=length)
    def iterate_rev(self, a: int, n: int) -> None:
        lo = max(a - n, 0)
        expected = [r for r in self.oracle.ranges() if r[0] <= a and r[1] >= lo]
        mas = MaState(self.tree, a)
        got = []
        while (e := mas.find_rev(lo)) is not None:
            got.append((mas.index, mas.last, e))
        assert got == expected[::-1]

    @rule()
    def dup(self) -> None:
        copy = self.tree.dup()
        copy.validate()
        assert list(copy.items()) == list(self.tree.items())
        assert len(copy) == len(self.tree)

    @invariant()
    def valid(self) -> None:
        self.tree.validate()
        assert len(self.tree) == len(self.oracle)


TreeMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_tree_machine = TreeMachine.TestCase


def run_fuzz(seed: int, ops: int, alloc: bool, rcu: bool, span: int) -> None:
    rnd = random.Random(seed)
    tree = MapleTree(alloc=alloc, rcu=rcu)
    oracle = RangeMap()
    for i in range(ops):
        r = rnd.random()
        a = rnd.randrange(span)
        b = a + rnd.randrange(rnd.choice((1, 8, 64, 2048)))
        if r < 0.6:
            val = i + 1 if rnd.random() > 0.02 else ZERO_ENTRY
            tree.store_range(a, b, val)
            oracle.store(a, b, val)
        elif r < 0.75:
            tree.store_range(a, b, None)
            oracle.store(a, b, None)
        elif r < 0.9:
            first, last, val = oracle.range_at(a)
            assert tree.erase(a) == (None if val is ZERO_ENTRY else val)
            oracle.store(first, last, None)
        elif alloc:
            size = rnd.randrange(1, 64)
            hi = a + size + rnd.randrange(span)
            rev = rnd.random() < 0.5
            expected = (oracle.empty_area_rev if rev else oracle.empty_area)(a, hi, size)
            try:
                got = (tree.alloc_rrange if rev else tree.alloc_range)(size, i + 1, a, hi)
            except NoSpace:
                got = None
            assert got == expected
            if got is not None:
                oracle.store(got, got + size - 1, i + 1)
        else:
            x = rnd.randrange(span)
            val = oracle.load(x)
            assert tree.load(x) == (None if val is ZERO_ENTRY else val)
        if i % 997 == 0:
            tree.validate()
            assert len(tree) == len(oracle)
    tree.validate()
    assert [r for r in MaStateRanges(tree)] == oracle.ranges()


def MaStateRanges(tree: MapleTree):
    mas = MaState(tree, 0)
    while (e := mas.find(ULONG_MAX)) is not None:
        yield mas.index, mas.last, e


@pytest.mark.parametrize("alloc", [False, True])
@pytest.mark.parametrize("rcu", [False, True])
def test_quick_fuzz(alloc: bool, rcu: bool) -> None:
    run_fuzz(1234, 6000, alloc, rcu, 20000)


@pytest.mark.slow
@pytest.mark.parametrize("alloc", [False, True])
@pytest.mark.parametrize("rcu", [False, True])
def test_million_op_fuzz(alloc: bool, rcu: bool) -> None:
    """4 x 300k = 1.2M random operations against the oracle."""
    run_fuzz(20221004 + 2 * alloc + rcu, 300_000, alloc, rcu, 400_000)
