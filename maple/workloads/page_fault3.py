"""will-it-scale ``page_fault3``: write-fault every page of a shared mapping of a task's file.

tests/page_fault3.c: as page_fault2 but ``MAP_SHARED``: the writes dirty the file's page
cache, which survives the munmap because the file stays open, so from the second pass on
every fault finds its page already cached. In threads mode the files are still per task but
all the mmap/munmap calls contend on the one shared mm.
"""

from __future__ import annotations

from maple.linux import MAP_SHARED
from maple.workloads.page_fault1 import PageTouchLoop


class PageFault3(PageTouchLoop):
    name = "page_fault3"
    description = "Separate file shared mapping page fault"
    flags = MAP_SHARED
    uses_file = True


WORKLOAD = PageFault3
