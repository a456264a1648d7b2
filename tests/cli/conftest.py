"""Fixtures shared by the ``maplebench`` command-line tests."""

from __future__ import annotations

from pathlib import Path

import golden_runs
import pytest


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """The reference baseline and patched run folders (brk1 -33.74 %, kernbench, malloc1)."""
    return golden_runs.reference_pair(tmp_path)
