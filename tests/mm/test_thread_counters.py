"""Counters stay exact when threads fault on one mm concurrently (faults bump them under the
read lock, so each thread counts into its own object and ``counters`` sums them)."""

from __future__ import annotations

import sys
import threading

from mm_helpers import ANON, RW, P, check, new_mm

THREADS = 6
PER_THREAD = 3000
PAGES = 64


def test_concurrent_faults_are_all_counted(kind):
    mm = new_mm(kind)
    addr = mm.mmap(0, PAGES * P, RW, ANON)
    before = mm.counters
    start = threading.Barrier(THREADS)

    def run(t: int) -> None:
        start.wait()
        for i in range(PER_THREAD):
            mm.fault(addr + ((i * 7 + t) % PAGES) * P, write=(i + t) % 5 == 0)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
    finally:
        sys.setswitchinterval(old)
    c = mm.counters
    total = THREADS * PER_THREAD
    assert c["faults"] - before["faults"] == total
    # every fault either found a suitable PTE, or upgraded one, or mapped a new page
    assert c["pages_mapped"] - before["pages_mapped"] == PAGES
    assert c["minor_faults"] + c["pages_mapped"] - before["pages_mapped"] <= total
    assert len(mm.page_table) == PAGES
    # counts of exited threads persist, and the main thread's faults add to them
    mm.fault(addr, write=False)
    assert mm.counters["faults"] == c["faults"] + 1 and mm.counters["minor_faults"] == c["minor_faults"] + 1
    check(mm)


def test_fork_child_counts_its_own_faults(kind):
    mm = new_mm(kind)
    addr = mm.mmap(0, 4 * P, RW, ANON)
    for i in range(4):
        mm.fault(addr + i * P, write=True)
    child = mm.fork()
    c0 = child.counters
    assert c0["faults"] == 0 and c0["pages_mapped"] == 4  # the copied PTEs
    child.fault(addr, write=True)  # COW break in the child
    c1 = child.counters
    assert (c1["faults"], c1["cow_faults"], c1["pages_mapped"]) == (1, 1, 4)
    assert mm.counters["faults"] == 4 and mm.counters["cow_faults"] == 0
