"""``ModelPass``: a loop cell measured on the model clock (the runner's ``SampleSource``).

Samples are consecutive windows of *virtual* time, ``interval`` virtual seconds each, from the
moment the start barrier opens; each yields will-it-scale's ``(total, min, max, seconds)``
of the per-task counter increments, ``seconds`` being the window's virtual length. The same
cell, profile, CPU count and interval give the same samples on any machine.

* **processes**: one representative task runs the workload's real loop on its own
  ``start_mm.fork()`` until its per-step events repeat (``programs.record_cycle``); the T
  tasks are independent identical copies of that cycle, time-shared in closed form
  (``scheduler.IndependentTasks``). Cost: the cycle's recording, then O(T) per sample.
* **threads**: T real task threads run the loop on ``start_mm`` itself (``mm.users = T``),
  after their untimed warm-up passes, spread evenly over one pass (``programs.phase_steps``),
  one call at a time in virtual-time order (``programs.ThreadTask``), scheduled by
  ``scheduler.Simulation`` with the mmap_lock model. Ops are credited per call, pro rata
  within a loop step (``ThreadTask._credit``; the first step's shape comes from
  ``programs.probe_step`` on a fresh mm of the same era), as will-it-scale bumps its counter per page.
  Cost: one thread round trip per call
  (about 20 us of wall time), so a window of ``interval`` virtual seconds costs about
  ``calls per virtual second x interval x 40 us``: keep model-clock intervals in the
  milliseconds (``maplebench run`` defaults to 2 ms under the model clock).
"""

from __future__ import annotations

import os
from typing import Any, Iterator

from maple.clock.profile import CostProfile, load_profile

__all__ = ["ModelPass", "modeled_cpus"]


def modeled_cpus(cpus: int | None) -> int:
    """``--cpus``, or this machine's CPU count."""
    return int(cpus) if cpus else (os.cpu_count() or 1)


def _first_step(workload: Any, mm: Any) -> tuple[int, int] | None:
    """``(ops, calls)`` of the workload's first loop step, probed on a fresh mm of the same
    era and rules (``start_mm`` itself must stay untouched, and forking it would change it:
    COW write-protection, counters); None when the mm has no era (a custom mm) or the probe
    fails there (the first step is then credited when it ends)."""
    from maple.clock import programs
    from maple.mm import layouts, make_mm

    era = getattr(mm, "era", None)
    if era is None:
        return None
    names = sorted(layouts())
    try:
        probe = make_mm(era.name, rules=getattr(mm, "rules", None), layout=names[0] if names else None)
        return programs.probe_step(workload, probe)
    except Exception:  # the probe is an estimate only: the crediting stays exact without it
        return None


class ModelPass:
    """One loop cell on the model clock. Use as a context manager; ``start()``, then
    ``samples(count, interval)``.

    ``config`` is the run's ``RunConfig`` (its ``cpus``, ``smt`` and ``profile`` are used);
    ``profile`` overrides the profile it names. Raises ``InputError`` for a bad profile;
    ``maple.clock.errors.TaskError`` when the workload fails inside a task.
    """

    def __init__(self, workload: Any, start_mm: Any, mode: str, tasks: int, *, config: Any = None,
                 profile: CostProfile | None = None) -> None:
        self.workload = workload
        self.start_mm = start_mm
        self.mode = mode
        self.tasks = tasks
        self.profile = profile or load_profile(getattr(config, "profile", None))
        self.cpus = modeled_cpus(getattr(config, "cpus", None))
        self.smt = int(getattr(config, "smt", 1) or 1)
        self._threads: list[Any] = []
        self._sim: Any = None
        self._independent: Any = None
        self.cycle: Any = None

    def start(self) -> None:
        """Record the processes-mode cycle, or start the threads-mode task threads."""
        from maple.clock import programs, scheduler

        mm = self.start_mm
        if not hasattr(mm, "events"):
            raise RuntimeError(f"{type(mm).__name__} records no cost events: the model clock needs maple.mm.events")
        if self.mode == "processes":
            child = mm.fork()
            if hasattr(child, "users"):
                child.users = 1
            self.cycle = programs.record_cycle(self.workload, child)
            self._independent = scheduler.IndependentTasks(
                self.profile, self.cycle.calls, self.tasks, cpus=self.cpus, smt=self.smt)
        elif self.mode == "threads":
            from maple.mm.history import start_task_threads

            start_task_threads(mm, self.tasks)  # glibc's pthread_create per task, unrecorded
            if hasattr(mm, "users"):
                mm.users = self.tasks
            estimate = _first_step(self.workload, mm)
            mm.events.take()
            mm.events.enabled = True
            self._threads = [programs.ThreadTask(self.workload, mm, i, estimate=estimate,
                                                 phase=programs.phase_steps(self.workload, i, self.tasks))
                             for i in range(self.tasks)]
            self._sim = scheduler.Simulation(self.profile, self._threads, cpus=self.cpus, smt=self.smt,
                                             shared_mm=True)
            self._sim.run_until(0.0)  # every task runs its setup, in task order
        else:
            from maple.errors import InputError

            raise InputError(f"unknown mode '{self.mode}'")

    def counts(self, t_ns: float) -> list[int]:
        if self._independent is not None:
            return self._independent.counts(t_ns)
        self._sim.run_until(t_ns)
        return self._sim.counts()

    def samples(self, count: int, interval: float) -> Iterator[tuple[int, int, int, float]]:
        """``count`` consecutive windows of ``interval`` virtual seconds."""
        step = interval * 1e9
        prev = self.counts(0.0)
        for k in range(1, count + 1):
            now = self.counts(k * step)
            diffs = [a - b for a, b in zip(now, prev)]
            yield sum(diffs), min(diffs), max(diffs), interval
            prev = now

    def close(self) -> None:
        for t in self._threads:
            t.close()
        self._threads = []
        if self.mode == "threads" and hasattr(self.start_mm, "events"):
            self.start_mm.events.enabled = False

    def __enter__(self) -> "ModelPass":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
