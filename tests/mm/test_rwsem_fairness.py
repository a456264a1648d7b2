"""The mmap_lock semaphore is FIFO-fair with handoff, like the kernel's rwsem: waiters are
granted in arrival order (a run of readers together, a writer alone), and a releasing thread
cannot take the lock back ahead of them.

Determinism: each waiter thread is started only after the previous one is seen in the queue
(``sem.waiters``), so arrival order is known; grants are observed through what each thread
records once it holds the lock. No assertion depends on timing.
"""

from __future__ import annotations

import sys
import threading
import time

import pytest

from maple.mm.lock import RWSemaphore

TIMEOUT = 10.0


def wait_for(cond, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.0005)


class Task:
    """A thread that takes ``sem`` for ``kind``, records its name, then holds the lock until
    released by the test."""

    def __init__(self, sem: RWSemaphore, kind: str, name: str, log: list) -> None:
        self.sem, self.kind, self.name, self.log = sem, kind, name, log
        self.go = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        sem = self.sem
        (sem.down_write if self.kind == "write" else sem.down_read)()
        self.log.append(self.name)
        self.go.wait(TIMEOUT)
        (sem.up_write if self.kind == "write" else sem.up_read)()

    def start_queued(self) -> Task:
        """Start and wait until this task sits at the tail of the queue."""
        n = len(self.sem.waiters)
        self.thread.start()
        wait_for(lambda: len(self.sem.waiters) == n + 1, f"{self.name} to queue")
        assert self.sem.waiters[-1] == self.kind
        return self

    def finish(self) -> None:
        self.go.set()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


def test_waiters_are_granted_in_arrival_order_readers_in_batches():
    sem = RWSemaphore(handoff_after=0)
    log: list[str] = []
    sem.down_write()
    plan = [("read", "r1"), ("read", "r2"), ("write", "w3"), ("read", "r4"), ("write", "w5"), ("write", "w6")]
    tasks = [Task(sem, kind, name, log).start_queued() for kind, name in plan]
    t = {task.name: task for task in tasks}
    assert sem.waiters == ("read", "read", "write", "read", "write", "write")

    sem.up_write()  # hands the lock to r1 and r2 together
    wait_for(lambda: len(log) == 2, "the reader batch")
    assert sorted(log) == ["r1", "r2"] and sem.readers == 2 and not sem.locked_for_write
    assert sem.waiters == ("write", "read", "write", "write")
    # r4 does not join the readers: it arrived after the waiting writer w3
    assert not sem.down_read_trylock() and not sem.down_write_trylock()

    t["r1"].finish()
    assert sem.readers == 1 and log == log[:2]  # w3 waits for the last reader
    t["r2"].finish()  # the last reader out hands the lock to w3
    wait_for(lambda: len(log) == 3, "w3")
    assert log[2] == "w3" and sem.locked_for_write and sem.readers == 0
    for name, expect_next in (("w3", "r4"), ("r4", "w5"), ("w5", "w6"), ("w6", None)):
        n = len(log) + 1
        t[name].finish()
        if expect_next is not None:
            wait_for(lambda: len(log) == n, expect_next)
            assert log[-1] == expect_next
    assert sorted(log[:2]) == ["r1", "r2"] and log[2:] == ["w3", "r4", "w5", "w6"]
    assert sem.waiters == () and sem.readers == 0 and not sem.locked_for_write
    assert sem.down_write_trylock()
    sem.up_write()


@pytest.mark.parametrize("holder", ["write", "read"])
def test_releasing_thread_cannot_barge_ahead_of_a_waiting_writer(holder):
    sem = RWSemaphore(handoff_after=0)
    log: list[str] = []
    (sem.down_write if holder == "write" else sem.down_read)()
    w = Task(sem, "write", "w", log).start_queued()
    (sem.up_write if holder == "write" else sem.up_read)()
    # ownership passed at release, before the waiter ran: the releaser cannot take it back
    assert sem.locked_for_write
    assert not sem.down_write_trylock() and not sem.down_read_trylock()
    # a blocking re-acquire queues behind the waiter and gets the lock after it
    again = Task(sem, "write", "again", log).start_queued()
    wait_for(lambda: log == ["w"], "w")
    w.finish()
    wait_for(lambda: log == ["w", "again"], "the re-acquire")
    again.finish()
    assert sem.waiters == () and not sem.locked_for_write


def test_new_reader_queues_behind_a_waiting_writer_while_readers_hold():
    sem = RWSemaphore(handoff_after=0)
    log: list[str] = []
    sem.down_read()
    w = Task(sem, "write", "w", log).start_queued()
    assert not sem.down_read_trylock()
    r = Task(sem, "read", "r", log).start_queued()
    assert sem.waiters == ("write", "read") and sem.readers == 1 and log == []
    sem.up_read()
    wait_for(lambda: log == ["w"], "w")
    w.finish()
    wait_for(lambda: log == ["w", "r"], "r")
    r.finish()
    assert sem.readers == 0 and sem.waiters == ()


def test_downgrade_admits_the_readers_at_the_head_only():
    sem = RWSemaphore(handoff_after=0)
    log: list[str] = []
    sem.down_write()
    r1 = Task(sem, "read", "r1", log).start_queued()
    w2 = Task(sem, "write", "w2", log).start_queued()
    r3 = Task(sem, "read", "r3", log).start_queued()
    sem.downgrade_write()
    wait_for(lambda: log == ["r1"], "r1")
    assert sem.readers == 2 and sem.waiters == ("write", "read")
    sem.up_read()
    r1.finish()
    wait_for(lambda: log == ["r1", "w2"], "w2")
    w2.finish()
    wait_for(lambda: log == ["r1", "w2", "r3"], "r3")
    r3.finish()
    assert sem.readers == 0 and not sem.locked_for_write and sem.waiters == ()


def test_trylock_uncontended():
    sem = RWSemaphore(handoff_after=0)
    assert sem.down_read_trylock() and sem.down_read_trylock() and sem.readers == 2
    assert not sem.down_write_trylock()
    sem.up_read()
    sem.up_read()
    assert sem.down_write_trylock() and not sem.down_read_trylock()
    sem.up_write()
    assert sem.readers == 0 and not sem.locked_for_write


# ---------------------------------------------------------------- bounded stealing (the default)


def test_default_is_the_kernels_wait_timeout():
    from maple.mm.lock import RWSEM_WAIT_TIMEOUT

    assert RWSemaphore().handoff_after == RWSEM_WAIT_TIMEOUT == 0.004
    with pytest.raises(ValueError, match="-1"):
        RWSemaphore(handoff_after=-1)


def test_a_running_writer_may_overtake_a_fresh_head_writer():
    """Before the head has waited ``handoff_after``, a release only wakes it and the releasing
    thread may take the lock again (the kernel's optimistic-spinning steal). The GIL switch
    interval is raised so the woken thread cannot run in between."""
    sem = RWSemaphore(handoff_after=1e9)
    log: list[str] = []
    sem.down_write()
    w = Task(sem, "write", "w", log).start_queued()
    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        sem.up_write()
        assert not sem.locked_for_write  # woken, not handed over
        assert not sem.down_write_trylock()  # trylock never steals
        sem.down_write()  # but a blocking acquire does
        stole = sem.locked_for_write and log == []
    finally:
        sys.setswitchinterval(old)
    assert stole and sem.waiters == ("write",)
    sem.up_write()  # wakes w again; it takes the free lock
    wait_for(lambda: log == ["w"], "w")
    assert sem.locked_for_write and sem.waiters == ()
    w.finish()
    assert not sem.locked_for_write


def test_a_head_writer_that_waited_long_enough_is_handed_the_lock():
    sem = RWSemaphore(handoff_after=0.002)
    log: list[str] = []
    sem.down_write()
    w = Task(sem, "write", "w", log).start_queued()
    time.sleep(0.005)  # past handoff_after (ordering only, nothing timed is asserted)
    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        sem.up_write()
        handed = sem.locked_for_write and sem.waiters == () and log == []
    finally:
        sys.setswitchinterval(old)
    assert handed  # owned by w before it even ran: the releaser cannot take it back
    wait_for(lambda: log == ["w"], "w")
    w.finish()
    assert not sem.locked_for_write and sem.readers == 0


@pytest.mark.parametrize("handoff_after", [0, 0.0005, 0.004, 1e9])
def test_threads_hammering_keep_exclusion_and_all_finish(handoff_after):
    """Readers and writers in 6 threads: never a writer alongside anyone, every acquisition
    completes (no lost wake-up), the semaphore ends idle."""
    sem = RWSemaphore(handoff_after=handoff_after)
    state = {"readers": 0, "writers": 0, "bad": 0}
    guard = threading.Lock()
    done = []

    def run(i: int) -> None:
        for n in range(300):
            write = (i + n) % 3 == 0
            (sem.down_write if write else sem.down_read)()
            with guard:
                if write:
                    state["writers"] += 1
                    state["bad"] += state["writers"] > 1 or state["readers"] > 0
                else:
                    state["readers"] += 1
                    state["bad"] += state["writers"] > 0
            if n % 17 == 0:
                time.sleep(0)  # let the GIL move mid-hold
            with guard:
                state["writers" if write else "readers"] -= 1
            (sem.up_write if write else sem.up_read)()
        done.append(i)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(done) == list(range(6)), "a thread never got the lock (lost wake-up)"
    assert state == {"readers": 0, "writers": 0, "bad": 0}
    assert sem.readers == 0 and not sem.locked_for_write and sem.waiters == ()
