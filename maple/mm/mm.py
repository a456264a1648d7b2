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
optionally ``| PTE_WRITE``; file pages also enter the file's page cache.
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
from maple.mm.errors import MMError, SegmentationFault
from maple.mm.lock import RWSemaphore
from maple.mm.vma import VMA, AnonVma, File
from maple.tree import ULONG_MAX

__all__ = ["MM", "DEFAULT_START_BRK", "PTE_PRESENT", "PTE_WRITE"]

_EBADF = errno.EBADF
#: Where an empty address space puts its (empty) heap: just above a typical PIE executable
#: loaded without ASLR at 0x555555554000.
DEFAULT_START_BRK = 0x555555560000
#: TASK_UNMAPPED_BASE on x86-64: where bottom-up placement starts (the top-down fallback).
TASK_UNMAPPED_BASE = (TASK_SIZE // 3 + PAGE_SIZE - 1) & PAGE_MASK  # x86-64 PAGE_ALIGN; an mm uses arch.unmapped_base

PTE_PRESENT = 1
PTE_WRITE = 2

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
        rules: str = "6.1",
    ) -> None:
        if rules not in RULES:
            raise ValueError(f"rules {rules!r}: expected one of {', '.join(RULES)}")
        self.rules = rules
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

    # ------------------------------------------------------------------ syscalls
    # Each syscall spells out its lock prologue: one shared helper (getattr/setattr counter)
    # measured +3% to +24% per brk pair, and brk is a hot path.

    def mmap(self, addr: int, length: int, prot: int, flags: int, file: File | None = None, pgoff: int = 0) -> int:
        """``mmap(2)`` (``do_mmap`` + ``mmap_region``); ``pgoff`` is in pages. Returns the address."""
        lock = self.mmap_lock
        lock.down_write()
        try:
            self._syscalls += 1
            self._mmap_calls += 1
            return self._do_mmap(addr, length, prot, flags, file, pgoff)
        finally:
            lock.up_write()

    def munmap(self, addr: int, length: int) -> None:
        """``munmap(2)`` (``do_munmap``): split the VMAs at the edges and remove the range."""
        lock = self.mmap_lock
        lock.down_write()
        try:
            self._syscalls += 1
            self._munmap_calls += 1
            self._do_munmap(addr, length)
        finally:
            lock.up_write()

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        """``mprotect(2)`` (``do_mprotect_pkey`` / ``mprotect_fixup``): split and merge."""
        lock = self.mmap_lock
        lock.down_write()
        try:
            self._syscalls += 1
            self._mprotect_calls += 1
            self._do_mprotect(addr, length, prot)
        finally:
            lock.up_write()

    def brk(self, addr: int) -> int:
        """``brk(2)``: move the break; returns the new break, or the old one on failure."""
        lock = self.mmap_lock
        lock.down_write()
        try:
            self._syscalls += 1
            self._brk_calls += 1
            return self._do_brk(addr)
        finally:
            lock.up_write()

    def fault(self, addr: int, write: bool = False) -> None:
        """A user page fault at ``addr`` (``do_user_addr_fault`` + ``handle_mm_fault``).

        Looks the VMA up under the read lock, checks access, maps the page. A fault below a
        ``VM_GROWSDOWN`` VMA grows it (``expand_stack``) under the write lock, as kernels
        since 6.5 do. Raises ``SegmentationFault`` (SEGV_MAPERR / SEGV_ACCERR).
        """
        try:
            fc = self._tls.fc
        except AttributeError:
            fc = self._thread_fault_counts()
        lock = self.mmap_lock
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
        # below a stack: growing it changes the index, which needs the write lock
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
            lock.up_write()

    def fork(self) -> MM:
        """``fork(2)``'s ``dup_mmap``: a child address space sharing files and COW pages."""
        lock = self.mmap_lock
        lock.down_write()
        try:
            self._syscalls += 1
            self._forks += 1
            return self._dup_mmap()
        finally:
            lock.up_write()

    def exit(self) -> None:
        """``exit_mmap``: unmap and free every VMA; the address space is empty afterwards."""
        lock = self.mmap_lock
        lock.down_write()
        try:
            self._syscalls += 1
            self._exits += 1
            n = len(self._index)
            for v in self._index:
                if v.file is not None:
                    v.file.mapcount -= 1
            self._index.clear()
            self._pages_unmapped += len(self._pt)
            self._pt.clear()
            self._vmas_freed += n
            self._map_count = 0
            self.exited = True
        finally:
            lock.up_write()

    # ------------------------------------------------------------------ mmap

    def _get_unmapped_area(self, addr: int, length: int, flags: int) -> int:
        """``get_unmapped_area`` / ``arch_get_unmapped_area_topdown`` (x86-64, no hugepages);
        ``arch_get_unmapped_area`` (bottom-up from ``mmap_base``) for a legacy layout."""
        task_size = self.arch.task_size
        if length > task_size - MMAP_MIN_ADDR:
            raise MMError(ENOMEM, f"mmap: length {length:#x} exceeds the address space")
        if flags & MAP_FIXED:
            if length > task_size - addr:
                raise MMError(ENOMEM, f"mmap: MAP_FIXED range {addr:#x}+{length:#x} exceeds TASK_SIZE")
            return addr
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

        addr = self._get_unmapped_area(addr, length, flags)
        if flags & MAP_FIXED_NOREPLACE and self._index.find_vma_intersection(addr, addr + length) is not None:
            raise MMError(EEXIST, f"mmap: MAP_FIXED_NOREPLACE range {addr:#x}+{length:#x} is in use")
        if file is None:
            if map_type == MAP_PRIVATE:
                pgoff = addr >> PAGE_SHIFT
            else:
                # shmem_zero_setup: every shared anonymous mapping gets its own shmem file
                file = File("/dev/zero (deleted)", inode=0)
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
                if area is not nxt:
                    self._remove_absorbed(prev, area)
                self._remove_absorbed(prev, nxt)
                index.adjust(prev, prev.start, new_end)
            else:
                # cases 2, 5, 7: prev grows to end; area loses its head or disappears
                if area is not None and area.start < end:
                    if area.end == end:
                        self._remove_absorbed(prev, area)
                    else:
                        area.pgoff += (end - area.start) >> PAGE_SHIFT
                        index.adjust(area, end, area.end)
                index.adjust(prev, prev.start, end)
                if prev.anon_vma is None and anon_vma is not None:
                    prev.anon_vma = anon_vma  # __vma_adjust's importer takes the exporter's
                    prev.anon_vma_chain = 1
            self._merges += 1
            return prev
        if (
            nxt is not None
            and end == nxt.start
            and _same_kind(nxt, vm_flags, file, name)
            and nxt.pgoff == pgoff + pglen
            and anon_ok(anon_vma, src, nxt)
        ):
            if prev is not None and addr < prev.end:
                # case 4: prev loses its tail to next
                index.adjust(prev, prev.start, addr)
            elif area is not nxt:
                # case 8: area disappears into next
                self._remove_absorbed(nxt, area)
            nxt.pgoff -= (nxt.start - addr) >> PAGE_SHIFT
            index.adjust(nxt, addr, nxt.end)
            if nxt.anon_vma is None and anon_vma is not None:
                nxt.anon_vma = anon_vma
                nxt.anon_vma_chain = 1
            self._merges += 1
            return nxt
        return None

    def _remove_absorbed(self, keeper: VMA, gone: VMA) -> None:
        """Unlink ``gone``, whose range ``keeper`` is taking over (``__vma_adjust`` remove_next)."""
        self._index.remove(gone)
        if keeper.anon_vma is None and gone.anon_vma is not None:
            keeper.anon_vma = gone.anon_vma
            keeper.anon_vma_chain = gone.anon_vma_chain
        if gone.file is not None:
            gone.file.mapcount -= 1
        self._map_count -= 1
        self._vmas_freed += 1

    def _split_vma(self, vma: VMA, addr: int, new_below: bool) -> VMA:
        """``__split_vma``: cut ``vma`` at ``addr``; the new VMA is the lower part if
        ``new_below`` else the upper part. Returns the new VMA."""
        index = self._index
        start, end = vma.start, vma.end
        new = VMA(start, end, vma.flags, vma.file, vma.pgoff, vma.anon_vma, vma.anon_vma_chain, vma.name)
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

    def _do_munmap(self, start: int, length: int) -> None:
        """``do_munmap`` / ``do_mas_align_munmap``."""
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
        index.remove_range(start, end, doomed)
        self._map_count -= len(doomed)
        self._vmas_freed += len(doomed)
        zap = self._zap
        for v in doomed:
            if v.file is not None:
                v.file.mapcount -= 1
            zap(v.start, v.end)

    def _zap(self, start: int, end: int) -> None:
        """``unmap_page_range``: drop the PTEs of ``[start, end)``."""
        pt = self._pt
        if not pt:
            return
        lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        before = len(pt)
        if hi - lo <= before:
            pop = pt.pop
            for vpn in range(lo, hi):
                pop(vpn, None)
        else:
            for vpn in [k for k in pt if lo <= k < hi]:
                del pt[vpn]
        self._pages_unmapped += before - len(pt)

    def _wrprotect(self, start: int, end: int) -> None:
        """``change_protection`` removing write permission from the PTEs of ``[start, end)``."""
        pt = self._pt
        if not pt:
            return
        lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        if hi - lo <= len(pt):
            get = pt.get
            for vpn in range(lo, hi):
                if get(vpn, 0) & PTE_WRITE:
                    pt[vpn] = PTE_PRESENT
        else:
            for vpn, pte in list(pt.items()):
                if lo <= vpn < hi and pte & PTE_WRITE:
                    pt[vpn] = PTE_PRESENT

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
            # shrink: always allowed, through munmap
            self._brk = brk
            try:
                self._do_munmap(newbrk, oldbrk - newbrk)
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
            index.adjust(prev, prev.start, end)
            self._brk_expansions += 1
            return
        index.insert(VMA(addr, end, flags, None, addr >> PAGE_SHIFT))
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
            if anon is None:
                anon = AnonVma()
                self._anon_vmas_allocated += 1
            vma.anon_vma_chain = 1
            vma.anon_vma = anon

    def _handle_fault(self, vma: VMA, addr: int, write: bool, fc: _FaultCounts) -> None:
        """``access_error`` then ``handle_mm_fault`` on the page-table model.

        A PTE that is already suitable is a minor fault, read without locks. Otherwise the
        anon_vma is prepared first (it takes ``page_table_lock``), then the PTE is re-read
        and changed under the PTE lock (``pte_offset_map_lock``), so concurrent faults on one
        page map it once; the loser finds it present and counts a minor fault."""
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
                # write to a present read-only PTE: copy-on-write or make it dirty
                if private:
                    fc.cow_faults += 1
                pt[vpn] = PTE_PRESENT | PTE_WRITE
                return
            if file is not None:
                file.pages.add(vma.pgoff + ((addr - vma.start) >> PAGE_SHIFT))
                if write and private:
                    fc.cow_faults += 1
            pt[vpn] = PTE_PRESENT | PTE_WRITE if write else PTE_PRESENT
            fc.pages_mapped += 1
        finally:
            lock.release()

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
        counts = [0, 0]  # vmas copied, anon_vmas allocated

        def copy(v: VMA) -> VMA | None:
            flags = v.flags
            if flags & VM_DONTCOPY:
                return None
            n = VMA(v.start, v.end, flags & ~(VM_LOCKED | VM_LOCKONFAULT), v.file, v.pgoff, None, 0, v.name)
            counts[0] += 1
            if v.file is not None:
                v.file.mapcount += 1
            if v.anon_vma is not None and not flags & VM_WIPEONFORK:
                n.anon_vma = AnonVma(v.anon_vma)
                n.anon_vma_chain = v.anon_vma_chain + 1
                counts[1] += 1
                if pt:
                    cow = (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE
                    lo, hi = v.start >> PAGE_SHIFT, v.end >> PAGE_SHIFT
                    if hi - lo <= len(pt):
                        items = [(k, pt[k]) for k in range(lo, hi) if k in pt]
                    else:
                        items = [(k, p) for k, p in pt.items() if lo <= k < hi]
                    for k, p in items:
                        if cow and p & PTE_WRITE:
                            p = PTE_PRESENT
                            pt[k] = p
                        child_pt[k] = p
            return n

        child = MM(
            self._index.dup(copy),
            mmap_base=self.mmap_base,
            start_brk=self.start_brk,
            start_stack=self.start_stack,
            max_map_count=self.max_map_count,
            rules=self.rules,
        )
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
                for vpn in self._pt:
                    i = bisect_right(starts, vpn) - 1
                    assert i >= 0 and vmas[i].end >> PAGE_SHIFT > vpn, f"PTE for {vpn << PAGE_SHIFT:#x} outside every VMA"
        finally:
            lock.up_read()

    def __repr__(self) -> str:
        return f"<MM {self.kind} map_count={self._map_count} brk={self._brk:#x}>"
