"""``maplebench run``: bad input exits 2 with one line; a quick run; Ctrl-C; --force."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import run_cli

from maple.bench.results import RunWriter, load_run


@pytest.mark.parametrize(
    "argv, named",
    [
        (["brk3"], "brk3"),
        (["brk1", "--mm", "maple,btree"], "btree"),
        (["brk1", "--mode", "fibres"], "fibres"),
        (["brk1", "--procs", "0..4"], "0..4"),
        (["brk1", "--procs", "8..2"], "8..2"),
        (["brk1", "--procs", "abc"], "abc"),
        (["brk1", "--procs", "2..8:x1"], "x1"),
        (["brk1", "--procs", "2..8:+0"], "+0"),
        (["brk1", "--samples", "0"], "--samples '0'"),
        (["brk1", "--samples", "-3"], "--samples '-3'"),
        (["brk1", "--samples", "many"], "many"),
        (["brk1", "--interval", "0"], "--interval '0"),
        (["brk1", "--interval", "-1"], "--interval '-1"),
        (["brk1", "--warmup", "-1"], "--warmup '-1"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, argv, named):
    code, out, err = run_cli(capsys, "run", *argv, "--out", str(tmp_path), "--quiet")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("maplebench: error:")
    assert named in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_no_workload_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "run")
    assert code == 2 and err.count("\n") == 1


def test_refuses_folder_with_complete_run_unless_force(capsys, tmp_path):
    RunWriter(tmp_path / "done", {"name": "done"}).finish("complete")
    before = (tmp_path / "done" / "meta.json").read_text()
    code, _, err = run_cli(capsys, "run", "brk1", "--out", str(tmp_path), "--name", "done", "--quiet")
    assert code == 2 and err.count("\n") == 1 and "done" in err and "--force" in err
    assert (tmp_path / "done" / "meta.json").read_text() == before  # untouched


def test_out_pointing_at_a_complete_run_is_refused(capsys, tmp_path):
    RunWriter(tmp_path / "done", {"name": "done"}).finish("complete")
    code, _, err = run_cli(capsys, "run", "brk1", "--out", str(tmp_path / "done"), "--quiet")
    assert code == 2 and err.count("\n") == 1 and "--force" in err
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == ["meta.json", "samples.csv"]


def test_unwritable_output_folder(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(capsys, "run", "brk1", "--out", str(blocker), "--name", "x", "--quiet")
    assert code == 2 and err.count("\n") == 1 and str(blocker) in err


def test_bad_name(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "brk1", "--out", str(tmp_path), "--name", "../up", "--quiet")
    assert code == 2 and "../up" in err


def test_quick_run_both_mms_and_modes(capsys, tmp_path):
    code, out, err = run_cli(capsys, "run", "brk1", "--quick", "--out", str(tmp_path), "--name", "q",
                          "--interval", "0.05", "--warmup", "0.05", "--samples", "2")
    assert code == 0, err
    folder = tmp_path / "q"
    assert out.strip().splitlines()[-1] == str(folder)
    run = load_run(folder)
    df = run.samples
    assert set(zip(df.mm, df["mode"])) == {(m, p) for m in ("maple", "legacy") for p in ("processes", "threads")}
    assert (df.tasks == 2).all() and len(df) == 8
    assert (df.ops > 0).all()
    assert "syscalls_per_op" in df.columns or any(c.endswith("_per_op") for c in df.columns)
    meta = run.meta
    for key in ("argv", "versions", "gil_enabled", "machine", "start_time", "end_time", "options"):
        assert key in meta
    assert meta["argv"][:2] == ["maplebench", "run"]
    assert meta["options"]["procs"] == [2]
    assert meta["options"]["layout"]
    assert isinstance(meta["gil_enabled"], bool)
    # a second run into the same name is refused, then allowed with --force
    code, _, err = run_cli(capsys, "run", "brk1", "--quick", "--out", str(tmp_path), "--name", "q")
    assert code == 2
    code, _, err = run_cli(capsys, "run", "brk1", "--quick", "--out", str(tmp_path), "--name", "q",
                        "--force", "--mm", "maple", "--mode", "threads", "--quiet")
    assert code == 0, err
    assert set(load_run(folder).samples.mm) == {"maple"}


def test_help_states_defaults_and_gil(capsys):
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "GIL" in text and "--samples 5" in text and "--warmup 6" in text and "--procs 2.." in text


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size > 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def test_sigint_saves_an_interrupted_run(tmp_path):
    folder = tmp_path / "int"
    proc = subprocess.Popen(
        [sys.executable, "-m", "maplebench", "run", "brk1", "--out", str(tmp_path), "--name", "int",
         "--procs", "1,2", "--samples", "20", "--warmup", "0", "--interval", "0.05", "--clock", "wall", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for(folder / "samples.csv")  # the first cell is done: its rows are on disk
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert out.strip() == str(folder)
    run = load_run(folder, allow_incomplete=True)
    assert run.meta["status"] == "interrupted"
    assert len(run.samples) >= 20 and run.samples.ops.sum() > 0
    assert not list(folder.glob(".*.tmp"))


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"),
                    reason="needs /proc children lists")
def test_tasks_die_with_a_killed_runner(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "maplebench", "run", "brk1", "--out", str(tmp_path), "--procs", "3",
         "--mode", "processes", "--mm", "maple", "--samples", "400", "--warmup", "0",
         "--interval", "0.05", "--clock", "wall", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    kids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(kids) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as fh:
                    kids = [int(x) for x in fh.read().split()]
            except OSError:
                break
        assert len(kids) == 3
        proc.kill()  # SIGKILL: no teardown runs in the parent
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_state(k) not in ("gone", "Z", "X") for k in kids):
            time.sleep(0.05)
        assert all(_state(k) in ("gone", "Z", "X") for k in kids)  # PR_SET_PDEATHSIG took them
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_default_run_completes(tmp_path):
    """`maplebench run brk1` with every default (about 90 s on two cores)."""
    proc = subprocess.run([sys.executable, "-m", "maplebench", "run", "brk1", "--out", str(tmp_path), "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    run = load_run(Path(proc.stdout.strip()))
    df = run.samples
    assert len(df) == 2 * 2 * len(run.meta["options"]["procs"]) * 5
    assert run.meta["options"]["warmup_samples"] == 1  # the model clock's 2 ms warm-up: one 2 ms window
