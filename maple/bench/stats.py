"""mmtests' summary statistics, percentage differences and significance rules.

Everything here mirrors ``bin/lib/MMTests/Stat.pm``, ``Summarise.pm`` and ``Compare.pm`` of
gormanm/mmtests (facts in the project's reference notes, sections 2.3 to 2.6), written afresh
with numpy and scipy:

* A metric is either *higher is better* (throughput: the headline mean is the harmonic mean,
  ``Hmean``) or *lower is better* (times: the arithmetic mean, ``Amean``).
* Before any statistic the samples are sorted best-first (descending when higher is better),
  so ``BHmean-95`` is the harmonic mean of the best 95 %.
* ``pdiff`` / ``pndiff`` are signed so that a positive percentage always means *better*.
* Three significance rules decide which headline-mean cells get asterisks: ``ttest`` (the
  mmtests rule of 2018-2024, the default), ``ci`` (mmtests since 2024-11-28: non-overlapping
  ``mean +- 1.96 sigma`` intervals) and ``welch`` (a real Welch t-test, not an mmtests rule).

Undefined results are ``nan`` (mmtests' "NaN"), never an exception: an empty sample set, a
harmonic mean over a non-positive sample, a standard deviation of one sample.
"""

from __future__ import annotations

import math
import warnings
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

NAN = float("nan")

#: ``qnorm(0.975)``: half-width factor of mmtests' confidence interval (``_calc_meanci``).
CI_Z = 1.959963984540054

#: The significance rules ``--significance`` accepts, default first.
SIGNIFICANCE_RULES = ("ttest", "ci", "welch")

#: mmtests' ``_SignificanceLevel`` for the t-test era, and the conventional Welch level.
TTEST_LEVEL = 0.10
WELCH_LEVEL = 0.05


def as_samples(values: Iterable[float]) -> np.ndarray:
    """The defined (non-NaN) samples as a float array, as mmtests counts "n"."""
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    return arr[~np.isnan(arr)]


# --------------------------------------------------------------------------- means and spread


def amean(x: Sequence[float]) -> float:
    """Arithmetic mean; NaN for no samples (Stat.pm ``calc_amean``)."""
    a = as_samples(x)
    return float(a.sum() / a.size) if a.size else NAN


def hmean(x: Sequence[float]) -> float:
    """Harmonic mean ``n / sum(1/x)``; NaN if empty or if any sample is <= 0 (``calc_hmean``)."""
    a = as_samples(x)
    if not a.size or (a <= 0).any():
        return NAN
    return float(a.size / np.sum(1.0 / a))


def gmean(x: Sequence[float]) -> float:
    """Geometric mean ``(prod x)^(1/n)``, computed in log space; NaN if empty or any x < 0."""
    a = as_samples(x)
    if not a.size or (a < 0).any():
        return NAN
    if (a == 0).any():
        return 0.0
    return float(np.exp(np.mean(np.log(a))))


def stddev(x: Sequence[float]) -> float:
    """Sample standard deviation around the arithmetic mean (n - 1); NaN if n <= 1."""
    a = as_samples(x)
    if a.size <= 1:
        return NAN
    return float(np.std(a, ddof=1))


def hstddev(x: Sequence[float]) -> float:
    """Delta-method spread of the harmonic mean: ``sqrt(H^4 * sum((1/x - 1/H)^2) / n)``.

    mmtests' ``calc_hstddev`` (since 8a0e63a2); NaN whenever the Hmean is NaN.
    """
    a = as_samples(x)
    h = hmean(a)
    if math.isnan(h):
        return NAN
    dev = 1.0 / a - 1.0 / h
    return float(math.sqrt(h**4 * float(np.sum(dev * dev)) / a.size))


def _coeffvar(spread: float, mean: float) -> float:
    if math.isnan(spread):
        spread = 0.0
    if math.isnan(mean) or mean == 0:
        return 0.0
    return 100.0 * spread / mean


def coeffvar(x: Sequence[float]) -> float:
    """``100 * Stddev / Amean`` in percent; a NaN stddev counts as 0, a 0/NaN mean gives 0."""
    return _coeffvar(stddev(x), amean(x))


def hcoeffvar(x: Sequence[float]) -> float:
    """``100 * HStddev / Hmean`` in percent, with coeffvar's edge cases."""
    return _coeffvar(hstddev(x), hmean(x))


def best_first(x: Sequence[float], higher_is_better: bool) -> np.ndarray:
    """The samples sorted best-first: descending when higher is better, else ascending."""
    a = np.sort(as_samples(x))
    return a[::-1] if higher_is_better else a


def best_count(n: int, percent: float) -> int:
    """How many samples "best P %" keeps: ``max(1, floor(n * P / 100))``."""
    return max(1, int(math.floor(n * percent / 100.0 + 1e-9)))


def best_mean(x: Sequence[float], percent: float, higher_is_better: bool, *, harmonic: bool) -> float:
    """``BHmean-P`` (harmonic) or ``BAmean-P`` (arithmetic) over the best P % of the samples."""
    a = best_first(x, higher_is_better)
    if not a.size:
        return NAN
    best = a[: best_count(a.size, percent)]
    return hmean(best) if harmonic else amean(best)


def percentile(x: Sequence[float], percent: float, higher_is_better: bool) -> float:
    """mmtests' ``percentile-P``: element ``max(1, floor(n*P/100))`` (1-based) of best-first data.

    For higher-is-better data this is the (100 - P)th percentile in the usual sense.
    """
    a = best_first(x, higher_is_better)
    if not a.size:
        return NAN
    return float(a[best_count(a.size, percent) - 1])


def sample_min(x: Sequence[float]) -> float:
    """The numerically smallest sample, whatever the direction."""
    a = as_samples(x)
    return float(a.min()) if a.size else NAN


def sample_max(x: Sequence[float]) -> float:
    """The numerically largest sample, whatever the direction."""
    a = as_samples(x)
    return float(a.max()) if a.size else NAN


# --------------------------------------------------------------------------- percentages


def pdiff(new: float, base: float) -> float:
    """Percent change where higher is better: ``new*100/base - 100`` (Stat.pm ``pdiff``).

    0 if equal or ``new == 0``; 100 if ``base`` is 0 or NaN; otherwise NaN if ``new`` is NaN.
    """
    if new == base or new == 0:
        return 0.0
    if base == 0 or math.isnan(base):
        return 100.0
    return new * 100.0 / base - 100.0


def pndiff(new: float, base: float) -> float:
    """Percent change where lower is better: ``100 - new*100/base`` (Stat.pm ``pndiff``).

    0 if equal; 100 if ``new == 0``; -99 if ``base == 0``; NaN if either is NaN.
    """
    if new == base:
        return 0.0
    if new == 0:
        return 100.0
    if base == 0:
        return -99.0
    return 100.0 - new * 100.0 / base


# --------------------------------------------------------------------------- statistic names


@dataclass(frozen=True, slots=True)
class Statistic:
    """A named summary statistic: how to compute it and which way its percentage points.

    ``spread`` statistics (Stddev, CoeffVar and their H- forms) always use ``pndiff``: less
    spread is better. The rest use ``pdiff`` when the metric is higher-is-better, else
    ``pndiff`` (Summarise.pm ``getStatCompareFunc``).
    """

    name: str
    compute: Callable[[np.ndarray, bool], float]
    spread: bool = False
    harmonic: bool = False  # an Hmean (or BHmean-P) when higher is better: -1 era semantics

    def __call__(self, samples: Sequence[float], higher_is_better: bool) -> float:
        return self.compute(as_samples(samples), higher_is_better)

    def percent(self, new: float, base: float, higher_is_better: bool) -> float:
        """The percentage column for this statistic (positive is better)."""
        if self.spread or not higher_is_better:
            return pndiff(new, base)
        return pdiff(new, base)


_FIXED: dict[str, Statistic] = {
    s.name: s
    for s in (
        Statistic("Min", lambda a, h: sample_min(a)),
        Statistic("Max", lambda a, h: sample_max(a)),
        Statistic("Amean", lambda a, h: amean(a)),
        Statistic("Hmean", lambda a, h: hmean(a), harmonic=True),
        Statistic("Gmean", lambda a, h: gmean(a)),
        Statistic("Stddev", lambda a, h: stddev(a), spread=True),
        Statistic("HStddev", lambda a, h: hstddev(a), spread=True),
        Statistic("CoeffVar", lambda a, h: coeffvar(a), spread=True),
        Statistic("HCoeffVar", lambda a, h: hcoeffvar(a), spread=True),
    )
}
_PARAMETRIC = re.compile(r"^(BHmean|BAmean|percentile|Max)-(\d+(?:\.\d+)?)$")
#: mmtests' titles for percentile rows (Stat.pm ``stat_names``): quartiles, else ``Max-P``.
_QUARTILES = {25.0: "1st-qrtle", 50.0: "2nd-qrtle", 75.0: "3rd-qrtle"}
_QUARTILE_NAMES = {v: k for k, v in _QUARTILES.items()}


def statistic(name: str) -> Statistic:
    """Look a statistic up by its mmtests row name (``Hmean``, ``BHmean-95``, ``Max-90``).

    Percentile rows may be named ``percentile-P`` (mmtests' internal name) or by their title
    (``Max-P``, ``1st-qrtle``, ``2nd-qrtle``, ``3rd-qrtle``); the returned statistic carries
    the title. Raises ``ValueError`` naming the bad value.
    """
    stat = _FIXED.get(name)
    if stat is not None:
        return stat
    if name in _QUARTILE_NAMES:
        kind, pct = "percentile", _QUARTILE_NAMES[name]
    else:
        m = _PARAMETRIC.match(name)
        if m is None or not 0 < float(m.group(2)) <= 100:
            known = ", ".join([*_FIXED, "BHmean-P", "BAmean-P", "Max-P (percentile-P)",
                               *_QUARTILE_NAMES])
            raise ValueError(f"unknown statistic '{name}' (known: {known}; P in 1..100)")
        kind, pct = m.group(1), float(m.group(2))
    if kind in ("percentile", "Max"):
        title = _QUARTILES.get(pct, f"Max-{pct:g}")
        return Statistic(title, lambda a, h: percentile(a, pct, h))
    harmonic = kind == "BHmean"
    return Statistic(f"{kind}-{pct:g}", lambda a, h: best_mean(a, pct, h, harmonic=harmonic),
                     harmonic=harmonic)


def hmean_2018(x: Sequence[float]) -> float:
    """The harmonic mean as mmtests computed it before 7fe7def7 (2024-11-28): **-1** if any
    sample is <= 0, NaN if there are none (Stat.pm ``calc_hmean`` of the t-test era)."""
    a = as_samples(x)
    if (a <= 0).any():
        return -1.0
    return hmean(a)


def era_invalid(stat: Statistic, samples: Sequence[float], value: float) -> bool:
    """True where the t-test era's Stat.pm returned -1: a harmonic mean over a sample <= 0.

    (Here such a value is NaN in every era; before 7fe7def7 it was -1, which Compare.pm treats
    differently from NaN when it is the baseline's: the whole row prints 0.00.)
    """
    return stat.harmonic and math.isnan(value) and bool((as_samples(samples) <= 0).any())


def headline_mean(higher_is_better: bool) -> str:
    """The row that carries the stars: ``Hmean`` for throughput, ``Amean`` for times."""
    return "Hmean" if higher_is_better else "Amean"


def era_rows(rule: str, higher_is_better: bool) -> list[str]:
    """mmtests' Multiops rows, in order, for the era whose significance rule is ``rule``.

    ``ttest`` (and ``welch``, a t-test too) use the 2018-2024 rows, where the spread rows are the
    sample Stddev/CoeffVar; ``ci`` uses the 2024-11-28 rows, where higher-is-better tables show
    the delta-method HStddev/HCoeffVar that the CI rule itself uses.
    """
    check_rule(rule)
    b = "BHmean" if higher_is_better else "BAmean"
    spread, cov = "Stddev", "CoeffVar"
    if rule == "ci" and higher_is_better:
        spread, cov = "HStddev", "HCoeffVar"
    return ["Min", headline_mean(higher_is_better), spread, cov, "Max", f"{b}-50", f"{b}-95", f"{b}-99"]


# --------------------------------------------------------------------------- significance


def check_rule(rule: str) -> str:
    if rule not in SIGNIFICANCE_RULES:
        raise ValueError(f"unknown significance rule '{rule}' (choose {', '.join(SIGNIFICANCE_RULES)})")
    return rule


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a headline-mean difference is significant, and the number behind the decision.

    ``score`` is the two-sided p-value for ``ttest`` and ``welch``, and mmtests' normalised
    ``cidiff`` ratio (``(m_base - m_new) / (q_base + q_new)``) for ``ci``; NaN when undefined.
    """

    significant: bool
    score: float


def _nan0(v: float) -> float:
    return 0.0 if math.isnan(v) else v


def exact_verdict(base: Sequence[float], new: Sequence[float], higher_is_better: bool) -> Verdict | None:
    """Zero-variance cells (the model clock's deterministic samples): when every sample of
    both sides is the same value, the difference is exact, not an estimate. Any nonzero
    difference is then significant under every rule (score 0.0), no difference is not (score
    1.0). None when either side varies (the rule's own test applies)."""
    b, n = as_samples(base), as_samples(new)
    if b.size == 0 or n.size == 0 or np.ptp(b) != 0 or np.ptp(n) != 0:
        return None
    mean = hmean if higher_is_better else amean
    mb, mn = mean(b), mean(n)
    if math.isnan(mb) or math.isnan(mn):
        return None
    return Verdict(bool(mb != mn), 0.0 if mb != mn else 1.0)


def ttest(base: Sequence[float], new: Sequence[float], higher_is_better: bool) -> Verdict:
    """mmtests 2018-2024 (``Compare::_significanceTest``): headline means, arithmetic stddevs.

    The headline Hmean is that era's (:func:`hmean_2018`): -1 when a sample is <= 0, so a
    stalled interval in one column makes the difference "significant" (-1 against a mean).

    ``SE = sqrt(s_b^2/n_b + s_n^2/n_n)``, ``t = |m_b - m_n| / SE``, ``df = n_b + n_n - 2``,
    two-sided p; significant when ``p < 0.10``. ``SE == 0``: significant iff the means differ.
    """
    from scipy import stats as sps

    b, n = as_samples(base), as_samples(new)
    mean = hmean_2018 if higher_is_better else amean  # that era's Hmean: -1 over a sample <= 0
    mb, mn = mean(b), mean(n)
    if math.isnan(mb) or math.isnan(mn):
        return Verdict(False, NAN)
    sb, sn = _nan0(stddev(b)), _nan0(stddev(n))
    se = math.sqrt(sb * sb / b.size + sn * sn / n.size)
    if se == 0:
        return Verdict(mb != mn, 0.0 if mb != mn else 1.0)
    df = b.size + n.size - 2
    t = abs(mb - mn) / se
    p = 2.0 * float(sps.t.sf(t, df)) if df > 0 else NAN
    if math.isnan(p):  # one sample each: no degrees of freedom left, as if R returned nothing
        return Verdict(mb != mn, NAN)
    return Verdict(p < TTEST_LEVEL, p)


def ci_half_width(samples: Sequence[float], higher_is_better: bool) -> float:
    """``q = 1.96 * sigma`` with sigma the HStddev (Hmean rows) or Stddev (Amean rows)."""
    sigma = hstddev(samples) if higher_is_better else stddev(samples)
    return CI_Z * _nan0(sigma)


def ci_overlap(base: Sequence[float], new: Sequence[float], higher_is_better: bool) -> Verdict:
    """mmtests since 8cd087ae (``cidiff``): significant when ``|m_b - m_n| > 1.96 (s_b + s_n)``.

    The intervals use sigma itself, not the standard error, so n does not enter the rule.
    """
    mean = hmean if higher_is_better else amean
    mb, mn = mean(base), mean(new)
    if math.isnan(mb) or math.isnan(mn):
        return Verdict(False, NAN)
    denom = ci_half_width(base, higher_is_better) + ci_half_width(new, higher_is_better)
    diff = mb - mn
    ratio = diff / denom if denom else diff
    return Verdict(abs(ratio) > 1.0, ratio)


def welch(base: Sequence[float], new: Sequence[float], higher_is_better: bool) -> Verdict:
    """Welch's unequal-variance t-test on the samples (``scipy.stats.ttest_ind``), p < 0.05.

    Undefined cases (fewer than two samples, both without spread) fall back to "significant
    iff the headline means differ", as mmtests does when the standard error is 0.
    """
    from scipy import stats as sps

    b, n = as_samples(base), as_samples(new)
    mean = hmean if higher_is_better else amean
    mb, mn = mean(b), mean(n)
    if math.isnan(mb) or math.isnan(mn):
        return Verdict(False, NAN)
    if b.size >= 2 and n.size >= 2 and (np.ptp(b) > 0 or np.ptp(n) > 0):
        with warnings.catch_warnings():  # nearly identical samples: scipy warns of precision
            warnings.simplefilter("ignore", RuntimeWarning)  # loss; the p-value still decides
            p = float(sps.ttest_ind(b, n, equal_var=False).pvalue)
        if not math.isnan(p):
            return Verdict(p < WELCH_LEVEL, p)
    return Verdict(mb != mn, NAN)


_RULES: dict[str, Callable[[Sequence[float], Sequence[float], bool], Verdict]] = {
    "ttest": ttest,
    "ci": ci_overlap,
    "welch": welch,
}


def significance(rule: str, base: Sequence[float], new: Sequence[float], higher_is_better: bool) -> Verdict:
    """Apply the named rule (``ttest``, ``ci`` or ``welch``) to two sample sets; two
    zero-variance sets are decided exactly first (``exact_verdict``)."""
    fn = _RULES[check_rule(rule)]
    exact = exact_verdict(base, new, higher_is_better)
    if exact is not None:
        return exact
    return fn(base, new, higher_is_better)


def describe_rule(rule: str) -> str:
    """One line saying what a star means under ``rule`` (for table footers and docs)."""
    return {
        "ttest": "two-sample t-test, SE = sqrt(s1^2/n1 + s2^2/n2), df = n1+n2-2, p < 0.10 (mmtests 2018-2024)",
        "ci": "mean +- 1.96 sigma intervals do not overlap (mmtests since 2024-11-28)",
        "welch": "Welch's t-test (scipy), p < 0.05",
    }[check_rule(rule)]
