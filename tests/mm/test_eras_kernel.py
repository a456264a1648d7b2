"""The ``current`` era against the running kernel (this host: Linux 6.18), with the same
random MAP_FIXED traces as tests/mm/test_real_kernel.py: the era's own rules, no override."""

from __future__ import annotations

import random

import pytest

from test_real_kernel import first_mismatch, pytestmark, random_ops, run_child, simulate  # noqa: F401

from maple.mm import make_mm


@pytest.mark.parametrize("seed", range(4))
def test_current_era_matches_the_running_kernel(seed):
    rules = make_mm("current").rules
    ops = random_ops(random.Random(1000 + seed), 60)
    real = run_child(ops)
    mismatch = first_mismatch(ops, real["steps"], simulate("current", real["base"], ops, rules))
    assert mismatch is None, mismatch[1]
