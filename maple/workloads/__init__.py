"""The workload registry: will-it-scale testcases and kernbench-style trace replays.

Convention: each workload lives in its own module ``maple.workloads.<name>`` and defines
``WORKLOAD``, its class (a ``LoopWorkload`` or ``TimedWorkload`` subclass from
``maple.workloads.base``). ``get(name, **params)`` imports the module on first use and returns
``WORKLOAD(**params)``; ``params`` come from the command line (``trace=PATH`` for ``trace``
and ``kernbench``). Loop workloads ignore params.

===========  ======  ============================================  =================
name         kind    will-it-scale description                     one op is
===========  ======  ============================================  =================
brk1         loop    brk increase/decrease of one page             a brk call
brk2         loop    brk unshared increase/decrease of one page    a brk call
malloc1      loop    malloc/free of 128MB                          a malloc/free pair
mmap1        loop    Anonymous memory mmap/munmap of 128MB         an mmap/munmap pair
mmap2        loop    Separate file mmap/munmap of 128MB            an mmap/munmap pair
page_fault1  loop    Anonymous memory page fault                   a page touched
page_fault2  loop    Separate file private mapping page fault      a page touched
page_fault3  loop    Separate file shared mapping page fault       a page touched
kernbench    timed   (trace replay of a parallel compile)          seconds
trace        timed   (replay of a user's trace, ``--trace FILE``)  seconds
===========  ======  ============================================  =================
"""

from __future__ import annotations

import importlib
from typing import Any

from maple.errors import InputError
from maple.workloads.base import LoopWorkload, TimedWorkload, Workload

__all__ = ["names", "get", "workload_class", "Workload", "LoopWorkload", "TimedWorkload"]

_NAMES = (
    "brk1",
    "brk2",
    "malloc1",
    "mmap1",
    "mmap2",
    "page_fault1",
    "page_fault2",
    "page_fault3",
    "kernbench",
    "trace",
)


def names() -> list[str]:
    """Registered workload names, will-it-scale testcases first."""
    return list(_NAMES)


def workload_class(name: str) -> type[Workload]:
    """The ``WORKLOAD`` class of ``name``; ``InputError`` naming it if unknown."""
    if name not in _NAMES:
        raise InputError(f"unknown workload '{name}' (known: {', '.join(_NAMES)})")
    try:
        module = importlib.import_module(f"maple.workloads.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"maple.workloads.{name}":
            raise InputError(f"workload '{name}' is not installed") from None
        raise
    return module.WORKLOAD


def get(name: str, **params: Any) -> Workload:
    """A ready workload instance: ``WORKLOAD(**params)`` of module ``name``."""
    return workload_class(name)(**params)
