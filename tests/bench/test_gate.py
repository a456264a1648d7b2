"""The regression gate: verdicts, thresholds, counters, and the atomic baseline update."""

from __future__ import annotations

import json
import math

import golden_runs as runs
import pytest

from maple.bench.gate import counter_growth, gate, parse_threshold, report, update_baseline
from maple.bench.results import load_run
from maple.errors import InputError


def _run(tmp_path, name, totals, counters=None, mm="maple"):
    rows = runs.loop_rows("brk1", mm, "processes", 2, totals, counters)
    return load_run(runs.write_run(tmp_path / name, name, rows))


def _scaled(factor, jitter=0.02):
    """n = 15 totals around 1e6*factor with a CoV of about ``jitter``."""
    offsets = [-7, 3, -1, 5, -4, 6, 0, -6, 2, 7, -3, 1, -5, 4, -2]
    return [round(1e6 * factor * (1 + jitter * o / 4.5)) for o in offsets]


def test_identical_runs_pass(tmp_path):
    base, new = runs.reference_pair(tmp_path)
    result = gate(load_run(base), load_run(base))
    assert not result.failed and result.findings
    assert report(result).startswith("gate: OK: no regression beyond 5%")


def test_significant_throughput_drop_fails(tmp_path):
    base, new = runs.reference_pair(tmp_path)
    result = gate(load_run(base), load_run(new))
    assert result.failed
    [reg] = result.regressions  # brk1 -33.74 %; malloc1 improved, kernbench within 5 %
    assert (reg.mm, reg.statistic, reg.operation) == ("maple", "Hmean", "brk1-processes-2")
    assert reg.change == pytest.approx(-33.74, abs=0.005) and reg.significant
    text = report(result)
    assert "gate: FAIL: 1 regression(s)" in text and "brk1-processes-2" in text and "-33.74%" in text
    # the other way round brk1 improved, and the counters grew: only counters regress
    back = gate(load_run(new), load_run(base))
    assert {r.table for r in back.regressions} == {"counters per op"}


def test_threshold_and_significance_both_required(tmp_path):
    base = _run(tmp_path, "base", _scaled(1.00))
    small = _run(tmp_path, "small", _scaled(0.97))  # -3 %, significant, within 5 %
    assert not gate(base, small).failed
    assert gate(base, small, threshold=2).failed
    big_noisy = _run(tmp_path, "noisy", [1_180_000, 760_000, 1_050_000, 830_000])  # -7.4 %, noisy
    [finding] = gate(base, big_noisy).findings
    assert finding.change < -7 and finding.significant is False
    assert not gate(base, big_noisy).failed  # not significant: noise cannot fail the gate
    big = _run(tmp_path, "big", _scaled(0.93))
    assert gate(base, big).failed
    with pytest.raises(InputError, match="no counter in common"):
        gate(base, big, only="counters")


def test_counters_are_exact(tmp_path):
    base = _run(tmp_path, "base", _scaled(1.0), {"nodes_visited": 20.0, "nodes_freed": 0.0})
    grew = _run(tmp_path, "grew", _scaled(1.0), {"nodes_visited": 21.2, "nodes_freed": 0.0})
    assert gate(base, grew).failed  # +6 % > 5 %
    assert not gate(base, grew, threshold=6.5).failed
    assert not gate(base, grew, only="throughput").failed
    freed = _run(tmp_path, "freed", _scaled(1.0), {"nodes_visited": 20.0, "nodes_freed": 0.5})
    [reg] = gate(base, freed, threshold=50).regressions  # from 0: any growth regresses
    assert reg.statistic == "nodes_freed" and math.isinf(reg.change)
    fewer = _run(tmp_path, "fewer", _scaled(1.0), {"nodes_visited": 2.0, "nodes_freed": 0.0})
    assert not gate(base, fewer).failed


def test_gate_pairs_mms(tmp_path):
    base = load_run(runs.reference_single(tmp_path, "both"))
    legacy_only = _run(tmp_path, "legacy", runs.BRK1_BASE, mm="legacy")
    result = gate(base, legacy_only, allow_partial=True)
    assert {f.mm for f in result.findings} == {"legacy"} and not result.failed
    other = _run(tmp_path, "other", runs.BRK1_BASE, mm="other")
    with pytest.raises(InputError, match="no mm in common"):
        gate(base, other)


def test_counter_growth():
    assert counter_growth(10, 11) == pytest.approx(10.0)
    assert counter_growth(0, 0) == 0.0 and counter_growth(0, 1) == math.inf
    assert counter_growth(4, 2) == -50.0


@pytest.mark.parametrize("text,value", [("5", 5.0), ("2.5%", 2.5), (" 0 ", 0.0), (7, 7.0)])
def test_parse_threshold(text, value):
    assert parse_threshold(text) == value


@pytest.mark.parametrize("text", ["x", "-1", "nan", "inf", "", "5%%"])
def test_parse_threshold_rejects(text):
    with pytest.raises(InputError, match="--threshold"):
        parse_threshold(text)


def test_update_creates_and_replaces(tmp_path):
    base, new = runs.reference_pair(tmp_path)
    dst = tmp_path / "baselines" / "ci"
    update_baseline(base, dst)
    assert json.loads((dst / "meta.json").read_text())["name"] == "6.8.0-base"
    assert (dst / "samples.csv").read_bytes() == (base / "samples.csv").read_bytes()
    update_baseline(new, dst)
    assert json.loads((dst / "meta.json").read_text())["name"] == "6.8.0-patched"
    assert sorted(p.name for p in dst.parent.iterdir()) == ["ci"]  # no temporary left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    update_baseline(base, empty)
    assert (empty / "meta.json").exists()


def test_update_refuses_to_clobber(tmp_path):
    base, _ = runs.reference_pair(tmp_path)
    afile = tmp_path / "notes.txt"
    afile.write_text("keep me")
    with pytest.raises(InputError, match="is a file"):
        update_baseline(base, afile)
    assert afile.read_text() == "keep me"
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "main.c").write_text("int main;")
    with pytest.raises(InputError, match="not a maplebench run"):
        update_baseline(base, folder)
    assert (folder / "main.c").read_text() == "int main;"
    with pytest.raises(InputError, match="same folder"):
        update_baseline(base, base)
    failed = runs.write_run(tmp_path / "failed", "failed",
                            runs.loop_rows("brk1", "maple", "processes", 2, [1, 2]), status="failed")
    with pytest.raises(InputError, match="is failed, not complete"):
        update_baseline(failed, tmp_path / "new-baseline")
    assert not (tmp_path / "new-baseline").exists()


def test_stalled_interval_regresses(tmp_path):
    base = _run(tmp_path, "base", _scaled(1.0))
    stalled = _run(tmp_path, "stalled", _scaled(1.0)[:-1] + [0])
    [reg] = gate(base, stalled, threshold=50).regressions
    assert math.isnan(reg.current) and reg.regressed
    assert "undefined mean (a sample <= 0)" in report(gate(base, stalled))
    assert not gate(stalled, stalled).failed  # undefined on both sides: nothing to compare


def test_corrupt_current_is_reported_not_skipped(tmp_path):
    base = _run(tmp_path, "base", _scaled(1.0))
    bad = runs.write_run(tmp_path / "bad", "bad", runs.loop_rows("brk1", "maple", "processes", 2, _scaled(1.0)))
    text = (bad / "samples.csv").read_text().replace(f",{_scaled(1.0)[3]},", ",oops,", 1)
    (bad / "samples.csv").write_text(text)
    with pytest.raises(InputError, match="column 'ops' holds a non-number"):
        gate(base, load_run(bad))


# ---------------------------------------------------------------------------- issue 12: coverage


def test_partial_coverage_fails_and_names_the_cells(tmp_path):
    """Issue 12: a run with both mms gated against one with only maple said OK with no note."""
    both = load_run(runs.reference_single(tmp_path, "both"))
    maple_only = load_run(runs.write_run(tmp_path / "m", "m", runs.reference_rows("maple", new=True)))
    result = gate(both, maple_only, only="counters")
    assert result.failed and not result.regressions
    assert result.uncovered == ["brk1 legacy processes 2 (baseline only)",
                                "malloc1 legacy processes 2 (baseline only)",
                                "kernbench legacy processes 2 (baseline only)"]
    text = report(result)
    assert text.startswith("gate: FAIL: 3 cell(s) not in both runs, so not gated: brk1 legacy processes 2 "
                           "(baseline only), malloc1 legacy")
    assert "--allow-partial" in text
    ok = gate(both, maple_only, only="counters", allow_partial=True)
    assert not ok.failed and report(ok).startswith("gate: OK")
    assert "gate: note: 3 cell(s) not in both runs were not gated (--allow-partial)" in report(ok)


def test_cells_only_in_the_current_run_are_uncovered_too(tmp_path):
    base = _run(tmp_path, "base", _scaled(1.0))
    rows = runs.loop_rows("brk1", "maple", "processes", 2, _scaled(1.0))
    rows += runs.loop_rows("brk1", "maple", "processes", 4, _scaled(1.5))
    more = load_run(runs.write_run(tmp_path / "more", "more", rows))
    result = gate(base, more)
    assert result.uncovered == ["brk1 maple processes 4 (current only)"] and result.failed


def test_throughput_in_ops_per_second_gates_across_intervals(tmp_path):
    """Issue 12: a 1 s run against a 0.1 s run of the same speed failed 4 cells (-90 %)."""
    from maple.bench import runner as R

    def rows(interval):
        out = []
        for i, per_second in enumerate(_scaled(1.0), 1):
            total = round(per_second * interval)
            out.append({"workload": "brk1", "mm": "maple", "mode": "processes", "tasks": 2, "sample": i,
                        **R.throughput(total, total // 2, total - total // 2, interval)})
        return out

    slow = load_run(runs.write_run(tmp_path / "slow", "slow", rows(1.0)))
    quick = load_run(runs.write_run(tmp_path / "quick", "quick", rows(0.1)))
    result = gate(slow, quick, only="throughput")
    [hmean] = [f for f in result.findings if f.statistic == "Hmean"]
    assert abs(hmean.change) < 0.01 and not result.failed


def test_throughput_across_clocks_is_refused(tmp_path):
    base = _run(tmp_path, "base", _scaled(1.0), runs.BASE_COUNTERS)
    model = _run(tmp_path, "model", _scaled(1.0), runs.BASE_COUNTERS)
    model.meta["clock"] = "model"
    with pytest.raises(InputError, match="wall clock.*model clock.*--only counters"):
        gate(base, model)
    assert not gate(base, model, only="counters").failed  # counters do not depend on a clock
