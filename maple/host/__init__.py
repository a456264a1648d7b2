"""The ``host`` mm kind: will-it-scale testcases compiled in C and run on the running kernel.

``backend.HostPass`` is the runner's sample source for host cells; ``compiler`` finds the
system C compiler and builds the harness (``csrc/``) into a per-user cache; ``sysinfo`` holds
the host facts meta.json records and the CPU sets tasks are bound to. See docs/host.md.
"""

#: maplebench workload name -> will-it-scale testcase description (csrc/<name>.c)
TESTCASES: dict[str, str] = {
    "brk1": "brk increase/decrease of one page",
    "brk2": "brk unshared increase/decrease of one page",
    "malloc1": "malloc/free of 128MB",
    "mmap1": "Anonymous memory mmap/munmap of 128MB",
    "mmap2": "Separate file mmap/munmap of 128MB",
    "page_fault1": "Anonymous memory page fault",
    "page_fault2": "Separate file private mapping page fault",
    "page_fault3": "Separate file shared mapping page fault",
}
