"""``MM``: one simulated address space, Linux syscall semantics over a pluggable VMA index.

The semantics are written once, after mm/mmap.c, mm/mprotect.c, mm/memory.c and
kernel/fork.c; only the VMA index differs between the two kinds (the maple tree of v6.1,
``maple.mm.maple_index``, or the rbtree + list + vmacache of v5.15, ``maple.legacy.index``).
The index protocol (``find_vma``, ``insert``, ``remove``, ``remove_range``, ``adjust``,
``unmapped_area[_topdown]``, ``dup``, ...) is the only way this module touches VMAs' places,
so every lookup and modification is counted by the index's own cost model.

Where kernel versions differ in *semantics*, this module follows one and says so (see
docs/mm.md): merging uses ``vma_merge``'s eight cases (v5.15 and v6.1), brk expands the heap
VMA in place as v6.1's ``do_brk_flags``, stack growth takes the write lock (v6.5+). ``rules``
selects the anon_vma merge rule and mprotect's ``VM_ACCOUNT`` handling: ``"6.1"`` (default)
or ``"current"`` (what today's kernels do, for the real-kernel differential test).

Page tables are modelled per mm as a dict ``vpn -> pte`` where ``pte`` is ``PTE_PRESENT``
optionally ``| PTE_WRITE``; file pages also enter the file's page cache. A PMD-sized file folio
mapped by one PMD entry (``do_set_pmd``, eras with ``file_folios``) shows as 512 entries
flagged ``PTE_HUGE`` whose 2 MiB table index is in ``_pmds`` (it has no PTE table); zapping or
write-protecting part of it drops the whole PMD, as ``__split_huge_pmd`` does for a file folio.
"""

from __future__ import annotations

import errno
import threading
from bisect import bisect_right
from typing import Iterator

from maple.linux import (
    DEFAULT_MMAP_BASE,
    EACCES,
    EEXIST,
    EINVAL,
    ENOMEM,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_STACK,
    MAP_TYPE,
    MAX_MAP_COUNT,
    MMAP_MIN_ADDR,
    PAGE_MASK,
    PAGE_SHIFT,
    PAGE_SIZE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
    STACK_GUARD_GAP,
    TASK_SIZE,
    VM_ACCOUNT,
    VM_DONTCOPY,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_HUGETLB,
    VM_LOCKED,
    VM_LOCKONFAULT,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_NOHUGEPAGE,
    VM_NORESERVE,
    VM_READ,
    VM_SHARED,
    VM_SOFTDIRTY,
    VM_SPECIAL,
    VM_WIPEONFORK,
    VM_WRITE,
    vm_start_gap,
)
from maple.mm.arch import X86_64, Arch
from maple.mm.eras import ERAS, LEGACY, MAPLE, Era
from maple.mm.errors import MMError, SegmentationFault
from maple.mm.events import EventRecorder
from maple.mm.readahead import async_mmap_readahead, sync_mmap_readahead
from maple.mm.lock import RWSemaphore
from maple.mm.vma import VMA, AnonVma, File
from maple.tree import ULONG_MAX

__all__ = ["MM", "DEFAULT_START_BRK", "PTE_PRESENT", "PTE_WRITE", "PTE_HUGE"]

_EBADF = errno.EBADF
#: Where an empty address space puts its (empty) heap: just above a typical PIE executable
#: loaded without ASLR at 0x555555554000.
DEFAULT_START_BRK = 0x555555560000
#: TASK_UNMAPPED_BASE on x86-64: where bottom-up placement starts (the top-down fallback).
TASK_UNMAPPED_BASE = (TASK_SIZE // 3 + PAGE_SIZE - 1) & PAGE_MASK  # x86-64 PAGE_ALIGN; an mm uses arch.unmapped_base

PTE_PRESENT = 1
PTE_WRITE = 2
#: the page is mapped by a PMD entry (a PMD-sized file folio, ``do_set_pmd``), not a PTE
PTE_HUGE = 4

#: pages per page-table page (PTRS_PER_PTE) as a shift: one PTE table maps 2 MiB (PMD_SIZE)
_PTE_TABLE_SHIFT = 9
_PTRS_PER_PTE = 1 << _PTE_TABLE_SHIFT
_PMD_SHIFT = PAGE_SHIFT + _PTE_TABLE_SHIFT

_ACCESS = VM_READ | VM_WRITE | VM_EXEC
_NOT_OFFSET = ~PAGE_MASK
_PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC
_PROT_SEM = 0x8  # accepted by mprotect's generic arch_validate_prot, no effect on x86
_DATA_FLAGS = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
_MAY = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
_NO_MERGE_DIFF = ~VM_SOFTDIRTY
_ANON_COMPAT_IGNORE = ~(_ACCESS | VM_SOFTDIRTY)
_NO_ACCOUNT_CHANGE = VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE

#: merge rules: "6.1" (the kernels the maple tree experiment compared) or "current"
RULES = ("6.1", "current")

#: mm-level counters, in the order ``counters`` lists them after the index's.
MM_COUNTER_KEYS = (
    "syscalls", "mmap_calls", "munmap_calls", "mprotect_calls", "brk_calls", "forks", "exits",
    "faults", "minor_faults", "cow_faults", "stack_expansions", "pages_mapped", "pages_unmapped",
    "vmas_allocated", "vmas_freed", "splits", "merges", "brk_expansions", "anon_vmas_allocated",
)


class _FaultCounts:
    """One thread's share of the counters that faults bump under the *read* lock.

    Readers run concurrently, so a shared ``+=`` could lose counts (not on CPython 3.11 with
    the GIL, where the increment is never interrupted, but on free-threaded builds); each
    thread bumps its own object and ``MM.counters`` sums them (the kernel's per-CPU
    ``vm_event_states``)."""

    __slots__ = ("faults", "minor_faults", "cow_faults", "pages_mapped")

    def __init__(self) -> None:
        self.faults = self.minor_faults = self.cow_faults = self.pages_mapped = 0


#: counters kept per thread (summed on read) because faults bump them under the read lock
_PER_THREAD_KEYS = _FaultCounts.__slots__


def _no_flush() -> None:
    """Index without cost events (a test oracle): nothing to flush."""


def _no_lock(vma: VMA) -> None:
    """``vma_start_write`` in eras without per-VMA locks."""


def _is_mergeable_anon_vma(src_anon: AnonVma | None, src: VMA | None, tgt: VMA) -> bool:
    """``is_mergeable_anon_vma`` (v5.15-v6.1): may memory with anon_vma ``src_anon`` join
    ``tgt``? A missing anon_vma on either side is fine only if ``tgt``'s anon_vma chain is
    singular, i.e. ``tgt`` has its own anon_vma that was not inherited through fork."""
    tgt_anon = tgt.anon_vma
    if (src_anon is None or tgt_anon is None) and tgt.anon_vma_chain == 1:
        return True
    return src_anon is tgt_anon


def _is_mergeable_anon_vma_current(src_anon: AnonVma | None, src: VMA | None, tgt: VMA) -> bool:
    """``is_mergeable_anon_vma`` of current kernels (v6.12+, ``vma_had_uncowed_parents``):
    a side without anon_vma takes the other's (``dup_anon_vma``) unless that side was
    forked; two anon_vmas must be the same one."""
    tgt_anon = tgt.anon_vma
    if tgt_anon is None and src_anon is not None:
        return src is None or src.anon_vma_chain <= 1
    if tgt_anon is not None and src_anon is None:
        return tgt.anon_vma_chain <= 1
    return src_anon is tgt_anon


def _same_kind(vma: VMA, flags: int, file, name: str | None = None) -> bool:
    """``is_mergeable_vma``: flags equal but for ``VM_SOFTDIRTY``, same file, same name
    (``anon_vma_name_eq``, v5.17+: a named anonymous VMA merges only with an equal name;
    special mappings never merge, their ``VM_DONTEXPAND`` is in ``VM_SPECIAL``)."""
    return not ((vma.flags ^ flags) & _NO_MERGE_DIFF) and vma.file is file and vma.name == name


def _anon_vma_compatible(a: VMA, b: VMA) -> bool:
    """``anon_vma_compatible``: could ``a`` (just below) and ``b`` share one anon_vma?"""
    return (
        a.end == b.start
        and a.file is b.file
        and not ((a.flags ^ b.flags) & _ANON_COMPAT_IGNORE)
        and b.pgoff == a.pgoff + ((a.end - a.start) >> PAGE_SHIFT)
    )


class MM:
    """A simulated ``struct mm_struct`` over ``index`` (a VMA index, see docs/mm.md).

    Use ``maple.mm.make_mm(kind, layout=...)`` rather than this constructor. Every syscall
    method takes ``mmap_lock`` itself (for write; ``fault`` for read) and raises ``MMError``
    with Linux's errno on failure.
    """

    __slots__ = (
        "_index", "kind", "mmap_lock", "_pt", "_ptl", "_map_count", "max_map_count",
        "mmap_base", "start_brk", "_brk", "start_stack", "exited", "rules", "_anon_ok",
        "_tls", "_fault_counts", "_pte_lock", "arch", "gate", "mmap_legacy",
        # eras and cost events
        "era", "events", "_users", "_flush_index", "_sync_index", "_maple", "_ptables", "_mm_lock_seq",
        "_vma_cond", "_vma_locks", "_pmds", "_file_folios",
        # counters
        "_syscalls", "_mmap_calls", "_munmap_calls", "_mprotect_calls", "_brk_calls", "_forks",
        "_exits", "_faults", "_minor_faults", "_cow_faults", "_stack_expansions",
        "_pages_mapped", "_pages_unmapped", "_vmas_allocated", "_vmas_freed", "_splits",
        "_merges", "_brk_expansions", "_anon_vmas_allocated",
    )

    def __init__(
        self,
        index,
        *,
        mmap_base: int = DEFAULT_MMAP_BASE,
        start_brk: int = DEFAULT_START_BRK,
        start_stack: int = 0,
        max_map_count: int = MAX_MAP_COUNT,
        rules: str | None = None,
        era: Era | None = None,
    ) -> None:
        if era is None:
            era = ERAS.get(index.kind, LEGACY if index.kind == "legacy" else MAPLE)
        if rules is None:
            rules = era.rules
        if rules not in RULES:
            raise ValueError(f"rules {rules!r}: expected one of {', '.join(RULES)}")
        self.rules = rules
        #: the kernel era whose code paths this mm follows (``maple.mm.eras``)
        self.era = era
        #: the cost events of this mm's syscalls and faults (``maple.mm.events``; off unless
        #: a model clock enables it)
        self.events = EventRecorder()
        self._users = 1
        attach = getattr(index, "attach_events", None)
        if attach is not None:
            attach(self.events, era)
        self._flush_index = getattr(index, "flush_events", None) or _no_flush
        self._sync_index = getattr(index, "sync_events", None) or _no_flush
        self._maple = hasattr(index, "set_in_rcu")
        if self._maple and era.rcu == "always":
            index.set_in_rcu()  # MM_MT_FLAGS has MT_FLAGS_USE_RCU (6.3+)
        #: page-table pages present (one per 2 MiB with a PTE installed since), by PMD index
        self._ptables: set[int] = set()
        #: 2 MiB ranges mapped by one PMD entry (a PMD-sized file folio), by PMD index
        self._pmds: set[int] = set()
        #: large page-cache folios and readahead (``Era.file_folios``)
        self._file_folios = era.file_folios
        #: ``mm_lock_seq``: bumped at every mmap_write_unlock (ends every VMA write lock)
        self._mm_lock_seq = 0
        #: per-VMA locks (6.4+): readers and writers meet on this condition
        self._vma_locks = era.fault_lock == "vma"
        self._vma_cond = threading.Condition()
        self._anon_ok = _is_mergeable_anon_vma if rules == "6.1" else _is_mergeable_anon_vma_current
        self._index = index
        self.kind: str = index.kind
        self.mmap_lock = RWSemaphore()
        self._pt: dict[int, int] = {}
        #: page_table_lock: serialises anon_vma_prepare between concurrent faults
        self._ptl = threading.Lock()
        #: the PTE lock: serialises concurrent faults installing or upgrading a PTE
        self._pte_lock = threading.Lock()
        self._map_count = len(index)
        self.max_map_count = max_map_count
        self.mmap_base = mmap_base
        self.start_brk = start_brk
        self._brk = start_brk
        self.start_stack = start_stack
        #: the architecture's TASK_SIZE and maps width (``maple.mm.arch``), the gate area line
        #: printed after the VMAs, and whether mmap places bottom-up (legacy layout)
        self.arch: Arch = X86_64
        self.gate: VMA | None = None
        self.mmap_legacy = False
        self.exited = False
        for key in MM_COUNTER_KEYS:
            setattr(self, "_" + key, 0)
        self._tls = threading.local()
        self._fault_counts: list[_FaultCounts] = []

    # ------------------------------------------------------------------ users and events

    @property
    def users(self) -> int:
        """``mm_users``: tasks using this address space (1 for a process; a threads-mode
        client sets the thread count, as every ``clone(CLONE_VM)`` does ``mmget``). More than
        one user makes a munmap's TLB flush a shootdown to the other CPUs, and puts the
        VMA tree of the v5 patch set in RCU mode (``mmget`` called ``mt_set_in_rcu``, sticky).
        """
        return self._users

    @users.setter
    def users(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"users {n}: an mm in use has at least one user")
        self._users = n
        if n > 1 and self._maple and self.era.rcu == "multi-user":
            self._index.set_in_rcu()

    def _record_syscall_entry(self, locks: int = 1) -> None:
        """Record a syscall's entry and its ``mmap_lock`` taken for write (``locks`` of them).
        Called only while recording; the syscall methods keep their lock prologue inline."""
        self._sync_index()
        ev = self.events
        ev.add("syscall")
        self._ev("write")
        ev.add("mmap_lock", locks)

    def _ev(self, ctx: str, lock: object = None) -> None:
        """A lock transition for the recorder: the index's pending counts go to the segment
        that did them, then recording continues in ``ctx``. Called only while recording."""
        self._flush_index()
        self.events.enter(ctx, lock)

    def _write_unlock(self) -> None:
        """``mmap_write_unlock``: ends every VMA write lock taken in this cycle
        (``vma_end_write_all``), then releases the semaphore."""
        self._mm_lock_seq += 1
        self.mmap_lock.up_write()

    def _tlb_flush(self) -> None:
        """``tlb_finish_mmu`` after PTEs were cleared: a local flush, and a shootdown IPI round
        when other tasks use the mm. Called only while recording."""
        ev = self.events
        ev.add("tlb_flush_local")
        if self._users > 1:
            ev.add("tlb_shootdown")

    def _vma_start_write(self, vma: VMA) -> None:
        """``vma_start_write`` (6.4+): wait for the faults reading ``vma`` under its lock, then
        mark it write-locked until the mmap_lock is released. A no-op in eras without
        per-VMA locks (callers test ``_vma_locks`` first). The caller holds the mmap_lock
        for write."""
        if not self._vma_locks:
            return
        seq = self._mm_lock_seq
        if vma.vm_lock_seq == seq:
            return
        cond = self._vma_cond
        with cond:
            while vma.vm_readers:
                cond.wait()
            vma.vm_lock_seq = seq
        if self.events.enabled:
            self.events.add("vma_write_lock")

    def _vma_start_read(self, vma: VMA) -> bool:
        """``vma_start_read``: take ``vma``'s lock for read unless a writer holds it."""
        with self._vma_cond:
            if vma.vm_lock_seq == self._mm_lock_seq:
                return False
            vma.vm_readers += 1
            return True

    def _vma_end_read(self, vma: VMA) -> None:
        """``vma_end_read``."""
        cond = self._vma_cond
        with cond:
            vma.vm_readers -= 1
            if not vma.vm_readers:
                cond.notify_all()

    def _unlink_anon(self, vma: VMA, ev: EventRecorder) -> None:
        """``unlink_anon_vmas`` for a VMA going away: under the anon_vma lock, free its chain;
        the last VMA using the anon_vma frees it. Events only while recording."""
        anon = vma.anon_vma
        if anon is None:
            return
        anon.refs -= 1
        if ev.enabled:
            ev.add("anon_vma_lock")
            ev.add("avc_free", vma.anon_vma_chain)
            if anon.refs <= 0:
                ev.add("anon_vma_free")

    # ------------------------------------------------------------------ inspection

    @property
    def index(self):
        """The VMA index (``MapleVmaIndex`` or ``LegacyVmaIndex``)."""
        return self._index

    @property
    def map_count(self) -> int:
        """``mm->map_count``: number of VMAs."""
        return self._map_count

    @property
    def brk_value(self) -> int:
        """``mm->brk``: the current program break (``brk(0)`` returns it too)."""
        return self._brk

    @property
    def page_table(self) -> dict[int, int]:
        """The page-table model: ``{virtual page number: PTE_PRESENT [| PTE_WRITE]}``."""
        return self._pt

    @property
    def counters(self) -> dict[str, int]:
        """Cumulative deterministic counts: the index's (protocol keys) then the mm's."""
        out = dict(self._index.counters)
        for key in MM_COUNTER_KEYS:
            out[key] = getattr(self, "_" + key)
        for fc in tuple(self._fault_counts):
            for key in _PER_THREAD_KEYS:
                out[key] += getattr(fc, key)
        return out

    def _thread_fault_counts(self) -> _FaultCounts:
        """This thread's ``_FaultCounts``, created on its first fault."""
        fc = self._tls.fc = _FaultCounts()
        self._fault_counts.append(fc)
        return fc

    def vmas(self) -> list[VMA]:
        """The VMAs in address order."""
        lock = self.mmap_lock
        lock.down_read()
        try:
            return list(self._index)
        finally:
            lock.up_read()

    def __iter__(self) -> Iterator[VMA]:
        return iter(self.vmas())

    def find_vma(self, addr: int) -> VMA | None:
        """``find_vma``: the first VMA with ``end > addr`` (under the read lock)."""
        addr &= ULONG_MAX  # an unsigned long, as in the kernel: -1 is ULONG_MAX on both kinds
        lock = self.mmap_lock
        lock.down_read()
        try:
            return self._index.find_vma(addr)
        finally:
            lock.up_read()

    def vma_name(self, vma: VMA) -> str:
        """The pathname column of ``/proc/PID/maps`` for ``vma`` (``show_map_vma``)."""
        if vma.file is not None:
            return vma.file.path
        if vma.name is not None:
            return vma.name
        if vma.start < self._brk and vma.end > self.start_brk:  # vma_is_initial_heap (v6.6+)
            return "[heap]"
        if vma.start <= self.start_stack <= vma.end:
            return "[stack]"
        return ""

    def maps(self) -> str:
        """``/proc/PID/maps``: one line per VMA, formatted as ``show_map_vma`` does."""
        lines = []
        width = self.arch.maps_width
        gate = [self.gate] if self.gate is not None else []
        for v in self.vmas() + gate:
            f = v.file
            if f is not None:
                offset = v.pgoff << PAGE_SHIFT
                major, minor = f.dev
                inode = f.inode
            else:
                offset = major = minor = inode = 0
            head = f"{v.start:08x}-{v.end:08x} {v.perms} {offset:08x} {major:02x}:{minor:02x} {inode} "
            name = self.vma_name(v)
            if name:
                head = head.ljust(width) + " " + name
            lines.append(head)
        return "".join(line + "\n" for line in lines)

    def populate(
        self,
        vmas: list[VMA],
        *,
        start_brk: int | None = None,
        brk: int | None = None,
        start_stack: int | None = None,
        mmap_base: int | None = None,
        arch: Arch | None = None,
        gate: VMA | None = None,
        mmap_legacy: bool = False,
    ) -> None:
        """Fill an empty address space with ready-made VMAs (what ``execve`` and the ELF
        loader would have built) and set its layout fields. Used by layouts."""
        lock = self.mmap_lock
        lock.down_write()
        try:
            if self._map_count:
                raise ValueError(f"populate needs an empty address space, this one has {self._map_count} VMAs")
            index = self._index
            for vma in vmas:
                index.insert(vma)
                if vma.anon_vma is not None:
                    vma.anon_vma.refs += 1
            self._map_count = len(vmas)
            self._vmas_allocated += len(vmas)
            self._anon_vmas_allocated += sum(v.anon_vma is not None for v in vmas)
            if start_brk is not None:
                self.start_brk = start_brk
                self._brk = start_brk if brk is None else brk
            if start_stack is not None:
                self.start_stack = start_stack
            if mmap_base is not None:
                self.mmap_base = mmap_base
            if arch is not None:
                self.arch = arch
            self.gate = gate
            self.mmap_legacy = mmap_legacy
        finally:
            lock.up_write()

    def insert_vm_struct(self, vma: VMA) -> None:
        """``insert_vm_struct``: link a VMA the kernel builds itself, not through mmap (the
        initial stack of ``__bprm_mm_init``, ``_install_special_mapping``'s ``[vdso]`` and
        ``[vvar]``). Raises ``MMError`` (ENOMEM) when the range is in use. Used by
        ``maple.mm.history`` to replay execve."""
        lock = self.mmap_lock
        lock.down_write()
        try:
            if self._index.find_vma_intersection(vma.start, vma.end) is not None:
                raise MMError(ENOMEM, f"insert_vm_struct: {vma.start:#x}-{vma.end:#x} is in use")
            if self._vma_locks:
                self._vma_start_write(vma)
            self._index.insert(vma)
            self._map_count += 1
            self._vmas_allocated += 1
            if vma.file is not None:
                vma.file.mapcount += 1
        finally:
            self._mm_lock_seq += 1
            lock.up_write()

    def set_layout_fields(self, *, start_brk: int, mmap_base: int, start_stack: int,
                          arch: Arch | None = None, gate: VMA | None = None) -> None:
        """What ``setup_new_exec`` (``arch_pick_mmap_layout``: ``mmap_base``) and
        ``load_elf_binary`` (``start_brk = brk``, ``start_stack``) set for a new image."""
        self.mmap_base = mmap_base
        self.start_brk = self._brk = start_brk
        self.start_stack = start_stack
        if arch is not None:
            self.arch = arch
        self.gate = gate

    # ------------------------------------------------------------------ syscalls
    # Each syscall spells out its lock prologue: one shared helper (getattr/setattr counter)
    # measured +3% to +24% per brk pair, and brk is a hot path.

    def mmap(self, addr: int, length: int, prot: int, flags: int, file: File | None = None, pgoff: int = 0) -> int:
        """``mmap(2)`` (``do_mmap`` + ``mmap_region``); ``pgoff`` is in pages. Returns the address."""
        lock = self.mmap_lock
        ev = self.events
        if ev.enabled:
            self._record_syscall_entry()
            ev.add("do_mmap")
        lock.down_write()
        try:
            self._syscalls += 1
            self._mmap_calls += 1
            return self._do_mmap(addr, length, prot, flags, file, pgoff)
        finally:
            self._mm_lock_seq += 1  # mmap_write_unlock: vma_end_write_all, then up_write
            lock.up_write()
            if ev.enabled:
                self._ev("none")

    def munmap(self, addr: int, length: int) -> None:
        """``munmap(2)`` (``__vm_munmap`` with downgrade): split the VMAs at the edges, detach
        the range under the write lock, then unmap it (the events record the downgrade to
        read; the simulation keeps its semaphore held for write until the end)."""
        lock = self.mmap_lock
        ev = self.events
        if ev.enabled:
            self._record_syscall_entry()
        lock.down_write()
        try:
            self._syscalls += 1
            self._munmap_calls += 1
            self._do_munmap(addr, length, True)
        finally:
            self._mm_lock_seq += 1  # mmap_write_unlock: vma_end_write_all, then up_write
            lock.up_write()
            if ev.enabled:
                self._ev("none")

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        """``mprotect(2)`` (``do_mprotect_pkey`` / ``mprotect_fixup``): split and merge."""
        lock = self.mmap_lock
        ev = self.events
        if ev.enabled:
            self._record_syscall_entry()
        lock.down_write()
        try:
            self._syscalls += 1
            self._mprotect_calls += 1
            self._do_mprotect(addr, length, prot)
        finally:
            self._mm_lock_seq += 1  # mmap_write_unlock: vma_end_write_all, then up_write
            lock.up_write()
            if ev.enabled:
                self._ev("none")

    def brk(self, addr: int) -> int:
        """``brk(2)``: move the break; returns the new break, or the old one on failure."""
        lock = self.mmap_lock
        ev = self.events
        if ev.enabled:
            self._record_syscall_entry()
        lock.down_write()
        try:
            self._syscalls += 1
            self._brk_calls += 1
            return self._do_brk(addr)
        finally:
            self._mm_lock_seq += 1  # mmap_write_unlock: vma_end_write_all, then up_write
            lock.up_write()
            if ev.enabled:
                self._ev("none")

    def fault(self, addr: int, write: bool = False) -> None:
        """A user page fault at ``addr`` (``do_user_addr_fault`` + ``handle_mm_fault``).

        Eras with per-VMA locks (``era.fault_lock == "vma"``) first try
        ``lock_vma_under_rcu``: a lockless tree walk, then the VMA's own read lock, no
        mmap_lock. They fall back to the mmap_lock path when no VMA contains ``addr`` (a
        gap, a stack to grow), when a writer holds the VMA, when it left the tree meanwhile,
        or when a first anonymous write needs an anon_vma and ``mmap_read_trylock`` fails
        (``vmf_anon_prepare``). The mmap_lock path looks the VMA up under the read lock,
        checks access, maps the page. A fault below a ``VM_GROWSDOWN`` VMA grows it
        (``expand_stack``) under the write lock, as kernels since 6.5 do. Raises
        ``SegmentationFault`` (SEGV_MAPERR / SEGV_ACCERR).
        """
        try:
            fc = self._tls.fc
        except AttributeError:
            fc = self._thread_fault_counts()
        ev = self.events
        if ev.enabled:
            self._sync_index()
            ev.add("fault")
        if self._vma_locks and self._fault_vma_locked(addr, write, fc, ev):
            return
        lock = self.mmap_lock
        if ev.enabled:
            self._ev("read")
            ev.add("mmap_lock")
        lock.down_read()
        try:
            fc.faults += 1
            vma = self._index.find_vma(addr)
            if vma is None:
                raise SegmentationFault(addr, write, "SEGV_MAPERR", "no VMA at or above it")
            if vma.start <= addr:
                self._handle_fault(vma, addr, write, fc)
                return
            if not vma.flags & VM_GROWSDOWN:
                raise SegmentationFault(addr, write, "SEGV_MAPERR", f"in the gap below {vma!r}")
        finally:
            lock.up_read()
            if ev.enabled:
                self._ev("none")
        # below a stack: growing it changes the index, which needs the write lock
        if ev.enabled:
            self._ev("write")
            ev.add("mmap_lock")
        lock.down_write()
        try:
            vma = self._index.find_vma(addr)
            if vma is None:
                raise SegmentationFault(addr, write, "SEGV_MAPERR", "no VMA at or above it")
            if vma.start > addr:
                if not vma.flags & VM_GROWSDOWN:
                    raise SegmentationFault(addr, write, "SEGV_MAPERR", f"in the gap below {vma!r}")
                self._expand_downwards(vma, addr, write)
            self._handle_fault(vma, addr, write, fc)
        finally:
            self._mm_lock_seq += 1  # mmap_write_unlock: vma_end_write_all, then up_write
            lock.up_write()
            if ev.enabled:
                self._ev("none")

    def touch(self, addr: int, write: bool = False) -> bool:
        """A user access to ``addr``: the MMU finds a PTE that allows it (no fault, no event),
        or the access faults (``fault``). Returns whether it faulted. Raises
        ``SegmentationFault`` as ``fault`` does."""
        pte = self._pt.get(addr >> PAGE_SHIFT)
        if pte is not None and (not write or pte & PTE_WRITE):
            return False
        self.fault(addr, write)
        return True

    def _fault_vma_locked(self, addr: int, write: bool, fc: _FaultCounts, ev: EventRecorder) -> bool:
        """``lock_vma_under_rcu`` + ``handle_mm_fault(FAULT_FLAG_VMA_LOCK)`` (6.4+; file faults
        6.7+). True when the fault was handled (or failed with a SegmentationFault) under the
        VMA's lock; False to retry under the mmap_lock. The tree walk is lockless (the tree
        is in RCU mode) and recorded outside any lock."""
        vma = self._index.vma_lookup(addr)
        if vma is None or not self._vma_start_read(vma):
            return False
        if vma.detached or not vma.start <= addr < vma.end:  # isolated or moved meanwhile
            self._vma_end_read(vma)
            return False
        if ev.enabled:
            self._ev("vma", vma)
            ev.add("vma_lock")
        try:
            fc.faults += 1
            flags = vma.flags
            if (
                write
                and vma.anon_vma is None
                and flags & VM_WRITE
                and (not flags & VM_SHARED or (vma.file is None and (addr >> PAGE_SHIFT) not in self._pt))
            ):
                # vmf_anon_prepare: the anon_vma is set up under mmap_read_trylock
                lock = self.mmap_lock
                if not lock.down_read_trylock():
                    fc.faults -= 1  # VM_FAULT_RETRY: counted again on the mmap_lock path
                    return False
                if ev.enabled:
                    self._ev("read")
                    ev.add("mmap_lock")
                try:
                    self._anon_vma_prepare(vma)
                finally:
                    lock.up_read()
                    if ev.enabled:
                        self._ev("vma", vma)
            self._handle_fault(vma, addr, write, fc)
            return True
        finally:
            self._vma_end_read(vma)
            if ev.enabled:
                self._ev("none")

    def fork(self) -> MM:
        """``fork(2)``'s ``dup_mmap``: a child address space sharing files and COW pages."""
        lock = self.mmap_lock
        ev = self.events
        if ev.enabled:
            self._record_syscall_entry(locks=2)  # the parent's mmap_lock, then the child's (nested)
        lock.down_write()
        try:
            self._syscalls += 1
            self._forks += 1
            return self._dup_mmap()
        finally:
            self._mm_lock_seq += 1  # mmap_write_unlock: vma_end_write_all, then up_write
            lock.up_write()
            if ev.enabled:
                self._ev("none")

    def exit(self) -> None:
        """``exit_mmap``: unmap and free every VMA; the address space is empty afterwards."""
        lock = self.mmap_lock
        ev = self.events
        if ev.enabled:
            self._record_syscall_entry()
        lock.down_write()
        try:
            self._syscalls += 1
            self._exits += 1
            n = len(self._index)
            recording = ev.enabled
            for v in self._index:
                v.detached = True
                if v.file is not None:
                    v.file.mapcount -= 1
                    if recording:
                        ev.add("i_mmap_lock")
                self._unlink_anon(v, ev)
            if recording:
                if self._pt:
                    ev.add("pte_zap", len(self._pt) - (_PTRS_PER_PTE - 1) * len(self._pmds))
                    self._tlb_flush()
                if self._ptables:
                    ev.add("pte_table_free", len(self._ptables))
                if n:
                    ev.add("vma_free", n)
            self._index.clear()
            self._pages_unmapped += len(self._pt)
            self._pt.clear()
            self._ptables.clear()
            self._pmds.clear()
            self._vmas_freed += n
            self._map_count = 0
            self.exited = True
        finally:
            self._mm_lock_seq += 1  # mmap_write_unlock: vma_end_write_all, then up_write
            lock.up_write()
            if ev.enabled:
                self._ev("none")

    # ------------------------------------------------------------------ mmap

    def _get_unmapped_area(self, addr: int, length: int, flags: int, file: File | None = None,
                           pgoff: int = 0) -> int:
        """``get_unmapped_area`` / ``arch_get_unmapped_area_topdown`` (x86-64, no hugepages);
        ``arch_get_unmapped_area`` (bottom-up from ``mmap_base``) for a legacy layout. In eras
        with ``Era.thp_align_files`` a regular file's mapping goes through ext4's
        ``thp_get_unmapped_area``: placed so that ``addr - pgoff * PAGE_SIZE`` is 2 MiB-aligned
        when it spans an aligned 2 MiB of the file (``__thp_get_unmapped_area``, v6.18)."""
        task_size = self.arch.task_size
        if length > task_size - MMAP_MIN_ADDR:
            raise MMError(ENOMEM, f"mmap: length {length:#x} exceeds the address space")
        if flags & MAP_FIXED:
            if length > task_size - addr:
                raise MMError(ENOMEM, f"mmap: MAP_FIXED range {addr:#x}+{length:#x} exceeds TASK_SIZE")
            return addr
        if file is not None and not file.shmem and self.era.thp_align_files:
            found = self._thp_get_unmapped_area(addr, length, pgoff)
            if found:
                return found
        return self._arch_get_unmapped_area(addr, length)

    def _thp_get_unmapped_area(self, addr: int, length: int, pgoff: int) -> int:
        """``__thp_get_unmapped_area`` with ``size = PMD_SIZE``: search ``length + PMD_SIZE``
        and place the mapping at its PMD-congruent offset in the range found (top-down: one
        PMD up when the range is already congruent). 0: no such placement (the caller falls
        back to the plain search)."""
        size = 1 << _PMD_SHIFT
        off = pgoff << PAGE_SHIFT
        off_end = off + length
        off_align = (off + size - 1) & -size
        if off_end <= off_align or off_end - off_align < size:
            return 0
        try:
            ret = self._arch_get_unmapped_area(addr, length + size)
        except MMError:
            return 0
        if ret == addr:
            return addr
        off_sub = (off - ret) & (size - 1)
        if not self.mmap_legacy and not off_sub:
            return ret + size
        return ret + off_sub

    def _arch_get_unmapped_area(self, addr: int, length: int) -> int:
        """The hint, then the top-down (or legacy bottom-up) search; ENOMEM if nothing fits."""
        task_size = self.arch.task_size
        index = self._index
        if addr:
            addr = (addr + PAGE_SIZE - 1) & PAGE_MASK
            if task_size - length >= addr and addr >= MMAP_MIN_ADDR:
                vma, prev = index.find_vma_prev(addr)
                if (vma is None or addr + length <= vm_start_gap(vma.start, vma.flags)) and (
                    prev is None or addr >= prev.end
                ):
                    return addr
        if self.mmap_legacy:
            found = index.unmapped_area(length, self.mmap_base, task_size)
            if found is None:
                raise MMError(ENOMEM, f"mmap: no free range of {length:#x} bytes")
            return found
        low = PAGE_SIZE if PAGE_SIZE > MMAP_MIN_ADDR else MMAP_MIN_ADDR
        found = index.unmapped_area_topdown(length, low, self.mmap_base)
        if found is None:
            # "A failed mmap() very likely causes application failure, so fall back to the
            # bottom-up function here" (arch_get_unmapped_area_topdown)
            found = index.unmapped_area(length, self.arch.unmapped_base, task_size)
            if found is None:
                raise MMError(ENOMEM, f"mmap: no free range of {length:#x} bytes")
        return found

    def _do_mmap(self, addr, length, prot, flags, file, pgoff) -> int:
        if length <= 0:
            raise MMError(EINVAL, f"mmap: length {length} must be positive")
        prot &= _PROT_ALL  # do_mmap ignores other bits (calc_vm_prot_bits drops them)
        if pgoff < 0:
            raise MMError(EINVAL, f"mmap: negative pgoff {pgoff}")
        map_type = flags & MAP_TYPE
        if map_type not in (MAP_SHARED, MAP_PRIVATE, 3):  # 3 is MAP_SHARED_VALIDATE
            raise MMError(EINVAL, f"mmap: flags {flags:#x} are neither MAP_SHARED nor MAP_PRIVATE")
        anonymous = flags & MAP_ANONYMOUS
        if anonymous:
            file = None
        elif file is None:
            raise MMError(_EBADF, "mmap: no file for a non-anonymous mapping")
        length = (length + PAGE_SIZE - 1) & PAGE_MASK
        if flags & MAP_FIXED_NOREPLACE:
            flags |= MAP_FIXED
        if flags & MAP_FIXED:
            if addr & _NOT_OFFSET:
                raise MMError(EINVAL, f"mmap: MAP_FIXED address {addr:#x} is not page aligned")
        elif addr:
            addr &= PAGE_MASK
            if addr < MMAP_MIN_ADDR:
                addr = MMAP_MIN_ADDR
        if self._map_count > self.max_map_count:
            raise MMError(ENOMEM, f"mmap: map_count {self._map_count} exceeds {self.max_map_count}")

        vm_flags = prot | _MAY
        if flags & MAP_GROWSDOWN:
            vm_flags |= VM_GROWSDOWN
        if flags & MAP_STACK and self.rules == "current":
            vm_flags |= VM_NOHUGEPAGE  # calc_vm_flag_bits, 6.7+: a thread stack never merges with plain anon
        if flags & MAP_LOCKED:
            vm_flags |= VM_LOCKED
        if flags & MAP_NORESERVE:
            vm_flags |= VM_NORESERVE
        if map_type != MAP_PRIVATE:
            if file is None:
                if vm_flags & VM_GROWSDOWN:
                    raise MMError(EINVAL, "mmap: MAP_SHARED|MAP_GROWSDOWN")
                pgoff = 0
                vm_flags |= VM_SHARED | VM_MAYSHARE
            else:
                if prot & PROT_WRITE and not file.writable:
                    raise MMError(EACCES, f"mmap: {file.path!r} is read-only, PROT_WRITE on MAP_SHARED")
                vm_flags |= VM_SHARED | VM_MAYSHARE
                if not file.writable:
                    vm_flags &= ~(VM_MAYWRITE | VM_SHARED)

        addr = self._get_unmapped_area(addr, length, flags, file, pgoff)
        if flags & MAP_FIXED_NOREPLACE and self._index.find_vma_intersection(addr, addr + length) is not None:
            raise MMError(EEXIST, f"mmap: MAP_FIXED_NOREPLACE range {addr:#x}+{length:#x} is in use")
        if file is None:
            if map_type == MAP_PRIVATE:
                pgoff = addr >> PAGE_SHIFT
            else:
                # shmem_zero_setup: every shared anonymous mapping gets its own shmem file
                file = File("/dev/zero (deleted)", inode=0, shmem=True)
        return self._mmap_region(file, addr, length, vm_flags, pgoff)

    def _mmap_region(self, file, addr: int, length: int, vm_flags: int, pgoff: int) -> int:
        """``mmap_region``: clear the range, then merge with a neighbour or insert a new VMA."""
        index = self._index
        end = addr + length
        vma, prev = index.find_vma_prev(addr)
        if vma is not None and vma.start < end:
            self._do_munmap(addr, length)
            vma, prev = index.find_vma_prev(addr)
        # accountable_mapping: private writable memory is charged (VM_ACCOUNT)
        if (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE:
            vm_flags |= VM_ACCOUNT
        merged = self._vma_merge(prev, vma, addr, end, vm_flags, None, file, pgoff)
        if merged is not None:
            return addr
        new = VMA(addr, end, vm_flags, file, pgoff)
        ev = self.events
        if ev.enabled:
            ev.add("vma_alloc")
            if file is not None:
                ev.add("i_mmap_lock")  # vma_link: __vma_link_file under i_mmap_lock_write
        if self._vma_locks:
            self._vma_start_write(new)
        index.insert(new)
        self._map_count += 1
        self._vmas_allocated += 1
        if file is not None:
            file.mapcount += 1
        return addr

    # ------------------------------------------------------------------ merge and split

    def _vma_merge(self, prev, area, addr, end, vm_flags, anon_vma, file, pgoff, src=None):
        """``vma_merge``: join ``[addr, end)`` with ``prev`` and/or the next VMA (cases 1-8).

        ``area`` is the VMA following ``prev`` (``prev->vm_next``), which may be the VMA
        ``[addr, end)`` belongs to (mprotect; then ``src`` is that VMA) or the first one above
        it (mmap, brk). Returns the VMA now covering ``[addr, end)`` or ``None``.
        """
        if vm_flags & VM_SPECIAL:
            return None
        index = self._index
        anon_ok = self._anon_ok
        name = src.name if src is not None else None
        wlock = self._vma_start_write if self._vma_locks else _no_lock
        pglen = (end - addr) >> PAGE_SHIFT
        nxt = area
        if area is not None and area.end == end:  # cases 6, 7, 8
            nxt = index.next_vma(area)
        if (
            prev is not None
            and prev.end == addr
            and _same_kind(prev, vm_flags, file, name)
            and prev.pgoff + ((prev.end - prev.start) >> PAGE_SHIFT) == pgoff
            and anon_ok(anon_vma, src, prev)
        ):
            if (
                nxt is not None
                and end == nxt.start
                and _same_kind(nxt, vm_flags, file, name)
                and nxt.pgoff == pgoff + pglen
                and anon_ok(anon_vma, src, nxt)
                and (prev.anon_vma is None or nxt.anon_vma is None or prev.anon_vma is nxt.anon_vma)
            ):
                # cases 1 and 6: prev absorbs everything up to the end of next
                new_end = nxt.end
                wlock(prev)
                if self.events.enabled:
                    self._adjust_locks(prev)
                if area is not nxt:
                    self._remove_absorbed(prev, area)
                self._remove_absorbed(prev, nxt)
                index.adjust(prev, prev.start, new_end)
            else:
                # cases 2, 5, 7: prev grows to end; area loses its head or disappears
                wlock(prev)
                if self.events.enabled:
                    self._adjust_locks(prev)
                if area is not None and area.start < end:
                    if area.end == end:
                        self._remove_absorbed(prev, area)
                    else:
                        wlock(area)
                        area.pgoff += (end - area.start) >> PAGE_SHIFT
                        index.adjust(area, end, area.end)
                index.adjust(prev, prev.start, end)
                if prev.anon_vma is None and anon_vma is not None:
                    prev.anon_vma = anon_vma  # __vma_adjust's importer takes the exporter's
                    prev.anon_vma_chain = 1
                    self._anon_clone(anon_vma, 1)
            self._merges += 1
            return prev
        if (
            nxt is not None
            and end == nxt.start
            and _same_kind(nxt, vm_flags, file, name)
            and nxt.pgoff == pgoff + pglen
            and anon_ok(anon_vma, src, nxt)
        ):
            wlock(nxt)
            if self.events.enabled:
                self._adjust_locks(nxt)
            if prev is not None and addr < prev.end:
                # case 4: prev loses its tail to next
                wlock(prev)
                index.adjust(prev, prev.start, addr)
            elif area is not nxt:
                # case 8: area disappears into next
                self._remove_absorbed(nxt, area)
            nxt.pgoff -= (nxt.start - addr) >> PAGE_SHIFT
            index.adjust(nxt, addr, nxt.end)
            if nxt.anon_vma is None and anon_vma is not None:
                nxt.anon_vma = anon_vma
                nxt.anon_vma_chain = 1
                self._anon_clone(anon_vma, 1)
            self._merges += 1
            return nxt
        return None

    def _adjust_locks(self, vma: VMA) -> None:
        """The locks ``__vma_adjust`` / ``vma_prepare`` takes around changing ``vma``: its
        file's ``i_mmap`` rwsem and its anon_vma's root rwsem. Events only."""
        ev = self.events
        if ev.enabled:
            if vma.file is not None:
                ev.add("i_mmap_lock")
            if vma.anon_vma is not None:
                ev.add("anon_vma_lock")

    def _anon_clone(self, anon: AnonVma, chain: int) -> None:
        """``anon_vma_clone``: a VMA joins ``anon`` through ``chain`` new anon_vma_chains,
        linked under the anon_vma lock."""
        anon.refs += 1
        ev = self.events
        if ev.enabled:
            ev.add("avc_alloc", chain)
            ev.add("anon_vma_lock")

    def _remove_absorbed(self, keeper: VMA, gone: VMA) -> None:
        """Unlink ``gone``, whose range ``keeper`` is taking over (``__vma_adjust`` remove_next)."""
        if self._vma_locks:
            self._vma_start_write(gone)
        self._index.remove(gone)
        gone.detached = True
        if keeper.anon_vma is None and gone.anon_vma is not None:
            keeper.anon_vma = gone.anon_vma
            keeper.anon_vma_chain = gone.anon_vma_chain
        else:
            self._unlink_anon(gone, self.events)  # anon_vma_merge
        if gone.file is not None:
            gone.file.mapcount -= 1
        self._map_count -= 1
        self._vmas_freed += 1
        ev = self.events
        if ev.enabled:
            ev.add("vma_free_rcu" if self.era.vma_free_rcu else "vma_free")

    def _split_vma(self, vma: VMA, addr: int, new_below: bool) -> VMA:
        """``__split_vma``: cut ``vma`` at ``addr``; the new VMA is the lower part if
        ``new_below`` else the upper part. Returns the new VMA."""
        index = self._index
        start, end = vma.start, vma.end
        new = VMA(start, end, vma.flags, vma.file, vma.pgoff, vma.anon_vma, vma.anon_vma_chain, vma.name)
        ev = self.events
        bracket = self._maple  # one mas_preallocate for the adjust and the insert
        if ev.enabled:
            ev.add("vma_dup")
        if bracket:
            index.begin_op()
        if vma.anon_vma is not None:
            self._anon_clone(vma.anon_vma, vma.anon_vma_chain)
        if self._vma_locks:
            self._vma_start_write(vma)
            self._vma_start_write(new)
        if self.events.enabled:
            self._adjust_locks(vma)
        delta = (addr - start) >> PAGE_SHIFT
        if new_below:
            new.end = addr
            vma.pgoff += delta
            index.adjust(vma, addr, end)
        else:
            new.start = addr
            new.pgoff += delta
            index.adjust(vma, start, addr)
        index.insert(new)
        if bracket:
            index.end_op()
        if vma.file is not None:
            vma.file.mapcount += 1
        self._map_count += 1
        self._vmas_allocated += 1
        self._splits += 1
        return new

    def _split_vma_checked(self, vma: VMA, addr: int, new_below: bool) -> VMA:
        """``split_vma``: ``__split_vma`` refused with ENOMEM at the map_count limit."""
        if self._map_count >= self.max_map_count:
            raise MMError(ENOMEM, f"split at {addr:#x}: map_count {self._map_count} at the limit")
        return self._split_vma(vma, addr, new_below)

    # ------------------------------------------------------------------ munmap

    def _do_munmap(self, start: int, length: int, downgrade: bool = False) -> None:
        """``do_munmap`` / ``do_mas_align_munmap`` / ``do_vmi_align_munmap``: split the edges,
        detach the doomed VMAs (the maple eras move them to a detached side tree first),
        then, after the downgrade to read when ``downgrade`` (munmap(2), brk shrink), unmap
        the pages, free page tables and the VMAs."""
        if start & _NOT_OFFSET or start > self.arch.task_size or length > self.arch.task_size - start:
            raise MMError(EINVAL, f"munmap: bad range {start:#x}+{length:#x}")
        length = (length + PAGE_SIZE - 1) & PAGE_MASK
        if length <= 0:
            raise MMError(EINVAL, f"munmap: length {length} must be positive")
        end = start + length
        index = self._index
        vma = index.find_vma(start)
        if vma is None or vma.start >= end:
            return
        if start > vma.start:
            # a split in the middle would leave three pieces: check the limit first
            if end < vma.end and self._map_count >= self.max_map_count:
                raise MMError(ENOMEM, f"munmap: map_count {self._map_count} at the limit")
            vma = self._split_vma(vma, start, False)
        doomed = [vma]
        last = vma
        while last.end < end:
            nxt = index.next_vma(last)
            if nxt is None or nxt.start >= end:
                break
            doomed.append(nxt)
            last = nxt
        if last.end > end:
            lower = self._split_vma(last, end, True)
            doomed[-1] = lower
        for v in doomed:
            if self._vma_locks:
                self._vma_start_write(v)
        ev = self.events
        recording = ev.enabled
        side = 0
        if recording:
            side = self._side_tree_events(len(doomed))
        if self._maple and self.era.munmap_clear_gfp:
            index.gfp = True  # vma_iter_clear_gfp: the NULL store allocates on demand
            try:
                index.remove_range(start, end, doomed)
            finally:
                index.gfp = False
        else:
            index.remove_range(start, end, doomed)
        self._map_count -= len(doomed)
        self._vmas_freed += len(doomed)
        for v in doomed:
            v.detached = True
            if v.file is not None:
                v.file.mapcount -= 1
        if recording and downgrade:
            self._downgrade_events(end)
        self._unmap_region(start, end, doomed)
        for v in doomed:
            self._unlink_anon(v, ev)
        if recording:
            for v in doomed:
                if v.file is not None:
                    ev.add("i_mmap_lock")  # unlink_file_vma
            ev.add("vma_free_rcu" if self.era.vma_free_rcu else "vma_free", len(doomed))
            if side:
                ev.add("node_free_rcu" if self.era.rcu == "always" else "node_free", side)

    def _side_tree_events(self, n: int) -> int:
        """The detached tree of the maple eras' munmap (``mt_detach``): ``n`` stores, on
        demand; returns the nodes it holds (freed by ``__mt_destroy`` after the unmap). With
        ``side_tree == "range"`` the VMAs sit at their own ranges (one leaf holds up to 16
        slots, NULL gaps included); with ``"count"`` (6.5+) at indexes 0..n-1, and a single
        VMA is the root pointer itself, no node."""
        policy = self.era.side_tree
        if policy == "none":
            return 0
        slots = 2 * n + 1 if policy == "range" else (n if n > 1 else 0)
        if not slots:
            nodes = 0
        else:
            leaves = -(-slots // 16)
            nodes = leaves + (leaves > 1) * -(-leaves // 10)
        ev = self.events
        ev.add("node_write", n)
        if nodes:
            ev.add("node_alloc", nodes)
        return nodes

    def _downgrade_events(self, end: int) -> None:
        """``mmap_write_downgrade`` for the unmap phase, unless (before 6.5) a
        ``VM_GROWSDOWN`` VMA follows the range. Events only: the simulation's semaphore stays
        held for write (its page-table model is not safe against concurrent faults)."""
        if self.era.downgrade_checks_neighbours:
            nxt = self._index.peek_vma(end)
            if nxt is not None and nxt.flags & VM_GROWSDOWN:
                return
        self.events.add("mmap_lock_downgrade")
        self._ev("read")

    def _unmap_region(self, start: int, end: int, doomed) -> None:
        """``unmap_region``: zap the PTEs of the doomed VMAs, free the page-table pages no
        VMA needs any more (``free_pgtables`` between the neighbours), flush the TLB if
        anything was cleared (a shootdown when other tasks use the mm)."""
        zapped = 0
        if self._pt:
            zap = self._zap
            for v in doomed:
                zapped += zap(v.start, v.end)
        # free_pgtables: only where this unmap cleared PTEs or covers a whole table (a table
        # left empty earlier and orphaned only now stays: a simplification, see docs/mm.md)
        freed = self._free_pgtables(start, end) if self._ptables and (zapped or end - start >= 1 << _PMD_SHIFT) else 0
        ev = self.events
        if ev.enabled:
            if zapped:
                ev.add("pte_zap", zapped)
                self._tlb_flush()
            if freed:
                ev.add("pte_table_free", freed)

    def _free_pgtables(self, start: int, end: int) -> int:
        """``free_pgtables`` for a range just unmapped: every page-table page overlapping it
        that no remaining VMA overlaps is freed (the kernel's floor/ceiling are the
        neighbours). Returns how many."""
        ptables = self._ptables
        lo = start >> _PMD_SHIFT
        hi = (end - 1) >> _PMD_SHIFT
        cands = [t for t in range(lo, hi + 1) if t in ptables] if hi - lo < len(ptables) else [
            t for t in ptables if lo <= t <= hi
        ]
        peek = self._index.peek_vma
        freed = 0
        for t in cands:
            t_start = t << _PMD_SHIFT
            t_end = t_start + (1 << _PMD_SHIFT)
            v = peek(t_start)
            keep = v is not None and v.start < t_end
            if not keep:
                ptables.discard(t)
                freed += 1
        return freed

    def _pmds_in(self, lo: int, hi: int) -> list[int]:
        """The PMD-mapped 2 MiB ranges overlapping pages ``[lo, hi)``, by PMD index."""
        t_lo, t_hi = lo >> _PTE_TABLE_SHIFT, (hi - 1) >> _PTE_TABLE_SHIFT
        return [t for t in self._pmds if t_lo <= t <= t_hi]

    def _zap(self, start: int, end: int) -> int:
        """``unmap_page_range``: drop the PTEs of ``[start, end)``; returns how many entries
        were cleared (a PMD-mapped folio counts one, ``zap_huge_pmd``; one only partly in the
        range is dropped whole, ``__split_huge_pmd``)."""
        pt = self._pt
        if not pt:
            return 0
        lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        pmd_entries = 0
        if self._pmds:
            pop = pt.pop
            for t in self._pmds_in(lo, hi):
                first = t << _PTE_TABLE_SHIFT
                for vpn in range(first, first + _PTRS_PER_PTE):
                    pop(vpn, None)
                self._pmds.discard(t)
                self._pages_unmapped += _PTRS_PER_PTE
                pmd_entries += 1
        before = len(pt)
        if hi - lo <= before:
            pop = pt.pop
            for vpn in range(lo, hi):
                pop(vpn, None)
        else:
            for vpn in [k for k in pt if lo <= k < hi]:
                del pt[vpn]
        n = before - len(pt)
        self._pages_unmapped += n
        return n + pmd_entries

    def _wrprotect(self, start: int, end: int) -> None:
        """``change_protection`` removing write permission from the PTEs of ``[start, end)``."""
        pt = self._pt
        if not pt:
            return
        lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        changed = 0
        if self._pmds:
            # change_huge_pmd for a PMD inside the range; one only partly inside is split
            for t in self._pmds_in(lo, hi):
                first = t << _PTE_TABLE_SHIFT
                if first < lo or first + _PTRS_PER_PTE > hi:
                    self._split_pmd(t)
                elif pt[first] & PTE_WRITE:
                    for vpn in range(first, first + _PTRS_PER_PTE):
                        pt[vpn] = PTE_PRESENT | PTE_HUGE
                    changed += 1
        if hi - lo <= len(pt):
            get = pt.get
            for vpn in range(lo, hi):
                if get(vpn, 0) & PTE_WRITE:
                    pt[vpn] = PTE_PRESENT
                    changed += 1
        else:
            for vpn, pte in list(pt.items()):
                if lo <= vpn < hi and pte & PTE_WRITE:
                    pt[vpn] = PTE_PRESENT
                    changed += 1
        if changed and self.events.enabled:
            self.events.add("pte_set", changed)  # change_pte_range rewrote them
            self._tlb_flush()

    # ------------------------------------------------------------------ mprotect

    def _do_mprotect(self, start: int, length: int, prot: int) -> None:
        """``do_mprotect_pkey``: apply ``prot`` VMA by VMA; ENOMEM at the first hole."""
        if start & _NOT_OFFSET:
            raise MMError(EINVAL, f"mprotect: address {start:#x} is not page aligned")
        if prot & ~(_PROT_ALL | _PROT_SEM):  # arch_validate_prot (PROT_GROWSDOWN/UP unsupported)
            raise MMError(EINVAL, f"mprotect: unknown prot bits {prot:#x}")
        prot &= _PROT_ALL
        if not length:
            return
        if length < 0:
            raise MMError(EINVAL, f"mprotect: negative length {length}")
        length = (length + PAGE_SIZE - 1) & PAGE_MASK
        end = start + length
        index = self._index
        vma, prev = index.find_vma_prev(start)
        if vma is None or vma.start >= end or vma.start > start:
            raise MMError(ENOMEM, f"mprotect: {start:#x} is not mapped")
        if start > vma.start:
            prev = vma
        nstart = start
        while True:
            newflags = (vma.flags & ~_ACCESS) | prot
            if newflags & ~(newflags >> 4) & _ACCESS:
                raise MMError(EACCES, f"mprotect: {vma!r} may not gain prot {prot:#x}")
            tmp = vma.end if vma.end < end else end
            prev = self._mprotect_fixup(vma, prev, nstart, tmp, newflags)
            nstart = tmp
            if nstart < prev.end:
                nstart = prev.end
            if nstart >= end:
                return
            vma = index.next_vma(prev)
            if vma is None or vma.start != nstart:
                raise MMError(ENOMEM, f"mprotect: hole at {nstart:#x}")

    def _mprotect_fixup(self, vma: VMA, prev: VMA | None, start: int, end: int, newflags: int) -> VMA:
        """``mprotect_fixup``: change ``[start, end)`` of ``vma``; returns the VMA covering it."""
        oldflags = vma.flags
        if newflags == oldflags:
            return vma
        if newflags & VM_WRITE:
            if not oldflags & _NO_ACCOUNT_CHANGE:
                newflags |= VM_ACCOUNT
        elif self.rules != "6.1" and oldflags & VM_ACCOUNT and vma.file is None and vma.anon_vma is None:
            # v6.6+: an unfaulted anonymous mapping made read-only gives its charge back
            newflags &= ~VM_ACCOUNT
        pgoff = vma.pgoff + ((start - vma.start) >> PAGE_SHIFT)
        if prev is vma:
            area = self._index.next_vma(vma) if end == vma.end else None
        else:
            area = vma
        merged = self._vma_merge(prev, area, start, end, newflags, vma.anon_vma, vma.file, pgoff, vma)
        if merged is None:
            if start != vma.start:
                self._split_vma_checked(vma, start, True)
            if end != vma.end:
                self._split_vma_checked(vma, end, False)
            if self._vma_locks:
                self._vma_start_write(vma)
            vma.flags = newflags
            merged = vma
        if oldflags & VM_WRITE and not newflags & VM_WRITE:
            self._wrprotect(start, end)
        return merged

    # ------------------------------------------------------------------ brk

    def _do_brk(self, brk: int) -> int:
        """``SYSCALL_DEFINE1(brk)``."""
        origbrk = self._brk
        if brk < self.start_brk:
            return origbrk
        newbrk = (brk + PAGE_SIZE - 1) & PAGE_MASK
        oldbrk = (origbrk + PAGE_SIZE - 1) & PAGE_MASK
        if oldbrk == newbrk:
            self._brk = brk
            return brk
        if brk <= origbrk:
            # shrink: always allowed, through munmap (or in place: the v5 patch set)
            self._brk = brk
            if self.era.brk_shrink_in_place and self._do_brk_munmap(newbrk, oldbrk):
                return brk
            try:
                self._do_munmap(newbrk, oldbrk - newbrk, True)
            except MMError:
                self._brk = origbrk
                return origbrk
            return brk
        index = self._index
        nxt = index.find_vma(oldbrk)
        if nxt is not None and newbrk + PAGE_SIZE > vm_start_gap(nxt.start, nxt.flags):
            return origbrk
        try:
            self._do_brk_flags(oldbrk, newbrk - oldbrk)
        except MMError:
            return origbrk
        self._brk = brk
        return brk

    def _do_brk_munmap(self, newbrk: int, oldbrk: int) -> bool:
        """``do_brk_munmap`` of the maple patch set (v1 .. v10; removed July 2022, "mmap:
        Remove do_brk_munmap() optimization"): when the heap VMA keeps part of itself, cut
        its tail in place -- one NULL store over ``[newbrk, oldbrk)`` under the anon_vma
        lock, no split, no allocation -- then downgrade and unmap the pages on an on-stack
        VMA. False when the whole VMA goes (the full munmap path does that)."""
        index = self._index
        vma = index.find_vma(newbrk)
        if vma is None or vma.start >= oldbrk:
            return True  # nothing mapped there: brk only moves
        if vma.start >= newbrk or vma.end != oldbrk:
            return False
        if self._vma_locks:
            self._vma_start_write(vma)
        if self.events.enabled:
            self._adjust_locks(vma)
        index.adjust(vma, vma.start, newbrk)
        if self.events.enabled:
            self._downgrade_events(oldbrk)
        self._unmap_region(newbrk, oldbrk, (VMA(newbrk, oldbrk, vma.flags),))
        return True

    def _do_brk_flags(self, addr: int, length: int) -> None:
        """``do_brk_flags`` (v6.1): expand the heap VMA in place, else add a new VMA."""
        if length > self.arch.task_size - addr:
            raise MMError(ENOMEM, "brk: beyond TASK_SIZE")
        index = self._index
        end = addr + length
        vma, prev = index.find_vma_prev(addr)
        if vma is not None and vma.start < end:
            self._do_munmap(addr, length)
            vma, prev = index.find_vma_prev(addr)
        if self._map_count > self.max_map_count:
            raise MMError(ENOMEM, f"brk: map_count {self._map_count} exceeds {self.max_map_count}")
        flags = _DATA_FLAGS | VM_ACCOUNT
        if (
            prev is not None
            and prev.end == addr
            and prev.start >= self.start_brk
            and _same_kind(prev, flags, None)
            and prev.pgoff + ((prev.end - prev.start) >> PAGE_SHIFT) == addr >> PAGE_SHIFT
            and self._anon_ok(None, None, prev)
        ):
            if self._vma_locks:
                self._vma_start_write(prev)
            if self.events.enabled:
                self._adjust_locks(prev)
            index.adjust(prev, prev.start, end)
            self._brk_expansions += 1
            return
        new = VMA(addr, end, flags, None, addr >> PAGE_SHIFT)
        if self.events.enabled:
            self.events.add("vma_alloc")
        if self._vma_locks:
            self._vma_start_write(new)
        if self._maple:
            index.gfp = True  # do_brk_flags inserts with mas_store_gfp in every maple era
            try:
                index.insert(new)
            finally:
                index.gfp = False
        else:
            index.insert(new)
        self._map_count += 1
        self._vmas_allocated += 1

    # ------------------------------------------------------------------ faults

    def _anon_vma_prepare(self, vma: VMA) -> None:
        """``anon_vma_prepare``: give ``vma`` an anon_vma, reusing a compatible neighbour's
        (``find_mergeable_anon_vma``: next first, then prev, as v6.1)."""
        with self._ptl:
            if vma.anon_vma is not None:
                return
            index = self._index
            anon = None
            nxt = index.next_vma(vma)
            if nxt is not None and nxt.anon_vma is not None and nxt.anon_vma_chain == 1 and _anon_vma_compatible(vma, nxt):
                anon = nxt.anon_vma
            if anon is None:
                prv = index.prev_vma(vma)
                if prv is not None and prv.anon_vma is not None and prv.anon_vma_chain == 1 and _anon_vma_compatible(prv, vma):
                    anon = prv.anon_vma
            ev = self.events
            if anon is None:
                anon = AnonVma()
                self._anon_vmas_allocated += 1
                if ev.enabled:
                    ev.add("anon_vma_alloc")
            if ev.enabled:
                ev.add("avc_alloc")
                ev.add("anon_vma_lock")
            anon.refs += 1
            vma.anon_vma_chain = 1
            vma.anon_vma = anon

    def _handle_fault(self, vma: VMA, addr: int, write: bool, fc: _FaultCounts) -> None:
        """``access_error`` then ``handle_mm_fault`` on the page-table model.

        A PTE that is already suitable is a minor fault, read without locks. Otherwise the
        anon_vma is prepared first (it takes ``page_table_lock``), then the PTE is re-read
        and changed under the PTE lock (``pte_offset_map_lock``), so concurrent faults on one
        page map it once; the loser finds it present and counts a minor fault. A write to a
        read-only PMD-mapped file folio splits (drops) the PMD and faults again at PTE level
        (``wp_huge_pmd`` -> ``__split_huge_pmd``). In eras with ``file_folios`` a file fault
        goes through ``_file_fault`` (readahead, whole-folio and PMD mapping)."""
        flags = vma.flags
        if write:
            if not flags & VM_WRITE:
                raise SegmentationFault(addr, write, "SEGV_ACCERR", f"{vma!r} is not writable")
        elif not flags & _ACCESS:
            raise SegmentationFault(addr, write, "SEGV_ACCERR", f"{vma!r} is PROT_NONE")
        vpn = addr >> PAGE_SHIFT
        pt = self._pt
        pte = pt.get(vpn)
        if pte is not None and (not write or pte & PTE_WRITE):
            fc.minor_faults += 1
            return
        file = vma.file
        private = not flags & VM_SHARED
        # a private write (COW of a file page, or upgrading a read-only PTE) or a first write
        # to anonymous memory needs an anon_vma
        if write and vma.anon_vma is None and (private or (pte is None and file is None)):
            self._anon_vma_prepare(vma)
        lock = self._pte_lock
        lock.acquire()
        try:
            pte = pt.get(vpn)
            if pte is not None:
                if not write or pte & PTE_WRITE:  # a concurrent fault got there first
                    fc.minor_faults += 1
                    return
                if pte & PTE_HUGE:
                    self._split_pmd(vpn >> _PTE_TABLE_SHIFT)
                else:
                    # write to a present read-only PTE: copy-on-write or make it dirty
                    if private:
                        fc.cow_faults += 1
                    pt[vpn] = PTE_PRESENT | PTE_WRITE
                    ev = self.events
                    if ev.enabled:
                        if private:
                            ev.add("page_copy")
                        else:  # wp_page_shared: page_mkwrite walks the whole folio's blocks
                            ev.add("page_mkwrite")
                            page = vma.pgoff + ((addr - vma.start) >> PAGE_SHIFT)
                            ev.add("page_mkwrite_block", file.folio(page)[1] if self._file_folios else 1)
                        ev.add("pte_set")
                    return
            if file is not None and self._file_folios and not file.shmem:
                self._file_fault(vma, file, addr, vpn, write, private, fc)
                return
            new_table = False
            table = vpn >> _PTE_TABLE_SHIFT
            if table not in self._ptables:
                self._ptables.add(table)  # __pte_alloc
                new_table = True
            cached = True
            if file is not None:
                page = vma.pgoff + ((addr - vma.start) >> PAGE_SHIFT)
                pages = file.pages
                cached = page in pages
                pages.add(page)
                if write and private:
                    fc.cow_faults += 1
            pt[vpn] = PTE_PRESENT | PTE_WRITE if write else PTE_PRESENT
            fc.pages_mapped += 1
            ev = self.events
            if ev.enabled:
                if new_table:
                    ev.add("pte_table_alloc")
                if file is None:
                    if write:  # a read maps the shared zero page
                        ev.add("page_zero")
                else:
                    ev.add("page_cache_hit" if cached else "page_cache_alloc")
                    if write:
                        if private:
                            ev.add("page_copy")
                        else:  # an order-0 page: one block
                            ev.add("page_mkwrite")
                            ev.add("page_mkwrite_block")
                ev.add("pte_set")
        finally:
            lock.release()

    def _file_fault(self, vma: VMA, file: File, addr: int, vpn: int, write: bool, private: bool,
                    fc: _FaultCounts) -> None:
        """A missing-PTE fault on a file mapping in an era with large page-cache folios (under
        the PTE lock): ``filemap_fault`` (the folio lookup, with ``do_sync_mmap_readahead`` on a
        miss and ``do_async_mmap_readahead`` on a hit, ``maple.mm.readahead``), the shared
        write's ``page_mkwrite`` (``ext4_page_mkwrite`` dirties the whole folio: once per
        fault), then v6.18 ``finish_fault``:

        * a COW fault (private write) maps its one copied page;
        * if the PMD is empty and the folio is PMD-sized, ``do_set_pmd`` maps it with one PMD
          entry when ``thp_vma_suitable_order`` holds (the 2 MiB-aligned range lies inside the
          VMA and ``vm_start`` is 2 MiB-aligned relative to ``vm_pgoff``);
        * otherwise, with ``Era.fault_maps_folio``, every page of the folio is mapped by PTEs
          when the folio lies inside the VMA (``vma_off >= idx``, ``vma_off + nr - idx <=
          vma_pages``) and inside the faulting page table (``pte_off >= idx``, ``pte_off + nr
          - idx <= PTRS_PER_PTE``) and none of those PTEs is set (``pte_range_none``); else
          one page (also without the flag, and for a userfaultfd-armed VMA, not modelled).

        Events: ``page_cache_alloc`` per page readahead added, ``page_cache_hit`` once if the
        folio was cached, ``page_mkwrite`` (and ``page_mkwrite_block`` per page of the
        folio) or ``page_copy`` once for a write,
        ``pte_table_alloc`` for a new PTE table, ``pte_set`` per PTE installed (one for a PMD
        entry)."""
        era = self.era
        page = vma.pgoff + ((addr - vma.start) >> PAGE_SHIFT)
        pages = file.pages
        if page in pages:
            cached = True
            head, nr = file.folio(page)
            added = async_mmap_readahead(file, page, head, nr, era.readahead_pages, era.max_folio_order)
        else:
            cached = False
            added = sync_mmap_readahead(file, page, era.readahead_pages, era.max_folio_order)
            head, nr = file.folio(page)
        pt = self._pt
        val = PTE_PRESENT | PTE_WRITE if write else PTE_PRESENT
        table = vpn >> _PTE_TABLE_SHIFT
        pmd_none = table not in self._ptables and table not in self._pmds
        cow = write and private
        new_table = False
        entries = 1
        if cow:
            fc.cow_faults += 1
        if (
            not cow
            and pmd_none
            and nr == _PTRS_PER_PTE
            and (vpn & -_PTRS_PER_PTE) >= vma.start >> PAGE_SHIFT
            and (vpn & -_PTRS_PER_PTE) + _PTRS_PER_PTE <= vma.end >> PAGE_SHIFT
            and not ((vma.start >> PAGE_SHIFT) - vma.pgoff) & (_PTRS_PER_PTE - 1)
        ):
            # do_set_pmd: one PMD entry maps the whole folio, no PTE table
            first = vpn & -_PTRS_PER_PTE
            val |= PTE_HUGE
            for v in range(first, first + _PTRS_PER_PTE):
                pt[v] = val
            self._pmds.add(table)
            mapped = _PTRS_PER_PTE
        else:
            if pmd_none:
                self._ptables.add(table)  # pte_alloc
                new_table = True
            mapped = 1
            if nr > 1 and not cow and era.fault_maps_folio:
                idx = page - head
                vma_off = page - vma.pgoff
                pte_off = vpn & (_PTRS_PER_PTE - 1)
                if (
                    vma_off >= idx
                    and vma_off + nr - idx <= (vma.end - vma.start) >> PAGE_SHIFT
                    and pte_off >= idx
                    and pte_off + nr - idx <= _PTRS_PER_PTE
                ):
                    first = vpn - idx
                    span = range(first, first + nr)
                    if new_table or not any(v in pt for v in span):  # pte_range_none
                        for v in span:
                            pt[v] = val
                        mapped = entries = nr
            if mapped == 1:
                pt[vpn] = val
        fc.pages_mapped += mapped
        ev = self.events
        if ev.enabled:
            if added:
                ev.add("page_cache_alloc", added)
            if cached:
                ev.add("page_cache_hit")
            if write:
                if cow:
                    ev.add("page_copy")
                else:  # page_mkwrite walks every block of the folio, however much is mapped
                    ev.add("page_mkwrite")
                    ev.add("page_mkwrite_block", nr)
            if new_table:
                ev.add("pte_table_alloc")
            ev.add("pte_set", entries)

    def _split_pmd(self, table: int) -> None:
        """``__split_huge_pmd`` of a PMD-mapped file folio: the PMD entry is cleared (a file
        folio is re-faulted, not remapped by PTEs) and the TLB flushed."""
        first = table << _PTE_TABLE_SHIFT
        pop = self._pt.pop
        for v in range(first, first + _PTRS_PER_PTE):
            pop(v, None)
        self._pmds.discard(table)
        self._pages_unmapped += _PTRS_PER_PTE
        ev = self.events
        if ev.enabled:
            ev.add("pte_zap")
            self._tlb_flush()

    def _expand_downwards(self, vma: VMA, addr: int, write: bool) -> None:
        """``expand_downwards``: grow a ``VM_GROWSDOWN`` VMA to cover ``addr``."""
        address = addr & PAGE_MASK
        if address < MMAP_MIN_ADDR:
            raise SegmentationFault(addr, write, "SEGV_MAPERR", "stack growth below mmap_min_addr")
        index = self._index
        prev = index.prev_vma(vma)
        if (
            prev is not None
            and not prev.flags & VM_GROWSDOWN
            and prev.flags & _ACCESS
            and address - prev.end < STACK_GUARD_GAP
        ):
            raise SegmentationFault(addr, write, "SEGV_MAPERR", f"stack growth into the guard gap of {prev!r}")
        if vma.anon_vma is None:
            self._anon_vma_prepare(vma)
        if self._vma_locks:
            self._vma_start_write(vma)
        if self.events.enabled:
            self._adjust_locks(vma)
        vma.pgoff -= (vma.start - address) >> PAGE_SHIFT
        index.adjust(vma, address, vma.end)
        self._stack_expansions += 1

    # ------------------------------------------------------------------ fork

    def _dup_mmap(self) -> MM:
        """``dup_mmap``: copy every VMA (not ``VM_DONTCOPY``); forked anonymous VMAs get an
        anon_vma chained to the parent's (``anon_vma_fork``); COW page tables are copied for
        VMAs with an anon_vma (``vma_needs_copy``), write-protecting both sides."""
        pt = self._pt
        child_pt: dict[int, int] = {}
        counts = [0, 0, 0, 0, 0]  # vmas copied, anon_vmas allocated, AVCs, file VMAs, PTEs

        def copy(v: VMA) -> VMA | None:
            flags = v.flags
            if flags & VM_DONTCOPY:
                return None
            n = VMA(v.start, v.end, flags & ~(VM_LOCKED | VM_LOCKONFAULT), v.file, v.pgoff, None, 0, v.name)
            counts[0] += 1
            if v.file is not None:
                v.file.mapcount += 1
                counts[3] += 1
            if v.anon_vma is not None and not flags & VM_WIPEONFORK:
                n.anon_vma = AnonVma(v.anon_vma)
                n.anon_vma.refs = 1
                n.anon_vma_chain = v.anon_vma_chain + 1
                counts[1] += 1
                counts[2] += n.anon_vma_chain
                if pt:
                    cow = (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE
                    lo, hi = v.start >> PAGE_SHIFT, v.end >> PAGE_SHIFT
                    if hi - lo <= len(pt):
                        items = [(k, pt[k]) for k in range(lo, hi) if k in pt]
                    else:
                        items = [(k, p) for k, p in pt.items() if lo <= k < hi]
                    # copy_huge_pmd leaves a file PMD to be re-faulted in the child
                    items = [(k, p) for k, p in items if not p & PTE_HUGE]
                    for k, p in items:
                        if cow and p & PTE_WRITE:
                            p = PTE_PRESENT
                            pt[k] = p
                        child_pt[k] = p
                    counts[4] += len(items)
            return n

        ev = self.events
        if ev.enabled:
            self._flush_index()
        index = self._index.dup(copy)
        if self._maple and self.era.rcu != "always" and index.rcu:
            index.tree.set_in_rcu(False)  # the child's tree starts with one user
        child = MM(
            index,
            mmap_base=self.mmap_base,
            start_brk=self.start_brk,
            start_stack=self.start_stack,
            max_map_count=self.max_map_count,
            rules=self.rules,
            era=self.era,
        )
        child.events.enabled = ev.enabled
        child._ptables = {k >> _PTE_TABLE_SHIFT for k in child_pt}
        if ev.enabled:
            copied, anons, avcs, files, ptes = counts
            if copied:
                ev.add("vma_dup", copied)
                ev.add("fork_vma", copied)
            if anons:
                ev.add("anon_vma_alloc", anons)
                ev.add("avc_alloc", avcs)
                ev.add("anon_vma_lock", 2 * anons)  # anon_vma_clone, then linking the new one
            if files:
                ev.add("i_mmap_lock", files)
            if ptes:
                ev.add("pte_copy", ptes)
                ev.add("pte_table_alloc", len(child._ptables))
            self._tlb_flush()  # flush_tlb_mm(oldmm)
        child._brk = self._brk
        child.arch, child.gate, child.mmap_legacy = self.arch, self.gate, self.mmap_legacy
        child._pt = child_pt
        child._vmas_allocated = counts[0]
        child._anon_vmas_allocated = counts[1]
        child._pages_mapped = len(child_pt)
        return child

    # ------------------------------------------------------------------ checking

    def validate(self) -> None:
        """Check the index's invariants and that it agrees with the VMAs it holds: address
        order, no overlap, page alignment, ``map_count``, anon_vma chains, PTEs inside VMAs.
        Raises ``AssertionError`` naming the first problem. Uses no lookups, so it leaves
        the index's caches and counters (beyond what ``index.validate`` does) untouched."""
        lock = self.mmap_lock
        lock.down_read()
        try:
            index = self._index
            index.validate()
            vmas = list(index)
            assert len(vmas) == len(index) == self._map_count, (
                f"map_count {self._map_count}, index len {len(index)}, iterated {len(vmas)}"
            )
            prev = None
            for v in vmas:
                assert v.start < v.end, f"empty {v!r}"
                assert not (v.start | v.end) & _NOT_OFFSET, f"unaligned {v!r}"
                assert v.end <= self.arch.task_size, f"{v!r} beyond TASK_SIZE"
                if prev is not None:
                    assert prev.end <= v.start, f"{prev!r} overlaps {v!r}"
                assert v.anon_vma_chain == 0 if v.anon_vma is None else v.anon_vma_chain >= 1, (
                    f"{v!r}: anon_vma {v.anon_vma!r} with chain {v.anon_vma_chain}"
                )
                prev = v
            assert self._brk >= self.start_brk, f"brk {self._brk:#x} below start_brk {self.start_brk:#x}"
            if self._pt:
                starts = [v.start >> PAGE_SHIFT for v in vmas]
                pmds = self._pmds
                for vpn, pte in self._pt.items():
                    i = bisect_right(starts, vpn) - 1
                    assert i >= 0 and vmas[i].end >> PAGE_SHIFT > vpn, f"PTE for {vpn << PAGE_SHIFT:#x} outside every VMA"
                    huge = vpn >> _PTE_TABLE_SHIFT in pmds
                    assert bool(pte & PTE_HUGE) == huge, f"{vpn << PAGE_SHIFT:#x}: PTE_HUGE {pte:#x}, PMD-mapped {huge}"
            for t in self._pmds:
                first = t << _PTE_TABLE_SHIFT
                assert t not in self._ptables, f"PMD-mapped {first << PAGE_SHIFT:#x} also has a PTE table"
                v = self._pt.get(first)
                assert v is not None and all(
                    self._pt.get(k) == v for k in range(first, first + _PTRS_PER_PTE)
                ), f"PMD mapping at {first << PAGE_SHIFT:#x} is not 512 equal entries"
                i = bisect_right(starts, first) - 1
                assert vmas[i].end >> PAGE_SHIFT >= first + _PTRS_PER_PTE, f"PMD mapping at {first << PAGE_SHIFT:#x} leaves its VMA"
            seen_files = {id(v.file): v.file for v in vmas if v.file is not None}
            for f in seen_files.values():
                for p, order in f.folio_order.items():
                    n = 1 << order
                    head = p & -n
                    assert f.folio_order.get(head) == order and head in f.pages and p in f.pages, (
                        f"{f!r}: page {p} in an order-{order} folio at {head} that is not whole"
                    )
        finally:
            lock.up_read()

    def __repr__(self) -> str:
        return f"<MM {self.kind} map_count={self._map_count} brk={self._brk:#x}>"
