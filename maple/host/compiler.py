"""Find the system C compiler and build the host harness (and the calibration
microbenchmarks, ``build("micro")``: ``maplebench-micro`` from ``microbench.c`` and the same
testcase files) into a per-user cache.

The harness and the will-it-scale testcases (``maple/host/csrc/*.c``, package data) are
compiled on first use into ``$XDG_CACHE_HOME/maplebench/host/<key>/maplebench-wis`` (``~/.cache``
without ``XDG_CACHE_HOME``), where ``<key>`` is the SHA-256 of the sources, the compiler's
identity (resolved path and the first line of ``--version``) and the flags. A changed source,
compiler or flag gives a new key, so a stale binary is never used. The binary is linked under a
temporary name and renamed into place (``os.replace``), so two first uses at once do not clash:
both build, the last rename wins, and either binary is complete.

Compiler search, as make's ``$(CC)``: ``$CC`` if set (it may carry arguments, e.g.
``"gcc -m64"``), else ``cc``, ``gcc``, ``clang`` on ``PATH``. Flags mirror will-it-scale's
Makefile (``-Wall -O2 -g``) plus ``-pthread`` (one binary serves both modes).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from maple.errors import InputError

#: will-it-scale's CFLAGS, plus -pthread for threads mode
FLAGS: tuple[str, ...] = ("-O2", "-g", "-Wall", "-pthread")
#: searched in order when ``$CC`` is unset
CANDIDATES: tuple[str, ...] = ("cc", "gcc", "clang")
BINARY = "maplebench-wis"
#: program -> (binary name, the one C file it has that the others leave out). The harness is
#: every C file but the microbenchmarks' main; the microbenchmarks are every C file but the
#: harness's main (they link the same testcase files).
PROGRAMS: dict[str, tuple[str, str]] = {
    "harness": (BINARY, "harness.c"),
    "micro": ("maplebench-micro", "microbench.c"),
}
_VERSION_TIMEOUT = 20.0
_COMPILE_TIMEOUT = 300.0


@dataclass(frozen=True)
class Compiler:
    """A C compiler: ``command`` is what runs (program path, then any arguments from ``$CC``)."""

    command: tuple[str, ...]
    version: str  # first line of ``--version`` ("" if it printed none)

    @property
    def path(self) -> str:
        return self.command[0]


@dataclass(frozen=True)
class Build:
    """The compiled harness and how it was made (recorded in meta.json)."""

    binary: Path
    compiler: Compiler
    flags: tuple[str, ...]
    key: str  # hex SHA-256 of sources + compiler identity + flags

    def facts(self) -> dict[str, object]:
        return {
            "path": self.compiler.path,
            "command": list(self.compiler.command),
            "version": self.compiler.version,
            "flags": list(self.flags),
            "binary": str(self.binary),
            "key": self.key,
        }


def sources(program: str = "harness") -> dict[str, bytes]:
    """The shipped C sources of ``program`` (``PROGRAMS``: ``*.c``, ``*.h`` of
    ``maple.host.csrc`` but the other programs' main files), by file name."""
    folder = resources.files("maple.host") / "csrc"
    others = {main for name, (_b, main) in PROGRAMS.items() if name != program}
    out: dict[str, bytes] = {}
    for entry in folder.iterdir():
        if entry.name.endswith((".c", ".h")) and entry.name not in others:
            out[entry.name] = entry.read_bytes()
    if not any(name.endswith(".c") for name in out):
        raise InputError(f"host testcase sources missing from '{folder}' (a broken install?)")
    return dict(sorted(out.items()))


def _version(command: tuple[str, ...]) -> str:
    try:
        done = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=_VERSION_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = (done.stdout or done.stderr or "").strip().splitlines()
    return lines[0].strip() if lines and done.returncode == 0 else ""


def find_compiler() -> Compiler:
    """The C compiler to use: ``$CC``, else ``cc``, ``gcc``, ``clang`` on ``PATH``.

    Raises ``InputError`` (one line) naming ``$CC`` when it is set but cannot be found, or the
    names looked for when none is on ``PATH``.
    """
    cc = os.environ.get("CC", "").strip()
    if cc:
        try:
            words = shlex.split(cc)
        except ValueError:
            raise InputError(f"CC='{cc}': not a command line") from None
        program = shutil.which(words[0]) if words else None
        if program is None:
            raise InputError(f"CC='{cc}': C compiler '{words[0] if words else cc}' not found; "
                             "the host backend compiles its testcases with it")
        command = (program, *words[1:])
        return Compiler(command, _version(command))
    for name in CANDIDATES:
        program = shutil.which(name)
        if program is not None:
            return Compiler((program,), _version((program,)))
    raise InputError(
        f"no C compiler found ($CC unset; {', '.join(CANDIDATES)} not on PATH); "
        "the host backend compiles its testcases with one"
    )


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/maplebench/host`` (``~/.cache/maplebench/host`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "maplebench" / "host"


def cache_key(srcs: dict[str, bytes], compiler: Compiler, flags: tuple[str, ...]) -> str:
    """SHA-256 over every source (name and bytes), the compiler's path, arguments and version
    line, and the flags."""
    h = hashlib.sha256()
    for name, data in srcs.items():
        h.update(b"src\0" + name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    h.update(b"cc\0" + "\0".join(compiler.command).encode() + b"\0" + compiler.version.encode())
    h.update(b"flags\0" + "\0".join(flags).encode())
    return h.hexdigest()


def _first_error(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else ""


def _compile(compiler: Compiler, srcs: dict[str, bytes], flags: tuple[str, ...], target: Path,
             binary: str = BINARY) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-", dir=target.parent) as tmp:
        src_dir = Path(tmp)
        for name, data in srcs.items():
            (src_dir / name).write_bytes(data)
        out = src_dir / binary
        argv = [*compiler.command, *flags, "-o", str(out), *sorted(n for n in srcs if n.endswith(".c"))]
        try:
            done = subprocess.run(argv, cwd=src_dir, capture_output=True, text=True,
                                  timeout=_COMPILE_TIMEOUT, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            raise InputError(f"C compiler '{compiler.path}' could not run: {exc}") from None
        if done.returncode != 0 or not out.is_file():
            first = _first_error(done.stderr + "\n" + done.stdout)
            why = first or f"exit status {done.returncode}"
            raise InputError(f"C compiler '{compiler.path}' failed to build the host testcases: {why}")
        os.replace(out, target)  # atomic: a concurrent first use sees the old name or a whole binary


_built: dict[tuple[str, str, str, str], Build] = {}


def build(program: str = "harness") -> Build:
    """The compiled ``program`` (``PROGRAMS``: the task harness, or ``"micro"``, the
    calibration microbenchmarks), building it into the cache on first use.

    Raises ``InputError`` (one line) when no compiler is found or compilation fails, naming the
    compiler and the first error line it printed, and off Linux (the harness uses prctl and
    memfd).
    """
    if not sys.platform.startswith("linux"):
        raise InputError(f"--mm host: needs Linux (prctl, memfd, sched_setaffinity); this is {sys.platform}")
    binary = PROGRAMS[program][0]
    memo = (program, os.environ.get("CC", ""), os.environ.get("PATH", ""), str(cache_root()))
    hit = _built.get(memo)
    if hit is not None and hit.binary.is_file():
        return hit
    compiler = find_compiler()
    srcs = sources(program)
    key = cache_key(srcs, compiler, FLAGS)
    target = cache_root() / key / binary
    if not (target.is_file() and os.access(target, os.X_OK)):
        try:
            _compile(compiler, srcs, FLAGS, target, binary)
        except OSError as exc:
            raise InputError(f"host build cache '{target.parent}': {exc.strerror or exc}") from None
    result = Build(target, compiler, FLAGS, key)
    _built[memo] = result
    return result
