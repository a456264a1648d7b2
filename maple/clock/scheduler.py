"""A deterministic discrete-event simulation of modeled CPUs running will-it-scale tasks.

Separation (as SimPy separates events, processes and resources): *programs* say what a task
does (``maple.clock.programs``: the workload's real loop on a real simulated mm, one syscall
or fault at a time); the *simulation* (``Simulation``) owns virtual time, the CPUs and the
``mmap_lock`` model (``RWSem``); the *profile* prices work.

**Time.** Virtual nanoseconds, floats, starting at 0 when the start barrier opens. Events are
processed in (time, sequence) order, so the same inputs give the same trajectory on every
machine: there is no random number anywhere.

**CPUs.** ``cpus`` logical CPUs, ``smt`` hardware threads per core (``cpus // smt`` cores).
Task *i* is bound to a CPU the way will-it-scale places tasks: one per core first, then the
cores' second threads, and so on; beyond ``cpus`` tasks, CPUs are shared round-robin and
time-sliced (``sched_slice_ns``; a task is preempted only between two calls, never inside
the kernel, as on a PREEMPT_NONE/VOLUNTARY server kernel; a switch costs
``context_switch_ns``). A hardware thread runs at ``profile.smt_speed(busy)`` where ``busy``
counts the running (or spinning) threads of its core when a segment starts.

**Calls.** A task's program hands out one call (a syscall or a fault) at a time. The call
arrives, runs its *prefix* outside the lock (predicted: the previous call of the same name's
prefix cost and lock mode; the first time, one ``syscall`` or ``fault`` event and mode
``write`` for syscalls, ``read`` for faults), requests ``mmap_lock`` in that mode and, once
granted, *executes for real* (``program.execute()``), so the simulated mm changes state in
the order the lock model grants it. The call's recorded segments (``maple.mm.events``) are
then played: each segment's events priced by the profile give its CPU time; a change of lock
context between segments is an rwsem operation (acquire, ``downgrade``, release). Ops the
program reports are credited when the call completes.

**mmap_lock** (``RWSem``), after ``kernel/locking/rwsem.c`` (v5.13+):

* A writer takes a free lock at once (also ahead of sleeping waiters: optimistic stealing),
  unless the hand-off bit is set for a waiter.
* A writer finding a *writer-owned* lock spins (its CPU stays busy) while the owner runs; the
  spinners take the lock in arrival order (the OSQ), one cache-line transfer after release.
* A writer finding a *reader-owned* lock spins for ``rwsem_rspin_threshold`` (10 + readers/2
  us, readers capped at 30), then marks the lock non-spinnable (writers that arrive later
  sleep at once until a writer owns it again) and sleeps.
* A reader takes the lock unless a writer owns it, the hand-off bit is set, or others wait
  while readers own it (the kernel's guard against a reader stream starving a writer); a
  reader that steals a free lock past waiters wakes the queued readers with it. Otherwise it
  sleeps. Readers never spin.
* Sleeping frees the CPU (``context_switch_ns``). A release wakes the head of the wait queue:
  a writer is woken to retry (``wakeup_ns`` later; a spinner may have stolen the lock by then),
  a run of readers is granted the lock at once, together with every reader queued behind a
  writer (``rwsem_mark_wake`` wakes up to 256 readers). A waiter that has waited
  ``rwsem_handoff_ns`` (``RWSEM_WAIT_TIMEOUT``) sets the hand-off bit: the next release grants
  it the lock directly and nobody steals meanwhile.
* ``downgrade`` turns the write owner into a reader and grants the queued readers.
* A spinner stops spinning and sleeps when another task is queued on its CPU (``need_resched``),
  at the start of its spin or when a woken task is queued there while it spins.

**Cache lines.** Every rwsem operation writes the lock word: one ``cacheline_ns`` transfer if
another CPU wrote it last (an acquirer pays it inside its critical section, a releaser right
after leaving it). Shared mm data (the VMA index, the list, the vmacache seqnum): a write
segment adds the lines it writes (``SHARED_WRITE_EVENTS``) to the mm's count of written
lines; a locked segment that touches shared data (``SHARED_DATA_EVENTS``) on a CPU pays
``cacheline_ns`` for each line written elsewhere since that CPU last read the data, at most
one per shared-data event it does (the lines nobody rewrote are still in its cache).

**TLB shootdowns.** A ``tlb_shootdown`` event costs its profile price and, when other CPUs run
the mm (the CPUs the mm's tasks are bound to, as ``mm_cpumask``), ``ipi_ns`` for the round trip
to the first of them plus ``ipi_extra_ns`` for each further one: the IPIs go out together and
the remote flushes run in parallel (``smp_call_function_many_cond`` waits for them all).

What is not modeled: per-VMA lock contention (``vma`` context is priced, never waited on),
cache misses outside the listed events, interrupts, NUMA distance, the cost an IPI puts on
the receiving CPUs, the wasted wake-up of a waiter whose lock a spinner stole.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any, Iterable, Protocol, Sequence

from maple.clock.profile import CostProfile
from maple.mm.events import Segment

__all__ = ["Simulation", "RWSem", "Program", "SHARED_DATA_EVENTS", "placement"]

#: events that read or write cache lines of the mm-wide structures (index, list, seqnum)
SHARED_DATA_EVENTS = frozenset({
    "node_walk", "node_write", "node_copy", "gap_update", "mt_dup_node",
    "rb_walk", "rb_insert", "rb_erase", "rb_rotate", "rb_gap_update", "vma_list_update",
    "vmacache_invalidate",
})

#: the shared-data events that write cache lines (the others only read them)
SHARED_WRITE_EVENTS = frozenset({
    "node_write", "node_copy", "gap_update", "mt_dup_node",
    "rb_insert", "rb_erase", "rb_rotate", "rb_gap_update", "vma_list_update", "vmacache_invalidate",
})

#: lock context -> the mmap_lock mode it holds (None: not holding mmap_lock)
_MODE = {"none": None, "vma": None, "read": "read", "write": "write"}


class Program(Protocol):
    """What one simulated task runs (see ``maple.clock.programs``).

    ``start()`` returns the name of the first call (``"brk"``, ``"fault"``, ...), or None when
    the task has nothing to do. ``execute()`` performs that call for real and returns
    ``(segments, ops, next_call)``: the call's segments in program order, the will-it-scale ops
    completed after it (credited when the call completes in virtual time), and the next call's
    name (None: the task stops).
    """

    def start(self) -> str | None: ...

    def execute(self) -> tuple[list[Segment], int, str | None]: ...


def placement(tasks: int, cpus: int, smt: int) -> list[int]:
    """The CPU of each task: cores first (CPU ``core * smt + thread``), then siblings, then
    round-robin over all CPUs again (time sharing)."""
    cores = max(1, cpus // smt)
    order = [core * smt + thread for thread in range(smt) for core in range(cores)]
    order = [c for c in order if c < cpus] + [c for c in range(cpus) if c >= cores * smt]
    return [order[i % len(order)] for i in range(tasks)]


class RWSem:
    """State of one ``mmap_lock`` (the scheduler drives it)."""

    __slots__ = ("writer", "readers", "waiters", "spinners", "handoff", "nonspinnable",
                 "word_cpu", "lines_written", "seen")

    def __init__(self, cpus: int) -> None:
        self.writer: _Task | None = None
        self.readers = 0
        self.waiters: deque[_Task] = deque()  # sleeping, arrival order
        self.spinners: deque[_Task] = deque()  # optimistic spinners (writers), OSQ order
        self.handoff = False
        self.nonspinnable = False
        self.word_cpu = -1  # CPU that wrote the lock word last
        self.lines_written = 0  # shared mm data lines written so far (all CPUs)
        self.seen = [0] * cpus  # per CPU: ``lines_written`` when it last read the data

    def free(self) -> bool:
        return self.writer is None and self.readers == 0


class _Cpu:
    __slots__ = ("index", "core", "current", "runq")

    def __init__(self, index: int, core: int) -> None:
        self.index = index
        self.core = core
        self.current: _Task | None = None
        self.runq: deque[_Task] = deque()


class _Task:
    __slots__ = ("index", "program", "cpu", "lock", "held", "call", "segs", "seg_i", "ops_due",
                 "next_call", "ops", "want", "extra_ns", "slice_start", "wait_start", "gen",
                 "after_run", "state", "spin_deadline")

    def __init__(self, index: int, program: Program, cpu: _Cpu, lock: RWSem) -> None:
        self.index = index
        self.program = program
        self.cpu = cpu
        self.lock = lock
        self.held: str | None = None  # mmap_lock mode held
        self.call: str | None = None
        self.segs: list[Segment] = []
        self.seg_i = 0
        self.ops_due = 0
        self.next_call: str | None = None
        self.ops = 0  # the will-it-scale counter
        self.want: str | None = None  # mode requested while waiting
        self.extra_ns = 0.0  # cache-line transfers charged to the next piece of work
        self.slice_start = 0.0
        self.wait_start = 0.0
        self.gen = 0  # invalidates stale timer events (spin timeouts)
        self.after_run: Any = None  # what to do when the task next gets its CPU
        self.state = "ready"  # ready | running | spinning | sleeping | done
        self.spin_deadline = 0.0


# event kinds
_CONTINUE, _SPIN_TIMEOUT, _WAKE = 0, 1, 2


class Simulation:
    """C modeled CPUs running one program per task; see the module docstring.

    ``shared_mm=True`` (threads mode): every task uses one ``RWSem`` and one set of shared mm
    data; ``False`` (processes mode): each task has its own. ``run_until(t)`` advances virtual
    time to ``t`` ns; ``counts()`` is every task's will-it-scale counter at that time.
    """

    def __init__(
        self,
        profile: CostProfile,
        programs: Sequence[Program],
        *,
        cpus: int,
        smt: int = 1,
        shared_mm: bool = True,
    ) -> None:
        if cpus < 1 or smt < 1:
            raise ValueError("cpus and smt must be >= 1")
        self.profile = profile
        s = profile.sched
        self.cs_ns = s["context_switch_ns"]
        self.wake_ns = s["wakeup_ns"]
        self.line_ns = s["cacheline_ns"]
        self.handoff_ns = s["rwsem_handoff_ns"]
        self.slice_ns = s["sched_slice_ns"]
        self.ipi_ns = s["ipi_ns"]
        self.ipi_extra_ns = s["ipi_extra_ns"]
        self.costs = profile.costs
        self.smt = smt
        self.cpus = [_Cpu(i, i // smt) for i in range(cpus)]
        where = placement(len(programs), cpus, smt)
        self.shared_mm = shared_mm
        shared = RWSem(cpus)
        self.tasks = [
            _Task(i, p, self.cpus[where[i]], shared if shared_mm else RWSem(cpus))
            for i, p in enumerate(programs)
        ]
        # CPUs the mm runs on, other than the sender's: the IPI targets of a shootdown
        self.mm_cpus = len(set(where)) if shared_mm else 1
        self.now = 0.0
        self._heap: list[tuple[float, int, int, _Task, int]] = []
        self._seq = 0
        #: memo per call name: (first lock mode, prefix ns)
        self._predict: dict[str, tuple[str | None, float]] = {}
        self._speed_cache: dict[int, float] = {}
        self._started = False

    # -- public --------------------------------------------------------------------------

    def run_until(self, t_end: float) -> None:
        """Process every event before virtual time ``t_end`` (ns)."""
        if not self._started:
            self._start()
        heap = self._heap
        while heap and heap[0][0] < t_end:
            time, _, kind, task, gen = heapq.heappop(heap)
            self.now = time
            if kind == _CONTINUE:
                self._continue(task)
            elif kind == _SPIN_TIMEOUT:
                if gen == task.gen and task.state == "spinning":
                    self._spin_timeout(task)
            else:  # _WAKE
                self._woken(task)
        self.now = t_end

    def counts(self) -> list[int]:
        """Every task's will-it-scale counter."""
        return [t.ops for t in self.tasks]

    # -- plumbing ------------------------------------------------------------------------

    def _at(self, time: float, kind: int, task: _Task) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time, self._seq, kind, task, task.gen))

    def _start(self) -> None:
        self._started = True
        for task in self.tasks:  # programs start in task order: setup's effects are ordered
            task.next_call = task.program.start()
        for task in self.tasks:
            cpu = task.cpu
            if task.next_call is None:
                task.state = "done"
                continue
            task.after_run = self._arrive
            if cpu.current is None:
                cpu.current = task
                task.state = "running"
                task.slice_start = 0.0
                self._at(0.0, _CONTINUE, task)
            else:
                cpu.runq.append(task)

    def _continue(self, task: _Task) -> None:
        action = task.after_run
        task.after_run = None
        action(task)

    def _speed(self, task: _Task) -> float:
        if self.smt == 1:
            return 1.0
        core = task.cpu.core
        base = core * self.smt
        busy = 0
        for c in self.cpus[base:base + self.smt]:
            if c.current is not None and c.current.state in ("running", "spinning"):
                busy += 1
        speed = self._speed_cache.get(busy)
        if speed is None:
            speed = self._speed_cache[busy] = self.profile.smt_speed(busy)
        return speed

    def _run_for(self, task: _Task, ns: float, then: Any) -> None:
        """The task computes for ``ns`` of CPU time (scaled by SMT), then ``then(task)``."""
        ns += task.extra_ns
        task.extra_ns = 0.0
        task.after_run = then
        self._at(self.now + ns / self._speed(task), _CONTINUE, task)

    # -- a call --------------------------------------------------------------------------

    def _arrive(self, task: _Task) -> None:
        """Between two calls: maybe preempted, else start the next call's prefix."""
        cpu = task.cpu
        if cpu.runq and self.now - task.slice_start >= self.slice_ns:
            task.state = "ready"
            task.after_run = self._arrive
            cpu.runq.append(task)
            cpu.current = None
            self._switch(cpu)
            return
        name = task.next_call
        task.call = name
        pred = self._predict.get(name)
        if pred is None:
            if name == "fault":
                pred = ("read", self.costs["fault"])
            else:
                pred = ("write", self.costs["syscall"])
        task.want = pred[0]
        self._run_for(task, pred[1], self._prefix_done)

    def _prefix_done(self, task: _Task) -> None:
        mode = task.want
        if mode is None:
            self._execute(task)
        else:
            self._acquire(task, mode, self._execute)

    def _execute(self, task: _Task) -> None:
        """The lock the prediction asked for is held: perform the call for real."""
        segs, ops, nxt = task.program.execute()
        task.ops_due = ops
        task.next_call = nxt
        # the leading lock-free segments were the prefix (already run, by prediction)
        i = 0
        prefix = 0.0
        while i < len(segs) and _MODE[segs[i].ctx] is None:
            prefix += self.profile.price(segs[i].events)
            i += 1
        first = _MODE[segs[i].ctx] if i < len(segs) else None
        self._predict[task.call] = (first, prefix)
        task.segs = segs
        task.seg_i = i
        self._play(task)

    def _play(self, task: _Task) -> None:
        """Run the next segment, doing the lock transition it needs first."""
        if task.seg_i >= len(task.segs):
            if task.held is not None:
                self._release(task)
            self._complete(task)
            return
        seg = task.segs[task.seg_i]
        mode = _MODE[seg.ctx]
        held = task.held
        if mode != held:
            if held == "write" and mode == "read":
                self._downgrade(task)
            elif held is not None:
                self._release(task)
                if mode is not None:
                    self._acquire(task, mode, self._play)
                    return
            else:
                self._acquire(task, mode, self._play)
                return
        task.seg_i += 1
        ns = self.profile.price(seg.events)
        lock = task.lock
        if mode is not None:
            cpu = task.cpu.index
            touched = written = 0
            for name, n in seg.events.items():
                if name in SHARED_DATA_EVENTS:
                    touched += n
                    if name in SHARED_WRITE_EVENTS:
                        written += n
            if touched:
                # lines other CPUs wrote since this CPU last read the data move here, at most
                # one per line this segment touches; the rest are still in its cache
                stale = lock.lines_written - lock.seen[cpu]
                if stale > 0:
                    ns += min(stale, touched) * self.line_ns
                if mode == "write":
                    lock.lines_written += written
                lock.seen[cpu] = lock.lines_written
        shoot = seg.events.get("tlb_shootdown")
        if shoot and self.mm_cpus > 1:
            ns += shoot * (self.ipi_ns + self.ipi_extra_ns * (self.mm_cpus - 2))
        self._run_for(task, ns, self._play)

    def _complete(self, task: _Task) -> None:
        task.ops += task.ops_due
        task.ops_due = 0
        task.segs = []
        if task.next_call is None:
            task.state = "done"
            cpu = task.cpu
            cpu.current = None
            self._switch(cpu)
            return
        self._arrive(task)

    # -- the rwsem -----------------------------------------------------------------------

    def _word(self, task: _Task) -> None:
        """The task writes the lock word (an atomic on the rwsem count)."""
        lock = task.lock
        cpu = task.cpu.index
        if lock.word_cpu != cpu:
            if lock.word_cpu >= 0:
                task.extra_ns += self.line_ns
            lock.word_cpu = cpu

    def _acquire(self, task: _Task, mode: str, then: Any) -> None:
        lock = task.lock
        task.after_run = then
        task.want = mode
        if mode == "write":
            if lock.free() and not lock.handoff:
                self._grant_write(task)
                self._continue(task)
                return
            # optimistic spinning: not with others queued on this CPU (need_resched), not
            # against a hand-off, not on a reader-owned lock marked non-spinnable
            if not task.cpu.runq and not lock.handoff and (lock.writer is not None or not lock.nonspinnable):
                task.state = "spinning"
                lock.spinners.append(task)
                if lock.writer is None:  # reader-owned: a bounded spin
                    self._spin_budget(task)
                return
            self._sleep(task)
            return
        # read: the fast path fails while anyone waits; the slow path still steals a lock
        # that is not writer-owned, unless it is reader-owned already (a stream of readers
        # must not starve a sleeping writer) or a hand-off is pending
        if lock.writer is None and not lock.handoff and (lock.readers == 0 or not lock.waiters):
            lock.readers += 1
            self._word(task)
            task.held = "read"
            if lock.waiters:  # the stealing reader wakes the queued readers with it
                self._grant_readers(lock)
            self._continue(task)
            return
        self._sleep(task)

    def _grant_write(self, task: _Task) -> None:
        lock = task.lock
        lock.writer = task
        lock.nonspinnable = False
        task.held = "write"
        self._word(task)

    def _sleep(self, task: _Task) -> None:
        task.state = "sleeping"
        task.wait_start = self.now
        task.lock.waiters.append(task)
        cpu = task.cpu
        cpu.current = None
        self._switch(cpu)

    def _switch(self, cpu: _Cpu) -> None:
        """The CPU's current task left it: run the next queued one after a context switch."""
        if cpu.runq and cpu.current is None:
            nxt = cpu.runq.popleft()
            cpu.current = nxt
            nxt.state = "running"
            nxt.slice_start = self.now + self.cs_ns
            self._at(self.now + self.cs_ns, _CONTINUE, nxt)

    def _spin_budget(self, task: _Task) -> None:
        """Start the reader-owned spin budget (rwsem_rspin_threshold)."""
        task.spin_deadline = self.now + self.profile.spin_budget_ns(task.lock.readers)
        self._at(task.spin_deadline, _SPIN_TIMEOUT, task)

    def _spin_timeout(self, task: _Task) -> None:
        lock = task.lock
        if lock.writer is not None or self.now < task.spin_deadline:
            return  # spinning on a writer again, or a newer budget runs
        lock.nonspinnable = True
        lock.spinners.remove(task)
        task.gen += 1
        self._sleep(task)

    def _wake(self, task: _Task) -> None:
        """try_to_wake_up: the task runs ``wakeup_ns`` from now (or queues on a busy CPU)."""
        task.state = "waking"
        self._at(self.now + self.wake_ns, _WAKE, task)

    def _woken(self, task: _Task) -> None:
        cpu = task.cpu
        if cpu.current is None:
            cpu.current = task
            task.state = "running"
            task.slice_start = self.now
            self._after_wake(task)
        else:
            task.state = "ready"
            task.after_run = self._after_wake_deferred(task.after_run)
            cpu.runq.append(task)
            cur = cpu.current
            if cur.state == "spinning":
                # need_resched on the spinner's CPU: rwsem_optimistic_spin gives up and the
                # writer sleeps in the wait queue, letting the woken task run (it may be the
                # lock's new owner, granted by a hand-off)
                cur.lock.spinners.remove(cur)
                cur.gen += 1  # cancels its spin timeout
                self._sleep(cur)

    def _after_wake_deferred(self, then: Any) -> Any:
        def run(task: _Task) -> None:
            task.after_run = then
            self._after_wake(task)
        return run

    def _after_wake(self, task: _Task) -> None:
        """A woken task runs: granted already (readers, hand-off) or a writer retrying."""
        if task.held is not None:
            self._continue(task)
            return
        lock = task.lock
        if lock.free() and (not lock.handoff):
            lock.waiters.remove(task)
            self._grant_write(task)
            self._continue(task)
            return
        # lost the race: back to sleep, keeping its place; after RWSEM_WAIT_TIMEOUT it asks
        # for a hand-off
        if lock.waiters and lock.waiters[0] is task and self.now - task.wait_start >= self.handoff_ns:
            lock.handoff = True
        task.state = "sleeping"
        cpu = task.cpu
        cpu.current = None
        self._switch(cpu)

    def _release(self, task: _Task) -> None:
        lock = task.lock
        self._word(task)
        if task.held == "write":
            lock.writer = None
        else:
            lock.readers -= 1
        task.held = None
        if lock.free():
            self._hand_on(lock)

    def _downgrade(self, task: _Task) -> None:
        lock = task.lock
        self._word(task)
        lock.writer = None
        lock.readers += 1
        task.held = "read"
        if not lock.handoff:
            self._grant_readers(lock)
        for s in lock.spinners:  # the spinners now face a reader-owned lock
            self._spin_budget(s)

    def _grant_readers(self, lock: RWSem) -> None:
        """Grant every queued reader (rwsem_mark_wake wakes up to 256 from the whole queue)."""
        if not any(w.want == "read" for w in lock.waiters):
            return
        keep: deque[_Task] = deque()
        for w in lock.waiters:
            if w.want == "read" and w.state == "sleeping":
                lock.readers += 1
                w.held = "read"
                self._wake(w)
            else:
                keep.append(w)
        lock.waiters = keep

    def _hand_on(self, lock: RWSem) -> None:
        """The lock just became free: hand-off, a spinner, or wake the queue's head."""
        waiters = lock.waiters
        if lock.handoff and waiters:
            head = waiters[0]
            lock.handoff = False
            if head.want == "write":
                waiters.popleft()
                self._grant_write(head)
                if head.state == "sleeping":
                    self._wake(head)
                return
            self._grant_readers(lock)
            return
        lock.handoff = False
        if lock.spinners:
            s = lock.spinners.popleft()
            s.gen += 1  # cancels its spin timeout
            s.state = "running"
            self._grant_write(s)
            self._at(self.now, _CONTINUE, s)
            return
        if not waiters:
            return
        head = waiters[0]
        if head.want == "read":
            self._grant_readers(lock)
        elif head.state == "sleeping":
            self._wake(head)


def window_samples(sim: Simulation, edges: Iterable[float]) -> list[tuple[int, int, int, float]]:
    """Run the simulation across consecutive windows (``edges`` in ns, ascending, the first
    being the current time) and return will-it-scale samples ``(total, min, max, seconds)``."""
    edges = list(edges)
    out = []
    prev = sim.counts()
    for a, b in zip(edges, edges[1:]):
        sim.run_until(b)
        now = sim.counts()
        diffs = [x - y for x, y in zip(now, prev)]
        out.append((sum(diffs), min(diffs), max(diffs), (b - a) / 1e9))
        prev = now
    return out


class IndependentTasks:
    """Processes mode in closed form: T identical, independent tasks replaying one cycle.

    Each task runs ``calls`` (``(name, segments, ops)``; its own mm, so its lock is never
    contended and no cache line moves) over and over. Tasks are placed as ``placement`` does;
    a CPU with ``n > 1`` tasks runs them round-robin, each in turn for ``sched_slice_ns`` after
    a ``context_switch_ns`` switch; a hardware thread runs at ``smt_speed`` of its core's busy
    threads. A task's counter at time ``t`` is the ops of the calls that completed within the
    work it has done by then. This is what ``Simulation`` does with ``shared_mm=False`` (the
    scheduler tests check the two agree), in O(tasks) per sample instead of O(calls).
    """

    def __init__(self, profile: CostProfile, calls: Sequence[tuple[str, list[Segment], int]], tasks: int,
                 *, cpus: int, smt: int = 1) -> None:
        import bisect

        self._bisect = bisect.bisect_right
        ends: list[float] = []
        ops: list[int] = []
        total = 0.0
        done = 0
        for _name, segs, n in calls:
            for seg in segs:
                total += profile.price(seg.events)
            done += n
            ends.append(total)
            ops.append(done)
        if total <= 0:
            raise ValueError("a cycle of zero cost never ends")
        self.cycle_ns = total
        self.cycle_ops = done
        self._ends = ends
        self._ops = ops
        s = profile.sched
        self.slice_ns = s["sched_slice_ns"]
        self.cs_ns = s["context_switch_ns"]
        where = placement(tasks, cpus, smt)
        per_cpu: dict[int, int] = {}
        turns = []
        for c in where:
            turns.append(per_cpu.get(c, 0))
            per_cpu[c] = turns[-1] + 1
        self._slot = [(per_cpu[c], k) for c, k in zip(where, turns)]  # (tasks on its CPU, its turn)
        busy_per_core: dict[int, int] = {}
        for c in per_cpu:
            busy_per_core[c // smt] = busy_per_core.get(c // smt, 0) + 1
        self._speed = [profile.smt_speed(busy_per_core[c // smt]) for c in where]
        self.tasks = tasks

    def _cpu_time(self, i: int, t: float) -> float:
        """CPU time task ``i`` got by ``t``: on a shared CPU, turn 0 runs first for a slice,
        then every slice is preceded by a context switch, in turn order 1, 2, ..., 0, 1, ..."""
        n, k = self._slot[i]
        if n == 1:
            return t
        q, cs = self.slice_ns, self.cs_ns
        if t <= q:
            return t if k == 0 else 0.0
        slot = q + cs
        full, rest = divmod(t - q, n * slot)
        start = ((k - 1) % n) * slot + cs
        return (q if k == 0 else 0.0) + full * q + min(max(rest - start, 0.0), q)

    def _ops_at(self, work: float) -> int:
        cycles, rest = divmod(work, self.cycle_ns)
        j = self._bisect(self._ends, rest)
        return int(cycles) * self.cycle_ops + (self._ops[j - 1] if j else 0)

    def counts(self, t: float) -> list[int]:
        """Every task's counter at virtual time ``t`` (ns)."""
        return [self._ops_at(self._cpu_time(i, t) * self._speed[i]) for i in range(self.tasks)]
