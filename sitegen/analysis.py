"""What one employee's approved evaluations say, before any wording: scores with intervals, trends,
strengths, focus areas and lagging behaviours: the shapes and the shared arithmetic, pure
functions; sitegen.frame feeds them one employee's columns. (tests/site_reference.py defines the
same numbers from the records' score snapshots, and the tests hold the two equal.)

Every number comes from `qa.stats` (t intervals for means, Wilson for pass rates, `verdict` for
the headline) so that a page never shows a score without its uncertainty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.stats import Interval, ProportionInterval, Verdict, wilson_interval
from sitegen.cards import CardBook

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
