"""Shared helpers for the maple tree tests: a deliberately simple oracle range map."""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import pytest

from maple.tree import ULONG_MAX


class RangeMap:
    """Oracle: sorted disjoint ``[start, end] -> value`` ranges (values never None)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.vals: list[Any] = []

    def store(self, a: int, b: int, v: Any) -> None:
        starts, ends, vals = self.starts, self.ends, self.vals
        i = bisect_right(starts, a) - 1
        if i >= 0 and ends[i] >= a:
            if starts[i] < a:  # keep the head of the overlapped range
                starts.insert(i + 1, a)
                ends.insert(i + 1, ends[i])
                vals.insert(i + 1, vals[i])
                ends[i] = a - 1
                i += 1
        else:
            i += 1
        j = i
        while j < len(starts) and starts[j] <= b:
            j += 1
        tail = None
        if j > i and ends[j - 1] > b:
            tail = (b + 1, ends[j - 1], vals[j - 1])
        del starts[i:j], ends[i:j], vals[i:j]
        if tail:
            starts.insert(i, tail[0])
            ends.insert(i, tail[1])
            vals.insert(i, tail[2])
        if v is not None:
            starts.insert(i, a)
            ends.insert(i, b)
            vals.insert(i, v)

    def range_at(self, x: int) -> tuple[int, int, Any]:
        i = bisect_right(self.starts, x) - 1
        if i >= 0 and self.ends[i] >= x:
            return self.starts[i], self.ends[i], self.vals[i]
        lo = self.ends[i] + 1 if i >= 0 else 0
        hi = self.starts[i + 1] - 1 if i + 1 < len(self.starts) else ULONG_MAX
        return lo, hi, None

    def load(self, x: int) -> Any:
        return self.range_at(x)[2]

    def ranges(self) -> list[tuple[int, int, Any]]:
        return list(zip(self.starts, self.ends, self.vals))

    def free(self) -> list[tuple[int, int]]:
        out = []
        prev = 0
        for s, e in zip(self.starts, self.ends):
            if s > prev:
                out.append((prev, s - 1))
            prev = e + 1
        if prev <= ULONG_MAX:
            out.append((prev, ULONG_MAX))
        return out

    def empty_area(self, lo: int, hi: int, size: int) -> int | None:
        for s, e in self.free():
            a, b = max(s, lo), min(e, hi)
            if b - a + 1 >= size:
                return a
        return None

    def empty_area_rev(self, lo: int, hi: int, size: int) -> int | None:
        for s, e in reversed(self.free()):
            a, b = max(s, lo), min(e, hi)
            if b - a + 1 >= size:
                return b - size + 1
        return None

    def __len__(self) -> int:
        return len(self.starts)


def v(x: int) -> int:
    """xa_mk_value: the kernel tests' way to make a storable entry from an integer."""
    return (x << 1) | 1


@pytest.fixture
def oracle() -> RangeMap:
    return RangeMap()
