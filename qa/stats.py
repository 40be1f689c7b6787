"""Uncertainty of published scores: mean and pass-rate intervals, a sample-size planner, drift.

Every number shown about a person comes with its interval, and "not enough evaluations to
conclude" is an answer in its own right. Functions here are pure: lists of floats and dicts in,
frozen dataclasses out (each with `to_dict()` for `--json`). Distributions come from scipy.

Importing this module stays cheap (no `scipy.stats`, ~0.6 s of imports): the t and normal
quantiles come from `scipy.special` (`stdtrit`, `ndtri`: the functions `scipy.stats.t.ppf` and
`norm.ppf` call, same bits), once per (confidence, degrees of freedom), and the Wilson interval is
scipy's own closed form. The coaching site asks for tens of thousands of intervals and verdicts,
mostly at the same few sample sizes: about 5 us each. Only `bootstrap_interval` imports
`scipy.stats`, when called.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import ndtri, stdtrit

from qa.scorecard_model import NA, Scorecard
from qa.scoring import passed

SCORE_RANGE = (0.0, 100.0)
# +/- 10 points: the whole interval (20 points) is about one band of our scorecards (15 to 20
# points), so a conclusive score sits in its band or next to it. Halving the target needs four
# times the visits (n grows as 1 / target^2): at a visit-to-visit stdev of 15, 12 versus 38.
DEFAULT_TARGET_HALF_WIDTH = 10.0
# Two scores estimate their spread from one degree of freedom: two close scores would pass
# the target by luck far too often to decide anything about a person.
DEFAULT_MIN_N = 3
# A third of the default precision target: smaller shifts cannot be told from visit noise in
# a person's own interval, so they are not worth a calibration conversation.
DEFAULT_DRIFT_THRESHOLD = 3.0


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval; `low`/`high` are None when it is undefined (n < 2).

    `low`/`high` are clamped to the score range (a mean cannot leave it), `half_width` is not: it
    is the precision of the estimate (t * s / sqrt(n) for the t interval, half the unclamped
    width for the bootstrap), the number the planner compares with its target.
    """

    n: int
    mean: float | None
    low: float | None
    high: float | None
    half_width: float | None
    method: str
    confidence: float
    stdev: float | None = None  # sample stdev (ddof=1) of the scores
    clamped: bool = False

    @property
    def defined(self) -> bool:
        return self.low is not None and self.high is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProportionInterval:
    """A share of successes with its Wilson score interval (None when n is 0)."""

    successes: int
    n: int
    proportion: float | None
    low: float | None
    high: float | None
    method: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """Whether a set of scores is precise enough to publish as a conclusion."""

    interval: Interval
    target_half_width: float
    needed_n: int | None  # evaluations needed for the target at the planning stdev; None unknown
    planning_stdev: float | None
    conclusive: bool
    reason: str | None  # why not conclusive, in words a manager can read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # nested dataclasses become dicts too


@dataclass(frozen=True)
class Drift:
    """How far one evaluator's scores sit from colleagues' scores on the same people."""

    evaluator: str
    n_pairs: int
    shift: float | None  # points above (+) or below (-) the typical evaluator, on 0..100
    low: float | None
    high: float | None
    flagged: bool
    direction: str | None  # "lenient" (scores higher) or "severe" (lower); None when no shift

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")


def _float_scores(scores: Iterable[float]) -> list[float]:
    try:
        values = [float(v) for v in scores]
    except TypeError:  # None and the like: not a number at all
        raise ValueError("scores must be finite numbers") from None
    if not all(map(math.isfinite, values)):
        raise ValueError("scores must be finite numbers")
    return values


def _as_scores(scores: Iterable[float]) -> np.ndarray:
    values = np.asarray(list(scores), dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("scores must be finite numbers")
    return values


def _clamp(low: float, high: float, score_range: tuple[float, float] | None) -> tuple[float, float, bool]:
    if score_range is None:
        return low, high, False
    lo, hi = score_range
    clamped_low, clamped_high = min(max(low, lo), hi), max(min(high, hi), lo)
    return clamped_low, clamped_high, (clamped_low, clamped_high) != (low, high)


@lru_cache(maxsize=4096)
def t_quantile(confidence: float, df: int) -> float:
    """The two-sided Student t quantile t_{df} at `confidence` (0.975 quantile for 0.95), cached.

    `scipy.special.stdtrit` is what `scipy.stats.t.ppf` computes it with: the same float, without
    importing scipy.stats nor paying `ppf`'s argument handling (~0.1 ms a call).
    """
    _check_confidence(confidence)
    return float(stdtrit(df, 0.5 + confidence / 2.0))


@lru_cache(maxsize=64)
def normal_quantile(confidence: float) -> float:
    """The two-sided normal quantile z at `confidence` (1.96 for 0.95): `scipy.stats.norm.ppf`'s
    `scipy.special.ndtri`, cached."""
    _check_confidence(confidence)
    return float(ndtri(0.5 + confidence / 2.0))


def _half_width(stdev: float, n: int, confidence: float) -> float:
    # (t / sqrt(n)) * s, in this order: the coaching site's pages (tests/golden) were made with a
    # cached t / sqrt(n) times s, which differs from t * s / sqrt(n) in the last bit now and then.
    return t_quantile(confidence, n - 1) / math.sqrt(n) * stdev


def t_half_width(stdev: float, n: int, confidence: float = 0.95) -> float:
    """Half-width t_{n-1} * s / sqrt(n) of the two-sided Student t interval (n >= 2)."""
    _check_confidence(confidence)
    if n < 2:
        raise ValueError("the t interval needs at least 2 scores")
    return _half_width(stdev, n, confidence)


def mean_interval(
    scores: Iterable[float],
    confidence: float = 0.95,
    score_range: tuple[float, float] | None = SCORE_RANGE,
) -> Interval:
    """The mean score with a Student t confidence interval.

    Undefined (low/high/half_width None) below 2 scores. Bounds are clamped to `score_range`
    ((0, 100) for weighted-percent scorecards, `card.score_range()` otherwise, None to keep them
    raw) because the symmetric t interval spills past 100 when scores crowd the top; `clamped`
    says when that happened, a sign that `bootstrap_interval` may describe the data better.
    A sample with no spread gives a zero-width interval: the t interval cannot know better.
    Sums are `math.fsum` (correctly rounded, and faster than numpy on a person's few scores).
    """
    _check_confidence(confidence)
    values = _float_scores(scores)
    n = len(values)
    if n < 2:
        return Interval(n, values[0] if n else None, None, None, None, "t", confidence)
    if min(values) == max(values):
        # Equal scores have no spread: computed, a mean that is not exactly representable
        # leaves a stdev of ~1e-15, a "conclusive ±0.0" verdict on three visits.
        mean, stdev = values[0], 0.0
    else:
        mean = math.fsum(values) / n
        stdev = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = _half_width(stdev, n, confidence)
    low, high, clamped = _clamp(mean - half, mean + half, score_range)
    return Interval(n, mean, low, high, half, "t", confidence, stdev, clamped)


def bootstrap_interval(
    scores: Iterable[float],
    confidence: float = 0.95,
    seed: int = 0,
    score_range: tuple[float, float] | None = SCORE_RANGE,
    *,
    method: str = "BCa",
    n_resamples: int = 9999,
) -> Interval:
    """The mean score with a seeded bootstrap interval (scipy.stats.bootstrap, BCa by default).

    It fits better than the t interval when scores are skewed against a bound: mostly 100 with
    an occasional 0 from a failed critical criterion, where the symmetric t interval spills past
    100 (and is clamped) and understates the downside. It never leaves the observed range, so
    with few evaluations (fewer than ~10) it is too narrow: it cannot imagine a score it has not
    seen. With few skewed scores, show both and let the wider one speak. Same seed, same result.
    """
    _check_confidence(confidence)
    values = _as_scores(scores)
    n = len(values)
    name = f"bootstrap-{method.lower()}"
    mean = float(values.mean()) if n else None
    if n < 2:
        return Interval(n, mean, None, None, None, name, confidence)
    assert mean is not None
    if np.ptp(values) == 0:
        # Every resample has the same mean: BCa's acceleration would be 0/0. Nothing to resample.
        return Interval(n, mean, mean, mean, 0.0, name, confidence, 0.0)
    from scipy.stats import bootstrap  # ~0.6 s of imports: only for the one function needing it

    result = bootstrap(
        (values,),
        np.mean,
        confidence_level=confidence,
        method=method,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed),
    )
    raw_low, raw_high = (
        float(result.confidence_interval.low),
        float(result.confidence_interval.high),
    )
    low, high, clamped = _clamp(raw_low, raw_high, score_range)
    half = (raw_high - raw_low) / 2.0
    return Interval(n, mean, low, high, half, name, confidence, float(values.std(ddof=1)), clamped)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> ProportionInterval:
    """A pass rate with its Wilson score interval (no continuity correction), cached.

    Wilson rather than the textbook p +/- z*sqrt(pq/n): that one collapses to [0, 0] or [1, 1]
    for 0 or n successes and leaves [0, 1] for small n, the everyday case for a criterion.
    The bounds are those of scipy's `binomtest(successes, n).proportion_ci(confidence,
    method="wilson")` to the bit (tests/test_stats_quantiles.py), without the test's ~0.5 ms.
    """
    _check_confidence(confidence)
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    return _wilson(successes, n, confidence)


@lru_cache(maxsize=65536)
def _wilson(successes: int, n: int, confidence: float) -> ProportionInterval:
    if n == 0:
        return ProportionInterval(0, 0, None, None, None, "wilson", confidence)
    # Newcombe (1998)'s formulas as scipy writes them (scipy.stats._binomtest._binom_wilson_conf_int).
    z = normal_quantile(confidence)
    p = successes / n
    denominator = 2 * (n + z**2)
    centre = (2 * n * p + z**2) / denominator
    delta = z / denominator * math.sqrt(4 * n * p * (1 - p) + z**2)
    low = 0.0 if successes == 0 else centre - delta
    high = 1.0 if successes == n else centre + delta
    return ProportionInterval(successes, n, p, low, high, "wilson", confidence)


def pass_rates(
    card: Scorecard, answer_sets: Iterable[Mapping[str, Any]], confidence: float = 0.95
) -> dict[str, ProportionInterval]:
    """Each criterion's pass rate over several evaluations; N/A and unanswered are left out."""
    counts = {c.id: [0, 0] for c in card.criteria()}
    by_id = {c.id: c for c in card.criteria()}
    for answers in answer_sets:
        for cid, criterion in by_id.items():
            value = answers.get(cid)
            if value is None or value == NA:
                continue
            counts[cid][1] += 1
            counts[cid][0] += bool(passed(criterion, value))
    return {cid: wilson_interval(k, n, confidence) for cid, (k, n) in counts.items()}


def pooled_stdev(groups: Iterable[Sequence[float]]) -> float | None:
    """The pooled within-group stdev sqrt(sum (n_i - 1) s_i^2 / sum (n_i - 1)).

    Pass each employee's scores on one scorecard: the result is the spread of one person's
    scores from visit to visit, the planning stdev for someone with fewer than 2 evaluations.
    """
    squares = 0.0
    degrees = 0
    for group in groups:
        values = _as_scores(group)
        if len(values) >= 2:
            squares += float(((values - values.mean()) ** 2).sum())
            degrees += len(values) - 1
    return pooled_from_sums(squares, degrees)


def pooled_from_sums(squares: float, degrees: float) -> float | None:
    """`pooled_stdev` from its sums: the groups' squared deviations and their n_i - 1 (for callers
    that keep those per group rather than the scores)."""
    return math.sqrt(squares / degrees) if degrees else None


# The planning stdev (for people with too few evaluations) is rounded so that one new evaluation
# elsewhere does not change everybody's "about N evaluations needed".
PLANNING_STEP = 0.5


def planning_stdev(pooled: float | None) -> float | None:
    """A pooled stdev rounded to PLANNING_STEP: what the coaching site and the dashboard plan with."""
    return None if pooled is None else round(pooled / PLANNING_STEP) * PLANNING_STEP


def evaluations_needed(stdev: float, target_half_width: float, confidence: float = 0.95) -> int:
    """The smallest n >= 2 whose t interval half-width t_{n-1} * s / sqrt(n) is <= the target.

    Starts from the normal approximation (z s / target)^2, which is never above the answer
    because t_{n-1} > z, and walks up with the exact t quantile.
    """
    _check_confidence(confidence)
    if not (math.isfinite(stdev) and stdev >= 0):
        raise ValueError(f"stdev must be a finite number >= 0, got {stdev}")
    if not (math.isfinite(target_half_width) and target_half_width > 0):
        raise ValueError(f"target half-width must be a finite number > 0, got {target_half_width}")
    z = normal_quantile(confidence)
    n = max(2, math.ceil((z * stdev / target_half_width) ** 2))
    while _half_width(stdev, n, confidence) > target_half_width:
        n += 1
    return n


def verdict(
    scores: Iterable[float],
    target_half_width: float = DEFAULT_TARGET_HALF_WIDTH,
    min_n: int = DEFAULT_MIN_N,
    *,
    fallback_stdev: float | None = None,
    confidence: float = 0.95,
    score_range: tuple[float, float] | None = SCORE_RANGE,
) -> Verdict:
    """Can these scores be published as a conclusion, and if not, how many evaluations are needed?

    Conclusive when there are at least max(2, min_n) scores and the t half-width is within the
    target. The planning stdev is the sample's own when it has at least 2 scores and some spread,
    else `fallback_stdev` (use `pooled_stdev` over colleagues on the same scorecard); without one,
    `needed_n` is None. Scores without any spread (all equal) give a zero-width t interval that
    proves nothing: they are judged with the fallback stdev, and without one never conclusive.
    """
    interval = mean_interval(scores, confidence, score_range)
    half_width = interval.half_width
    planning = interval.stdev if interval.stdev else fallback_stdev
    floor = max(2, min_n)
    needed = None
    if planning is not None:
        needed = max(floor, evaluations_needed(planning, target_half_width, confidence))
    if interval.stdev == 0.0 and fallback_stdev is not None:  # hence n >= 2
        half_width = _half_width(fallback_stdev, interval.n, confidence)

    reason: str | None = None
    if interval.n < floor:
        reason = f"{interval.n} of at least {floor}"
    elif interval.stdev == 0.0 and fallback_stdev is None:
        reason = "all scores are equal, so their spread is unknown (no fallback stdev)"
    elif half_width is not None and half_width > target_half_width:
        reason = f"+/-{half_width:.1f} points is wider than +/-{target_half_width:g}"
    if reason is not None:
        reason = "not enough evaluations to conclude: " + reason
        if needed is not None:
            reason += f"; about {needed} evaluations needed"
    return Verdict(interval, target_half_width, needed, planning, reason is None, reason)


def _record_fields(record: Mapping[str, Any] | Sequence[Any]) -> tuple[str, str, str, Any]:
    if isinstance(record, Mapping):
        return (
            record["evaluator"],
            record["employee_id"],
            record["scorecard_id"],
            record["overall"],
        )
    evaluator, employee, scorecard, overall = record
    return evaluator, employee, scorecard, overall


def evaluator_drift(
    records: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    confidence: float = 0.95,
    threshold: float = DEFAULT_DRIFT_THRESHOLD,
    score_ranges: Mapping[str, tuple[float, float]] | None = None,
) -> list[Drift]:
    """Each evaluator's shift against colleagues who scored the same employees on the same card.

    Records are dicts or tuples (evaluator, employee_id, scorecard_id, overall); an overall of
    None (incomplete evaluation) is skipped; `score_ranges` maps a scorecard id to its (min, max)
    so that sum-of-means scores are put on 0..100 first.

    For every (employee, scorecard) that this evaluator and at least one colleague scored, the
    paired difference is (this evaluator's mean) - (the mean of each colleague's mean, corrected
    by that colleague's own shift). The shift is the plain mean of these differences with a t
    interval: each employee counts once, so a person visited ten times cannot outweigh nine
    others, and the pairs are the independent units the t interval assumes.

    Why the correction: against colleagues' raw scores, one evaluator at +8 makes every colleague
    who shares employees with them look severe by 8 / (k - 1) (k evaluators per employee). In
    simulations (6 evaluators, 3 per employee, 120 employees, visit noise sd 10, 200 runs) raw
    baselines flagged an innocent colleague in 60% of runs with one evaluator at +8 and in 13%
    without any drift; the corrected ones in 7% and 2%, and found the +8 every time. The shifts
    are solved together (the fixed point of "shift = mean corrected difference", a linear system)
    and measured from the mean of the unflagged evaluators of each group of evaluators who share
    employees, re-centred until the flags settle: a shift reads "points above (lenient) or below
    (severe) the typical evaluator", and one drifting evaluator does not drag the others.
    The interval treats colleagues' shifts as known, which is close enough with a few dozen pairs.

    Flagged when the interval excludes 0 and |shift| >= `threshold` points: significant and large
    enough to matter. With many evaluators one interval in twenty excludes 0 by chance (pass
    e.g. confidence=1 - 0.05 / k for a family-wise guarantee); the threshold stops most of those.
    """
    _check_confidence(confidence)
    records = list(records)
    cells = _cell_means(records, score_ranges)
    evaluators = sorted({_record_fields(record)[0] for record in records})
    solution, groups = _solve_shifts(cells, evaluators)

    flagged: set[str] = set()
    for _ in range(len(evaluators) + 1):  # each round flags differently or stops; bounded anyway
        shifts = _centred(solution, groups, evaluators, flagged)
        results = [_drift_of(evaluator, cells, shifts, confidence, threshold) for evaluator in evaluators]
        now_flagged = {result.evaluator for result in results if result.flagged}
        if now_flagged == flagged:
            break
        flagged = now_flagged
    return results


def _drift_of(
    evaluator: str,
    cells: Mapping[tuple[str, str], Mapping[str, float]],
    shifts: Mapping[str, float],
    confidence: float,
    threshold: float,
) -> Drift:
    differences = []
    for cell in cells.values():
        if evaluator in cell and len(cell) >= 2:
            baseline = [mean - shifts[name] for name, mean in cell.items() if name != evaluator]
            differences.append(cell[evaluator] - _small_mean(baseline))
    interval = mean_interval(differences, confidence, score_range=None)
    shift, low, high = interval.mean, interval.low, interval.high
    excludes_zero = low is not None and high is not None and (low > 0.0 or high < 0.0)
    flagged = excludes_zero and shift is not None and abs(shift) >= threshold
    direction = None if not shift else ("lenient" if shift > 0 else "severe")
    return Drift(evaluator, len(differences), shift, low, high, flagged, direction)


def _small_mean(values: Sequence[float]) -> float:
    """The mean of a few floats: np.mean costs ~6 us a call, and drift makes ~50,000 of them."""
    return sum(values) / len(values)


def _cell_means(
    records: Iterable[Mapping[str, Any] | Sequence[Any]],
    score_ranges: Mapping[str, tuple[float, float]] | None,
) -> dict[tuple[str, str], dict[str, float]]:
    """{(employee, scorecard): {evaluator: mean overall on 0..100}}."""
    cells: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        evaluator, employee, scorecard, overall = _record_fields(record)
        if overall is None:
            continue
        value = float(overall)
        if score_ranges and scorecard in score_ranges:
            lo, hi = score_ranges[scorecard]
            value = 100.0 * (value - lo) / (hi - lo)
        cells[(employee, scorecard)][evaluator].append(value)
    return {
        key: {name: _small_mean(values) for name, values in by_evaluator.items()} for key, by_evaluator in cells.items()
    }


def _solve_shifts(
    cells: Mapping[tuple[str, str], Mapping[str, float]], evaluators: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Shifts b with b_E = mean over E's shared cells of (y_E - mean of (y_o - b_o)), and groups.

    That is (I - M) b = r, with r the raw mean differences and M averaging colleagues' shifts.
    The system is singular: adding a constant to every shift of a connected group of evaluators
    changes nothing, so lstsq gives one solution and `_centred` chooses the constant.
    """
    index = {name: i for i, name in enumerate(evaluators)}
    size = len(evaluators)
    averaging = np.zeros((size, size))
    raw = np.zeros(size)
    shared = np.zeros(size)
    for cell in cells.values():
        if len(cell) < 2:
            continue
        for name, mean in cell.items():
            others = [other for other in cell if other != name]
            row = index[name]
            shared[row] += 1
            raw[row] += mean - _small_mean([cell[other] for other in others])
            for other in others:
                averaging[row, index[other]] += 1.0 / len(others)
    has_pairs = shared > 0
    raw[has_pairs] /= shared[has_pairs]
    averaging[has_pairs] /= shared[has_pairs, np.newaxis]
    solution = np.linalg.lstsq(np.eye(size) - averaging, raw, rcond=None)[0]
    return solution, _connected_groups(averaging > 0)


def _centred(
    solution: np.ndarray, groups: np.ndarray, evaluators: Sequence[str], flagged: set[str]
) -> dict[str, float]:
    """Shifts measured from the mean of each group's unflagged evaluators."""
    centred = solution.copy()
    unflagged = np.array([name not in flagged for name in evaluators], dtype=bool)
    for label in np.unique(groups):
        members = groups == label
        reference = members & unflagged if (members & unflagged).any() else members
        centred[members] -= solution[reference].mean()
    return {name: float(centred[i]) for i, name in enumerate(evaluators)}


def _connected_groups(links: np.ndarray) -> np.ndarray:
    """A group label per evaluator: evaluators linked by shared employees share a label."""
    labels = np.arange(len(links))
    changed = True
    while changed:  # label propagation: at most (number of evaluators) rounds
        changed = False
        for row, col in zip(*np.nonzero(links), strict=True):
            low = min(labels[row], labels[col])
            if labels[row] != low or labels[col] != low:
                labels[row] = labels[col] = low
                changed = True
    return labels
