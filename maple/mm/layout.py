"""Starting address spaces: ``/proc/PID/maps`` text parsed into VMAs.

Two kinds of built-in layouts are package data in ``layouts/``. *History layouts*
(``*.history.gz``: ``will-it-scale``, the default of will-it-scale cells, and the
``maplebench-micro*`` ones calibration models) are built by replaying execve and the program's
recorded strace on the simulated mm, so the VMA index has the shape that history gives it;
see :mod:`maple.mm.history` (how they were recorded, ``scripts/record_history.py`` to
regenerate them). *Maps layouts* are real processes' maps (``layouts/*.maps``), populated as a
final VMA set:

* ``cat``: ``cat /proc/self/maps`` (37 VMAs: executable, heap, locale files, libc, ld.so,
  vvar/vdso, stack);
* ``python``: a CPython 3.11 process with numpy, ssl, json and decimal imported (187 VMAs).

Maps carry only addresses, permissions, offsets and names, so the loader reconstructs what the
kernel would have set: ``VM_MAY*`` bits, ``VM_SHARED`` for writable shared files, ``VM_ACCOUNT``
and an anon_vma on private writable VMAs and on the RELRO run just below a file's ``rw-p``
VMA (both were written to), ``VM_GROWSDOWN`` on ``[stack]``, and ``VM_DONTEXPAND`` (never
merged) on ``[vvar]``, ``[vdso]`` and other special mappings. ``[heap]`` sets
``start_brk``/``brk``, else they are the end of the executable's bss (:func:`initial_brk`); mmap_base is the end of the highest VMA below the stack.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import NamedTuple

from maple.errors import InputError
from maple.linux import (
    DEFAULT_MMAP_BASE,
    PAGE_SHIFT,
    PAGE_SIZE,
    VM_ACCOUNT,
    VM_DONTDUMP,
    VM_DONTEXPAND,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_IO,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_PFNMAP,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
)
from maple.mm.arch import ARCHES, X86_64, Arch
from maple.mm.vma import VMA, AnonVma, File

__all__ = ["MapsEntry", "parse_maps", "layouts", "is_history_layout", "layout_text", "build_vmas", "detect_arch", "initial_brk"]

_LINE = re.compile(
    r"^([0-9a-fA-F]+)-([0-9a-fA-F]+)\s+([r-][w-][x-][ps])\s+([0-9a-fA-F]+)\s+"
    r"([0-9a-fA-F]+):([0-9a-fA-F]+)\s+(\d+)(?:\s+(.*?))?\s*$"
)
_ULONG_END = 1 << 64
#: print-time labels of thread stacks (Linux 3.4 to 4.4): not names, the VMA is plain anonymous
_STACK_TID = re.compile(r"^\[stack:\d+\]$")


class MapsEntry(NamedTuple):
    """One ``/proc/PID/maps`` line.

    ``lineno`` is the line's number in the text (for error messages); ``column`` is where the
    name starts (0 when there is none): ``show_map_vma`` pads to a width that depends on the
    kernel's pointer size, so the column tells a 32-bit kernel's dump from a 64-bit one's.
    """

    start: int
    end: int
    perms: str
    offset: int
    dev: tuple[int, int]
    inode: int
    name: str
    lineno: int = 0
    column: int = 0


def parse_maps(text: str) -> list[MapsEntry]:
    """Parse ``/proc/PID/maps`` text; raises ``InputError`` naming the first bad line."""
    entries: list[MapsEntry] = []
    prev_end = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            raise InputError(f"maps line {lineno}: {line.strip()!r} is not a /proc/PID/maps line")
        start, end = int(m[1], 16), int(m[2], 16)
        if start >= end or (start | end) & (PAGE_SIZE - 1):
            raise InputError(f"maps line {lineno}: range {m[1]}-{m[2]} is empty or not page aligned")
        if end > _ULONG_END:
            raise InputError(f"maps line {lineno}: range {m[1]}-{m[2]} does not fit in 64 bits")
        if start < prev_end:
            raise InputError(f"maps line {lineno}: range {m[1]}-{m[2]} overlaps or precedes the line before")
        prev_end = end
        offset = int(m[4], 16)
        if offset & (PAGE_SIZE - 1):
            raise InputError(f"maps line {lineno}: offset {m[4]} is not page aligned")
        column = m.start(8) if m[8] else 0
        entries.append(
            MapsEntry(start, end, m[3], offset, (int(m[5], 16), int(m[6], 16)), int(m[7]), m[8] or "", lineno, column)
        )
    return entries


def layouts() -> list[str]:
    """Names of the built-in layouts: maps layouts (``*.maps``) and history layouts
    (``*.history.gz``, :mod:`maple.mm.history`)."""
    from maple.mm.history import history_layouts

    folder = resources.files("maple.mm") / "layouts"
    maps = [p.name[: -len(".maps")] for p in folder.iterdir() if p.name.endswith(".maps")]
    return sorted(maps + history_layouts())


def is_history_layout(layout: str) -> bool:
    """Whether ``layout`` names a built-in history layout (built by replay, not from maps)."""
    from maple.mm.history import history_layouts

    return "\n" not in layout and layout in history_layouts()


def layout_text(layout: str) -> str:
    """The maps text of a built-in layout name, or ``layout`` itself if it is maps text."""
    if "\n" in layout or _LINE.match(layout):
        return layout
    if is_history_layout(layout):
        raise InputError(f"layout {layout!r}: a history layout has no maps text; build it with make_mm")
    if layout not in layouts():
        raise InputError(f"layout {layout!r}: not a built-in layout ({', '.join(layouts())}) nor /proc/PID/maps text")
    return (resources.files("maple.mm") / "layouts" / f"{layout}.maps").read_text()


class Built(NamedTuple):
    """What :func:`build_vmas` reconstructs: the VMAs and the mm fields the kernel had set."""

    vmas: list[VMA]
    start_brk: int | None
    brk: int | None
    start_stack: int
    mmap_base: int
    arch: Arch = X86_64
    #: the gate area's line (``get_gate_vma``), printed after the VMAs but not one of them
    gate: VMA | None = None
    #: a legacy (bottom-up) mmap layout: new mappings go up from ``mmap_base``
    legacy: bool = False


def initial_brk(vmas: list[VMA]) -> int:
    """The break ``load_elf_binary`` sets with randomisation off, for a layout without ``[heap]``.

    ``set_brk`` puts ``start_brk = brk = PAGE_ALIGN(end of bss)``: the end of the last VMA
    backed by the main executable (the file of the first mapping), extended by the anonymous
    bss VMA directly after it when there is one (``vm_brk_flags`` of the bss beyond the file's
    last page). Holes inside the executable's image do not matter. When the first mapping has
    no file (hand-written layouts), the executable is taken to be the first run of contiguous
    VMAs. ``vmas`` must be in address order and non-empty.
    """
    exe = vmas[0].file
    if exe is None:
        last = 0
        while last + 1 < len(vmas) and vmas[last + 1].start == vmas[last].end:
            last += 1
        return vmas[last].end
    last = max(i for i, v in enumerate(vmas) if v.file is exe)
    end = vmas[last].end
    if last + 1 < len(vmas):
        bss = vmas[last + 1]
        if bss.start == end and bss.file is None and bss.name is None and not bss.flags & (VM_GROWSDOWN | VM_MAYSHARE):
            end = bss.end
    return end


def _show(e: MapsEntry) -> str:
    return f"{e.start:08x}-{e.end:08x} {e.perms} {e.name}".rstrip()


def _refuse(e: MapsEntry, why: str) -> InputError:
    return InputError(f"maps line {e.lineno}: {_show(e)!r} {why}")


def _word(entries: list[MapsEntry]) -> int | None:
    """The dumping kernel's pointer size, from where ``show_map_vma`` padded a name to."""
    for e in entries:
        if not e.column:
            continue
        head = len(f"{e.start:08x}-{e.end:08x} {e.perms} {e.offset:08x} {e.dev[0]:02x}:{e.dev[1]:02x} {e.inode} ")
        for word in (4, 8):
            width = 25 + 6 * word - 1
            if head < width and e.column == width + 1:
                return word
    return None


def detect_arch(entries: list[MapsEntry]) -> tuple[Arch, MapsEntry | None, list[MapsEntry]]:
    """The architecture of a dump, its gate line (or None) and the lines that are VMAs.

    The gate is the last line when it is an architecture's gate area exactly (``[vsyscall]``
    at ``ffffffffff600000``, 32-bit ``[vdso]`` at ``ffffe000``, ``[vectors]`` at ``ffff0000``).
    The architecture is the one with the smallest ``TASK_SIZE`` that holds every other line
    (x86-64 when nothing says otherwise), among those that agree with the evidence: the gate,
    the padding width (the kernel's pointer size), a ``[stack]`` below 4 GiB (a 32-bit task),
    ARM's ``[vectors]``/``[sigpage]``. Raises ``InputError`` naming the first line above the
    user address space of every candidate.
    """
    gate = None
    if entries:
        last = entries[-1]
        if any(a.gate == (last.start, last.end, last.name) for a in ARCHES):
            gate = last
    body = entries[:-1] if gate is not None else entries
    if not body:
        return X86_64, gate, body
    word = _word(entries)
    names = {e.name for e in body}
    stack = next((e for e in body if e.name == "[stack]"), None)
    top = body[-1].end
    cands = [a for a in ARCHES if word is None or a.word == word]
    if gate is not None:
        cands = [a for a in cands if a.gate == (gate.start, gate.end, gate.name)]
    compat32 = word == 4 or (gate is not None and gate.end <= 1 << 32) or (stack is not None and stack.end <= 1 << 32)
    cands = [a for a in cands if a.compat32 == compat32]
    if compat32:
        arm = "[vectors]" in names or "[sigpage]" in names or (gate is not None and gate.name == "[vectors]")
        cands = [a for a in cands if a.name.startswith("arm") == arm]
    fits = [a for a in cands if a.task_size >= top]
    if not fits:
        limit = max((a.task_size for a in cands), default=1 << 32 if compat32 else ARCHES[-1].task_size)
        bad = next(e for e in body if e.end > limit)
        names_ = ", ".join(f"{a.name} {a.task_size:#x}" for a in cands) or "none"
        raise _refuse(bad, f"ends above the user address space (TASK_SIZE of {names_}); supported: "
                           + ", ".join(a.name for a in ARCHES))
    if stack is None and X86_64 in fits:
        return X86_64, gate, body
    return min(fits, key=lambda a: a.task_size), gate, body


def _stack_window(arch: Arch) -> int:
    """How far below ``TASK_SIZE`` an unlabelled stack may end (stack randomisation: 16 GiB on
    x86-64, ``STACK_RND_MASK`` 0x3fffff pages; 8 MiB on 32-bit tasks, 0x7ff pages), doubled."""
    return 1 << 24 if arch.compat32 else 1 << 35


def perm_flags(perms: str) -> int:
    """``vm_flags`` a mapping with maps permissions ``perms`` (``"r-xp"``) had at least: its
    ``VM_READ``/``VM_WRITE``/``VM_EXEC`` and every ``VM_MAY*`` (what ``do_mmap`` gives a
    private mapping)."""
    r, w, x = perms[:3]
    return (VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | (VM_READ if r == "r" else 0) | (VM_WRITE if w == "w" else 0)
            | (VM_EXEC if x == "x" else 0))


def special_mapping_flags(name: str, flags: int) -> int:
    """``flags`` of a special mapping ``name`` (``_install_special_mapping``: never merged,
    ``VM_DONTEXPAND``); the vDSO data pages (``[vvar]``, ``[vvar_vclock]``) are also
    ``VM_IO | VM_PFNMAP | VM_DONTDUMP`` and cannot be made writable or executable."""
    flags |= VM_DONTEXPAND
    if name.startswith("[vvar"):
        flags = (flags & ~(VM_MAYWRITE | VM_MAYEXEC)) | VM_IO | VM_PFNMAP | VM_DONTDUMP
    return flags


def build_vmas(entries: list[MapsEntry]) -> Built:
    """VMAs (with reconstructed flags, files and anon_vmas) and mm fields for ``entries``.

    Every line becomes a VMA except the gate area (see :func:`detect_arch`); a line the
    architecture cannot hold is refused with ``InputError`` naming it, never dropped. Names:
    ``[heap]`` and ``[stack]`` are labels (from ``start_brk``/``brk``/``start_stack``), and so
    are ``[stack:TID]`` (thread stacks, Linux 3.4-4.4); ``[anon:NAME]`` (``prctl
    PR_SET_VMA_ANON_NAME``) and ``[anon_shmem:NAME]`` are names, part of the VMA, which
    merges only with an equally named neighbour; other bracketed names are special mappings.
    """
    arch, gate_entry, entries = detect_arch(entries)
    files: dict[tuple, File] = {}
    vmas: list[VMA] = []
    heaps: list[VMA] = []
    stack = None
    for i, e in enumerate(entries):
        w, s = e.perms[1], e.perms[3]
        flags = perm_flags(e.perms)
        name = e.name
        if _STACK_TID.match(name):
            name = ""
        file = None
        special = None
        anon = False
        if name.startswith("[") and name not in ("[heap]", "[stack]") and not name.startswith("[anon"):
            special = name
            flags = special_mapping_flags(name, flags)
        elif name and not name.startswith("["):
            key = (name, e.dev, e.inode)
            file = files.get(key)
            if file is None:
                file = files[key] = File(name, dev=e.dev, inode=e.inode)
        elif name.startswith("[anon"):
            special = name
        if s == "s":
            flags |= VM_MAYSHARE
            if w == "w":
                flags |= VM_SHARED
            else:
                flags &= ~VM_MAYWRITE
        elif w == "w":
            flags |= VM_ACCOUNT
            anon = True
        elif file is not None and i + 1 < len(entries):
            # RELRO: the read-only run just below a file's rw-p VMA was written, then sealed
            n = entries[i + 1]
            if (n.name, n.dev, n.inode) == (name, e.dev, e.inode) and n.perms == "rw-p" and (
                n.offset == e.offset + (e.end - e.start)
            ) and n.start == e.end:
                flags |= VM_ACCOUNT
                anon = True
        if name == "[stack]":
            flags |= VM_GROWSDOWN | VM_ACCOUNT
            anon = True
        pgoff = e.offset >> PAGE_SHIFT if file is not None else (e.start >> PAGE_SHIFT if s == "p" else 0)
        vma = VMA(e.start, e.end, flags, file, pgoff, AnonVma() if anon else None, 1 if anon else 0, special)
        if file is not None:
            file.mapcount += 1
        vmas.append(vma)
        if name == "[heap]":
            heaps.append(vma)
        elif name == "[stack]":
            stack = vma
    start_brk = brk = None
    if heaps:
        start_brk, brk = _heap_bounds(vmas, heaps, entries)
    elif vmas:
        start_brk = brk = initial_brk(vmas)
    if stack is None and vmas:
        # Linux before 2.6.20 printed no [stack]: the top private anonymous writable VMA near
        # TASK_SIZE is the stack the ELF loader set up
        top = vmas[-1]
        if (
            top.file is None and top.name is None and top.flags & VM_WRITE and not top.flags & VM_MAYSHARE
            and top.end > arch.task_size - _stack_window(arch) and not heaps[-1:] == [top]
        ):
            stack = top
            top.flags |= VM_GROWSDOWN | VM_ACCOUNT
    below = [v for v in vmas if v is not stack and (stack is None or v.end <= stack.start)]
    exe = vmas[0].file if vmas else None
    legacy = any(v.start == arch.unmapped_base and v.file is not None and v.file is not exe for v in vmas)
    if legacy:
        # libraries from TASK_UNMAPPED_BASE up: the legacy layout (pre-2.6.9 i386, or
        # `ulimit -s unlimited`), where arch_get_unmapped_area places mappings bottom-up
        mmap_base = arch.unmapped_base
    elif len(below) > 1:
        mmap_base = below[-1].end
    else:
        mmap_base = DEFAULT_MMAP_BASE if arch is X86_64 else (arch.task_size - _MIN_GAP) & ~(PAGE_SIZE - 1)
    start_stack = stack.end - PAGE_SIZE if stack is not None else 0
    gate = None
    if gate_entry is not None:
        g = gate_entry
        gflags = (VM_READ if g.perms[0] == "r" else 0) | (VM_WRITE if g.perms[1] == "w" else 0)
        gflags |= VM_EXEC if g.perms[2] == "x" else 0
        gate = VMA(g.start, g.end, gflags | VM_DONTEXPAND, None, 0, None, 0, g.name)
    return Built(vmas, start_brk, brk, start_stack, mmap_base, arch, gate, legacy)


#: mmap_base()'s minimum gap below TASK_SIZE (MIN_GAP, 128 MiB), for a dump with no mappings
#: below its stack
_MIN_GAP = 128 << 20


def _heap_bounds(vmas: list[VMA], heaps: list[VMA], entries: list[MapsEntry]) -> tuple[int, int]:
    """``start_brk`` and ``brk`` of a dump with ``[heap]`` lines.

    The heap runs from the first ``[heap]`` line to the end of the last (mprotect may have
    split it). Before Linux 6.6 (``vma_is_initial_heap``) a VMA that only touched the break
    was labelled too: a static binary's bss, directly after its image, shows ``[heap]`` when
    the break starts at its end (no randomisation); then the break starts at the next line.
    An unlabelled anonymous VMA between ``[heap]`` lines is not something Linux prints.
    """
    first = heaps[0]
    i = vmas.index(first)
    exe = vmas[0].file
    if (
        len(heaps) > 1 and i > 0 and exe is not None and vmas[i - 1].file is exe
        and vmas[i - 1].end == first.start and heaps[1].start == first.end
    ):
        first = heaps[1]
    j = vmas.index(heaps[-1])
    for k in range(vmas.index(first), j):
        v = vmas[k]
        if v.file is None and v.name is None and v not in heaps:
            raise _refuse(entries[k], "is an unlabelled anonymous VMA between [heap] lines, which Linux would label [heap]")
    return first.start, heaps[-1].end
