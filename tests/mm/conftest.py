"""Shared fixtures for the address-space tests.

``kind`` runs a test on each VMA index: the maple tree, the legacy rbtree/list/vmacache and
the sorted-list oracle in ``oracle_index.py`` (importable because this folder is put on
``sys.path``: pytest runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from mm_helpers import KINDS, new_mm  # noqa: E402


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def mm(kind):
    """An empty address space of each kind."""
    return new_mm(kind)
