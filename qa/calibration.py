"""Calibration sessions: several evaluators score the same calls or visits blind, then compare.

A QA lead creates a session (a scorecard, units to score, evaluators, optionally a reference
evaluator whose answers are the yardstick rather than one more voice). Each evaluator submits
answers per unit; until the session is closed nobody (QA leads included) can read anyone else's
answers: every read goes through `answers_of` / `session_report`, which refuse with
PermissionDenied. Once closed, `session_report` runs `qa.reliability.calibration_report`.

Storage: the store's calibration table (`Store.add_calibration_session`, ...; see
qa/store_reviews.py), one record per session, every change a read-modify-write under the store's
write lock in one atomic write. Sessions are kept out of the evaluations table on purpose:
calibration answers are not evaluations of anybody and must never reach coaching pages,
statistics or drift. `CalibrationBook` is this module's handle on that table.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from qa.auth import Actor, require
from qa.errors import AnswerError, NotFound, PermissionDenied, QAError
from qa.reliability import CalibrationReport, calibration_report
from qa.scorecard_model import Scorecard
from qa.scorecards import LoadedScorecard
from qa.scoring import validate_answers
from qa.store_reviews import CalibrationSession, SessionId, Unit

__all__ = ["CalibrationBook", "CalibrationSession", "Unit"]  # the records live in qa/store_reviews.py
VISIT_PREFIX = "visit:"  # a unit that is a mystery visit: the evaluation holding its recording/notes
Clock = Callable[[], datetime]
_ID: TypeAdapter[str] = TypeAdapter(SessionId)


def utcnow() -> datetime:
    return datetime.now(UTC)


def scorecard_from_json(doc: Mapping[str, Any]) -> Scorecard:
    """A scorecard back from its `model_dump(mode="json")` (as the store remembers versions).

    The dump writes `na_allowed: false` on yes_no_na criteria, which the model then refuses as a
    contradiction ("scale yes_no_na allows N/A, but na_allowed is false"): drop that key first.
    """
    data = copy.deepcopy(dict(doc))
    for section in data.get("sections", []):
        for criterion in section.get("criteria", []):
            if criterion.get("scale", {}).get("type") == "yes_no_na" and criterion.get("na_allowed") is False:
                del criterion["na_allowed"]
    return Scorecard.model_validate(data)


@dataclass(frozen=True)
class Progress:
    """Who has answered which unit, without any answer: safe to show while a session is open."""

    session_id: str
    status: str
    answered: dict[str, list[str]]  # participant -> unit ids answered
    missing: dict[str, list[str]]  # participant -> unit ids still to answer

    @property
    def complete(self) -> bool:
        return not any(self.missing.values())


@dataclass(frozen=True)
class SessionReport:
    """A closed session's reliability with what a page needs to show it."""

    session: CalibrationSession
    report: CalibrationReport
    labels: dict[str, str]  # criterion id -> label in the report's language
    missing: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session.id,
            "scorecard_version": self.session.scorecard_version,
            "reference_by": self.session.reference_by,
            "closed_at": self.session.closed_at.isoformat() if self.session.closed_at else None,
            "labels": self.labels,
            "missing": self.missing,
            **self.report.to_dict(),
        }


class CalibrationBook:
    """The calibration sessions of one store: this module's handle on its calibration table."""

    def __init__(self, store: Any) -> None:
        self.store = store

    @classmethod
    def of(cls, store: Any) -> CalibrationBook:
        return cls(store)

    def load(self, session_id: str) -> CalibrationSession:
        try:
            _ID.validate_python(session_id)
        except ValidationError:
            raise NotFound(f"no calibration session {session_id!r}") from None
        return self.store.get_calibration_session(session_id)

    def sessions(self) -> list[CalibrationSession]:
        return self.store.calibration_sessions()

    def add(self, session: CalibrationSession) -> None:
        """Store a new session (StoreError, a QAError, when its id is taken)."""
        self.store.add_calibration_session(session)

    def change(self, session_id: str, change: Callable[[CalibrationSession], Mapping[str, Any]]) -> CalibrationSession:
        """Change one session under the store's write lock (nothing written if `change` raises)."""
        self.load(session_id)  # NotFound for an impossible id, before taking the lock
        return self.store.update_calibration_session(session_id, change)


def parse_unit(text: str) -> Unit:
    """ "I1" is an interaction, "visit:EV7" the mystery visit recorded in evaluation EV7."""
    text = text.strip()
    if text.startswith(VISIT_PREFIX):
        return Unit(id=text, kind="visit", ref=text[len(VISIT_PREFIX) :])
    return Unit(id=text, kind="interaction", ref=text)


def _check_units_exist(store: Any, units: Sequence[Unit]) -> None:
    for unit in units:
        try:
            if unit.kind == "interaction":
                store.get_interaction(unit.ref)
            else:
                store.get_evaluation(unit.ref)
        except NotFound as exc:
            raise NotFound(f"unit {unit.id!r}: {exc}") from None


def _check_people_exist(store: Any, names: Sequence[str]) -> None:
    for name in names:
        try:
            user = store.get_user(name)
        except NotFound:
            user = None
        if user is None or not user.active:
            raise NotFound(f"no active user {name!r} to take part in the calibration")


def create_session(
    book: CalibrationBook,
    actor: Actor,
    loaded: LoadedScorecard,
    units: Sequence[str | Unit],
    evaluators: Sequence[str],
    *,
    reference_by: str | None = None,
    store: Any = None,
    session_id: str | None = None,
    clock: Clock = utcnow,
) -> CalibrationSession:
    """Open a session. With a store, units and people are checked to exist (NotFound otherwise)."""
    require(actor, "calibrate")
    parsed = [unit if isinstance(unit, Unit) else parse_unit(unit) for unit in units]
    names = [name.strip() for name in evaluators if name.strip()]
    if len({u.id for u in parsed}) != len(parsed) or len(set(names)) != len(names):
        raise QAError("units and evaluators must not repeat")
    if len(names) < 2:
        raise QAError("a calibration needs at least two evaluators")
    if reference_by is not None and reference_by in names:
        raise QAError(f"{reference_by!r} gives the reference answers and cannot also be one of the evaluators")
    if not parsed:
        raise QAError("a calibration needs at least one unit to score")
    if store is not None:
        _check_units_exist(store, parsed)
        _check_people_exist(store, names + ([reference_by] if reference_by else []))
    now = clock()
    sid = session_id or f"cal-{now:%Y%m%d}-{secrets.token_hex(3)}"
    try:
        _ID.validate_python(sid)
    except ValidationError:
        raise QAError(
            f"session id {sid!r}: letters, digits, '.', '_' and '-' only, starting with a letter or digit (64 at most)"
        ) from None
    try:
        session = CalibrationSession(
            id=sid,
            scorecard_id=loaded.id,
            scorecard_version=loaded.version,
            scorecard=loaded.card.model_dump(mode="json"),
            units=parsed,
            evaluators=names,
            reference_by=reference_by,
            created_by=actor.name,
            created_at=now,
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise QAError(f"calibration session: {where}: {first['msg']}") from None
    book.add(session)  # QAError if the id is taken (checked under the store's write lock)
    return session


def submit_answers(
    book: CalibrationBook,
    actor: Actor,
    session_id: str,
    unit_id: str,
    answers: Mapping[str, Any],
    *,
    clock: Clock = utcnow,
) -> CalibrationSession:
    """Record the actor's own answers to one unit (replacing earlier ones while the session is open).

    Every criterion needs an answer (N/A where the scorecard allows it): a blank would look like
    disagreement-free data to alpha. AnswerError names each wrong criterion.
    """
    stamp = clock()

    def record(session: CalibrationSession) -> dict[str, Any]:
        if actor.name not in session.participants:
            raise PermissionDenied(f"{actor.name} is not an evaluator of calibration session {session_id!r}")
        if session.status != "open":
            raise QAError(f"calibration session {session_id!r} is closed: answers can no longer change")
        unit = session.unit(unit_id)
        given = dict(answers)
        problems = validate_answers(session.card(), given)
        if problems:
            raise AnswerError(problems)
        mine = {**session.answers.get(actor.name, {}), unit.id: given}
        when = {**session.answered_at.get(actor.name, {}), unit.id: stamp}
        return {
            "answers": {**session.answers, actor.name: mine},
            "answered_at": {**session.answered_at, actor.name: when},
        }

    return _own_view(book.change(session_id, record), actor)


def close_session(book: CalibrationBook, actor: Actor, session_id: str, *, clock: Clock = utcnow) -> CalibrationSession:
    """Close a session: answers freeze and become readable in the report."""
    require(actor, "calibrate")
    stamp = clock()

    def close(session: CalibrationSession) -> dict[str, Any]:
        if session.status == "closed":
            raise QAError(f"calibration session {session_id!r} is already closed")
        answering = [ev for ev in session.evaluators if session.answers.get(ev)]
        if len(answering) < 2:
            raise QAError(f"calibration session {session_id!r}: fewer than two evaluators have answered yet")
        return {"status": "closed", "closed_by": actor.name, "closed_at": stamp}

    return book.change(session_id, close)


def _may_see_results(actor: Actor, session: CalibrationSession) -> None:
    if session.status != "closed":
        raise PermissionDenied(
            f"calibration session {session.id!r} is still open: answers stay hidden until a QA lead closes it"
        )
    if not actor.can("calibrate") and actor.name not in session.participants:
        raise PermissionDenied(f"{actor.name} did not take part in calibration session {session.id!r}")


def get_session(book: CalibrationBook, actor: Actor, session_id: str) -> CalibrationSession:
    """The session without anyone's answers but the actor's own while it is open."""
    session = book.load(session_id)
    if not actor.can("calibrate") and actor.name not in session.participants:
        raise PermissionDenied(f"{actor.name} did not take part in calibration session {session_id!r}")
    return _own_view(session, actor)


def _own_view(session: CalibrationSession, actor: Actor) -> CalibrationSession:
    """While a session is open, a copy holding only the actor's own answers (blind scoring)."""
    if session.status != "open":
        return session
    own = session.answers.get(actor.name)
    when = session.answered_at.get(actor.name)
    return session.model_copy(
        update={"answers": {actor.name: own} if own else {}, "answered_at": {actor.name: when} if when else {}}
    )


def answers_of(book: CalibrationBook, actor: Actor, session_id: str, evaluator: str) -> dict[str, dict[str, Any]]:
    """{unit: {criterion: answer}} of one participant. Others' answers only once the session is closed."""
    session = book.load(session_id)
    if evaluator != actor.name:
        _may_see_results(actor, session)
    elif actor.name not in session.participants:
        raise PermissionDenied(f"{actor.name} did not take part in calibration session {session_id!r}")
    return {unit: dict(given) for unit, given in session.answers.get(evaluator, {}).items()}


def progress(book: CalibrationBook, actor: Actor, session_id: str) -> Progress:
    """Who has answered which unit (no answers): for the QA lead following an open session."""
    session = get_session(book, actor, session_id)
    stored = book.load(session_id)
    answered = {name: sorted(stored.answers.get(name, {})) for name in stored.participants}
    missing = {name: [u.id for u in stored.units if u.id not in answered[name]] for name in stored.participants}
    return Progress(session.id, session.status, answered, missing)


def session_report(book: CalibrationBook, actor: Actor, session_id: str, *, lang: str = "fr") -> SessionReport:
    """Alpha per criterion and overall, agreement, ambiguous criteria with guidance, deviations."""
    session = book.load(session_id)
    _may_see_results(actor, session)
    card = session.card()
    units = [unit.id for unit in session.units]
    answers = {ev: session.answers[ev] for ev in session.evaluators if session.answers.get(ev)}
    reference = session.answers.get(session.reference_by) if session.reference_by else None
    report = calibration_report(card, units, answers, reference or None, lang=lang)
    labels = {c.id: c.label.get(lang) for c in card.criteria()}
    missing = {
        name: [u for u in units if u not in session.answers.get(name, {})]
        for name in session.participants
        if any(u not in session.answers.get(name, {}) for u in units)
    }
    return SessionReport(session, report, labels, missing)


def list_sessions(book: CalibrationBook, actor: Actor) -> list[CalibrationSession]:
    """Every session for a QA lead; for an evaluator, the sessions they take part in (own answers only)."""
    out = []
    for session in book.sessions():
        if actor.can("calibrate") or actor.name in session.participants:
            out.append(_own_view(session, actor))
    return sorted(out, key=lambda s: s.created_at, reverse=True)


def unit_material(store: Any, book: CalibrationBook, actor: Actor, session_id: str, unit_id: str) -> dict[str, Any]:
    """What an evaluator needs to score a unit: the call's details, or the visit's context and notes.

    Never the original evaluation's answers or score (the session would not be blind), never the
    customer reference.
    """
    session = get_session(book, actor, session_id)
    unit = session.unit(unit_id)
    if unit.kind == "interaction":
        return {"kind": "interaction", **store.get_interaction(unit.ref).public()}
    evaluation = store.get_evaluation(unit.ref)
    return {
        "kind": "visit",
        "employee_id": evaluation.employee_id,
        "channel": evaluation.channel,
        "started_at": evaluation.started_at.isoformat(),
        "visit": dict(evaluation.visit or {}),
        "debrief": dict(evaluation.debrief),
        "comments": dict(evaluation.comments),
        "photos": list(evaluation.photos),
    }


def closed_answers_by_scorecard(
    book: CalibrationBook, scorecard_id: str, version: str | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every closed session's evaluator answers on one scorecard, units keyed "session/unit".

    Pooled reliability data for a criterion's alpha across sessions (reference answers left out,
    as in each session's own alpha). With `version`, only sessions run on that version count:
    rewritten guidance deserves a fresh alpha. Internal: callers check the calibrate permission.
    """
    pooled: dict[str, dict[str, dict[str, Any]]] = {}
    for session in book.sessions():
        sid = session.id
        if session.status != "closed" or session.scorecard_id != scorecard_id:
            continue
        if version is not None and session.scorecard_version != version:
            continue
        for ev in session.evaluators:
            for unit, given in session.answers.get(ev, {}).items():
                pooled.setdefault(ev, {})[f"{sid}/{unit}"] = given
    return pooled
