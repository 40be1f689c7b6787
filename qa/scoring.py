"""Answers -> criterion points -> section scores -> overall score, band and critical failures.

Scoring is pure: the same scorecard and answers always give the same result, so a stored
evaluation's snapshot can be recomputed and checked at any time. Sums are exact (`math.fsum`):
the order of criteria in a scorecard file must not move a score across a band's edge by a
rounding error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from math import fsum, isclose
from typing import Any

from qa.errors import AnswerError
from qa.scorecard_model import NA, Criterion, Points, Rating, Scorecard, YesNo, YesNoNA


@dataclass(frozen=True)
class CriterionResult:
    id: str
    section: str
    value: Any
    fraction: float | None  # 0..1 share of the weight earned; None when N/A or unanswered
    passed: bool | None
    weight: float
    critical: bool


@dataclass(frozen=True)
class SectionResult:
    id: str
    behaviour: str | None
    score: float | None  # 0..100 (weighted_percent) or the mean rating (sum_of_means); None when N/A
    answered: int


@dataclass(frozen=True)
class ScoreResult:
    overall: float | None
    band: str | None
    critical_failed: bool
    critical_failures: list[str]
    sections: dict[str, SectionResult]
    criteria: dict[str, CriterionResult]
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "band": self.band,
            "critical_failed": self.critical_failed,
            "critical_failures": list(self.critical_failures),
            "complete": self.complete,
            "sections": {k: asdict(v) for k, v in self.sections.items()},
            "criteria": {k: asdict(v) for k, v in self.criteria.items()},
        }


def answer_problem(criterion: Criterion, value: Any) -> str | None:
    """Why `value` is not a valid answer to `criterion`, or None when it is."""
    if value == NA:
        return None if criterion.allows_na else "N/A is not allowed for this criterion"
    scale = criterion.scale
    if isinstance(scale, (YesNo, YesNoNA)):
        allowed = "yes, no or na" if criterion.allows_na else "yes or no"
        return None if value in ("yes", "no") else f"{value!r} is not an answer on this scale (expected {allowed})"
    low = scale.min if isinstance(scale, Rating) else 0
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{value!r} is not a whole number from {low} to {scale.max}"
    if not low <= value <= scale.max:
        return f"{value} is outside the scale {low}..{scale.max}"
    return None


def fraction_of(criterion: Criterion, value: Any) -> float | None:
    """The share of the criterion's weight that a valid answer earns (None for N/A)."""
    if value == NA:
        return None
    scale = criterion.scale
    if isinstance(scale, (YesNo, YesNoNA)):
        return 1.0 if value == "yes" else 0.0
    if isinstance(scale, Rating):
        return (value - scale.min) / (scale.max - scale.min)
    assert isinstance(scale, Points)
    return value / scale.max


def passed(criterion: Criterion, value: Any) -> bool | None:
    if value == NA:
        return None
    if isinstance(criterion.scale, (YesNo, YesNoNA)):
        return value == "yes"
    return bool(value >= criterion.effective_pass_at)


def validate_answers(card: Scorecard, answers: Mapping[str, Any], *, partial: bool = False) -> dict[str, str]:
    """Every problem with the answers, keyed by criterion id (empty when all is well)."""
    known = {c.id: c for c in card.criteria()}
    problems = {key: "unknown criterion for this scorecard" for key in answers if key not in known}
    for cid, criterion in known.items():
        if cid not in answers or answers[cid] is None:
            if not partial:
                problems[cid] = "answer missing"
            continue
        problem = answer_problem(criterion, answers[cid])
        if problem:
            problems[cid] = problem
    return problems


def score(card: Scorecard, answers: Mapping[str, Any], *, partial: bool = False) -> ScoreResult:
    """Score answers against a scorecard; raise AnswerError naming each bad criterion.

    With `partial=True` (the running score while filling a form) unanswered criteria are left out
    instead of being errors; the result then says `complete=False`.
    """
    problems = validate_answers(card, answers, partial=partial)
    if problems:
        raise AnswerError(problems)
    criteria: dict[str, CriterionResult] = {}
    sections: dict[str, SectionResult] = {}
    for section in card.sections:
        earned: list[float] = []
        weights: list[float] = []
        answered = 0
        ratings: list[float] = []  # raw values, for sum_of_means (every criterion is a rating there)
        for c in section.criteria:
            value = answers.get(c.id)
            fraction = fraction_of(c, value) if value is not None else None
            criteria[c.id] = CriterionResult(
                id=c.id,
                section=section.id,
                value=value,
                fraction=fraction,
                passed=passed(c, value) if value is not None else None,
                weight=c.weight,
                critical=c.critical,
            )
            if fraction is not None:
                earned.append(c.weight * fraction)
                weights.append(c.weight)
                answered += 1
                if isinstance(c.scale, Rating) and isinstance(value, int):
                    ratings.append(float(value))
        if card.aggregation == "sum_of_means":
            section_score = fsum(ratings) / len(ratings) if ratings else None
        else:
            total = fsum(weights)
            section_score = 100.0 * fsum(earned) / total if total else None
        sections[section.id] = SectionResult(section.id, section.behaviour, section_score, answered)

    overall = _overall(card, criteria, sections)
    failures = [cid for cid, r in criteria.items() if r.critical and r.passed is False]
    if failures and overall is not None:
        overall = 0.0
    complete = all(answers.get(c.id) is not None for c in card.criteria())
    band = card.band_for(overall).id if overall is not None else None
    return ScoreResult(overall, band, bool(failures), failures, sections, criteria, complete)


def _overall(card: Scorecard, criteria: dict[str, CriterionResult], sections: dict[str, SectionResult]) -> float | None:
    if card.aggregation == "sum_of_means":
        means = [s.score for s in sections.values()]
        return None if any(m is None for m in means) else fsum(m for m in means if m is not None)
    earned = fsum(r.weight * r.fraction for r in criteria.values() if r.fraction is not None)
    total = fsum(r.weight for r in criteria.values() if r.fraction is not None)
    # Clamp away float noise (e.g. 100.00000000000001) so bands stay exact at their edges.
    return min(100.0, max(0.0, 100.0 * earned / total)) if total else None


def same_snapshot(stored: Any, rescored: Any) -> bool:
    """Whether a stored score snapshot is the one the answers give, up to float rounding.

    Snapshots written before sums were exact (plain left-to-right sums) differ from today's in
    the last digits of about one score in five; anything else (a band, a flag, a criterion, a
    score off by more than rounding) is a different snapshot.
    """
    if isinstance(stored, float) or isinstance(rescored, float):
        both_numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (stored, rescored))
        return both_numbers and isclose(stored, rescored, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(stored, Mapping) and isinstance(rescored, Mapping):
        return stored.keys() == rescored.keys() and all(same_snapshot(stored[k], rescored[k]) for k in stored)
    if isinstance(stored, (list, tuple)) and isinstance(rescored, (list, tuple)):
        return len(stored) == len(rescored) and all(same_snapshot(a, b) for a, b in zip(stored, rescored, strict=True))
    return bool(stored == rescored)
