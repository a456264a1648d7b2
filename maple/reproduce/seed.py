"""Rerun the seed thread's published rows on two modeled kernels and compute their percentages.

What runs (the *plan*): one group of cells per (workload, mode), each with its task counts:

==============  =========  ==============================  =====================================
workload        mode       task counts                     reproduces
==============  =========  ==============================  =====================================
brk1            processes  2..320 (Mel's 16 counts)        mel-v5-brk1, liam-v6-wis brk1
brk1            threads    2..203 (Mel's 12 counts)        mel-v5-brk1 threads
brk2            processes  2..320, base kind only          wilcox-brk2 (brk2 vs brk1)
malloc1         processes  ``LIAM_TASKS``                  liam-v6-wis malloc1-processes
malloc1         threads    ``LIAM_TASKS``                  liam-v6-wis malloc1-threads
page_fault3     threads    ``LIAM_TASKS``                  liam-v6-wis page_fault3-threads
kernbench       processes  2,4,...,128 (Liam's job counts)  liam-v6-kernbench
==============  =========  ==============================  =====================================

The cover letter gives only min..max for its will-it-scale rows. mmtests' stock will-it-scale
config runs 2 .. 2 x CPUs, which on the letter's 144-CPU machine is the large-stride series
2..288; ``LIAM_TASKS`` is a subset of that series (the run-time budget of five minutes on a
2-core machine does not allow all of it), listed in docs/reproduce.md.

Every cell runs through :class:`maple.bench.runner.Runner` (so on the model clock through the
clock's ``ModelPass``), with the rows kept in memory. The modeled percentage of a cell is
mmtests' (``maple.bench.stats``): ``pdiff(Hmean(new), Hmean(base))`` for will-it-scale
throughput, ``pndiff(Amean(new), Amean(base))`` for kernbench times; positive is better.
brk2 vs brk1 compares the two workloads on the base kind (Wilcox's figure is about one kernel).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence, TextIO

from maple.bench import stats
from maple.bench.spec import geometric, large_stride
from maple.errors import InputError
from maple.reproduce import agreement
from maple.reproduce.published import PublishedRow, load

DEFAULT_BASE = "legacy"
DEFAULT_NEW = "maple-v5"

#: The modeled machine: 144 logical CPUs ("144 core x86" in the cover letter counts what the
#: kernel calls CPUs), taken as 72 cores with 2 SMT threads each. Sockets are not modeled.
CPUS = 144
SMT = 2

#: Task counts for the cover letter's ranges: a subset of mmtests' 2..288 series (2 x 144 CPUs).
LIAM_TASKS = (2, 8, 30, 79, 141, 288)


@dataclass(frozen=True, slots=True)
class Group:
    """Cells of one workload and mode; ``base_only`` runs on the base kind alone; ``samples``
    overrides ``Settings.samples`` on the model clock (a kernbench replay there is
    deterministic, so one iteration says all that several would)."""

    workload: str
    mode: str
    procs: tuple[int, ...]
    base_only: bool = False
    samples: int | None = None

    def kinds(self, base: str, new: str) -> tuple[str, ...]:
        if self.base_only or base == new:
            return (base,)
        return (base, new)


def seed_plan() -> tuple[Group, ...]:
    """The groups that reproduce every published row (module docstring)."""
    return (
        Group("brk1", "processes", tuple(large_stride(2, 320))),
        Group("brk1", "threads", tuple(large_stride(2, 203))),
        Group("brk2", "processes", tuple(large_stride(2, 320)), base_only=True),
        Group("malloc1", "processes", LIAM_TASKS),
        Group("malloc1", "threads", LIAM_TASKS),
        Group("page_fault3", "threads", LIAM_TASKS),
        Group("kernbench", "processes", tuple(geometric(2, 128, 2)), samples=1),
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """How each cell runs: clock, modeled machine, samples and sampling interval (seconds of
    the clock's time). ``jobs`` cells of a group run in parallel (model clock only; default:
    two, or one on a single-CPU machine)."""

    clock: str = "model"
    cpus: int | None = CPUS
    smt: int = SMT
    samples: int = 3
    #: the model clock's run defaults (``maple.bench.runner.DEFAULT_TIMES``): 2 ms windows
    #: hold whole rounds of every workload up to 320 tasks on 144 CPUs (docs/clock.md)
    warmup: float = 0.002
    interval: float = 0.002
    profile: str | None = None
    jobs: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    layout: str | None = None


#: measured values: (workload, kind, mode, tasks) -> {metric: samples}
Measurements = dict[tuple[str, str, str, int], dict[str, list[float]]]


def check_kind(kind: str, option: str) -> str:
    """``kind`` if it is a simulated mm kind (``maple.mm.KINDS``), else ``InputError``."""
    from maple import mm as mm_pkg

    if kind not in mm_pkg.KINDS:
        raise InputError(f"{option} '{kind}': unknown mm kind (known: {', '.join(mm_pkg.KINDS)})")
    return kind


class ReproduceError(RuntimeError):
    """A cell of the reproduction failed; ``str()`` says which and why."""


class _MemoryWriter:
    """The ``RunWriter`` surface the runner uses, keeping rows in memory."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows.extend(rows)


class LineProgress:
    """One line on ``stream`` per cell: ``reproduce seed: [k/N] brk1 legacy processes 2``."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr

    def cell(self, index: int, total: int, cell: Any) -> None:
        self.done += 1
        print(f"reproduce seed: [{self.done}/{self.total}] {cell.label()}", file=self.stream, flush=True)

    def tick(self, warmup: bool) -> None:
        pass


def count_cells(plan: Sequence[Group], base: str, new: str) -> int:
    return sum(len(g.procs) * len(g.kinds(base, new)) for g in plan)


def measure(
    plan: Sequence[Group], base: str, new: str, settings: Settings, progress: Any = None
) -> Measurements:
    """Run every cell of ``plan`` with the runner; samples per cell and metric.

    Raises ``ReproduceError`` if a cell fails and ``KeyboardInterrupt`` if interrupted.
    """
    from maple.bench.runner import RunConfig, Runner

    out: Measurements = {}
    model = settings.clock == "model"  # the modeled machine's options mean nothing to wall time
    for group in plan:
        config = RunConfig(
            workloads=[group.workload],
            mms=group.kinds(base, new),
            modes=[group.mode],
            procs=group.procs,
            samples=group.samples if group.samples and settings.clock == "model" else settings.samples,
            warmup=settings.warmup,
            interval=settings.interval,
            deterministic=False,
            clock=settings.clock,
            cpus=settings.cpus if model else None,
            smt=settings.smt if model else 1,
            profile=settings.profile if model else None,
            jobs=settings.jobs if model else 1,
            layout=settings.layout,
        )
        writer = _MemoryWriter()
        runner = Runner(config, writer, progress=progress)
        status = runner.run()
        if status == "interrupted":
            raise KeyboardInterrupt
        if status != "complete":
            raise ReproduceError(f"{group.workload} {group.mode} failed: {runner.error}")
        for row in writer.rows:
            key = (str(row["workload"]), str(row["mm"]), str(row["mode"]), int(row["tasks"]))
            metrics = out.setdefault(key, {})
            for metric in ("ops", "user", "syst", "elsp"):
                if metric in row and row[metric] is not None:
                    metrics.setdefault(metric, []).append(float(row[metric]))
    return out


# ------------------------------------------------------------------------------ percentages


def percent(base: Sequence[float], new: Sequence[float], metric: str) -> float:
    """mmtests' percentage of ``new`` against ``base``: Hmean/pdiff for throughput (``ops``),
    Amean/pndiff for times; NaN when either side has no samples or an undefined mean (a
    window with no completed op makes the Hmean undefined, where mmtests' pdiff prints 100)."""
    if not len(base) or not len(new):
        return math.nan
    mean = stats.hmean if metric == "ops" else stats.amean
    b, n = mean(base), mean(new)
    if math.isnan(b) or math.isnan(n):  # mmtests' pdiff would print 100 for an undefined base
        return math.nan
    return stats.pdiff(n, b) if metric == "ops" else stats.pndiff(n, b)


def compared_workloads(row: PublishedRow) -> tuple[str, str] | None:
    """``(base workload, new workload)`` for a row comparing two workloads on one kernel
    (``brk2 vs brk1`` -> ``("brk1", "brk2")``), else None."""
    parts = row.operation.split(" vs ")
    if len(parts) == 2:
        return parts[1].strip(), parts[0].strip()
    return None


@dataclass(slots=True)
class RowResult:
    """A published row beside its modeled figure(s), one per modeled task count."""

    row: PublishedRow
    tasks: tuple[int, ...]
    modeled: tuple[float, ...]
    target: agreement.Target
    agrees: bool

    def modeled_text(self) -> str:
        """``-31.20`` for one value, ``lo..hi`` for several, ``nan`` when nothing was modeled."""
        vals = [v for v in self.modeled if not math.isnan(v)]
        if not vals or len(vals) != len(self.modeled):
            return "nan"
        lo, hi = _fmt(min(vals)), _fmt(max(vals))
        return lo if len(vals) == 1 else f"{lo}..{hi}"

    def tasks_text(self) -> str:
        if not self.tasks:
            return "-"
        if len(self.tasks) == 1:
            return str(self.tasks[0])
        return ",".join(str(t) for t in self.tasks)


def _fmt(x: float) -> str:
    """Two decimals, with no negative zero (``-0.001`` prints as ``0.00``)."""
    text = f"{x:.2f}"
    return "0.00" if text == "-0.00" else text


def _counts(plan: Sequence[Group], workload: str, mode: str) -> tuple[int, ...]:
    for g in plan:
        if g.workload == workload and g.mode == mode:
            return g.procs
    return ()


def modeled_row(
    row: PublishedRow, data: Mapping[tuple[str, str, str, int], Mapping[str, Sequence[float]]],
    plan: Sequence[Group], base: str, new: str,
) -> RowResult:
    """The modeled figure(s) of ``row`` from measured ``data``."""
    pair = compared_workloads(row)
    tasks = (row.tasks,) if row.tasks is not None else _counts(plan, row.workload, row.mode)
    values = []
    for n in tasks:
        if pair is not None:  # one kernel (the base kind), two workloads
            b = data.get((pair[0], base, row.mode, n), {}).get(row.metric, [])
            w = data.get((pair[1], base, row.mode, n), {}).get(row.metric, [])
        else:
            b = data.get((row.workload, base, row.mode, n), {}).get(row.metric, [])
            w = data.get((row.workload, new, row.mode, n), {}).get(row.metric, [])
        values.append(percent(b, w, row.metric))
    target = agreement.target_for(row)
    return RowResult(row, tuple(tasks), tuple(values), target, agreement.agrees(row, values))


@dataclass(slots=True)
class Reproduction:
    """The outcome: kinds compared, settings, and one ``RowResult`` per published row."""

    base: str
    new: str
    settings: Settings
    results: list[RowResult] = field(default_factory=list)

    @property
    def agreeing(self) -> int:
        return sum(r.agrees for r in self.results)


def reproduce(
    base: str = DEFAULT_BASE,
    new: str = DEFAULT_NEW,
    *,
    settings: Settings | None = None,
    plan: Sequence[Group] | None = None,
    rows: Sequence[PublishedRow] | None = None,
    progress_stream: TextIO | None = None,
    measure_fn: Callable[..., Measurements] | None = None,
) -> Reproduction:
    """Run ``plan`` (default :func:`seed_plan`) on ``base`` and ``new`` and return every row of
    ``rows`` (default: all published rows) with its modeled figure.

    ``InputError`` for an unknown kind (before anything runs); ``ReproduceError`` if a cell
    fails. ``measure_fn`` replaces :func:`measure` (tests).
    """
    check_kind(base, "--base")
    check_kind(new, "--new")
    settings = settings or Settings()
    plan = tuple(plan) if plan is not None else seed_plan()
    rows = list(rows) if rows is not None else load()
    progress = LineProgress(count_cells(plan, base, new), progress_stream)
    data = (measure_fn or measure)(plan, base, new, settings, progress)
    results = [modeled_row(r, data, plan, base, new) for r in rows]
    return Reproduction(base, new, settings, results)
