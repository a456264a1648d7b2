"""will-it-scale's sampling, shared by every backend that counts real tasks' ops.

As will-it-scale's main.c: every task gets a 256-byte slot (``CACHELINE``) in a ``MAP_SHARED``
area (``_Area``; slot 0 holds the stop flag, task *i*'s counter is at slot *i* + 1 with its
ready flag next to it), tasks wait at a start barrier (a pipe), and the parent reads every
counter once per ``interval`` and yields will-it-scale's sample line: the total of the per-task
increments, their min and max, and the window's measured length (``CounterSampler.samples``).

The wall clock over a simulated mm (``maple.bench.wall.TimedPass``: Python tasks) and the
running kernel (``maple.host.backend.HostPass``: compiled testcases writing into the same area
on a memfd) both sample through this one implementation; the model clock
(``maple.clock.backend.ModelPass``) yields windows of virtual time instead. Each is a
``SampleSource``, the protocol the runner (``maple.bench.runner``) consumes.

Task failures travel to the parent as one atomic pipe write (``_send_error``) and surface as
``WorkerError``.
"""

from __future__ import annotations

import mmap
import os
import select
import signal
import struct
import sys
import time
from typing import Any, Iterator, Protocol, Sequence

#: will-it-scale's MAX_CACHELINE_SIZE: each task's counter sits alone in 256 bytes.
CACHELINE = 256
_WORD = 8
_STRIDE = CACHELINE // _WORD  # words per task slot
_READY = 1  # word offset of a task's "ready" flag inside its slot
_PIPE_BUF = 4096
_MSG = struct.Struct("=I")


class WorkerError(RuntimeError):
    """A task died; ``str()`` is the task's traceback (or how it died)."""


#: One will-it-scale sample: (total, min, max) of the per-task op counts in the window, and the
#: window's length in seconds (wall or virtual time).
Sample = tuple[int, int, int, float]


class SampleSource(Protocol):
    """Where a loop cell's timed samples come from (one runner, several backends).

    ``TimedPass`` (simulated mm, wall clock), ``maple.host`` (compiled testcases on the running
    kernel) and ``maple.clock`` (simulated mm, model clock) implement it. Used as a context
    manager: ``start()`` creates the tasks and waits until each is set up; ``samples(count,
    interval)`` opens the start barrier and yields ``count`` consecutive ``Sample`` windows;
    leaving the context stops and reaps every task.
    """

    def __enter__(self) -> "SampleSource": ...

    def __exit__(self, *exc: Any) -> None: ...

    def start(self) -> None: ...

    def samples(self, count: int, interval: float) -> Iterator[Sample]: ...


def _send_error(fd: int, task: int, text: str) -> None:
    """One atomic pipe write (<= PIPE_BUF) carrying a task's traceback tail."""
    data = f"task {task}: {text}".encode("utf-8", "replace")
    room = _PIPE_BUF - _MSG.size
    if len(data) > room:
        data = b"..." + data[-(room - 3):]
    try:
        os.write(fd, _MSG.pack(len(data)) + data)
    except OSError:
        pass


def _read_error(fd: int) -> str | None:
    """Read one framed message, or None at EOF."""
    head = os.read(fd, _MSG.size)
    if len(head) < _MSG.size:
        return None
    (length,) = _MSG.unpack(head)
    body = b""
    while len(body) < length:
        chunk = os.read(fd, length - len(body))
        if not chunk:
            break
        body += chunk
    return body.decode("utf-8", "replace")


_prctl: Any = None


def _resolve_prctl() -> Any:
    """libc's prctl, looked up once in the parent so that children need no ctypes work."""
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    return _prctl


def _set_parent_death_signal(parent: int) -> None:
    """prctl(PR_SET_PDEATHSIG, SIGTERM): a task never outlives the runner (will-it-scale's
    SIGALRM watchdog does the same job once a second)."""
    prctl = _resolve_prctl()
    if prctl:
        prctl(1, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the prctl took effect
        os._exit(1)


def sample_stats(now: Sequence[int], prev: Sequence[int], seconds: float) -> Sample:
    """will-it-scale's sample line: (total, min, max) of each task's increment since ``prev``,
    and the window's length in seconds."""
    diffs = [a - b for a, b in zip(now, prev)]
    return sum(diffs), min(diffs), max(diffs), seconds


class _Area:
    """The shared counter area: slot 0 = control (stop flag), slot i+1 = task i.

    ``memfd=True`` backs it with a memfd (``fd``) that another program inherits and maps
    ``MAP_SHARED`` (the host harness), so its tasks write into the slots read here.
    """

    def __init__(self, tasks: int, *, memfd: bool = False) -> None:
        size = (tasks + 1) * CACHELINE
        size = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE
        self.fd: int | None = None
        if memfd:
            self.fd = os.memfd_create("maplebench-counters", os.MFD_CLOEXEC)
            os.ftruncate(self.fd, size)
            self.map = mmap.mmap(self.fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        else:
            self.map = mmap.mmap(-1, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.words = memoryview(self.map).cast("Q")
        self.tasks = tasks

    def slot(self, task: int) -> int:
        return (task + 1) * _STRIDE

    def counts(self) -> list[int]:
        w = self.words
        return [w[(i + 1) * _STRIDE] for i in range(self.tasks)]

    def ready(self) -> int:
        w = self.words
        return sum(w[(i + 1) * _STRIDE + _READY] for i in range(self.tasks))

    def close(self) -> None:
        self.words.release()
        self.map.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class CounterSampler:
    """will-it-scale's sampling over a shared counter area, for every backend whose tasks
    really run: ``TimedPass`` (simulated mm) and ``maple.host.backend.HostPass`` (the running
    kernel). One copy of the sampling logic: ``release`` opens the start barrier (the ``go``
    pipe), ``samples`` reads the task counters from ``area``.

    A subclass creates the tasks in ``start`` (then calls ``wait_ready``), reports a failure
    when ``err_r`` becomes readable (``_failure_message``) or a task is found dead
    (``_reap_message``), and stops the tasks in ``close``.
    """

    def __init__(self, tasks: int, area: _Area) -> None:
        self.tasks = tasks
        self.area = area
        self.err_r = -1  # readable when a task failed; -1: none
        self.go_r, self.go_w = os.pipe()

    def close(self) -> None:
        """Stop and reap every task, free the area (each backend's own)."""
        raise NotImplementedError

    def __enter__(self) -> "CounterSampler":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def release(self) -> None:
        """Open the start barrier."""
        os.write(self.go_w, b"g")

    def wait_ready(self) -> None:
        """Wait until every task has set its ready flag (``WorkerError`` if one fails)."""
        while self.area.ready() < self.tasks:
            self._wait(0.01)

    def _failure_message(self) -> str:
        raise NotImplementedError

    def _reap_message(self) -> str | None:
        return None

    def _wait(self, timeout: float) -> None:
        """Sleep up to ``timeout``; raise ``WorkerError`` at once if a task fails."""
        if timeout > 0:
            watched = [self.err_r] if self.err_r >= 0 else []
            ready, _, _ = select.select(watched, [], [], timeout)
            if ready:
                raise WorkerError(self._failure_message())
        msg = self._reap_message()
        if msg:
            raise WorkerError(msg)

    def samples(self, count: int, interval: float) -> Iterator[Sample]:
        """Yield ``(total, min, max, seconds)`` of the per-task increments, every ``interval``
        seconds (``seconds`` is the window actually measured).

        As will-it-scale, each sample sleeps a full interval after the previous one was read
        (so a sampler delayed by the GIL never takes two samples back to back), and the first
        sample covers everything since the barrier opened.
        """
        self.release()
        prev = [0] * self.tasks
        then = time.monotonic()
        for _ in range(count):
            deadline = time.monotonic() + interval
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wait(left)
            self._wait(0)
            now = self.area.counts()
            stamp = time.monotonic()
            yield sample_stats(now, prev, stamp - then)
            prev, then = now, stamp

    def _close_fds(self) -> None:
        for name in ("err_r", "err_w", "go_r", "go_w"):
            fd = getattr(self, name, -1)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, -1)
