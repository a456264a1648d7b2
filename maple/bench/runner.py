"""The will-it-scale runner: cells, the deterministic pass, and one loop over every backend.

A run is a list of *cells* ``(workload, mm kind, mode, tasks)``. For a loop workload a cell is
measured twice:

1. **Deterministic pass** (``deterministic_counters``): the cell's tasks run in lockstep for a
   fixed number of loops after a fixed warm-up, and the mm's cost counters (``mm.counters``)
   are divided by the ops done. The same numbers come out on every run and machine; they are
   CI's noise-free signal and land in ``<counter>_per_op`` columns. Host cells have none.
2. **Timed pass**: a ``SampleSource`` (``maple.bench.sampling``) yields will-it-scale's sample
   lines: the total of the per-task increments in a window, their min and max, and the
   window's length; the runner stores them divided by the window: operations per second, as
   will-it-scale reports them (the raw total is kept as ``count``). The first warm-up samples
   (6 of one second by default, as will-it-scale) are discarded. The source is the cell's
   backend (``Runner.sample_source``): the running kernel (``maple.host.backend.HostPass``),
   the model clock (``maple.clock.backend.ModelPass``, virtual seconds on modeled CPUs) or
   the wall clock over a simulated mm (``maple.bench.wall.TimedPass``).

Timed workloads (kernbench, trace) run whole iterations instead (``_run_timed``).

Failures: a task that raises reaches the parent as ``WorkerError`` and the run stops as
``failed``; ``KeyboardInterrupt`` stops it as ``interrupted``. Either way the samples gathered
so far are kept (each row is appended to samples.csv as it is taken).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

# the sampling mechanism and the wall-clock backend live below the runner; their names are
# re-exported here for the runner's users
from maple.bench.sampling import CACHELINE, Sample, SampleSource, WorkerError, sample_stats  # noqa: F401
from maple.bench.wall import TimedPass
from maple.errors import InputError
from maple.workloads.base import LoopWorkload, TimedWorkload, Workload

MM_KINDS = ("maple", "legacy")
#: the running kernel, measured with compiled will-it-scale testcases (``maple.host``)
HOST = "host"
MODES = ("processes", "threads")
#: ``model``: simulated kernel time on modeled CPUs (``maple.clock``); ``wall``: the
#: simulation's own run time. Host cells are always real time.
CLOCKS = ("model", "wall")
#: Layouts tried, in order, for the starting address space; else the first built-in.
#: ``cat`` is a small dynamically linked C program, as a will-it-scale binary is.
PREFERRED_LAYOUTS = ("will-it-scale", "cat", "process", "default")


@dataclass(frozen=True)
class Cell:
    """One measured configuration."""

    workload: str
    mm: str
    mode: str
    tasks: int

    def label(self) -> str:
        return f"{self.workload} {self.mm} {self.mode} {self.tasks}"


#: Default (warm-up, interval) seconds per clock: will-it-scale's six discarded one-second
#: samples of wall time; under the model clock, virtual time, where a threads-mode window costs
#: real time in proportion to the calls it holds, and 2 ms holds whole rounds of every
#: workload up to 320 tasks on 144 CPUs (docs/clock.md)
DEFAULT_TIMES = {"wall": (6.0, 1.0), "model": (0.002, 0.002)}

#: Bounds of the sampling options (checked before anything is written). An interval below
#: 10 ms measures the sampler, not the workload (a 1 ns interval counted 0 ops everywhere).
MIN_INTERVAL = 0.01
#: Under the model clock the interval is virtual time, free of sampler overhead: 1 us still
#: holds a call or more of every workload.
MIN_MODEL_INTERVAL = 1e-6
MAX_INTERVAL = 3600.0
MAX_WARMUP = 3600.0
MAX_SAMPLES = 10_000
#: A run whose sampling alone would take longer than this is refused (a typo, not a plan).
MAX_RUN_SECONDS = 7 * 24 * 3600.0
#: Under the model clock a cell simulates at most this much virtual time (warm-up included):
#: a threads-mode call costs tens of us of real time for about a us of virtual time.
MAX_MODEL_CELL_SECONDS = 10.0
MAX_CPUS = 4096
MAX_SMT = 8
MAX_JOBS = 1024


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(option: str, value: Any, low: float, high: float, *, low_open: bool = False) -> None:
    """``value`` must be a finite number of seconds in ``[low, high]`` (``(low, high]``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > low if low_open else value >= low) and value <= high:
        return
    if not ok:
        why = "must be a finite number of seconds"
    elif value > high:
        why = f"must be at most {high:g} seconds"
    else:
        why = f"must be {'more than' if low_open else 'at least'} {low:g} seconds"
    raise InputError(f"{option} '{value}': {why}")


def accepts_param(cls: type, name: str) -> bool:
    """True if workload class ``cls`` takes the parameter ``name`` (its constructor names it)."""
    import inspect

    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False
    p = params.get(name)
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


@dataclass
class RunConfig:
    """What to run. ``warmup`` is in seconds and becomes ``round(warmup / interval)`` samples.

    ``workload_modes`` overrides ``modes`` for the workloads it names (the CLI runs timed
    workloads such as kernbench, which replay separate processes, in processes mode only
    unless ``--mode`` is given). ``params`` go only to the workloads that take them.
    """

    workloads: Sequence[str]
    mms: Sequence[str] = MM_KINDS
    modes: Sequence[str] = MODES
    procs: Sequence[int] = (2,)
    samples: int = 5
    #: None: the clock's default (``DEFAULT_TIMES``: 6 s and 1 s of wall time, will-it-scale's;
    #: 2 ms and 2 ms of virtual time under the model clock: docs/clock.md says why)
    warmup: float | None = None
    interval: float | None = None
    affinity: bool = True
    layout: str | None = None  # None: a built-in realistic layout (see default_layout)
    params: dict[str, Any] = field(default_factory=dict)
    deterministic: bool = True
    #: ``model`` (default): virtual time on modeled CPUs; ``interval`` and ``warmup`` are then
    #: virtual seconds (keep them in the milliseconds, see docs/clock.md)
    clock: str = "model"
    #: modeled CPUs (model clock); None: this machine's count
    cpus: int | None = None
    #: hardware threads per modeled core (model clock)
    smt: int = 1
    #: cost profile name or path (model clock); None: the shipped default
    profile: str | None = None
    #: cells run in parallel on local cores (model-clock cells only)
    jobs: int = 1
    #: address of a Dask distributed scheduler that runs model-clock cells
    scheduler: str | None = None
    #: per-workload modes, overriding ``modes`` (e.g. ``{"kernbench": ("processes",)}``)
    workload_modes: dict[str, Sequence[str]] = field(default_factory=dict)
    #: host cells always sample real time: under the model clock (whose ``interval`` and
    #: ``warmup`` are virtual) they use these real seconds (will-it-scale's 1 s and 6 s)
    host_interval: float = DEFAULT_TIMES["wall"][1]
    host_warmup: float = DEFAULT_TIMES["wall"][0]

    def __post_init__(self) -> None:
        warmup, interval = DEFAULT_TIMES.get(self.clock, DEFAULT_TIMES["wall"])
        if self.warmup is None:
            self.warmup = warmup
        if self.interval is None:
            self.interval = interval

    @property
    def warmup_samples(self) -> int:
        return int(round(self.warmup / self.interval))

    def timing(self, mm: str) -> tuple[int, float]:
        """``(warm-up samples, interval in seconds)`` of a cell on ``mm``: the run's clock's,
        or real seconds for host cells under the model clock."""
        if mm == HOST and self.clock == "model":
            return int(round(self.host_warmup / self.host_interval)), self.host_interval
        return self.warmup_samples, self.interval

    def modes_for(self, workload: str) -> Sequence[str]:
        return self.workload_modes.get(workload, self.modes)

    def validate(self, provided: Sequence[str] | dict[str, Any] = ()) -> None:
        """Raise ``InputError`` naming the first bad value (``provided``: names not looked up,
        or a mapping of them to ready workload instances).

        Every option is checked here, before a run folder is touched: known workloads, mm
        kinds, modes and clock; task counts in 1..``spec.MAX_TASKS``; ``samples`` in
        1..``MAX_SAMPLES``; ``interval`` finite in [``MIN_INTERVAL``, ``MAX_INTERVAL``] s;
        ``warmup`` finite in [0, ``MAX_WARMUP``] s; ``cpus`` in 1..``MAX_CPUS``, ``smt`` in
        1..``MAX_SMT``, ``jobs`` in 1..``MAX_JOBS``; a parameter (``--trace``) some workload
        takes; a sampling time under ``MAX_RUN_SECONDS``.
        """
        from maple import workloads
        from maple.bench.spec import MAX_TASKS

        if not self.workloads:
            raise InputError("no workload given")
        classes: dict[str, type] = {}
        for name in self.workloads:
            if isinstance(provided, dict) and name in provided:
                classes[name] = type(provided[name])
            elif name not in provided:
                classes[name] = workloads.workload_class(name)
        known = known_mm_kinds()
        for kind in self.mms:
            if kind not in known:
                raise InputError(f"--mm '{kind}': unknown mm (known: {', '.join(known)})")
        if self.clock not in CLOCKS:
            raise InputError(f"--clock '{self.clock}': unknown clock (known: {', '.join(CLOCKS)})")
        if self.clock == "model" or self.profile is not None:
            from maple.clock.profile import load_profile

            load_profile(self.profile)  # a bad --profile is refused before anything runs
        all_modes = list(self.modes) + [m for ms in self.workload_modes.values() for m in ms]
        for mode in all_modes:
            if mode not in MODES:
                raise InputError(f"--mode '{mode}': unknown mode (known: {', '.join(MODES)})")
        if not self.mms:
            raise InputError("--mm: no mm kind given")
        if not self.modes or any(not ms for ms in self.workload_modes.values()):
            raise InputError("--mode: no mode given")
        if not self.procs or not all(_is_int(n) for n in self.procs) or min(self.procs) < 1:
            raise InputError(f"--procs: bad task counts {list(self.procs)[:8]}")
        if max(self.procs) > MAX_TASKS:
            raise InputError(f"--procs: {max(self.procs)} tasks is more than {MAX_TASKS} (will-it-scale's MAX_TASKS)")
        if not _is_int(self.samples) or not 1 <= self.samples <= MAX_SAMPLES:
            raise InputError(f"--samples '{self.samples}': must be an integer from 1 to {MAX_SAMPLES}")
        if self.clock == "model":  # virtual seconds: a window must still hold calls
            _seconds("--interval", self.interval, MIN_MODEL_INTERVAL, MAX_INTERVAL)
        else:
            _seconds("--interval", self.interval, MIN_INTERVAL, MAX_INTERVAL)
        _seconds("--warmup", self.warmup, 0.0, MAX_WARMUP)
        if self.clock == "wall":  # the model clock's options mean nothing to wall time
            for option, value, default in (("--cpus", self.cpus, None), ("--smt", self.smt, 1),
                                           ("--profile", self.profile, None), ("--jobs", self.jobs, 1),
                                           ("--scheduler", self.scheduler, None)):
                if value != default:
                    raise InputError(f"{option} '{value}': applies to --clock model only (this run is --clock wall)")
        if HOST in self.mms and self.clock == "model":  # host cells sample real time
            _seconds("--host-interval", self.host_interval, MIN_INTERVAL, MAX_INTERVAL)
            _seconds("--host-warmup", self.host_warmup, 0.0, MAX_WARMUP)
        if self.cpus is not None and (not _is_int(self.cpus) or not 1 <= self.cpus <= MAX_CPUS):
            raise InputError(f"--cpus '{self.cpus}': must be an integer from 1 to {MAX_CPUS}")
        if not _is_int(self.smt) or not 1 <= self.smt <= MAX_SMT:
            raise InputError(f"--smt '{self.smt}': must be an integer from 1 to {MAX_SMT}")
        if not _is_int(self.jobs) or not 1 <= self.jobs <= MAX_JOBS:
            raise InputError(f"--jobs '{self.jobs}': must be an integer from 1 to {MAX_JOBS}")
        if HOST in self.mms:
            from maple.host import TESTCASES

            for name in self.workloads:
                if name in TESTCASES:
                    continue
                cls = classes.get(name)
                if cls is not None and issubclass(cls, TimedWorkload):
                    raise InputError(f"--mm host: '{name}' is a timed workload; a real build is "
                                     "`maplebench record`'s job")
                raise InputError(f"--mm host: workload '{name}' has no compiled testcase "
                                 f"(host runs {', '.join(TESTCASES)})")
        for param, value in self.params.items():
            if classes and not any(accepts_param(c, param) for c in classes.values()):
                takers = [n for n in workloads.names() if accepts_param(workloads.workload_class(n), param)]
                raise InputError(
                    f"--{param} '{value}': no workload of this run takes it "
                    f"({', '.join(self.workloads)}; it is for {', '.join(takers) or 'no workload'})"
                )
        kinds = {n: getattr(c, "kind", "loop") for n, c in classes.items()}
        virtual = (self.warmup_samples + self.samples) * self.interval
        if self.clock == "model" and virtual > MAX_MODEL_CELL_SECONDS:
            raise InputError(
                f"--samples {self.samples} --warmup {self.warmup:g} --interval {self.interval:g}: each cell "
                f"would simulate {virtual:g} s (at most {MAX_MODEL_CELL_SECONDS:g} virtual seconds)"
            )
        seconds = self.estimate_seconds(kinds)
        if seconds > MAX_RUN_SECONDS:
            raise InputError(
                f"--samples {self.samples} --warmup {self.warmup:g} --interval {self.interval:g}: the run "
                f"would sample for {format_duration(seconds)} (more than {format_duration(MAX_RUN_SECONDS)})"
            )

    def params_for(self, cls: type) -> dict[str, Any]:
        """The parameters that workload class ``cls`` takes."""
        return {k: v for k, v in self.params.items() if accepts_param(cls, k)}

    def cells(self) -> list[Cell]:
        """Workload, then task count, then mode, then mm (mm innermost, for fair noise)."""
        return [
            Cell(w, k, mode, n)
            for w in self.workloads
            for n in self.procs
            for mode in self.modes_for(w)
            for k in self.mms
        ]

    def estimate_seconds(self, kinds: dict[str, str]) -> float:
        """Real seconds the loop cells spend sampling (warm-up included), from ``kinds``
        (workload name -> ``loop`` / ``timed``). Timed workloads and model-clock cells (whose
        interval is simulated time) are not counted: their duration is not known up front."""
        total = 0.0
        for cell in self.cells():
            if kinds.get(cell.workload) != "loop":
                continue
            if self.clock == "model" and cell.mm != HOST:
                continue
            warm, interval = self.timing(cell.mm)
            total += (warm + self.samples) * interval
        return total


def format_duration(seconds: float) -> str:
    """``47 min``, ``2.2 h``, ``3.0 days``, ``12 s``: a rough human duration."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def known_mm_kinds() -> tuple[str, ...]:
    """Every ``--mm`` kind: the simulated kinds and eras (``maple.mm.KINDS``), then ``host``."""
    from maple import mm as mm_pkg

    return (*mm_pkg.KINDS, HOST)


class Progress(Protocol):
    """What the runner reports as it goes (the CLI draws a bar from it)."""

    def cell(self, index: int, total: int, cell: Cell) -> None: ...

    def tick(self, warmup: bool) -> None: ...


class _NoProgress:
    def cell(self, index: int, total: int, cell: Cell) -> None:
        pass

    def tick(self, warmup: bool) -> None:
        pass


def default_layout() -> str | None:
    """The built-in layout that starting address spaces use (a realistic process)."""
    from maple import mm as mm_pkg

    names = list(mm_pkg.layouts())
    for name in PREFERRED_LAYOUTS:
        if name in names:
            return name
    return sorted(names)[0] if names else None


def default_mm_factory(layout: str | None) -> Callable[[str], Any]:
    """``kind -> make_mm(kind, layout=layout)``."""
    from maple.mm import make_mm

    def factory(kind: str) -> Any:
        return make_mm(kind, layout=layout)

    return factory


# --------------------------------------------------------------------------------------------
# deterministic pass


def _numeric(counters: Any) -> dict[str, float]:
    return {k: v for k, v in dict(counters).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _per_op(before: dict[str, float], after: dict[str, float], ops: int) -> dict[str, float]:
    if ops <= 0:
        raise WorkerError("deterministic pass counted no ops")
    return {f"{k}_per_op": (after[k] - before.get(k, 0)) / ops for k in sorted(after)}


def deterministic_counters(
    workload: LoopWorkload, start_mm: Any, mode: str, tasks: int, *, simulate_tasks: int | None = None
) -> dict[str, float]:
    """Cost counters per op of one cell, measured without timing noise.

    Every task does ``det_warmup_loops`` passes, then the counters are read, then every task
    does ``det_loops`` passes in lockstep (a turnstile: task 0 does one step, then task 1, ...).

    Processes mode: each task would run on its own identical ``fork()`` of ``start_mm`` and
    share nothing with the others, so every task's counts are the same; the pass runs
    ``simulate_tasks`` (default 1) of them in this thread on their own forks.
    Threads mode: ``tasks`` real threads on ``start_mm`` itself (so per-thread state such as
    the legacy vmacache stays per thread), handing the turn on through semaphores, after
    ``maple.mm.history.start_task_threads`` gave each its glibc thread stack.
    """
    spl = workload.steps_per_loop
    warm = workload.det_warmup_loops * spl
    steps = workload.det_loops * spl
    if mode == "processes":
        n = simulate_tasks or 1
        mms = [start_mm.fork() for _ in range(n)]
        states = [workload.setup(m, i) for i, m in enumerate(mms)]
        loop = workload.loop
        for _ in range(warm):
            for m, s in zip(mms, states):
                loop(m, s)
        before = [_numeric(m.counters) for m in mms]
        ops = 0
        for _ in range(steps):
            for m, s in zip(mms, states):
                ops += loop(m, s)
        after = [_numeric(m.counters) for m in mms]
        total_before: dict[str, float] = {}
        total_after: dict[str, float] = {}
        for b, a in zip(before, after):
            for k, v in a.items():
                total_after[k] = total_after.get(k, 0) + v
                total_before[k] = total_before.get(k, 0) + b.get(k, 0)
        return _per_op(total_before, total_after, ops)
    if mode == "threads":
        from maple.mm.history import start_task_threads

        start_task_threads(start_mm, tasks)  # the task threads' stacks, as pthread_create
        return _lockstep_threads(workload, start_mm, tasks, warm, steps)
    raise InputError(f"unknown mode '{mode}'")


def _lockstep_threads(workload: LoopWorkload, mm: Any, tasks: int, warm: int, steps: int) -> dict[str, float]:
    turns = [threading.Semaphore(0) for _ in range(tasks + 1)]  # turns[tasks] is this thread's
    ops = [0] * tasks
    errors: list[str] = []
    abort = threading.Event()

    def body(i: int) -> None:
        mine, nxt = turns[i], turns[i + 1]
        try:
            mine.acquire()
            if abort.is_set():
                return
            state = workload.setup(mm, i)
            nxt.release()
            loop = workload.loop
            for r in range(warm + steps):
                mine.acquire()
                if abort.is_set():
                    return
                n = loop(mm, state)
                if r >= warm:
                    ops[i] += n
                nxt.release()
        except BaseException:
            errors.append(f"task {i} (threads, deterministic pass):\n{traceback.format_exc()}")
            abort.set()
            for t in turns:
                t.release()

    threads = [threading.Thread(target=body, args=(i,), name=f"det-{i}", daemon=True) for i in range(tasks)]
    for t in threads:
        t.start()
    done = turns[tasks]
    before: dict[str, float] = {}
    try:
        for r in range(warm + steps + 1):  # round 0 is setup
            if r == warm + 1:
                before = _numeric(mm.counters)
            turns[0].release()
            done.acquire()
            if abort.is_set():
                break
        after = _numeric(mm.counters)
    finally:
        abort.set()
        for t in turns:
            t.release()
        for t in threads:
            t.join(5.0)
    if errors:
        raise WorkerError(errors[0])
    return _per_op(before, after, sum(ops))


# --------------------------------------------------------------------------------------------
# the run


class Runner:
    """Runs every cell of a ``RunConfig`` and writes rows through a ``RunWriter``.

    ``run()`` returns the final status: ``complete``, ``failed`` (``self.error`` holds the
    task's traceback) or ``interrupted`` (KeyboardInterrupt). Each row goes to the writer as
    soon as its sample is taken (loop cells: ``ops``, ``min``, ``max`` in ops/s of the sample's
    window, the raw ``count`` and the window in ``seconds``); a write that fails (a full disk)
    ends the run ``failed`` with ``error`` naming the file.
    """

    def __init__(
        self,
        config: RunConfig,
        writer: Any,
        *,
        progress: Progress | None = None,
        mm_factory: Callable[[str], Any] | None = None,
        workloads: dict[str, Workload] | None = None,
    ) -> None:
        """``mm_factory(kind)`` builds a starting mm (default: ``make_mm(kind, layout=...)``);
        ``workloads`` supplies ready instances by name instead of the registry's."""
        provided = dict(workloads or {})
        config.validate(provided=provided)
        self.config = config
        self.writer = writer
        self.progress = progress or _NoProgress()
        self.layout = config.layout
        if mm_factory is None:
            if self.layout is None:
                self.layout = default_layout()
            mm_factory = default_mm_factory(self.layout)
        self.mm_factory = mm_factory
        self.error: str | None = None
        #: replays that parted from their trace (``divergences`` of a timed iteration)
        self.divergences: list[dict[str, Any]] = []
        self._workloads: dict[str, Workload] = provided
        for name in config.workloads:
            self.workload(name)  # bad params (a bad --trace file) surface before anything runs
        #: the model clock's cost profile, read once: meta.json and every model cell use it
        self.profile: Any = None
        if config.clock == "model":
            from maple.clock.profile import load_profile

            self.profile = load_profile(config.profile)
        self.host_build: Any = None
        if HOST in config.mms:
            from maple.host import compiler

            self.host_build = compiler.build()  # no compiler: InputError before anything is written
        if config.scheduler is not None:
            from maple.bench.parallel import check_scheduler

            check_scheduler(config.scheduler)  # unreachable: InputError before anything is written

    def workload(self, name: str) -> Workload:
        if name not in self._workloads:
            from maple import workloads

            cls = workloads.workload_class(name)
            self._workloads[name] = cls(**self.config.params_for(cls))
        return self._workloads[name]

    def cell_ticks(self, cell: Cell) -> int:
        """Progress ticks one cell makes (one per sample, warm-up included)."""
        c = self.config
        loop = self.workload(cell.workload).kind == "loop"
        return c.timing(cell.mm)[0] + c.samples if loop else c.samples

    def ticks(self) -> int:
        """Progress ticks the whole run will make."""
        return sum(self.cell_ticks(cell) for cell in self.config.cells())

    def estimate_seconds(self) -> float:
        """Real seconds the run's loop cells will spend sampling (see ``RunConfig``)."""
        return self.config.estimate_seconds({n: self.workload(n).kind for n in self.config.workloads})

    def run(self) -> str:
        """Run every cell; each row goes to the writer as soon as its sample is taken."""
        cells = self.config.cells()
        status = "complete"
        try:
            if self.config.jobs > 1 or self.config.scheduler:
                from maple.bench.parallel import run_parallel

                run_parallel(self, cells)
                return status
            for index, cell in enumerate(cells):
                self.progress.cell(index, len(cells), cell)
                self.run_cell(cell, _Rows(self.writer))
        except KeyboardInterrupt:
            status = "interrupted"
        except WorkerError as exc:
            status = "failed"
            self.error = str(exc)
        except OSError as exc:  # the results could not be written (a full disk, ...)
            status = "failed"
            self.error = f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}"
        except Exception:
            status = "failed"
            self.error = traceback.format_exc()
        return status

    def run_cell(self, cell: Cell, rows: list[dict[str, Any]]) -> None:
        wl = self.workload(cell.workload)
        key = {"workload": cell.workload, "mm": cell.mm, "mode": cell.mode, "tasks": cell.tasks}
        if isinstance(wl, TimedWorkload):
            self._run_timed(wl, cell, key, rows)
            return
        assert isinstance(wl, LoopWorkload)
        per_op: dict[str, float] = {}
        if self.config.deterministic and cell.mm != HOST:  # no cost counters for a real kernel
            try:
                per_op = deterministic_counters(wl, self.mm_factory(cell.mm), cell.mode, cell.tasks)
            except WorkerError:
                raise
            except Exception:
                raise WorkerError(f"deterministic pass of {cell.label()}:\n{traceback.format_exc()}") from None
        c = self.config
        warm, interval = c.timing(cell.mm)
        with self.sample_source(wl, cell) as source:
            source.start()
            for k, (total, lo, hi, seconds) in enumerate(source.samples(warm + c.samples, interval), 1):
                self.progress.tick(k <= warm)
                if k > warm:
                    rows.append({**key, "sample": k - warm, **throughput(total, lo, hi, seconds), **per_op})

    def sample_source(self, wl: LoopWorkload, cell: Cell) -> SampleSource:
        """The backend that measures a loop cell: the host kernel, the model clock or the wall
        clock over a simulated mm."""
        c = self.config
        if cell.mm == HOST:
            from maple.host.backend import HostPass

            return HostPass(wl, cell.mode, cell.tasks, affinity=c.affinity, build=self.host_build)
        if c.clock == "model":
            from maple.clock.backend import ModelPass

            return ModelPass(wl, self.mm_factory(cell.mm), cell.mode, cell.tasks, config=c, profile=self.profile)
        return TimedPass(wl, self.mm_factory(cell.mm), cell.mode, cell.tasks, affinity=c.affinity)

    def _run_timed(self, wl: TimedWorkload, cell: Cell, key: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        iteration = wl.iteration
        if self.config.clock == "model":
            from maple.clock.timed import model_iteration

            def iteration(kind: str, tasks: int, mode: str) -> dict[str, float]:
                return model_iteration(wl, kind, tasks, mode, config=self.config, profile=self.profile)
        for s in range(1, self.config.samples + 1):
            try:
                result = iteration(cell.mm, cell.tasks, cell.mode)
            except (KeyboardInterrupt, InputError):
                raise
            except Exception:
                raise WorkerError(f"{cell.label()} iteration {s}:\n{traceback.format_exc()}") from None
            self.progress.tick(False)
            if result.get("divergences"):
                self._diverged(cell, s, result["divergences"])
            row = {**key, "sample": s}
            row.update({m: float(result[m]) for m in wl.metrics if m in result})
            row.update({k: v for k, v in sorted(result.items()) if k.endswith("_per_op")})
            rows.append(row)

    def _diverged(self, cell: Cell, sample: int, div: dict[str, Any]) -> None:
        """A trace replay parted from its trace: one warning line on stderr, and the count and
        first few in meta.json (``divergences``: one entry per iteration)."""
        self.divergences.append({"cell": cell.label(), "sample": sample, **div})
        first = div["first"][0] if div.get("first") else ""
        print(f"maplebench: warning: {cell.label()} iteration {sample}: {div['count']} call(s) diverged "
              f"from the trace; first: {first}", file=sys.stderr)
        self.writer.update_meta(divergences=self.divergences)

    def meta(self, argv: Sequence[str] | None = None, name: str | None = None) -> dict[str, Any]:
        """meta.json fields known before the run starts."""
        from maple.bench import sysinfo

        c = self.config
        import socket

        meta: dict[str, Any] = {
            "name": name,
            "argv": list(sys.argv if argv is None else argv),
            "versions": sysinfo.versions(),
            "gil_enabled": sysinfo.gil_enabled(),
            "machine": sysinfo.machine(),
            "start_time": _now(),
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "clock": c.clock,
            "units": dict(UNITS),
            "expect": {
                "cells": [[x.workload, x.mm, x.mode, x.tasks] for x in self.config.cells()],
                "rows_per_cell": c.samples,
            },
            "options": {
                "workloads": list(c.workloads),
                "mm": list(c.mms),
                "mode": list(c.modes),
                "procs": list(c.procs),
                "samples": c.samples,
                "warmup": c.warmup,
                "warmup_samples": c.warmup_samples,
                "interval": c.interval,
                "host_interval": c.timing(HOST)[1],
                "host_warmup_samples": c.timing(HOST)[0],
                "clock": c.clock,
                "affinity": c.affinity,
                "layout": self.layout,
                "params": {k: str(v) for k, v in c.params.items()},
            },
        }
        if c.clock == "model":
            meta["model"] = _model_meta(c, self.profile)
        if HOST in c.mms:  # host cells: the real kernel, CPUs and compiler they ran on
            from maple.host import sysinfo as host_sysinfo

            meta["host"] = host_sysinfo.facts(self.host_build)
        return meta


def _model_meta(c: RunConfig, profile: Any) -> dict[str, Any]:
    """meta.json ``model``: the model clock's ``profile`` (name, provenance) and modeled CPUs."""
    from maple.clock.backend import modeled_cpus

    return {
        "clock": "model",
        "profile": profile.name,
        "profile_spec": c.profile,
        "provenance": dict(profile.provenance),
        "cpus": modeled_cpus(c.cpus),
        "smt": c.smt,
    }


#: The unit of every sample column (meta.json ``units``); counters are counts per op.
UNITS = {
    "ops": "ops/s", "min": "ops/s", "max": "ops/s", "count": "ops", "seconds": "s",
    "user": "s", "syst": "s", "elsp": "s",
}


def throughput(total: int, lo: int, hi: int, seconds: float) -> dict[str, float]:
    """A sample's row fields: ``ops``, ``min``, ``max`` in operations per second (will-it-scale
    reports ops/s; the window's own length divides, whatever the interval), the raw ``count``
    and the window in ``seconds``. ``WorkerError`` for a window that is not a positive time."""
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise WorkerError(f"a sample source gave a window of {seconds!r} seconds")
    return {"ops": total / seconds, "min": lo / seconds, "max": hi / seconds, "count": total, "seconds": seconds}


class _Rows(list):
    """A cell's rows: each appended row is handed to the writer at once (durably appended)."""

    def __init__(self, writer: Any) -> None:
        super().__init__()
        self._writer = writer

    def append(self, row: dict[str, Any]) -> None:
        super().append(row)
        if self._writer is not None:
            self._writer.add_rows([row])


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def finish(writer: Any, status: str, error: str | None = None) -> Any:
    """Stamp the final status (and end time, and error text when failed) on a run folder;
    return what ``writer.finish`` returns (``RunWriter``: the folder that holds the run)."""
    fields: dict[str, Any] = {"end_time": _now()}
    if error:
        fields["error"] = error
    return writer.finish(status, **fields)
