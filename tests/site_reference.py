"""The coaching site's numbers defined from the records' score snapshots, the way sitegen computed
them before it read the store's columns: the reference the columnar analysis (sitegen.frame) must
equal exactly (tests/test_site_build.py). Test code: the build never reads snapshots for numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np

from qa.models import Evaluation
from qa.scorecard_model import BEHAVIOURS
from qa.stats import mean_interval, verdict
from sitegen.analysis import (
    TREND_PERIODS,
    CriterionStat,
    EmployeeAnalysis,
    band_of,
    group_stats,
    lagging_behaviour,
    merge_stats,
    strengths_and_focus,
)
from sitegen.cards import CardBook


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


def headline_band(evaluations: Sequence[Evaluation], mean: float, cards: CardBook) -> tuple[str, str] | None:
    """The band of the mean on the scorecard most of the evaluations used."""
    return band_of(map(attrgetter("scorecard_id"), evaluations), mean, cards)


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
