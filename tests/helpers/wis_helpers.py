"""Shared setup for the will-it-scale workload tests (brk1, brk2, malloc1, page_fault*, mmap*).

``Recorder`` stands in for an address space and logs every call a workload's ``setup`` or
``loop`` makes into it, so a test can check the exact syscall sequence of one pass, the way
strace would show it for the C testcase.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from maple import workloads
from maple.bench import runner as R
from maple.bench.results import RunWriter, load_run
from maple.mm import make_mm

KINDS = ["maple", "legacy"]
MODES = ["processes", "threads"]
SYSCALLS = frozenset({"brk", "mmap", "munmap", "mprotect", "fault"})
# every (mm, mode) cell a short real run must produce
CELLS = {(kind, mode) for kind in KINDS for mode in MODES}


class Call(NamedTuple):
    """One recorded call: its arguments, its result and the mm's map_count after it."""

    name: str
    args: tuple
    kw: dict
    result: Any
    map_count: int


class Recorder:
    """Proxy for an mm that logs each syscall (and fault) in ``log``; all else passes through."""

    def __init__(self, mm: Any) -> None:
        self.mm = mm
        self.log: list[Call] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.mm, name)
        if name not in SYSCALLS:
            return attr
        mm, log = self.mm, self.log

        def call(*args: Any, **kw: Any) -> Any:
            result = attr(*args, **kw)
            log.append(Call(name, args, kw, result, mm.map_count))
            return result

        return call

    def counts(self) -> dict[str, int]:
        """How many times each syscall was made."""
        return dict(Counter(c.name for c in self.log))


def new_mm(kind: str) -> Any:
    """A fresh address space of ``kind`` with the runner's default process layout."""
    return make_mm(kind, layout=R.default_layout())


def start_pass(name: str, kind: str, mode: str, task: int = 0) -> tuple[Any, Any, Recorder, Any]:
    """Set up workload ``name`` as ``task`` in a fresh ``kind`` mm, recorded: (wl, mm, rec, state).

    In processes mode the task runs in a fork of the starting mm, as will-it-scale's children
    do; in threads mode it shares the starting mm itself.
    """
    wl = workloads.get(name)
    mm = new_mm(kind)
    if mode == "processes":
        mm = mm.fork()
    rec = Recorder(mm)
    return wl, mm, rec, wl.setup(rec, task)


def spans(mm: Any) -> list[tuple[int, int, int, int]]:
    """Every VMA as (start, end, prot, flags): equal lists mean an unchanged address space."""
    return [(v.start, v.end, v.prot, v.flags) for v in mm.vmas()]


def short_real_run(tmp_path: Path, workload: str) -> pd.DataFrame:
    """Run ``workload`` for real (2 tasks, 2 short samples, both mms and modes); its samples."""
    cfg = R.RunConfig(workloads=[workload], procs=[2], samples=2, warmup=0.05, interval=0.05, clock="wall")
    writer = RunWriter(tmp_path / "r", {})
    run = R.Runner(cfg, writer)
    status = run.run()
    R.finish(writer, status, run.error)
    assert status == "complete", run.error
    return load_run(tmp_path / "r").samples
