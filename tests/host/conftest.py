"""Fixtures for the host backend tests: one harness build per session, in a private cache."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest


@pytest.fixture(scope="session")
def host_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``XDG_CACHE_HOME`` pointed at a session folder, so tests never touch ~/.cache and the
    harness binary path is this session's own."""
    root = tmp_path_factory.mktemp("xdg-cache")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(root)
    try:
        yield root
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session")
def host_build(host_cache: Path):
    """The harness, compiled once for the session with the system compiler."""
    from maple.host import compiler

    try:
        compiler.find_compiler()
    except Exception as exc:  # CI has a compiler; a machine without one skips these tests
        pytest.skip(f"no C compiler: {exc}")
    return compiler.build()
