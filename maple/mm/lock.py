"""``mmap_lock``: a FIFO-fair reader-writer semaphore with bounded lock stealing and handoff.

Mirrors the kernel's ``rw_semaphore`` (``kernel/locking/rwsem.c``, v6.x) as used for
``mm->mmap_lock``: any number of readers (page faults) or one writer (mmap, munmap, mprotect,
brk, fork, exit).

* A task that cannot take the lock at once joins one wait queue in arrival order. A reader
  arriving while anything waits queues too, so faults cannot starve an munmap.
* Releasing the lock serves the head of the queue (``rwsem_mark_wake``): the run of readers at
  the head is granted the lock together (ownership passes before they run); a writer at the
  head is woken to take it.
* A running writer may take a free lock ahead of a woken head writer (the kernel's optimistic
  spinner stealing it, ``rwsem_try_write_lock_unqueued``) -- but only until the head has waited
  ``handoff_after`` seconds (``RWSEM_WAIT_TIMEOUT``, 4 ms in the kernel). After that the
  release hands the lock straight to the head (``RWSEM_FLAG_HANDOFF``): the releaser cannot
  take it back, so no waiter waits much longer than that, whatever the GIL does.
  ``handoff_after=0`` hands over on every release: strict arrival order (the order the
  tests check), at the price of a thread switch per contended acquisition.

Why stealing is kept: under the GIL the releasing thread keeps running; with handoff on every
release each contended brk costs an OS thread wake-up, which made 8 threads on one mm about 3x
slower than one (maplebench brk2 threads, see docs/mm.md) and measured thread switching rather
than the VMA index. Without any handoff (the earlier semaphore) the releaser won every race
and a thread could get no turn for a whole sample.

The uncontended paths take one ``threading.Lock`` round trip; the clock is read only when
the queue is not empty. The kernel wakes up to 256 readers from anywhere in the queue when it
grants a reader batch; this semaphore grants only those up to the first queued writer, so
grants follow arrival order exactly. Not re-entrant: a syscall method takes the lock itself,
so callers must not hold it around one. ``*_trylock`` never steals (as in the kernel, it fails
while anyone waits).
"""

from __future__ import annotations

import threading
from collections import deque
from time import monotonic

__all__ = ["RWSemaphore", "RWSEM_WAIT_TIMEOUT"]

#: seconds a head writer may be overtaken before the lock is handed to it (the kernel's
#: ``RWSEM_WAIT_TIMEOUT``: 4 jiffies at HZ=1000)
RWSEM_WAIT_TIMEOUT = 0.004

_READ = False
_WRITE = True


class _Guard:
    __slots__ = ("_acquire", "_release")

    def __init__(self, acquire, release) -> None:
        self._acquire = acquire
        self._release = release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(self, *exc) -> None:
        self._release()


class _Waiter:
    """A queued task (``struct rwsem_waiter``): its kind, when it queued, and the lock it
    sleeps on (held until it is woken). ``granted``: it owns the lock; ``woken``: its wake
    lock was released and not yet consumed."""

    __slots__ = ("write", "since", "wake", "granted", "woken")

    def __init__(self, write: bool, since: float) -> None:
        self.write = write
        self.since = since
        self.wake = threading.Lock()
        self.wake.acquire()
        self.granted = False
        self.woken = False


class RWSemaphore:
    """FIFO-fair reader-writer semaphore: ``with sem.read():`` / ``with sem.write():``.

    ``down_read``/``up_read``/``down_write``/``up_write``/``downgrade_write`` and the
    ``*_trylock`` variants are the kernel-named primitives. ``handoff_after``: seconds a
    head writer may be overtaken by running writers before releases hand the lock to it
    (0: always hand over, strict FIFO).
    """

    __slots__ = ("_mutex", "_readers", "_writer", "_queue", "_read_guard", "_write_guard", "handoff_after")

    def __init__(self, handoff_after: float = RWSEM_WAIT_TIMEOUT) -> None:
        if not handoff_after >= 0:
            raise ValueError(f"handoff_after {handoff_after!r}: must be a number of seconds >= 0")
        self.handoff_after = handoff_after
        self._mutex = threading.Lock()
        self._readers = 0
        self._writer = False
        self._queue: deque[_Waiter] = deque()
        self._read_guard = _Guard(self.down_read, self.up_read)
        self._write_guard = _Guard(self.down_write, self.up_write)

    # ------------------------------------------------------------------ readers

    def down_read(self) -> None:
        """Take the lock for reading; queues behind a writer holding it or anyone waiting."""
        mutex = self._mutex
        mutex.acquire()
        if not self._writer and not self._queue:
            self._readers += 1
            mutex.release()
            return
        waiter = _Waiter(False, monotonic())
        self._queue.append(waiter)
        mutex.release()
        waiter.wake.acquire()  # readers are only ever woken with the lock granted

    def down_read_trylock(self) -> bool:
        """Take the lock for reading if that needs no wait (``down_read_trylock``)."""
        with self._mutex:
            if self._writer or self._queue:
                return False
            self._readers += 1
            return True

    def up_read(self) -> None:
        """Release a read hold; the last reader out serves the queued writer."""
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._queue:
                self._wake()

    # ------------------------------------------------------------------ writers

    def down_write(self) -> None:
        """Take the lock for writing: at once if it is free and nobody waits (or the head
        writer may still be overtaken), else queue until granted or woken to take it."""
        mutex = self._mutex
        mutex.acquire()
        if not self._writer and not self._readers:
            queue = self._queue
            if not queue or (self.handoff_after and monotonic() - queue[0].since < self.handoff_after):
                self._writer = True
                mutex.release()
                return
        waiter = _Waiter(True, monotonic())
        self._queue.append(waiter)
        mutex.release()
        wake = waiter.wake
        while True:
            wake.acquire()
            if waiter.granted:  # handed over: already the owner
                return
            with mutex:  # woken at the head of the queue with the lock left free
                if waiter.granted:  # overtaken, then handed the lock by the overtaker's release
                    return
                if not self._writer and not self._readers:
                    self._queue.popleft()
                    self._writer = True
                    return
                waiter.woken = False  # overtaken: sleep until the next release

    def down_write_trylock(self) -> bool:
        """Take the lock for writing if that needs no wait (``down_write_trylock``)."""
        with self._mutex:
            if self._writer or self._readers or self._queue:
                return False
            self._writer = True
            return True

    def up_write(self) -> None:
        """Release the write hold and serve the head of the queue, if any."""
        with self._mutex:
            self._writer = False
            if self._queue:
                self._wake()

    def downgrade_write(self) -> None:
        """``downgrade_write``: turn a held write lock into a read lock without a gap; the
        readers at the head of the queue join it."""
        with self._mutex:
            self._writer = False
            self._readers += 1
            queue = self._queue
            if queue and not queue[0].write:
                self._wake()

    def _wake(self) -> None:
        """``rwsem_mark_wake``, with the mutex held and no writer holding the lock: grant the
        readers at the head together; or, if no reader holds it, serve the head writer --
        hand it the lock once it has waited ``handoff_after``, else wake it to take it."""
        queue = self._queue
        head = queue[0]
        if head.write:
            if self._readers:
                return
            if not self.handoff_after or monotonic() - head.since >= self.handoff_after:
                queue.popleft()
                self._writer = True
                head.granted = True
            if not head.woken:
                head.woken = True
                head.wake.release()
            return
        woken = []
        while queue and not queue[0].write:
            woken.append(queue.popleft())
        self._readers += len(woken)
        for waiter in woken:
            waiter.granted = True
            waiter.woken = True
            waiter.wake.release()

    # ------------------------------------------------------------------ use and inspection

    def read(self) -> _Guard:
        """Context manager holding the lock for reading (``mmap_read_lock``)."""
        return self._read_guard

    def write(self) -> _Guard:
        """Context manager holding the lock for writing (``mmap_write_lock``)."""
        return self._write_guard

    @property
    def readers(self) -> int:
        """Number of readers holding the lock now."""
        return self._readers

    @property
    def locked_for_write(self) -> bool:
        """True while a writer holds the lock (including one it was just handed to)."""
        return self._writer

    @property
    def waiters(self) -> tuple[str, ...]:
        """The wait queue in arrival order, as ``"read"``/``"write"`` (head first)."""
        with self._mutex:
            return tuple("write" if w.write else "read" for w in self._queue)
