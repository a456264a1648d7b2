"""The objects an address space is made of: VMAs, files with a page cache, anon_vmas.

``VMA`` mirrors ``struct vm_area_struct``: a half-open, page-aligned range ``[start, end)``
with ``vm_flags``, an optional backing ``File`` at page offset ``pgoff``, and an ``anon_vma``
once an anonymous page has been written. It inherits the legacy index's embedded links
(``maple.legacy.links.VmaLinks``) so that the legacy index, like the pre-6.1 kernel, keeps its
rbtree and list links inside the VMA and allocates nothing per VMA.

A VMA also carries its per-VMA lock state (``vm_lock_seq``, ``vm_readers``, ``detached``),
used by eras whose faults take per-VMA locks (``maple.mm.eras``).

``anon_vma_chain`` is the length of the VMA's anon_vma chain (``list_is_singular`` is
``anon_vma_chain == 1``). A fork gives the child's VMA its own anon_vma chained to the
parent's (``anon_vma_fork``), so its chain has two entries and, as in Linux
(``is_mergeable_anon_vma``), it no longer merges with a new neighbour that has no anon_vma:
this is why the child's first ``brk`` after a fork creates a new VMA.
"""

from __future__ import annotations

from maple.legacy.links import VmaLinks
from maple.linux import PAGE_SHIFT, VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE

__all__ = ["VMA", "File", "AnonVma"]

_PROT_BITS = VM_READ | VM_WRITE | VM_EXEC


class AnonVma:
    """``struct anon_vma``: the reverse-map root of a VMA's anonymous pages.

    Only identity and ancestry matter to the simulation: merging compares anon_vmas by
    identity, and a forked child's anon_vma points at its parent's.
    """

    __slots__ = ("parent", "refs")

    def __init__(self, parent: AnonVma | None = None) -> None:
        self.parent = parent
        #: VMAs using it (the kernel's ``num_active_vmas``); the last one out frees it
        self.refs = 0

    def __repr__(self) -> str:
        return f"<AnonVma {id(self):#x}>"


class File:
    """A mappable file with a page cache that outlives its mappings.

    ``pages`` is the set of file page indices present in the page cache (filled by faults on
    mappings of the file, kept after munmap, as the kernel's page cache is). ``writable`` says
    whether the file was "opened" for writing: a ``MAP_SHARED`` mapping of a read-only file
    cannot be made writable (``VM_MAYWRITE`` is cleared), and asking for ``PROT_WRITE`` on it
    fails with ``EACCES`` as in ``do_mmap``. ``dev`` and ``inode`` only show in ``maps()``.

    Folios: ``folio_order`` maps every page index that belongs to a *large* folio to that
    folio's order (pages absent from it are order-0 folios). Page-cache folios are naturally
    aligned (``filemap_add_folio`` puts an order-``k`` folio at an index that is a multiple of
    ``2**k``), so a page's folio is ``[page & -n, (page & -n) + n)`` with ``n = 2**order``.
    Only eras with large page-cache folios (``Era.file_folios``) create large folios, through
    the readahead model (``maple.mm.readahead``), which keeps its ``struct file_ra_state``
    here: ``ra_start``, ``ra_size``, ``ra_async_size``, ``ra_order`` (pages, pages, pages,
    folio order), ``mmap_miss``, and ``ra_marks``, the head indices of the folios with
    ``PG_readahead`` set. ``size`` is ``i_size`` in bytes (``None``: unbounded, readahead
    stops nowhere), ``shmem`` marks a tmpfs/shmem file (no readahead, order-0 folios: the
    host's ``shmem_enabled`` is ``never`` for every size).
    """

    __slots__ = ("path", "dev", "inode", "writable", "pages", "mapcount", "size", "shmem",
                 "folio_order", "ra_start", "ra_size", "ra_async_size", "ra_order", "mmap_miss",
                 "ra_marks")

    def __init__(
        self,
        path: str = "",
        *,
        dev: tuple[int, int] = (0, 0),
        inode: int = 0,
        writable: bool = True,
        size: int | None = None,
        shmem: bool = False,
    ) -> None:
        self.path = path
        self.dev = dev
        self.inode = inode
        self.writable = writable
        self.pages: set[int] = set()
        #: number of VMAs mapping the file (the i_mmap tree's population)
        self.mapcount = 0
        self.size = size
        self.shmem = shmem
        self.folio_order: dict[int, int] = {}
        # struct file_ra_state (zeroed by file_ra_state_init but for ra_pages, an era's)
        self.ra_start = 0
        self.ra_size = 0
        self.ra_async_size = 0
        self.ra_order = 0
        self.mmap_miss = 0
        self.ra_marks: set[int] = set()

    def folio(self, page: int) -> tuple[int, int]:
        """``(head index, pages)`` of the cached folio holding file page ``page``."""
        order = self.folio_order.get(page, 0)
        n = 1 << order
        return page & -n, n

    def __repr__(self) -> str:
        return f"File({self.path!r}, pages={len(self.pages)}, mapcount={self.mapcount})"


class VMA(VmaLinks):
    """``struct vm_area_struct``: one mapping ``[start, end)`` of an address space.

    ``prot`` is derived from ``flags`` (``VM_READ/WRITE/EXEC`` have the ``PROT_*`` values).
    ``name`` is set for special mappings (``[vdso]``, ``[vvar]``) and named anonymous
    mappings; ``[heap]`` and ``[stack]`` are recognised from the mm as ``/proc/PID/maps`` does.
    """

    __slots__ = ("start", "end", "flags", "file", "pgoff", "anon_vma", "anon_vma_chain", "name",
                 "vm_lock_seq", "vm_readers", "detached")

    def __init__(
        self,
        start: int,
        end: int,
        flags: int,
        file: File | None = None,
        pgoff: int = 0,
        anon_vma: AnonVma | None = None,
        anon_vma_chain: int = 0,
        name: str | None = None,
    ) -> None:
        VmaLinks.__init__(self)
        self.start = start
        self.end = end
        self.flags = flags
        self.file = file
        self.pgoff = pgoff
        self.anon_vma = anon_vma
        self.anon_vma_chain = anon_vma_chain
        self.name = name
        #: per-VMA lock (6.4+): the mm's lock sequence when a writer last locked it
        #: (``vm_lock_seq``), the faults holding it for read, and whether it left the tree
        self.vm_lock_seq = -1
        self.vm_readers = 0
        self.detached = False

    @property
    def prot(self) -> int:
        """``PROT_*`` bits of the mapping (``vm_flags & (VM_READ|VM_WRITE|VM_EXEC)``)."""
        return self.flags & _PROT_BITS

    @property
    def pages(self) -> int:
        """``vma_pages()``: length in pages."""
        return (self.end - self.start) >> PAGE_SHIFT

    @property
    def perms(self) -> str:
        """The ``rwxp``/``rwxs`` column of ``/proc/PID/maps``."""
        f = self.flags
        return (
            ("r" if f & VM_READ else "-")
            + ("w" if f & VM_WRITE else "-")
            + ("x" if f & VM_EXEC else "-")
            + ("s" if f & VM_MAYSHARE else "p")
        )

    def __repr__(self) -> str:
        what = self.file.path if self.file is not None else (self.name or "anon")
        return f"VMA({self.start:#x}-{self.end:#x} {self.perms} pgoff={self.pgoff:#x} {what})"
