#!/usr/bin/env python3
"""Measure the page-cache folio sizes and the faults per page of page_fault2/3 on this host.

A measurement tool (not part of the simulation): as will-it-scale's page_fault3 does, make an
unlinked sparse file with mkstemp + ftruncate in ``$TMPDIR`` (default /tmp), then per pass
mmap it (``MAP_SHARED``, or ``MAP_PRIVATE`` with ``--private`` for page_fault2), write one
byte to every page, and before the munmap read ``/proc/self/pagemap`` (the PFN of each page,
bits 0-54, present bit 63) and ``/proc/kpageflags`` (``KPF_COMPOUND_HEAD`` bit 15,
``KPF_COMPOUND_TAIL`` bit 16) to find the folio each page belongs to. Prints, per pass, the
minor faults (``getrusage(RUSAGE_THREAD).ru_minflt``) per page touched and the distribution
of folio sizes (in pages, by number of folios and by pages covered), plus how many folios
start at a file index aligned to their size and how many are cut by a 2 MiB (PMD) boundary
of the mapping. Needs root (PFNs read as 0 otherwise).

Usage: ``scripts/folio_sizes.py [--size MiB] [--passes N] [--private] [--json]``
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import json
import mmap
import os
import resource
import struct
import sys
import tempfile

PAGE = mmap.PAGESIZE
KPF_COMPOUND_HEAD = 1 << 15
KPF_COMPOUND_TAIL = 1 << 16
PFN_MASK = (1 << 55) - 1
PRESENT = 1 << 63
PMD = 2 << 20


def minflt() -> int:
    """Minor faults of the calling thread so far."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def folios(addr: int, npages: int) -> list[tuple[int, int]]:
    """``(first page index, pages)`` of each folio mapped at ``[addr, addr + npages pages)``
    (pages not present count as their own 1-page entries with size 0)."""
    with open("/proc/self/pagemap", "rb") as f:
        f.seek((addr // PAGE) * 8)
        raw = f.read(npages * 8)
    ents = struct.unpack(f"<{npages}Q", raw)
    pfns = [e & PFN_MASK if e & PRESENT else -1 for e in ents]
    flags: list[int] = []
    with open("/proc/kpageflags", "rb") as kf:
        for pfn in pfns:
            if pfn < 0:
                flags.append(0)
                continue
            kf.seek(pfn * 8)
            flags.append(struct.unpack("<Q", kf.read(8))[0])
    out: list[tuple[int, int]] = []
    i = 0
    while i < npages:
        pfn, fl = pfns[i], flags[i]
        if pfn < 0:
            out.append((i, 0))
            i += 1
            continue
        if fl & KPF_COMPOUND_HEAD:
            j = i + 1
            while j < npages and flags[j] & KPF_COMPOUND_TAIL and pfns[j] == pfn + (j - i):
                j += 1
            out.append((i, j - i))
            i = j
        else:
            # order 0, or a tail whose head is outside the range
            out.append((i, 1))
            i += 1
    return out


def run_pass(fd: int, size: int, private: bool) -> dict:
    """One mmap / write every page / measure / munmap pass; returns its figures."""
    m = mmap.mmap(fd, size, mmap.MAP_PRIVATE if private else mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    view = ctypes.c_char.from_buffer(m)
    addr = ctypes.addressof(view)
    del view  # an exported buffer would keep m.close() from unmapping
    npages = size // PAGE
    f0 = minflt()
    for off in range(0, size, PAGE):
        m[off] = 1
    faults = minflt() - f0
    fol = folios(addr, npages)
    by_n = collections.Counter(n for _, n in fol)
    aligned = sum(1 for i, n in fol if n > 1 and i % n == 0)
    cut = sum(1 for i, n in fol if n > 1 and (addr + i * PAGE) // PMD != (addr + (i + n) * PAGE - 1) // PMD)
    m.close()
    return {
        "faults": faults,
        "pages": npages,
        "faults_per_page": faults / npages,
        "addr_pmd_aligned": addr % PMD == 0,
        "folios_by_pages": dict(sorted(by_n.items())),
        "pages_by_folio_pages": {k: k * v for k, v in sorted(by_n.items())},
        "large_folios_index_aligned": aligned,
        "large_folios_crossing_pmd": cut,
        "folios": len(fol),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=128, help="file size in MiB (128)")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--private", action="store_true", help="MAP_PRIVATE (page_fault2) instead of MAP_SHARED")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    size = a.size << 20
    fd, path = tempfile.mkstemp(prefix="willitscale.", dir=os.environ.get("TMPDIR") or "/tmp")
    os.ftruncate(fd, size)
    os.unlink(path)
    res = [run_pass(fd, size, a.private) for _ in range(a.passes)]
    os.close(fd)
    if a.json:
        json.dump(res, sys.stdout, indent=1)
        print()
    else:
        for k, r in enumerate(res):
            print(f"pass {k}: faults {r['faults']} / {r['pages']} pages = {r['faults_per_page']:.4f} per page; "
                  f"{r['folios']} folios; pmd-aligned mapping {r['addr_pmd_aligned']}; "
                  f"aligned large {r['large_folios_index_aligned']}, crossing a PMD {r['large_folios_crossing_pmd']}")
            print(f"  folios by size (pages: count): {r['folios_by_pages']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
