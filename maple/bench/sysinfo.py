"""What the machine and interpreter are, for a run's meta.json (cheap: nothing heavy imported)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

_PACKAGES = ("maplebench", "numpy", "pandas", "scipy", "click", "rich")


def cpu_count() -> int:
    """CPUs this process may run on (affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_model() -> str:
    """``model name`` from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "cpu model", "Processor"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gil_enabled() -> bool:
    """False only on a free-threaded CPython running with the GIL off (PEP 703)."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


def versions() -> dict[str, str]:
    """Installed versions of maplebench and its main dependencies (metadata, no imports)."""
    out = {"python": platform.python_version(), "implementation": platform.python_implementation()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def machine() -> dict[str, Any]:
    """CPU count and model, OS and kernel release, total memory."""
    info: dict[str, Any] = {
        "cpus": cpu_count(),
        "cpus_online": os.cpu_count(),
        "cpu_model": cpu_model(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "hostname": platform.node(),
    }
    try:
        info["memory_bytes"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    return info
