"""Replay a trace on simulated address spaces (``maple.mm``).

Each traced process becomes an mm, built and torn down as the kernel did:

* ``execve`` -> a fresh mm (``make_mm(kind, layout=...)``) from the program's execve-time
  layout stored in the trace (what binfmt_elf built: program, interpreter, stack, vdso), or
  :data:`DEFAULT_LAYOUT` when the trace has none for it; the old mm loses a user;
* ``clone``/``fork``: a fork gets ``parent.mm.fork()`` (dup_mmap); a ``CLONE_VM`` child (vfork,
  posix_spawn, threads) shares its parent's mm until it execs or exits;
* a task's exit drops its mm's user count; the last user's exit is ``mm.exit()`` (exit_mmap).

Calls are replayed in trace order. ``MAP_FIXED``/``MAP_FIXED_NOREPLACE`` mappings use the
trace's address; other mappings are placed by the simulation (the trace's address, translated,
is passed as the hint) and the pair of addresses is remembered in the process's
:class:`~maple.trace.addrmap.AddressMap`, which translates every later address of that range.
Addresses the map does not cover translate to themselves: traces are recorded without
address-space randomisation and the execve-time layout was captured the same way, so the
program's own mappings are where the trace says.

``brk`` is replayed relative to the break: the trace's first break and the simulated one after
execve define an offset. ``mremap`` (not in the mm contract) is replayed as its effect: shrinking
in place is an ``munmap`` of the tail; growing in place is a ``MAP_FIXED`` mapping of the
extension with the same protection, file and offset, which ``vma_merge`` joins to the original
(as ``vma_expand`` would), or, when the simulation has something in the way, a move; a move is
an ``mmap`` of the new range plus an ``munmap`` of the old one (without ``MREMAP_DONTUNMAP``).

Failed calls (``!ENOMEM`` ...) are not replayed: their failure depended on the traced machine's
state, and replaying them could succeed here and change the address space. The exception is a
refused ``brk`` (the kernel returns the old break): it is replayed as ``brk(0)``, because the
kernel still took ``mmap_lock`` and looked at the neighbouring VMA. A call that succeeded in
the trace but fails in the simulation is counted in ``stats["diverged"]`` and skipped.

Page faults come from :class:`~maple.trace.faults.FaultModel`.
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any, Callable, Iterable

from maple.linux import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    PAGE_MASK,
    PAGE_SHIFT,
    PROT_READ,
    PROT_WRITE,
    VM_SHARED,
    page_align,
)
from maple.trace.addrmap import AddressMap
from maple.trace.faults import FaultModel
from maple.trace.format import Trace
from maple.trace.strace import MREMAP_DONTUNMAP, MREMAP_FIXED

_FIXED = MAP_FIXED | MAP_FIXED_NOREPLACE


def _default_layout() -> str:
    return resources.files("maple.trace").joinpath("data", "exec.maps").read_text()


#: /proc/PID/maps text of a program right after execve (gcc 12's ``cc1`` on Debian 12, the
#: program that dominates a compile, captured by :func:`maple.trace.record.exec_layout`), used
#: for programs the trace has no layout for.
DEFAULT_LAYOUT = _default_layout()


class Space:
    """One simulated address space and what the replay knows about it."""

    __slots__ = ("mm", "amap", "users", "brk_delta", "brk", "counted")

    def __init__(self, mm: Any, amap: AddressMap, counted: bool, brk_delta: int | None = None) -> None:
        self.mm = mm
        self.amap = amap
        self.users = 1
        self.brk_delta = brk_delta
        self.brk = 0  # the simulated break as last returned (0: not asked yet)
        self.counted = counted


class Replay:
    """Replays (a share of) a trace on mms of one kind.

    ``select(i)`` says for event ``i`` whether to replay it and whether it is timed and
    counted: ``None`` (not replayed), ``False`` (replayed untimed: state another worker owns
    the cost of) or ``True``. ``user_scale`` converts the trace's own time between events into
    the replay's: a replayed timed event first sleeps ``us * user_scale`` (sleeps shorter than
    a millisecond accumulate), and :attr:`user` adds it up.
    """

    def __init__(
        self,
        trace: Trace,
        kind: str,
        *,
        faults: FaultModel | None = None,
        user_scale: float = 0.0,
        keep_maps: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        from maple.mm import File, MMError, make_mm

        self._make_mm = make_mm
        self._File = File
        self._MMError = MMError
        self.trace = trace
        self.kind = kind
        self.faults = faults if faults is not None else FaultModel()
        self.user_scale = user_scale
        self.clock = clock
        self.tasks: dict[int, Space] = {}
        self.files: dict[int, Any] = {}
        self.syst = 0.0
        self.user = 0.0
        self._debt = 0.0
        self.counters: dict[str, int] = {}
        self.stats = {
            "syscalls": 0,
            "faults": 0,
            "failed_skipped": 0,
            "diverged": 0,
            "execs": 0,
            "forks": 0,
            "exits": 0,
        }
        self._scratch = dict.fromkeys(self.stats, 0)
        #: the first few calls that diverged, with the simulation's error
        self.divergences: list[tuple[tuple, str]] = []
        #: with ``keep_maps``: ``(pid, maps())`` of every mm just before its teardown
        self.exit_maps: list[tuple[int, str]] | None = [] if keep_maps else None

    # -- helpers ---------------------------------------------------------------------------

    def _file(self, fid: int | None) -> Any:
        if fid is None:
            return None
        f = self.files.get(fid)
        if f is None:
            f = self.files[fid] = self._File(self.trace.files[fid])
        return f

    def _new_space(self, fid: int | None, counted: bool) -> Space:
        layout = self.trace.layouts.get(fid) if fid is not None else None
        mm = self._make_mm(self.kind, layout=layout or DEFAULT_LAYOUT)
        self.stats["execs"] += 1
        return Space(mm, AddressMap(), counted)

    def _drop(self, pid: int, sp: Space) -> None:
        sp.users -= 1
        if sp.users:
            return
        mm = sp.mm
        if self.exit_maps is not None:
            mm.validate()
            self.exit_maps.append((pid, mm.maps()))
        mm.exit()
        self.stats["exits"] += 1
        if sp.counted:
            acc = self.counters
            for k, v in mm.counters.items():
                if isinstance(v, int):
                    acc[k] = acc.get(k, 0) + v

    def _diverged(self, ev: tuple, why: Any) -> None:
        """The simulation parted from the trace (a call that worked there failed here, or one
        that failed there would work here): count it and keep the first few."""
        self.stats["diverged"] += 1
        if len(self.divergences) < 20:
            self.divergences.append((ev, str(why)))

    def _touch(self, mm: Any, start: int, end: int, prot: int, index: int) -> None:
        pages, write = self.faults.pages(start, end, prot, index)
        if not pages:
            return
        fault = mm.fault
        try:
            for a in pages:
                fault(a, write)
        except self._MMError as exc:
            self._diverged(("fault", a, write), exc)
        self.stats["faults"] += len(pages)

    # -- one event -------------------------------------------------------------------------

    @staticmethod
    def _holes(mm: Any, start: int, end: int) -> bool:
        """Whether ``[start, end)`` has an unmapped page in ``mm`` (an uncounted walk)."""
        at = start
        for v in mm.index:
            if v.end <= at:
                continue
            if v.start > at:
                return True
            at = v.end
            if at >= end:
                return False
        return at < end

    def _failed_here_too(self, ev: tuple, sp: Space | None, why: str) -> None:
        """A call that failed in the trace is not replayed; when the simulation's state shows
        it would have worked here (ENOMEM from mprotect over a hole the simulation has
        mapped, EEXIST from ``MAP_FIXED_NOREPLACE`` on a range free here), that is a divergence."""
        self.stats["failed_skipped"] += 1
        if sp is None:
            return
        op = ev[0]
        if op == "p" and why == "!ENOMEM":
            addr, length = ev[3], ev[4]
            pieces = sp.amap.pieces(addr & PAGE_MASK, page_align(addr + length))
            if not any(self._holes(sp.mm, s, e) for s, e in pieces):
                self._diverged(ev, "failed with ENOMEM in the trace, its range is mapped here")
        elif op == "m" and why == "!EEXIST" and ev[6] & MAP_FIXED_NOREPLACE:
            target = sp.amap.translate(ev[3])
            end = target + page_align(ev[4])
            if all(v.end <= target or v.start >= end for v in sp.mm.index):
                self._diverged(ev, "failed with EEXIST in the trace, its range is free here")

    def _per_piece(self, ev: tuple, pid: int, counted: bool, addr: int, length: int, res: Any,
                   call: Callable[[Any, int, int], None]) -> None:
        """mprotect / munmap: skip a call that failed in the trace, else apply ``call`` to each
        simulated piece the traced range translates to; an MMError is a divergence."""
        if isinstance(res, str):
            self._failed_here_too(ev, self.tasks.get(pid), res)
            return
        sp = self._space(pid, counted)
        self.stats["syscalls"] += 1
        mm = sp.mm
        try:
            for s, e in sp.amap.pieces(addr & PAGE_MASK, page_align(addr + length)):
                call(mm, s, e)
        except self._MMError as exc:
            self._diverged(ev, exc)

    def _space(self, pid: int, counted: bool) -> Space:
        sp = self.tasks.get(pid)
        if sp is None:  # a task the trace never showed being created: start it from a layout
            sp = self.tasks[pid] = self._new_space(None, counted)
            self._diverged(("task", pid), "task never created nor exec'd in the trace: started from the default layout")
        return sp

    def step(self, i: int, ev: tuple, counted: bool) -> None:
        """Replay event ``ev`` (index ``i`` in the trace)."""
        op = ev[0]
        pid = ev[1]
        if op == "m":
            self._mmap(i, ev, self._space(pid, counted))
        elif op == "b":
            self._brk(i, ev, self._space(pid, counted))
        elif op == "p":
            _, _, _, addr, length, prot, res = ev
            self._per_piece(ev, pid, counted, addr, length, res, lambda mm, s, e: mm.mprotect(s, e - s, prot))
        elif op == "u":
            _, _, _, addr, length, res = ev
            self._per_piece(ev, pid, counted, addr, length, res, lambda mm, s, e: mm.munmap(s, e - s))
        elif op == "x":
            old = self.tasks.pop(pid, None)
            if old is not None:
                self._drop(pid, old)
            self.tasks[pid] = self._new_space(ev[3], counted)
        elif op == "c":
            sp = self._space(pid, counted)
            child, how = ev[3], ev[4]
            if how == "f":
                kid = Space(sp.mm.fork(), sp.amap.copy(), counted, sp.brk_delta)
                kid.brk = sp.brk
                self.tasks[child] = kid
                self.stats["forks"] += 1
            else:
                sp.users += 1
                self.tasks[child] = sp
        elif op == "e":
            sp = self.tasks.pop(pid, None)
            if sp is not None:
                self._drop(pid, sp)
        elif op == "r":
            self._mremap(i, ev, self._space(pid, counted))

    def _mmap(self, i: int, ev: tuple, sp: Space) -> None:
        _, _, _, addr, length, prot, flags, fid, offset, res = ev
        if isinstance(res, str):
            self._failed_here_too(ev, sp, res)
            return
        self.stats["syscalls"] += 1
        size = page_align(length)
        mm = sp.mm
        amap = sp.amap
        f = self._file(fid) if not flags & MAP_ANONYMOUS else None
        pgoff = offset >> PAGE_SHIFT
        try:
            if flags & _FIXED:
                target = amap.translate(addr)
                got = mm.mmap(target, size, prot, flags, f, pgoff)
            else:
                hint = amap.translate(addr) if addr else 0
                got = mm.mmap(hint, size, prot, flags, f, pgoff)
        except self._MMError as exc:
            self._diverged(ev, exc)
            return
        amap.set(res, res + size, got - res)
        self._touch(mm, got, got + size, prot, i)

    def _brk(self, i: int, ev: tuple, sp: Space) -> None:
        _, _, _, addr, res = ev
        self.stats["syscalls"] += 1
        mm = sp.mm
        if not addr or res != addr:  # a query, or a refused request: the kernel read the break
            sp.brk = mm.brk(0)
            if sp.brk_delta is None:
                # The first query pairs the trace's initial break with the simulation's.
                sp.brk_delta = sp.brk - res
            return
        if sp.brk_delta is None:  # a process whose first brk is not a query: trace addresses
            sp.brk_delta = 0
        old = sp.brk
        want = addr + sp.brk_delta
        try:
            new = mm.brk(want)
        except self._MMError as exc:
            self._diverged(ev, exc)
            return
        sp.brk = new
        if new != want:
            self._diverged(ev, f"brk returned {new:#x}, wanted {want:#x}")
        if old and new > old:
            self._touch(mm, page_align(old), page_align(new), PROT_READ | PROT_WRITE, i)

    def _mremap(self, i: int, ev: tuple, sp: Space) -> None:
        _, _, _, old, oldlen, newlen, flags, new, res = ev
        if isinstance(res, str):
            self.stats["failed_skipped"] += 1
            return
        self.stats["syscalls"] += 1
        mm = sp.mm
        amap = sp.amap
        sold = amap.translate(old)
        osize, nsize = page_align(oldlen), page_align(newlen)
        vma = mm.find_vma(sold)
        if vma is None or vma.start > sold:
            self._diverged(ev, "mremap: no mapping at the old address")
            return
        if sold + osize > vma.end:  # the kernel wants the old range inside one VMA (EFAULT)
            osize = vma.end - sold
        prot = vma.prot
        mflags = MAP_SHARED if vma.flags & VM_SHARED else MAP_PRIVATE
        f = vma.file
        if f is None:
            mflags |= MAP_ANONYMOUS
        pgoff = vma.pgoff + ((sold - vma.start) >> PAGE_SHIFT) if f is not None else 0
        try:
            if res == old:  # in place
                if nsize < osize:
                    mm.munmap(sold + nsize, osize - nsize)
                elif nsize > osize:
                    ext, end = sold + osize, sold + nsize
                    nxt = mm.find_vma(ext)
                    if nxt is None or nxt.start >= end:
                        ext_pgoff = pgoff + (osize >> PAGE_SHIFT) if f is not None else 0
                        mm.mmap(ext, nsize - osize, prot, mflags | MAP_FIXED, f, ext_pgoff)
                        self._touch(mm, ext, end, prot, i)
                    else:  # in the way here: the simulation's kernel would have moved it
                        got = mm.mmap(0, nsize, prot, mflags, f, pgoff)
                        mm.munmap(sold, osize)
                        amap.set(old, old + nsize, got - old)
                        self._touch(mm, got, got + nsize, prot, i)
                        return
                amap.set(old, old + nsize, sold - old)
                return
            if flags & MREMAP_FIXED:
                got = mm.mmap(amap.translate(new), nsize, prot, mflags | MAP_FIXED, f, pgoff)
            else:
                got = mm.mmap(0, nsize, prot, mflags, f, pgoff)
            if not flags & MREMAP_DONTUNMAP:
                mm.munmap(sold, osize)
            amap.set(res, res + nsize, got - res)
            self._touch(mm, got, got + nsize, prot, i)
        except self._MMError as exc:
            self._diverged(ev, exc)

    # -- the loop --------------------------------------------------------------------------

    def run(self, select: Callable[[int], bool | None] | None = None, stop: int | None = None) -> "Replay":
        """Replay the events (up to index ``stop``), then tear down what is still alive."""
        events = self.trace.events
        if stop is not None:
            events = events[:stop]
        clock = self.clock
        step = self.step
        scale = self.user_scale
        sleep = time.sleep
        for i, ev in enumerate(events):
            counted = True if select is None else select(i)
            if counted is None:
                continue
            if counted:
                if scale:
                    u = ev[2] * scale * 1e-6
                    self.user += u
                    self._debt += u
                    if self._debt >= 0.001:
                        sleep(self._debt)
                        self._debt = 0.0
                t0 = clock()
                step(i, ev, True)
                self.syst += clock() - t0
            else:
                # Uncounted work (another slot owns its cost) goes to scratch statistics.
                counted_stats = self.stats
                self.stats = self._scratch
                try:
                    step(i, ev, False)
                finally:
                    self.stats = counted_stats
        return self

    def finish(self) -> "Replay":
        """Exit every task still alive (a trace cut short, or a slice); timed if counted."""
        for pid in list(self.tasks):
            sp = self.tasks.pop(pid)
            t0 = self.clock()
            self._drop(pid, sp)
            if sp.counted:
                self.syst += self.clock() - t0
        return self

    def live_maps(self) -> dict[int, str]:
        """``maps()`` of each live task's mm, keyed by task id."""
        return {pid: sp.mm.maps() for pid, sp in self.tasks.items()}

    def validate(self) -> None:
        """``validate()`` every live mm."""
        seen = set()
        for sp in self.tasks.values():
            if id(sp) not in seen:
                seen.add(id(sp))
                sp.mm.validate()
                sp.amap.check()


def describe(ev: tuple, why: str) -> str:
    """One divergence as a line: the event's fields (addresses in hex) and what happened."""
    fields = [f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) and v > 9 else str(v) for v in ev]
    return f"{' '.join(fields)}: {why}"


def replay(trace: Trace, kind: str, **options: Any) -> Replay:
    """Replay all of ``trace`` on ``kind`` mms and tear everything down; returns the replay."""
    return Replay(trace, kind, **options).run().finish()


def events_of(trace: Trace, pids: Iterable[int]) -> list[int]:
    """Indices of the events of ``pids`` (a helper for slicing tests and tools)."""
    want = set(pids)
    return [i for i, ev in enumerate(trace.events) if ev[1] in want]
