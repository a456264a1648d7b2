"""Calibration microbenchmarks: their model side, output parsing, the fitting rules, the
separate build, and one real host run."""

from __future__ import annotations

import os
import sys

import pytest

from maple.clock import calibrate as cal
from maple.clock.calibrate import Bench, HostTiming, parse_micro_output


def test_parse_micro_output_takes_the_median_per_op():
    text = ("rep -1 ops 10 cpu_ns 99999 wall_ns 99999 minflt 0\n"  # a warm-up repetition: ignored
            "rep 0 ops 100 cpu_ns 13000 wall_ns 20000 minflt 0\n"
            "rep 1 ops 200 cpu_ns 24000 wall_ns 30000 minflt 2\n"
            "rep 2 ops 100 cpu_ns 50000 wall_ns 90000 minflt 0\n")
    t = parse_micro_output("getppid", text)
    assert t.reps == (130.0, 120.0, 500.0)
    assert t.wall_reps == (200.0, 150.0, 900.0)
    assert t.ns_per_op == 130.0
    assert t.faults_per_op == 0.0
    assert t.spread == pytest.approx((500 - 120) / 130)
    with pytest.raises(ValueError, match="no measurement"):
        parse_micro_output("brk", "garbage\n")


def test_micro_events_come_from_the_simulated_calls():
    assert cal.micro_events("getppid", None) == {"syscall": 1.0}
    brk = cal.micro_events("brk", "python")
    assert brk["syscall"] == 2.0 and brk["mmap_lock"] == 2.0
    assert "fault" not in brk
    anon = cal.micro_events("anon_fault", "python")
    assert anon["fault"] == 1.0 and anon["page_zero"] == 1.0 and anon["pte_set"] == 1.0
    assert anon["syscall"] == pytest.approx(2 / cal.MICRO_PAGES)  # mmap + munmap per 256 pages
    shared = cal.micro_events("file_shared_fault", "python")
    assert shared["page_cache_hit"] == 1.0 and shared["page_mkwrite"] == 1.0 and "page_zero" not in shared
    private = cal.micro_events("file_private_fault", "python")
    assert private["page_copy"] == 1.0
    mprotect = cal.micro_events("mprotect", "python")
    assert mprotect["syscall"] == 2.0 and mprotect["vma_dup"] == 2.0  # split in two places


def test_unmap_touched_is_one_fault_one_zap_one_flush():
    ev = cal.micro_events("unmap_touched")
    assert ev["syscall"] == 2.0 and ev["do_mmap"] == 1.0
    assert ev["fault"] == 1.0 and ev["page_zero"] == 1.0 and ev["pte_set"] == 1.0
    assert ev["pte_zap"] == 1.0 and ev["tlb_flush_local"] == 1.0
    assert "tlb_shootdown" not in ev  # one user: the sleeping -T main thread is priced apart


def test_shootdown_costs_are_differences_of_the_three_runs():
    sd = cal.Shootdown(alone=7000.0, sleeping=7150.0, spinning=16500.0)
    assert sd.tlb_shootdown == 150.0  # another user, no other CPU running the mm
    assert sd.ipi_ns == 9350.0  # each other CPU running it
    noisy = cal.Shootdown(alone=7200.0, sleeping=7100.0, spinning=7000.0)
    assert noisy.tlb_shootdown == 0.0 and noisy.ipi_ns == 0.0  # never negative


def _bench(host_faults, model_faults, testcase=None):
    events = {"fault": model_faults} if model_faults else {"syscall": 1.0}
    return Bench("x", HostTiming("x", 100.0, (100.0,), host_faults), events, testcase)


def test_cells_whose_host_fault_count_differs_are_not_fitted():
    assert _bench(1.0, 1.0).fits
    assert _bench(1.05, 1.0).fits
    assert not _bench(0.0846, 1.0).fits  # page_fault3 on ext4 large folios: one fault per ~12 pages
    assert "0.085 page faults per op, model 1.000" in _bench(0.0846, 1.0).why_not
    assert _bench(0.0, 0.0).fits and not _bench(0.5, 0.0).fits
    b = _bench(1.0, 1.0, "brk1")
    b.unmodeled = "brk in a multi-threaded mm"
    assert not b.fits and b.why_not == "brk in a multi-threaded mm"


def test_harness_and_microbenchmarks_build_from_separate_mains():
    from maple.host import compiler

    harness, micro = compiler.sources("harness"), compiler.sources("micro")
    assert "harness.c" in harness and "microbench.c" not in harness
    assert "microbench.c" in micro and "harness.c" not in micro
    assert "brk1.c" in harness and "brk1.c" in micro and "harness.h" in micro
    assert compiler.sources() == harness


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the host backend needs Linux")
def test_microbenchmark_runs_on_the_host(tmp_path, monkeypatch):
    from maple.host import compiler

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    try:
        compiler.find_compiler()
    except Exception as exc:
        pytest.skip(f"no C compiler: {exc}")
    t = cal.host_timing("getppid", reps=3, min_ms=1.0)
    assert len(t.reps) == 3 and t.ns_per_op > 0 and t.faults_per_op < 0.01
    f = cal.host_timing("anon_fault", reps=1, min_ms=1.0)
    assert f.faults_per_op == pytest.approx(1.0, abs=0.01)  # one first-touch fault per page
    w = cal.host_timing("wis:brk1:processes", reps=1, min_ms=1.0)
    assert w.ns_per_op > 0 and w.faults_per_op < 0.01
    if (os.cpu_count() or 1) >= 2:
        line = cal.host_timing("cacheline", reps=1)
        assert len(line.wall_reps) == 1 and line.wall_reps[0] > 0
        # the peer spins on CPU 1 in the same mm: every munmap's flush must interrupt it
        shoot = cal.host_timing("shootdown", reps=1, min_ms=1.0)
        assert shoot.ns_per_op > 0 and shoot.faults_per_op == pytest.approx(1.0, abs=0.01)
    with pytest.raises(RuntimeError, match="unknown benchmark"):
        cal.host_timing("nope", reps=1, min_ms=1.0)


def test_micro_models_start_from_the_micros_own_history():
    """brk without -T: the micro never malloc'ed, so each grow makes a VMA of its own (as on
    the host); with -T the first thread's calloc made [heap] and the pair grows and shrinks
    it with maple spanning stores (node copies and RCU frees; perf on the host:
    mas_wr_spanning_store in both), which the prior's costs price above BRK_MT_LIMIT."""
    from maple.clock.profile import load_profile

    single = cal.micro_events("brk")
    multi = cal.micro_events("brk", threaded=True)
    assert single["vma_alloc"] == 1 and "vma_alloc" not in multi
    assert multi["node_copy"] >= 4 and multi["node_free_rcu"] >= 4
    host, model = cal.brk_mt_ratios(1000.0, 2580.0, load_profile("prior"))
    assert host == pytest.approx(2.58) and model > cal.BRK_MT_LIMIT
