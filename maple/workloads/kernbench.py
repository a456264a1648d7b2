"""``kernbench``: replay the shipped trace of a real parallel compile, kernbench style.

The trace (``maple/trace/data/kernbench-brotli.trace.gz``) is ``make -j2`` building the brotli
1.2.1 C library and command-line tool from its PyPI sdist with gcc 12 (36 compiles and a
link), recorded with ``maplebench record`` by ``scripts/record_kernbench.sh``. Each iteration
replays it with ``--procs`` job slots, as ``make -jN``; see :mod:`maple.workloads.trace` for
what ``user``, ``syst`` and ``elsp`` mean. ``--trace FILE`` replays another trace instead.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import ClassVar

from maple.workloads.trace import TraceWorkload

#: The shipped trace, inside the installed package.
TRACE_NAME = "kernbench-brotli.trace.gz"


def shipped_trace() -> Path:
    """Path of the shipped compile trace."""
    return Path(str(resources.files("maple.trace").joinpath("data", TRACE_NAME)))


class Kernbench(TraceWorkload):
    """make -jN of a real C code base, replayed on the simulated mms."""

    name: ClassVar[str] = "kernbench"
    description: ClassVar[str] = "Parallel compile (make -jN of brotli) replayed from a strace trace"

    def default_trace(self) -> Path:
        return shipped_trace()


WORKLOAD = Kernbench
