"""Run folders: atomic writes, statuses, refusing to clobber a complete run."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
from golden_runs import format1_run

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
    assert run.status == "complete" and run.meta["end_time"] == "t" and run.meta["format"] == 2
    assert run.meta["pid"] == os.getpid() and run.meta["hostname"]
    with pytest.raises(ValueError):
        w.finish("done")


def test_writer_refuses_complete_run_unless_forced(tmp_path):
    RunWriter(tmp_path / "r", {}).finish("complete")
    with pytest.raises(InputError, match="already holds a complete run"):
        RunWriter(tmp_path / "r", {})
    w = RunWriter(tmp_path / "r", {"name": "again"}, force=True)
    w.add_rows([_row(1)])
    # the replacement is written beside the old run, which stays whole until it completes
    assert json.loads((tmp_path / "r" / "meta.json").read_text()).get("name") is None
    assert w.finish("complete") == tmp_path / "r"
    assert load_run(tmp_path / "r").meta["name"] == "again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # the old run and temporaries gone


def test_replacement_that_does_not_complete_keeps_the_old_run(tmp_path):
    """Issue 12: `--force` deleted the old samples, then the new run failed."""
    old = RunWriter(tmp_path / "r", {"name": "old"})
    old.add_rows([_row(1, ops=7)])
    old.finish("complete")
    before = (tmp_path / "r" / "samples.csv").read_bytes()
    w = RunWriter(tmp_path / "r", {"name": "new"}, force=True)
    w.add_rows([_row(1, ops=9)])
    side = w.finish("failed", error="boom")
    assert (tmp_path / "r" / "samples.csv").read_bytes() == before
    assert load_run(tmp_path / "r").meta["name"] == "old"
    assert side.name.startswith("r-failed-") and side.parent == tmp_path
    assert list(load_run(side, allow_incomplete=True).samples["ops"]) == [9]


def test_writer_refuses_any_earlier_run_unless_forced(tmp_path):
    """Issue 12: running into an interrupted run's folder silently replaced its samples."""
    w = RunWriter(tmp_path / "r", {"name": "first", "options": {"workloads": ["brk1"]}})
    w.add_rows([_row(1)])
    w.finish("interrupted")
    before = (tmp_path / "r" / "samples.csv").read_bytes()
    with pytest.raises(InputError, match="already holds an interrupted run of brk1 .*--force"):
        RunWriter(tmp_path / "r", {"name": "second"})
    assert (tmp_path / "r" / "samples.csv").read_bytes() == before
    RunWriter(tmp_path / "r", {}, force=True).finish("complete")


def test_writer_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty and holds no maplebench run"):
        RunWriter(tmp_path / "mine", {})
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_second_writer_of_a_folder_is_refused(tmp_path):
    """Issue 12: two concurrent `run --name same` both reported success."""
    w = RunWriter(tmp_path / "r", {"name": "one"})
    with pytest.raises(InputError, match=f"in use by another maplebench run \\(pid {os.getpid()}"):
        RunWriter(tmp_path / "r", {"name": "two"}, force=True)
    w.add_rows([_row(1)])
    w.finish("complete")
    assert load_run(tmp_path / "r").meta["name"] == "one"


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


# ---------------------------------------------------------------------------- issue 12: load checks


def _complete(tmp_path, cells=(("maple", 2), ("legacy", 2)), per_cell=3, name="r"):
    """A complete run written as the runner writes it (meta.json lists what it must hold)."""
    expect = {"cells": [["brk1", mm, "processes", t] for mm, t in cells], "rows_per_cell": per_cell}
    w = RunWriter(tmp_path / name, {"name": name, "expect": expect})
    for mm, t in cells:
        w.add_rows([{**_row(s), "mm": mm, "tasks": t, "calls_per_op": 0.5} for s in range(1, per_cell + 1)])
    w.finish("complete")
    return tmp_path / name


def test_cut_samples_under_a_complete_meta_is_refused(tmp_path):
    """Issue 12: a samples.csv cut mid-row under a complete meta.json was compared silently."""
    folder = _complete(tmp_path)
    path = folder / "samples.csv"
    text = path.read_text()
    path.write_text(text[: len(text) - 9])  # cut inside the last row
    with pytest.raises(InputError, match="samples.csv line 7 has .* fields \\(the file ends mid-row\\)"):
        load_run(folder)


def test_cut_at_a_row_boundary_is_missing_rows(tmp_path):
    folder = _complete(tmp_path)
    path = folder / "samples.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]))  # whole rows lost: the file itself looks fine
    with pytest.raises(InputError, match="wrong row counts \\(expected 3 per cell\\): brk1 legacy processes 2 has 1"):
        load_run(folder)


def test_missing_cells_are_named(tmp_path):
    folder = _complete(tmp_path, cells=(("maple", 2), ("legacy", 2)))
    meta = json.loads((folder / "meta.json").read_text())
    meta["expect"]["cells"].append(["brk1", "maple", "threads", 4])
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="lacks 1 of 3 cells: brk1 maple threads 4"):
        load_run(folder)


@pytest.mark.parametrize("column,value,why", [
    ("ops", "-5", "'ops' is -5 \\(a negative"),
    ("ops", "inf", "'ops' is inf \\(not finite\\)"),
    ("ops", "nan", "has no measurement"),
    ("calls_per_op", "inf", "'calls_per_op' is inf"),
    ("ops", "many", "column 'ops' holds a non-number \\('many'\\)"),
])
def test_bad_values_are_refused(tmp_path, column, value, why):
    """Issue 12: negative ops gave Hmean 0.00 (0.00%), "no change" for a collapse."""
    folder = _complete(tmp_path)
    df = pd.read_csv(folder / "samples.csv")
    df[column] = df[column].astype(object)
    df.loc[4, column] = value
    df.to_csv(folder / "samples.csv", index=False)
    with pytest.raises(InputError, match=f"row 5 \\(brk1 legacy processes 2 sample 2\\).*{why}|{why}"):
        load_run(folder)


def test_interrupted_run_loses_only_its_cut_last_row(tmp_path):
    w = RunWriter(tmp_path / "r", {})
    w.add_rows([_row(1), _row(2)])
    w.finish("interrupted")
    with open(tmp_path / "r" / "samples.csv", "a") as fh:
        fh.write("brk1,maple,proc")  # the row a kill cut short
    run = load_run(tmp_path / "r", allow_incomplete=True)
    assert list(run.samples["sample"]) == [1, 2]
    assert any("cut" in n for n in run.notes)
    with pytest.raises(InputError, match="interrupted, not complete"):
        load_run(tmp_path / "r")


def test_rows_are_appended_durably_one_fsync_per_row(tmp_path, monkeypatch):
    """Issue 12: rows were written when a cell ended, so a kill lost the whole cell."""
    w = RunWriter(tmp_path / "r", {})
    w.add_rows([_row(1)])
    inode = os.stat(tmp_path / "r" / "samples.csv").st_ino
    synced = []
    real = os.fsync
    monkeypatch.setattr(results.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    w.add_rows([_row(2)])
    w.add_rows([_row(3)])
    assert len(synced) == 2  # one per row
    assert os.stat(tmp_path / "r" / "samples.csv").st_ino == inode  # appended, not rewritten
    assert list(pd.read_csv(tmp_path / "r" / "samples.csv")["sample"]) == [1, 2, 3]


def test_a_failed_append_is_cut_back_off(tmp_path, monkeypatch):
    """A full disk in the middle of a row leaves the rows before it, and no half row."""
    w = RunWriter(tmp_path / "r", {})
    w.add_rows([_row(1)])
    before = (tmp_path / "r" / "samples.csv").read_bytes()
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[:5]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results.os, "write", half_then_full)
    with pytest.raises(OSError, match="No space left on device") as exc:
        w.add_rows([_row(2)])
    monkeypatch.setattr(results.os, "write", real_write)
    assert exc.value.filename == str(tmp_path / "r" / "samples.csv")
    assert (tmp_path / "r" / "samples.csv").read_bytes() == before
    w.add_rows([_row(3)])
    w.finish("complete")
    assert list(load_run(tmp_path / "r").samples["sample"]) == [1, 3]


def test_stale_running_run_loads_as_interrupted(tmp_path):
    """Issue 12: after SIGKILL a run stayed "running" forever."""
    w = RunWriter(tmp_path / "r", {"name": "r"})
    w.add_rows([_row(1)])
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["status"] == "running"
    with pytest.raises(InputError, match="is running, not complete"):
        load_run(tmp_path / "r")  # its writer is alive and holds the lock
    w.close()  # the writer is gone (as after a kill): nobody holds the lock
    meta["pid"] = 2**22 + 12345  # above pid_max's default range: no such process
    (tmp_path / "r" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=f"is interrupted \\(its process {meta['pid']} on .* is gone\\)"):
        load_run(tmp_path / "r")
    run = load_run(tmp_path / "r", allow_incomplete=True)
    assert run.status == "interrupted" and len(run.samples) == 1


def _format1(tmp_path, name, interval, totals):
    """A run as maplebench wrote it before issue 12: ops per interval, no count/seconds."""
    return format1_run(tmp_path / name, interval, totals)


def test_format1_runs_are_converted_to_ops_per_second(tmp_path):
    """Issue 12: ops were per interval; a 1 s run against a 0.1 s run showed -90 %."""
    slow = load_run(_format1(tmp_path, "slow", 1.0, [100000, 101000, 99000]))
    quick = load_run(_format1(tmp_path, "quick", 0.1, [10000, 10100, 9900]))
    assert list(slow.samples["ops"]) == pytest.approx([100000, 101000, 99000])
    assert list(quick.samples["ops"]) == pytest.approx([100000, 101000, 99000])
    assert list(quick.samples["count"]) == [10000, 10100, 9900]
    assert (quick.samples["seconds"] == 0.1).all()
    assert any("converted to ops/s" in n for n in quick.notes)


def test_format1_without_an_interval_is_refused(tmp_path):
    folder = _format1(tmp_path, "old", 1.0, [5, 6])
    meta = json.loads((folder / "meta.json").read_text())
    del meta["options"]["interval"]
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="per sampling interval \\(format 1\\).*no usable interval"):
        load_run(folder)


def test_format1_is_checked_against_its_options(tmp_path):
    folder = _format1(tmp_path, "old", 1.0, [5, 6, 7])
    lines = (folder / "samples.csv").read_text().splitlines(keepends=True)
    (folder / "samples.csv").write_text("".join(lines[:-1]))
    with pytest.raises(InputError, match="brk1 maple processes 2 has 2"):
        load_run(folder)


def test_the_ci_baseline_still_loads():
    """baselines/ci (the CI gate's reference) loads under the new checks, in ops/s."""
    from pathlib import Path

    run = load_run(Path(__file__).parents[2] / "baselines" / "ci")
    df = run.samples
    assert len(df) == 4 * 2 * 2 * 2 * 3
    assert ((df["ops"] - df["count"] / df["seconds"]).abs() < 1e-6).all()
