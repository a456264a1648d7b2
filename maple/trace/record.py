"""Record a command's address-space syscalls with strace and store them as a trace.

``record(command, output)`` runs ``strace -f -ttt -T -y -e trace=<SYSCALLS> -o LOG -- command``,
parses the log (:mod:`maple.trace.strace`), captures each executed program's execve-time
address space (:func:`exec_layout`) and writes the trace (:mod:`maple.trace.format`).

``-ttt`` gives epoch timestamps for the user-time clock, ``-T`` the time inside each call, ``-y``
the path behind each fd so that file identity survives across processes (the replay shares one
page cache per path).
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from maple.errors import InputError
from maple.linux import TASK_SIZE
from maple.trace.format import Trace, write_trace
from maple.trace.strace import SYSCALLS, StraceParser

_PTRACE_TRACEME = 0
_ADDR_NO_RANDOMIZE = 0x0040000
_STRACE_SAYS = re.compile(r"^(?:\S*/)?strace: ")
_DENIED = ("Operation not permitted", "ptrace", "PTRACE_TRACEME", "PTRACE_SEIZE")


def no_aslr() -> None:
    """Turn off address-space randomisation for this process and what it executes.

    ``personality(ADDR_NO_RANDOMIZE)``, as ``setarch -R`` does. Recording without
    randomisation puts every execve-time mapping (program, interpreter, stack, vdso) at the
    same address in the trace and in :func:`exec_layout`'s capture, so the replay can use the
    trace's own addresses for them. Best effort: silently does nothing where not allowed.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        current = libc.personality(0xFFFFFFFF)
        if current != -1:
            libc.personality(current | _ADDR_NO_RANDOMIZE)
    except (OSError, AttributeError):
        pass


def strace_path() -> str:
    """The strace executable on ``PATH``; ``InputError`` if there is none."""
    path = shutil.which("strace")
    if path is None:
        raise InputError("strace not found on PATH: install it (e.g. apt-get install strace) to record")
    return path


def strace_command(strace: str, log: str, command: Sequence[str]) -> list[str]:
    """The full strace command line used to record ``command`` into ``log``."""
    return [strace, "-f", "-ttt", "-T", "-y", "-e", "trace=" + ",".join(SYSCALLS), "-o", log, "--", *command]


def exec_layout(program: str) -> str | None:
    """``/proc/PID/maps`` of ``program`` right after execve, before its first instruction.

    The child asks to be traced and execs; the kernel stops it with SIGTRAP once the new image
    is built (binfmt_elf has mapped the program, the interpreter, the stack, vdso/vvar), and
    the parent reads its maps and kills it. Lines above ``TASK_SIZE`` (vsyscall) are dropped:
    they are not VMAs of the mm. Returns ``None`` when that is impossible here.
    """
    if not sys.platform.startswith("linux") or not os.access(program, os.X_OK):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            no_aslr()
            if libc.ptrace(_PTRACE_TRACEME, 0, None, None) == 0:
                os.execv(program, [program])
        finally:
            os._exit(127)
    try:
        _, status = os.waitpid(pid, 0)
        if not os.WIFSTOPPED(status):
            return None
        with open(f"/proc/{pid}/maps") as fh:
            text = fh.read()
    except OSError:
        return None
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    lines = [ln for ln in text.splitlines() if ln and int(ln.split("-", 1)[0], 16) < TASK_SIZE]
    return "\n".join(lines) + "\n" if lines else None


def add_exec_layouts(trace: Trace) -> int:
    """Capture the execve-time layout of every program the trace executed; returns how many."""
    programs = sorted({ev[3] for ev in trace.events if ev[0] == "x"})
    n = 0
    for fid in programs:
        text = exec_layout(trace.files[fid])
        if text:
            trace.layouts[fid] = text
            n += 1
    return n


def _strace_version(strace: str) -> str:
    try:
        out = subprocess.run([strace, "-V"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.splitlines()[0].strip() if out else "unknown"


def convert_log(log: str | Path, meta: dict | None = None) -> Trace:
    """Parse an existing strace log file into a trace (no layouts captured)."""
    parser = StraceParser(meta)
    try:
        with open(log, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parser.feed(line)
    except FileNotFoundError:
        raise InputError(f"strace log {log}: no such file") from None
    return parser.trace()


def record(command: Sequence[str], output: str | Path, *, keep_log: str | Path | None = None) -> tuple[int, Trace]:
    """Run ``command`` under strace and write its trace to ``output``.

    Returns the command's exit status and the trace. ``InputError`` (one line) when strace is
    missing, the command cannot be started, or strace cannot trace (ptrace denied).
    """
    if not command:
        raise InputError("record: no command given (usage: maplebench record -o TRACE -- COMMAND...)")
    strace = strace_path()
    if shutil.which(command[0]) is None:
        raise InputError(f"record: command {command[0]!r} not found (or not executable)")
    output = Path(output)
    if output.is_dir():
        raise InputError(f"record: output {output} is a directory")
    if not output.parent.exists():
        raise InputError(f"record: output folder {output.parent} does not exist")
    with tempfile.TemporaryDirectory(prefix="maplebench-record-") as tmp:
        log = os.path.join(tmp, "strace.log")
        argv = strace_command(strace, log, command)
        try:
            proc = subprocess.Popen(
                argv, stderr=subprocess.PIPE, text=True, errors="replace", preexec_fn=no_aslr
            )
        except OSError as exc:
            raise InputError(f"record: cannot run {strace}: {exc.strerror}") from None
        tail: list[str] = []
        assert proc.stderr is not None
        for line in proc.stderr:  # pass the command's stderr through, keep strace's complaints
            if _STRACE_SAYS.match(line):
                tail.append(line.strip())
            else:
                sys.stderr.write(line)
        rc = proc.wait()
        logged = os.path.exists(log) and os.path.getsize(log) > 0
        complaint = next((t for t in tail if any(d in t for d in _DENIED)), None)
        if complaint is not None and not logged:
            raise InputError(f"record: strace cannot trace here (ptrace denied?): {complaint}")
        if not logged:
            why = tail[-1] if tail else f"strace exited with status {rc}"
            raise InputError(f"record: nothing traced for {command[0]!r}: {why}")
        meta = {
            "command": list(command),
            "recorded_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "strace": _strace_version(strace),
            "kernel": platform.release(),
            "machine": platform.machine(),
            "syscalls": list(SYSCALLS),
            "exit_status": rc,
            "aslr": False,
        }
        trace = convert_log(log, meta)
        if keep_log is not None:
            shutil.copyfile(log, keep_log)
    if not trace.events:
        raise InputError(f"record: strace logged no address-space calls for {command[0]!r}")
    add_exec_layouts(trace)
    write_trace(trace, output)
    return rc, trace
