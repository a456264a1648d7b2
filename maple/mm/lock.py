"""``mmap_lock``: a reader-writer semaphore in which waiting writers are not starved.

Mirrors the kernel's ``rw_semaphore`` as used for ``mm->mmap_lock``: any number of readers
(page faults) or one writer (mmap, munmap, mprotect, brk, fork, exit). A reader arriving while
a writer waits queues behind it, so a stream of faults cannot starve an munmap. Not
re-entrant: a syscall method takes the lock itself, so callers must not hold it around one.
"""

from __future__ import annotations

import threading

__all__ = ["RWSemaphore"]


class _Guard:
    __slots__ = ("_acquire", "_release")

    def __init__(self, acquire, release) -> None:
        self._acquire = acquire
        self._release = release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(self, *exc) -> None:
        self._release()


class RWSemaphore:
    """Reader-writer semaphore: ``with sem.read():`` / ``with sem.write():``.

    ``down_read``/``up_read``/``down_write``/``up_write`` are the kernel-named primitives;
    the uncontended paths take one ``threading.Lock`` round trip.
    """

    __slots__ = ("_mutex", "_readers_ok", "_writer_ok", "_readers", "_writer", "_waiting_writers",
                 "_waiting_readers", "_read_guard", "_write_guard")

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._readers_ok = threading.Condition(self._mutex)
        self._writer_ok = threading.Condition(self._mutex)
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0
        self._waiting_readers = 0
        self._read_guard = _Guard(self.down_read, self.up_read)
        self._write_guard = _Guard(self.down_write, self.up_write)

    def down_read(self) -> None:
        """Take the lock for reading; waits while a writer holds or waits for it."""
        with self._mutex:
            if self._writer or self._waiting_writers:
                self._waiting_readers += 1
                wait = self._readers_ok.wait
                while self._writer or self._waiting_writers:
                    wait()
                self._waiting_readers -= 1
            self._readers += 1

    def up_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._waiting_writers:
                self._writer_ok.notify()

    def down_write(self) -> None:
        """Take the lock for writing; waits until no reader or writer holds it."""
        with self._mutex:
            if self._writer or self._readers:
                self._waiting_writers += 1
                wait = self._writer_ok.wait
                while self._writer or self._readers:
                    wait()
                self._waiting_writers -= 1
            self._writer = True

    def up_write(self) -> None:
        with self._mutex:
            self._writer = False
            if self._waiting_writers:
                self._writer_ok.notify()
            elif self._waiting_readers:
                self._readers_ok.notify_all()

    def downgrade_write(self) -> None:
        """``downgrade_write``: turn a held write lock into a read lock without a gap."""
        with self._mutex:
            self._writer = False
            self._readers += 1
            if not self._waiting_writers and self._waiting_readers:
                self._readers_ok.notify_all()

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
        return self._writer
