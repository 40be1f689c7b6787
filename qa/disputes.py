"""Disputes: an employee contests an evaluation; a QA lead re-scores it or confirms it, on the record.

Life cycle, all through `Store.update_evaluation` so the audit log holds every step:
`open_dispute` (approved or submitted -> disputed, action "dispute_opened", which criteria and
why), then `rescore` (new answers and a new score snapshot, -> approved, "dispute_rescored") or
`confirm` (-> approved, "dispute_confirmed", with the reason). A disputed evaluation is held back
from coaching pages until resolved (`held_back`). Per criterion, `overturn_rates` says how often
disputes overturn it; `criterion_ambiguity` puts that next to the criterion's calibration alpha,
since both point at wording evaluators read differently. The store's disputed index
(`Store.mark_disputed`, qa/store_reviews.py) lists every evaluation ever disputed, so counting
overturns reads those audit logs only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from qa.auth import Actor, require
from qa.calibration import CalibrationBook, closed_answers_by_scorecard, scorecard_from_json
from qa.errors import AnswerError, NotFound, QAError
from qa.reliability import alpha, interpret, level_for, reliability_matrix
from qa.scorecard_model import Scorecard
from qa.scorecards import LoadedScorecard, load_all
from qa.scoring import score
from qa.stats import wilson_interval

OPENED, RESCORED, CONFIRMED = "dispute_opened", "dispute_rescored", "dispute_confirmed"
DISPUTE_ACTIONS = (OPENED, RESCORED, CONFIRMED)
DISPUTABLE = ("approved", "submitted")
# The store stamps every change (updated_at, the audit entry's time) with its own clock.


@dataclass(frozen=True)
class DisputeStep:
    """One step of a dispute as the audit log keeps it."""

    at: datetime
    by: str
    action: str
    criteria: list[str]
    reason: str | None
    changed: dict[str, list[Any]]  # criterion -> [old answer, new answer] (re-score only)
    overturned: list[str]
    overall: list[float | None] | None  # [old, new] overall score (re-score only)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        return out


@dataclass(frozen=True)
class CriterionOverturn:
    """How often resolved disputes on one criterion changed its answer (Wilson interval)."""

    scorecard_id: str
    criterion_id: str
    disputes: int
    overturned: int
    rate: float | None
    low: float | None
    high: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def held_back(evaluation: Any) -> bool:
    """A disputed evaluation stays off coaching pages until a QA lead resolves it."""
    return evaluation.status == "disputed"


def card_of(store: Any, evaluation: Any) -> Scorecard:
    """The scorecard at the evaluation's own version: a later edit must not rescore history."""
    try:
        return scorecard_from_json(store.get_scorecard_version(evaluation.scorecard_id, evaluation.scorecard_version))
    except NotFound:
        pass
    loaded = load_all().get(evaluation.scorecard_id)
    if loaded is not None and loaded.version == evaluation.scorecard_version:
        return loaded.card
    raise NotFound(
        f"scorecard {evaluation.scorecard_id!r} at version {evaluation.scorecard_version!r} is not known: "
        "cannot re-score this evaluation"
    )


def _evaluation(store: Any, evaluation_id: str) -> Any:
    return store.get_evaluation(evaluation_id)  # NotFound names the id


def _reason(reason: str | None, required: bool) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise QAError("a reason is required")
    return text or None


def _open_dispute_criteria(store: Any, evaluation_id: str) -> list[str]:
    for entry in reversed(store.audit_log(evaluation_id)):
        if entry.action == OPENED:
            return list(entry.details.get("criteria", []))
    return []


def open_dispute(
    store: Any,
    actor: Actor,
    evaluation_id: str,
    criteria: Sequence[str],
    reason: str,
) -> Any:
    """Record an employee's dispute: which criteria, why. The evaluation is held back until resolved."""
    require(actor, "disputes")
    evaluation = _evaluation(store, evaluation_id)
    _check_disputable(evaluation)
    card = card_of(store, evaluation)
    known = {c.id for c in card.criteria()}
    chosen = list(dict.fromkeys(c.strip() for c in criteria if c.strip()))
    if not chosen:
        raise QAError("name at least one disputed criterion")
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise AnswerError({c: f"not a criterion of scorecard {card.id!r}" for c in unknown})
    details = {"criteria": chosen, "reason": _reason(reason, True), "employee_id": evaluation.employee_id}
    store.mark_disputed([evaluation_id])  # before the dispute itself: see qa/store_reviews.py

    def decide(current: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
        _check_disputable(current)  # again, under the write lock: another lead may have opened it
        return {"status": "disputed"}, OPENED, details

    return store.update_evaluation_with(evaluation_id, decide, by=actor.name)


def _check_disputable(evaluation: Any) -> None:
    if evaluation.status not in DISPUTABLE:
        raise QAError(
            f"evaluation {evaluation.id!r} is {evaluation.status}: only an approved or submitted one can be disputed"
        )


def _check_disputed(evaluation: Any) -> None:
    if evaluation.status != "disputed":
        raise QAError(f"evaluation {evaluation.id!r} is {evaluation.status}, not disputed: nothing to resolve")


def rescore(
    store: Any,
    actor: Actor,
    evaluation_id: str,
    answers: Mapping[str, Any],
    *,
    reason: str | None = None,
) -> Any:
    """Resolve a dispute with new answers (only those given change) and a new score snapshot.

    The check that the evaluation is still disputed and the write are one step under the store's
    write lock (`update_evaluation_with`): a dispute is resolved once, whoever decides first.
    """
    require(actor, "disputes")
    _check_disputed(_evaluation(store, evaluation_id))  # the usual refusals, before the lock
    why = _reason(reason, False)

    def decide(evaluation: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
        _check_disputed(evaluation)
        card = card_of(store, evaluation)
        merged = {**evaluation.answers, **answers}
        result = score(card, merged, partial=not evaluation.score.get("complete", True))
        changed = {
            cid: [evaluation.answers.get(cid), value]
            for cid, value in answers.items()
            if evaluation.answers.get(cid) != value
        }
        disputed = _open_dispute_criteria(store, evaluation_id)
        details = {
            "criteria": disputed,
            "reason": why,
            "changed": changed,
            "overturned": [cid for cid in disputed if cid in changed],
            "overall": [evaluation.score.get("overall"), result.overall],
        }
        return {"answers": merged, "score": result.to_dict(), "status": "approved"}, RESCORED, details

    return store.update_evaluation_with(evaluation_id, decide, by=actor.name)


def confirm(store: Any, actor: Actor, evaluation_id: str, reason: str) -> Any:
    """Resolve a dispute by keeping the score, with the reason the employee will be given."""
    require(actor, "disputes")
    _check_disputed(_evaluation(store, evaluation_id))
    why = _reason(reason, True)

    def decide(evaluation: Any) -> tuple[dict[str, Any], str, dict[str, Any]]:
        _check_disputed(evaluation)  # under the write lock, as in `rescore`
        details = {"criteria": _open_dispute_criteria(store, evaluation_id), "reason": why, "overturned": []}
        return {"status": "approved"}, CONFIRMED, details

    return store.update_evaluation_with(evaluation_id, decide, by=actor.name)


def _step(entry: Any) -> DisputeStep:
    details = entry.details
    return DisputeStep(
        at=entry.at,
        by=entry.by,
        action=entry.action,
        criteria=list(details.get("criteria", [])),
        reason=details.get("reason"),
        changed=dict(details.get("changed", {})),
        overturned=list(details.get("overturned", [])),
        overall=details.get("overall"),
    )


def dispute_history(store: Any, actor: Actor, evaluation_id: str) -> list[DisputeStep]:
    """Every dispute step of one evaluation, oldest first, from the audit log."""
    require(actor, "disputes")
    _evaluation(store, evaluation_id)
    return [_step(entry) for entry in store.audit_log(evaluation_id) if entry.action in DISPUTE_ACTIONS]


def _ever_disputed(store: Any) -> Iterable[Any]:
    # The store marks every evaluation that becomes disputed; the status scan only finds those of
    # folders written before it did (still disputed, so not yet resolved).
    ids = store.disputed_ids() | {ev.id for ev in store.iter_evaluations(status="disputed")}
    for evaluation_id in sorted(ids):
        try:
            yield store.get_evaluation(evaluation_id)
        except NotFound:
            continue


def open_disputes(store: Any, actor: Actor) -> list[Any]:
    """Evaluations waiting for a decision, oldest first."""
    require(actor, "disputes")
    waiting = [ev for ev in store.iter_evaluations(status="disputed")]
    return sorted(waiting, key=lambda ev: (ev.updated_at or ev.started_at, ev.id))


def overturn_rates(store: Any, actor: Actor, scorecard_id: str | None = None) -> list[CriterionOverturn]:
    """Per (scorecard, criterion): resolved disputes naming it and how many changed its answer."""
    require(actor, "disputes")
    counts: dict[tuple[str, str], list[int]] = {}
    for evaluation in _ever_disputed(store):
        if scorecard_id is not None and evaluation.scorecard_id != scorecard_id:
            continue
        for entry in store.audit_log(evaluation.id):
            if entry.action not in (RESCORED, CONFIRMED):
                continue
            overturned = set(entry.details.get("overturned", []))
            for cid in entry.details.get("criteria", []):
                tally = counts.setdefault((evaluation.scorecard_id, cid), [0, 0])
                tally[0] += 1
                tally[1] += cid in overturned
    out = []
    for (card_id, cid), (n, k) in sorted(counts.items()):
        interval = wilson_interval(k, n)
        out.append(CriterionOverturn(card_id, cid, n, k, interval.proportion, interval.low, interval.high))
    return out


def criterion_ambiguity(
    store: Any, book: CalibrationBook, actor: Actor, loaded: LoadedScorecard, *, lang: str = "fr"
) -> list[dict[str, Any]]:
    """One row per criterion: calibration alpha pooled over closed sessions, and dispute overturns.

    Both reveal ambiguous wording; the guidance is included so that it can be rewritten. Alpha
    pools the closed sessions run on this version of the scorecard (its current wording).
    """
    require(actor, "calibrate")
    card = loaded.card
    pooled = closed_answers_by_scorecard(book, card.id, loaded.version)
    evaluators = sorted(pooled)
    units = sorted({unit for by_unit in pooled.values() for unit in by_unit})
    rates = {r.criterion_id: r for r in overturn_rates(store, actor, card.id)}
    rows = []
    for criterion in card.criteria():
        by_evaluator = {ev: {u: given.get(criterion.id) for u, given in pooled[ev].items()} for ev in evaluators}
        result = alpha(reliability_matrix(by_evaluator, units, evaluators), level_for(criterion))
        rate = rates.get(criterion.id)
        rows.append(
            {
                "criterion_id": criterion.id,
                "label": criterion.label.get(lang),
                "alpha": result.value,
                "interpretation": interpret(result.value),
                "pairable": result.pairable,
                "disputes": rate.disputes if rate else 0,
                "overturned": rate.overturned if rate else 0,
                "overturn_rate": rate.rate if rate else None,
                "overturn_low": rate.low if rate else None,
                "overturn_high": rate.high if rate else None,
                "guidance": criterion.guidance.get(lang),
            }
        )
    return rows
