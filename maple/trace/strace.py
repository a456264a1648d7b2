"""Turn an ``strace -f`` log into a :class:`~maple.trace.format.Trace`.

What the parser understands (strace 4.x to 6.x output):

* optional pid prefix (``-f``) and timestamp (``-t``/``-tt`` wall clock or ``-ttt`` epoch),
  optional ``<seconds>`` duration suffix (``-T``);
* ``name(args <unfinished ...>`` and the later ``<... name resumed>rest) = ret``: the two halves
  are joined, and the call takes its place in the output at its *entry* line. A clone's child
  may run before its parent's clone returns, so ordering by entry keeps the child after the
  clone that made it;
* results: hex or decimal values, ``-1 ENOMEM (Cannot allocate memory)`` (kept as ``!ENOMEM``),
  ``?`` (no result: the task died in the call; the call is dropped);
* ``--- SIGxxx {...} ---`` signal lines (ignored) and ``+++ exited with N +++`` /
  ``+++ killed by SIGxxx +++`` (the task is gone: an ``e`` event);
* clone flags: ``CLONE_THREAD`` makes a thread (``t``), ``CLONE_VM`` alone a shared-mm child
  (``v``: vfork, posix_spawn), anything else a fork (``f``); ``fork()``/``vfork()`` likewise;
* symbolic flag expressions (``PROT_READ|PROT_WRITE``, ``MAP_PRIVATE|MAP_ANONYMOUS|0x80000``),
  ``NULL``, hex and decimal numbers;
* fd arguments: ``3</usr/lib/libc.so.6>`` (``strace -y``) name the file by path; a bare fd
  becomes ``fd<N>@<pid>#<k>``, where ``k`` counts the task's execs, so that two opens of the same
  descriptor number in different programs are different files.

Time accounting: each event carries the task's own time since its previous event, in
microseconds. The clock runs from the end of one traced call to the entry of the next; time spent
inside ``wait4``/``waitid`` (when traced) and inside a ``vfork`` is excluded, because a parent
blocked on its children is not using the CPU (kernbench's ``user`` is CPU time).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from maple import linux
from maple.errors import InputError
from maple.trace.format import Trace

#: The syscalls ``maplebench record`` asks strace for. ``wait4``/``waitid`` are only used to
#: stop the user-time clock while a parent waits.
SYSCALLS = (
    "mmap",
    "munmap",
    "mprotect",
    "brk",
    "mremap",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "exit_group",
    "wait4",
    "waitid",
)

_LINE = re.compile(
    r"^(?:\[pid\s+(?P<bpid>\d+)\]\s*|(?P<pid>\d+)\s+)?"
    r"(?:(?P<ts>\d+\.\d+|\d\d:\d\d:\d\d(?:\.\d+)?)\s+)?"
    r"(?P<rest>.*?)\s*$"
)
_DURATION = re.compile(r"\s*<(\d+\.\d+)>$")
_RESULT = re.compile(r"^(?P<val>0x[0-9a-fA-F]+|-?\d+|\?)(?:\s+(?P<err>[A-Z][A-Z0-9_]*))?")
_EQUALS = re.compile(r"\)\s*= ")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>\s?(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<rest>.*)$")
#: an fd argument, with ``-y`` its path; strace 6.x appends ``(deleted)`` after the ``>`` of an
#: unlinked file (a memfd): the name is then the path as /proc/PID/maps prints it
_FD = re.compile(r"^(-?\d+)(?:<(.*)>(\(deleted\))?)?$")
_CLONE_FLAGS = re.compile(r"flags=([A-Za-z0-9_|]+)")
#: strace's own notices: ``strace: Process 5600 attached`` (any path before ``strace:``, to the
#: end of the physical line) and bracketed ones such as ``[ Process PID=5600 runs in 32 bit mode. ]``
_NOTICE = re.compile(r"(?:(?:(?:/[\w.+-]+)*/)?strace: .*$|\[ Process PID=(?P<npid>\d+) runs in (?P<mode>[\w ]+?) mode\. \])")
_ATTACHED = re.compile(r"Process (\d+) attached")
#: a physical line that starts a new record (not the continuation of one a notice cut)
_STARTS = re.compile(r"^(?:\[pid\s+\d+\]|\d+\s|<\.\.\.|\+\+\+|---|\w+\()")
_U32 = 0xFFFFFFFF

MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4

_NAMES: dict[str, int] = {
    name: getattr(linux, name)
    for name in dir(linux)
    if name.startswith(("PROT_", "MAP_")) and isinstance(getattr(linux, name), int)
}
_NAMES.update(
    MREMAP_MAYMOVE=MREMAP_MAYMOVE,
    MREMAP_FIXED=MREMAP_FIXED,
    MREMAP_DONTUNMAP=MREMAP_DONTUNMAP,
    MAP_FILE=0,
    MAP_32BIT=0x40,
    MAP_SHARED_VALIDATE=0x03,
    MAP_SYNC=0x80000,
    MAP_UNINITIALIZED=0x4000000,
    PROT_SEM=0x8,
    PROT_GROWSDOWN=0x01000000,
    PROT_GROWSUP=0x02000000,
    PROT_BTI=0x10,
    PROT_MTE=0x20,
)
_MM_CALLS = frozenset({"mmap", "mmap2", "munmap", "mprotect", "brk", "mremap"})
_CLONES = frozenset({"clone", "clone2", "clone3", "fork", "vfork"})
_WAITS = frozenset({"wait4", "waitid", "waitpid"})


class StraceError(InputError):
    """A line of the strace log could not be understood (names the line)."""


def split_args(text: str) -> list[str]:
    """Split a call's argument text at top-level commas (brackets and strings nest)."""
    out: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    quote = False
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
        i += 1
    last = text[start:].strip()
    if last or out:
        out.append(last)
    return out


def parse_int(tok: str) -> int:
    """``NULL``, decimal, hex or a ``|`` expression of known names and numbers."""
    tok = tok.strip()
    if tok == "NULL":
        return 0
    # strace may annotate values with comments: "0x1000 /* 4096 */".
    if "/*" in tok:
        tok = tok.split("/*", 1)[0].strip()
    value = 0
    for part in tok.split("|"):
        part = part.strip()
        if part in _NAMES:
            value |= _NAMES[part]
        elif part.startswith(("0x", "-0x")):
            value |= int(part, 16)
        elif part.lstrip("-").isdigit():
            v = int(part)
            value |= v & ((1 << 64) - 1) if v < 0 else v
        else:
            raise ValueError(f"unknown name {part!r}")
    return value


class _Pending:
    __slots__ = ("name", "args", "ts", "slot")

    def __init__(self, name: str, args: str, ts: float, slot: int) -> None:
        self.name = name
        self.args = args
        self.ts = ts
        self.slot = slot


class StraceParser:
    """Incremental parser: feed lines, then :meth:`trace`.

    Events are built into a list of slots in entry order; an unfinished call reserves its slot
    and fills it when it resumes (a call that never resumes leaves an empty slot, dropped).
    """

    def __init__(self, meta: dict | None = None) -> None:
        self.meta = dict(meta or {})
        self.slots: list[tuple | None] = []
        self.pending: dict[int, _Pending] = {}
        self.files: list[str] = []
        self.file_ids: dict[str, int] = {}
        self.last_end: dict[int, float] = {}  # task -> end of its previous call
        self.user: dict[int, float] = {}  # task -> own time not yet charged to an event
        self.execs: dict[int, int] = {}
        self.vforked: dict[int, bool] = {}
        self.lineno = 0
        self.last_ts = 0.0
        self.day = 0.0
        self.dropped = 0
        #: a line a notice cut short, waiting for its continuation
        self.partial: str | None = None
        #: tasks alive now (pids); 0 stands for the first task until its pid shows
        self.live: set[int] = {0}
        self.known: set[int] = set()
        #: the first task's real pid, once a ``[pid N]`` prefix names it (0 until then)
        self.main = 0
        #: tasks seen running in 32-bit mode (mmap2, or strace's notice)
        self.compat: set[int] = set()

    # -- helpers ---------------------------------------------------------------------------

    def _ts(self, text: str | None) -> float:
        if text is None:
            return self.last_ts
        if ":" in text:
            h, m, s = text.split(":")
            t = int(h) * 3600 + int(m) * 60 + float(s) + self.day
            if t + 43200 < self.last_ts:  # wall clock wrapped past midnight
                self.day += 86400
                t += 86400
        else:
            t = float(text)
        self.last_ts = t
        return t

    def _file(self, pid: int, tok: str) -> int | None:
        m = _FD.match(tok.strip())
        if m is None:
            raise ValueError(f"bad fd {tok!r}")
        fd = int(m.group(1))
        if fd < 0:
            return None
        name = m.group(2)
        if name is not None and m.group(3):
            name += " (deleted)"
        if name is None:
            name = f"fd{fd}@{pid}#{self.execs.get(pid, 0)}"
        fid = self.file_ids.get(name)
        if fid is None:
            fid = self.file_ids[name] = len(self.files)
            self.files.append(name)
        return fid

    def _charge(self, pid: int, start: float) -> int:
        """Own time of ``pid`` up to ``start`` not yet charged, in microseconds."""
        prev = self.last_end.get(pid)
        acc = self.user.pop(pid, 0.0)
        if prev is not None and start > prev:
            acc += start - prev
        return int(round(acc * 1e6))

    def _bank(self, pid: int, start: float, end: float) -> None:
        """A call not emitted (wait4, exit_group): keep its preceding time for the next event."""
        prev = self.last_end.get(pid)
        if prev is not None and start > prev:
            self.user[pid] = self.user.get(pid, 0.0) + (start - prev)
        self.last_end[pid] = end

    # -- main entry ------------------------------------------------------------------------

    def feed(self, line: str) -> None:
        """Parse one log line (strace's own notices are skipped wherever they appear)."""
        self.lineno += 1
        line = line.rstrip("\n")
        if self.partial is not None:
            if _STARTS.match(line):
                cut, self.partial = self.partial, None  # never continued: it was interrupted
                self._feed_checked(cut + " <unfinished ...>", line)
            else:
                line, self.partial = self.partial + line, None
        line, cut = self._strip_notices(line)
        if cut:
            head = _LINE.match(line)
            if head is not None and head.group("rest"):
                self.partial = line  # a notice interrupted this line: the next one continues it
            return
        self._feed_checked(line, line)

    def _strip_notices(self, line: str) -> tuple[str, bool]:
        """``line`` without strace's notices, and whether one ran to the end of the line."""
        cut = False
        while True:
            m = None
            for cand in _NOTICE.finditer(line):
                i = cand.start()
                if (line.count('"', 0, i) - line.count('\\"', 0, i)) % 2 == 0:  # not inside a string
                    m = cand
                    break
            if m is None:
                return line, cut
            text = m.group(0)
            a = _ATTACHED.search(text)
            if a:
                apid = int(a.group(1))
                if not self.slots and not self.main and not self.known and not line[: m.start()].strip():
                    self._rename(0, apid)  # strace -p: the first attached task is the first task
                    self.main = apid
                self.live.add(apid)
                self.known.add(apid)
            if m.group("npid"):
                npid = int(m.group("npid"))
                if not self.main and npid not in self.known and self.live == {0}:
                    self._rename(0, npid)  # strace names the one task it traces so far
                    self.main = npid
                    self.live.add(npid)
                    self.known.add(npid)
                if m.group("mode").startswith("32"):
                    self.compat.add(npid)
            if m.end() == len(line) and text.find("strace: ") >= 0:
                cut = True
            line = line[: m.start()] + line[m.end() :]
            if not line.strip():
                return "", False

    def _feed_checked(self, line: str, shown: str) -> None:
        try:
            self._feed(line)
        except (ValueError, IndexError) as exc:
            line = shown
            text = line.strip()
            if len(text) > 80:
                text = text[:77] + "..."
            raise StraceError(f"strace log line {self.lineno}: {exc}: {text!r}") from None

    def _feed(self, line: str) -> None:
        m = _LINE.match(line)
        rest = m.group("rest") if m else ""
        if not rest:
            return
        pid_text = m.group("pid") or m.group("bpid")
        pid = self._task(int(pid_text), rest) if pid_text else self._unprefixed()
        ts = self._ts(m.group("ts"))
        if rest.startswith("---"):
            return  # a signal delivery: no effect on the address space
        if rest.startswith("+++"):
            if "exited" in rest or "killed" in rest:
                self.pending.pop(pid, None)
                self.live.discard(pid)
                self.slots.append(("e", pid, self._charge(pid, self.last_end.get(pid, ts))))
            return
        if rest.startswith(("strace:", "????")):
            return
        dur = 0.0
        dm = _DURATION.search(rest)
        if dm:
            dur = float(dm.group(1))
            rest = rest[: dm.start()]
        r = _RESUMED.match(rest)
        if r:
            p = self.pending.pop(pid, None)
            if p is None or p.name != r.group("name"):
                # Resumed without its start (strace attached mid-call, or the log was cut).
                self.dropped += 1
                return
            tail = r.group("rest")
            if tail.endswith("<unfinished ...>"):  # resumed, then interrupted again
                p.args += tail[: -len("<unfinished ...>")]
                self.pending[pid] = p
                return
            self._complete(pid, p.name, p.args + tail, p.ts, max(ts, p.ts + dur), p.slot)
            return
        c = _CALL.match(rest)
        if c is None:
            raise ValueError("not a system call line")
        name = c.group("name")
        body = c.group("rest")
        if body.endswith("<unfinished ...>"):
            slot = len(self.slots)
            self.slots.append(None)
            self.pending[pid] = _Pending(name, body[: -len("<unfinished ...>")].rstrip(), ts, slot)
            return
        self._complete(pid, name, body, ts, ts + dur, None)

    def _complete(self, pid: int, name: str, body: str, start: float, end: float, slot: int | None) -> None:
        """A whole call: ``body`` is ``args) = result``."""
        close = -1
        for close_m in _EQUALS.finditer(body):
            close = close_m.start()
        if close < 0:
            if body.rstrip().endswith(")") and name in ("exit_group", "exit"):
                close = len(body.rstrip()) - 1
                result_text = "?"
            else:
                raise ValueError("no result")
        else:
            result_text = body[close_m.end() :]
        args = split_args(body[:close])
        rm = _RESULT.match(result_text.strip())
        if rm is None:
            raise ValueError(f"bad result {result_text!r}")
        val, err = rm.group("val"), rm.group("err")
        if val == "?":
            result: int | str | None = None
        elif val == "-1" and err:
            result = "!" + err
        else:
            result = int(val, 0) if val.startswith("0x") else int(val)
        event = self._event(pid, name, args, result, start, end)
        if slot is None:
            if event is not None:
                self.slots.append(event)
        else:
            self.slots[slot] = event

    def _event(self, pid: int, name: str, args: list[str], result, start: float, end: float) -> tuple | None:
        if name in _WAITS or name in ("exit_group", "exit"):
            self._bank(pid, start, end)
            return None
        if name in _CLONES:
            if not isinstance(result, int) or result <= 0:
                self._bank(pid, start, end)
                return None
            if name == "vfork":
                how = "v"
            elif name == "fork":
                how = "f"
            else:
                fm = _CLONE_FLAGS.search(",".join(args))
                flags = fm.group(1).split("|") if fm else []
                how = "t" if "CLONE_THREAD" in flags else ("v" if "CLONE_VM" in flags else "f")
            self.live.add(result)
            self.known.add(result)
            us = self._charge(pid, start)
            # A vfork parent sleeps until the child execs or exits: the clock restarts at the
            # call's end, so that sleep is not its own time.
            self.last_end[pid] = end
            self.last_end.setdefault(result, start)
            return ("c", pid, us, result, how)
        if name == "execve" or name == "execveat":
            if result != 0:
                self._bank(pid, start, end)
                return None
            path = args[0] if name == "execve" else args[1]
            path = path.strip()
            if path.startswith('"'):
                path = path[1:].split('"', 1)[0]
            self.execs[pid] = self.execs.get(pid, 0) + 1
            fid = self.file_ids.get(path)
            if fid is None:
                fid = self.file_ids[path] = len(self.files)
                self.files.append(path)
            us = self._charge(pid, start)
            self.last_end[pid] = end
            return ("x", pid, us, fid)
        if name not in _MM_CALLS:
            self._bank(pid, start, end)
            return None
        if result is None:  # died inside the call
            self._bank(pid, start, end)
            return None
        if name == "mmap2":
            self.compat.add(pid)
        if pid in self.compat and isinstance(result, int) and result >> 32 == _U32:
            result &= _U32  # a 32-bit task's address, sign-extended by a 64-bit strace
        us = self._charge(pid, start)
        self.last_end[pid] = end
        if name in ("mmap", "mmap2"):
            addr, length, prot, flags = (parse_int(a) for a in args[:4])
            fid = self._file(pid, args[4])
            pgoff = parse_int(args[5])
            if name == "mmap2":
                pgoff *= linux.PAGE_SIZE
            if flags & linux.MAP_ANONYMOUS:
                fid = None
            return ("m", pid, us, addr, length, prot, flags, fid, pgoff, result)
        if name == "munmap":
            return ("u", pid, us, parse_int(args[0]), parse_int(args[1]), result)
        if name == "mprotect":
            return ("p", pid, us, parse_int(args[0]), parse_int(args[1]), parse_int(args[2]), result)
        if name == "brk":
            return ("b", pid, us, parse_int(args[0]), result)
        # mremap(old, old_len, new_len, flags[, new_addr])
        new = parse_int(args[4]) if len(args) > 4 else 0
        return ("r", pid, us, parse_int(args[0]), parse_int(args[1]), parse_int(args[2]), parse_int(args[3]), new, result)

    def _unprefixed(self) -> int:
        """The task of a line without ``[pid N]``: strace omits the prefix while only one task
        is traced, so it is the one live task (the first task, 0, until its pid is known)."""
        if len(self.live) == 1:
            return next(iter(self.live))
        if not self.live:
            self.live.add(self.main)
        return self.main

    def _task(self, pid: int, rest: str) -> int:
        """The task of a ``[pid N]`` line. The first task's lines had no prefix (0) until a
        second task existed; the first prefixed pid that no clone, fork or attach notice
        created is that task: from now on its events carry ``pid``."""
        if pid in self.known or self.main:
            self.known.add(pid)
            self.live.add(pid)
            return pid
        p0 = self.pending.get(0)
        if 0 in self.live and (p0 is None or p0.name not in _CLONES or rest.startswith("<...")):
            self._rename(0, pid)
            self.main = pid
        self.known.add(pid)
        self.live.add(pid)
        return pid

    def _rename(self, old: int, new: int) -> None:
        self.live.discard(old)
        for table in (self.pending, self.last_end, self.user, self.execs, self.vforked):
            if old in table:
                table[new] = table.pop(old)
        if old in self.compat:
            self.compat.add(new)

    def trace(self) -> Trace:
        """The trace so far (calls still unfinished are left out)."""
        main = self.main
        events = [ev if not main or ev[1] != 0 else (ev[0], main) + ev[2:] for ev in self.slots if ev is not None]
        meta = dict(self.meta)
        if self.dropped:
            meta["dropped_lines"] = self.dropped
        return Trace(meta=meta, files=list(self.files), events=events)


def parse_strace(lines: Iterable[str], meta: dict | None = None) -> Trace:
    """Parse a whole strace log (an iterable of lines) into a trace."""
    parser = StraceParser(meta)
    for line in lines:
        parser.feed(line)
    return parser.trace()


def read_strace_log(path: str | Path) -> Trace:
    """Parse the raw strace log at ``path`` (``strace -f [-o LOG]`` output, any of the forms
    above) into a trace without exec layouts. ``InputError`` names the file and the bad line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            trace = parse_strace(fh, {"source": "strace log", "log": str(path)})
    except StraceError as exc:
        raise StraceError(f"{path}: {exc}") from None
    except OSError as exc:
        raise InputError(f"strace log {path}: cannot read it ({exc.strerror})") from None
    if not trace.events:
        raise InputError(f"strace log {path}: no address-space calls in it (mmap, munmap, mprotect, brk, ...)")
    return trace


def read_trace_or_log(path: str | Path) -> Trace:
    """A maplebench trace (gzip'd, from ``maplebench record`` or ``maplebench convert``) or a
    raw strace log, told apart by gzip's magic bytes."""
    from maple.trace.format import read_trace

    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
    except OSError as exc:
        raise InputError(f"trace {path}: cannot read it ({exc.strerror})") from None
    if magic == b"\x1f\x8b":
        return read_trace(path)
    return read_strace_log(path)

