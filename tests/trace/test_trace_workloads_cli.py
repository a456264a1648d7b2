"""The kernbench and trace workloads, and the record/run command lines."""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from maple.errors import InputError
from maple.trace.format import read_trace
from maple.workloads import get
from maple.workloads.kernbench import shipped_trace
from maplebench.main import main

DATA = Path(__file__).parent / "data"
PY_TRACE = DATA / "python-fork-thread-mremap.trace.gz"


def run_cli(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_shipped_trace_is_small_and_complete():
    path = shipped_trace()
    assert path.exists() and path.stat().st_size < 5 * 1024 * 1024
    tr = read_trace(path)
    assert tr.meta["command"] == ["make", "-f", "Makefile.maplebench", "-j2"]
    assert tr.meta["aslr"] is False
    programs = {tr.files[ev[3]].rsplit("/", 1)[-1] for ev in tr.events if ev[0] == "x"}
    assert {"make", "cc", "cc1", "as", "collect2", "ld"} <= programs
    assert set(tr.layouts) == {ev[3] for ev in tr.events if ev[0] == "x"}


@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_kernbench_iteration_shape_and_deterministic_counters(mode):
    wl = get("kernbench")
    assert wl.kind == "timed" and not wl.higher_is_better
    one = wl.iteration("maple", 1, mode)
    two = wl.iteration("maple", 2, mode)
    for r in (one, two):
        assert r["syst"] > 0 and r["elsp"] > 0
        assert r["user"] == pytest.approx(read_trace(shipped_trace()).user_seconds() * 0.01)
    per_op = {k: v for k, v in one.items() if k.endswith("_per_op")}
    assert per_op["faults_per_op"] > 0 and "nodes_visited_per_op" in per_op
    # noise-free: the same counts whatever the split into slots
    assert per_op == {k: v for k, v in two.items() if k.endswith("_per_op")}


def test_trace_workload_on_a_users_trace_both_kinds():
    wl = get("trace", trace=str(PY_TRACE))
    a = wl.iteration("maple", 2, "processes")
    b = wl.iteration("legacy", 2, "threads")
    assert a["user"] == pytest.approx(b["user"])
    assert a["faults_per_op"] == b["faults_per_op"]
    assert "vmacache_hits_per_op" in b


def test_trace_workload_bad_input(tmp_path):
    with pytest.raises(InputError, match="needs a trace"):
        get("trace")
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    with pytest.raises(InputError, match=str(bad)):
        get("trace", trace=str(bad))
    cut = tmp_path / "cut.trace.gz"
    data = PY_TRACE.read_bytes()
    cut.write_bytes(data[: len(data) - 100])
    with pytest.raises(InputError, match="truncated"):
        get("trace", trace=str(cut))
    wl = get("trace", trace=str(PY_TRACE))
    with pytest.raises(InputError, match="mode 'fibers'"):
        wl.iteration("maple", 1, "fibers")
    with pytest.raises(InputError, match="user_scale"):
        get("trace", trace=str(PY_TRACE), user_scale=-1)


@pytest.mark.parametrize(
    "content",
    [b"not a trace\n", gzip.compress(b"1 1.0 brk(NULL) = 0x1000\n"), None],
    ids=["text", "raw-strace-gz", "truncated"],
)
def test_run_with_a_bad_trace_is_one_line_exit_2(tmp_path, capsys, content):
    bad = tmp_path / "bad.trace.gz"
    if content is None:
        data = PY_TRACE.read_bytes()
        content = data[: len(data) // 2]
    bad.write_bytes(content)
    code, out, err = run_cli(["run", "trace", "--trace", str(bad), "--out", str(tmp_path / "res")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and str(bad) in err and "Traceback" not in err
    assert not (tmp_path / "res").exists() or not any((tmp_path / "res").rglob("samples.csv"))


def _fake_strace(folder: Path, script: str) -> None:
    folder.mkdir()
    exe = folder / "strace"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)


def test_record_without_strace_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "t.trace.gz"
    code, _, err = run_cli(["record", "-o", str(out), "--", "true"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "strace not found" in err
    assert not out.exists()


def test_record_when_ptrace_is_denied_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    # What strace prints in a container without CAP_SYS_PTRACE (seccomp-blocked ptrace).
    _fake_strace(
        tmp_path / "bin",
        'echo "strace: test_ptrace_get_syscall_info: PTRACE_TRACEME: Operation not permitted" >&2\n'
        'echo "strace: ptrace(PTRACE_TRACEME, ...): Operation not permitted" >&2\nexit 1\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin")
    out = tmp_path / "t.trace.gz"
    code, _, err = run_cli(["record", "-o", str(out), "--", "true"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "ptrace denied" in err and "Operation not permitted" in err
    assert not out.exists()


def _can_strace() -> bool:
    if shutil.which("strace") is None:
        return False
    try:
        return subprocess.run(["strace", "-o", os.devnull, "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(not _can_strace(), reason="strace missing or ptrace not allowed here")
def test_record_a_real_command_end_to_end(tmp_path):
    out = tmp_path / "sh.trace.gz"
    log = tmp_path / "sh.strace"
    # a shell that forks a child: fork, execve, exit in a few milliseconds
    cmd = [sys.executable, "-m", "maplebench", "record", "-o", str(out), "--keep-log", str(log), "--", "/bin/sh", "-c", "/bin/true; exit 3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "command exit status 3" in proc.stderr
    tr = read_trace(out)
    kinds = [ev[0] for ev in tr.events]
    assert kinds[0] == "x" and kinds.count("x") == 2 and kinds.count("e") == 2 and "c" in kinds
    assert {tr.files[f] for f in tr.layouts} == {"/bin/sh", "/bin/true"} or len(tr.layouts) == 2
    assert log.read_text().count("execve(") >= 2
    wl = get("trace", trace=str(out))
    assert wl.iteration("legacy", 1, "processes")["syst"] > 0


def test_record_of_a_missing_command_is_one_line_exit_2(tmp_path, capsys):
    if not _can_strace():
        pytest.skip("strace missing or ptrace not allowed here")
    out = tmp_path / "t.trace.gz"
    code, _, err = run_cli(["record", "-o", str(out), "--", str(tmp_path / "no-such-program")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "no-such-program" in err


@pytest.mark.skipif(not _can_strace(), reason="ptrace not allowed here")
def test_exec_layout_is_the_fresh_image_at_fixed_addresses():
    from maple.mm import make_mm
    from maple.trace.record import exec_layout

    true = shutil.which("true")
    one, two = exec_layout(true), exec_layout(true)
    assert one == two  # captured without randomisation: the same addresses every time
    assert "[stack]" in one and "ld-linux" in one and os.path.realpath(true) in one
    assert "libc" not in one  # ld.so has not run yet
    assert "vsyscall" not in one
    mm = make_mm("maple", layout=one)
    mm.validate()
    assert mm.map_count == len(one.splitlines())
    assert exec_layout(str(Path(true).parent / "no-such-program")) is None
