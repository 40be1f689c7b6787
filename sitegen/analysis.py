"""What one employee's approved evaluations say, before any wording: scores with intervals, trends,
strengths, focus areas and lagging behaviours. Pure functions of the evaluations and scorecards.

Every number comes from `qa.stats` (t intervals for means, Wilson for pass rates, `verdict` for
the headline) so that a page never shows a score without its uncertainty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np

from qa.models import Evaluation
from qa.scorecard_model import BEHAVIOURS
from qa.stats import Interval, ProportionInterval, Verdict
from sitegen.cards import CardBook
from sitegen.fast_stats import mean_interval, verdict, wilson_interval

# A strength is a criterion passed at least this often, seen at least MIN_SEEN times.
STRENGTH_RATE = 0.8
MIN_SEEN = 3
MAX_STRENGTHS = 3
# Focus areas: the criteria that cost the most points, when they cost at least this much on average.
MAX_FOCUS = 3
MIN_IMPACT = 0.5
# A behaviour lags when it sits this many points below the mean of the others, beyond its interval.
LAG_POINTS = 15.0
# The trend shows the last few quarters (a quarter gathers enough evaluations for an interval).
TREND_PERIODS = 4


@dataclass(frozen=True, slots=True)
class Facts:
    """One evaluation reduced to what the pages show of it (scores on 0..100)."""

    overall: float | None
    behaviours: dict[str, float]
    critical_failures: tuple[str, ...]


_NOTHING: Mapping[str, Any] = {}


def evaluation_facts(evaluation: Evaluation) -> Facts:
    """Read the score snapshot stored with the evaluation (never re-scored: history stays)."""
    snapshot: Mapping[str, Any] = evaluation.score or _NOTHING
    behaviours: dict[str, float] = {}
    sections = snapshot.get("sections")
    if sections:
        grouped: dict[str, list[float]] = {}
        for section in sections.values():
            behaviour, value = section.get("behaviour"), section.get("score")
            if behaviour and value is not None:
                if behaviour in grouped:
                    grouped[behaviour].append(float(value))
                else:
                    grouped[behaviour] = [float(value)]
        # Most behaviours have one section: its score is the mean (sum([x]) / 1 == x for scores >= 0).
        behaviours = {b: v[0] if len(v) == 1 else sum(v) / len(v) for b, v in grouped.items()}
    overall = snapshot.get("overall")
    failures = snapshot.get("critical_failures")
    return Facts(float(overall) if overall is not None else None, behaviours, tuple(failures) if failures else ())


@dataclass(frozen=True)
class CriterionStat:
    """How one criterion of one scorecard went for one employee."""

    card_id: str
    criterion_id: str
    versions: tuple[str, ...]  # scorecard versions it was scored under, oldest first
    passes: int
    seen: int  # answered (not N/A)
    impact: float  # mean points per evaluation it cost, over all the employee's evaluations
    critical_failures: int

    @property
    def rate(self) -> ProportionInterval:
        return wilson_interval(self.passes, self.seen)


@dataclass(frozen=True)
class Lag:
    behaviour: str
    gap: float  # points below the mean of the other behaviours


@dataclass(frozen=True)
class EmployeeAnalysis:
    """Everything the employee page says, as numbers and ids (no wording yet)."""

    n: int
    headline: Verdict
    band: tuple[str, str] | None  # (scorecard id, band id) when the headline is conclusive
    behaviours: dict[str, Interval]
    periods: list[tuple[str, Interval]]
    strengths: list[CriterionStat]
    focus: list[CriterionStat]
    lag: Lag | None


def quarter(evaluation: Evaluation) -> str:
    moment = evaluation.started_at
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def _group_stats(
    card_id: str, criteria: tuple[str, ...], snapshots: list[Mapping[str, Any]], versions: list[str], n_total: int
) -> list[CriterionStat]:
    """Criterion stats over evaluations that share one list of criteria, as arrays (fast).

    A criterion's loss in an evaluation is the share of the score it cost: 100 * w * (1 - f) /
    (sum of the answered weights); a failed critical criterion also takes the rest of the score
    with it (shared between the failed critical criteria), so losses add up to 100 - overall.
    """
    rows = [s["criteria"] for s in snapshots]
    first = rows[0]
    weights = np.array([first[c]["weight"] for c in criteria], dtype=float)
    critical = np.array([bool(first[c]["critical"]) for c in criteria])
    # Every row has the criteria in the same order (they are grouped by that order): read values().
    # None (N/A) becomes NaN; going through an object array is twice as fast as letting numpy guess.
    shape = (len(rows), len(criteria))
    values = list(chain.from_iterable(r.values() for r in rows))
    fractions = np.array(list(map(itemgetter("fraction"), values)), dtype=object).astype(float).reshape(shape)
    passed = np.array(list(map(itemgetter("passed"), values)), dtype=object).astype(float).reshape(shape)
    return group_stats(card_id, criteria, weights, critical, fractions, passed, versions, n_total)


def group_stats(
    card_id: str,
    criteria: tuple[str, ...],
    weights: np.ndarray,
    critical: np.ndarray,
    fractions: np.ndarray,
    passed: np.ndarray,
    versions: Sequence[str],
    n_total: int,
) -> list[CriterionStat]:
    """Criterion stats of one group from its matrices (a row per evaluation, a column per criterion):
    `fractions` (NaN when N/A) and `passed` (1.0, 0.0, NaN when N/A) as floats."""
    answered = ~np.isnan(fractions)
    answered_weight = np.where(answered, weights, 0.0)
    totals = answered_weight.sum(axis=1)
    safe_totals = np.where(totals > 0, totals, 1.0)[:, None]
    earned = np.where(answered, fractions, 0.0) * weights
    losses = np.where(answered, 100.0 * answered_weight * (1.0 - np.nan_to_num(fractions)) / safe_totals, 0.0)
    failed_critical = critical & (passed == 0.0)
    count_failed = failed_critical.sum(axis=1)
    if count_failed.any():
        before_zeroing = 100.0 * earned.sum(axis=1) / safe_totals[:, 0]
        share = np.where(count_failed > 0, before_zeroing / np.maximum(count_failed, 1), 0.0)
        losses = losses + failed_critical * share[:, None]
    seen = answered.sum(axis=0)
    passes = np.nansum(passed, axis=0)
    impact = losses.sum(axis=0) / max(n_total, 1)
    critical_failures = failed_critical.sum(axis=0)
    ordered_versions = tuple(dict.fromkeys(versions))
    return [
        CriterionStat(
            card_id, cid, ordered_versions, int(passes[i]), int(seen[i]), float(impact[i]), int(critical_failures[i])
        )
        for i, cid in enumerate(criteria)
        if seen[i] > 0
    ]


def criterion_stats(evaluations: Sequence[Evaluation]) -> list[CriterionStat]:
    """Pass counts and mean points lost per (scorecard, criterion), merged across versions."""
    groups: dict[tuple[str, tuple[str, ...]], tuple[list[Mapping[str, Any]], list[str]]] = {}
    for evaluation in evaluations:
        snapshot = evaluation.score or {}
        criteria = snapshot.get("criteria")
        if not criteria:
            continue
        key = (evaluation.scorecard_id, tuple(criteria))
        snapshots, versions = groups.setdefault(key, ([], []))
        snapshots.append(snapshot)
        versions.append(evaluation.scorecard_version)
    return merge_stats(
        _group_stats(card_id, criteria, snapshots, versions, len(evaluations))
        for (card_id, criteria), (snapshots, versions) in groups.items()
    )


def merge_stats(groups: Iterable[list[CriterionStat]]) -> list[CriterionStat]:
    """One stat per (scorecard, criterion) from the stats of each group, in the groups' order."""
    merged: dict[tuple[str, str], CriterionStat] = {}
    for stats in groups:
        for stat in stats:
            at = (stat.card_id, stat.criterion_id)
            if at in merged:
                old = merged[at]
                stat = CriterionStat(
                    stat.card_id,
                    stat.criterion_id,
                    tuple(dict.fromkeys(old.versions + stat.versions)),
                    old.passes + stat.passes,
                    old.seen + stat.seen,
                    old.impact + stat.impact,
                    old.critical_failures + stat.critical_failures,
                )
            merged[at] = stat
    return [merged[key] for key in sorted(merged)]


def strengths_and_focus(stats: Iterable[CriterionStat]) -> tuple[list[CriterionStat], list[CriterionStat]]:
    """The best-established criteria, and the two or three that cost the most points."""
    stats = list(stats)
    candidates = [
        s for s in stats if s.seen >= MIN_SEEN and s.passes / s.seen >= STRENGTH_RATE and not s.critical_failures
    ]
    # Rank by the Wilson lower bound: 20 passes out of 20 is better established than 3 out of 3.
    strengths = sorted(candidates, key=lambda s: (-(s.rate.low or 0.0), -s.seen, s.card_id, s.criterion_id))
    strengths = strengths[:MAX_STRENGTHS]
    chosen = {(s.card_id, s.criterion_id) for s in strengths}
    focus = [s for s in stats if s.impact >= MIN_IMPACT and (s.card_id, s.criterion_id) not in chosen]
    focus.sort(key=lambda s: (-s.impact, s.card_id, s.criterion_id))
    return strengths, focus[:MAX_FOCUS]


def lagging_behaviour(behaviours: Mapping[str, Interval]) -> Lag | None:
    """The behaviour clearly behind the others: at least LAG_POINTS below the mean of the other
    behaviours' means, and its whole interval below that mean (so it is not visit noise)."""
    means = {b: i.mean for b, i in behaviours.items() if i.defined and i.mean is not None}
    worst: Lag | None = None
    for behaviour, interval in behaviours.items():
        others = [m for b, m in means.items() if b != behaviour]
        if not others or not interval.stdev or interval.mean is None or interval.high is None:
            continue  # no spread, no interval: nothing to tell from noise
        reference = sum(others) / len(others)
        gap = reference - interval.mean
        if gap >= LAG_POINTS and interval.high < reference and (worst is None or gap > worst.gap):
            worst = Lag(behaviour, gap)
    return worst


def headline_band(evaluations: Sequence[Evaluation], mean: float, cards: CardBook) -> tuple[str, str] | None:
    """The band of the mean on the scorecard most of the evaluations used."""
    return band_of(map(attrgetter("scorecard_id"), evaluations), mean, cards)


def band_of(card_ids: Iterable[str], mean: float, cards: CardBook) -> tuple[str, str] | None:
    """The band of the mean on the most used of these evaluations' scorecards."""
    counts: dict[str, int] = defaultdict(int)
    for card_id in card_ids:
        counts[card_id] += 1
    card_id = min(counts, key=lambda c: (-counts[c], c))
    card = cards.card(card_id)
    if card is None:
        return None
    return card_id, card.band_for(min(100.0, max(0.0, mean))).id


def analyse_employee(
    evaluations: Sequence[Evaluation], facts: Sequence[Facts], cards: CardBook, planning_stdev: float | None
) -> EmployeeAnalysis:
    """The numbers of one employee's page; `evaluations` are approved, oldest first."""
    scores = [f.overall for f in facts if f.overall is not None]
    headline = verdict(scores, fallback_stdev=planning_stdev)
    band = None
    if headline.conclusive and headline.interval.mean is not None:
        band = headline_band(evaluations, headline.interval.mean, cards)
    by_behaviour: dict[str, list[float]] = {b: [] for b in BEHAVIOURS}
    by_period: dict[str, list[float]] = defaultdict(list)
    for evaluation, fact in zip(evaluations, facts, strict=True):
        for behaviour, value in fact.behaviours.items():
            by_behaviour.setdefault(behaviour, []).append(value)
        if fact.overall is not None:
            by_period[quarter(evaluation)].append(fact.overall)
    behaviours = {b: mean_interval(values) for b, values in by_behaviour.items()}
    periods = [(p, mean_interval(by_period[p])) for p in sorted(by_period)[-TREND_PERIODS:]]
    strengths, focus = strengths_and_focus(criterion_stats(evaluations))
    return EmployeeAnalysis(
        n=len(scores),
        headline=headline,
        band=band,
        behaviours=behaviours,
        periods=periods,
        strengths=strengths,
        focus=focus,
        lag=lagging_behaviour(behaviours),
    )
