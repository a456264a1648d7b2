"""What simulated tasks run: the workload's real loop, one call at a time.

* ``CycleProgram``: replays a fixed list of recorded calls forever (a processes-mode task's
  steady cycle; the scheduler tests' synthetic tasks).
* ``ThreadTask``: threads mode. Each task is a real Python thread running the workload's
  ``setup`` and ``loop`` on the *shared* simulated mm, used as a coroutine: the mm it sees is a
  ``_SyscallProxy`` whose syscall methods (``brk``, ``mmap``, ``munmap``, ``mprotect``, ``fault``,
  ...) stop the thread and hand control back to the scheduler, which resumes it when the
  call's lock is granted in virtual time. Exactly one thread runs at any moment (a baton of
  two locks), so the real mm changes state in virtual-time order, and per-thread mm state
  (the legacy vmacache, fault counters) stays per task. Each call costs one thread round
  trip (about 20 us of wall time on the project's machine). Ops are credited per call, pro
  rata within a loop step and exact at its end (``ThreadTask._credit``).
* ``record_cycle``: processes mode. Tasks are identical forks that share nothing, so one
  representative task's real loop gives the per-step calls; stepping until the per-step
  event signature repeats gives the steady cycle the scheduler time-shares. A step's ops are
  spread over its calls (``spread_ops``).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

from maple.mm.events import Segment

__all__ = ["CycleProgram", "ThreadTask", "Call", "record_cycle", "SYSCALLS", "StepCycle", "spread_ops", "probe_step"]

#: mm methods that are calls (a syscall or a fault): the points where a task meets the scheduler
SYSCALLS = frozenset({"mmap", "munmap", "mprotect", "brk", "fault", "mremap", "madvise", "fork", "exit"})

#: one recorded call: (name, segments, ops completed after it)
Call = tuple[str, list[Segment], int]


class CycleProgram:
    """Replays ``calls`` (``Call`` tuples) in a loop, forever."""

    __slots__ = ("calls", "i")

    def __init__(self, calls: Sequence[Call]) -> None:
        if not calls:
            raise ValueError("a cycle needs at least one call")
        self.calls = list(calls)
        self.i = 0

    def start(self) -> str | None:
        return self.calls[0][0]

    def execute(self) -> tuple[list[Segment], int, str | None]:
        name, segs, ops = self.calls[self.i]
        self.i = (self.i + 1) % len(self.calls)
        return segs, ops, self.calls[self.i][0]


class _Stop(BaseException):
    """Raised inside a task thread to end it (not an Exception: workloads must not catch it)."""


class _SyscallProxy:
    """``mm`` as a loop sees it, with every syscall or fault method (``SYSCALLS``) routed
    through ``through(name, method, args, kwargs)``; everything else passes on."""

    __slots__ = ("_mm", "_through")

    def __init__(self, mm: Any, through: Callable[[str, Any, tuple, dict], Any]) -> None:
        self._mm = mm
        self._through = through

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._mm, name)
        if name in SYSCALLS and callable(value):
            through = self._through

            def call(*args: Any, **kwargs: Any) -> Any:
                return through(name, value, args, kwargs)

            return call
        return value


def steps_per_pass(workload: Any) -> int:
    """``steps_per_loop``: the loop steps that make one pass of the testcase (at least 1)."""
    return max(1, int(getattr(workload, "steps_per_loop", 1)))


def _no_call(workload: Any) -> RuntimeError:
    return RuntimeError(f"{workload.name}: a loop step made no syscall or fault; the model clock cannot time it")


class ThreadTask:
    """One threads-mode task: a real thread running ``workload.loop`` on the shared ``mm``.

    ``start()`` runs the workload's ``setup``, its warm-up passes (``warmup_steps``) and
    ``phase`` more steps (``phase_steps``; events not recorded, no virtual time), then the loop
    up to its first call; ``execute()`` performs the pending call, then lets the loop run on to the next one.
    A workload error is re-raised from ``execute`` (as ``TaskError``, with the traceback text).
    ``close()`` ends the thread.
    """

    def __init__(self, workload: Any, mm: Any, index: int, *, estimate: tuple[int, int] | None = None,
                 phase: int = 0) -> None:
        self.workload = workload
        self.phase = phase
        self.mm = mm
        self.index = index
        self.gate_mm = _SyscallProxy(mm, self.gate)
        self._mine = threading.Lock()
        self._mine.acquire()
        self._back = threading.Lock()
        self._back.acquire()
        self._pending: tuple[Any, tuple, dict] | None = None
        self._pending_name: str | None = None
        self._stop = False
        self._calls_in_step = 0
        self._done_k = 0  # the executed call's position in its loop step (1-based)
        self._step_end: tuple[int, int] | None = None  # (ops, calls) of a step that just ended
        self._exact = 0  # ops of every completed loop step
        self._credited = 0  # ops handed to the scheduler so far (the task's counter)
        # (ops, calls) of the last completed step; before the first, ``probe_step``'s
        self._estimate: tuple[int, int] | None = estimate if estimate and estimate[1] > 0 else None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._body, name=f"model-task-{index}", daemon=True)

    # -- scheduler side ------------------------------------------------------------------

    def _resume(self) -> None:
        self._mine.release()
        self._back.acquire()
        if self._error is not None:
            from maple.clock.errors import TaskError

            raise TaskError(f"task {self.index}: {self._error}")

    def start(self) -> str | None:
        self._thread.start()
        self._back.acquire()  # setup done, the loop waits at its first call
        if self._error is not None:
            from maple.clock.errors import TaskError

            raise TaskError(f"task {self.index}: {self._error}")
        return self._pending_name

    def execute(self) -> tuple[list[Segment], int, str | None]:
        """Perform the pending call; returns its segments, the ops to credit when it completes
        (``_credit``) and the next call's name."""
        self._step_end = None
        self._resume()
        return self._segs, self._credit(), self._pending_name

    def _credit(self) -> int:
        """Ops credited for the call just executed: call granularity within a loop step.

        A loop step returns its ops only when it ends, but will-it-scale bumps its counter per
        page, so within a step the ops are credited pro rata per call from the previous step
        of this task (``ops * k // calls`` after its ``k``-th call, at most its ``ops``), and
        reconciled exactly when the step ends: the counter then equals the sum of the steps'
        ops. Counters never decrease: if a step returns fewer ops than were credited ahead,
        the surplus is absorbed by the next step's pro-rata credits. The first step uses the
        ``estimate`` given (``probe_step``), or is credited at its end without one.
        """
        if self._step_end is not None:
            ops, calls = self._step_end
            self._exact += ops
            self._estimate = (ops, calls)
            target = self._exact
        elif self._estimate is not None:
            e_ops, e_calls = self._estimate
            target = self._exact + min(e_ops * self._done_k // e_calls, e_ops)
        else:
            target = self._exact
        credit = target - self._credited
        if credit <= 0:
            return 0
        self._credited = target
        return credit

    def close(self) -> None:
        if self._thread.is_alive():
            self._stop = True
            self._mine.release()
            self._thread.join(5.0)

    # -- thread side ---------------------------------------------------------------------

    def _wait(self) -> None:
        self._back.release()
        self._mine.acquire()
        if self._stop:
            raise _Stop

    def gate(self, name: str, method: Any, args: tuple, kwargs: dict) -> Any:
        """A call reached by the loop: wait for the grant, perform it, record its segments."""
        self._pending_name = name
        self._calls_in_step += 1
        k = self._calls_in_step
        self._wait()
        self._done_k = k
        events = self.mm.events
        events.take()
        try:
            result = method(*args, **kwargs)
        finally:
            self._segs = events.take()
        return result

    def _body(self) -> None:
        import traceback

        wl = self.workload
        mm = self.gate_mm
        try:
            events = self.mm.events
            was = events.enabled
            events.enabled = False
            try:
                state = wl.setup(self.mm, self.index)
                # untimed, in task order, before the barrier: the warm-up passes, then the
                # task's phase (steps into its next pass)
                for _ in range(warmup_steps(wl) + self.phase):
                    wl.loop(self.mm, state)
            finally:
                events.enabled = was
            self._segs = []
            loop = wl.loop
            while True:
                self._calls_in_step = 0
                ops = loop(mm, state)
                if self._calls_in_step == 0:
                    raise _no_call(wl)
                self._step_end = (int(ops), self._calls_in_step)
        except _Stop:
            return
        except BaseException:
            self._error = traceback.format_exc()
            self._pending_name = None
            try:
                self._back.release()
            except RuntimeError:
                pass


class StepCycle:
    """A processes-mode task's steady cycle: ``calls`` (``Call`` tuples) repeat forever.

    ``warmup_steps`` loop steps ran before the cycle; ``steps`` loop steps make one cycle;
    ``exact`` is False when no repetition was found within the step budget (the cycle is
    then every recorded step, an average).
    """

    __slots__ = ("calls", "steps", "warmup_steps", "exact")

    def __init__(self, calls: list[Call], steps: int, warmup_steps: int, exact: bool) -> None:
        self.calls = calls
        self.steps = steps
        self.warmup_steps = warmup_steps
        self.exact = exact


def probe_step(workload: Any, mm: Any, task: int = 0) -> tuple[int, int]:
    """``(ops, calls)`` of the first loop step of ``workload`` run on ``mm`` (a throwaway
    fork: it is changed), events not recorded: the threads-mode tasks' estimate for crediting
    their first step per call. Raises ``RuntimeError`` for a step that makes no call."""
    calls = 0

    def count(name: str, method: Any, args: tuple, kwargs: dict) -> Any:
        nonlocal calls
        calls += 1
        return method(*args, **kwargs)

    events = getattr(mm, "events", None)
    was = events.enabled if events is not None else False
    if events is not None:
        events.enabled = False
    try:
        state = workload.setup(mm, task)
        ops = workload.loop(_SyscallProxy(mm, count), state)
    finally:
        if events is not None:
            events.enabled = was
    if calls == 0:
        raise _no_call(workload)
    return int(ops), calls


def spread_ops(calls: Sequence[Call], ops: int) -> list[Call]:
    """One loop step's calls with its ``ops`` credited pro rata per call: the ``k``-th of ``n``
    calls completes ``ops * k // n - ops * (k - 1) // n`` ops, so the step's total is exact
    and a step of 512 faults after an mmap credits one op per fault (will-it-scale bumps its
    counter per page, not per step)."""
    n = len(calls)
    out = []
    for k, (name, segs, _) in enumerate(calls, 1):
        out.append((name, segs, ops * k // n - ops * (k - 1) // n))
    return out


def _signature(calls: list[Call]) -> tuple:
    return tuple((name, ops, tuple((s.ctx, tuple(sorted(s.events.items()))) for s in segs)) for name, segs, ops in calls)


def warmup_steps(workload: Any) -> int:
    """Loop steps a task runs before it is measured: ``det_warmup_loops`` whole passes (at
    least one) of ``steps_per_loop`` steps, so a first pass that fills caches (the page cache
    of page_fault2/3's file, the heap's first growth) is never in a counted window. Both modes
    use it: ``record_cycle`` (processes) and ``ThreadTask`` (threads)."""
    return steps_per_pass(workload) * max(1, int(getattr(workload, "det_warmup_loops", 1)))


def phase_steps(workload: Any, index: int, tasks: int) -> int:
    """Steps task ``index`` of ``tasks`` runs into a pass before the barrier: ``index *
    steps_per_loop // tasks``. A will-it-scale run is measured after its tasks have run for
    seconds and drifted apart, so threads tasks start spread evenly over one pass rather than
    all at its first call: for page_fault* (64 steps per 32768-page pass) not every task maps
    its region at once; a one-step pass (brk*, malloc1, mmap*) puts every task at phase 0."""
    return index * steps_per_pass(workload) // max(1, tasks)


def record_cycle(workload: Any, mm: Any, *, task: int = 0, max_steps: int | None = None) -> StepCycle:
    """Run one task's real loop on ``mm`` (its own fork) until its per-step calls repeat.

    ``setup`` runs unrecorded; then ``det_warmup_loops`` passes warm the task up; then steps
    are recorded until the last ``p`` steps equal the ``p`` before them for the smallest such
    ``p``, a whole number of passes (``steps_per_loop`` steps), checked at pass boundaries; or
    until ``max_steps`` (default: 4 passes + 16 steps) run out, in which case every recorded
    step is the cycle (``exact`` False).
    """
    events = mm.events
    calls: list[Call] = []
    current: list[Call] = []

    def record(name: str, method: Any, args: tuple, kwargs: dict) -> Any:
        events.take()
        try:
            return method(*args, **kwargs)
        finally:
            current.append((name, events.take(), 0))

    events.enabled = False
    state = workload.setup(mm, task)
    events.enabled = True
    gate = _SyscallProxy(mm, record)
    per_pass = steps_per_pass(workload)
    warm = warmup_steps(workload)
    for _ in range(warm):
        workload.loop(gate, state)
    current.clear()
    steps: list[list[Call]] = []
    limit = max_steps if max_steps is not None else 4 * per_pass + 16
    sigs: list[tuple] = []
    period = 0
    while len(steps) < limit:
        current.clear()
        ops = workload.loop(gate, state)
        if not current:
            raise _no_call(workload)
        steps.append(spread_ops(current, int(ops)))
        sigs.append(_signature(current))
        n = len(sigs)
        if n % per_pass:
            continue  # cycles are whole passes: compare at pass boundaries only
        for p in range(per_pass, n // 2 + 1, per_pass):
            if sigs[n - p:] == sigs[n - 2 * p:n - p]:
                period = p
                break
        if period:
            break
    events.enabled = False
    if period:
        cyc = steps[len(steps) - period:]
        exact = True
    else:
        cyc = steps
        period = len(steps)
        exact = False
    for step in cyc:
        calls.extend(step)
    return StepCycle(calls, period, warm + len(steps) - period, exact)
