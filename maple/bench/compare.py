"""Comparison tables: runs in, mmtests-shaped tables of numbers out (no formatting here).

This is ``compare-mmtests.pl``'s model (``Compare::_generateComparisonTable``) over maplebench
run folders. A *column* is one kernel in mmtests' sense: one run, or one mm of a run. The
first column is the baseline; every other column gets a percentage against it (positive is
better) and, on the headline-mean row only, a significance verdict.

Tables, one per benchmark family:

* ``will-it-scale``: every loop workload, operations ``<workload>-<mode>-<tasks>`` (mmtests'
  ExtractWiscommon names, e.g. ``brk1-processes-2``), higher is better, field length 16.
  Operations are ordered by workload (first seen), mode (processes, threads) and tasks.
* one per timed workload (``kernbench``, ...): operations ``user-N``, ``syst-N``, ``elsp-N``
  (ExtractKernbench; ``user-<mode>-N`` if the workload ran in several modes), lower is
  better, field length 12.
* ``counters per op``: the deterministic ``<counter>_per_op`` columns, one row per counter
  and cell (``<workload>-<mode>-<tasks>``), exact values and percentage change (lower is
  better), no statistics. Counters that are 0 in every cell of every column are left out.
  A column without any counter (``host`` cells: a real kernel has no cost counters) shows
  undefined values there, and percentages are against the first column that has counters.

Only operations present in every column are compared; the others are listed in
``Comparison.skipped``. Rendering lives in ``maple.bench.render``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from maple.bench import stats
from maple.bench.results import COUNTER_SUFFIX, TIME_COLUMNS, Run
from maple.errors import InputError

WIS_TITLE = "will-it-scale"
COUNTERS_TITLE = "counters per op"
WIS_FIELD_LENGTH = 16  # ExtractWiscommon _FieldLength
TIME_FIELD_LENGTH = 12  # ExtractKernbench default
COUNTER_FIELD_LENGTH = 16
#: legacy is the baseline (the seed's "vanilla"); the other simulated kinds follow in kernel
#: order (``maple.mm.KINDS``: legacy, maple-v5, maple, current), the running kernel last
MM_ORDER = ("legacy", "maple-v5", "maple", "current")
MODE_ORDER = ("processes", "threads")  # runtest.py's order; other modes follow, first seen first


#: Units of each table kind (will-it-scale reports operations per second).
TABLE_UNITS = {"throughput": "ops/s", "time": "s", "counters": "count per op"}


class NoCommonOperations(InputError):
    """The compared columns share no operation (or one of them holds no samples at all)."""


@dataclass(slots=True)
class Column:
    """One compared "kernel": a run, or the rows of one mm within a run."""

    name: str
    run: Run
    mm: str | None  # None: every row of the run

    def samples(self):  # -> pandas.DataFrame
        df = self.run.samples
        return df if self.mm is None else df[df["mm"] == self.mm]


@dataclass(frozen=True, slots=True)
class Operation:
    """A compared quantity: mmtests' operation name plus where its samples come from."""

    name: str
    workload: str
    mode: str
    tasks: int
    metric: str  # "ops", "user", "syst", "elsp", or a counter column


@dataclass(slots=True)
class Cell:
    """One table cell. ``significant`` is None where no test applies (baseline, other rows)."""

    value: float
    percent: float
    significant: bool | None = None
    score: float = stats.NAN


@dataclass(slots=True)
class Row:
    stat: str
    operation: Operation
    cells: list[Cell]


@dataclass(slots=True)
class Table:
    title: str
    kind: str  # "throughput", "time" or "counters"
    higher_is_better: bool
    field_length: int
    headline: str | None  # the row that can carry stars (None for counters)
    rows: list[Row] = field(default_factory=list)

    @property
    def unit(self) -> str:
        """What the values are in: ``ops/s``, ``s`` (times) or ``count per op``."""
        return TABLE_UNITS.get(self.kind, "")

    @property
    def operations(self) -> list[Operation]:
        seen: dict[Operation, None] = {}
        for row in self.rows:
            seen.setdefault(row.operation, None)
        return list(seen)


@dataclass(slots=True)
class Comparison:
    columns: list[Column]
    significance: str
    tables: list[Table]
    skipped: list[str] = field(default_factory=list)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


# --------------------------------------------------------------------------- columns


def _mm_key(mm: str) -> tuple[int, str]:
    if mm == "host":  # the running kernel after every simulated kind
        return (len(MM_ORDER) + 1, mm)
    return (MM_ORDER.index(mm) if mm in MM_ORDER else len(MM_ORDER), mm)


def columns_for(runs: Sequence[Run]) -> list[Column]:
    """The compared columns: the first run's columns come first and hold the baseline.

    A run holding one mm is one column named after the run; a run holding several gives one
    column per mm, ``<run>-legacy`` before ``<run>-maple`` (so a single run compares its
    legacy mm, the baseline, against its maple mm), other simulated kinds next, ``<run>-host``
    last. Repeated names get ``#2``, ``#3``, ...
    """
    columns: list[Column] = []
    for run in runs:
        named = run.meta.get("columns")
        if named:  # mmtests / will-it-scale: one column per run name, in the source's order
            columns.extend(Column(str(n), run, str(n)) for n in named)
            continue
        mms = sorted({str(m) for m in run.samples["mm"].dropna().unique()}, key=_mm_key)
        if len(mms) <= 1:
            columns.append(Column(run.name, run, None))
        else:
            columns.extend(Column(f"{run.name}-{mm}", run, mm) for mm in mms)
    seen: dict[str, int] = {}
    for col in columns:
        k = seen.get(col.name, 0) + 1
        seen[col.name] = k
        if k > 1:
            col.name = f"{col.name}#{k}"
    return columns


def _is_host(column: Column) -> bool:
    """Every row of the column was measured on the running kernel (``--mm host``)."""
    if column.mm is not None:
        return column.mm == "host"
    mms = column.run.samples["mm"].dropna().unique() if "mm" in column.run.samples else []
    return len(mms) > 0 and all(str(m) == "host" for m in mms)


# --------------------------------------------------------------------------- gathering samples


def _order(values: Iterable[object]) -> dict[object, int]:
    out: dict[object, int] = {}
    for v in values:
        out.setdefault(v, len(out))
    return out


@dataclass(slots=True)
class _Collected:
    """Per column: samples per operation and group, and counter values per operation."""

    groups: dict[str, dict[Operation, np.ndarray]]
    counters: dict[Operation, float]


def _numeric(column: Column, name: str, values) -> np.ndarray:  # values: pandas.Series
    """A sample column as floats (empty cells are NaN); InputError naming a non-number."""
    import pandas as pd

    out = pd.to_numeric(values, errors="coerce")
    bad = values[out.isna() & values.notna()]
    if len(bad):
        raise InputError(f"result '{column.run.path}': column '{name}' holds a non-number ({bad.iloc[0]!r})")
    return out.to_numpy(dtype=float)


def _collect(column: Column) -> _Collected:
    """Group one column's samples by cell, as numpy arrays (columns converted once)."""
    df = column.samples()
    groups: dict[str, dict[Operation, np.ndarray]] = {}
    counters: dict[Operation, float] = {}
    if df.empty:
        return _Collected(groups, counters)
    df = df.assign(tasks=_numeric(column, "tasks", df["tasks"])).dropna(subset=["workload", "mode", "tasks"])
    counter_cols = [c for c in df.columns if c.endswith(COUNTER_SUFFIX)]
    values = {c: _numeric(column, c, df[c]) for c in ("ops", *TIME_COLUMNS, *counter_cols) if c in df.columns}
    # mmtests data names its benchmark (wis-malloc, kernbench): one table each, as
    # compare-mmtests.pl -b <benchmark> prints them, in the order compare-mmtests.pl reports.
    bench = "benchmark" in df.columns
    if bench:
        df = df.assign(benchmark=df["benchmark"].astype(str))
    keys = ["workload", "mode", "tasks", *(["benchmark"] if bench else [])]
    cells = list(df.groupby(keys, sort=False).indices.items())
    if column.run.meta.get("order") == "source":
        cells.sort(key=lambda kv: int(kv[1][0]))
    else:
        wl_order = _order(df["workload"])
        mode_order = _order([*MODE_ORDER, *df["mode"]])
        cells.sort(key=lambda kv: (wl_order[kv[0][0]], mode_order[kv[0][1]], kv[0][2]))
    modes_per_workload: dict[str, set[str]] = {}
    for key, _idx in cells:
        modes_per_workload.setdefault(str(key[0]), set()).add(str(key[1]))
    for key, idx in cells:
        wl, mode, tasks = str(key[0]), str(key[1]), int(key[2])
        ops = values["ops"][idx] if "ops" in values else None
        if ops is not None and not np.isnan(ops).all():
            title = key[3] if bench else WIS_TITLE
            groups.setdefault(title, {})[Operation(f"{wl}-{mode}-{tasks}", wl, mode, tasks, "ops")] = ops
        else:
            mid = f"{mode}-" if len(modes_per_workload[wl]) > 1 else ""
            for metric in TIME_COLUMNS:
                if metric in values and not np.isnan(sample := values[metric][idx]).all():
                    op = Operation(f"{metric}-{mid}{tasks}", wl, mode, tasks, metric)
                    groups.setdefault(key[3] if bench else wl, {})[op] = sample
        for cc in counter_cols:
            vals = stats.as_samples(values[cc][idx])
            if vals.size:
                op = Operation(f"{wl}-{mode}-{tasks}", wl, mode, tasks, cc[: -len(COUNTER_SUFFIX)])
                counters[op] = float(vals.mean())
    return _Collected(groups, counters)


# --------------------------------------------------------------------------- building tables


def resolve_stats(names: Sequence[str] | None, rule: str, higher_is_better: bool) -> list[str]:
    """Rows for a table: the era's rows for ``rule``, or the requested ones.

    ``mean``, ``Hmean`` and ``Amean`` all name the table's headline mean (mmtests' ``_mean``
    placeholder), and ``BHmean-P`` / ``BAmean-P`` its best-P% form, so ``--stats Hmean`` shows
    Hmean for will-it-scale and Amean for kernbench, as mmtests would. Repeats are dropped.
    """
    if not names:
        return stats.era_rows(rule, higher_is_better)
    head = stats.headline_mean(higher_is_better)
    best = "BHmean" if higher_is_better else "BAmean"
    out: dict[str, None] = {}
    for n in names:
        if n.lower() == "mean" or n in ("Hmean", "Amean"):
            n = head
        elif n.startswith(("BHmean-", "BAmean-")):
            n = best + n[6:]
        out.setdefault(stats.statistic(n).name, None)  # canonical title, e.g. Max-90
    return list(out)


def check_stats(names: Sequence[str] | None) -> None:
    """Raise ``InputError`` naming the first unknown statistic in ``names``."""
    for n in names or ():
        if n.lower() == "mean":
            continue
        try:
            stats.statistic(n)
        except ValueError as exc:
            raise InputError(f"--stats: {exc}") from None


def _stat_table(
    title: str,
    per_column: list[dict[Operation, np.ndarray]],
    ops: list[Operation],
    rule: str,
    stat_names: Sequence[str] | None,
) -> Table:
    timed = ops[0].metric != "ops"
    higher = not timed
    headline = stats.headline_mean(higher)
    table = Table(
        title=title,
        kind="time" if timed else "throughput",
        higher_is_better=higher,
        field_length=TIME_FIELD_LENGTH if timed else WIS_FIELD_LENGTH,
        headline=headline,
    )
    ttest_era = rule == "ttest"
    for name in resolve_stats(stat_names, rule, higher):
        stat = stats.statistic(name)
        for op in ops:
            samples = [col[op] for col in per_column]
            values = [stat(s, higher) for s in samples]
            base = values[0]
            # 2018-2024 (ttest): an Hmean over a sample <= 0 was -1, and a baseline of -1 made
            # Compare.pm print the whole row as 0.00 (0.00%); later a NaN baseline prints only
            # its own cell so (the others get pdiff against NaN, 100%).
            base_invalid = ttest_era and stats.era_invalid(stat, samples[0], base)
            cells: list[Cell] = []
            for i, v in enumerate(values):
                if math.isnan(v) or base_invalid:
                    cell = Cell(stats.NAN, 0.0)  # mmtests prints an undefined value as 0 (0.00%)
                else:
                    cell = Cell(v, 0.0 if i == 0 else stat.percent(v, base, higher))
                if i and name == headline and (ttest_era or not math.isnan(v)):
                    verdict = stats.significance(rule, samples[0], samples[i], higher)
                    cell.significant, cell.score = verdict.significant, verdict.score
                cells.append(cell)
            table.rows.append(Row(name, op, cells))
    return table


def _counter_table(per_column: list[dict[Operation, float]], ops: list[Operation]) -> Table:
    table = Table(COUNTERS_TITLE, "counters", False, COUNTER_FIELD_LENGTH, None)
    counter_order = _order(op.metric for op in ops)
    for op in sorted(ops, key=lambda o: counter_order[o.metric]):  # stable: counter-major
        values = [col.get(op, stats.NAN) for col in per_column]  # a column without counters: NaN
        ref = next(i for i, v in enumerate(values) if not math.isnan(v))
        cells = [
            Cell(v, 0.0 if i <= ref or math.isnan(v) else stats.pndiff(v, values[ref]))
            for i, v in enumerate(values)
        ]
        table.rows.append(Row(op.metric, op, cells))
    return table


def _align_groups(collected: list[_Collected]) -> None:
    """Put an operation in the same table in every column: mmtests data names its table
    after the benchmark (``wis-brk1``), maplebench runs and will-it-scale output call theirs
    ``will-it-scale``; an operation that an mmtests column files under a benchmark moves to
    that benchmark's table in the other columns, so the two compare side by side."""
    bench_of: dict[Operation, str] = {}
    for got in collected:
        for group, ops in got.groups.items():
            if group != WIS_TITLE:
                for op in ops:
                    bench_of.setdefault(op, group)
    if not bench_of:
        return
    for got in collected:
        wis = got.groups.get(WIS_TITLE)
        if not wis:
            continue
        for op in [op for op in wis if op in bench_of]:
            got.groups.setdefault(bench_of[op], {})[op] = wis.pop(op)
        if not wis:
            del got.groups[WIS_TITLE]


def _common(keyed: list[dict[Operation, object]]) -> tuple[list[Operation], list[str]]:
    """Operations every column has (in the baseline's order) and the names of the rest."""
    common = [op for op in keyed[0] if all(op in k for k in keyed[1:])]
    have = set(common)
    skipped: dict[str, None] = {}
    for k in keyed:
        for op in k:
            if op not in have:
                skipped.setdefault(op.name if op.metric in ("ops", *TIME_COLUMNS) else f"{op.metric} {op.name}", None)
    return common, list(skipped)


def compare_columns(
    columns: Sequence[Column],
    *,
    significance: str = "ttest",
    stat_names: Sequence[str] | None = None,
    counters: bool = True,
) -> Comparison:
    """Build the tables for ``columns`` (the first is the baseline).

    Raises ``NoCommonOperations`` (an ``InputError``) if the columns have no operation in
    common, and ``InputError`` for a sample that is not a number.
    """
    stats.check_rule(significance)
    check_stats(stat_names)
    collected = [_collect(c) for c in columns]
    for col, got in zip(columns, collected):
        if not got.groups and not got.counters:
            raise NoCommonOperations(f"result '{col.run.path}' holds no samples")
    _align_groups(collected)
    comparison = Comparison(list(columns), significance, [])
    group_names = list(_order(g for c in collected for g in c.groups))
    group_names.sort(key=lambda g: g != WIS_TITLE)  # will-it-scale first, then timed workloads
    for group in group_names:
        per_column = [c.groups.get(group, {}) for c in collected]
        ops, skipped = _common(per_column)
        comparison.skipped.extend(skipped)
        if ops:
            comparison.tables.append(_stat_table(group, per_column, ops, significance, stat_names))
    if counters:
        per_column_c = [c.counters for c in collected]
        # a host column (the running kernel) has no cost counters: it sits this table out
        counted = [got for col, got in zip(columns, per_column_c) if not _is_host(col)]
        ops, skipped = _common(counted) if counted else ([], [])
        comparison.skipped.extend(skipped)
        nonzero = {op.metric for op in ops if any(col[op] != 0 for col in counted)}
        ops = [op for op in ops if op.metric in nonzero]  # a counter that is 0 everywhere says nothing
        if ops:
            comparison.tables.append(_counter_table(per_column_c, ops))
    if not comparison.tables:
        names = ", ".join(f"'{c.name}'" for c in columns)
        raise NoCommonOperations(f"results {names} have no operation in common")
    return comparison


def compare_runs(
    runs: Sequence[Run],
    *,
    significance: str = "ttest",
    stat_names: Sequence[str] | None = None,
) -> Comparison:
    """``maplebench compare``: columns from :func:`columns_for`, then :func:`compare_columns`."""
    if not runs:
        raise InputError("compare needs at least one result")
    return compare_columns(columns_for(runs), significance=significance, stat_names=stat_names)
