"""The agreement rule on constructed inputs: each Measures target, its edges, NaN and ranges."""

from __future__ import annotations

import dataclasses
import math

import pytest

from maple.reproduce.agreement import agrees, target_for
from maple.reproduce.published import load

ROWS = {r.operation: r for r in load()}


def row(op: str):
    return ROWS[op]


@pytest.mark.parametrize(
    "op, values, expected",
    [
        ("Hmean brk1-processes-2", [-30.0], True),
        ("Hmean brk1-processes-2", [-25.0], True),
        ("Hmean brk1-processes-2", [-45.0], True),
        ("Hmean brk1-processes-2", [-24.9], False),
        ("Hmean brk1-processes-2", [-45.1], False),
        ("Hmean brk1-processes-2", [10.0], False),
        ("Hmean brk1-processes", [-30.0, -40.0, -26.0], True),  # Liam's range: the same size target
        ("Hmean brk1-processes", [-30.0, -46.0], False),  # every count must agree
        ("Hmean brk1-threads-79", [20.0], True),
        ("Hmean brk1-threads-79", [250.0], True),
        ("Hmean brk1-threads-79", [19.9], False),
        ("Hmean brk1-threads-79", [260.0], False),
        ("Hmean brk1-threads-2", [-5.0], False),
        ("Hmean malloc1-threads", [-0.5, -80.0], True),  # sign only
        ("Hmean malloc1-threads", [-5.0, 0.0], False),
        ("Hmean malloc1-processes", [-24.5, 16.53], True),  # -14.50..+6.53 widened by 10
        ("Hmean malloc1-processes", [-24.6], False),
        ("Hmean malloc1-processes", [16.6], False),
        ("Hmean page_fault3-threads", [-16.46, 36.15, 0.0], True),
        ("Hmean page_fault3-threads", [-16.5], False),
        ("Amean syst-2", [-0.1], True),
        ("Amean syst-2", [-10.0], True),
        ("Amean syst-2", [0.0], False),  # syst must be worse
        ("Amean syst-2", [-10.5], False),
        ("Amean syst-2", [2.0], False),
        ("Amean elsp-64", [3.0], True),
        ("Amean elsp-64", [-3.0], True),
        ("Amean elsp-64", [0.0], True),
        ("Amean elsp-64", [-3.1], False),
        ("Amean user-2", [-0.01], True),  # published -0.08: same sign
        ("Amean user-2", [0.0], False),
        ("Amean user-16", [0.3], True),  # published +0.02
        ("Amean user-16", [-0.3], False),
        ("brk2 vs brk1", [-12.0], True),
        ("brk2 vs brk1", [-25.0, -0.5], True),  # -15..-10 widened by 10, kept negative
        ("brk2 vs brk1", [0.0], False),
        ("brk2 vs brk1", [-26.0], False),
        ("brk2 vs brk1", [5.0], False),
    ],
)
def test_targets(op: str, values: list[float], expected: bool) -> None:
    assert agrees(row(op), values) is expected


@pytest.mark.parametrize("op", list(ROWS))
def test_nan_and_nothing_never_agree(op: str) -> None:
    assert not agrees(row(op), [])
    assert not agrees(row(op), [math.nan])


def test_general_rule_for_rows_without_a_measure() -> None:
    base = row("Hmean malloc1-processes")
    one_sided = dataclasses.replace(base, workload="mmap1", published_lo=5.0, published_hi=8.0)
    t = target_for(one_sided)
    assert (t.lo, t.hi, t.sign) == (0.0, 18.0, 1)
    assert agrees(one_sided, [0.5]) and not agrees(one_sided, [0.0]) and not agrees(one_sided, [18.5])
    single = dataclasses.replace(base, workload="mmap1", published_lo=-2.0, published_hi=-2.0)
    assert agrees(single, [-90.0]) and not agrees(single, [1.0])
    zero = dataclasses.replace(single, published_lo=0.0, published_hi=0.0)
    assert agrees(zero, [0.0]) and not agrees(zero, [0.1])


def test_targets_describe_themselves() -> None:
    assert target_for(row("Hmean brk1-processes-2")).describe() == "[-45, -25] <0"
    assert target_for(row("Hmean malloc1-threads")).describe() == "<0"
    assert target_for(row("Amean elsp-2")).describe() == "[-3, +3]"
    assert target_for(row("Amean user-16")).describe() == ">0"
