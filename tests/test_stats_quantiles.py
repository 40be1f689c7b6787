"""qa.stats without scipy.stats: the same bits as scipy.stats, and the site's numbers to the bit.

`qa.stats` takes its quantiles from scipy.special (what scipy.stats.t.ppf and norm.ppf call) and
caches them, and computes Wilson bounds with scipy's closed form, so that importing it does not
cost scipy.stats (~0.6 s) and the site's tens of thousands of intervals cost ~5 us each. These
tests compare with scipy.stats itself (imported here, in the tests only) with ==, not approx.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from qa import stats
from sitegen import analysis, context_leads, frame

from .conftest import ROOT

CONFIDENCES = [0.5, 0.8, 0.9, 0.95, 0.99, 0.999]


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_t_quantile_is_scipy_stats_t_ppf_to_the_bit(confidence: float) -> None:
    degrees = [*range(1, 1001), 1500, 10_000, 123_457]
    expected = sps.t.ppf(0.5 + confidence / 2.0, degrees)
    assert [stats.t_quantile(confidence, df) for df in degrees] == [float(q) for q in expected]


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_normal_quantile_is_scipy_stats_norm_ppf_to_the_bit(confidence: float) -> None:
    assert stats.normal_quantile(confidence) == float(sps.norm.ppf(0.5 + confidence / 2.0))


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_is_scipy_binomtest_to_the_bit(confidence: float) -> None:
    cases = [(k, n) for n in range(1, 41) for k in range(n + 1)]
    cases += [(k, n) for n in (99, 250, 1000) for k in (0, 1, 2, n // 3, n // 2, n - 1, n)]
    for k, n in cases:
        mine = stats.wilson_interval(k, n, confidence)
        ci = sps.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        assert (mine.low, mine.high) == (float(ci.low), float(ci.high)), (k, n)
        assert (mine.successes, mine.n, mine.proportion) == (k, n, k / n)


def site_interval(values: list[float], score_range: tuple[float, float] | None = stats.SCORE_RANGE) -> dict:
    """The arithmetic the golden pages were made with (the former sitegen/fast_stats.py, now
    removed): fsum mean and stdev, half-width (t / sqrt(n)) * s with scipy.stats' t; but equal
    scores have no spread and their own value as mean (the former arithmetic left a stdev of
    ~1e-16 when their mean was not exactly representable: a "conclusive" verdict on 3 visits)."""
    n = len(values)
    mean = math.fsum(values) / n if n else None
    if n < 2:
        return stats.Interval(n, mean, None, None, None, "t", 0.95).to_dict()
    if min(values) == max(values):
        mean, stdev = values[0], 0.0
    else:
        stdev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(sps.t.ppf(0.975, n - 1)) * 1.0 / math.sqrt(n) * stdev
    low, high = mean - half, mean + half
    if score_range is not None:
        low, high = min(max(low, score_range[0]), score_range[1]), max(min(high, score_range[1]), score_range[0])
    clamped = (low, high) != (mean - half, mean + half)
    return stats.Interval(n, mean, low, high, half, "t", 0.95, stdev, clamped).to_dict()


def site_needed(stdev: float, target: float) -> int:
    n = max(2, math.ceil((float(sps.norm.ppf(0.975)) * stdev / target) ** 2))
    while float(sps.t.ppf(0.975, n - 1)) * 1.0 / math.sqrt(n) * stdev > target:
        n += 1
    return n


scores = st.lists(
    st.one_of(
        st.floats(min_value=0, max_value=100, allow_nan=False),
        st.sampled_from([0.0, 50.0, 62.5, 100.0, 100 / 3, 200 / 3]),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(scores, st.sampled_from([stats.SCORE_RANGE, None, (4.0, 20.0)]))
def test_mean_interval_is_the_sites_arithmetic_to_the_bit(values: list[float], score_range) -> None:
    assert stats.mean_interval(values, 0.95, score_range).to_dict() == site_interval(values, score_range)


def site_verdict(values: list[float], target: float, fallback: float | None) -> dict:
    """`verdict` as sitegen/fast_stats.py wrote it, on `site_interval` and `site_needed`."""
    interval = site_interval(values)
    n, stdev, half = interval["n"], interval["stdev"], interval["half_width"]
    planning = stdev or fallback
    needed = None if planning is None else max(3, site_needed(planning, target))
    if stdev == 0.0 and fallback is not None:
        half = float(sps.t.ppf(0.975, n - 1)) * 1.0 / math.sqrt(n) * fallback
    reason = None
    if n < 3:
        reason = f"{n} of at least 3"
    elif stdev == 0.0 and fallback is None:
        reason = "all scores are equal, so their spread is unknown (no fallback stdev)"
    elif half is not None and half > target:
        reason = f"+/-{half:.1f} points is wider than +/-{target:g}"
    if reason is not None:
        reason = "not enough evaluations to conclude: " + reason
        if needed is not None:
            reason += f"; about {needed} evaluations needed"
    return stats.Verdict(stats.Interval(**interval), target, needed, planning, reason is None, reason).to_dict()


@settings(max_examples=300, deadline=None)
@given(scores, st.one_of(st.none(), st.floats(min_value=0.5, max_value=40)), st.sampled_from([5.0, 10.0]))
@example([0.95, 0.95, 0.95], None, 5.0)  # equal scores whose mean is not exactly representable
@example([11.11111111111111] * 3, 15.0, 5.0)
def test_verdict_is_the_sites_arithmetic_to_the_bit(values: list[float], fallback: float | None, target) -> None:
    assert stats.verdict(values, target, fallback_stdev=fallback).to_dict() == site_verdict(values, target, fallback)


def test_the_t_quantile_is_computed_once_per_sample_size() -> None:
    stats.t_quantile.cache_clear()
    for n in range(40):
        for shift in range(25):
            stats.verdict([60.0 + (i * 7 + shift) % 30 for i in range(n)], fallback_stdev=12.0)
    info = stats.t_quantile.cache_info()
    assert info.misses <= 60  # degrees of freedom of 40 sample sizes and the planner's walk
    assert info.hits > 20 * info.misses


def test_importing_qa_stats_does_not_import_scipy_stats() -> None:
    code = (
        "import sys, qa.stats, sitegen.build, sitegen.frame\n"
        "loaded = sorted(m for m in sys.modules if m == 'scipy.stats' or m.startswith('scipy.stats.'))\n"
        "assert not loaded, loaded\n"
        "qa.stats.bootstrap_interval([1.0, 2.0, 4.0], n_resamples=99)\n"  # imports it when needed
        "assert 'scipy.stats' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_site_uses_qa_stats_functions_themselves() -> None:
    """No second copy of the arithmetic in sitegen to drift apart."""
    assert frame.mean_interval is stats.mean_interval and frame.verdict is stats.verdict
    assert analysis.wilson_interval is stats.wilson_interval and context_leads.mean_interval is stats.mean_interval
