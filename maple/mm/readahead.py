"""Page-cache readahead for mmap faults: which folios a fault on a file brings into the cache.

Mirrors v6.18 ``mm/filemap.c`` (``do_sync_mmap_readahead``'s read-around branch,
``do_async_mmap_readahead``) and ``mm/readahead.c`` (``page_cache_async_ra``,
``page_cache_ra_order``, ``page_cache_ra_unbounded``, ``get_next_ra_size``) for a file whose
mapping supports large folios (ext4 regular files since v6.16, 7ac67301e82f "ext4: enable
large folio for regular file"). Used only by eras with ``Era.file_folios``; older eras bring
one order-0 page in per missing-page fault (``maple.mm.mm``), which gives the same fault count
because their ``finish_fault`` maps one page anyway.

The algorithm, for a sequential pass of faults over a file that is not cached:

* the first fault misses: read-around (``do_sync_mmap_readahead``): ``ra.start = max(0, index
  - ra_pages / 2)``, ``ra.size = ra_pages``, ``ra.async_size = ra_pages / 4``, ``ra.order = 0``;
  ``page_cache_ra_order`` fills ``[ra.start, ra.start + ra.size)`` with folios of that order
  (smaller where the index is not aligned or at EOF) and sets ``PG_readahead`` on the folio at
  ``ra.start + ra.size - ra.async_size``;
* a fault that finds a ``PG_readahead`` folio (``do_async_mmap_readahead`` ->
  ``page_cache_async_ra``) at the expected index pushes the window forward (``ra.start +=
  ra.size``, the size ramped by ``get_next_ra_size`` up to ``ra_pages``, ``ra.async_size =
  ra.size``, so the mark is on the new window's first folio) and raises ``ra.order`` by 2,
  capped by the mapping's maximum folio order and ``ilog2(ra.size)``.

With this host's ``ra_pages`` = 2048 (``read_ahead_kb`` 8192 on the root disk) and maximum
order 9 (``MAX_PAGECACHE_ORDER`` = PMD order on x86-64), a 128 MiB file gets 2048 order-0
pages, then 2048 pages each of order 2, 4, 6 and 8, then order-9 folios: exactly what
``scripts/folio_sizes.py`` reads from ``/proc/kpageflags`` (docs/eras/current.md).

Sizes are in pages, orders are log2 pages. Every function returns the number of pages it
added to ``file.pages``.
"""

from __future__ import annotations

from maple.mm.vma import File

__all__ = ["MMAP_LOTSAMISS", "sync_mmap_readahead", "async_mmap_readahead", "next_ra_size"]

#: ``MMAP_LOTSAMISS``: more misses than this and mmap faults stop reading ahead
MMAP_LOTSAMISS = 100


def next_ra_size(cur: int, max_pages: int) -> int:
    """``get_next_ra_size``: the next window after one of ``cur`` pages, at most ``max_pages``."""
    if cur < max_pages // 16:
        return 4 * cur
    if cur <= max_pages // 2:
        return 2 * cur
    return max_pages


def _limit(file: File, last: int) -> int:
    """The last page index readahead may fill: ``last`` clipped to EOF."""
    size = file.size
    if size is None:
        return last
    return min(last, ((size - 1) >> 12) if size > 0 else -1)


def _add_single(file: File, index: int) -> int:
    """``__filemap_get_folio(FGP_CREAT)`` without readahead: one order-0 folio."""
    if index in file.pages:
        return 0
    file.pages.add(index)
    return 1


def _ra_unbounded(file: File, index: int, nr_to_read: int, lookahead: int) -> int:
    """``page_cache_ra_unbounded`` (through ``do_page_cache_ra``): order-0 folios for the absent
    indices of ``[index, index + nr_to_read)`` (clipped to EOF), ``PG_readahead`` on the one
    ``nr_to_read - lookahead`` pages in."""
    last = _limit(file, index + nr_to_read - 1)
    pages = file.pages
    mark = index + nr_to_read - lookahead
    added = 0
    for i in range(index, last + 1):
        if i in pages:
            continue
        pages.add(i)
        if i == mark:
            file.ra_marks.add(i)
        added += 1
    return added


def _ra_order(file: File, max_order: int) -> int:
    """``page_cache_ra_order`` for the window in ``file``'s ra state: naturally aligned folios
    of ``ra.order`` (capped), smaller where the index is unaligned or EOF is near; on a
    collision with a cached folio (``filemap_add_folio``'s -EEXIST) the rest of the window is
    read with order-0 folios (``do_page_cache_ra``)."""
    start = file.ra_start
    size = file.ra_size
    if size <= 0:
        return 0
    limit = _limit(file, start + size - 1)
    mark = start + size - file.ra_async_size
    new_order = min(max_order, file.ra_order, size.bit_length() - 1)
    file.ra_order = new_order
    pages = file.pages
    folio_order = file.folio_order
    marks = file.ra_marks
    index = start
    added = 0
    while index <= limit:
        order = new_order
        if index & ((1 << order) - 1):
            order = (index & -index).bit_length() - 1
        while order > 0 and index + (1 << order) - 1 > limit:
            order -= 1
        n = 1 << order
        end = index + n
        if any(p in pages for p in range(index, end)):
            # -EEXIST: the regular readahead code fills the gaps
            if size > index - start:
                added += _ra_unbounded(file, index, size - (index - start), file.ra_async_size)
            return added
        pages.update(range(index, end))
        if order:
            for p in range(index, end):
                folio_order[p] = order
        if index == mark & -n:
            marks.add(index)
        added += n
        index = end
    return added


def sync_mmap_readahead(file: File, index: int, ra_pages: int, max_order: int) -> int:
    """A fault on page ``index`` found no folio: ``do_sync_mmap_readahead`` (mmap read-around;
    no ``VM_HUGEPAGE``/``VM_SEQ_READ``/``VM_RAND_READ`` in the model), then ``filemap_fault``'s
    ``__filemap_get_folio(FGP_CREAT)`` if the page is still absent. ``ra_pages``: the backing
    device's readahead window (pages); ``max_order``: the mapping's maximum folio order."""
    if not ra_pages:
        return _add_single(file, index)
    if file.mmap_miss < MMAP_LOTSAMISS * 10:
        file.mmap_miss += 1
    if file.mmap_miss > MMAP_LOTSAMISS:
        return _add_single(file, index)
    file.ra_start = max(0, index - ra_pages // 2)
    file.ra_size = ra_pages
    file.ra_async_size = ra_pages // 4
    file.ra_order = 0
    added = _ra_order(file, max_order)
    return added + _add_single(file, index)


def async_mmap_readahead(file: File, index: int, head: int, nr: int, ra_pages: int, max_order: int) -> int:
    """A fault on page ``index`` found its folio (``head``, ``nr`` pages) cached:
    ``do_async_mmap_readahead`` (one less ``mmap_miss``), and if the folio has
    ``PG_readahead``, ``page_cache_async_ra``: the next window, ramped up, its order + 2."""
    if not ra_pages:
        return 0
    if file.mmap_miss:
        file.mmap_miss -= 1
    marks = file.ra_marks
    if head not in marks:
        return 0
    marks.discard(head)  # folio_clear_readahead
    max_pages = ra_pages
    expected = (file.ra_start + file.ra_size - file.ra_async_size) & -nr
    if index == expected:
        file.ra_start += file.ra_size
        file.ra_size = max(file.ra_size, next_ra_size(file.ra_size, max_pages))
        file.ra_async_size = file.ra_size
    else:
        # a marked folio without valid readahead state: page_cache_next_miss sizes it
        pages = file.pages
        start = index + 1
        stop = index + 1 + max_pages
        while start < stop and start in pages:
            start += 1
        if start - index > max_pages:
            return 0
        file.ra_start = start
        file.ra_size = next_ra_size(start - index + ra_pages, max_pages)
        file.ra_async_size = file.ra_size
    file.ra_order += 2
    return _ra_order(file, max_order)
