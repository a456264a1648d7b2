"""The trace file: a gzip'd, line-oriented, versioned record of address-space syscalls.

A trace is what ``maplebench record`` writes and what the replay reads. It keeps only what the
replay needs, in the order the kernel saw it, so a full parallel compile fits in a few hundred
kilobytes. The format (version 1), one record per line, fields separated by single spaces::

    #maplebench-trace 1 {"command": [...], ...}      header: magic, version, JSON metadata
    F <id> <path>                                      file table entry (before its first use)
    L <id> <maps line>                                 execve-time layout of program <id>: one
                                                       /proc/PID/maps line of the address space
                                                       the kernel built, before ld.so ran
    x <pid> <us> <file>                                execve succeeded; <file> is the program
    c <pid> <us> <child> <how>                         clone/fork/vfork; how: f (fork: own copy
                                                       of the mm), v (CLONE_VM, not a thread:
                                                       vfork/posix_spawn, shares until execve),
                                                       t (CLONE_THREAD: a thread)
    m <pid> <us> <addr> <len> <prot> <flags> <file> <pgoff> <result>     mmap
    u <pid> <us> <addr> <len> <result>                                    munmap
    p <pid> <us> <addr> <len> <prot> <result>                             mprotect
    b <pid> <us> <addr> <result>                                          brk
    r <pid> <us> <old> <oldlen> <newlen> <flags> <new> <result>           mremap
    e <pid> <us>                                       the task is gone (+++ exited/killed +++)
    .end <n>                                           trailer: number of event lines

``<pid>`` and ``<us>`` are decimal; ``<us>`` is the task's own time in microseconds since its
previous event (time blocked in wait4/waitid or in a vfork is not counted; see
``maple.trace.strace``). Addresses, lengths, ``prot``, ``flags`` and ``pgoff`` are lower-case
hex without ``0x``, with Linux's x86-64 values (``maple.linux``). ``<file>`` is a file-table id,
or ``-`` for none (anonymous). ``<result>`` is the return value in hex, or ``!ERRNO`` (for
example ``!ENOMEM``) for a failed call. ``brk`` never fails in the kernel's sense: its result
is the break, which equals the request only when the request was granted.

The trailer makes a trace cut at a line boundary detectable; gzip's own CRC catches the rest.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from maple.errors import InputError

MAGIC = "#maplebench-trace"
VERSION = 1

#: Event kinds and their number of fields after ``op pid us``.
ARITY = {"x": 1, "c": 2, "m": 7, "u": 3, "p": 4, "b": 2, "r": 6, "e": 0}

# Field positions (after op, pid, us) that are hex integers, per kind.
_HEX = {
    "x": (),
    "c": (),
    "m": (0, 1, 2, 3, 5),
    "u": (0, 1),
    "p": (0, 1, 2),
    "b": (0,),
    "r": (0, 1, 2, 3, 4),
    "e": (),
}
# Fields that hold a result (hex, or "!ERRNO" kept as a string).
_RESULT = {"m": 6, "u": 2, "p": 3, "b": 1, "r": 5}
# Fields that hold a file id ("-" means None) or a child pid (decimal).
_FILE = {"x": 0, "m": 4}
_DEC = {"c": (0,)}


@dataclass
class Trace:
    """A parsed trace: metadata, the file table and the events in kernel order.

    Each event is a tuple ``(op, pid, us, *fields)`` with integers already decoded, file ids as
    ``int`` or ``None``, results as ``int`` or an errno name string starting with ``!``.
    """

    meta: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    #: program file id -> /proc/PID/maps text of its address space right after execve
    layouts: dict[int, str] = field(default_factory=dict)

    def pids(self) -> list[int]:
        """Every task id in order of first appearance."""
        seen: dict[int, None] = {}
        for ev in self.events:
            seen.setdefault(ev[1], None)
            if ev[0] == "c":
                seen.setdefault(ev[3], None)
        return list(seen)

    def user_seconds(self) -> float:
        """Sum of the tasks' own time between events, in seconds."""
        return sum(ev[2] for ev in self.events) / 1e6

    def summary(self) -> dict[str, int]:
        """Count of events per kind, plus processes and files."""
        out: dict[str, int] = {}
        for ev in self.events:
            out[ev[0]] = out.get(ev[0], 0) + 1
        out["tasks"] = len(self.pids())
        out["files"] = len(self.files)
        return out


def _enc(value: Any, hexa: bool) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    return format(value, "x") if hexa else str(value)


def dumps_lines(trace: Trace) -> Iterable[str]:
    """The lines of ``trace`` in format version 1 (without newlines)."""
    yield f"{MAGIC} {VERSION} {json.dumps(trace.meta, sort_keys=True, separators=(',', ':'))}"
    declared = set()
    files = trace.files
    for fid in sorted(trace.layouts):
        declared.add(fid)
        yield f"F {fid} {files[fid]}"
        for mline in trace.layouts[fid].splitlines():
            if mline.strip():
                yield f"L {fid} {mline.rstrip()}"
    for ev in trace.events:
        op = ev[0]
        fpos = _FILE.get(op)
        if fpos is not None:
            fid = ev[3 + fpos]
            if fid is not None and fid not in declared:
                declared.add(fid)
                yield f"F {fid} {files[fid]}"
        hexpos = _HEX[op]
        parts = [op, str(ev[1]), str(ev[2])]
        for i, value in enumerate(ev[3:]):
            parts.append(_enc(value, i in hexpos or i == _RESULT.get(op)))
        yield " ".join(parts)
    yield f".end {len(trace.events)}"


def write_trace(trace: Trace, path: str | Path) -> None:
    """Write ``trace`` gzip-compressed to ``path`` atomically (temp file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as raw:
        # mtime=0 keeps the bytes reproducible for the same trace.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            text = io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
            for line in dumps_lines(trace):
                text.write(line)
                text.write("\n")
            text.flush()
            text.detach()
    tmp.replace(path)


def _bad(path: Any, lineno: int, why: str) -> InputError:
    return InputError(f"trace {path}: line {lineno}: {why}")


def loads_lines(lines: Iterable[str], path: Any = "<trace>") -> Trace:
    """Parse the lines of a version 1 trace; raise ``InputError`` naming ``path`` if bad."""
    it = iter(lines)
    try:
        head = next(it)
    except StopIteration:
        raise InputError(f"trace {path}: empty file, not a maplebench trace") from None
    head = head.rstrip("\n")
    if not head.startswith(MAGIC + " "):
        raise InputError(f"trace {path}: not a maplebench trace (no '{MAGIC}' header)")
    rest = head[len(MAGIC) + 1 :]
    version_text, _, meta_text = rest.partition(" ")
    if version_text != str(VERSION):
        raise InputError(f"trace {path}: unsupported trace version {version_text!r} (want {VERSION})")
    try:
        meta = json.loads(meta_text) if meta_text else {}
    except json.JSONDecodeError:
        raise _bad(path, 1, "header metadata is not JSON") from None
    files_by_id: dict[int, str] = {}
    layout_lines: dict[int, list[str]] = {}
    events: list[tuple] = []
    append = events.append
    ended = None
    lineno = 1
    for lineno, line in enumerate(it, start=2):
        line = line.rstrip("\n")
        if ended is not None:
            if line:
                raise _bad(path, lineno, "data after the .end trailer")
            continue
        if not line:
            continue
        op = line[0]
        if op == "F":
            parts = line.split(" ", 2)
            if len(parts) != 3 or not parts[1].isdigit():
                raise _bad(path, lineno, f"bad file entry {line[:60]!r}")
            files_by_id[int(parts[1])] = parts[2]
            continue
        if op == "L":
            parts = line.split(" ", 2)
            if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) not in files_by_id:
                raise _bad(path, lineno, f"bad layout entry {line[:60]!r}")
            layout_lines.setdefault(int(parts[1]), []).append(parts[2])
            continue
        if line.startswith(".end "):
            try:
                ended = int(line[5:])
            except ValueError:
                raise _bad(path, lineno, f"bad trailer {line!r}") from None
            continue
        parts = line.split(" ")
        arity = ARITY.get(parts[0])
        if arity is None or len(parts) != 3 + arity:
            raise _bad(path, lineno, f"unknown or malformed record {line[:60]!r}")
        try:
            fields: list[Any] = [parts[0], int(parts[1]), int(parts[2])]
            hexpos = _HEX[op]
            rpos = _RESULT.get(op)
            fpos = _FILE.get(op)
            decpos = _DEC.get(op, ())
            for i, tok in enumerate(parts[3:]):
                if i == rpos and tok.startswith("!"):
                    fields.append(tok)
                elif i == fpos:
                    if tok == "-":
                        fields.append(None)
                    else:
                        fid = int(tok)
                        if fid not in files_by_id:
                            raise _bad(path, lineno, f"file id {fid} used before its F entry")
                        fields.append(fid)
                elif i in hexpos or i == rpos:
                    fields.append(int(tok, 16))
                elif i in decpos:
                    fields.append(int(tok))
                else:
                    fields.append(tok)
        except InputError:
            raise
        except ValueError:
            raise _bad(path, lineno, f"bad number in {line[:60]!r}") from None
        if op == "c" and fields[4] not in ("f", "v", "t"):
            raise _bad(path, lineno, f"bad clone kind {fields[4]!r}")
        append(tuple(fields))
    if ended is None:
        raise InputError(f"trace {path}: truncated (no .end trailer after line {lineno})")
    if ended != len(events):
        raise InputError(f"trace {path}: truncated ({len(events)} events, trailer says {ended})")
    files = [""] * (max(files_by_id) + 1 if files_by_id else 0)
    for fid, name in files_by_id.items():
        files[fid] = name
    layouts = {fid: "\n".join(lines) + "\n" for fid, lines in layout_lines.items()}
    return Trace(meta=meta, files=files, events=events, layouts=layouts)


def read_trace(path: str | Path) -> Trace:
    """Load a trace file; any problem becomes one ``InputError`` naming the file."""
    path = Path(path)
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as fh:
            return loads_lines(fh, path)
    except FileNotFoundError:
        raise InputError(f"trace {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"trace {path}: is a directory, not a trace file") from None
    except PermissionError:
        raise InputError(f"trace {path}: permission denied") from None
    except gzip.BadGzipFile:
        raise InputError(f"trace {path}: not a maplebench trace (not gzip-compressed)") from None
    except (EOFError, zlib.error):
        raise InputError(f"trace {path}: truncated or corrupt (gzip stream ends early)") from None
    except UnicodeDecodeError:
        raise InputError(f"trace {path}: not a maplebench trace (not UTF-8 text)") from None
