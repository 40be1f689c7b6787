"""Evaluations from draft to review: autosaved drafts, validated idempotent submission, approval and return.

Every function takes the acting user (`qa.auth.Actor`) and checks its rights here, so that a page,
a script or a crafted call is refused alike: a shopper only ever reads or changes their own
drafts and evaluations. An evaluation that is not visible to the actor is reported as not found,
so its existence is not revealed either.

A draft's state is a JSON-ready dict (`new_state`): the canonical form state kept by the app and
saved in the store on every change. Its evaluation id is fixed when the draft is created, so a
repeated submission (a double tap) reaches the store's idempotency and creates one evaluation.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from qa.auth import Actor, can_read_evaluation, require
from qa.errors import AnswerError, NotFound, PermissionDenied, QAError
from qa.evaluation_checks import parse_moment, problems, with_measured
from qa.models import Assignment, AuditEntry, Draft, Employee, Evaluation, Interaction, validated
from qa.scorecard_model import Scorecard
from qa.scorecards import LoadedScorecard
from qa.scoring import score

Clock = Callable[[], datetime]
STATE_FORMAT = 1
MAX_COMMENT = 2000


def utcnow() -> datetime:
    return datetime.now(UTC)


class IncompleteEvaluation(AnswerError):
    """Submission refused: `codes` maps each field with a problem to its code (see qa.evaluation_checks)."""

    def __init__(self, codes: dict[str, str]) -> None:
        self.codes = codes
        super().__init__(dict(codes))


def new_evaluation_id() -> str:
    return f"ev-{secrets.token_hex(8)}"


def visit_key(evaluation_id: str) -> str:
    return f"visit:{evaluation_id}"


def interaction_key(interaction_id: str) -> str:
    return f"interaction:{interaction_id}"


def new_state(loaded: LoadedScorecard, *, now: datetime, evaluation_id: str | None = None) -> dict[str, Any]:
    """The empty form state of a new evaluation on `loaded` (see the module docstring)."""
    evaluation_id = evaluation_id or new_evaluation_id()
    return {
        "format": STATE_FORMAT,
        "key": visit_key(evaluation_id),
        "evaluation_id": evaluation_id,
        "scorecard_id": loaded.id,
        "scorecard_version": loaded.version,
        "channel": loaded.card.channels[0],
        "employee_id": None,
        "interaction_id": None,
        "assignment": None,
        "context": {},
        "answers": {},
        "comments": {},
        "debrief": {},
        "photos": [],
        "step": 0,
        "created_at": now.isoformat(),
        "correcting": False,
    }


def _maybe(lookup: Callable[[str], Any], key: str) -> Any:
    """A store record, or None when it does not exist (the store raises NotFound)."""
    try:
        return lookup(key)
    except NotFound:
        return None


def _save(store, actor: Actor, state: dict[str, Any]) -> dict[str, Any]:
    # A copy: the store keeps (and caches) what it is given, the app goes on editing its own.
    store.save_draft(actor.name, state["key"], copy.deepcopy(state))
    return state


def start_visit(
    store, actor: Actor, loaded: LoadedScorecard, *, clock: Clock = utcnow, tz: tzinfo | None = None
) -> dict[str, Any]:
    """A new mystery-visit draft, saved at once so that it survives a reload.

    The visit's date and time start as now in `tz` (the shop's time zone: it decides the month).
    """
    require(actor, "evaluate")
    if "face_to_face" not in loaded.card.channels:
        raise QAError(f"scorecard {loaded.id} is not for face-to-face visits")
    state = new_state(loaded, now=clock())
    state["channel"] = "face_to_face"
    # Prefill the visit's date and time with now: the shopper fills the form just after the visit.
    for field in loaded.card.context:
        if field.type == "datetime":
            state["context"][field.id] = clock().astimezone(tz).isoformat(timespec="minutes")
            break
    return _save(store, actor, state)


def _assignment_for(store, actor: Actor, interaction_id: str) -> Assignment | None:
    mine = [a for a in store.assignments(evaluator=actor.name) if a.interaction_id == interaction_id]
    open_first = sorted(mine, key=lambda a: a.status not in ("open", "in_progress"))
    return open_first[0] if open_first else None


def interaction_channel(store, actor: Actor, interaction_id: str) -> str:
    """The channel of an interaction the actor may evaluate (to pick its scorecard)."""
    require(actor, "evaluate")
    interaction = _maybe(store.get_interaction, interaction_id) if interaction_id else None
    if interaction is None or (_assignment_for(store, actor, interaction_id) is None and not actor.can("view_all")):
        raise NotFound(f"no interaction {interaction_id!r} to evaluate")
    return interaction.channel


def start_call(
    store, actor: Actor, loaded: LoadedScorecard, interaction_id: str, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """The draft for evaluating one recorded call: resumed when one exists, else created.

    A QA lead may evaluate any interaction; anyone else only an interaction assigned to them.
    """
    require(actor, "evaluate")
    existing = store.get_draft(actor.name, interaction_key(interaction_id))
    if existing is not None:
        return copy.deepcopy(existing.state)  # the store's record is shared: never edit it
    interaction = _maybe(store.get_interaction, interaction_id)
    assignment = _assignment_for(store, actor, interaction_id)
    if interaction is None or (assignment is None and not actor.can("view_all")):
        raise NotFound(f"no interaction {interaction_id!r} to evaluate")
    if interaction.channel not in loaded.card.channels:
        raise QAError(f"scorecard {loaded.id} does not cover {interaction.channel} interactions")
    state = new_state(loaded, now=clock())
    state.update(
        key=interaction_key(interaction_id),
        channel=interaction.channel,
        employee_id=interaction.employee_id,
        interaction_id=interaction_id,
        assignment={"draw_id": assignment.draw_id} if assignment else None,
    )
    for field in loaded.card.context:
        if field.type == "interaction":
            state["context"][field.id] = interaction_id
        elif field.type == "datetime" and field.id not in state["context"]:
            state["context"][field.id] = interaction.started_at.isoformat(timespec="minutes")
        elif field.id == "duration_seconds" and field.type == "duration" and interaction.duration_seconds is not None:
            state["context"][field.id] = interaction.duration_seconds
    return _save(store, actor, state)


def drafts(store, actor: Actor) -> list[Draft]:
    """The actor's own drafts, the most recently changed first."""
    require(actor, "evaluate")
    return sorted(store.drafts_for(actor.name), key=lambda d: d.updated_at, reverse=True)


def resume(store, actor: Actor, key: str) -> dict[str, Any] | None:
    """The state of one of the actor's drafts (None when there is none under that key)."""
    require(actor, "evaluate")
    draft = store.get_draft(actor.name, key)
    return copy.deepcopy(draft.state) if draft is not None else None


def autosave(store, actor: Actor, state: dict[str, Any]) -> None:
    """Save the form state as the actor's draft (called on every change)."""
    require(actor, "evaluate")
    _save(store, actor, state)


def discard(store, actor: Actor, key: str) -> None:
    require(actor, "evaluate")
    store.delete_draft(actor.name, key)


def visit_employees(store, actor: Actor) -> list[Employee]:
    """The active employees a shopper can name as the one who served them."""
    require(actor, "evaluate")
    return store.list_employees(active_only=True)


def employee_of(store, actor: Actor, state: dict[str, Any]) -> Employee | None:
    """The employee the draft evaluates (None until chosen or when unknown)."""
    require(actor, "evaluate")
    return _maybe(store.get_employee, state["employee_id"]) if state.get("employee_id") else None


def interaction_of(store, actor: Actor, state: dict[str, Any]) -> Interaction | None:
    """The call the draft evaluates, if any (for its recording)."""
    require(actor, "evaluate")
    return _maybe(store.get_interaction, state["interaction_id"]) if state.get("interaction_id") else None


def draft_problems(store, actor: Actor, loaded: LoadedScorecard, state: dict[str, Any]) -> dict[str, str]:
    """What the draft still lacks before it can be submitted (codes, see qa.evaluation_checks)."""
    known = employee_of(store, actor, state) is not None
    return problems(loaded.card, state, employee_known=known)


def _started_at(loaded: LoadedScorecard, state: dict[str, Any], store) -> datetime:
    """When the visit or call happened: it decides the month the evaluation belongs to."""
    if state.get("interaction_id"):
        interaction = _maybe(store.get_interaction, state["interaction_id"])
        if interaction is not None:
            return interaction.started_at
    for field in loaded.card.context:
        if field.type == "datetime":
            moment = parse_moment(state["context"].get(field.id))
            if moment is not None:
                return moment
    return parse_moment(state.get("created_at")) or utcnow()


def _clean_texts(values: Any, limit: int) -> dict[str, str]:
    if not isinstance(values, dict):
        return {}
    return {str(k): str(v)[:limit] for k, v in values.items() if isinstance(v, str) and v.strip()}


def submit(store, actor: Actor, loaded: LoadedScorecard, state: dict[str, Any], *, clock: Clock = utcnow) -> Evaluation:
    """Validate the draft, write the evaluation durably with its score, then remove the draft.

    Raises IncompleteEvaluation (nothing written, the draft kept) when answers are missing or wrong.
    Submitting the same draft again returns the evaluation already written.
    """
    require(actor, "evaluate")
    evaluation_id = state["evaluation_id"]
    existing = _maybe(store.get_evaluation, evaluation_id)
    if existing is not None and existing.evaluator != actor.name:
        raise NotFound(f"no evaluation {evaluation_id!r}")
    if existing is not None and existing.status != "returned":
        store.delete_draft(actor.name, state["key"])  # a repeated tap: already written
        return existing
    if state.get("scorecard_id") != loaded.id:
        raise QAError(f"this draft is for scorecard {state.get('scorecard_id')}, not {loaded.id}")
    employee = state.get("employee_id")
    codes = draft_problems(store, actor, loaded, state)
    if codes:
        raise IncompleteEvaluation(codes)
    now = clock()
    answers = {c.id: state["answers"][c.id] for c in loaded.card.criteria()}
    photos = [p for p in state.get("photos") or [] if p.startswith(f"photos/{evaluation_id}/")]
    record: dict[str, Any] = {
        "scorecard_id": loaded.id,
        "scorecard_version": loaded.version,
        "visit": with_measured(loaded.card, state.get("context") or {}),
        "answers": answers,
        "comments": _clean_texts(state.get("comments"), MAX_COMMENT),
        "debrief": _clean_texts(state.get("debrief"), 5000),
        "photos": photos,
        "score": score(loaded.card, answers).to_dict(),
        "submitted_at": now,
        "updated_at": now,
        "status": "submitted",
    }
    _remember(store, loaded)
    if existing is not None:  # a returned evaluation, corrected by its evaluator
        evaluation = store.update_evaluation(
            evaluation_id, record, by=actor.name, action="resubmit", details={"fields": sorted(record)}
        )
    else:
        evaluation = store.submit_evaluation(
            validated(
                Evaluation,
                {
                    "id": evaluation_id,
                    "evaluator": actor.name,
                    "employee_id": employee,
                    "interaction_id": state.get("interaction_id"),
                    "channel": state["channel"],
                    "started_at": _started_at(loaded, state, store),
                    **record,
                },
            )
        )
    _close_assignment(store, actor, state, evaluation_id)
    store.delete_draft(actor.name, state["key"])
    return evaluation


def _remember(store, loaded: LoadedScorecard) -> None:
    """Keep this scorecard version in the store so old evaluations stay readable after edits."""
    # Only the fields the author set, as every other writer does (a full dump does not read back).
    store.remember_scorecard(loaded.id, loaded.version, loaded.card.model_dump(mode="json", exclude_unset=True))


def _close_assignment(store, actor: Actor, state: dict[str, Any], evaluation_id: str) -> None:
    if not state.get("assignment") or not state.get("interaction_id"):
        return
    draw_id = state["assignment"]["draw_id"]
    for assignment in store.assignments(draw_id=draw_id, evaluator=actor.name):
        if assignment.interaction_id == state["interaction_id"]:
            done = assignment.model_copy(update={"status": "done", "evaluation_id": evaluation_id})
            store.save_assignments([done])


def my_assignments(store, actor: Actor) -> list[Assignment]:
    """The actor's assignments still to do."""
    require(actor, "evaluate")
    return [a for a in store.assignments(evaluator=actor.name) if a.status in ("open", "in_progress")]


@dataclass(frozen=True)
class QueueItem:
    """One assigned call still to evaluate, with what the evaluator needs to pick it."""

    assignment: Assignment
    interaction: Interaction | None
    employee: Employee | None


def queue(store, actor: Actor) -> list[QueueItem]:
    """The actor's open assignments with their call and employee, the oldest call first."""
    items = [
        QueueItem(a, _maybe(store.get_interaction, a.interaction_id), _maybe(store.get_employee, a.employee_id))
        for a in my_assignments(store, actor)
    ]
    far_future = datetime.max.replace(tzinfo=UTC)
    return sorted(
        items, key=lambda i: (i.interaction.started_at if i.interaction else far_future, i.assignment.interaction_id)
    )


def scorecard_of(store, actor: Actor, evaluation: Evaluation) -> Scorecard | None:
    """The scorecard exactly as it was when the evaluation was scored (None if not stored)."""
    from qa.calibration import scorecard_from_json  # heavy (statistics); only the detail views need it

    open_evaluation(store, actor, evaluation.id)
    try:
        return scorecard_from_json(store.get_scorecard_version(evaluation.scorecard_id, evaluation.scorecard_version))
    except (NotFound, ValueError):
        return None


def employee_name(store, actor: Actor, evaluation: Evaluation) -> str:
    """The display name of the evaluated employee (their id when unknown)."""
    open_evaluation(store, actor, evaluation.id)
    employee = _maybe(store.get_employee, evaluation.employee_id)
    return employee.display_name if employee else evaluation.employee_id


def open_evaluation(store, actor: Actor, evaluation_id: str) -> Evaluation:
    """One evaluation the actor may read; not found otherwise (whether or not it exists)."""
    evaluation = _maybe(store.get_evaluation, evaluation_id) if isinstance(evaluation_id, str) else None
    if evaluation is None or not can_read_evaluation(actor, evaluation.evaluator):
        raise NotFound(f"no evaluation {evaluation_id!r}")
    return evaluation


def visible_evaluations(store, actor: Actor, *, status: str | None = None, mine: bool = False) -> list[Evaluation]:
    """The evaluations the actor may read (only their own for a shopper), the newest first."""
    if not (actor.can("view_own") or actor.can("view_all")):
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not view evaluations")
    only_own = mine or not actor.can("view_all")
    # One's own through the store's index by evaluator: scanning every evaluation to keep one
    # evaluator's took 6-10 s at 100,000 evaluations, on every rerun of Mes évaluations.
    found: Iterable[Evaluation] = (
        store.evaluations_by_evaluator(actor.name, status=status) if only_own else store.iter_evaluations(status=status)
    )
    return sorted(found, key=lambda e: e.submitted_at or e.started_at, reverse=True)


def recent_evaluations(store, actor: Actor, *, months: int = 2, clock: Clock = utcnow) -> list[Evaluation]:
    """The actor's own evaluations started in the last `months` calendar months, plus every one
    returned to them (whatever its month), the newest first.

    Read through the store's index by evaluator (each file's header, then only the actor's
    records), so the page stays quick with 100,000 evaluations.
    """
    if not actor.can("view_own"):
        raise PermissionDenied(f"{actor.name} ({actor.role}) may not view evaluations")
    now = clock()
    year, month, wanted = now.year, now.month, []
    for _ in range(months):
        wanted.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    found = {e.id: e for e in store.evaluations_by_evaluator(actor.name, months=wanted)}
    found.update({e.id: e for e in store.evaluations_by_evaluator(actor.name, status="returned")})
    return sorted(found.values(), key=lambda e: e.submitted_at or e.started_at, reverse=True)


def history(store, actor: Actor, evaluation_id: str) -> list[AuditEntry]:
    """The audit entries of an evaluation the actor may read, oldest first."""
    open_evaluation(store, actor, evaluation_id)
    return sorted(store.audit_log(evaluation_id), key=lambda e: e.seq)


def return_comment(store, actor: Actor, evaluation_id: str) -> str | None:
    """The reviewer's comment of the latest return, for the evaluator to act on."""
    returns = [e for e in history(store, actor, evaluation_id) if e.action == "return"]
    return str(returns[-1].details.get("comment", "")) if returns else None


def review_queue(store, actor: Actor) -> list[Evaluation]:
    """Submitted evaluations waiting for a QA lead, the oldest first."""
    require(actor, "review")
    waiting = store.iter_evaluations(status="submitted")
    return sorted(waiting, key=lambda e: e.submitted_at or e.started_at)


def approve(store, actor: Actor, evaluation_id: str) -> Evaluation:
    """Approve a submitted evaluation: only approved evaluations reach the coaching site."""
    require(actor, "review")
    return _decide(store, actor, evaluation_id, "approved", "approve", {})


def return_to_evaluator(store, actor: Actor, evaluation_id: str, comment: str) -> Evaluation:
    """Send an evaluation back to its evaluator with a comment saying what to correct."""
    require(actor, "review")
    comment = (comment or "").strip()
    if not comment:
        raise QAError("a returned evaluation needs a comment for its evaluator")
    if len(comment) > MAX_COMMENT:
        raise QAError(f"the comment is too long ({len(comment)} characters, at most {MAX_COMMENT})")
    return _decide(store, actor, evaluation_id, "returned", "return", {"comment": comment})


def _decide(store, actor: Actor, evaluation_id: str, status: str, action: str, details: dict[str, Any]) -> Evaluation:
    """A QA lead's decision on a submitted (or disputed) evaluation, with its audit entry."""
    open_evaluation(store, actor, evaluation_id)

    def decide(current: Evaluation) -> tuple[dict[str, Any], str, dict[str, Any]]:
        # Checked again under the write lock: two leads deciding at once must not both decide.
        if current.status not in ("submitted", "disputed"):
            raise QAError(f"evaluation {evaluation_id} is {current.status}: only a submitted one can be {status}")
        return {"status": status}, action, details

    return store.update_evaluation_with(evaluation_id, decide, by=actor.name)


def reopen(store, actor: Actor, evaluation_id: str, *, clock: Clock = utcnow) -> dict[str, Any]:
    """A draft to correct one of the actor's returned evaluations (resumed if already open)."""
    require(actor, "evaluate")
    evaluation = open_evaluation(store, actor, evaluation_id)
    if evaluation.evaluator != actor.name:
        raise PermissionDenied("only its evaluator can correct a returned evaluation")
    if evaluation.status != "returned":
        raise QAError(f"evaluation {evaluation_id} is {evaluation.status}: only a returned one can be corrected")
    key = interaction_key(evaluation.interaction_id) if evaluation.interaction_id else visit_key(evaluation_id)
    existing = store.get_draft(actor.name, key)
    if existing is not None:
        return copy.deepcopy(existing.state)  # the store's record is shared: never edit it
    state = {
        "format": STATE_FORMAT,
        "key": key,
        "evaluation_id": evaluation.id,
        "scorecard_id": evaluation.scorecard_id,
        "scorecard_version": evaluation.scorecard_version,
        "channel": evaluation.channel,
        "employee_id": evaluation.employee_id,
        "interaction_id": evaluation.interaction_id,
        "assignment": None,
        "context": dict(evaluation.visit or {}),
        "answers": dict(evaluation.answers),
        "comments": dict(evaluation.comments),
        "debrief": dict(evaluation.debrief),
        "photos": list(evaluation.photos),
        "step": 0,
        "created_at": clock().isoformat(),
        "correcting": True,
    }
    return _save(store, actor, state)
