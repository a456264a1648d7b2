#!/usr/bin/env python3
"""Regenerate the history layouts (maple/mm/layouts/*.history.gz) on this machine.

    .venv/bin/python scripts/record_history.py [--out maple/mm/layouts]

* ``will-it-scale``: the host harness (``maplebench-wis``) started as ``maple.host.backend.HostPass``
  starts it (counter area memfd ``-a``, start barrier ``-g``, CPU sets ``-b``), threads mode,
  one task, one pass (``-i 1``); its maps are read while the task waits at the barrier; the cut
  is before the task thread's ``pthread_create`` (the model's threads start replays that).
* ``maplebench-micro``: ``maplebench-micro -b getppid`` (no address-space call in its loop):
  start-up plus ``micro_setup`` (the task file's populate pass, the 3-page region).
* ``maplebench-micro-threaded``: the same with ``-T`` (the benchmark in a second thread), the
  whole start: ``pthread_create`` and the thread's ``micro_setup`` included.
* ``maplebench-micro-wis``: ``maplebench-micro -b wis:brk1:threads``, cut before the task
  thread's ``pthread_create`` (the same point as its processes mode's ``fork``): the state the
  micro's one-task testcase cells start from.

Needs a C compiler and strace; addresses are this run's (ASLR on). See docs/mm.md "History
layouts".
"""
from __future__ import annotations

import argparse
import os
import sys

from maple.bench.sampling import _Area
from maple.host import compiler, sysinfo
from maple.mm.history import HISTORY_SUFFIX, record_history


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "maple", "mm", "layouts"))
    args = ap.parse_args()
    wis = str(compiler.build().binary)
    micro = str(compiler.build("micro").binary)
    area = _Area(1, memfd=True)
    go_r, go_w = os.pipe()
    argv = [wis, "-t", "brk1", "-m", "threads", "-n", "1", "-a", str(area.fd), "-g", str(go_r), "-i", "1"]
    sets = sysinfo.cpu_sets()
    if sets:
        argv += ["-b", sysinfo.cpu_sets_arg(sets)]
    out = os.path.join(args.out, "will-it-scale" + HISTORY_SUFFIX)
    t = record_history(argv, out, pass_fds=(area.fd, go_r), ready=lambda: area.ready() >= 1,
                       release=lambda: os.write(go_w, b"g"))
    print(f"{out}: {t.meta['history']['cut']} calls to the task start")
    for name, extra in (("maplebench-micro", []), ("maplebench-micro-threaded", ["-T"])):
        out = os.path.join(args.out, name + HISTORY_SUFFIX)
        t = record_history([micro, "-b", "getppid", "-r", "1", "-m", "30000000000", *extra], out, settle=0.5,
                           until_thread=False)
        print(f"{out}: {t.meta['history']['cut']} calls to the benchmark loop")
    out = os.path.join(args.out, "maplebench-micro-wis" + HISTORY_SUFFIX)
    t = record_history([micro, "-b", "wis:brk1:threads", "-r", "1", "-m", "30000000000"], out, settle=0.5)
    print(f"{out}: {t.meta['history']['cut']} calls to the task start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
