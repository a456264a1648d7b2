"""mmtests' statistics, percentages and significance rules against hand-computed values."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from maple.bench import stats as S

X = [1.0, 2.0, 4.0]


def test_means_and_spread_by_hand():
    assert S.amean(X) == pytest.approx(7 / 3)
    assert S.hmean(X) == pytest.approx(3 / (1 + 0.5 + 0.25))  # 12/7
    assert S.gmean(X) == pytest.approx(2.0)
    assert S.stddev(X) == pytest.approx(math.sqrt(7 / 3))  # sum of squares 42/9 over n-1 = 2
    # HStddev = sqrt(H^4 * sum((1/x - 1/H)^2) / n) with H = 12/7, 1/x - 7/12 = 5/12, -1/12, -4/12
    h = Fraction(12, 7)
    var = h**4 * (Fraction(25 + 1 + 16, 144)) / 3
    assert S.hstddev(X) == pytest.approx(math.sqrt(var))
    assert S.coeffvar(X) == pytest.approx(100 * math.sqrt(7 / 3) / (7 / 3))
    assert S.hcoeffvar(X) == pytest.approx(100 * math.sqrt(var) / (12 / 7))
    assert S.sample_min(X) == 1.0 and S.sample_max(X) == 4.0


def test_kernbench_reference_numbers():
    base, new = [885.10, 885.40, 885.52], [886.00, 886.12, 886.09]
    assert f"{S.amean(base):.2f}" == "885.34" and f"{S.amean(new):.2f}" == "886.07"
    assert f"{S.stddev(base):.2f}" == "0.22" and f"{S.stddev(new):.2f}" == "0.06"
    assert f"{S.pndiff(S.amean(new), S.amean(base)):.2f}" == "-0.08"
    assert f"{S.pndiff(S.stddev(new), S.stddev(base)):.2f}" == "71.13"
    # the reference's CI-era "Significant" bracket for this row was -1.34
    assert f"{S.ci_overlap(base, new, False).score:.2f}" == "-1.34"
    assert S.ttest(base, new, False).significant


def test_hmean_undefined_cases_are_nan():
    assert math.isnan(S.hmean([5.0, 0.0, 3.0]))
    assert math.isnan(S.hmean([5.0, -1.0]))
    assert math.isnan(S.hmean([]))
    assert math.isnan(S.hstddev([5.0, 0.0]))
    assert S.hcoeffvar([5.0, 0.0]) == 0.0  # a NaN mean gives 0, as in mmtests
    assert math.isnan(S.amean([]))
    assert math.isnan(S.stddev([3.0]))  # n <= 1
    assert S.coeffvar([3.0]) == 0.0  # NaN stddev counts as 0
    assert S.coeffvar([-1.0, 1.0]) == 0.0  # zero mean gives 0
    assert S.hmean([2.0, float("nan"), 2.0]) == 2.0  # NaN samples are not samples


def test_best_percent_counts():
    assert S.best_count(15, 95) == 14 and S.best_count(15, 99) == 14 and S.best_count(15, 50) == 7
    assert S.best_count(3, 50) == 1 and S.best_count(3, 95) == 2 and S.best_count(1, 10) == 1
    data = list(range(1, 16))  # 1..15, higher is better: the best 14 drop the 1
    assert S.best_mean(data, 95, True, harmonic=True) == pytest.approx(14 / sum(1 / v for v in range(2, 16)))
    assert S.statistic("BHmean-95")(data, True) == S.statistic("BHmean-99")(data, True)
    assert S.statistic("BHmean-50")(data, True) == pytest.approx(7 / sum(1 / v for v in range(9, 16)))
    times = [885.52, 885.10, 885.40]  # lower is better: best first is ascending
    assert S.statistic("BAmean-50")(times, False) == 885.10
    assert S.statistic("BAmean-95")(times, False) == pytest.approx((885.10 + 885.40) / 2)


def test_hmean_of_zero_sample_in_best_rows():
    data = [0.0] + [10.0] * 14  # the zero is the worst sample: BHmean-95 leaves it out
    assert math.isnan(S.hmean(data))
    assert S.statistic("BHmean-95")(data, True) == pytest.approx(10.0)


def test_percentile_is_position_in_best_first_data():
    data = list(range(1, 11))
    assert S.percentile(data, 90, True) == 2  # position 9 of 10..1
    assert S.percentile(data, 90, False) == 9
    assert S.percentile(data, 1, True) == 10  # at least position 1
    assert S.statistic("percentile-50")(data, True) == 6
    # mmtests titles the percentile rows: quartiles by name, the rest Max-P
    assert S.statistic("percentile-50").name == "2nd-qrtle" == S.statistic("2nd-qrtle").name
    assert S.statistic("percentile-90").name == "Max-90"
    assert S.statistic("Max-90")(data, True) == 2 and S.statistic("1st-qrtle")(data, False) == 2
    assert S.statistic("BHmean-95.0").name == "BHmean-95"


@pytest.mark.parametrize(
    "new,base,pd,pnd",
    [
        (110.0, 100.0, 10.0, -10.0),
        (90.0, 100.0, -10.0, 10.0),
        (5.0, 5.0, 0.0, 0.0),
        (0.0, 100.0, 0.0, 100.0),  # pdiff: new == 0 gives 0; pndiff: new == 0 gives 100
        (7.0, 0.0, 100.0, -99.0),  # base == 0
        (7.0, float("nan"), 100.0, float("nan")),  # NaN baseline (a zero sample in it)
    ],
)
def test_pdiff_pndiff_edges(new, base, pd, pnd):
    assert S.pdiff(new, base) == pytest.approx(pd, nan_ok=True)
    assert S.pndiff(new, base) == pytest.approx(pnd, nan_ok=True)


def test_reference_throughput_percentages():
    assert f"{S.pdiff(3489097.63, 5265361.84):.2f}" == "-33.73"
    assert f"{S.pndiff(886.07, 885.34):.2f}" == "-0.08"


def test_statistic_directions_and_names():
    assert S.statistic("Stddev").percent(2.0, 1.0, True) == -100.0  # more spread is worse
    assert S.statistic("HStddev").percent(1.0, 2.0, True) == 50.0
    assert S.statistic("Hmean").percent(2.0, 1.0, True) == 100.0
    assert S.statistic("Amean").percent(2.0, 1.0, False) == -100.0
    for bad in ("Median", "BHmean-0", "BHmean-101", "percentile-x", ""):
        with pytest.raises(ValueError, match="unknown statistic"):
            S.statistic(bad)


def test_era_rows():
    assert S.era_rows("ttest", True) == ["Min", "Hmean", "Stddev", "CoeffVar", "Max",
                                         "BHmean-50", "BHmean-95", "BHmean-99"]
    assert S.era_rows("ci", True)[2:4] == ["HStddev", "HCoeffVar"]
    assert S.era_rows("ci", False) == ["Min", "Amean", "Stddev", "CoeffVar", "Max",
                                       "BAmean-50", "BAmean-95", "BAmean-99"]
    assert S.era_rows("welch", True) == S.era_rows("ttest", True)
    with pytest.raises(ValueError, match="significance rule 'z'"):
        S.era_rows("z", True)


def _cov2_samples(change: float) -> tuple[np.ndarray, np.ndarray]:
    """n = 15, CoV about 2 %, the baseline around 100000 and the other ``change`` better."""
    z = sps.norm.ppf((np.arange(15) + 0.5) / 15)
    z = (z - z.mean()) / z.std(ddof=1)
    perm = [7, 2, 12, 0, 9, 4, 14, 1, 11, 5, 13, 3, 8, 6, 10]
    return 100000 * (1 + 0.02 * z), 100000 * (1 + change) * (1 + 0.02 * z[perm])


def test_rules_disagree_as_in_the_reference():
    base, new = _cov2_samples(0.010)  # +1.0 %: nobody stars it
    assert not S.ttest(base, new, True).significant
    assert not S.ci_overlap(base, new, True).significant
    base, new = _cov2_samples(0.015)  # +1.5 %: the t-test stars it, the CI rule does not
    t, ci, w = S.ttest(base, new, True), S.ci_overlap(base, new, True), S.welch(base, new, True)
    assert t.significant and 0.04 < t.score < 0.10
    assert not ci.significant and -0.3 < ci.score < -0.1
    assert not w.significant and 0.05 <= w.score < 0.06  # Welch's 5 % level is stricter
    base, new = _cov2_samples(0.08)  # +8 %: starred by all
    assert S.ttest(base, new, True).significant
    ci = S.ci_overlap(base, new, True)
    assert ci.significant and ci.score < -1.0
    assert S.welch(base, new, True).significant
    assert S.significance("ci", base, new, True) == ci


def test_ttest_zero_standard_error():
    assert S.ttest([5.0, 5.0, 5.0], [6.0, 6.0, 6.0], True).significant
    assert not S.ttest([5.0, 5.0, 5.0], [5.0, 5.0, 5.0], True).significant
    assert S.welch([5.0, 5.0], [6.0, 6.0], True).significant  # scipy says NaN: fall back
    assert not S.ttest([5.0, 0.0], [5.0, 6.0], True).significant  # NaN Hmean: no verdict


def test_ci_rule_uses_sigma_not_standard_error():
    base, new = _cov2_samples(0.015)
    wide = np.concatenate([base] * 4), np.concatenate([new] * 4)
    assert S.ci_overlap(*wide, True).significant is False  # n does not enter the CI rule
    assert S.ttest(*wide, True).score < S.ttest(base, new, True).score


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(1.0, 1e6), min_size=2, max_size=12),
    st.lists(st.floats(1.0, 1e6), min_size=2, max_size=12),
)
def test_ttest_matches_student_for_equal_n_arithmetic_means(a, b):
    """Equal n and the arithmetic mean: mmtests' SE and df are Student's pooled t-test."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    if any(np.ptp(v) < 1e-6 * max(v) for v in (a, b)):
        return  # (nearly) no spread: scipy loses precision; the SE == 0 case is tested above
    ours = S.ttest(a, b, False).score
    ref = sps.ttest_ind(a, b, equal_var=True).pvalue
    assert ours == pytest.approx(ref, rel=1e-6, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(1e-3, 1e9), min_size=1, max_size=40))
def test_mean_inequality_and_best_rows(x):
    h, g, a = S.hmean(x), S.gmean(x), S.amean(x)
    assert h <= g * (1 + 1e-9) and g <= a * (1 + 1e-9)
    assert S.best_mean(x, 100, True, harmonic=True) == pytest.approx(h)
    assert S.best_mean(x, 50, True, harmonic=True) >= h * (1 - 1e-9)  # the best half is no worse
    assert S.best_mean(x, 50, False, harmonic=False) <= a * (1 + 1e-9)


@given(st.floats(1.0, 1e6), st.floats(1.0, 1e6))
def test_positive_percentage_always_means_better(new, base):
    if new > base:
        assert S.pdiff(new, base) > 0 and S.pndiff(new, base) < 0
    elif new < base:
        assert S.pdiff(new, base) < 0 and S.pndiff(new, base) > 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 10**7), min_size=2, max_size=30), st.sampled_from([50, 95, 99]))
def test_against_the_statistics_module(x, pct):
    """Differential: numpy versions against Python's ``statistics`` and a plain-loop HStddev."""
    import statistics

    assert S.amean(x) == pytest.approx(statistics.fmean(x))
    assert S.hmean(x) == pytest.approx(statistics.harmonic_mean(x))
    assert S.gmean(x) == pytest.approx(statistics.geometric_mean(x))
    assert S.stddev(x) == pytest.approx(statistics.stdev(x), rel=1e-6, abs=1e-9)
    h = len(x) / sum(1 / v for v in x)
    oracle = math.sqrt(h**4 * sum((1 / v - 1 / h) ** 2 for v in x) / len(x))
    assert S.hstddev(x) == pytest.approx(oracle, rel=1e-6, abs=1e-9)
    best = sorted(x, reverse=True)[: max(1, len(x) * pct // 100)]
    assert S.statistic(f"BHmean-{pct}")(x, True) == pytest.approx(statistics.harmonic_mean(best))
    lowest = sorted(x)[: max(1, len(x) * pct // 100)]  # best first when lower is better
    assert S.statistic(f"BAmean-{pct}")(x, False) == pytest.approx(statistics.fmean(lowest))
