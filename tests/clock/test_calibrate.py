"""Calibration recovers a known profile from measurements generated with it."""

from __future__ import annotations

import pytest

from maple.clock.calibrate import Measurement, events_per_op, fit_profile, predict, split_half
from maple.clock.profile import load_profile
from maple.mm.events import Segment

#: a known "true" machine: the prior's costs scaled event by event (not uniformly)
FACTORS = {"syscall": 1.7, "mmap_lock": 0.6, "vma_alloc": 2.5, "vma_free": 0.4, "node_walk": 1.3,
           "node_write": 3.0, "rb_walk": 0.5, "pte_set": 1.9, "page_zero": 0.7, "fault": 1.2,
           "tlb_flush_local": 2.2, "anon_vma_lock": 0.8}
FREE = sorted(FACTORS)


def _cells():
    """Deterministic, linearly independent event mixes (more cells than free events)."""
    cells = []
    for i in range(2 * len(FREE)):
        ev = {}
        for j, e in enumerate(FREE):
            if (i + j) % 4:
                ev[e] = (1 + (i * 7 + j * 13 + i * j * 3) % 9) / (1 + i % 3)
        cells.append(ev)
    return cells


def test_fit_recovers_the_true_costs_from_exact_measurements():
    prior = load_profile("prior")
    true = prior.replace(**{e: prior.costs[e] * f for e, f in FACTORS.items()})
    ms = [Measurement(f"cell{i}", ev, sum(true.costs[e] * k for e, k in ev.items()))
          for i, ev in enumerate(_cells())]
    fit = fit_profile(ms, prior, prior_weight=0.0, free=FREE)
    for e in FREE:
        assert fit.profile.costs[e] == pytest.approx(true.costs[e], rel=1e-6), e
    assert all(abs(r[3]) < 1e-9 for r in fit.residuals)
    # events no cell exercises keep the prior
    assert fit.profile.costs["rb_rotate"] == prior.costs["rb_rotate"]


def test_regularised_fit_stays_close_and_reports_residuals():
    prior = load_profile("prior")
    true = prior.replace(**{e: prior.costs[e] * f for e, f in FACTORS.items()})
    ms = [Measurement(f"cell{i}", ev, sum(true.costs[e] * k for e, k in ev.items()) * (1.02 if i % 2 else 0.98))
          for i, ev in enumerate(_cells())]
    fit = fit_profile(ms, prior, free=FREE)  # default prior weight, 2% measurement noise
    # events that make a tenth of the time or more are pinned down by noisy measurements;
    # cheap ones are not (their share is within the noise)
    share = {e: sum(true.costs[e] * ev.get(e, 0) / m.ns_per_op for ev, m in zip(_cells(), ms)) / len(ms)
             for e in FREE}
    heavy = [e for e in FREE if share[e] >= 0.1]
    assert len(heavy) >= 3
    for e in heavy:
        assert fit.profile.costs[e] == pytest.approx(true.costs[e], rel=0.15), e
    assert fit.median_abs_error() < 0.03
    assert [r[0] for r in fit.residuals] == [m.label for m in ms]
    assert fit.residuals[0][2] == pytest.approx(predict(fit.profile, ms[0]))


def test_bounds_hold():
    prior = load_profile("prior")
    ms = [Measurement("a", {"syscall": 1.0}, prior.costs["syscall"] * 1000)]
    fit = fit_profile(ms, prior, prior_weight=0.0, spread=20.0)
    assert fit.profile.costs["syscall"] == pytest.approx(prior.costs["syscall"] * 20)


def test_events_per_op_averages_a_cycle():
    calls = [("brk", [Segment("none", None, {"syscall": 1}), Segment("write", None, {"vma_alloc": 1})], 1),
             ("brk", [Segment("none", None, {"syscall": 1}), Segment("write", None, {"vma_free": 1})], 1)]
    assert events_per_op(calls) == {"syscall": 1.0, "vma_alloc": 0.5, "vma_free": 0.5}


def test_split_half_is_by_testcase():
    fit, held = split_half(["brk1 processes 1", "brk2 threads 1", "mmap1 processes 2"], ["brk1", "brk2", "mmap1"])
    assert fit == ["brk1 processes 1", "mmap1 processes 2"] and held == ["brk2 threads 1"]


def test_calibrate_refuses_an_unwritable_out_before_measuring(capsys, tmp_path, monkeypatch):
    """A new user waited 1 min 45 s of measurements for `--out /proc/nope.json` to fail on
    its temporary name; it is one line now, before anything is measured, naming the value."""
    from cli_helpers import run_cli

    from maple.clock import calibrate as cal

    def measured(*a, **k):
        raise AssertionError("measured before refusing --out")

    monkeypatch.setattr(cal, "measure_benches", measured)
    code, _, err = run_cli(capsys, "calibrate", "--out", "/proc/nope.json")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("maplebench: error: --out '/proc/nope.json': cannot be written")
    code, _, err = run_cli(capsys, "calibrate", "--out", str(tmp_path / "missing" / "p.json"))
    assert code == 2 and "does not exist" in err and not (tmp_path / "missing").exists()


def test_calibrate_check_refuses_bad_values_before_measuring(capsys, monkeypatch, tmp_path):
    from cli_helpers import run_cli

    from maple.clock import calibrate as cal

    def measured(*a, **k):
        raise AssertionError("measured before refusing")

    monkeypatch.setattr(cal, "measure", measured)
    monkeypatch.setattr(cal, "measure_benches", measured)
    code, _, err = run_cli(capsys, "calibrate", "--check", "nope")
    assert code == 2 and err.count("\n") == 1 and "--check 'nope': no such profile" in err
    code, _, err = run_cli(capsys, "calibrate", "--prior", "nope")
    assert code == 2 and "--prior 'nope'" in err
    out = tmp_path / "p.json"
    code, _, err = run_cli(capsys, "calibrate", "--check", "default", "--out", str(out))
    assert code == 2 and "--check 'default'" in err and not out.exists()
    for extra, option in ((["--reps", "3"], "--reps"), (["--min-ms", "5"], "--min-ms"), (["--prior", "prior"], "--prior")):
        code, _, err = run_cli(capsys, "calibrate", "--check", "default", *extra)
        assert code == 2 and err.count("\n") == 1 and f"{option} is not used" in err
    code, _, err = run_cli(capsys, "calibrate", "--check", "default", "--workloads", ",")
    assert code == 2 and "--workloads ','" in err
    code, _, err = run_cli(capsys, "calibrate", "--reps", "0")
    assert code == 2 and err.strip() == "maplebench: error: --reps 0: must be positive"


def test_calibrate_check_prints_the_agreement_without_fitting(capsys, monkeypatch):
    """--check measures the host cells only (here a fake measurement) and models them with the
    named profile: no microbenchmark, no fit, nothing written."""
    import os

    from cli_helpers import run_cli

    from maple import workloads
    from maple.clock.profile import load_profile

    from maple.clock import calibrate as cal

    monkeypatch.setattr(cal, "measure_benches", lambda *a, **k: (_ for _ in ()).throw(AssertionError("fit")))
    cells = [cal.CellData("brk1 processes 1", "brk1", "processes", 1, 1e6, (1e6,), 1e6)]
    monkeypatch.setattr(cal, "measure", lambda *a, **k: cells)
    code, out, err = run_cli(capsys, "calibrate", "--check", "default", "--workloads", "brk1")
    assert code == 0, err
    assert "host agreement of profile 'default' (no fit)" in out
    line = next(l for l in out.splitlines() if l.strip().startswith("brk1 processes 1"))
    expected = cal.model_rate(workloads.get("brk1"), "processes", 1, load_profile("default"), "will-it-scale",
                              os.cpu_count() or 1)
    assert float(line.split()[4]) == pytest.approx(expected, rel=1e-3)
    assert "every cell (wall)" in out
    # the host's 1e6 is within 35% of the model's rate (about 0.9e6): the target line says met
    assert "target (wall: median <= 15%, none over 35%): met" in out
    cells[0] = cal.CellData("brk1 processes 1", "brk1", "processes", 1, 3e6, (3e6,), 3e6)
    code, out, err = run_cli(capsys, "calibrate", "--check", "default", "--workloads", "brk1")
    assert code == 0 and "missed (1 over: brk1 processes 1)" in out and "Run to run" in out
