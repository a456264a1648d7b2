"""The running kernel as the oracle of the will-it-scale layout.

The real harness (``HostPass``, as ``--mm host`` runs it) is started in processes and threads
mode with 1 and 2 tasks; while its tasks wait at the start barrier, a task's
``/proc/PID/maps`` is read. The simulated mm after the same start (the ``will-it-scale``
history layout, then a fork for processes mode or ``start_task_threads`` for threads mode)
must have the same VMAs: the same count and the same sequence of (size, permissions, kind,
adjacent to the previous VMA), which does not depend on where ASLR put the bases.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maple import workloads
from maple.host.backend import HostPass
from maple.mm import make_mm
from maple.mm.history import start_task_threads
from maple.mm.layout import parse_maps


def _kind(name: str) -> str:
    if not name:
        return "anon"
    if name in ("[heap]", "[stack]"):
        return name
    if name.startswith("["):
        return "special"
    return "file"


def shape(maps_text: str) -> list[tuple[int, str, str, bool]]:
    """(size, perms, kind, adjacent to the previous VMA) of every VMA (the gate excluded)."""
    out = []
    prev_end = None
    for e in parse_maps(maps_text):
        if e.start >= 1 << 47:
            continue  # [vsyscall]: the gate area, not a VMA
        out.append((e.end - e.start, e.perms, _kind(e.name), e.start == prev_end))
        prev_end = e.end
    return out


def host_task_maps(build, mode: str, tasks: int) -> str:
    with HostPass(workloads.get("brk1"), mode, tasks, build=build) as hp:
        hp.start()  # every task set up and waiting at the barrier
        pid = hp.proc.pid
        if mode == "processes":
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            assert len(kids) == tasks
            texts = {Path(f"/proc/{k}/maps").read_text() for k in kids}
            assert len(texts) == 1  # identical forks
            return texts.pop()
        return Path(f"/proc/{pid}/maps").read_text()


def model_task_maps(mode: str, tasks: int) -> str:
    mm = make_mm("current", layout="will-it-scale")
    if mode == "processes":
        return mm.fork().maps()
    start_task_threads(mm, tasks)
    return mm.maps()


@pytest.mark.parametrize("tasks", [1, 2])
@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_model_start_has_the_host_harness_vmas(host_build, mode, tasks):
    host = shape(host_task_maps(host_build, mode, tasks))
    model = shape(model_task_maps(mode, tasks))
    hint = ("the harness's address space no longer matches the recorded will-it-scale layout: "
            "after changing maple/host/csrc, re-record it with scripts/record_history.py")
    assert len(model) == len(host), hint
    assert model == host, hint
