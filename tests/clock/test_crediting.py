"""Ops credited at call granularity (pro rata within a loop step, exact at step end), both modes;
the spinner/hand-off deadlock; no all-zero 1 ms windows on 2 modeled CPUs."""

from __future__ import annotations

import pytest

from maple.clock.backend import ModelPass
from maple.clock.profile import load_profile
from maple.clock.programs import ThreadTask, probe_step, record_cycle, spread_ops, warmup_steps
from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE
from maple.mm import make_mm


def test_spread_ops_is_pro_rata_and_exact():
    calls = [("mmap", [], 0)] + [("fault", [], 0)] * 512
    credits = [c[2] for c in spread_ops(calls, 512)]
    assert credits == [0] + [1] * 512  # the mmap completes no page; each fault one
    assert [c[2] for c in spread_ops([("brk", [], 0)] * 2, 2)] == [1, 1]
    assert [c[2] for c in spread_ops([("a", [], 0)] * 3, 2)] == [0, 1, 1]
    assert [c[2] for c in spread_ops([("a", [], 0)] * 4, 3)] == [0, 1, 1, 1]
    assert [c[2] for c in spread_ops([("a", [], 0)] * 2, 1)] == [0, 1]
    assert [c[2] for c in spread_ops([("a", [], 0)], 7)] == [7]


class Touch:
    """mmap 8 pages once, then steps of ``per_step`` write faults (one op per page) going
    round the region; ``ops`` overrides what a step returns (a list, one per step, cycled)."""

    name = "touch"
    steps_per_loop = 1
    det_warmup_loops = 1

    def __init__(self, per_step=4, ops=None):
        self.per_step = per_step
        self.ops = ops
        self.n = 0

    def setup(self, mm, task):
        return [mm.mmap(0, 8 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), 0]

    def loop(self, mm, state):
        for _ in range(self.per_step):
            mm.fault(state[0] + (state[1] % 8) * PAGE_SIZE, write=True)
            state[1] += 1
        ops = self.per_step if self.ops is None else self.ops[self.n % len(self.ops)]
        self.n += 1
        return ops


def _credits(task, calls):
    assert task.start() == "fault"
    out = []
    for _ in range(calls):
        _segs, ops, _next = task.execute()
        out.append(ops)
    task.close()
    return out


def test_thread_task_credits_each_call_after_the_first_step():
    mm = make_mm("maple")
    mm.events.enabled = True
    assert _credits(ThreadTask(Touch(), mm, 0), 12) == [0, 0, 0, 4] + [1] * 8


def test_thread_task_with_a_probed_estimate_credits_from_the_first_call():
    wl = Touch()
    estimate = probe_step(wl, make_mm("maple"))
    assert estimate == (4, 4)
    mm = make_mm("maple")
    mm.events.enabled = True
    assert _credits(ThreadTask(Touch(), mm, 0, estimate=estimate), 12) == [1] * 12


def test_thread_task_reconciles_exactly_at_step_end_and_never_decreases():
    mm = make_mm("maple")
    mm.events.enabled = True
    # steps of 4 calls returning 3, 8, 0, 4 ops: pro rata from the previous step, exact at ends
    # (after the task's untimed warm-up steps, whose ops are never credited)
    warm = warmup_steps(Touch())
    credits = _credits(ThreadTask(Touch(ops=[99] * warm + [3, 8, 0, 4]), mm, 0), 16)
    assert credits == [0, 0, 0, 3,   # first step: no estimate, all at its end
                       0, 1, 1, 6,   # estimate (3, 4): 0, 1, 2 credited ahead; exact 3 + 8 = 11
                       2, 2, 2, 0,   # estimate (8, 4): 2, 4, 6 ahead; the step returns 0: 17 > 11
                       0, 0, 0, 0]   # estimate (0, 4): nothing ahead; exact 15 < 17 credited
    running = [sum(credits[:k]) for k in range(1, 17)]
    assert running[3] == 3 and running[7] == 11  # exact at the ends of the first steps
    assert all(c >= 0 for c in credits)


def test_record_cycle_credits_per_call():
    wl = Touch()
    cyc = record_cycle(wl, make_mm("maple").fork())
    assert [ops for _n, _s, ops in cyc.calls] == [1] * len(cyc.calls)
    assert len(cyc.calls) == 4 * cyc.steps


def test_page_fault_cycle_credits_one_op_per_fault():
    from maple import workloads

    cyc = record_cycle(workloads.get("page_fault3"), make_mm("maple").fork())
    names = [n for n, _s, _o in cyc.calls]
    ops = [o for _n, _s, o in cyc.calls]
    assert sum(ops) == 32768 and len(cyc.calls) == 32768 + 2  # a whole pass: mmap, faults, munmap
    assert all(o == 1 for n, o in zip(names, ops) if n == "fault" and o != 0)
    assert ops.count(0) == 2 and names[ops.index(0)] == "mmap"


@pytest.mark.parametrize("name, mode, tasks", [
    ("page_fault3", "threads", 8), ("page_fault3", "processes", 8), ("malloc1", "threads", 8),
    ("page_fault1", "threads", 2), ("brk2", "threads", 8),
])
def test_no_all_zero_1ms_windows_on_2_cpus(name, mode, tasks):
    """page_fault3 threads 8 had zero windows (ops only at 512-fault step ends); malloc1 threads
    8 stopped at 4 ms (a spinner kept the CPU its hand-off owner waited for)."""
    from maple import workloads
    from maple.bench.runner import default_layout

    with ModelPass(workloads.get(name), make_mm("maple", layout=default_layout()), mode, tasks,
                   profile=load_profile("prior")) as mp:
        mp.cpus = 2
        mp.start()
        totals = [s[0] for s in mp.samples(12, 0.001)]
    assert min(totals) > 0, totals
