"""RCU mode: lockless readers in other threads against one writer never see a torn tree.

Every stored value is ``(first, last, serial)`` for the range it was stored over, so a reader can
check that whatever it sees was stored, at some point, over a range covering where it saw it.
``sys.setswitchinterval`` is made tiny so threads interleave inside tree operations.
"""

from __future__ import annotations

import random
import sys
import threading

import pytest

from maple.tree import ULONG_MAX, MapleTree, MaState

SPAN = 20_000


def writer(tree: MapleTree, stored: set, ops: int, seed: int, done: threading.Event) -> None:
    rnd = random.Random(seed)
    try:
        for serial in range(ops):
            a = rnd.randrange(SPAN)
            b = a + rnd.choice((0, 3, 30, 300, 3000))
            r = rnd.random()
            if r < 0.6:
                val = (a, b, serial)
                stored.add(val)
                tree.store_range(a, b, val)
            elif r < 0.8:
                tree.store_range(a, b, None)
            else:
                tree.erase(a)
    finally:
        done.set()


def reader(tree: MapleTree, stored: set, done: threading.Event, errors: list, seed: int) -> None:
    rnd = random.Random(seed)
    try:
        while not done.is_set():
            x = rnd.randrange(SPAN + 100)
            val = tree.load(x)
            if val is not None:
                assert val in stored, f"load({x}) returned {val!r}, never stored"
                assert val[0] <= x <= val[1], f"load({x}) returned {val!r}"
            prev_end = -1
            lo = rnd.randrange(SPAN)
            for first, last, val in tree.items(lo, lo + 500):
                assert val in stored
                assert val[0] <= first <= last <= val[1], (first, last, val)
                assert first > prev_end, "items() went backwards or overlapped"
                prev_end = last
            mas = MaState(tree, rnd.randrange(SPAN))
            prev_end = -1
            for _ in range(20):
                val = mas.find(ULONG_MAX)
                if val is None:
                    break
                assert val in stored
                assert val[0] <= mas.index <= mas.last <= val[1]
                assert mas.index > prev_end
                prev_end = mas.last
    except BaseException as exc:  # report to the main thread
        errors.append(exc)
        done.set()


@pytest.mark.parametrize("alloc", [False, True])
def test_lockless_readers_see_consistent_values(alloc: bool) -> None:
    tree = MapleTree(alloc=alloc, rcu=True)
    stored: set = set()
    for i in range(2000):  # a tree of height >= 3 before the race starts
        val = (i * 10, i * 10 + 4, -i - 1)
        stored.add(val)
        tree.store_range(i * 10, i * 10 + 4, val)
    done = threading.Event()
    errors: list = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=reader, args=(tree, stored, done, errors, s)) for s in range(3)]
        for t in threads:
            t.start()
        writer(tree, stored, 6000, 7 + alloc, done)
        for t in threads:
            t.join(timeout=60)
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[0]
    tree.validate()
