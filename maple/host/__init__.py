"""The ``host`` mm kind: will-it-scale testcases compiled in C and run on the running kernel.

``backend.HostPass`` is the runner's sample source for host cells; ``compiler`` finds the
system C compiler and builds the harness (``csrc/``) into a per-user cache; ``sysinfo`` holds
the host facts meta.json records and the CPU sets tasks are bound to. See docs/host.md.
"""

#: the workloads the host runs, one C testcase each (``csrc/<name>.c``); their descriptions
#: are the workload registry's (``maple.workloads``), which the C harness's ``-l`` repeats
TESTCASES: tuple[str, ...] = (
    "brk1", "brk2", "malloc1", "mmap1", "mmap2", "page_fault1", "page_fault2", "page_fault3",
)
