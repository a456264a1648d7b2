"""Fitting a cost profile to host measurements (``maplebench calibrate``).

What is measured: the host backend (``--mm host``: compiled will-it-scale testcases on the
running kernel) gives each cell's throughput; its inverse is the CPU time of one op on one
task, in ns. What is modeled: the same cell on the simulated mm that follows the running
kernel (the ``current`` era) records the events of one op (averaged over the task's steady
cycle, ``programs.record_cycle``). For a cell whose tasks do not contend (one task, or
independent processes) the model's time per op is linear in the costs:
``ns_per_op = sum(events_per_op[e] * cost[e])``. Calibration solves those equations for the
costs with ``scipy.optimize.lsq_linear`` (bounded least squares) on *relative* residuals,
regularised towards the ``prior`` profile (weight ``prior_weight`` per event, relative to the
prior's value) because there are fewer cells than events; bounds keep every cost within
``[prior / spread, prior * spread]``. Events no cell exercises keep the prior's value.

What is fitted (``maplebench calibrate``): host **microbenchmarks** that separate costs
(``MICROBENCHES``: a timed loop of ``getppid`` for the syscall entry alone, brk grow + shrink
in place, mmap + munmap of one untouched page, anonymous first-touch faults, cached-file
shared and private write faults, an mprotect split + merge, mmap + write + munmap of one page),
each modeled by running the same
calls on the ``current`` era's mm; and every will-it-scale testcase with **one task** in both
modes. Both are timed by ``maplebench-micro`` (``maple/host/csrc/microbench.c``) in the
measuring thread's **CPU time** (``CLOCK_THREAD_CPUTIME_ID``), so preemption by other
processes on a shared machine is not counted; each is repeated (``reps``) and the median
used. A cell whose host page-fault count per op (``RUSAGE_THREAD`` minor faults) differs
from the model's ``fault`` events per op by more than ``FAULT_MISMATCH`` is not fitted: the
host then does different work (e.g. several PTEs mapped per fault from a large page-cache
folio) and its time would bend every cost. Two-task cells are never fitted; they validate
(the host agreement: the host backend's wall-clock measurement against the scheduler's
prediction, ``host_agreement``).

**No cost is ever fitted to, or tuned against, the seed's or any published maple-vs-legacy
delta**: the measurements are this machine's kernel only, and only its era's mm is modeled.

Fit-on-half: ``split_half`` puts every other testcase (in ``maple.host.TESTCASES`` order)
into the fitting half (the microbenchmarks always fit); the other half's cells are predicted
with the half-fit profile and their errors reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from maple.clock.profile import CostProfile
from maple.mm.events import EVENTS

__all__ = ["Measurement", "Fit", "fit_profile", "split_half", "events_per_op", "MICROBENCHES", "HostTiming",
           "host_timing", "micro_events", "median", "SCHED_BENCHES", "measure_sched", "Shootdown",
           "measure_shootdown"]


@dataclass(frozen=True)
class Measurement:
    """One cell: the model's events per op and the host's measured ns per op (per task)."""

    label: str
    events: Mapping[str, float]
    ns_per_op: float


@dataclass
class Fit:
    """A fitted profile and how well it explains each measurement."""

    profile: CostProfile
    free: list[str]
    #: (label, measured ns/op, modeled ns/op, relative error)
    residuals: list[tuple[str, float, float, float]] = field(default_factory=list)

    def median_abs_error(self) -> float:
        return median([abs(r[3]) for r in self.residuals])


def events_per_op(calls: Iterable[tuple[str, list[Any], int]]) -> dict[str, float]:
    """Average events per op over a cycle of calls ``(name, segments, ops)``."""
    total: dict[str, float] = {}
    ops = 0
    for _name, segs, n in calls:
        ops += n
        for seg in segs:
            for e, k in seg.events.items():
                total[e] = total.get(e, 0.0) + k
    if ops <= 0:
        raise ValueError("a cycle without ops")
    return {e: v / ops for e, v in total.items()}


def predict(profile: CostProfile, m: Measurement) -> float:
    """Modeled ns per op of ``m`` under ``profile`` (no contention)."""
    return profile.price(m.events)


def fit_profile(
    measurements: Sequence[Measurement],
    prior: CostProfile,
    *,
    name: str = "default",
    provenance: Mapping[str, Any] | None = None,
    prior_weight: float = 0.05,
    spread: float = 20.0,
    free: Sequence[str] | None = None,
) -> Fit:
    """Fit event costs to ``measurements``; returns the profile and every residual.

    ``free``: events to fit (default: every event some measurement has); the rest keep the
    prior. Minimises ``sum(((model - measured) / measured)^2) + prior_weight^2 *
    sum(((cost - prior) / prior)^2)`` with ``prior / spread <= cost <= prior * spread``.
    """
    import numpy as np
    from scipy.optimize import lsq_linear

    if not measurements:
        raise ValueError("no measurements to fit")
    if free is None:
        free = [e for e in EVENTS if any(m.events.get(e, 0) > 0 for m in measurements)]
    free = list(free)
    fixed = {e: prior.costs[e] for e in EVENTS if e not in free}
    rows = []
    rhs = []
    for m in measurements:
        if not m.ns_per_op > 0:
            raise ValueError(f"{m.label}: measured time per op must be positive")
        known = sum(fixed[e] * k for e, k in m.events.items() if e in fixed)
        rows.append([m.events.get(e, 0.0) / m.ns_per_op for e in free])
        rhs.append((m.ns_per_op - known) / m.ns_per_op)
    p0 = np.array([max(prior.costs[e], 1e-3) for e in free])
    # parameters scaled by the prior: x = cost / prior
    a = np.array(rows) * p0
    b = np.array(rhs)
    if prior_weight > 0:
        a = np.vstack([a, prior_weight * np.eye(len(free))])
        b = np.concatenate([b, prior_weight * np.ones(len(free))])
    res = lsq_linear(a, b, bounds=(np.full(len(free), 1.0 / spread), np.full(len(free), spread)),
                     method="bvls", tol=1e-12, lsmr_tol=None)
    costs = dict(prior.costs)
    for e, x, p in zip(free, res.x, p0):
        costs[e] = float(round(x * p, 4))
    profile = CostProfile(name, costs, dict(prior.sched), dict(provenance or {}))
    fit = Fit(profile, free)
    for m in measurements:
        model = predict(profile, m)
        fit.residuals.append((m.label, m.ns_per_op, model, (model - m.ns_per_op) / m.ns_per_op))
    return fit


def split_half(labels: Sequence[str], testcases: Sequence[str]) -> tuple[list[str], list[str]]:
    """The documented half split: cells of testcases at even positions of ``testcases`` fit,
    the others are held out. A label starts with its testcase name and a space."""
    fit_names = set(testcases[0::2])
    fit, held = [], []
    for label in labels:
        (fit if label.split(" ", 1)[0] in fit_names else held).append(label)
    return fit, held


# --------------------------------------------------------------------------------------------
# the measurement campaign behind `maplebench calibrate`

#: the era the running kernel (Linux 6.18 on the project's machine) follows
HOST_ERA = "current"
#: the cells of the host agreement: every host testcase, both modes, 1 and 2 tasks
CAL_MODES = ("processes", "threads")
CAL_TASKS = (1, 2)
#: a fitted cell's host faults per op may differ from the model's by this fraction at most
FAULT_MISMATCH = 0.10


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (NaN for none)."""
    import statistics

    return statistics.median(values) if len(values) else math.nan


@dataclass(frozen=True)
class HostTiming:
    """One ``maplebench-micro`` benchmark: CPU ns per op (median over repetitions), every
    repetition's value, and the thread's minor page faults per op."""

    bench: str
    ns_per_op: float
    reps: tuple[float, ...]
    faults_per_op: float
    wall_reps: tuple[float, ...] = ()  # wall ns per op of each repetition

    @property
    def spread(self) -> float:
        """(max - min) / median of the repetitions."""
        return (max(self.reps) - min(self.reps)) / self.ns_per_op if self.reps else math.nan


def parse_micro_output(bench: str, text: str) -> HostTiming:
    """``rep R ops N cpu_ns T wall_ns W minflt F`` lines -> ``HostTiming``. Raises
    ``ValueError`` for output without a repetition."""
    per_op, faults, wall = [], [], []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 10 and words[0] == "rep" and not words[1].startswith("-"):
            ops = int(words[3])
            if ops > 0:
                per_op.append(int(words[5]) / ops)
                wall.append(int(words[7]) / ops)
                faults.append(int(words[9]) / ops)
    if not per_op:
        raise ValueError(f"maplebench-micro -b {bench}: no measurement in its output")
    return HostTiming(bench, median(per_op), tuple(per_op), median(faults), tuple(wall))


def host_timing(bench: str, *, reps: int = 7, min_ms: float = 20.0, cpu: int | None = None,
                threaded: bool = False) -> HostTiming:
    """Run ``maplebench-micro -b bench`` (a ``MICROBENCHES`` name or ``wis:TESTCASE:MODE``;
    ``threaded``: a microbenchmark in a second thread, ``-T``). Raises ``InputError`` when the
    binary cannot be built, ``RuntimeError`` when it fails."""
    import subprocess

    from maple.host import compiler

    build = compiler.build("micro")
    argv = [str(build.binary), "-b", bench, "-r", str(reps), "-m", str(int(min_ms * 1e6))]
    if cpu is not None:
        argv += ["-c", str(cpu)]
    if threaded:
        argv.append("-T")
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"maplebench-micro -b {bench}: exit status {done.returncode}: {done.stderr.strip()}")
    return parse_micro_output(bench, done.stdout)


#: scheduler parameter <- the ``maplebench-micro`` benchmark that measures it (wall time, one
#: way of a ping-pong between two threads; the fastest repetition, the one least disturbed by
#: other processes): a cache line bounced between CPUs 0 and 1; a futex wake-up of a thread
#: sleeping on the other (idle) CPU, its wake and wait calls included; the same ping-pong on
#: one CPU (a context switch, its futex calls included)
SCHED_BENCHES: dict[str, str] = {
    "cacheline_ns": "cacheline",
    "wakeup_ns": "wakeup",
    "context_switch_ns": "switch",
}


def measure_sched(*, reps: int = 21, echo: Any = print) -> dict[str, float]:
    """The scheduler parameters of ``SCHED_BENCHES`` measured on the host (ns), or {} on a
    machine with fewer than two CPUs (the prior's values stay)."""
    import os

    if (os.cpu_count() or 1) < 2:
        echo("  one CPU: scheduler parameters keep the prior's values")
        return {}
    out = {}
    for param, bench in SCHED_BENCHES.items():
        t = host_timing(bench, reps=reps)
        best = min(t.wall_reps)
        out[param] = round(best, 1)
        echo(f"  sched {param:<22} {best:10.1f} ns  (maplebench-micro -b {bench}: fastest of {len(t.wall_reps)}, "
             f"median {median(t.wall_reps):.1f})")
    return out


@dataclass(frozen=True)
class Shootdown:
    """A TLB flush's cost when other tasks share the mm, measured (CPU ns per op, medians of
    ``maplebench-micro -b unmap_touched`` run three ways, the measuring thread on CPU 0).

    ``alone``: a single-threaded process; ``sleeping``: the benchmark in a second thread while
    the main thread sleeps in ``pthread_join`` (``-T``: the mm has another user, but its CPU
    runs it lazily at most, and x86's ``flush_tlb_mm_range`` skips lazy CPUs since v5.11's
    ``should_flush_tlb``); ``spinning``: a peer thread of the mm spins in user space on CPU 1
    (``-b shootdown``): every munmap's flush interrupts it (``flush_tlb_multi``, waiting for
    the IPI's acknowledgement).
    """

    alone: float
    sleeping: float
    spinning: float

    @property
    def tlb_shootdown(self) -> float:
        """The ``tlb_shootdown`` event's price: a flush with other users but no other CPU
        running the mm (``sleeping - alone``, at least 0)."""
        return max(0.0, self.sleeping - self.alone)

    @property
    def ipi_ns(self) -> float:
        """The scheduler's ``ipi_ns``: what each other CPU running the mm adds to the sender
        (``spinning - sleeping``, at least 0)."""
        return max(0.0, self.spinning - self.sleeping)


def measure_shootdown(*, reps: int = 7, min_ms: float = 20.0, echo: Any = print) -> Shootdown | None:
    """``Shootdown`` measured on the host, or None on a machine with fewer than two CPUs (the
    prior's ``tlb_shootdown`` and ``ipi_ns`` stay). Raises as ``host_timing``."""
    import os

    if (os.cpu_count() or 1) < 2:
        echo("  one CPU: tlb_shootdown and ipi_ns keep the prior's values")
        return None
    alone = host_timing("unmap_touched", reps=reps, min_ms=min_ms, cpu=0).ns_per_op
    sleeping = host_timing("unmap_touched", reps=reps, min_ms=min_ms, cpu=0, threaded=True).ns_per_op
    spinning = host_timing("shootdown", reps=reps, min_ms=min_ms).ns_per_op
    sd = Shootdown(alone, sleeping, spinning)
    echo(f"  tlb flush of one touched page: alone {alone:.1f}, another user sleeping {sleeping:.1f}, another "
         f"running on CPU 1 {spinning:.1f} CPU ns per op (maplebench-micro -b unmap_touched [-T], -b shootdown; "
         f"medians of {reps}) -> tlb_shootdown {sd.tlb_shootdown:.1f} ns, ipi_ns {sd.ipi_ns:.1f}")
    return sd


# -- microbenchmarks: the same calls on the simulated mm (the model side) -----------------

class _Micro:
    """A microbenchmark's calls as a loop workload for ``programs.record_cycle``."""

    steps_per_loop = 1
    det_warmup_loops = 2

    def __init__(self, name: str, description: str) -> None:
        self.name = name
        self.description = description


class _Brk(_Micro):
    def setup(self, mm: Any, task: int) -> int:
        return mm.brk(0)

    def loop(self, mm: Any, base: int) -> int:
        from maple.linux import PAGE_SIZE

        mm.brk(base + PAGE_SIZE)
        mm.brk(base)
        return 1


class _MmapPage(_Micro):
    def setup(self, mm: Any, task: int) -> None:
        return None

    def loop(self, mm: Any, state: Any) -> int:
        from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE

        addr = mm.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        mm.munmap(addr, PAGE_SIZE)
        return 1


MICRO_PAGES = 256  # microbench.c's MICRO_PAGES: 1 MiB regions


class _Touch(_Micro):
    """mmap 1 MiB (anonymous, or a cached file shared/private), write each page, munmap."""

    def __init__(self, name: str, description: str, kind: str) -> None:
        super().__init__(name, description)
        self.kind = kind

    def _flags(self) -> int:
        from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED

        return {"anon": MAP_PRIVATE | MAP_ANONYMOUS, "shared": MAP_SHARED, "private": MAP_PRIVATE}[self.kind]

    def _pass(self, mm: Any, file: Any, flags: int) -> None:
        from maple.linux import PAGE_SIZE, PROT_READ, PROT_WRITE

        size = MICRO_PAGES * PAGE_SIZE
        addr = mm.mmap(0, size, PROT_READ | PROT_WRITE, flags, file, 0)
        for k in range(MICRO_PAGES):
            mm.fault(addr + k * PAGE_SIZE, write=True)
        mm.munmap(addr, size)

    def setup(self, mm: Any, task: int) -> Any:
        if self.kind == "anon":
            return None
        from maple.linux import MAP_SHARED
        from maple.mm import File

        file = File("/tmp/maplebench-micro (deleted)", inode=999)
        self._pass(mm, file, MAP_SHARED)  # brings the file's pages into the page cache
        return file

    def loop(self, mm: Any, file: Any) -> int:
        self._pass(mm, file, self._flags())
        return MICRO_PAGES


class _UnmapTouched(_Micro):
    def setup(self, mm: Any, task: int) -> None:
        return None

    def loop(self, mm: Any, state: Any) -> int:
        from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE

        addr = mm.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        mm.fault(addr, write=True)
        mm.munmap(addr, PAGE_SIZE)
        return 1


class _Mprotect(_Micro):
    def setup(self, mm: Any, task: int) -> int:
        from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE

        return mm.mmap(0, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)

    def loop(self, mm: Any, region: int) -> int:
        from maple.linux import PAGE_SIZE, PROT_READ, PROT_WRITE

        mm.mprotect(region + PAGE_SIZE, PAGE_SIZE, PROT_READ)
        mm.mprotect(region + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE)
        return 1


#: name -> its simulated counterpart (None: ``getppid``, whose path is the syscall entry and
#: exit alone: one ``syscall`` event). Names and semantics are microbench.c's.
MICROBENCHES: dict[str, Any] = {
    "getppid": None,
    "brk": _Brk("brk", "brk grow + shrink of one page on the own heap (in place)"),
    "mmap_page": _MmapPage("mmap_page", "mmap + munmap of one anonymous page, untouched"),
    "anon_fault": _Touch("anon_fault", "1 MiB anonymous: mmap, write each page, munmap (op = page)", "anon"),
    "file_shared_fault": _Touch("file_shared_fault", "1 MiB cached file, shared: mmap, write each page, munmap",
                                "shared"),
    "file_private_fault": _Touch("file_private_fault", "1 MiB cached file, private: mmap, write each page (COW), "
                                 "munmap", "private"),
    "mprotect": _Mprotect("mprotect", "mprotect one page of three read-only (split), then back (merge)"),
    "unmap_touched": _UnmapTouched("unmap_touched", "mmap + write + munmap of one anonymous page (one fault, "
                                   "one zap, one TLB flush)"),
}


#: the layouts the measuring process really has (``maple.mm.history``, recorded from
#: ``maplebench-micro`` itself by scripts/record_history.py): a microbenchmark runs after
#: ``micro_setup`` in the micro's main thread; with ``-T`` in a second thread (its
#: ``pthread_create`` and the thread's ``micro_setup`` recorded); a ``wis:`` cell's task is a
#: fork, or a thread (``pthread_create``), of the micro's start-up state
MICRO_LAYOUT = "maplebench-micro"
MICRO_THREADED_LAYOUT = "maplebench-micro-threaded"
MICRO_WIS_LAYOUT = "maplebench-micro-wis"


def micro_events(name: str, layout: str | None = None, *, threaded: bool = False) -> dict[str, float]:
    """Events per op of microbenchmark ``name`` on a fresh ``current``-era mm starting as the
    measuring process does: ``layout`` (default: the micro's own history,
    ``MICRO_LAYOUT``, or ``MICRO_THREADED_LAYOUT`` for ``-T``, the benchmark in a second
    thread while the main thread sleeps in ``pthread_join``: one running user)."""
    from maple.clock.programs import record_cycle
    from maple.mm import make_mm

    wl = MICROBENCHES[name]
    if wl is None:
        return {"syscall": 1.0}
    if layout is None:
        layout = MICRO_THREADED_LAYOUT if threaded else MICRO_LAYOUT
    return events_per_op(record_cycle(wl, make_mm(HOST_ERA, layout=layout)).calls)


def model_events(workload: Any, mode: str, layout: str | None = None) -> dict[str, float]:
    """Events per op of one task of the cell on the host era's mm: ``layout`` (default:
    ``MICRO_WIS_LAYOUT``, the micro's state where its ``wis:`` cells start their task), then a
    fork (processes) or ``start_task_threads`` (threads: glibc's ``pthread_create``)."""
    from maple.clock.programs import record_cycle
    from maple.mm import make_mm
    from maple.mm.history import start_task_threads

    mm = make_mm(HOST_ERA, layout=layout or MICRO_WIS_LAYOUT)
    if mode == "processes":
        target = mm.fork()
    else:
        start_task_threads(mm, 1)
        target = mm
    return events_per_op(record_cycle(workload, target).calls)


#: a one-task threads cell of these testcases is not fitted when the host's brk in a
#: multi-threaded mm costs more than ``BRK_MT_LIMIT`` times the single-threaded brk while the
#: model's events (priced by the prior profile) do not show such a difference (within
#: ``BRK_MT_LIMIT`` too): then the host does work the model has no event for. Since the
#: history layouts, the model's ``-T`` brk records the host's spanning stores, and the rule
#: no longer excludes anything where it does.
BRK_MT_TESTCASES = ("brk1", "brk2")
BRK_MT_LIMIT = 1.5


def brk_mt_ratios(host_brk: float, host_brk_mt: float, prior: CostProfile) -> tuple[float, float]:
    """(host, model) ratios of brk in a multi-threaded mm (``-T``) to the single-threaded
    brk: the host's measured CPU ns, the model's events priced by ``prior``."""
    single = predict(prior, Measurement("brk", micro_events("brk"), 1.0))
    multi = predict(prior, Measurement("brk -T", micro_events("brk", threaded=True), 1.0))
    return host_brk_mt / host_brk, multi / single


@dataclass
class Bench:
    """One fitted measurement: a microbenchmark or a one-task testcase cell."""

    label: str
    timing: HostTiming
    events: dict[str, float]
    testcase: str | None = None  # None: a microbenchmark (always in the fitting half)
    unmodeled: str = ""  # why the host does work the model has no event for ("": none known)

    @property
    def model_faults(self) -> float:
        return self.events.get("fault", 0.0)

    @property
    def faults_match(self) -> bool:
        """The host did the modeled page faults (within ``FAULT_MISMATCH``)."""
        host, model = self.timing.faults_per_op, self.model_faults
        if model == 0:
            return host <= FAULT_MISMATCH
        return abs(host - model) <= FAULT_MISMATCH * model

    @property
    def why_not(self) -> str:
        """Why the measurement is not fitted ("" when it is)."""
        if not self.faults_match:
            return (f"host {self.timing.faults_per_op:.3f} page faults per op, model {self.model_faults:.3f}")
        return self.unmodeled

    @property
    def fits(self) -> bool:
        return not self.why_not

    def measurement(self) -> Measurement:
        return Measurement(self.label, self.events, self.timing.ns_per_op)


def measure_benches(testcases: Sequence[str], *, layout: str | None = None, reps: int = 7, min_ms: float = 20.0,
                    cpu: int | None = None, echo: Any = print, prior: CostProfile | None = None) -> list[Bench]:
    """Every microbenchmark and every one-task testcase cell (both modes), host and model.
    ``layout`` overrides the micro's own history layouts (``MICRO_*_LAYOUT``) for the model
    side; ``prior`` prices the model's brk -T vs brk ratio (default: the ``prior`` profile)."""
    from maple import workloads as registry
    from maple.clock.profile import load_profile

    out = []
    for name in MICROBENCHES:
        t = host_timing(name, reps=reps, min_ms=min_ms, cpu=cpu)
        out.append(Bench(name, t, micro_events(name, layout)))
        echo(f"  micro {name:<28} {t.ns_per_op:10.1f} ns/op  (spread {t.spread * 100:4.1f}%, "
             f"faults/op {t.faults_per_op:.3f})")
    brk = next(b.timing for b in out if b.label == "brk")
    brk_mt = host_timing("brk", reps=reps, min_ms=min_ms, cpu=cpu, threaded=True)
    ratio, model_ratio = brk_mt_ratios(brk.ns_per_op, brk_mt.ns_per_op, prior or load_profile("prior"))
    echo(f"  brk in a multi-threaded mm (maplebench-micro -b brk -T): {brk_mt.ns_per_op:.1f} ns/op, "
         f"{ratio:.2f}x the single-threaded brk on the host; model {model_ratio:.2f}x (prior costs)")
    unmodeled = ratio > BRK_MT_LIMIT and model_ratio <= BRK_MT_LIMIT
    for tc in testcases:
        for mode in CAL_MODES:
            t = host_timing(f"wis:{tc}:{mode}", reps=reps, min_ms=min_ms, cpu=cpu)
            b = Bench(f"{tc} {mode} 1", t, model_events(registry.get(tc), mode, layout), tc)
            if mode == "threads" and tc in BRK_MT_TESTCASES and unmodeled:
                b.unmodeled = (f"brk in a multi-threaded mm costs {ratio:.2f}x on the host "
                               f"(microbench brk -T vs brk), {model_ratio:.2f}x in the model")
            out.append(b)
            echo(f"  cell  {b.label:<28} {t.ns_per_op:10.1f} ns/op  (spread {t.spread * 100:4.1f}%, "
                 f"faults/op host {t.faults_per_op:.3f} model {b.model_faults:.3f})")
    return out


# -- host agreement: the host backend's cells against the model clock -----------------------

@dataclass
class CellData:
    """One host-agreement cell: the host backend's throughput per task."""

    label: str
    workload: str
    mode: str
    tasks: int
    host_ops_per_s: float  # per task, best window of the samples
    windows: tuple[float, ...] = ()
    cpu_ops_per_s: float = 0.0  # per second of the tasks' CPU time


def hmean(values: Sequence[float]) -> float:
    vals = [v for v in values if v > 0]
    return len(vals) / sum(1.0 / v for v in vals) if vals else 0.0


def _task_cpu_ns(pid: int, mode: str) -> int:
    """CPU ns the harness ``pid``'s tasks have run (``/proc/.../schedstat``, first field):
    its threads (threads mode), or its children (processes mode)."""
    from pathlib import Path

    total = 0
    if mode == "threads":
        paths = list(Path(f"/proc/{pid}/task").glob("*/schedstat"))
    else:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        paths = [Path(f"/proc/{k}/schedstat") for k in kids]
    for path in paths:
        try:
            total += int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def host_rate(workload: Any, mode: str, tasks: int, *, samples: int, interval: float, warmup: int
              ) -> tuple[float, tuple[float, ...], float]:
    """The host backend's ops/s per task: the best of ``samples`` windows (the window least
    disturbed by other processes on a shared machine), every window's rate, and the ops per
    second of the tasks' own CPU time over all measured windows (per task: what a task
    completes per second it runs; None-free: 0.0 if /proc gave no CPU time)."""
    from maple.host.backend import HostPass

    rates = []
    ops = 0
    cpu0 = cpu1 = 0
    with HostPass(workload, mode, tasks) as source:
        source.start()
        pid = source.proc.pid if source.proc is not None else 0
        if warmup == 0 and pid:
            cpu0 = _task_cpu_ns(pid, mode)
        for k, (total, _lo, _hi, seconds) in enumerate(source.samples(warmup + samples, interval)):
            if k + 1 == warmup and pid:
                cpu0 = _task_cpu_ns(pid, mode)
            if k >= warmup:
                rates.append(total / seconds / tasks)
                ops += total
        if pid:
            cpu1 = _task_cpu_ns(pid, mode)
    cpu_rate = ops / ((cpu1 - cpu0) / 1e9) if cpu1 > cpu0 else 0.0
    return max(rates), tuple(rates), cpu_rate


def model_rate(workload: Any, mode: str, tasks: int, profile: CostProfile, layout: str | None,
               cpus: int) -> float:
    """The model clock's ops/s per task for the cell (the scheduler; three 20 ms windows after
    a discarded one; their Hmean)."""
    from maple.clock.backend import ModelPass
    from maple.mm import make_mm

    with ModelPass(workload, make_mm(HOST_ERA, layout=layout), mode, tasks, profile=profile) as mp:
        mp.cpus = cpus
        mp.start()
        got = list(mp.samples(4, 0.02))[1:]
    return hmean([total / seconds / tasks for total, _lo, _hi, seconds in got])


def measure(workloads: Sequence[str], *, samples: int = 5, interval: float = 0.2, warmup: int = 1,
            echo: Any = print) -> list[CellData]:
    """The host backend's measurement of every host-agreement cell."""
    from maple import workloads as registry

    cells = []
    for name in workloads:
        wl = registry.get(name)
        for mode in CAL_MODES:
            for tasks in CAL_TASKS:
                label = f"{name} {mode} {tasks}"
                rate, windows, cpu_rate = host_rate(wl, mode, tasks, samples=samples, interval=interval,
                                                    warmup=warmup)
                echo(f"  host {label:<26} {rate:14.1f} ops/s per task (best of {len(windows)}), "
                     f"{cpu_rate:14.1f} per task CPU-second")
                cells.append(CellData(label, name, mode, tasks, rate, windows, cpu_rate))
    return cells


def host_agreement(cells: Sequence[CellData], profile: CostProfile, *, layout: str | None, cpus: int
                   ) -> list[tuple[str, float, float, float, float]]:
    """``(label, host ops/s per task, model ops/s per task, relative error, relative error
    against the host's ops per task CPU-second)`` per cell."""
    from maple import workloads as registry

    out = []
    for c in cells:
        model = model_rate(registry.get(c.workload), c.mode, c.tasks, profile, layout, cpus)
        cpu_err = (model - c.cpu_ops_per_s) / c.cpu_ops_per_s if c.cpu_ops_per_s > 0 else math.nan
        out.append((c.label, c.host_ops_per_s, model, (model - c.host_ops_per_s) / c.host_ops_per_s, cpu_err))
    return out
