"""Calibration sessions: do evaluators agree? Krippendorff's alpha per criterion and overall.

In a calibration session every evaluator scores the same units (a recorded call, a filmed
visit). Their answers become reliability data (coders x units, N/A and missing as NaN), alpha
comes from the `krippendorff` package, and each evaluator's overall scores are compared with the
consensus. Pure functions over plain dicts; results are dataclasses with `to_dict()` for `--json`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any, Literal

import krippendorff
import numpy as np

from qa.errors import AnswerError
from qa.scorecard_model import NA, Criterion, Points, Rating, Scorecard, YesNo, YesNoNA
from qa.scoring import answer_problem, fraction_of, score

Level = Literal["nominal", "ordinal", "interval"]

# Krippendorff (2004, Content Analysis, 2nd ed.): rely on variables with alpha >= .800,
# draw only tentative conclusions from .667 <= alpha < .800, and none below .667.
RELIABLE = 0.800
TENTATIVE = 0.667

# The overall alpha pools every criterion as the 0..1 share of its weight an answer earns, on
# the interval metric: the overall score is a weighted mean of exactly these shares, so squared
# differences between them are the disagreements that move the published score. Ordinal would
# rank 1/3 (points) against 1/4 (rating) by how often they occur, which means nothing here.
OVERALL_LEVEL: Level = "interval"


@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's alpha, or None with the reason it is undefined."""

    value: float | None
    level: str
    pairable: int  # values in units answered by at least two coders: what alpha is computed on
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CriterionReliability:
    criterion_id: str
    alpha: AlphaResult
    agreement: float | None  # observed share of agreeing pairs of answers, 0..1
    interpretation: str
    guidance: str | None  # the criterion's guidance, shown when evaluators read it differently

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # nested dataclasses become dicts too


@dataclass(frozen=True)
class UnitDeviation:
    unit_id: str
    score: float
    consensus: float
    difference: float  # evaluator's score - consensus (positive: more lenient)


@dataclass(frozen=True)
class EvaluatorDeviation:
    evaluator: str
    units: list[UnitDeviation]
    mean_abs_difference: float | None
    mean_difference: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CalibrationReport:
    scorecard_id: str
    units: list[str]
    evaluators: list[str]
    consensus: str  # "reference" or "others"
    criteria: list[CriterionReliability]
    overall: AlphaResult
    overall_interpretation: str
    deviations: list[EvaluatorDeviation]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scorecard_id": self.scorecard_id,
            "units": list(self.units),
            "evaluators": list(self.evaluators),
            "consensus": self.consensus,
            "criteria": [c.to_dict() for c in self.criteria],
            "overall": self.overall.to_dict(),
            "overall_interpretation": self.overall_interpretation,
            "deviations": [d.to_dict() for d in self.deviations],
        }


def level_for(criterion: Criterion) -> Level:
    """Nominal for yes/no answers, ordinal for ratings and points (ordered, unequal steps)."""
    if isinstance(criterion.scale, (YesNo, YesNoNA)):
        return "nominal"
    assert isinstance(criterion.scale, (Rating, Points))
    return "ordinal"


def _code(answer: Any) -> float:
    if answer is None or answer == NA:
        return np.nan
    if answer == "yes":
        return 1.0
    if answer == "no":
        return 0.0
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise ValueError(f"{answer!r} is not an answer (expected yes, no, na or a number)")
    return float(answer)


def reliability_matrix(
    answers_by_evaluator: Mapping[str, Mapping[str, Any]],
    units: Sequence[str],
    evaluators: Sequence[str],
) -> np.ndarray:
    """Reliability data, one row per evaluator and one column per unit, in the orders given.

    yes -> 1, no -> 0, numbers as they are; N/A, None and missing answers are NaN (missing).
    """
    matrix = np.full((len(evaluators), len(units)), np.nan)
    for row, evaluator in enumerate(evaluators):
        given = answers_by_evaluator.get(evaluator, {})
        for column, unit in enumerate(units):
            matrix[row, column] = _code(given.get(unit))
    return matrix


def _pairable_values(matrix: np.ndarray) -> np.ndarray:
    data = np.asarray(matrix, dtype=float)
    answered = ~np.isnan(data)
    paired_units = answered.sum(axis=0) >= 2
    return data[:, paired_units][answered[:, paired_units]]


def alpha(matrix: np.ndarray, level: Level) -> AlphaResult:
    """Krippendorff's alpha of reliability data (coders x units, NaN missing), never raising.

    Undefined, with the reason, when no unit has two answers (fewer than 2 pairable values) or
    every pairable answer is the same (no variation: expected disagreement is 0, alpha is 0/0).
    """
    values = _pairable_values(matrix)
    if values.size < 2:
        reason = "fewer than 2 pairable values: no unit was answered by two evaluators"
        return AlphaResult(None, level, int(values.size), reason)
    distinct = np.unique(values)
    if distinct.size < 2:
        reason = f"no variation: every pairable answer is {distinct[0]:g}"
        return AlphaResult(None, level, int(values.size), reason)
    value = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    return AlphaResult(float(value), level, int(values.size))


def agreement(matrix: np.ndarray) -> float | None:
    """Observed percent agreement: the share of pairs of answers to the same unit that are equal.

    Every pair of coders who both answered a unit counts once, pooled over units. None without
    any pair. Shown beside alpha because it is what evaluators intuitively expect, but it is
    inflated when one answer dominates (95% "yes" agree by chance); alpha corrects for that.
    """
    data = np.asarray(matrix, dtype=float)
    equal = pairs = 0
    for column in data.T:
        answered = column[~np.isnan(column)]
        for a, b in combinations(answered, 2):
            pairs += 1
            equal += bool(a == b)
    return equal / pairs if pairs else None


def interpret(value: float | None) -> str:
    """Krippendorff's reading of alpha: reliable, tentative, ambiguous (or undefined)."""
    if value is None:
        return "undefined"
    if value >= RELIABLE:
        return "reliable"
    if value >= TENTATIVE:
        return "tentative"
    return "ambiguous"


def _check_answers(card: Scorecard, answers: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
    by_id = {c.id: c for c in card.criteria()}
    problems: dict[str, str] = {}
    for evaluator, by_unit in answers.items():
        for unit, given in by_unit.items():
            for cid, value in given.items():
                where = f"{evaluator}/{unit}/{cid}"
                if cid not in by_id:
                    problems[where] = "unknown criterion for this scorecard"
                elif value is not None and (problem := answer_problem(by_id[cid], value)):
                    problems[where] = problem
    if problems:
        raise AnswerError(problems)


def _overall_scores(
    card: Scorecard, by_unit: Mapping[str, Mapping[str, Any]], units: Sequence[str]
) -> dict[str, float]:
    overall = {}
    for unit in units:
        if unit in by_unit:
            given = {k: v for k, v in by_unit[unit].items() if v is not None}
            result = score(card, given, partial=True).overall
            if result is not None:
                overall[unit] = result
    return overall


def _consensus_of_others(
    evaluator: str, scores: Mapping[str, Mapping[str, float]], units: Sequence[str]
) -> dict[str, float]:
    consensus = {}
    for unit in units:
        others = [by_unit[unit] for ev, by_unit in scores.items() if ev != evaluator and unit in by_unit]
        if others:
            consensus[unit] = float(np.mean(others))
    return consensus


def _deviation(evaluator: str, own: Mapping[str, float], consensus: Mapping[str, float]) -> EvaluatorDeviation:
    rows = [
        UnitDeviation(unit, value, consensus[unit], value - consensus[unit])
        for unit, value in own.items()
        if unit in consensus
    ]
    if not rows:
        return EvaluatorDeviation(evaluator, [], None, None)
    differences = [row.difference for row in rows]
    return EvaluatorDeviation(
        evaluator,
        rows,
        float(np.mean(np.abs(differences))),
        float(np.mean(differences)),
    )


def calibration_report(
    scorecard: Scorecard,
    units: Sequence[str],
    answers: Mapping[str, Mapping[str, Mapping[str, Any]]],
    reference: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    lang: str = "fr",
) -> CalibrationReport:
    """Reliability of one calibration session: `answers` is {evaluator: {unit: {criterion: answer}}}.

    Per criterion: alpha at the criterion's level, observed agreement, interpretation, and the
    criterion's guidance when alpha is ambiguous. Overall: alpha of all criteria pooled as earned
    fractions on the interval metric (see OVERALL_LEVEL). Per evaluator: overall scores
    (qa.scoring.score, unanswered criteria left out) against the consensus of each unit, the
    `reference` answers' score when given ({unit: {criterion: answer}}, not counted in alpha),
    else the mean of the other evaluators' scores; reported per unit and as mean differences, in
    the scorecard's own units (0..100 points, or the sum of means for sum_of_means scorecards).
    A failed critical criterion scores 0, so one disagreement on it shows as a large deviation:
    that is the point, since it is what the employee would see.
    Raises AnswerError naming evaluator/unit/criterion for an answer that does not fit the card.
    """
    _check_answers(scorecard, answers)
    if reference is not None:
        _check_answers(scorecard, {"reference": reference})
    evaluators = sorted(answers)
    criteria = scorecard.criteria()

    per_criterion = []
    pooled_rows: list[np.ndarray] = []
    for criterion in criteria:
        by_evaluator = {ev: {unit: given.get(criterion.id) for unit, given in answers[ev].items()} for ev in evaluators}
        matrix = reliability_matrix(by_evaluator, units, evaluators)
        result = alpha(matrix, level_for(criterion))
        reading = interpret(result.value)
        guidance = criterion.guidance.get(lang) if reading == "ambiguous" else None
        per_criterion.append(CriterionReliability(criterion.id, result, agreement(matrix), reading, guidance))
        fractions = {
            ev: {unit: fraction_of(criterion, value) for unit, value in by_evaluator[ev].items() if value is not None}
            for ev in evaluators
        }
        pooled_rows.append(reliability_matrix(fractions, units, evaluators))
    pooled = np.hstack(pooled_rows) if pooled_rows else np.empty((len(evaluators), 0))
    overall = alpha(pooled, OVERALL_LEVEL)

    scores = {ev: _overall_scores(scorecard, answers[ev], units) for ev in evaluators}
    reference_scores = None if reference is None else _overall_scores(scorecard, reference, units)
    deviations = []
    for ev in evaluators:
        consensus = reference_scores if reference_scores is not None else _consensus_of_others(ev, scores, units)
        deviations.append(_deviation(ev, scores[ev], consensus))

    return CalibrationReport(
        scorecard_id=scorecard.id,
        units=list(units),
        evaluators=evaluators,
        consensus="reference" if reference is not None else "others",
        criteria=per_criterion,
        overall=overall,
        overall_interpretation=interpret(overall.value),
        deviations=deviations,
    )
