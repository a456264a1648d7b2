"""Run folders: atomic writes, statuses, refusing to clobber a complete run."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from maple.bench import results
from maple.bench.results import RunWriter, atomic_write_text, has_complete_run, load_run
from maple.errors import InputError


def _row(sample, ops=100, **kw):
    return {"workload": "brk1", "mm": "maple", "mode": "processes", "tasks": 2, "sample": sample,
            "ops": ops, "min": ops // 2, "max": ops - ops // 2, **kw}


def test_atomic_write_crash_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "samples.csv"
    atomic_write_text(target, "old,complete\n")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results.os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new," + "x" * 100000)
    assert target.read_text() == "old,complete\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.csv"]


def test_atomic_write_interrupted_mid_write(tmp_path, monkeypatch):
    target = tmp_path / "meta.json"
    atomic_write_text(target, '{"status": "running"}\n')
    real_fsync = os.fsync

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(results.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, '{"status": "complete"}\n')
    monkeypatch.setattr(results.os, "fsync", real_fsync)
    assert json.loads(target.read_text()) == {"status": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_writer_lifecycle(tmp_path):
    w = RunWriter(tmp_path / "r", {"name": "r", "argv": ["x"]})
    assert json.loads((tmp_path / "r" / "meta.json").read_text())["status"] == "running"
    assert not has_complete_run(tmp_path / "r")
    w.add_rows([_row(1), _row(2)])
    w.add_rows([_row(3, calls_per_op=0.5)])
    df = pd.read_csv(tmp_path / "r" / "samples.csv")
    assert list(df["sample"]) == [1, 2, 3]
    assert df["calls_per_op"].isna().tolist() == [True, True, False]
    w.finish("complete", end_time="t")
    run = load_run(tmp_path / "r")
    assert run.status == "complete" and run.meta["end_time"] == "t" and run.meta["format"] == 1
    with pytest.raises(ValueError):
        w.finish("done")


def test_writer_refuses_complete_run_unless_forced(tmp_path):
    RunWriter(tmp_path / "r", {}).finish("complete")
    with pytest.raises(InputError, match="already holds a complete run"):
        RunWriter(tmp_path / "r", {})
    w = RunWriter(tmp_path / "r", {"name": "again"}, force=True)
    assert not (tmp_path / "r" / "samples.csv").exists()  # old samples never mix with new ones
    w.finish("complete")
    assert load_run(tmp_path / "r").meta["name"] == "again"


def test_writer_reuses_an_incomplete_folder(tmp_path):
    RunWriter(tmp_path / "r", {}).finish("interrupted")
    RunWriter(tmp_path / "r", {}).finish("complete")


def test_writer_unwritable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="not writable|not a folder"):
        RunWriter(blocker / "r", {})
    with pytest.raises(InputError, match="not a folder"):
        RunWriter(blocker, {})


def test_load_run_rejects_incomplete_unless_allowed(tmp_path):
    w = RunWriter(tmp_path / "r", {})
    w.add_rows([_row(1)])
    w.finish("failed", error="boom")
    with pytest.raises(InputError, match="failed, not complete"):
        load_run(tmp_path / "r")
    assert load_run(tmp_path / "r", allow_incomplete=True).meta["error"] == "boom"
