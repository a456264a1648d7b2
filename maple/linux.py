"""Linux ABI constants (x86-64 values) shared by the legacy VMA index and the address spaces.

Kept at the bottom of the layering so that ``maple.legacy`` and ``maple.mm`` agree on every
number without importing each other. Values are the kernel's (include/uapi/asm-generic/mman*.h,
include/linux/mm.h, include/uapi/asm-generic/errno-base.h).
"""

import errno as _errno

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)

#: x86-64 user address space: 47 bits minus one page (TASK_SIZE_MAX).
TASK_SIZE = (1 << 47) - PAGE_SIZE
#: Default mmap_base sits below the stack gap; layouts may set their own.
DEFAULT_MMAP_BASE = 0x7F0000000000
#: sysctl vm.max_map_count default (DEFAULT_MAX_MAP_COUNT).
MAX_MAP_COUNT = 65530
#: stack_guard_gap default: 256 pages (mm/mmap.c).
STACK_GUARD_GAP = 256 << PAGE_SHIFT
#: mmap_min_addr default on most distributions.
MMAP_MIN_ADDR = 0x10000

# mmap prot bits
PROT_NONE = 0x0
PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4

# mmap flags
MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_TYPE = 0x0F
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_GROWSDOWN = 0x0100
MAP_DENYWRITE = 0x0800
MAP_EXECUTABLE = 0x1000
MAP_LOCKED = 0x2000
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_NONBLOCK = 0x10000
MAP_STACK = 0x20000
MAP_HUGETLB = 0x40000
MAP_FIXED_NOREPLACE = 0x100000

# vm_flags (include/linux/mm.h)
VM_NONE = 0x0
VM_READ = 0x1
VM_WRITE = 0x2
VM_EXEC = 0x4
VM_SHARED = 0x8
VM_MAYREAD = 0x10
VM_MAYWRITE = 0x20
VM_MAYEXEC = 0x40
VM_MAYSHARE = 0x80
VM_GROWSDOWN = 0x100
VM_UFFD_MISSING = 0x200
VM_PFNMAP = 0x400
VM_UFFD_WP = 0x1000
VM_LOCKED = 0x2000
VM_IO = 0x4000
VM_SEQ_READ = 0x8000
VM_RAND_READ = 0x10000
VM_DONTCOPY = 0x20000
VM_DONTEXPAND = 0x40000
VM_LOCKONFAULT = 0x80000
VM_ACCOUNT = 0x100000
VM_NORESERVE = 0x200000
VM_HUGETLB = 0x400000
VM_SYNC = 0x800000
VM_ARCH_1 = 0x1000000
VM_WIPEONFORK = 0x2000000
VM_DONTDUMP = 0x4000000
VM_SOFTDIRTY = 0x8000000
VM_MIXEDMAP = 0x10000000
VM_HUGEPAGE = 0x20000000
VM_NOHUGEPAGE = 0x40000000
VM_MERGEABLE = 0x80000000
#: x86-64 has no upward-growing stacks; VM_GROWSUP is VM_NONE there.
VM_GROWSUP = VM_NONE
VM_STACK = VM_GROWSDOWN
VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP

# errno values used by the simulation
ENOMEM = _errno.ENOMEM
EINVAL = _errno.EINVAL
EEXIST = _errno.EEXIST
EACCES = _errno.EACCES
EFAULT = _errno.EFAULT
EBUSY = _errno.EBUSY
EAGAIN = _errno.EAGAIN
EPERM = _errno.EPERM
ENODEV = _errno.ENODEV


def page_align(addr: int) -> int:
    """PAGE_ALIGN: round up to a page boundary."""
    return (addr + PAGE_SIZE - 1) & PAGE_MASK


def vm_start_gap(start: int, flags: int) -> int:
    """vm_start_gap(): a VM_GROWSDOWN VMA's start, less the stack guard gap (clamped at 0)."""
    if flags & VM_GROWSDOWN:
        gap = start - STACK_GUARD_GAP
        return gap if gap <= start and gap > 0 else 0
    return start


def vm_end_gap(end: int, flags: int) -> int:
    """vm_end_gap(): a VM_GROWSUP VMA's end plus the guard gap (a no-op on x86-64)."""
    return end
