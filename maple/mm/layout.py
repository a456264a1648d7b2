"""Starting address spaces: ``/proc/PID/maps`` text parsed into VMAs.

Built-in layouts are real processes' maps stored as package data (``layouts/*.maps``):

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
    TASK_SIZE,
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
from maple.mm.vma import VMA, AnonVma, File

__all__ = ["MapsEntry", "parse_maps", "layouts", "layout_text", "build_vmas", "initial_brk"]

_LINE = re.compile(
    r"^([0-9a-fA-F]+)-([0-9a-fA-F]+)\s+([r-][w-][x-][ps])\s+([0-9a-fA-F]+)\s+"
    r"([0-9a-fA-F]+):([0-9a-fA-F]+)\s+(\d+)(?:\s+(.*?))?\s*$"
)


class MapsEntry(NamedTuple):
    """One ``/proc/PID/maps`` line."""

    start: int
    end: int
    perms: str
    offset: int
    dev: tuple[int, int]
    inode: int
    name: str


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
        if start < prev_end:
            raise InputError(f"maps line {lineno}: range {m[1]}-{m[2]} overlaps or precedes the line before")
        prev_end = end
        offset = int(m[4], 16)
        if offset & (PAGE_SIZE - 1):
            raise InputError(f"maps line {lineno}: offset {m[4]} is not page aligned")
        entries.append(MapsEntry(start, end, m[3], offset, (int(m[5], 16), int(m[6], 16)), int(m[7]), m[8] or ""))
    return entries


def layouts() -> list[str]:
    """Names of the built-in layouts."""
    folder = resources.files("maple.mm") / "layouts"
    return sorted(p.name[: -len(".maps")] for p in folder.iterdir() if p.name.endswith(".maps"))


def layout_text(layout: str) -> str:
    """The maps text of a built-in layout name, or ``layout`` itself if it is maps text."""
    if "\n" in layout or _LINE.match(layout):
        return layout
    if layout not in layouts():
        raise InputError(f"layout {layout!r}: not a built-in layout ({', '.join(layouts())}) nor /proc/PID/maps text")
    return (resources.files("maple.mm") / "layouts" / f"{layout}.maps").read_text()


class Built(NamedTuple):
    vmas: list[VMA]
    start_brk: int | None
    brk: int | None
    start_stack: int
    mmap_base: int


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


def build_vmas(entries: list[MapsEntry]) -> Built:
    """VMAs (with reconstructed flags, files and anon_vmas) and mm fields for ``entries``."""
    files: dict[tuple, File] = {}
    vmas: list[VMA] = []
    heap = stack = None
    entries = [e for e in entries if e.end <= TASK_SIZE]  # [vsyscall] is not a VMA
    for i, e in enumerate(entries):
        r, w, x, s = e.perms
        flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC
        flags |= (VM_READ if r == "r" else 0) | (VM_WRITE if w == "w" else 0) | (VM_EXEC if x == "x" else 0)
        name = e.name
        file = None
        special = None
        anon = False
        if name.startswith("[") and name not in ("[heap]", "[stack]") and not name.startswith("[anon"):
            special = name
            flags |= VM_DONTEXPAND
            if name.startswith("[vvar"):
                flags = (flags & ~(VM_MAYWRITE | VM_MAYEXEC)) | VM_IO | VM_PFNMAP | VM_DONTDUMP
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
            heap = vma
        elif name == "[stack]":
            stack = vma
    start_brk = brk = None
    if heap is not None:
        start_brk, brk = heap.start, heap.end
    elif vmas:
        start_brk = brk = initial_brk(vmas)
    below = [v for v in vmas if v is not stack and (stack is None or v.end <= stack.start)]
    mmap_base = below[-1].end if len(below) > 1 else DEFAULT_MMAP_BASE
    start_stack = stack.end - PAGE_SIZE if stack is not None else 0
    return Built(vmas, start_brk, brk, start_stack, mmap_base)
