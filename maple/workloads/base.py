"""What a workload is, for the runner.

Two kinds, after the two benchmark families the maple tree debate used:

* ``LoopWorkload`` (will-it-scale): each task runs ``loop`` forever on its address space and
  adds the ops it returns to its own counter; the runner samples the counters every interval.
  Higher is better (ops per interval, summarised with Hmean).
* ``TimedWorkload`` (kernbench): each sample is one whole iteration that reports
  ``user``, ``syst`` and ``elsp`` seconds. Lower is better (Amean).

Registry convention (``maple.workloads``): every workload module defines ``WORKLOAD``, the
workload *class*; the registry builds it as ``WORKLOAD(**params)``.

A ``loop`` call is one *step*. For most testcases a step is a whole pass of will-it-scale's
loop; the page-fault testcases, whose pass touches 32768 pages, split a pass into
``steps_per_loop`` steps so that the counter moves while the pass runs (will-it-scale bumps its
counter once per page) and the runner can stop a task between steps.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Workload:
    """Common description shown by ``maplebench list``."""

    name: ClassVar[str]
    description: ClassVar[str]  # will-it-scale's ``testcase:`` line, or a one-line summary
    unit: ClassVar[str]  # what one op (or one sample) is
    kind: ClassVar[str]  # "loop" or "timed"
    higher_is_better: ClassVar[bool]

    def __init__(self, **params: Any) -> None:
        """``params`` come from the command line (for example ``trace=PATH``)."""
        self.params = params


class LoopWorkload(Workload):
    """A will-it-scale testcase: ``setup`` once per task, then ``loop`` until stopped."""

    kind = "loop"
    higher_is_better = True
    #: ``loop`` calls that make one pass of the testcase's loop.
    steps_per_loop: ClassVar[int] = 1
    #: Deterministic pass (runner): passes per task before counting, and passes counted.
    det_warmup_loops: ClassVar[int] = 2
    det_loops: ClassVar[int] = 16

    def setup(self, mm: Any, task: int) -> Any:
        """Per-task preparation inside the task (the testcase's prologue); returns its state."""
        return None

    def loop(self, mm: Any, state: Any) -> int:
        """One step of the testcase's loop; returns how much the will-it-scale counter grew."""
        raise NotImplementedError

    def teardown(self, mm: Any, state: Any) -> None:
        """Undo ``setup`` where the testcase's cleanup would."""


class TimedWorkload(Workload):
    """A kernbench-like workload: one sample is one timed iteration."""

    kind = "timed"
    higher_is_better = False
    unit = "seconds"
    metrics: ClassVar[tuple[str, ...]] = ("user", "syst", "elsp")

    def iteration(self, mm_kind: str, tasks: int, mode: str) -> dict[str, float]:
        """Run one iteration with ``tasks`` concurrent jobs; return seconds per metric.

        May also return ``<counter>_per_op`` keys (deterministic cost counts).
        """
        raise NotImplementedError
