"""Task-count series for ``--procs SPEC``, as mmtests generates them.

``SPEC`` is a comma list of items; each item is one of

* ``N``          a single task count;
* ``A..B``       mmtests' large-stride series from A to B (``threads_large_stride_begin`` in
  ``shellpack_src/bin/rewrite-shellpack``): ``2..320`` gives 2,5,8,12,21,30,48,79,110,141,
  172,203,234,265,296,320;
* ``A..B:xK``    a geometric series A, A*K, A*K^2, ... <= B with B appended
  (``threads_powertwo_begin``; kernbench's ``2..320:x2`` gives 2,4,...,256,320);
* ``A..B:+K``    an arithmetic series A, A+K, ... <= B with B appended.

Items combine into one sorted list without duplicates. Bad input raises ``InputError``
naming the offending value; every bound (at most ``MAX_TASKS``) is checked before a series is
built, so a huge spec is refused at once instead of being enumerated.
"""

from __future__ import annotations

import re

from maple.errors import InputError

#: will-it-scale's MAX_TASKS: main.c refuses more tasks than this.
MAX_TASKS = 2048

_ITEM = re.compile(r"^(\d+)(?:\.\.(\d+)(?::([x+])(\d+))?)?$")


def _seq(first: int, step: int, last: int) -> list[int]:
    """coreutils ``seq FIRST STEP LAST`` for positive integers (empty when first > last)."""
    return list(range(first, last + 1, step))


def large_stride(low: int, high: int) -> list[int]:
    """mmtests' large-stride task series from ``low`` to ``high`` (inclusive).

    The classic macro, before the 2024 branch that also depends on the CPU count:
    above 32 it strides 3 up to 8, then 9 up to 32, then 31; above 8 it strides 2 up to 8,
    then 6; otherwise 2. ``high`` is appended when the strides miss it, and values below
    ``low`` are dropped (so ``low`` itself is not always in the series, as in mmtests).
    """
    if high > 32:
        series = _seq(low, 3, 8) + _seq(12, 9, 32) + _seq(48, 31, high)
    elif high > 8:
        series = _seq(low, 2, 8) + _seq(12, 6, high)
    else:
        series = _seq(low, 2, high)
    if not series or series[-1] != high:
        series.append(high)
    return [n for n in series if n >= low]


def geometric(low: int, high: int, factor: int) -> list[int]:
    """``low, low*factor, ...`` while ``<= high``, then ``high`` (mmtests threads_powertwo)."""
    series = []
    n = low
    while n <= high:
        series.append(n)
        n *= factor
    if series[-1] != high:
        series.append(high)
    return series


def arithmetic(low: int, high: int, step: int) -> list[int]:
    """``low, low+step, ...`` while ``<= high``, then ``high``."""
    series = _seq(low, step, high)
    if series[-1] != high:
        series.append(high)
    return series


def parse_procs(spec: str) -> list[int]:
    """Parse a ``--procs`` SPEC into a sorted list of distinct task counts."""
    text = str(spec).strip()
    if not text:
        raise InputError("--procs '': empty task-count spec")
    counts: set[int] = set()
    for raw in text.split(","):
        item = raw.strip()
        m = _ITEM.match(item)
        if m is None:
            raise InputError(
                f"--procs '{spec}': cannot parse '{item}' (expected N, A..B, A..B:xK or A..B:+K)"
            )
        a, b, op, k = m.groups()
        low = _number(spec, item, a)
        if low < 1:
            raise InputError(f"--procs '{spec}': task count '{a}' in '{item}' must be at least 1")
        _check_bound(spec, item, low)
        if b is None:
            counts.add(low)
            continue
        high = _number(spec, item, b)
        if high < low:
            raise InputError(f"--procs '{spec}': '{item}' ends below its start ({b} < {a})")
        _check_bound(spec, item, high)
        if k is not None and len(k.lstrip("0")) > 9:
            k = str(MAX_TASKS + 1)  # a step or factor that large only gives A and B
        if op is None:
            counts.update(large_stride(low, high))
        elif op == "x":
            if int(k) < 2:
                raise InputError(f"--procs '{spec}': factor 'x{k}' in '{item}' must be at least 2")
            counts.update(geometric(low, high, int(k)))
        else:
            if int(k) < 1:
                raise InputError(f"--procs '{spec}': step '+{k}' in '{item}' must be at least 1")
            counts.update(arithmetic(low, high, int(k)))
    return sorted(counts)


def _number(spec: str, item: str, digits: str) -> int:
    """``int(digits)``; a number too long to be a task count is refused without converting it."""
    if len(digits.lstrip("0")) > 9:
        _check_bound(spec, item, 10**9)
    return int(digits)


def _check_bound(spec: str, item: str, value: int) -> None:
    """Refuse a task count above will-it-scale's MAX_TASKS before any series is built."""
    if value > MAX_TASKS:
        raise InputError(
            f"--procs '{_short(spec)}': {_short(str(value))} tasks in '{_short(item)}' is more than "
            f"{MAX_TASKS} (will-it-scale's MAX_TASKS)"
        )


def _short(text: str, most: int = 60) -> str:
    """``text`` cut to ``most`` characters, so a huge bad value still gives one short line."""
    return text if len(text) <= most else text[: most - 3] + "..."


def default_procs(ncpus: int) -> str:
    """mmtests' will-it-scale default: WIS_MIN_THREADS=2 .. WIS_MAX_THREADS=2*CPUs."""
    return f"2..{max(2, 2 * ncpus)}"
