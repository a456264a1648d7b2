"""When a modeled percentage agrees with a published one: the targets of issue 11's "Measures".

A *target* is an interval ``[lo, hi]`` (inclusive) plus, optionally, a required sign. A row
agrees when **every** modeled value for it (one per modeled task count; a published range
covers several) lies inside the interval and has the required sign. A modeled value that is
NaN (no samples, a zero base) never agrees.

Targets per row (mmtests sign: positive = better):

=========================  ============================  ======================================
row                        target                        from
=========================  ============================  ======================================
brk1-processes (any table) ``[-45, -25]``, negative      Measures, Sign and Size
brk1-threads               ``[+20, +250]``, positive     Measures, Sign and Size
malloc1-threads            negative                      Measures, Sign (no size target)
malloc1-processes,         published range widened by    Measures, Size
page_fault3-threads        10 points on each side
kernbench syst-N           ``[-10, 0]``, negative        Measures: "syst worse by 0..10%"
kernbench elsp-N           ``[-3, +3]``                  Measures: "elsp within 3% either way"
kernbench user-N           same sign as the figure       single figure, no Measures target
brk2 vs brk1               ``[-25, 0]``, negative        Measures names the row without a
                           (the general range rule)      size; the general range rule
any other range            widened by 10 points; the     the general rule
                           sign if one-sided
any other single figure    same sign                     the general rule
=========================  ============================  ======================================

"Same sign" for a single figure of exactly 0 means exactly 0. The targets are fixed by the
issue, not by the model: they must never be moved to turn a miss into a hit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from maple.reproduce.published import PublishedRow

#: points by which a published range is widened on each side (Measures: "widened by 10 points")
WIDEN = 10.0
INF = math.inf


@dataclass(frozen=True, slots=True)
class Target:
    """``lo <= value <= hi`` and, if ``sign`` is -1 or +1, ``value`` strictly of that sign."""

    lo: float
    hi: float
    sign: int
    source: str

    def accepts(self, value: float) -> bool:
        if math.isnan(value) or not self.lo <= value <= self.hi:
            return False
        if self.sign > 0:
            return value > 0
        if self.sign < 0:
            return value < 0
        return True

    def describe(self) -> str:
        """``[-45, -25] <0``, ``<0``, ``same sign (>0)`` ..."""
        parts = []
        if self.lo != -INF or self.hi != INF:
            parts.append(f"[{_num(self.lo)}, {_num(self.hi)}]")
        if self.sign:
            parts.append("<0" if self.sign < 0 else ">0")
        return " ".join(parts) or "any"


def _num(x: float) -> str:
    if math.isinf(x):
        return "-inf" if x < 0 else "+inf"
    return f"{x:+g}" if x else "0"


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _family(row: PublishedRow) -> str:
    return f"{row.workload}-{row.mode}" if row.metric == "ops" else f"{row.workload} {row.metric}"


def target_for(row: PublishedRow) -> Target:
    """The acceptance target of ``row`` (see the module docstring)."""
    lo, hi = row.published_lo, row.published_hi
    family = _family(row)
    if family == "brk1-processes":
        return Target(-45.0, -25.0, -1, "Measures: brk1-processes -25..-45%")
    if family == "brk1-threads":
        return Target(20.0, 250.0, +1, "Measures: brk1-threads +20..+250%")
    if family == "malloc1-threads":
        return Target(-INF, INF, -1, "Measures: malloc1-threads negative")
    if family == "kernbench syst":
        return Target(-10.0, 0.0, -1, "Measures: kernbench syst worse by 0..10%")
    if family == "kernbench elsp":
        return Target(-3.0, 3.0, 0, "Measures: kernbench elsp within 3%")
    if row.is_range:
        one_sided = _sign(lo) == _sign(hi) and lo != 0 and hi != 0
        sign = _sign(lo) if one_sided else 0
        wlo, whi = lo - WIDEN, hi + WIDEN
        if sign > 0:
            wlo = max(wlo, 0.0)
        elif sign < 0:
            whi = min(whi, 0.0)
        return Target(wlo, whi, sign, "published range +-10 points")
    if lo == 0:
        return Target(0.0, 0.0, 0, "single figure 0: exactly 0")
    return Target(-INF, INF, _sign(lo), "single figure: same sign")


def agrees(row: PublishedRow, modeled: Sequence[float]) -> bool:
    """True when ``modeled`` is non-empty and every value meets ``target_for(row)``."""
    target = target_for(row)
    return bool(modeled) and all(target.accepts(float(v)) for v in modeled)
