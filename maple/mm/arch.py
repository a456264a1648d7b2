"""User address-space geometry of the architectures whose ``/proc/PID/maps`` the loader accepts.

An address space loaded from a real dump keeps its architecture's ``TASK_SIZE`` (the top of
user space, which ``mmap``/``munmap``/``brk`` check against), ``TASK_UNMAPPED_BASE`` (where
bottom-up placement starts), the width ``show_map_vma`` pads its lines to (it depends on the
*kernel's* pointer size), and its gate area (``get_gate_vma``: a page above ``TASK_SIZE`` that
``/proc/PID/maps`` prints last but that is not a VMA). Values, from the kernel's headers:

========================  ==================  ==========================================  ==========
name                      TASK_SIZE           source                                      gate
========================  ==================  ==========================================  ==========
``x86_64``                2**47 - 4096        x86 page_64_types.h ``TASK_SIZE_MAX``       [vsyscall]
``x86_64-la57``           2**56 - 4096        same, 5-level paging (``__VIRTUAL_MASK_SHIFT`` 56)  [vsyscall]
``aarch64``               2**48               arm64 processor.h ``TASK_SIZE_64`` (VA_BITS 48)
``aarch64-va39``          2**39               same with VA_BITS 39 (Android, Raspberry Pi)
``riscv64-sv39``          2**38               riscv pgtable.h ``TASK_SIZE_64`` (PGDIR_SIZE*PTRS_PER_PGD/2)
``riscv64-sv48``          2**47               same, Sv48
``i386``                  0xC0000000          x86 page_32_types.h ``__PAGE_OFFSET`` (3G/1G)  [vdso] at 0xffffe000 (compat vDSO)
``ia32``                  0xFFFFE000          x86 processor.h ``IA32_PAGE_OFFSET`` (32-bit task, 64-bit kernel)
``arm``                   0xBF000000          arm memory.h ``TASK_SIZE`` (PAGE_OFFSET - 16M)  [vectors]
``arm64-compat``          2**32 - 4096        arm64 processor.h ``TASK_SIZE_32`` (32-bit task)
========================  ==================  ==========================================  ==========

``TASK_UNMAPPED_BASE`` is ``PAGE_ALIGN(TASK_SIZE / 3)`` (x86 ``__TASK_UNMAPPED_BASE``, riscv,
arm) or ``PAGE_ALIGN(TASK_SIZE / 4)`` (arm64); x86-64 with 5-level paging keeps the 47-bit
default window (``DEFAULT_MAP_WINDOW``) for it.
"""

from __future__ import annotations

from typing import NamedTuple

from maple.linux import PAGE_MASK, PAGE_SIZE, TASK_SIZE

__all__ = ["Arch", "ARCHES", "X86_64", "arch"]


class Arch(NamedTuple):
    """One architecture's user address-space geometry (see the module table)."""

    name: str
    #: top of user space, exclusive (``TASK_SIZE``)
    task_size: int
    #: ``TASK_UNMAPPED_BASE``: start of bottom-up placement
    unmapped_base: int
    #: the kernel's ``sizeof(void *)``: maps lines are padded to ``25 + 6 * word - 1`` columns
    word: int
    #: the gate area ``(start, end, name)`` printed after the VMAs, or None
    gate: tuple[int, int, str] | None
    #: a 32-bit task (addresses print as 8 hex digits at most)
    compat32: bool = False

    @property
    def maps_width(self) -> int:
        """``show_map_vma``'s ``seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)``."""
        return 25 + self.word * 6 - 1


def _third(size: int) -> int:
    return (size // 3 + PAGE_SIZE - 1) & PAGE_MASK


_VSYSCALL = (0xFFFFFFFFFF600000, 0xFFFFFFFFFF601000, "[vsyscall]")

X86_64 = Arch("x86_64", TASK_SIZE, _third(TASK_SIZE), 8, _VSYSCALL)

#: every architecture the loader knows, smallest TASK_SIZE first within each word size
ARCHES: tuple[Arch, ...] = (
    Arch("riscv64-sv39", 1 << 38, _third(1 << 38), 8, None),
    Arch("aarch64-va39", 1 << 39, (1 << 39) // 4, 8, None),
    X86_64,
    Arch("riscv64-sv48", 1 << 47, _third(1 << 47), 8, None),
    Arch("aarch64", 1 << 48, (1 << 48) // 4, 8, None),
    Arch("x86_64-la57", (1 << 56) - PAGE_SIZE, _third(TASK_SIZE), 8, _VSYSCALL),
    Arch("arm", 0xBF000000, _third(0xBF000000), 4, (0xFFFF0000, 0xFFFF1000, "[vectors]"), True),
    Arch("i386", 0xC0000000, _third(0xC0000000), 4, (0xFFFFE000, 0xFFFFF000, "[vdso]"), True),
    Arch("ia32", 0xFFFFE000, _third(0xFFFFE000), 8, None, True),
    Arch("arm64-compat", (1 << 32) - PAGE_SIZE, 1 << 30, 8, None, True),
)


def arch(name: str) -> Arch:
    """The :class:`Arch` called ``name``; ``KeyError`` if unknown."""
    for a in ARCHES:
        if a.name == name:
            return a
    raise KeyError(name)
