"""will-it-scale ``page_fault2``: write-fault every page of a private mapping of a task's file.

tests/page_fault2.c: each task creates its own 128 MiB file once; each pass maps it
``MAP_PRIVATE`` read-write, writes every page (copy-on-write faults over page-cache pages),
counter per page, and unmaps it.
"""

from __future__ import annotations

from maple.linux import MAP_PRIVATE
from maple.workloads.page_fault1 import PageTouchLoop


class PageFault2(PageTouchLoop):
    name = "page_fault2"
    description = "Separate file private mapping page fault"
    flags = MAP_PRIVATE
    uses_file = True


WORKLOAD = PageFault2
