"""``trace``: replay a user's own trace (``maplebench run trace --trace FILE``), kernbench style.

One iteration replays the whole trace with ``tasks`` concurrent job slots
(:mod:`maple.trace.jobs`) and reports kernbench's three times:

* ``syst``: seconds spent inside the simulated syscalls, faults, forks, execs and exits, summed
  over the slots (the kernel's share, as kernbench's system time sums all children);
* ``user``: the trace's own time between those calls (the traced programs' computing),
  multiplied by ``user_scale`` (default 1/100: a 20 s compile becomes 0.2 s) and summed over
  the slots. The replay sleeps that long between calls, so it overlaps across slots as real
  compute does, and ``user`` itself is a property of the trace and the split: the same on
  both mms;
* ``elsp``: wall-clock seconds from the start signal to the last slot's end.

Modes: ``processes`` forks one worker process per slot (like make's children); ``threads`` runs
one thread per slot. Either way every traced process keeps its own simulated mm, because in the
trace they were separate processes; threads only share the interpreter (and, on a standard
CPython, its GIL: threads mode measures contention on the GIL, not on the mms).

An iteration whose replay parted from the trace (a call that worked there failed here, or the
reverse, see :mod:`maple.trace.replay`) also returns ``divergences``: ``{"count": N, "first":
[up to 5 lines]}``; the runner prints it and records it in meta.json.

Deterministic ``<counter>_per_op`` keys come with each iteration: the mm counters summed over
every address space the slots owned, divided by the replayed syscalls and faults.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any, ClassVar

from maple.errors import InputError
from maple.trace.faults import FaultModel
from maple.trace.format import Trace
from maple.trace.strace import read_trace_or_log
from maple.trace.jobs import JobSplit, split_jobs
from maple.workloads.base import TimedWorkload

#: Default factor from the trace's own time to the replay's ``user`` time.
USER_SCALE = 0.01
MODES = ("processes", "threads")
#: how many divergences an iteration reports by name (all are counted)
DIVERGENCES_KEPT = 5

_CACHE: dict[tuple[str, float], tuple[Trace, JobSplit]] = {}


def load(path: str | Path) -> tuple[Trace, JobSplit]:
    """Read (once per file version) a trace and its job split."""
    p = Path(path)
    try:
        stamp = p.stat().st_mtime
    except OSError:
        stamp = 0.0
    key = (str(p.resolve()) if p.exists() else str(p), stamp)
    hit = _CACHE.get(key)
    if hit is None:
        trace = read_trace_or_log(p)
        if not trace.events:
            raise InputError(f"trace {path}: has no events to replay")
        hit = _CACHE[key] = (trace, split_jobs(trace))
    return hit


def _replay_slot(trace: Trace, split: JobSplit, mm_kind: str, slots: int, slot: int, opts: dict) -> dict:
    from maple.trace.replay import Replay, describe

    r = Replay(trace, mm_kind, faults=opts["faults"], user_scale=opts["user_scale"])
    r.run(split.selector(slots, slot)).finish()
    first = [describe(ev, why) for ev, why in r.divergences[:DIVERGENCES_KEPT]]
    return {"syst": r.syst, "user": r.user, "counters": r.counters, "stats": r.stats, "divergences": first}


def _merge(results: list[dict], elsp: float) -> dict[str, float]:
    out: dict[str, float] = {
        "user": sum(r["user"] for r in results),
        "syst": sum(r["syst"] for r in results),
        "elsp": elsp,
    }
    counters: dict[str, int] = {}
    ops = 0
    diverged = sum(r["stats"]["diverged"] for r in results)
    if diverged:
        first = [d for r in results for d in r["divergences"]][:DIVERGENCES_KEPT]
        out["divergences"] = {"count": diverged, "first": first}  # type: ignore[assignment]
    for r in results:
        ops += r["stats"]["syscalls"] + r["stats"]["faults"]
        for k, v in r["counters"].items():
            counters[k] = counters.get(k, 0) + v
    if ops:
        for k in sorted(counters):
            out[f"{k}_per_op"] = counters[k] / ops
    return out


class TraceWorkload(TimedWorkload):
    """Replay of a recorded trace with N concurrent job slots."""

    name: ClassVar[str] = "trace"
    description: ClassVar[str] = "Replay of a recorded address-space trace (--trace FILE)"

    def __init__(
        self,
        trace: str | Path | None = None,
        *,
        user_scale: float = USER_SCALE,
        fault_fraction: float = 0.25,
        fault_cap: int = 16,
        **params: Any,
    ) -> None:
        super().__init__(trace=trace, **params)
        path = self.default_trace() if trace is None else trace
        if path is None:
            raise InputError(f"workload '{self.name}' needs a trace: --trace FILE (see maplebench record)")
        try:
            scale = float(user_scale)
        except (TypeError, ValueError):
            raise InputError(f"user_scale {user_scale!r} is not a number") from None
        if scale < 0:
            raise InputError(f"user_scale {user_scale!r} must be >= 0")
        try:
            faults = FaultModel(float(fault_fraction), int(fault_cap))
        except ValueError as exc:
            raise InputError(str(exc)) from None
        self.path = Path(path)
        self.trace, self.split = load(self.path)
        self.opts = {"faults": faults, "user_scale": scale}

    def default_trace(self) -> Path | None:
        """The trace used when none is given (none for ``trace``)."""
        return None

    def iteration(self, mm_kind: str, tasks: int, mode: str) -> dict[str, float]:
        """Replay the trace once with ``tasks`` slots; see the module docstring."""
        if tasks < 1:
            raise InputError(f"tasks {tasks} must be >= 1")
        if mode == "processes":
            return self._processes(mm_kind, tasks)
        if mode == "threads":
            return self._threads(mm_kind, tasks)
        raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}")

    def _threads(self, mm_kind: str, tasks: int) -> dict[str, float]:
        results: list[dict | None] = [None] * tasks
        errors: list[str] = []
        go = threading.Event()

        def work(slot: int) -> None:
            go.wait()
            try:
                results[slot] = _replay_slot(self.trace, self.split, mm_kind, tasks, slot, self.opts)
            except BaseException:
                errors.append(f"slot {slot}:\n{traceback.format_exc()}")

        threads = [threading.Thread(target=work, args=(k,), name=f"trace-slot-{k}") for k in range(tasks)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
        elsp = time.perf_counter() - t0
        if errors:
            raise RuntimeError("trace replay failed in " + errors[0])
        return _merge([r for r in results if r is not None], elsp)

    def _processes(self, mm_kind: str, tasks: int) -> dict[str, float]:
        go_r, go_w = os.pipe()
        children: list[tuple[int, int]] = []
        try:
            for slot in range(tasks):
                res_r, res_w = os.pipe()
                pid = os.fork()
                if pid == 0:  # pragma: no cover - runs in the child
                    code = 0
                    try:
                        os.close(go_w)
                        os.close(res_r)
                        os.read(go_r, 1)
                        try:
                            payload = {"ok": _replay_slot(self.trace, self.split, mm_kind, tasks, slot, self.opts)}
                        except BaseException:
                            payload = {"error": f"slot {slot}:\n{traceback.format_exc()}"}
                            code = 1
                        data = json.dumps(payload).encode()
                        view = memoryview(data)
                        while view:
                            view = view[os.write(res_w, view) :]
                    finally:
                        os._exit(code)
                os.close(res_w)
                children.append((pid, res_r))
            t0 = time.perf_counter()
            os.write(go_w, b"g" * tasks)
            results = []
            error = None
            for pid, res_r in children:
                chunks = []
                while True:
                    chunk = os.read(res_r, 1 << 16)
                    if not chunk:
                        break
                    chunks.append(chunk)
                results.append(b"".join(chunks))
            elsp = time.perf_counter() - t0
        finally:
            os.close(go_r)
            os.close(go_w)
            for pid, res_r in children:
                try:
                    os.close(res_r)
                except OSError:
                    pass
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
        merged = []
        for slot, data in enumerate(results):
            if not data:
                error = error or f"slot {slot}: worker died without a result"
                continue
            payload = json.loads(data)
            if "error" in payload:
                error = error or payload["error"]
            else:
                merged.append(payload["ok"])
        if error:
            raise RuntimeError("trace replay failed in " + error)
        return _merge(merged, elsp)


WORKLOAD = TraceWorkload
