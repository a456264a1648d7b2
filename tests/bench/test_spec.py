"""--procs SPEC parsing: mmtests' series and the contract's error cases."""

import subprocess

import pytest
from hypothesis import given, strategies as st

from maple.bench.spec import arithmetic, default_procs, geometric, large_stride, parse_procs
from maple.errors import InputError

SEED_SERIES = [2, 5, 8, 12, 21, 30, 48, 79, 110, 141, 172, 203, 234, 265, 296, 320]


def test_large_stride_seed_series():
    assert parse_procs("2..320") == SEED_SERIES


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("2..4", [2, 4]),  # seq 2 2 4 (END <= 8)
        ("1..8", [1, 3, 5, 7, 8]),  # END appended
        ("2..16", [2, 4, 6, 8, 12, 16]),  # 8 < END <= 32: strides 2 then 6
        ("2..32", [2, 4, 6, 8, 12, 18, 24, 30, 32]),
        ("2..33", [2, 5, 8, 12, 21, 30, 33]),  # END > 32: strides 3, 9, 31
        ("10..40", [12, 21, 30, 40]),  # values below MIN dropped; MIN itself not forced in
        ("4..4", [4]),
        ("7", [7]),
    ],
)
def test_large_stride_branches(spec, expected):
    assert parse_procs(spec) == expected


def test_geometric_and_arithmetic():
    assert parse_procs("2..320:x2") == [2, 4, 8, 16, 32, 64, 128, 256, 320]
    assert parse_procs("1..27:x3") == [1, 3, 9, 27]
    assert parse_procs("2..20:+5") == [2, 7, 12, 17, 20]
    assert parse_procs("1..4:+1") == [1, 2, 3, 4]


def test_commas_combine_sorted_unique():
    assert parse_procs("8,2..4,4, 1") == [1, 2, 4, 8]
    assert parse_procs("2..8:x2,2..8:+3") == [2, 4, 5, 8]


@pytest.mark.parametrize(
    "spec, named",
    [("0..4", "0"), ("8..2", "8..2"), ("abc", "abc"), ("x1", "x1"), ("+0", "+0"),
     ("2..8:x1", "x1"), ("2..8:+0", "+0"), ("", "''"), ("2..", "2.."), ("2,,3", "''"),
     ("-1", "-1"), ("1..5000", "5000")],
)
def test_errors_name_the_value(spec, named):
    with pytest.raises(InputError) as err:
        parse_procs(spec)
    assert named in str(err.value)
    assert "\n" not in str(err.value)


def _shell_seq(first, step, last):
    """The oracle: coreutils seq, as the mmtests macro calls it."""
    out = subprocess.run(["seq", str(first), str(step), str(last)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _oracle_large_stride(low, high):
    if high > 32:
        s = _shell_seq(low, 3, 8) + _shell_seq(12, 9, 32) + _shell_seq(48, 31, high)
    elif high > 8:
        s = _shell_seq(low, 2, 8) + _shell_seq(12, 6, high)
    else:
        s = _shell_seq(low, 2, high)
    if not s or s[-1] != high:
        s.append(high)
    return [x for x in s if x >= low]


@pytest.mark.parametrize("low, high", [(1, 1), (2, 9), (3, 50), (9, 33), (2, 640), (40, 100), (33, 34)])
def test_large_stride_matches_seq_oracle(low, high):
    assert large_stride(low, high) == _oracle_large_stride(low, high)


@given(st.integers(1, 300), st.integers(0, 300), st.integers(2, 5))
def test_series_properties(low, extra, k):
    high = low + extra
    for series in (large_stride(low, high), geometric(low, high, k), arithmetic(low, high, k)):
        assert series[-1] == high
        assert series == sorted(set(series))
        assert all(low <= n <= high for n in series)
    assert geometric(low, high, k)[0] == low
    assert arithmetic(low, high, k)[0] == low


def test_default_procs_is_mmtests_two_to_twice_cpus():
    assert default_procs(2) == "2..4"
    assert default_procs(160) == "2..320"
    assert default_procs(1) == "2..2"


# issue 12: `--procs 1..200000000:+1` took 66 s and 20 GB before it was refused
@pytest.mark.parametrize("spec, named", [
    ("1..200000000:+1", "200000000 tasks in '1..200000000:+1' is more than 2048"),
    ("2..4,1..99999999", "99999999 tasks in '1..99999999'"),
    ("2049", "2049 tasks"),
    ("1..2049:x2", "2049 tasks"),
    ("1.." + "9" * 5000, "tasks in '1..999"),  # longer than int() converts: still one short line
])
def test_bounds_are_checked_before_the_series_is_built(spec, named):
    with pytest.raises(InputError) as exc:  # refused from the bounds, never enumerated
        parse_procs(spec)
    assert named in str(exc.value) and len(str(exc.value)) < 250


def test_huge_steps_and_factors_only_give_the_ends():
    assert parse_procs("2..8:+" + "9" * 5000) == [2, 8]
    assert parse_procs("2..8:x" + "9" * 40) == [2, 8]
    assert parse_procs("2048") == [2048]
