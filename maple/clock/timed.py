"""kernbench and trace replays under the model clock: ``user``, ``syst`` and ``elsp``.

The trace is replayed once on mms of the cell's kind with event recording on (``Replay.step``
per trace event, ``maple.trace.replay``); every event's recorded segments, priced by the
profile, are that event's modeled kernel time: the whole path (entry, locking, VMA and
anon_vma work, the index, page tables, page zeroing, TLB flushes, fork's copies, exit), not
only the index code. Then:

* ``syst``: the modeled kernel time of every replayed call and fault, summed (seconds);
* ``user``: the trace's own time between calls (its ``us`` field), summed (seconds, not
  scaled: virtual time needs no shrinking);
* ``elsp``: the jobs (``maple.trace.jobs.split_jobs``: each top-level child of the root and
  its descendants) run as ``make -jN`` does with N = the cell's task count, on ``--cpus``
  modeled CPUs: at most N jobs at once, in trace order, each job's user + syst time being
  CPU work; when more jobs run than CPUs they share the CPUs equally (processor sharing).
  The root's own kernel time (make's calls) is added serially; its user time (mostly waiting
  for the jobs) is not.

Processes and threads modes give the same numbers (the replayed processes have their own
mms either way). Every iteration is identical: a model-clock timed cell has zero variance.
What is not recorded: the mapping of a fresh mm's execve-time layout (built before recording
can be switched on for it).
"""

from __future__ import annotations

from typing import Any

from maple.clock.backend import modeled_cpus
from maple.clock.profile import CostProfile, load_profile

__all__ = ["model_iteration", "replay_costs", "makespan"]

#: (trace id, kind, fault model, costs) -> (the trace, replay_costs of it): a replay is priced once per run
_CACHE: dict[tuple, tuple[Any, dict[str, Any]]] = {}


def replay_costs(trace: Any, split: Any, kind: str, profile: CostProfile, *, faults: Any = None) -> dict[str, Any]:
    """Replay ``trace`` on mms of ``kind``; modeled kernel ns and trace user us per job.

    Returns ``{"job_syst_ns": [...], "job_user_us": [...], "root_syst_ns", "root_user_us",
    "calls", "counters"}`` (jobs in ``split`` order).
    """
    from maple.trace.jobs import ROOT
    from maple.trace.replay import Replay, describe
    from maple.workloads.trace import DIVERGENCES_KEPT

    r = Replay(trace, kind, faults=faults)
    njobs = split.njobs
    syst = [0.0] * njobs
    user = [0.0] * njobs
    root_syst = 0.0
    root_user = 0.0
    job_of = split.job_of
    price = profile.price
    for sp in r.tasks.values():
        sp.mm.events.enabled = True
    for i, ev in enumerate(trace.events):
        before = {id(sp.mm): sp.mm for sp in r.tasks.values()}
        r.step(i, ev, True)
        mms = dict(before)
        for sp in r.tasks.values():
            mm = sp.mm
            if id(mm) not in mms:
                mms[id(mm)] = mm
            mm.events.enabled = True
        ns = 0.0
        for mm in mms.values():
            for seg in mm.events.take():
                ns += price(seg.events)
        j = job_of[i]
        if j == ROOT:
            root_syst += ns
            root_user += ev[2]
        else:
            syst[j] += ns
            user[j] += ev[2]
    live = {id(sp.mm): sp.mm for sp in r.tasks.values()}
    r.finish()
    tail = 0.0
    for mm in live.values():
        for seg in mm.events.take():
            tail += price(seg.events)
    root_syst += tail
    diverged = {"count": r.stats["diverged"],
                "first": [describe(ev, why) for ev, why in r.divergences[:DIVERGENCES_KEPT]]}
    return {"job_syst_ns": syst, "job_user_us": user, "root_syst_ns": root_syst, "root_user_us": root_user,
            "calls": r.stats["syscalls"] + r.stats["faults"], "counters": dict(r.counters),
            "divergences": diverged}


def makespan(work_s: list[float], slots: int, cpus: int) -> float:
    """Seconds to run jobs of ``work_s`` CPU seconds in order, at most ``slots`` at once, on
    ``cpus`` CPUs shared equally when more jobs run than CPUs."""
    pending = list(work_s)
    running: list[float] = []  # remaining work of running jobs
    t = 0.0
    while pending or running:
        while pending and len(running) < slots:
            running.append(pending.pop(0))
        rate = min(1.0, cpus / len(running))
        dt = min(running) / rate
        t += dt
        running = [w - dt * rate for w in running]
        running = [w for w in running if w > 1e-15]
    return t


def model_iteration(wl: Any, kind: str, tasks: int, mode: str, *, config: Any = None,
                    profile: CostProfile | None = None) -> dict[str, float]:
    """One kernbench/trace iteration on the model clock (see the module docstring); ``profile``
    (default: the one ``config`` names) prices it."""
    profile = profile or load_profile(getattr(config, "profile", None))
    cpus = modeled_cpus(getattr(config, "cpus", None))
    faults = wl.opts.get("faults")
    key = (id(wl.trace), kind, faults, tuple(sorted(profile.costs.items())))
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is wl.trace:  # the id of a trace since freed can come back
        costs = hit[1]
    else:
        costs = replay_costs(wl.trace, wl.split, kind, profile, faults=faults)
        _CACHE[key] = (wl.trace, costs)
    work = [(s * 1e-9 + u * 1e-6) for s, u in zip(costs["job_syst_ns"], costs["job_user_us"])]
    syst = (sum(costs["job_syst_ns"]) + costs["root_syst_ns"]) * 1e-9
    user = (sum(costs["job_user_us"]) + costs["root_user_us"]) * 1e-6
    elsp = makespan(work, max(1, tasks), cpus) + costs["root_syst_ns"] * 1e-9
    out: dict[str, Any] = {"user": user, "syst": syst, "elsp": elsp}
    if costs["divergences"]["count"]:
        out["divergences"] = costs["divergences"]  # the replay parted from its trace (maple.trace.replay)
    calls = costs["calls"]
    if calls:
        for k, v in sorted(costs["counters"].items()):
            out[f"{k}_per_op"] = v / calls
    return out
