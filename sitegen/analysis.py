"""What one employee's approved evaluations say, before any wording: scores with intervals, trends,
strengths, focus areas and lagging behaviours. Pure functions of the evaluations and scorecards.

Every number comes from `qa.stats` (t intervals for means, Wilson for pass rates, `verdict` for
the headline) so that a page never shows a score without its uncertainty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from qa.models import Evaluation
from qa.scorecard_model import BEHAVIOURS
from qa.stats import Interval, ProportionInterval, Verdict, mean_interval, verdict, wilson_interval
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


@dataclass(frozen=True, slots=True)
class Facts:
    """One evaluation reduced to what the pages aggregate (all scores on 0..100)."""

    overall: float | None
    behaviours: dict[str, float]
    passed: dict[str, bool]  # criterion id -> passed, for answered (not N/A) criteria
    losses: dict[str, float]  # criterion id -> points below 100 it accounts for (they sum to 100 - overall)
    critical_failures: tuple[str, ...]


def evaluation_facts(evaluation: Evaluation) -> Facts:
    """Reduce the score snapshot stored with the evaluation (never re-scored: history stays)."""
    snapshot: Mapping[str, Any] = evaluation.score or {}
    criteria: Mapping[str, Mapping[str, Any]] = snapshot.get("criteria") or {}
    total = 0.0
    earned = 0.0
    for result in criteria.values():
        fraction = result.get("fraction")
        if fraction is not None:
            total += result["weight"]
            earned += result["weight"] * fraction
    passed: dict[str, bool] = {}
    losses: dict[str, float] = {}
    failures = tuple(cid for cid, r in criteria.items() if r.get("critical") and r.get("passed") is False)
    before_zeroing = 100.0 * earned / total if total else 0.0
    for cid, result in criteria.items():
        fraction = result.get("fraction")
        if fraction is None:
            continue
        passed[cid] = bool(result.get("passed"))
        loss = 100.0 * result["weight"] * (1.0 - fraction) / total
        if cid in failures:  # a failed critical criterion takes the rest of the score with it
            loss += before_zeroing / len(failures)
        if loss > 0.0:
            losses[cid] = loss
    behaviours: dict[str, list[float]] = defaultdict(list)
    for section in (snapshot.get("sections") or {}).values():
        if section.get("behaviour") and section.get("score") is not None:
            behaviours[section["behaviour"]].append(float(section["score"]))
    overall = snapshot.get("overall")
    return Facts(
        overall=float(overall) if overall is not None else None,
        behaviours={b: sum(v) / len(v) for b, v in behaviours.items()},
        passed=passed,
        losses=losses,
        critical_failures=failures,
    )


@lru_cache(maxsize=65536)
def pass_rate(successes: int, n: int) -> ProportionInterval:
    """`wilson_interval`, memoised: it depends on two small integers and costs ~0.4 ms."""
    return wilson_interval(successes, n)


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
        return pass_rate(self.passes, self.seen)


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


def criterion_stats(evaluations: Sequence[Evaluation], facts: Sequence[Facts]) -> list[CriterionStat]:
    """Pass counts and mean points lost per (scorecard, criterion), in a stable order."""
    passes: dict[tuple[str, str], list[int]] = {}
    lost: dict[tuple[str, str], float] = defaultdict(float)
    critical: dict[tuple[str, str], int] = defaultdict(int)
    versions: dict[tuple[str, str], dict[str, None]] = defaultdict(dict)
    for evaluation, fact in zip(evaluations, facts, strict=True):
        card = evaluation.scorecard_id
        for cid, ok in fact.passed.items():
            counts = passes.setdefault((card, cid), [0, 0])
            counts[0] += ok
            counts[1] += 1
            versions[(card, cid)][evaluation.scorecard_version] = None
        for cid, loss in fact.losses.items():
            lost[(card, cid)] += loss
        for cid in fact.critical_failures:
            critical[(card, cid)] += 1
    n = max(len(evaluations), 1)
    return [
        CriterionStat(card, cid, tuple(versions[key]), k, seen, lost[key] / n, critical[key])
        for key, (k, seen) in sorted(passes.items())
        for card, cid in [key]
    ]


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
    """The behaviour clearly behind the others (gap >= LAG_POINTS and beyond its own interval)."""
    defined = {b: i for b, i in behaviours.items() if i.defined and i.mean is not None}
    worst: Lag | None = None
    for behaviour, interval in defined.items():
        others = [i.mean for b, i in defined.items() if b != behaviour and i.mean is not None]
        if not others or interval.mean is None or interval.high is None:
            continue
        reference = sum(others) / len(others)
        gap = reference - interval.mean
        if gap >= LAG_POINTS and interval.high < reference and (worst is None or gap > worst.gap):
            worst = Lag(behaviour, gap)
    return worst


def headline_band(evaluations: Sequence[Evaluation], mean: float, cards: CardBook) -> tuple[str, str] | None:
    """The band of the mean on the scorecard most of the evaluations used."""
    counts: dict[str, int] = defaultdict(int)
    for evaluation in evaluations:
        counts[evaluation.scorecard_id] += 1
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
    strengths, focus = strengths_and_focus(criterion_stats(evaluations, facts))
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
