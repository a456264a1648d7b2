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
        # issue 12: every option is validated, finite and bounded, before anything is written
        (["brk1", "--interval", "inf"], "--interval 'inf'"),
        (["brk1", "--interval", "1e308"], "--interval '1e+308'"),
        (["brk1", "--interval", "1e-9"], "--interval '1e-09'"),
        (["brk1", "--warmup", "inf"], "--warmup 'inf'"),
        (["brk1", "--warmup", "nan"], "--warmup 'nan': must be a finite number"),
        (["brk1", "--samples", "1000000000"], "--samples '1000000000'"),
        (["brk1", "--procs", "1..200000000:+1"], "200000000 tasks"),
        (["brk1", "--trace", "build.trace.gz"], "--trace 'build.trace.gz': no workload of this run takes it"),
        (["brk1", "--mode", "processes", "--samples", "9000", "--interval", "100", "--clock", "wall"],
         "would sample for"),
        (["brk1", "--mode", "processes", "--samples", "9000", "--interval", "100"],
         "--samples 9000 --warmup 0.002 --interval 100: each cell would simulate"),
        # found by a new user: an empty --mode, an unreachable --scheduler, wall + model options
        (["brk1", "--mode", ""], "--mode '': empty list"),
        (["brk1", "--scheduler", "garbage"], "--scheduler 'garbage'"),
        (["brk1", "--clock", "wall", "--cpus", "4"], "--cpus '4': applies to --clock model only"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, argv, named):
    code, out, err = run_cli(capsys, "run", *argv, "--out", str(tmp_path), "--quiet")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("maplebench: error:")
    assert named in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_bad_option_with_force_leaves_the_old_run_whole(capsys, tmp_path):
    """Issue 12: `--interval inf --force` over a complete run deleted its samples, then failed."""
    w = RunWriter(tmp_path / "X", {"name": "X"})
    w.add_rows([{"workload": "brk1", "mm": "maple", "mode": "processes", "tasks": 2, "sample": 1, "ops": 5.0}])
    w.finish("complete")
    before = {p.name: p.read_bytes() for p in (tmp_path / "X").iterdir()}
    for bad in (["--interval", "inf"], ["--warmup", "nan"], ["--procs", "1..200000000:+1"]):
        code, _, err = run_cli(capsys, "run", "brk1", "--quick", *bad, "--name", "X", "--out", tmp_path, "--force")
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
        assert {p.name: p.read_bytes() for p in (tmp_path / "X").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X"]


def test_bare_reproduce_prints_its_help(capsys):
    code, out, err = run_cli(capsys, "reproduce")
    assert code == 0 and err == "" and "seed" in out and out.startswith("Usage: maplebench reproduce")


def test_bare_maplebench_prints_its_help(capsys):
    """Issue 12: bare `maplebench` printed its whole help folded onto one error line."""
    code, out, err = run_cli(capsys)
    assert code == 0 and err == ""
    assert out.startswith("Usage: maplebench [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in out and out.count("\n") > 10
    code, help_out, _ = run_cli(capsys, "--help")
    assert help_out == out


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
        _wait_for_rows(folder / "samples.csv", 21)  # the first cell is done: its rows are on disk
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


def _wait_for_rows(path: Path, rows: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") > rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {rows} rows")


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


# ---------------------------------------------------------------------------- issue 12: crashes


def _start(tmp_path: Path, name: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "maplebench", "run", "brk1", "--out", str(tmp_path), "--name", name,
         "--procs", "1", "--mm", "maple", "--mode", "threads", "--samples", "400", "--warmup", "0",
         "--interval", "0.05", "--clock", "wall", "--quiet", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_sigkill_keeps_the_samples_and_the_run_reads_as_interrupted(capsys, tmp_path):
    """Issue 12: after SIGKILL the run stayed "running" forever and every sample was gone."""
    proc = _start(tmp_path, "k")
    try:
        _wait_for_rows(tmp_path / "k" / "samples.csv", 6)
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = load_run(tmp_path / "k", allow_incomplete=True)
    assert run.status == "interrupted" and f"process {proc.pid}" in run.meta["stale"]
    assert len(run.samples) >= 6 and (run.samples["count"] > 0).all()
    code, _, err = run_cli(capsys, "compare", tmp_path / "k")
    assert code == 2 and f"is interrupted (its process {proc.pid} on" in err
    # another workload into the interrupted run's folder must not replace its samples silently
    before = (tmp_path / "k" / "samples.csv").read_bytes()
    code, _, err = run_cli(capsys, "run", "brk2", "--quick", "--out", tmp_path, "--name", "k", "--quiet")
    assert code == 2 and "already holds an interrupted run of brk1" in err and "--force" in err
    assert (tmp_path / "k" / "samples.csv").read_bytes() == before


def test_two_runs_of_one_name_cannot_both_write(capsys, tmp_path):
    """Issue 12: two concurrent `run --name same` both reported success; one run was lost."""
    proc = _start(tmp_path, "same")
    try:
        _wait_for_rows(tmp_path / "same" / "samples.csv", 1)
        code, out, err = run_cli(capsys, "run", "brk2", "--quick", "--out", tmp_path, "--name", "same",
                                 "--force", "--quiet")
        assert code == 2 and err.count("\n") == 1 and out == ""
        assert f"'{tmp_path / 'same'}' is in use by another maplebench run (pid {proc.pid}" in err
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert set(load_run(tmp_path / "same", allow_incomplete=True).samples.workload) == {"brk1"}


def test_unwritable_output_places_are_one_line(capsys, tmp_path):
    for out in ("/proc/maplebench-x", "/sys/maplebench-x", "/proc/self/x"):
        code, _, err = run_cli(capsys, "run", "brk1", "--quick", "--out", out, "--name", "r", "--quiet")
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and out in err, err


def test_full_disk_during_a_run_is_one_line_and_keeps_earlier_rows(capsys, tmp_path, monkeypatch):
    """Issue 12: a full disk during `run` gave a traceback."""
    from maple.bench import results

    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > 4:  # meta.json, the first rows, then the disk is full
            raise OSError(28, "No space left on device")
        real(fd)

    monkeypatch.setattr(results.os, "fsync", fsync)
    code, out, err = run_cli(capsys, "run", "brk1", "--out", tmp_path, "--name", "full", "--procs", "1",
                             "--mm", "maple", "--mode", "threads", "--samples", "6", "--warmup", "0",
                             "--interval", "0.02", "--quiet")
    monkeypatch.setattr(results.os, "fsync", real)
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("maplebench: run failed: cannot write") and "No space left on device" in err
    assert out.strip() == str(tmp_path / "full")
    run = load_run(tmp_path / "full", allow_incomplete=True)
    assert run.status == "interrupted"  # meta.json could not say failed; the run is not complete
    assert list(run.samples["sample"]) == [1, 2, 3]


# ---------------------------------------------------------------------------- issue 12: smaller


def test_kernbench_defaults_to_processes_and_mmtests_row_names(capsys, tmp_path):
    """Issue 12: `run kernbench` ran both modes and named rows `user-processes-2`."""
    code, out, err = run_cli(capsys, "run", "kernbench", "--mm", "maple", "--procs", "2", "--samples", "2",
                             "--out", tmp_path, "--name", "kb", "--quiet")
    assert code == 0, err
    run = load_run(tmp_path / "kb")
    assert set(run.samples["mode"]) == {"processes"}
    code, out, _ = run_cli(capsys, "compare", tmp_path / "kb", "--stats", "Amean")
    names = [line.split()[1] for line in out.splitlines() if line.startswith("Amean")]
    assert names == ["user-2", "syst-2", "elsp-2"]


def test_progress_lines_and_a_summary_outside_a_terminal(capsys, tmp_path):
    """Issue 12: a run ended silently outside a terminal (89 s of nothing, then a path)."""
    code, out, err = run_cli(capsys, "run", "brk1", "--quick", "--mm", "maple", "--out", tmp_path,
                             "--name", "p", "--samples", "2", "--warmup", "0")
    assert code == 0
    lines = err.splitlines()
    assert lines[0].startswith("maplebench: [1/2] brk1 maple processes 2 (0 s elapsed")
    assert lines[1].startswith("maplebench: [2/2] brk1 maple threads 2 (") and "left)" in lines[1]
    assert lines[-1].startswith("maplebench: complete: 2 cells, 4 samples in ")
    assert lines[-1].endswith(f"next: maplebench compare {tmp_path / 'p'}")
    assert out == f"{tmp_path / 'p'}\n"


def test_a_long_run_is_announced(capsys, tmp_path, monkeypatch):
    import maplebench.run as run_mod

    monkeypatch.setattr(run_mod, "LONG_RUN", 0.1)
    code, _, err = run_cli(capsys, "run", "brk1", "--quick", "--mm", "maple", "--mode", "threads",
                           "--out", tmp_path, "--name", "w", "--samples", "2", "--warmup", "0", "--quiet",
                           "--clock", "wall")
    assert code == 0
    assert err.startswith("maplebench: warning: this run samples for about 0 s (1 cells)")


def test_estimate_of_the_readme_example():
    """The README's `--procs 2..320` example of four workloads: 16 tasks counts x 2 x 2 x 4 cells."""
    from maple.bench import runner, spec

    cfg = runner.RunConfig(workloads=["brk1", "brk2", "malloc1", "page_fault3"],
                           procs=spec.parse_procs("2..320"), clock="wall")
    assert cfg.estimate_seconds({w: "loop" for w in cfg.workloads}) == 16 * 2 * 2 * 4 * 11
