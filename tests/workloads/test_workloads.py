"""The registry, and one pass of page_fault1, page_fault2, mmap1 and mmap2."""

from __future__ import annotations

import pytest
from wis_helpers import KINDS, MODES, new_mm, spans, start_pass

from maple import workloads
from maple.bench import runner as R
from maple.errors import InputError
from maple.linux import MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE
from maple.workloads.base import LoopWorkload, TimedWorkload

MEMSIZE = 128 << 20
PAGES = MEMSIZE // PAGE_SIZE
WIS = ["brk1", "brk2", "malloc1", "mmap1", "mmap2", "page_fault1", "page_fault2", "page_fault3"]


def test_registry_names_and_classes():
    assert workloads.names()[: len(WIS)] == WIS
    assert {"kernbench", "trace"} <= set(workloads.names())
    for name in WIS:
        cls = workloads.workload_class(name)
        assert issubclass(cls, LoopWorkload) and cls.name == name and cls.kind == "loop"
        assert cls.description and cls.unit
        assert isinstance(workloads.get(name), cls)


def test_descriptions_are_will_it_scale_testcase_lines():
    expected = {
        "brk1": "brk increase/decrease of one page",
        "brk2": "brk unshared increase/decrease of one page",
        "malloc1": "malloc/free of 128MB",
        "mmap1": "Anonymous memory mmap/munmap of 128MB",
        "mmap2": "Separate file mmap/munmap of 128MB",
        "page_fault1": "Anonymous memory page fault",
        "page_fault2": "Separate file private mapping page fault",
        "page_fault3": "Separate file shared mapping page fault",
    }
    for name, text in expected.items():
        assert workloads.workload_class(name).description == text


def test_unknown_workload_names_the_value():
    with pytest.raises(InputError, match="unknown workload 'brk9'"):
        workloads.get("brk9")


def test_timed_workloads_register_when_present():
    for name in ("kernbench", "trace"):
        try:
            cls = workloads.workload_class(name)
        except InputError as exc:  # module not landed yet
            assert "not installed" in str(exc)
            continue
        assert issubclass(cls, TimedWorkload) and cls.kind == "timed"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name, flags, uses_file", [
    ("page_fault1", MAP_PRIVATE | MAP_ANONYMOUS, False),
    ("page_fault2", MAP_PRIVATE, True),
])
def test_page_fault_pass(kind, name, flags, uses_file):
    wl, mm, rec, state = start_pass(name, kind, "processes", task=3)
    before = spans(mm)
    total = sum(wl.loop(rec, state) for _ in range(wl.steps_per_loop))
    assert total == PAGES
    mmap_call = rec.log[0]
    assert mmap_call.name == "mmap" and mmap_call.args[:4] == (0, MEMSIZE, PROT_READ | PROT_WRITE, flags)
    assert (len(mmap_call.args) > 4 and mmap_call.args[4] is not None) == uses_file
    addr = mmap_call.result
    faults = [c for c in rec.log if c.name == "fault"]
    assert [c.args[0] for c in faults] == [addr + i * PAGE_SIZE for i in range(PAGES)]
    assert rec.log[-1][:2] == ("munmap", (addr, MEMSIZE))
    assert len(rec.log) == PAGES + 2
    assert spans(mm) == before
    mm.validate()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name, flags, uses_file", [
    ("mmap1", MAP_PRIVATE | MAP_ANONYMOUS, False),
    ("mmap2", MAP_PRIVATE, True),
])
def test_mmap_pass(kind, name, flags, uses_file):
    wl, mm, rec, state = start_pass(name, kind, "threads")
    before = spans(mm)
    assert wl.loop(rec, state) == 1
    assert [c.name for c in rec.log] == ["mmap", "munmap"]
    assert rec.log[0].args[:4] == (0, MEMSIZE, PROT_READ | PROT_WRITE, flags)
    assert (len(rec.log[0].args) > 4 and rec.log[0].args[4] is not None) == uses_file
    assert rec.log[1].args == (rec.log[0].result, MEMSIZE)
    assert spans(mm) == before
    mm.validate()


@pytest.mark.parametrize("name", WIS)
def test_deterministic_counters_are_repeatable(name):
    wl = workloads.get(name)
    tasks = 1 if wl.steps_per_loop > 1 else 2  # a page-fault pass is 32768 faults
    for mode in MODES:
        for kind in KINDS:
            a = R.deterministic_counters(wl, new_mm(kind), mode, tasks)
            b = R.deterministic_counters(wl, new_mm(kind), mode, tasks)
            assert a == b
            assert a["syscalls_per_op"] > 0


def test_processes_pass_equals_every_task():
    wl = workloads.get("brk1")
    one = R.deterministic_counters(wl, new_mm("legacy"), "processes", 3)
    three = R.deterministic_counters(wl, new_mm("legacy"), "processes", 3, simulate_tasks=3)
    assert one == three
