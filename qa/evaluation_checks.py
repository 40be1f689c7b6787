"""What a draft evaluation still lacks: context fields, answers and debrief checked against the scorecard.

Pure functions over a draft's state (a JSON-ready dict, see `qa.evaluations.new_state`), shared by
the app (to show each problem next to its field) and by `submit` (which refuses an incomplete
evaluation). Problems are codes, not sentences, so that the app can say them in French or English.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from qa.scorecard_model import ContextField, Scorecard
from qa.scoring import ScoreResult, answer_problem, score

# Problem codes (translated by the app under `ui.problem.<code>`).
MISSING = "missing"
INVALID = "invalid"
NA_NOT_ALLOWED = "na_not_allowed"
NEGATIVE = "negative"
ORDER = "order"  # a measured duration whose end is before its start
UNKNOWN = "unknown"  # e.g. an employee that is not in the roster

EMPLOYEE = "employee"  # the problem key of the evaluated employee


def context_key(field_id: str) -> str:
    return f"context.{field_id}"


def question_key(question_id: str) -> str:
    return f"debrief.{question_id}"


def parse_moment(value: Any) -> datetime | None:
    """An aware datetime from its ISO text, or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def measured_duration(card: Scorecard, field: ContextField, context: Mapping[str, Any]) -> float | None:
    """A duration measured between two stamped times, in the field's unit (None until both are stamped)."""
    if field.measured_from is None:
        return None
    start, end = (parse_moment(context.get(ref)) for ref in field.measured_from)
    if start is None or end is None:
        return None
    seconds = (end - start).total_seconds()
    return round(seconds / 60, 1) if field.unit == "minutes" else round(seconds)


def with_measured(card: Scorecard, context: Mapping[str, Any]) -> dict[str, Any]:
    """The context with every measured duration computed from its timestamps (never typed)."""
    out = dict(context)
    for field in card.context:
        if field.measured_from is not None:
            value = measured_duration(card, field, context)
            if value is None:
                out.pop(field.id, None)
            else:
                out[field.id] = value
    return out


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def context_problem(field: ContextField, value: Any) -> str | None:
    """The problem code of one context value, or None when it is acceptable."""
    if _empty(value):
        return MISSING if field.required and field.type != "duration" else None
    kind = field.type
    if kind == "text":
        return None if isinstance(value, str) and len(value) <= 500 else INVALID
    if kind in ("number", "duration"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return INVALID
        return NEGATIVE if value < 0 else None
    if kind == "choice":
        return None if value in {c.id for c in field.choices or []} else INVALID
    if kind == "date":
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return INVALID
        return None
    if kind in ("datetime", "timestamp"):
        return None if parse_moment(value) is not None else INVALID
    if kind == "interaction":
        return None if isinstance(value, str) else INVALID
    return INVALID  # pragma: no cover - the scorecard model lists every type


def problems(card: Scorecard, state: Mapping[str, Any], *, employee_known: bool = True) -> dict[str, str]:
    """Every problem of a draft, keyed by criterion id, `context.<field>`, `debrief.<question>` or `employee`."""
    found: dict[str, str] = {}
    if _empty(state.get("employee_id")):
        found[EMPLOYEE] = MISSING
    elif not employee_known:
        found[EMPLOYEE] = UNKNOWN
    context = with_measured(card, state.get("context") or {})
    for field in card.context:
        value = context.get(field.id)
        if field.measured_from is not None and isinstance(value, int | float) and value < 0:
            code: str | None = ORDER  # the second time stamped before the first
        else:
            code = context_problem(field, value)
        if code:
            found[context_key(field.id)] = code
    answers = state.get("answers") or {}
    for criterion in card.criteria():
        value = answers.get(criterion.id)
        if value is None:
            found[criterion.id] = MISSING
        elif answer_problem(criterion, value):
            found[criterion.id] = NA_NOT_ALLOWED if value == "na" else INVALID
    debrief = state.get("debrief") or {}
    for question in card.questions:
        value = debrief.get(question.id)
        if question.required and _empty(value):
            found[question_key(question.id)] = MISSING
        elif value is not None and (not isinstance(value, str) or len(value) > 5000):
            found[question_key(question.id)] = INVALID
    return found


def valid_answers(card: Scorecard, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers that fit the scorecard (the running score ignores the others)."""
    out = {}
    for criterion in card.criteria():
        value = answers.get(criterion.id)
        if value is not None and answer_problem(criterion, value) is None:
            out[criterion.id] = value
    return out


def running_score(card: Scorecard, answers: Mapping[str, Any]) -> ScoreResult:
    """The score so far while the form is being filled (unanswered criteria left out)."""
    return score(card, valid_answers(card, answers), partial=True)


def steps(card: Scorecard) -> list[str]:
    """The form's steps: the context, one per section (behaviour), the debrief, then sending."""
    return ["context", *(f"section.{s.id}" for s in card.sections), "debrief", "send"]


def step_of(card: Scorecard, problem_key: str) -> int:
    """The step where the field behind a problem key is shown."""
    names = steps(card)
    if problem_key == EMPLOYEE or problem_key.startswith("context."):
        return 0
    if problem_key.startswith("debrief."):
        return names.index("debrief")
    try:
        return names.index(f"section.{card.section_of(problem_key).id}")
    except KeyError:
        return names.index("send")


def step_progress(card: Scorecard, state: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(answered, total) for each step, for the progress indicator."""
    answers = state.get("answers") or {}
    context = with_measured(card, state.get("context") or {})
    debrief = state.get("debrief") or {}
    required = [f for f in card.context if f.required]
    context_done = sum(not _empty(context.get(f.id)) for f in required) + (not _empty(state.get("employee_id")))
    out = [(context_done, len(required) + 1)]
    for section in card.sections:
        out.append((sum(answers.get(c.id) is not None for c in section.criteria), len(section.criteria)))
    asked = [q for q in card.questions if q.required]
    out.append((sum(not _empty(debrief.get(q.id)) for q in asked), len(asked)))
    out.append((0, 0))
    return out
