"""The store's review tables: calibration sessions and disputed evaluations; and a change stamp.

    calibration_sessions/2025-05.json   the calibration sessions created that month (table "sessions")
    disputes.json                       every evaluation ever disputed (table "disputed")

A calibration session is one record holding its set-up, everyone's answers and when each was
given; every change is a read-modify-write of that record under the store's write lock, in one
atomic write of its file (`update_calibration_session`). Sessions are kept out of the evaluations
on purpose: calibration answers are not evaluations of anybody and must never reach coaching
pages, statistics or drift. Who may read which answers is decided in qa/calibration.py (blind
scoring), never here: the store hands the whole record to the domain.

The disputed table is an index for qa/disputes.py: counting overturns needs the audit entries of
every evaluation ever disputed, and the audit log is read one evaluation at a time. The dispute
itself (criteria, reason, decision) lives in the evaluation's audit log, written with the
evaluation in one atomic write; an id is marked here *before* that write, so the index is a
superset (an id whose write failed has no dispute entry and is ignored).

Before these tables, both lived beside the store as JSON files (`calibration/<session>.json`,
`disputes/evaluations.json`): `_migrate_review_files` moves them in when the store is opened,
after a snapshot in backups/ (reason `before-migration-reviews`), and removes them once written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, cast

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from qa.errors import InvalidRecord, NotFound, StoreError
from qa.models import Evaluation, Record, validated
from qa.partitions import Kind, Partition, insert_documents, put_documents, summary_of
from qa.storage import file_token
from qa.store_interactions import InteractionStore

# Session ids were file names before they were keys: kept stricter than record keys (no ':', '@', '+').
SessionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$")]

_NAME: TypeAdapter[str] = TypeAdapter(Name)

SESSIONS_FOLDER = "calibration_sessions"
DISPUTES_FILE = "disputes"
LEGACY_CALIBRATION = "calibration"  # <data>/calibration/<session id>.json (before these tables)
LEGACY_DISPUTES = ("disputes", "evaluations.json")  # <data>/disputes/evaluations.json: a list of ids


class Unit(BaseModel):
    """One thing every evaluator scores: a recorded interaction, or a mystery visit's evaluation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Name  # as typed by the QA lead: "I1" or "visit:EV7"
    kind: Literal["interaction", "visit"]
    ref: Name  # the interaction id or the evaluation id


class CalibrationSession(Record):
    """A session as stored: its set-up, everyone's answers and when each was given."""

    kind: ClassVar[str] = "calibration session"
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

    def card(self) -> Any:
        """The session's scorecard as it was when the session was created."""
        from qa.calibration import scorecard_from_json  # the domain module imports this one

        return scorecard_from_json(self.scorecard)

    def unit(self, unit_id: str) -> Unit:
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise NotFound(f"session {self.id!r} has no unit {unit_id!r} (units: {', '.join(u.id for u in self.units)})")


class DisputedEvaluation(Record):
    """An evaluation that was disputed at least once (see the module docstring)."""

    kind: ClassVar[str] = "disputed evaluation"
    evaluation_id: Name
    marked_at: AwareDatetime

    def record_key(self) -> str:
        return self.evaluation_id


SESSIONS = Kind({"sessions": CalibrationSession}, summary_of("sessions"))
DISPUTED = Kind({"disputed": DisputedEvaluation}, summary_of("disputed"))


class ReviewStore(InteractionStore):
    """Calibration sessions and the disputed-evaluations index, on top of InteractionStore."""

    # -- calibration sessions -------------------------------------------------------------------

    def _find_session(self, session_id: str) -> Partition | None:
        for name in self._parts.names(SESSIONS_FOLDER):
            part = self._part(name, SESSIONS)
            if session_id in part.ids("sessions"):
                return part
        return None

    def add_calibration_session(self, session: CalibrationSession | Mapping[str, Any]) -> CalibrationSession:
        """Store a new session; StoreError if one with its id exists already."""
        record = validated(CalibrationSession, session)
        with self._writing():
            if self._find_session(record.id) is not None:
                raise StoreError(f"a calibration session {record.id!r} already exists")
            part = self._part(f"{SESSIONS_FOLDER}/{record.created_at:%Y-%m}", SESSIONS)
            with part.transaction() as tx:
                insert_documents(tx.table("sessions"), {record.id: self._doc(record)})
                tx.patch("sessions", record)
        return record

    def get_calibration_session(self, session_id: str) -> CalibrationSession:
        with self._reading():
            part = self._find_session(session_id)
            record = part.record("sessions", session_id) if part else None
        if record is None:
            raise NotFound(f"no calibration session {session_id!r}")
        return cast(CalibrationSession, record)

    def calibration_sessions(self) -> list[CalibrationSession]:
        """Every session, oldest first (validated one by one: nested units must become models)."""
        with self._reading():
            sessions = [
                cast(CalibrationSession, part.record("sessions", key))
                for name in self._parts.names(SESSIONS_FOLDER)
                for part in [self._part(name, SESSIONS)]
                for key in part.raw("sessions")
            ]
        return sorted(sessions, key=lambda s: (s.created_at, s.id))

    def update_calibration_session(
        self, session_id: str, change: Callable[[CalibrationSession], Mapping[str, Any]]
    ) -> CalibrationSession:
        """Read, change and write one session under the write lock: `change` gets the stored
        session and returns the fields to replace (or raises, and nothing is written)."""
        with self._writing():
            part = self._find_session(session_id)
            current = cast(CalibrationSession | None, part.record("sessions", session_id) if part else None)
            if part is None or current is None:
                raise NotFound(f"no calibration session {session_id!r}")
            record = validated(CalibrationSession, {**current.model_dump(), **change(current)})
            if record.id != session_id or record.created_at != current.created_at:  # they place it in its file
                raise InvalidRecord(f"calibration session {session_id!r}", {"id": "id and created_at cannot change"})
            with part.transaction() as tx:
                put_documents(tx.table("sessions"), {record.id: self._doc(record)})
                tx.patch("sessions", record)
        return record

    # -- disputed evaluations -------------------------------------------------------------------

    def mark_disputed(self, evaluation_ids: Iterable[str]) -> int:
        """Add evaluations to the disputed index (those already there keep their first mark)."""
        now = self._now()
        with self._writing():
            part = self._part(DISPUTES_FILE, DISPUTED)
            known = part.ids("disputed")
            new = [
                validated(DisputedEvaluation, {"evaluation_id": e, "marked_at": now})
                for e in dict.fromkeys(evaluation_ids)
                if e not in known
            ]
            if new:
                with part.transaction() as tx:
                    insert_documents(tx.table("disputed"), {r.evaluation_id: self._doc(r) for r in new})
                    for r in new:
                        tx.patch("disputed", r)
        return len(new)

    def _mark_disputed(self, evaluation_ids: list[str]) -> None:
        # Every way an evaluation becomes disputed (a dispute, an import, a status change) marks it,
        # so a dispute resolved later still counts in the overturn rates.
        self.mark_disputed(evaluation_ids)

    def disputed_ids(self) -> set[str]:
        """Every evaluation ever marked as disputed (read from the file's header)."""
        with self._reading():
            return set(self._part(DISPUTES_FILE, DISPUTED).ids("disputed"))

    def update_evaluation_with(
        self,
        evaluation_id: str,
        decide: Callable[[Evaluation], tuple[Mapping[str, Any], str, Mapping[str, Any]]],
        *,
        by: str,
    ) -> Evaluation:
        """Read an evaluation and write the change `decide` makes of it under one hold of the
        write lock: `decide` gets the stored evaluation and returns (changes, action, details)
        for `update_evaluation`, or raises and nothing is written.

        For decisions that depend on the evaluation's current state (resolving a dispute): two
        QA leads deciding at once would otherwise both see it disputed and both write.
        """
        with self._writing():
            changes, action, details = decide(self.get_evaluation(evaluation_id))
            return self.update_evaluation(evaluation_id, changes, by=by, action=action, details=details)

    # -- change stamp ---------------------------------------------------------------------------

    def state_stamp(self, *tables: str) -> str:
        """A short digest that changes whenever a file of these tables ("evaluations", "draws",
        "employees", ...) is written (~10 ms for 800 files).

        For caches of things derived from whole tables (the dashboard's frame). Every durable
        write stamps its file with a new random token in its first bytes: that is what is read,
        not the stat (replaced files reuse inode numbers, and writes within one clock tick keep
        their mtime). TinyDB's plain files have no token: their mtime and size stand in.
        """
        digest = hashlib.blake2b(digest_size=12)
        with self._reading():
            for table in tables:
                folder = self.data_dir / table
                paths = sorted(_json_files(folder)) if folder.is_dir() else [self.data_dir / f"{table}.json"]
                for path in paths:
                    token = file_token(path)
                    if token is None:
                        try:
                            st = path.stat()
                        except FileNotFoundError:
                            continue
                        token = f"{st.st_ino}\0{st.st_mtime_ns}\0{st.st_size}"
                    digest.update(f"{path}\0{token}\n".encode())
        return digest.hexdigest()

    # -- opening: the JSON files of older versions ----------------------------------------------

    def _prepare(self) -> None:
        super()._prepare()
        self._migrate_review_files()

    def _migrate_review_files(self) -> None:
        """calibration/*.json and disputes/evaluations.json -> the tables, after a snapshot.

        Idempotent: a session already in its table is left as it is (a migration interrupted
        after some writes simply runs again at the next open); the legacy files are removed only
        once everything is written. A damaged file stops the opening with its path and field.
        """
        legacy = self.data_dir / LEGACY_CALIBRATION
        sessions = sorted(p for p in legacy.glob("*.json") if not p.name.startswith(".")) if legacy.is_dir() else []
        index = self.data_dir.joinpath(*LEGACY_DISPUTES)
        if not sessions and not index.is_file():
            return
        self._snapshot("before-migration-reviews")
        for path in sessions:
            record = _legacy_session(path)
            if self._find_session(record.id) is None:
                self.add_calibration_session(record)
        if index.is_file():
            self.mark_disputed(_legacy_disputed(index))
        for path in [*sessions, index]:
            path.unlink(missing_ok=True)
        for folder in (legacy, index.parent):
            (folder / ".lock").unlink(missing_ok=True)  # the old per-folder file locks
            with contextlib.suppress(OSError):  # not there, or holding files that were never ours
                folder.rmdir()


def _json_files(folder: Path) -> list[Path]:
    out = []
    for root, _, files in os.walk(folder):
        out += [Path(root) / name for name in files if name.endswith(".json") and not name.startswith(".")]
    return out


def _legacy_session(path: Path) -> CalibrationSession:
    try:
        return CalibrationSession.model_validate(orjson.loads(path.read_bytes()))
    except orjson.JSONDecodeError as error:
        raise StoreError(f"cannot migrate {path}: not JSON ({error})") from None
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(record)"
        raise StoreError(f"cannot migrate {path}: {where}: {first['msg']}") from None


def _legacy_disputed(path: Path) -> list[str]:
    try:
        ids = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise StoreError(f"cannot migrate {path}: not JSON ({error})") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise StoreError(f"cannot migrate {path}: expected a list of evaluation ids")
    for position, evaluation_id in enumerate(ids):
        try:
            _NAME.validate_python(evaluation_id)
        except ValidationError:
            raise StoreError(
                f"cannot migrate {path}: item {position}: {evaluation_id!r} is not an evaluation id"
            ) from None
    return ids
