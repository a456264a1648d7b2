"""Facts about the running kernel and CPUs that host cells depend on (for meta.json), and the
CPU sets tasks are bound to.

``cpu_sets`` mirrors will-it-scale's hwloc binding in core mode without hwloc: one set per core
(its hardware threads that this process may use), in core order; task ``i`` is bound to set
``i mod len(sets)``.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from maple.bench import sysinfo as bench_sysinfo

_SYS_CPU = Path("/sys/devices/system/cpu")


def _read(path: Path | str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def cpu_sets() -> list[list[int]]:
    """Allowed CPUs grouped by core (``topology/physical_package_id`` and ``core_id``), each
    group sorted, groups ordered by their first CPU; one CPU per group where sysfs has no
    topology."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = list(range(os.cpu_count() or 1))
    cores: dict[tuple[str, str] | int, list[int]] = {}
    for cpu in allowed:
        topo = _SYS_CPU / f"cpu{cpu}" / "topology"
        package, core = _read(topo / "physical_package_id"), _read(topo / "core_id")
        key: tuple[str, str] | int = (package, core) if package is not None and core is not None else cpu
        cores.setdefault(key, []).append(cpu)
    return sorted(cores.values(), key=lambda cpus: cpus[0])


def cpu_sets_arg(sets: list[list[int]]) -> str:
    """The harness's ``-b`` argument: ``"0,2:1,3"``."""
    return ":".join(",".join(str(c) for c in cpus) for cpus in sets)


def _thp() -> str | None:
    """The bracketed choice of /sys/kernel/mm/transparent_hugepage/enabled (page_fault1 counts
    pages touched, and THP changes how many of those fault)."""
    text = _read("/sys/kernel/mm/transparent_hugepage/enabled")
    if text and "[" in text:
        return text[text.index("[") + 1: text.index("]")]
    return text


def facts(build: Any | None = None) -> dict[str, Any]:
    """Host facts for meta.json: kernel release and version (``uname -r``/``-v``), CPU model,
    CPU count (usable and online), cores, page size, THP mode, ASLR setting, and the compiler
    (path, ``--version`` line, flags) when ``build`` (a ``compiler.Build``) is given."""
    uname = platform.uname()
    out: dict[str, Any] = {
        "kernel_release": uname.release,
        "kernel_version": uname.version,
        "machine": uname.machine,
        "cpu_model": bench_sysinfo.cpu_model(),
        "cpus": bench_sysinfo.cpu_count(),
        "cpus_online": os.cpu_count(),
        "cores": len(cpu_sets()),
        "page_size": os.sysconf("SC_PAGE_SIZE"),
        "transparent_hugepage": _thp(),
        "randomize_va_space": _read("/proc/sys/kernel/randomize_va_space"),
    }
    if build is not None:
        out["compiler"] = build.facts()
    return out
