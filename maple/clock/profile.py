"""Cost profiles: what each kernel event costs, and the scheduler's parameters.

A profile is a JSON data file::

    {
      "format": "maplebench-profile/1",
      "name": "default",
      "provenance": {"machine": ..., "kernel": ..., "date": ..., "command": ..., ...},
      "costs_ns": {"syscall": 95.0, "vma_alloc": 61.2, ...},      # every name in EVENTS
      "scheduler": {"context_switch_ns": ..., ...}                 # every name in SCHEDULER
    }

``costs_ns`` prices every event of ``maple.mm.events.EVENTS`` in nanoseconds of CPU time
(the event done uncontended, its cache lines local). ``scheduler`` holds what the
discrete-event scheduler (``maple.clock.scheduler``) needs; see ``SCHEDULER``.

Shipped profiles live in ``maple/clock/profiles/``: ``default`` (written by ``maplebench
calibrate`` on the project's machine; its provenance says how) and ``prior`` (the reference
values calibration is regularised towards, with their sources). ``--profile`` takes a shipped
name or a path to a file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from maple.errors import InputError
from maple.mm.events import EVENTS

__all__ = ["CostProfile", "SCHEDULER", "FORMAT", "load_profile", "shipped_profiles", "DEFAULT_PROFILE"]

FORMAT = "maplebench-profile/1"
DEFAULT_PROFILE = "default"

#: scheduler parameter -> (meaning, unit). Kernel constants carry their source.
SCHEDULER: dict[str, str] = {
    "context_switch_ns": "CPU time lost switching tasks on one CPU (__schedule + switch_mm), ns",
    "wakeup_ns": "latency from try_to_wake_up until the woken task runs on its (idle) CPU, ns",
    "cacheline_ns": "one cache line transferred from another CPU's cache (lock word or mm data), ns",
    "rwsem_spin_base_ns": "reader-owned spin budget base: rwsem_rspin_threshold's 10 us (kernel/locking/rwsem.c)",
    "rwsem_spin_per_reader_ns": "reader-owned spin budget per reader: 0.5 us (rwsem_rspin_threshold)",
    "rwsem_spin_readers_max": "readers counted in the spin budget at most: 30 (rwsem_rspin_threshold)",
    "rwsem_handoff_ns": "wait before the first waiter sets RWSEM_FLAG_HANDOFF: RWSEM_WAIT_TIMEOUT, 4 ms at HZ=1000",
    "smt_factor": "throughput of one hardware thread while its sibling is busy, relative to alone (0..1]",
    "ipi_ns": "sender's cost of a TLB shootdown's IPI round trip to the first other CPU running the mm "
              "(flush_tlb_multi: send, the remote flush, the acknowledgement it waits for), ns",
    "ipi_extra_ns": "sender's cost per further CPU running the mm: one more IPI queued and sent; the targets "
                    "flush in parallel, so the round trip is paid once (smp_call_function_many_cond), ns",
    "sched_slice_ns": "time slice before a task with others queued on its CPU is preempted (EEVDF base slice x (1+ilog2(8))), ns",
}


@dataclass(frozen=True)
class CostProfile:
    """Event costs (ns) and scheduler parameters, with where they came from.

    ``costs``: event name -> ns, for every name in ``EVENTS``; ``sched``: every key of
    ``SCHEDULER``; ``provenance``: machine, kernel, date, command (and free-form notes).
    """

    name: str
    costs: Mapping[str, float]
    sched: Mapping[str, float]
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def price(self, events: Mapping[str, int]) -> float:
        """CPU time in ns of ``events`` (name -> count) done uncontended."""
        c = self.costs
        return sum(c[name] * n for name, n in events.items())

    def spin_budget_ns(self, readers: int) -> float:
        """How long a writer spins on a reader-owned rwsem: rwsem_rspin_threshold()
        (10 + min(readers, 30) / 2 us with the kernel's constants)."""
        s = self.sched
        return s["rwsem_spin_base_ns"] + s["rwsem_spin_per_reader_ns"] * min(readers, s["rwsem_spin_readers_max"])

    def smt_speed(self, busy: int) -> float:
        """Relative speed of a hardware thread when ``busy`` threads of its core run (itself
        included): 1 alone, ``smt_factor`` with one busy sibling, interpolated in time per op
        beyond that."""
        if busy <= 1:
            return 1.0
        f = self.sched["smt_factor"]
        return 1.0 / (1.0 + (busy - 1) * (1.0 / f - 1.0))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "provenance": dict(self.provenance),
            "costs_ns": {k: float(self.costs[k]) for k in EVENTS},
            "scheduler": {k: float(self.sched[k]) for k in SCHEDULER},
        }

    def write(self, path: str | Path) -> None:
        """Write the profile as JSON (atomically: a temporary name, then rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)

    def replace(self, **costs: float) -> "CostProfile":
        """A copy with some event costs changed (tests, calibration)."""
        new = dict(self.costs)
        new.update(costs)
        return CostProfile(self.name, new, self.sched, self.provenance)


def shipped_profiles() -> list[str]:
    """Names of the profiles shipped in ``maple/clock/profiles``."""
    folder = resources.files("maple.clock.profiles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InputError(f"{where}: {key} = {value!r} is not a non-negative number")
    return float(value)


def from_json(data: Any, where: str) -> CostProfile:
    """Validate parsed JSON; ``InputError`` naming ``where`` and the bad field."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{where}: not a maplebench profile (expected \"format\": \"{FORMAT}\")")
    costs_in, sched_in = data.get("costs_ns"), data.get("scheduler")
    if not isinstance(costs_in, dict) or not isinstance(sched_in, dict):
        raise InputError(f"{where}: needs \"costs_ns\" and \"scheduler\" objects")
    missing = [k for k in EVENTS if k not in costs_in]
    if missing:
        raise InputError(f"{where}: costs_ns has no price for {', '.join(missing[:5])}"
                         + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""))
    unknown = [k for k in costs_in if k not in EVENTS]
    if unknown:
        raise InputError(f"{where}: costs_ns names unknown event {unknown[0]!r}")
    missing = [k for k in SCHEDULER if k not in sched_in]
    if missing:
        raise InputError(f"{where}: scheduler has no {', '.join(missing)}")
    costs = {k: _number(where, k, costs_in[k]) for k in EVENTS}
    sched = {k: _number(where, k, sched_in[k]) for k in SCHEDULER}
    if not 0 < sched["smt_factor"] <= 1:
        raise InputError(f"{where}: smt_factor = {sched['smt_factor']!r} must be in (0, 1]")
    prov = data.get("provenance")
    if not isinstance(prov, dict) or not all(k in prov for k in ("machine", "kernel", "date", "command")):
        raise InputError(f"{where}: provenance must give machine, kernel, date and command")
    return CostProfile(str(data.get("name", where)), costs, sched, prov)


def load_profile(spec: str | None = None, *, option: str = "--profile") -> CostProfile:
    """The profile named ``spec`` (shipped) or stored at path ``spec``; None: the default.

    Raises ``InputError`` (``OPTION 'X': ...``, ``option`` naming the command-line option that
    gave ``spec``) for an unknown name, an unreadable file, bad JSON or a profile that misses an
    event or parameter.
    """
    spec = DEFAULT_PROFILE if spec is None else spec
    where = f"{option} '{spec}'"
    looks_like_path = "/" in spec or spec.endswith(".json") or Path(spec).exists()
    if looks_like_path:
        try:
            text = Path(spec).read_text()
        except OSError as exc:
            raise InputError(f"{where}: cannot read ({exc.strerror or exc})") from None
    else:
        res = resources.files("maple.clock.profiles").joinpath(spec + ".json")
        if not res.is_file():
            raise InputError(f"{where}: no such profile (shipped: {', '.join(shipped_profiles())}; or give a path)")
        text = res.read_text()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{where}: bad JSON ({exc})") from None
    return from_json(data, where)
