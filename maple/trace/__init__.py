"""Address-space traces: record a real program with strace, replay it on the simulated mms.

The pieces, one concept per module:

* :mod:`maple.trace.strace`  -- parse an ``strace -f`` log (unfinished/resumed joining, failed
  calls, signals, exits, clone kinds, flag expressions, ``-y`` file paths);
* :mod:`maple.trace.format`  -- the compact gzip'd line format (:class:`Trace`,
  :func:`read_trace`, :func:`write_trace`);
* :mod:`maple.trace.record`  -- run a command under strace and capture each program's
  execve-time layout (``maplebench record``);
* :mod:`maple.trace.addrmap` -- translate trace addresses into simulated ones;
* :mod:`maple.trace.faults`  -- the deterministic page-fault model;
* :mod:`maple.trace.jobs`    -- split a trace into make-style jobs for N slots;
* :mod:`maple.trace.replay`  -- replay a trace on ``maple.mm`` address spaces.

The shipped trace (``data/kernbench-brotli.trace.gz``) drives the ``kernbench`` workload; see
docs/trace.md.
"""

from maple.trace.addrmap import AddressMap
from maple.trace.faults import FaultModel
from maple.trace.format import Trace, read_trace, write_trace
from maple.trace.jobs import JobSplit, split_jobs
from maple.trace.replay import Replay
from maple.trace.strace import StraceParser, parse_strace

__all__ = [
    "AddressMap",
    "FaultModel",
    "JobSplit",
    "Replay",
    "StraceParser",
    "Trace",
    "parse_strace",
    "read_trace",
    "split_jobs",
    "write_trace",
]
