"""Statistics: intervals against hand computations and published values, the planner, drift."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from qa.stats import (
    DEFAULT_TARGET_HALF_WIDTH,
    bootstrap_interval,
    evaluations_needed,
    evaluator_drift,
    mean_interval,
    pass_rates,
    pooled_stdev,
    t_half_width,
    verdict,
    wilson_interval,
)

# --- the t interval ---------------------------------------------------------------------------


def test_t_interval_matches_a_hand_computation() -> None:
    scores = [70.0, 85.0, 90.0, 60.0, 75.0]
    mean = sum(scores) / 5  # 76
    stdev = statistics.stdev(scores)  # sqrt(570 / 4)
    half = sps.t.ppf(0.975, df=4) * stdev / math.sqrt(5)
    interval = mean_interval(scores)
    assert interval.n == 5
    assert interval.mean == pytest.approx(76.0)
    assert interval.stdev == pytest.approx(math.sqrt(570 / 4))
    assert interval.half_width == pytest.approx(half)
    assert (interval.low, interval.high) == pytest.approx((mean - half, mean + half))
    assert interval.method == "t"
    assert not interval.clamped


def test_t_interval_reproduces_students_sleep_data() -> None:
    """Student (1908) / Cushny & Peebles: extra sleep, drug 2 minus drug 1, ten patients.

    R's t.test(extra ~ group, data = sleep, paired = TRUE): mean difference 1.58, 95 percent
    confidence interval 0.7001142 .. 2.4598858 (t = 4.0621, df = 9).
    """
    differences = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]
    interval = mean_interval(differences, score_range=None)
    assert interval.mean == pytest.approx(1.58)
    assert interval.low == pytest.approx(0.7001142, abs=1e-7)
    assert interval.high == pytest.approx(2.4598858, abs=1e-7)
    assert interval.mean / (interval.stdev / math.sqrt(10)) == pytest.approx(4.0621, abs=1e-4)


def test_t_interval_at_99_percent_uses_the_99_percent_quantile() -> None:
    scores = [55.0, 65.0, 80.0, 72.0]
    interval = mean_interval(scores, confidence=0.99)
    expected = sps.t.ppf(0.995, 3) * statistics.stdev(scores) / 2.0
    assert interval.half_width == pytest.approx(expected)


@pytest.mark.parametrize(
    ("scores", "mean"),
    [pytest.param([], None, id="no-score"), pytest.param([80.0], 80.0, id="one-score")],
)
def test_t_interval_is_undefined_below_two_scores(scores: list[float], mean: float | None) -> None:
    interval = mean_interval(scores)
    assert interval.n == len(scores)
    assert interval.mean == mean
    assert (interval.low, interval.high, interval.half_width) == (None, None, None)
    assert not interval.defined


def test_t_interval_is_clamped_to_the_score_range_but_keeps_its_half_width() -> None:
    scores = [100.0, 100.0, 100.0, 0.0]  # mean 75, half-width ~80: both ends spill over
    interval = mean_interval(scores)
    assert (interval.low, interval.high) == (0.0, 100.0)
    assert interval.clamped
    assert interval.half_width == pytest.approx(sps.t.ppf(0.975, 3) * 50.0 / 2.0)


def test_t_interval_is_clamped_to_a_sum_of_means_range() -> None:
    interval = mean_interval([19.0, 20.0, 20.0], score_range=(4.0, 20.0))
    assert interval.high == 20.0
    assert interval.clamped
    assert interval.low == pytest.approx(interval.mean - interval.half_width)


def test_a_sample_without_spread_gives_a_zero_width_interval() -> None:
    interval = mean_interval([90.0, 90.0, 90.0])
    assert (interval.low, interval.high, interval.half_width) == (90.0, 90.0, 0.0)


@pytest.mark.parametrize(
    "scores",
    [
        pytest.param([1.0, float("nan")], id="nan"),
        pytest.param([float("inf"), 2.0], id="inf"),
        pytest.param([70.0, None], id="none"),
    ],
)
def test_non_finite_scores_are_refused(scores: list[float]) -> None:
    with pytest.raises(ValueError, match="finite"):
        mean_interval(scores)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95.0, -0.5])
def test_confidence_must_be_a_probability(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        mean_interval([1.0, 2.0], confidence=confidence)


score_lists = st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=2, max_size=40)


@settings(max_examples=200, deadline=None)
@given(score_lists, st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_the_mean_lies_within_its_interval(scores: list[float], confidence: float) -> None:
    for interval in (mean_interval(scores, confidence), mean_interval(scores, confidence, None)):
        assert interval.low is not None and interval.high is not None
        assert interval.low <= interval.mean <= interval.high
    assert 0.0 <= mean_interval(scores, confidence).low <= mean_interval(scores, confidence).high <= 100.0


@settings(max_examples=200, deadline=None)
@given(score_lists, st.integers(min_value=2, max_value=5))
def test_intervals_narrow_as_the_same_spread_is_seen_more_often(scores: list[float], times: int) -> None:
    """Repeating a sample k times keeps its spread (s even shrinks a little) and grows n."""
    once, repeated = mean_interval(scores, score_range=None), mean_interval(scores * times, score_range=None)
    assert repeated.mean == pytest.approx(once.mean)
    if once.stdev > 1e-6:
        assert repeated.half_width < once.half_width
    else:
        assert repeated.half_width <= once.half_width + 1e-9


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=0.5, max_value=40), st.integers(min_value=2, max_value=200))
def test_the_half_width_narrows_with_n_at_a_fixed_stdev(stdev: float, n: int) -> None:
    assert t_half_width(stdev, n + 1) < t_half_width(stdev, n)


# --- the bootstrap interval -------------------------------------------------------------------

SKEWED = [100.0] * 7 + [0.0]  # seven clean visits and one failed critical criterion


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    first, again = bootstrap_interval(SKEWED, seed=7), bootstrap_interval(SKEWED, seed=7)
    assert first == again
    assert first.method == "bootstrap-bca"


def test_bootstrap_stays_in_the_observed_range_where_the_t_interval_spills_over() -> None:
    t = mean_interval(SKEWED)
    boot = bootstrap_interval(SKEWED, seed=1)
    assert t.clamped  # 87.5 + 29.6 > 100
    assert not boot.clamped
    assert 0.0 <= boot.low < boot.mean < boot.high <= 100.0


@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_bootstrap_agrees_with_the_t_interval_on_a_large_normal_sample(method: str) -> None:
    scores = np.random.default_rng(3).normal(70.0, 10.0, 400).tolist()
    t = mean_interval(scores)
    boot = bootstrap_interval(scores, seed=3, method=method)
    assert boot.low == pytest.approx(t.low, abs=0.25)
    assert boot.high == pytest.approx(t.high, abs=0.25)


def test_bootstrap_of_a_sample_without_spread_does_not_resample() -> None:
    interval = bootstrap_interval([80.0, 80.0, 80.0])
    assert (interval.low, interval.high, interval.half_width) == (80.0, 80.0, 0.0)


def test_bootstrap_is_undefined_below_two_scores() -> None:
    assert not bootstrap_interval([75.0]).defined


# --- Wilson intervals -------------------------------------------------------------------------


def wilson_by_formula(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson (1927): (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    z = sps.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    spread = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - spread, centre + spread


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        pytest.param(81, 263, 0.2553, 0.3662, id="81-of-263"),
        pytest.param(15, 148, 0.0624, 0.1605, id="15-of-148"),
        pytest.param(0, 20, 0.0000, 0.1611, id="0-of-20"),
        pytest.param(1, 29, 0.0061, 0.1718, id="1-of-29"),
        pytest.param(29, 29, 0.8830, 1.0000, id="29-of-29"),
    ],
)
def test_wilson_matches_newcombe_1998(successes: int, n: int, low: float, high: float) -> None:
    """Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (score, no correction)."""
    interval = wilson_interval(successes, n)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)
    assert (interval.low, interval.high) == pytest.approx(wilson_by_formula(successes, n), abs=1e-12)
    assert interval.proportion == pytest.approx(successes / n)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_agrees_with_its_closed_form(case: tuple[int, int]) -> None:
    successes, n = case
    interval = wilson_interval(successes, n, confidence=0.9)
    assert (interval.low, interval.high) == pytest.approx(wilson_by_formula(successes, n, 0.9), abs=1e-9)
    assert 0.0 <= interval.low <= successes / n <= interval.high <= 1.0


def test_wilson_without_observations_is_undefined() -> None:
    interval = wilson_interval(0, 0)
    assert (interval.proportion, interval.low, interval.high) == (None, None, None)


@pytest.mark.parametrize(("successes", "n"), [(3, 2), (-1, 5), (0, -1)])
def test_wilson_refuses_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(successes, n)


def test_pass_rates_leave_out_na_and_unanswered(mini) -> None:
    answer_sets = [
        {"greet": "yes", "thanks": "na", "quality": 4, "steps": 3},
        {"greet": "no", "thanks": "yes", "quality": 2, "steps": "na"},
        {"greet": "yes", "thanks": "no", "quality": 5},
    ]
    rates = pass_rates(mini, answer_sets)
    assert (rates["greet"].successes, rates["greet"].n) == (2, 3)
    assert (rates["thanks"].successes, rates["thanks"].n) == (1, 2)
    assert (rates["quality"].successes, rates["quality"].n) == (2, 3)  # passes at 4 on 1..5
    assert (rates["steps"].successes, rates["steps"].n) == (1, 1)
    assert rates["greet"].low == pytest.approx(wilson_by_formula(2, 3)[0])


# --- the planner ------------------------------------------------------------------------------


def test_pooled_stdev_matches_a_hand_computation() -> None:
    # squares about the means: 2 (1, 2, 3) + 8 (10, 14); degrees of freedom: 2 + 1
    assert pooled_stdev([[1.0, 2.0, 3.0], [10.0, 14.0], [50.0]]) == pytest.approx(math.sqrt(10 / 3))
    assert pooled_stdev([[50.0], []]) is None


@pytest.mark.parametrize(
    ("stdev", "target", "confidence"),
    [
        pytest.param(15.0, 10.0, 0.95, id="typical-visits"),
        pytest.param(20.0, 5.0, 0.95, id="tight-target"),
        pytest.param(8.0, 10.0, 0.90, id="calm-scores-90"),
        pytest.param(30.0, 2.0, 0.99, id="large-n"),
        pytest.param(1.0, 10.0, 0.95, id="tiny-spread"),
    ],
)
def test_planner_answer_is_the_first_n_meeting_the_target(stdev: float, target: float, confidence: float) -> None:
    n = evaluations_needed(stdev, target, confidence)

    def half(k: int) -> float:
        return sps.t.ppf(0.5 + confidence / 2, k - 1) * stdev / math.sqrt(k)

    assert half(n) <= target
    assert n == 2 or half(n - 1) > target


def test_planner_uses_the_t_quantile_not_the_normal_one() -> None:
    # normal approximation: (1.96 * 15 / 10)^2 = 8.6 -> 9; with t_{n-1}: 11 gives 10.08, 12 gives 9.53
    assert evaluations_needed(15.0, 10.0) == 12
    assert math.ceil((sps.norm.ppf(0.975) * 15.0 / 10.0) ** 2) == 9


def test_planner_needs_two_evaluations_at_least() -> None:
    assert evaluations_needed(0.0, DEFAULT_TARGET_HALF_WIDTH) == 2


@pytest.mark.parametrize(("stdev", "target"), [(-1.0, 10.0), (float("nan"), 10.0), (10.0, 0.0), (10.0, float("inf"))])
def test_planner_refuses_meaningless_inputs(stdev: float, target: float) -> None:
    with pytest.raises(ValueError):
        evaluations_needed(stdev, target)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.0, 40.0), st.floats(0.0, 40.0), st.floats(1.0, 20.0), st.floats(1.0, 20.0))
def test_planner_is_monotonic(s1: float, s2: float, t1: float, t2: float) -> None:
    low_s, high_s = sorted((s1, s2))
    wide, narrow = sorted((t1, t2), reverse=True)
    assert evaluations_needed(low_s, 10.0) <= evaluations_needed(high_s, 10.0)
    assert evaluations_needed(15.0, wide) <= evaluations_needed(15.0, narrow)
    assert evaluations_needed(15.0, 10.0, 0.9) <= evaluations_needed(15.0, 10.0, 0.99)


# --- the verdict ------------------------------------------------------------------------------


def test_verdict_on_a_single_score_plans_with_the_fallback_stdev() -> None:
    result = verdict([80.0], fallback_stdev=15.0)
    assert not result.conclusive
    assert result.needed_n == 12
    assert result.planning_stdev == 15.0
    assert result.reason.startswith("not enough evaluations to conclude")
    assert verdict([80.0]).needed_n is None


def test_verdict_with_a_wide_interval_says_how_many_are_needed() -> None:
    scores = [70.0, 85.0, 90.0, 60.0, 75.0]  # s = 11.94, half-width 14.8
    result = verdict(scores, target_half_width=10.0)
    assert not result.conclusive
    assert "14.8" in result.reason
    assert result.needed_n == evaluations_needed(statistics.stdev(scores), 10.0)
    assert result.needed_n > len(scores)


def test_verdict_is_conclusive_when_the_interval_is_narrow_enough() -> None:
    scores = [78.0, 82.0, 80.0, 79.0, 81.0]
    result = verdict(scores, target_half_width=5.0)
    assert result.conclusive
    assert result.reason is None
    assert result.interval.half_width <= 5.0
    assert result.to_dict()["interval"]["n"] == 5


def test_verdict_honours_min_n() -> None:
    assert not verdict([80.0, 81.0], target_half_width=10.0).conclusive  # default min_n is 3
    assert verdict([80.0, 81.0], target_half_width=10.0, min_n=2).conclusive


def test_equal_scores_prove_nothing_without_a_fallback_stdev() -> None:
    assert not verdict([100.0, 100.0, 100.0]).conclusive
    with_fallback = verdict([100.0, 100.0, 100.0], fallback_stdev=15.0)
    assert not with_fallback.conclusive  # 3 visits at s = 15 give +/-37 points
    assert with_fallback.needed_n == 12
    assert verdict([100.0] * 12, fallback_stdev=15.0).conclusive


@given(st.floats(min_value=0.0, max_value=100.0), st.integers(min_value=2, max_value=40))
def test_equal_scores_never_look_precise_whatever_their_value(score: float, n: int) -> None:
    """11.111... three times used to leave a stdev of 2e-15 (its mean is not exactly representable),
    and so a "conclusive +/-0.0" verdict on three visits."""
    interval = mean_interval([score] * n)
    assert (interval.mean, interval.stdev, interval.half_width) == (score, 0.0, 0.0)
    assert not verdict([score] * n).conclusive
    assert verdict([score] * n, fallback_stdev=15.0).conclusive is (n >= 12)


# --- evaluator drift --------------------------------------------------------------------------

EVALUATORS = ("ana", "ben", "chloe", "david", "emma", "farid")


def synthetic_visits(seed: int, bias: dict[str, float] | None = None) -> list[dict[str, object]]:
    """120 employees, each seen by 3 of 6 evaluators once or twice; visit noise sd 10 points."""
    rng = np.random.default_rng(seed)
    bias = bias or {}
    records: list[dict[str, object]] = []
    for employee in range(120):
        level = rng.uniform(45.0, 85.0)
        for evaluator in rng.choice(EVALUATORS, size=3, replace=False):
            for _ in range(rng.integers(1, 3)):
                overall = float(np.clip(level + bias.get(str(evaluator), 0.0) + rng.normal(0.0, 10.0), 0, 100))
                records.append(
                    {
                        "evaluator": str(evaluator),
                        "employee_id": f"e{employee}",
                        "scorecard_id": "visit",
                        "overall": overall,
                    }
                )
    return records


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drift_finds_a_planted_lenient_evaluator_and_only_them(seed: int) -> None:
    results = {d.evaluator: d for d in evaluator_drift(synthetic_visits(seed, {"ana": 8.0}))}
    ana = results.pop("ana")
    assert ana.flagged
    assert ana.direction == "lenient"
    assert ana.low > 0.0
    assert ana.low <= 8.0 <= ana.high
    assert not any(d.flagged for d in results.values())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drift_flags_nobody_without_drift(seed: int) -> None:
    results = evaluator_drift(synthetic_visits(seed))
    assert [d.evaluator for d in results] == sorted(EVALUATORS)
    assert not any(d.flagged for d in results)
    assert all(d.n_pairs > 30 for d in results)


def test_drift_finds_a_severe_evaluator() -> None:
    results = {d.evaluator: d for d in evaluator_drift(synthetic_visits(5, {"emma": -10.0}))}
    assert results["emma"].flagged
    assert results["emma"].direction == "severe"


def test_drift_of_two_evaluators_is_the_mean_paired_difference() -> None:
    """Two evaluators: the centre is between them, so each is half the pair's mean difference."""
    records = [
        ("ana", "e1", "visit", 80.0), ("ben", "e1", "visit", 70.0),
        ("ana", "e2", "visit", 90.0), ("ana", "e2", "visit", 70.0), ("ben", "e2", "visit", 76.0),
        ("ana", "e3", "visit", 60.0), ("ben", "e3", "visit", 58.0),
        ("ben", "e4", "visit", 50.0),  # seen by one evaluator only: no pair
        ("ana", "e5", "visit", None),  # incomplete evaluation: skipped
    ]  # fmt: skip
    raw = [10.0, 4.0, 2.0]  # ana - ben per employee (ana's two visits of e2 averaged)
    results = {d.evaluator: d for d in evaluator_drift(records, threshold=0.0)}
    ana, ben = results["ana"], results["ben"]
    assert ana.n_pairs == ben.n_pairs == 3
    assert ana.shift == pytest.approx(np.mean(raw) / 2)  # 8/3 above the middle of the two
    assert ben.shift == pytest.approx(-np.mean(raw) / 2)
    half = sps.t.ppf(0.975, 2) * statistics.stdev(raw) / math.sqrt(3)
    assert ana.high - ana.low == pytest.approx(2 * half)


def test_drift_ignores_a_shift_below_the_practical_threshold() -> None:
    records = []
    for employee in range(60):
        records.append(("ana", f"e{employee}", "visit", 71.0 + (employee % 2) * 0.1))
        records.append(("ben", f"e{employee}", "visit", 70.0))
        records.append(("chloe", f"e{employee}", "visit", 70.0 + (employee % 3) * 0.1))
    results = {d.evaluator: d for d in evaluator_drift(records)}
    assert results["ana"].low > 0.0  # clearly significant...
    assert not results["ana"].flagged  # ...but one point is not worth a flag
    # one point above colleagues at ~70.05 is 2/3 of a point above the average of the three
    assert results["ana"].shift == pytest.approx(2 / 3, abs=0.05)


def test_drift_rescales_sum_of_means_scorecards() -> None:
    records = [(ev, f"e{i}", "behaviour", value) for i in range(4) for ev, value in (("ana", 16.0), ("ben", 12.0))]
    results = {d.evaluator: d for d in evaluator_drift(records, score_ranges={"behaviour": (4.0, 20.0)})}
    assert results["ana"].shift == pytest.approx(12.5)  # (16 - 12) / 16 * 100 / 2


def test_drift_of_an_evaluator_without_colleagues_is_undefined() -> None:
    results = evaluator_drift([{"evaluator": "ana", "employee_id": "e1", "scorecard_id": "v", "overall": 70.0}])
    assert results[0].n_pairs == 0
    assert (results[0].shift, results[0].low, results[0].flagged, results[0].direction) == (None, None, False, None)
    assert results[0].to_dict()["evaluator"] == "ana"
