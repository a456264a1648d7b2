"""Maple tree micro-benchmark: ns/op beside two pure-Python range maps.

    python benchmarks/tree_bench.py [--sizes 1000,100000] [--ops 20000] [--repeat 5] [--regular]

Three structures hold the same ranges ``[10*i, 10*i + 5]`` (every 64th one left out, so a few
wider holes exist for the gap search):

* ``maple``  - ``MapleTree(alloc=True)``, the VMA tree's flavour (``--regular`` for alloc=False)
* ``flat``   - three parallel Python lists searched with ``bisect`` (the floor for lookups;
               inserts and erases pay an O(n) memmove)
* ``sorted`` - a ``sortedcontainers.SortedDict`` keyed by range start

All three implement the same ``store_range`` semantics (overwrite whatever ``[first, last]``
overlaps, trimming partly covered ranges; ``None`` erases), so a store into a gap pays for the
overlap checks a range map needs. ``--check`` cross-checks the three on random operations.

Operations, each timed as the minimum over ``--repeat`` runs of process CPU time:

* ``load``              entry at a random index inside a stored range
* ``store_range``       a new range into a gap (the same ranges are then erased, see ``erase``)
* ``erase``             remove the range containing an index
* ``churn``             store_range + erase, per pair
* ``iterate``           full in-order iteration, per range yielded
* ``empty_area_rev``    highest hole of 10 indices below a random limit

``bytes/range`` is what tracemalloc sees allocated while building the structure, divided by
the number of ranges (the stored values are shared small ints, so this is structure overhead).
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from sortedcontainers import SortedDict

from maple.tree import MapleTree, MaState, NoSpace


class FlatRangeMap:
    """Sorted parallel lists of starts, ends and values."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.vals: list[Any] = []

    def store_range(self, first: int, last: int, value: Any) -> None:
        """Overwrite ``[first, last]`` (``None`` erases it), trimming what it overlaps."""
        starts, ends, vals = self.starts, self.ends, self.vals
        i = bisect_right(starts, first) - 1
        if i >= 0 and ends[i] >= first:  # a range starts before first and reaches into it
            end, val = ends[i], vals[i]
            if starts[i] < first:
                ends[i] = first - 1
                i += 1
            else:
                del starts[i], ends[i], vals[i]
            if end > last:  # ... and beyond last: keep its tail
                starts.insert(i, last + 1)
                ends.insert(i, end)
                vals.insert(i, val)
        else:
            i += 1
        j = bisect_right(starts, last, i)
        if j > i:  # ranges starting inside [first, last]
            if ends[j - 1] > last:
                starts[j - 1] = last + 1
                j -= 1
            del starts[i:j], ends[i:j], vals[i:j]
        if value is not None:
            starts.insert(i, first)
            ends.insert(i, last)
            vals.insert(i, value)

    def load(self, index: int) -> Any:
        i = bisect_right(self.starts, index) - 1
        if i >= 0 and self.ends[i] >= index:
            return self.vals[i]
        return None

    def erase(self, index: int) -> Any:
        i = bisect_right(self.starts, index) - 1
        if i >= 0 and self.ends[i] >= index:
            del self.starts[i], self.ends[i]
            return self.vals.pop(i)
        return None

    def items(self):
        return zip(self.starts, self.ends, self.vals)

    def empty_area_rev(self, lo: int, hi: int, size: int) -> int:
        starts, ends = self.starts, self.ends
        i = bisect_right(starts, hi) - 1
        top = hi
        while i >= 0:
            if ends[i] < top:  # hole (ends[i], top]
                if top - max(ends[i] + 1, lo) + 1 >= size:
                    return top - size + 1
            top = min(top, starts[i] - 1)
            if top < lo:
                raise NoSpace("no space")
            i -= 1
        if top - lo + 1 >= size:
            return top - size + 1
        raise NoSpace("no space")


class SortedRangeMap:
    """SortedDict start -> (end, value)."""

    def __init__(self) -> None:
        self.sd: SortedDict = SortedDict()

    def store_range(self, first: int, last: int, value: Any) -> None:
        """Overwrite ``[first, last]`` (``None`` erases it), trimming what it overlaps."""
        sd = self.sd
        i = sd.bisect_right(first) - 1
        if i >= 0:
            start, (end, val) = sd.peekitem(i)
            if end >= first:
                if start < first:
                    sd[start] = (first - 1, val)
                else:
                    del sd[start]
                if end > last:
                    sd[last + 1] = (end, val)
        inside = list(sd.irange(first, last))
        for start in inside:
            end, val = sd.pop(start)
            if end > last:
                sd[last + 1] = (end, val)
        if value is not None:
            sd[first] = (last, value)

    def load(self, index: int) -> Any:
        # the lookup is inlined here and in erase on purpose: both are timed baselines
        sd = self.sd
        i = sd.bisect_right(index) - 1
        if i >= 0:
            start, (end, value) = sd.peekitem(i)
            if end >= index:
                return value
        return None

    def erase(self, index: int) -> Any:
        sd = self.sd
        i = sd.bisect_right(index) - 1
        if i >= 0:
            start, (end, value) = sd.peekitem(i)
            if end >= index:
                del sd[start]
                return value
        return None

    def items(self):
        for start, (end, value) in self.sd.items():
            yield start, end, value

    def empty_area_rev(self, lo: int, hi: int, size: int) -> int:
        top = hi
        for start in self.sd.irange(maximum=hi, reverse=True):
            end = self.sd[start][0]
            if end < top and top - max(end + 1, lo) + 1 >= size:
                return top - size + 1
            top = min(top, start - 1)
            if top < lo:
                break
        else:
            if top - lo + 1 >= size:
                return top - size + 1
        raise NoSpace("no space")


class MapleRangeMap:
    """The maple tree behind the same five calls."""

    def __init__(self, alloc: bool = True) -> None:
        self.tree = MapleTree(alloc=alloc)
        self.mas = MaState(self.tree)
        self.store_range = self.tree.store_range
        self.load = self.tree.load
        self.erase = self.tree.erase
        self.items = self.tree.items

    def empty_area_rev(self, lo: int, hi: int, size: int) -> int:
        mas = self.mas
        mas.empty_area_rev(lo, hi, size)
        return mas.index


def build(kind: str, n: int, regular: bool) -> Any:
    m = {"maple": lambda: MapleRangeMap(alloc=not regular), "flat": FlatRangeMap, "sorted": SortedRangeMap}[kind]()
    store = m.store_range
    for i in range(n):
        if i % 64 != 63:
            store(10 * i, 10 * i + 5, i & 255)
    return m


def timed(fn: Callable[[], int], repeat: int) -> float:
    """Best-of-``repeat`` process CPU seconds per operation (fn returns its op count)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.process_time()
        ops = fn()
        dt = (time.process_time() - t0) / ops
        best = min(best, dt)
    return best * 1e9


def bench_size(n: int, ops: int, repeat: int, regular: bool, seed: int = 1) -> dict[str, dict[str, float]]:
    rnd = random.Random(seed)
    hits = [10 * i + rnd.randrange(6) for i in (rnd.randrange(n) for _ in range(ops)) if i % 64 != 63]
    gap_slots = rnd.sample(range(n), min(ops, n // 2))
    new_ranges = [(10 * i + 6, 10 * i + 8) for i in gap_slots]
    limits = [rnd.randrange(100, 10 * n) for _ in range(min(ops, 5000))]
    results: dict[str, dict[str, float]] = {}
    for kind in ("maple", "flat", "sorted"):
        m = build(kind, n, regular)
        r: dict[str, float] = {}
        load = m.load

        def do_load() -> int:
            for x in hits:
                load(x)
            return len(hits)

        r["load"] = timed(do_load, repeat)

        def do_store() -> int:
            store = m.store_range
            for first, last in new_ranges:
                store(first, last, 1)
            return len(new_ranges)

        def do_erase() -> int:
            erase = m.erase
            for first, _ in new_ranges:
                erase(first)
            return len(new_ranges)

        best_store = best_erase = float("inf")
        for _ in range(repeat):
            gc.collect()
            best_store = min(best_store, timed(do_store, 1))
            best_erase = min(best_erase, timed(do_erase, 1))
        r["store_range"] = best_store
        r["erase"] = best_erase
        r["churn"] = best_store + best_erase

        def do_iter() -> int:
            count = 0
            for _ in m.items():
                count += 1
            return count

        r["iterate"] = timed(do_iter, repeat)

        def do_area() -> int:
            area = m.empty_area_rev
            for hi in limits:
                try:
                    area(0, hi, 10)
                except NoSpace:
                    pass
            return len(limits)

        r["empty_area_rev"] = timed(do_area, repeat)
        del m
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        m = build(kind, n, regular)
        used = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        stored = n - n // 64
        r["bytes/range"] = used / stored
        del m
        results[kind] = r
    return results


def cross_check(ops: int = 20000, seed: int = 3) -> None:
    """Random stores, empty stores and erases on all three maps; their contents must agree."""
    rnd = random.Random(seed)
    maps = [MapleRangeMap(), FlatRangeMap(), SortedRangeMap()]
    for i in range(ops):
        a = rnd.randrange(5000)
        b = a + rnd.randrange(60)
        r = rnd.random()
        for m in maps:
            if r < 0.6:
                m.store_range(a, b, i)
            elif r < 0.8:
                m.store_range(a, b, None)
            else:
                m.erase(a)
    contents = [list(m.items()) for m in maps]
    assert contents[0] == contents[1] == contents[2], "range maps disagree"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="comma-separated range counts")
    parser.add_argument("--ops", type=int, default=20000, help="operations per timing run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (best is kept)")
    parser.add_argument("--regular", action="store_true", help="time MapleTree(alloc=False)")
    parser.add_argument("--check", action="store_true", help="cross-check the three maps first")
    args = parser.parse_args(argv)
    if args.check:
        cross_check()
        print("cross-check: the three range maps agree")
    sizes = [int(s) for s in args.sizes.split(",")]
    flavour = "MapleTree(alloc=False)" if args.regular else "MapleTree(alloc=True)"
    print(f"maple = {flavour}; ns/op, best of {args.repeat} (process CPU time); lower is better")
    header = f"{'operation':<15} {'ranges':>8} {'maple':>10} {'flat':>10} {'sorted':>10} {'maple/flat':>11} {'maple/sorted':>13}"
    print(header)
    print("-" * len(header))
    for n in sizes:
        res = bench_size(n, args.ops, args.repeat, args.regular)
        for op in ("load", "store_range", "erase", "churn", "iterate", "empty_area_rev", "bytes/range"):
            a, b, c = res["maple"][op], res["flat"][op], res["sorted"][op]
            print(f"{op:<15} {n:>8} {a:>10.0f} {b:>10.0f} {c:>10.0f} {a / b:>11.2f} {a / c:>13.2f}")
        print()


if __name__ == "__main__":
    main()
