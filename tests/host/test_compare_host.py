"""Host, maple and legacy cells of one run compare side by side in one table."""

from __future__ import annotations

import json

import cli_helpers
import pytest


def test_compare_puts_host_beside_the_simulated_mms(capsys, tmp_path, host_build):
    rc, out, err = cli_helpers.run_cli(
        capsys, "run", "brk1", "--mm", "host,maple,legacy", "--mode", "processes", "--procs", "1",
        "--samples", "2", "--warmup", "0", "--interval", "0.05", "--out", tmp_path, "--name", "r", "-q")
    assert rc == 0, err
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["host"]["compiler"]["binary"] == str(host_build.binary)

    rc, out, err = cli_helpers.run_cli(capsys, "compare", tmp_path / "r", "--format", "json")
    assert rc == 0, err
    assert "not in every run" not in err  # host cells have no counters, and that is no gap
    data = json.loads(out)
    assert [c["name"] for c in data["columns"]] == ["r-legacy", "r-maple", "r-host"]
    tables = {t["title"]: t for t in data["tables"]}
    hmean = [r for r in tables["will-it-scale"]["rows"] if r["statistic"] == "Hmean"]
    assert [r["operation"] for r in hmean] == ["brk1-processes-1"]
    values = [c["value"] for c in hmean[0]["cells"]]
    assert all(v > 0 for v in values)
    legacy, host = values[0], values[2]
    assert hmean[0]["cells"][2]["percent"] == pytest.approx((host - legacy) / legacy * 100)  # vs baseline
    counters = {(r["statistic"], r["operation"]): r["cells"] for r in tables["counters per op"]["rows"]}
    brk = counters[("brk_calls", "brk1-processes-1")]
    assert [c["value"] for c in brk] == [1.0, 1.0, None]  # host: a real kernel has no counters

    rc, text, err = cli_helpers.run_cli(capsys, "compare", tmp_path / "r")
    assert rc == 0
    header = text.splitlines()[1].split()
    assert header == ["legacy", "maple", "host"]
