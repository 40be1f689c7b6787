"""Calibration sessions: several evaluators score the same calls or visits blind, then compare.

A QA lead creates a session (a scorecard, units to score, evaluators, optionally a reference
evaluator whose answers are the yardstick rather than one more voice). Each evaluator submits
answers per unit; until the session is closed nobody (QA leads included) can read anyone else's
answers: every read goes through `answers_of` / `session_report`, which refuse with
PermissionDenied. Once closed, `session_report` runs `qa.reliability.calibration_report`.

Storage, a stop-gap until the store grows a calibration table: one JSON document per session
at `<data>/calibration/<session_id>.json`, written atomically (`qa.storage.atomic_write`: temp
file, fsync, os.replace, folder fsync) under one `filelock.FileLock` for the folder. Sessions are
kept out of the evaluations table on purpose: calibration answers are not evaluations of anybody
and must never reach coaching pages, statistics or drift.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from filelock import FileLock, Timeout
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from qa.auth import Actor, require
from qa.errors import AnswerError, NotFound, PermissionDenied, QAError, StoreError
from qa.reliability import CalibrationReport, calibration_report
from qa.scorecard_model import Scorecard
from qa.scorecards import LoadedScorecard
from qa.scoring import validate_answers
from qa.storage import atomic_write

# Session ids become file names: a stricter pattern than record keys (no ':', '@' or '+').
SessionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$")]
FOLDER = "calibration"
VISIT_PREFIX = "visit:"  # a unit that is a mystery visit: the evaluation holding its recording/notes
LOCK_TIMEOUT = 10.0
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


class Unit(BaseModel):
    """One thing every evaluator scores: a recorded interaction, or a mystery visit's evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Name  # as typed by the QA lead: "I1" or "visit:EV7"
    kind: Literal["interaction", "visit"]
    ref: Name  # the interaction id or the evaluation id


class CalibrationSession(BaseModel):
    """A session as stored: its set-up, everyone's answers and when each was given."""

    model_config = ConfigDict(extra="forbid")
    id: SessionId
    scorecard_id: Name
    scorecard_version: Name
    scorecard: dict[str, Any]  # the card as it was: a later edit must not change a closed session
    units: Annotated[list[Unit], Field(min_length=1)]
    evaluators: Annotated[list[Name], Field(min_length=2)]
    reference_by: Name | None = None
    created_by: Name
    created_at: AwareDatetime
    status: Literal["open", "closed"] = "open"
    closed_by: Name | None = None
    closed_at: AwareDatetime | None = None
    # {evaluator: {unit id: {criterion: answer}}}; the reference evaluator's answers are here too.
    answers: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    answered_at: dict[str, dict[str, AwareDatetime]] = Field(default_factory=dict)

    @property
    def participants(self) -> list[str]:
        return self.evaluators + ([self.reference_by] if self.reference_by else [])

    def card(self) -> Scorecard:
        return scorecard_from_json(self.scorecard)

    def unit(self, unit_id: str) -> Unit:
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise NotFound(f"session {self.id!r} has no unit {unit_id!r} (units: {', '.join(u.id for u in self.units)})")


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
    """The calibration sessions of one data folder (see the module docstring for the format)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.folder = Path(data_dir) / FOLDER
        self._lock = FileLock(str(self.folder / ".lock"), timeout=LOCK_TIMEOUT)

    @classmethod
    def of(cls, store: Any) -> CalibrationBook:
        """The book beside a store's data folder."""
        for name in ("root", "data_dir", "path"):
            folder = getattr(store, name, None)
            if isinstance(folder, (str, Path)):
                return cls(folder)
        raise StoreError("cannot tell where this store keeps its data folder")

    def _path(self, session_id: str) -> Path:
        try:
            _ID.validate_python(session_id)
        except ValidationError:
            raise NotFound(f"no calibration session {session_id!r}") from None
        return self.folder / f"{session_id}.json"

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            with self._lock:
                yield
        except Timeout:
            raise StoreError(f"{self.folder} is locked by another process; try again") from None

    def load(self, session_id: str) -> CalibrationSession:
        path = self._path(session_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no calibration session {session_id!r}") from None
        try:
            return CalibrationSession.model_validate(orjson.loads(raw))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise StoreError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None

    def save(self, session: CalibrationSession) -> None:
        atomic_write(self._path(session.id), orjson.dumps(session.model_dump(mode="json"), option=orjson.OPT_INDENT_2))

    def ids(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(path.stem for path in self.folder.glob("*.json"))

    @contextmanager
    def editing(self, session_id: str) -> Iterator[CalibrationSession]:
        """Load, change and save one session under the lock (nothing saved if the block raises)."""
        with self.locked():
            session = self.load(session_id)
            yield session
            self.save(CalibrationSession.model_validate(session.model_dump()))


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
    with book.locked():
        if sid in book.ids():
            raise QAError(f"a calibration session {sid!r} already exists")
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
        book.save(session)
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
    with book.editing(session_id) as session:
        if actor.name not in session.participants:
            raise PermissionDenied(f"{actor.name} is not an evaluator of calibration session {session_id!r}")
        if session.status != "open":
            raise QAError(f"calibration session {session_id!r} is closed: answers can no longer change")
        unit = session.unit(unit_id)
        given = dict(answers)
        problems = validate_answers(session.card(), given)
        if problems:
            raise AnswerError(problems)
        session.answers.setdefault(actor.name, {})[unit.id] = given
        session.answered_at.setdefault(actor.name, {})[unit.id] = clock()
    return session


def close_session(book: CalibrationBook, actor: Actor, session_id: str, *, clock: Clock = utcnow) -> CalibrationSession:
    """Close a session: answers freeze and become readable in the report."""
    require(actor, "calibrate")
    with book.editing(session_id) as session:
        if session.status == "closed":
            raise QAError(f"calibration session {session_id!r} is already closed")
        answering = [ev for ev in session.evaluators if session.answers.get(ev)]
        if len(answering) < 2:
            raise QAError(f"calibration session {session_id!r}: fewer than two evaluators have answered yet")
        session.status = "closed"
        session.closed_by = actor.name
        session.closed_at = clock()
    return session


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
    if session.status == "open":
        own = session.answers.get(actor.name)
        session = session.model_copy(update={"answers": {actor.name: own} if own else {}})
    return session


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
    for sid in book.ids():
        session = book.load(sid)
        if actor.can("calibrate") or actor.name in session.participants:
            out.append(get_session(book, actor, sid))
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
    for sid in book.ids():
        session = book.load(sid)
        if session.status != "closed" or session.scorecard_id != scorecard_id:
            continue
        if version is not None and session.scorecard_version != version:
            continue
        for ev in session.evaluators:
            for unit, given in session.answers.get(ev, {}).items():
                pooled.setdefault(ev, {})[f"{sid}/{unit}"] = given
    return pooled
