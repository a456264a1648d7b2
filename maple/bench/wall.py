"""The wall clock over a simulated mm: Python tasks running a workload's real loop.

``TimedPass`` forks one OS process per task in processes mode (``os.fork`` after
``gc.freeze()``, so the interpreter's heap stays shared copy-on-write; each task works on its
own ``MM.fork()`` of the starting address space, as each will-it-scale process has its own
mm), or runs the tasks as threads of this process on the starting mm itself in threads mode
(sharing its mmap_lock; GIL-bound on a standard CPython). Tasks publish their counters in the
shared area of ``maple.bench.sampling`` and are sampled by its ``CounterSampler``.
"""

from __future__ import annotations

import gc
import os
import select
import signal
import threading
import time
import traceback
from typing import Any, Callable

from maple.bench.sampling import (
    _READY,
    CounterSampler,
    _Area,
    _read_error,
    _resolve_prctl,
    _send_error,
    _set_parent_death_signal,
)
from maple.errors import InputError
from maple.workloads.base import LoopWorkload


def _spin(loop: Callable[[Any, Any], int], mm: Any, state: Any, words: memoryview, slot: int) -> None:
    """The task's hot loop: step, publish the counter, until the stop flag is set."""
    count = 0
    while not words[0]:
        count += loop(mm, state)
        words[slot] = count


class TimedPass(CounterSampler):
    """One cell's timed measurement; use as a context manager (teardown on exit)."""

    def __init__(
        self,
        workload: LoopWorkload,
        start_mm: Any,
        mode: str,
        tasks: int,
        *,
        affinity: bool = True,
    ) -> None:
        super().__init__(tasks, _Area(tasks))
        self.workload = workload
        self.start_mm = start_mm
        self.mode = mode
        self.affinity = affinity
        self.pids: list[int] = []
        self.threads: list[threading.Thread] = []
        self.err_r, self.err_w = os.pipe()
        self.cpus = sorted(os.sched_getaffinity(0)) if affinity and hasattr(os, "sched_getaffinity") else []
        self._frozen = False

    # -- tasks ---------------------------------------------------------------------------

    def _bind(self, task: int) -> None:
        if self.cpus:
            os.sched_setaffinity(0, {self.cpus[task % len(self.cpus)]})

    def _task_body(self, task: int, mm: Any) -> None:
        words = self.area.words
        slot = self.area.slot(task)
        state = self.workload.setup(mm, task)
        words[slot + _READY] = 1
        select.select([self.go_r], [], [])  # the start barrier: one byte wakes every task
        _spin(self.workload.loop, mm, state, words, slot)

    def _child(self, task: int) -> int:
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
            os.close(self.err_r)
            os.close(self.go_w)
            _set_parent_death_signal(self.parent)
            self._bind(task)
            self._task_body(task, self.start_mm.fork())
            return 0
        except BaseException:
            _send_error(self.err_w, task, traceback.format_exc())
            return 1

    def _thread(self, task: int) -> None:
        try:
            self._bind(task)
            self._task_body(task, self.start_mm)
        except BaseException:
            self.area.words[0] = 1
            _send_error(self.err_w, task, traceback.format_exc())

    def start(self) -> None:
        """Create every task and wait until all are set up (each has set its ready flag)."""
        if self.mode == "processes":
            self.parent = os.getpid()
            _resolve_prctl()
            gc.collect()
            gc.freeze()
            self._frozen = True
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                for task in range(self.tasks):
                    pid = os.fork()
                    if pid == 0:  # pragma: no cover - runs in the child
                        code = 1
                        try:
                            code = self._child(task)
                        finally:
                            os._exit(code)
                    self.pids.append(pid)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            os.close(self.err_w)
            self.err_w = -1
        elif self.mode == "threads":
            from maple.mm.history import start_task_threads

            start_task_threads(self.start_mm, self.tasks)  # glibc's pthread_create per task
            for task in range(self.tasks):
                t = threading.Thread(target=self._thread, args=(task,), name=f"task-{task}", daemon=True)
                self.threads.append(t)
                t.start()
        else:
            raise InputError(f"unknown mode '{self.mode}'")
        self.wait_ready()

    # -- watching ------------------------------------------------------------------------

    def _failure_message(self) -> str:
        return _read_error(self.err_r) or self._reap_message() or "a task exited"

    def _reap_message(self) -> str | None:
        for i, pid in enumerate(self.pids):
            if pid <= 0:
                continue
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            self.pids[i] = -pid
            ready, _, _ = select.select([self.err_r], [], [], 0.2)
            if ready:
                msg = _read_error(self.err_r)
                if msg:
                    return msg
            if os.WIFSIGNALED(status):
                return f"task {i} (pid {pid}) was killed by signal {os.WTERMSIG(status)}"
            return f"task {i} (pid {pid}) exited with status {os.WEXITSTATUS(status)}"
        for i, t in enumerate(self.threads):
            if not t.is_alive():
                return f"task {i} (thread) stopped"
        return None

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every task: stop flag, SIGTERM and waitpid (processes), join (threads)."""
        try:
            self.area.words[0] = 1
            for pid in self.pids:
                if pid > 0:
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            for pid in self.pids:
                if pid > 0:
                    try:
                        os.waitpid(pid, 0)
                    except ChildProcessError:
                        pass
            if self.threads:
                try:
                    os.write(self.go_w, b"s")  # wake threads still waiting at the barrier
                except OSError:
                    pass
                deadline = time.monotonic() + 10.0
                for t in self.threads:
                    t.join(max(0.0, deadline - time.monotonic()))
        finally:
            self._close_fds()
            self.area.close()
            if self._frozen:
                gc.unfreeze()
