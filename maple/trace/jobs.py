"""Split a trace into make-style jobs and deal them to N job slots.

The first task of a trace is the *root* (``make``). Each process the root starts (fork, vfork
or posix_spawn; not its threads) begins a *job*: that process and all its descendants, e.g. one
``cc -c`` with its ``cc1`` and ``as``. Jobs touch only their own address spaces, so N workers
can replay N jobs at once, as ``make -jN`` runs N recipes at once.

Dealing follows make's dynamic dispatch: jobs in the order the root started them, each to the
slot with the least work so far (work = number of events; ties to the lowest slot). It is
deterministic, so every run of a cell replays the same split.

Every slot also replays the root's own events, because each job starts from the root's address
space at the moment it was started; only slot 0 times and counts them, so the root's work is
charged once.
"""

from __future__ import annotations

from dataclasses import dataclass

from maple.trace.format import Trace

ROOT = -1


@dataclass
class JobSplit:
    """``job_of[i]``: the job of event ``i`` (``ROOT`` for the root's own events)."""

    job_of: list[int]
    sizes: list[int]  # events per job

    @property
    def njobs(self) -> int:
        return len(self.sizes)

    def deal(self, slots: int) -> list[int]:
        """Slot of each job for ``slots`` workers (least work first, ties to the lowest)."""
        if slots < 1:
            raise ValueError(f"slots must be >= 1, not {slots}")
        load = [0] * slots
        out = []
        for size in self.sizes:
            k = min(range(slots), key=load.__getitem__)
            out.append(k)
            load[k] += size
        return out

    def selector(self, slots: int, slot: int):
        """``select(i)`` for :meth:`maple.trace.replay.Replay.run` of worker ``slot``."""
        owner = self.deal(slots)
        job_of = self.job_of
        root_counted = slot == 0

        def select(i: int) -> bool | None:
            j = job_of[i]
            if j == ROOT:
                return root_counted
            return True if owner[j] == slot else None

        return select


def split_jobs(trace: Trace) -> JobSplit:
    """Assign every event to the root or to a job."""
    events = trace.events
    job_of: list[int] = []
    sizes: list[int] = []
    if not events:
        return JobSplit(job_of, sizes)
    group: dict[int, int] = {events[0][1]: ROOT}
    for ev in events:
        pid = ev[1]
        g = group.get(pid)
        if g is None:  # a task whose creation the trace did not show: a job of its own
            g = group[pid] = len(sizes)
            sizes.append(0)
        if ev[0] == "c":
            child, how = ev[3], ev[4]
            if g == ROOT and how != "t":
                g = len(sizes)
                sizes.append(0)
            group[child] = g
        job_of.append(g)
        if g != ROOT:
            sizes[g] += 1
    return JobSplit(job_of, sizes)
