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

Threads cells with two tasks are not fitted (they contend on the lock model); they validate:
``maplebench calibrate`` prints the scheduler's prediction of every cell beside the
measurement. (Two processes on a loaded 2-CPU host measure the CPU share other load leaves
them: calibrate on a quiet machine.)

**No cost is ever fitted to, or tuned against, the seed's or any published maple-vs-legacy
delta**: the measurements are this machine's kernel only, and only its era's mm is modeled.

Fit-on-half: ``split_half`` puts every other testcase (in ``maple.host.TESTCASES`` order)
into the fitting half; the other half's cells are predicted with the half-fit profile and
their errors reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from maple.clock.profile import CostProfile
from maple.mm.events import EVENTS

__all__ = ["Measurement", "Fit", "fit_profile", "split_half", "events_per_op"]


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
        errs = sorted(abs(r[3]) for r in self.residuals)
        if not errs:
            return math.nan
        mid = len(errs) // 2
        return errs[mid] if len(errs) % 2 else (errs[mid - 1] + errs[mid]) / 2


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
    return sum(profile.costs[e] * k for e, k in m.events.items())


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
#: the cells calibration measures: every host testcase, both modes, 1 and 2 tasks
CAL_MODES = ("processes", "threads")
CAL_TASKS = (1, 2)


@dataclass
class CellData:
    """One calibration cell: host throughput per task and the model's events per op."""

    label: str
    workload: str
    mode: str
    tasks: int
    host_ops_per_s: float  # per task, Hmean over the samples
    events: dict[str, float]

    @property
    def linear(self) -> bool:
        """Fitted: no lock contention (one task, or processes with their own mms), so the
        model's time per op is linear in the costs."""
        return self.tasks == 1 or self.mode == "processes"


def hmean(values: Sequence[float]) -> float:
    vals = [v for v in values if v > 0]
    return len(vals) / sum(1.0 / v for v in vals) if vals else 0.0


def host_rate(workload: Any, mode: str, tasks: int, *, samples: int, interval: float, warmup: int) -> float:
    """The host backend's ops/s per task (Hmean of the samples' rates)."""
    from maple.host.backend import HostPass

    with HostPass(workload, mode, tasks) as source:
        source.start()
        got = list(source.samples(warmup + samples, interval))[warmup:]
    return hmean([total / seconds / tasks for total, _lo, _hi, seconds in got])


def model_events(workload: Any, mode: str, layout: str | None) -> dict[str, float]:
    """Events per op of one task of the cell on the host era's mm (processes: a fork)."""
    from maple.clock.programs import record_cycle
    from maple.mm import make_mm

    mm = make_mm(HOST_ERA, layout=layout)
    target = mm.fork() if mode == "processes" else mm
    return events_per_op(record_cycle(workload, target).calls)


def model_rate(workload: Any, mode: str, tasks: int, profile: CostProfile, layout: str | None,
               cpus: int) -> float:
    """The model clock's ops/s per task for the cell (the scheduler; two 20 ms windows after a
    discarded one, long enough for page-fault steps of 512 pages)."""
    from maple.clock.backend import ModelPass
    from maple.mm import make_mm

    with ModelPass(workload, make_mm(HOST_ERA, layout=layout), mode, tasks, profile=profile) as mp:
        mp.cpus = cpus
        mp.start()
        got = list(mp.samples(3, 0.02))[1:]
    return hmean([total / seconds / tasks for total, _lo, _hi, seconds in got])


def measure(workloads: Sequence[str], *, samples: int = 3, interval: float = 0.5, warmup: int = 1,
            layout: str | None = None, echo: Any = print) -> list[CellData]:
    """Host measurements and model events for every calibration cell."""
    from maple import workloads as registry

    cells = []
    for name in workloads:
        wl = registry.get(name)
        for mode in CAL_MODES:
            events = model_events(registry.get(name), mode, layout)
            for tasks in CAL_TASKS:
                label = f"{name} {mode} {tasks}"
                rate = host_rate(wl, mode, tasks, samples=samples, interval=interval, warmup=warmup)
                echo(f"  host {label:<26} {rate:14.1f} ops/s per task")
                cells.append(CellData(label, name, mode, tasks, rate, events))
    return cells


def to_measurements(cells: Sequence[CellData]) -> list[Measurement]:
    return [Measurement(c.label, c.events, 1e9 / c.host_ops_per_s) for c in cells if c.linear and c.host_ops_per_s > 0]
