"""Suite-wide setup: make the shared helper modules in ``tests/helpers`` importable.

pytest runs with ``--import-mode=importlib``, which neither puts test folders on ``sys.path``
nor lets one test module import another. Setup that several test folders need therefore lives
in plain modules under ``tests/helpers``, imported by name:

- ``golden_runs``: run folders with fixed samples (compare, gate, plot and render tests);
- ``wis_helpers``: a syscall-recording mm proxy, the default address space and a short real
  run (the will-it-scale workload tests);
- ``cli_helpers``: run ``maplebench`` in-process and capture exit code and output.

The module names are distinct from every other test folder's helpers (``mm_helpers``,
``legacy_helpers``) so the shared ``sys.path`` cannot mix them up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HELPERS = str(Path(__file__).resolve().parent / "helpers")
if _HELPERS not in sys.path:
    sys.path.insert(0, _HELPERS)

# the helpers assert too (a run that did not complete, a CLI that did not exit): give their
# failures pytest's detailed assertion messages
pytest.register_assert_rewrite("cli_helpers", "golden_runs", "wis_helpers")
