"""The evaluation store: the one object the app, the CLI and the site receive to read and write.

    store = Store.open("data")          # one instance per folder per process; close() when done

It is the only way into the data (TinyDB is used by qa/storage.py and qa/partitions.py under it).
The class is built in layers: qa/store_core.py (opening, locks, caches, migration, backups) ->
qa/store_evaluations.py (evaluations and their audit log) -> qa/store_interactions.py
(interactions) -> qa/store_reviews.py (calibration sessions, disputed evaluations) -> Store here
(the other tables). Whole-table reads have columnar fast paths
(`evaluation_rows`, `interaction_frame`, `count_evaluations`; see qa/store_columns.py).
Every record is validated (qa/models.py) before it is written; every write is durable once the
method returns; threads and processes may use the same folder at once (see qa/store_core.py).

On-disk layout of a data folder (schema 2):

    store.json                      schema version, storage kind, buckets per month
    .lock                           the cross-process write lock
    employees.json  users.json      small tables, one file each
    site_tokens.json  scorecards.json
    draws/2025-05.json              the draws made that month, with their assignments
    drafts/<hash of user>.json      one user's drafts
    evaluations/2025-05/e07.json    evaluations started that month of employees in bucket 07,
                                    with their audit entries (written in the same atomic write)
    interactions/2025-05/i13.json   interactions of that month whose id is in bucket 13
    evaluations/2025-05/.e07.evaluation-rows.v1.arrow
                                    that file's columns for bulk reads (a cache: Partition.view)
    calibration_sessions/2025-05.json   the calibration sessions created that month
    disputes.json                   the evaluations ever disputed (qa/store_reviews.py)
    mappings/ photos/               the app's other files (backed up and restored too)
    backups/<reason>-<time>/        snapshots: see qa/backups.py

A month is the month of `started_at` in its own UTC offset. Employees are spread over buckets, so
one employee's evaluations are in one file per month and a submit rewrites a small file.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson

from qa.errors import InvalidRecord, NotFound, StoreError
from qa.models import (
    Assignment,
    Draft,
    Draw,
    Employee,
    ScorecardVersion,
    SiteToken,
    User,
    UserChange,
    new_id,
    validated,
    validated_many,
)
from qa.partitions import Partition, Transaction, insert_documents, put_documents
from qa.store_core import DRAFTS, DRAWS, EMPLOYEES, SCORECARDS, SITE_TOKENS, USERS
from qa.store_reviews import ReviewStore


@dataclass(frozen=True)
class UpsertCounts:
    added: int
    updated: int
    unchanged: int


class Store(ReviewStore):
    """Employees, users, draws, drafts, scorecard versions, tokens; and, from ReviewStore,
    InteractionStore and EvaluationStore, calibration sessions, the disputed index,
    interactions, evaluations and their audit log."""

    # -- employees ------------------------------------------------------------------------------

    def upsert_employees(self, employees: Iterable[Employee | Mapping[str, Any]]) -> UpsertCounts:
        """Add new employees and update changed ones (by id); nobody is ever deleted."""
        records = {r.id: r for r in validated_many(Employee, employees)}
        with self._writing():
            part = self._part("employees", EMPLOYEES)
            current = part.records("employees")
            changed = {key: r for key, r in records.items() if current.get(key) != r}
            added = sum(1 for key in changed if key not in current)
            if changed:
                with part.transaction() as tx:
                    put_documents(tx.table("employees"), {k: self._doc(r) for k, r in changed.items()})
                    for record in changed.values():
                        tx.patch("employees", record)
        return UpsertCounts(added, len(changed) - added, len(records) - len(changed))

    def get_employee(self, employee_id: str) -> Employee:
        with self._reading():
            record = self._part("employees", EMPLOYEES).records("employees").get(employee_id)
        if record is None:
            raise NotFound(f"no employee {employee_id!r}")
        return cast(Employee, record)

    def list_employees(self, *, active_only: bool = False) -> list[Employee]:
        with self._reading():
            records = [cast(Employee, r) for r in self._part("employees", EMPLOYEES).records("employees").values()]
        return sorted((r for r in records if r.active or not active_only), key=lambda r: r.id)

    # -- users ----------------------------------------------------------------------------------

    def add_user(self, user: User | Mapping[str, Any], *, change: Mapping[str, Any] | None = None) -> User:
        """Add a user; with `change` (a UserChange without its id), log it in the same write."""
        record = validated(User, user)
        logged = None if change is None else validated(UserChange, {"id": new_id(), **change})
        with self._writing():
            part = self._part("users", USERS)
            if record.name in part.records("users"):
                raise StoreError(f"user {record.name!r} already exists")
            with part.transaction() as tx:
                insert_documents(tx.table("users"), {record.name: self._doc(record)})
                tx.patch("users", record)
                self._log_user_change(tx, logged)
        return record

    def get_user(self, name: str) -> User:
        with self._reading():
            record = self._part("users", USERS).records("users").get(name)
        if record is None:
            raise NotFound(f"no user {name!r}")
        return cast(User, record)

    def list_users(self, *, active_only: bool = False) -> list[User]:
        with self._reading():
            records = [cast(User, r) for r in self._part("users", USERS).records("users").values()]
        return sorted((r for r in records if r.active or not active_only), key=lambda r: r.name)

    def update_user(self, name: str, changes: Mapping[str, Any], *, change: Mapping[str, Any] | None = None) -> User:
        """Change a user's fields (display name, role, password hash, active); not the name. With
        `change` (a UserChange without its id), log it in the same write."""
        logged = None if change is None else validated(UserChange, {"id": new_id(), **change})
        with self._writing():
            current = self.get_user(name)
            record = validated(User, {**current.model_dump(), **changes})
            if record.name != name:
                raise InvalidRecord(f"user {name!r}", {"name": "cannot be changed"})
            part = self._part("users", USERS)
            with part.transaction() as tx:
                put_documents(tx.table("users"), {name: self._doc(record)})
                tx.patch("users", record)
                self._log_user_change(tx, logged)
        return record

    def _log_user_change(self, tx: Transaction, change: UserChange | None) -> None:
        if change is not None:
            insert_documents(tx.table("user_changes"), {change.id: self._doc(change)})
            tx.patch("user_changes", change)

    def user_changes(self) -> list[UserChange]:
        """The users' log, the latest change first (in the order they were written)."""
        with self._reading():
            records = [cast(UserChange, r) for r in self._part("users", USERS).records("user_changes").values()]
        return records[::-1]

    # -- draws and assignments ------------------------------------------------------------------

    def _find_draw(self, draw_id: str) -> Partition | None:
        for name in self._parts.names("draws"):
            part = self._part(name, DRAWS)
            if draw_id in part.ids("draws"):
                return part
        return None

    @staticmethod
    def _check_assignments(draw: Draw, assignments: list[Assignment]) -> None:
        selected = set(draw.selected)
        for a in assignments:
            if a.draw_id != draw.id:
                raise InvalidRecord(f"assignment {a.record_key()!r}", {"draw_id": f"is not {draw.id!r}"})
            if a.interaction_id not in selected:
                raise InvalidRecord(
                    f"assignment {a.record_key()!r}", {"interaction_id": f"was not selected by draw {draw.id!r}"}
                )

    def save_draw(
        self, draw: Draw | Mapping[str, Any], assignments: Iterable[Assignment | Mapping[str, Any]] = ()
    ) -> Draw:
        """Store a draw (never changed afterwards) and, in the same write, its assignments."""
        record = validated(Draw, draw)
        assigned = validated_many(Assignment, assignments)
        self._check_assignments(record, assigned)
        with self._writing():
            part = self._find_draw(record.id)
            if part is not None and part.record("draws", record.id) != record:
                raise StoreError(f"draw {record.id!r} already exists with other content; draws never change")
            new = part is None
            part = part or self._part(f"draws/{record.created_at:%Y-%m}", DRAWS)
            with part.transaction() as tx:
                if new:
                    insert_documents(tx.table("draws"), {record.id: self._doc(record)})
                    tx.patch("draws", record)
                if assigned:
                    put_documents(tx.table("assignments"), {a.record_key(): self._doc(a) for a in assigned})
                    for a in assigned:
                        tx.patch("assignments", a)
        return record

    def get_draw(self, draw_id: str) -> Draw:
        with self._reading():
            part = self._find_draw(draw_id)
            record = part.record("draws", draw_id) if part else None
        if record is None:
            raise NotFound(f"no draw {draw_id!r}")
        return cast(Draw, record)

    def list_draws(self) -> list[Draw]:
        with self._reading():
            draws = [
                cast(Draw, r)
                for name in self._parts.names("draws")
                for r in self._part(name, DRAWS).records("draws").values()
            ]
        return sorted(draws, key=lambda d: (d.created_at, d.id))

    def save_assignments(self, assignments: Iterable[Assignment | Mapping[str, Any]]) -> int:
        """Add or update assignments (keyed by draw and interaction). Returns how many."""
        records = validated_many(Assignment, assignments)
        by_draw: dict[str, list[Assignment]] = {}
        for a in records:
            by_draw.setdefault(a.draw_id, []).append(a)
        with self._writing():
            parts: dict[str, Partition] = {}
            for draw_id, items in by_draw.items():
                part = self._find_draw(draw_id)
                draw = part.record("draws", draw_id) if part else None
                if part is None or draw is None:
                    raise InvalidRecord(f"assignment {items[0].record_key()!r}", {"draw_id": f"no draw {draw_id!r}"})
                self._check_assignments(cast(Draw, draw), items)
                parts[draw_id] = part
            for draw_id, items in by_draw.items():
                with parts[draw_id].transaction() as tx:
                    put_documents(tx.table("assignments"), {a.record_key(): self._doc(a) for a in items})
                    for a in items:
                        tx.patch("assignments", a)
        return len(records)

    def assignments(self, *, draw_id: str | None = None, evaluator: str | None = None) -> list[Assignment]:
        with self._reading():
            if draw_id is not None:
                found = self._find_draw(draw_id)
                parts = [found] if found else []
            else:
                parts = [self._part(name, DRAWS) for name in self._parts.names("draws")]
            every = [cast(Assignment, a) for part in parts for a in part.records("assignments").values()]
        out = [
            a
            for a in every
            if (draw_id is None or a.draw_id == draw_id) and (evaluator is None or a.evaluator == evaluator)
        ]
        return sorted(out, key=lambda a: (a.draw_id, a.interaction_id))

    # -- drafts ---------------------------------------------------------------------------------

    @staticmethod
    def _drafts_name(user: str) -> str:
        return f"drafts/{hashlib.sha256(user.encode()).hexdigest()[:16]}"

    def save_draft(self, user: str, key: str, state: Mapping[str, Any]) -> Draft:
        record = validated(Draft, {"user": user, "key": key, "state": dict(state), "updated_at": self._now()})
        doc = self._doc(record)
        with self._writing(), self._part(self._drafts_name(user), DRAFTS).transaction() as tx:
            put_documents(tx.table("drafts"), {record.record_key(): doc})
            tx.patch("drafts", record)
        return record

    def get_draft(self, user: str, key: str) -> Draft | None:
        with self._reading():
            return cast(Draft | None, self._part(self._drafts_name(user), DRAFTS).record("drafts", f"{user}/{key}"))

    def delete_draft(self, user: str, key: str) -> bool:
        with self._writing():
            part = self._part(self._drafts_name(user), DRAFTS)
            if f"{user}/{key}" not in part.raw("drafts"):
                return False
            with part.transaction() as tx:
                tx.table("drafts").remove(doc_ids=[f"{user}/{key}"])  # type: ignore[list-item]
        return True

    def drafts_for(self, user: str) -> list[Draft]:
        """A user's drafts, the most recently saved first."""
        with self._reading():
            drafts = [
                d
                for d in cast(dict[str, Draft], self._part(self._drafts_name(user), DRAFTS).records("drafts")).values()
                if d.user == user
            ]
        return sorted(drafts, key=lambda d: (d.updated_at, d.key), reverse=True)

    # -- scorecard versions ---------------------------------------------------------------------

    def remember_scorecard(self, scorecard_id: str, version: str, scorecard: Mapping[str, Any]) -> bool:
        """Keep a scorecard version's JSON forever. True if it was new; an existing version must
        have the same content (versions are content hashes)."""
        record = validated(
            ScorecardVersion,
            {
                "scorecard_id": scorecard_id,
                "version": version,
                "scorecard": dict(scorecard),
                "remembered_at": self._now(),
            },
        )
        doc = self._doc(record)
        with self._writing():
            part = self._part("scorecards", SCORECARDS)
            stored = part.raw("scorecard_versions").get(record.record_key())
            if stored is not None:
                if stored["scorecard"] != doc["scorecard"]:
                    raise StoreError(
                        f"scorecard {scorecard_id!r} version {version!r} is already stored with other content"
                    )
                return False
            with part.transaction() as tx:
                insert_documents(tx.table("scorecard_versions"), {record.record_key(): doc})
                tx.patch("scorecard_versions", record)
        return True

    def get_scorecard_version(self, scorecard_id: str, version: str) -> dict[str, Any]:
        """The scorecard's JSON as it was at that version (a copy)."""
        with self._reading():
            stored = self._part("scorecards", SCORECARDS).raw("scorecard_versions").get(f"{scorecard_id}@{version}")
            if stored is None:
                raise NotFound(f"no scorecard {scorecard_id!r} version {version!r}")
            return cast(dict[str, Any], orjson.loads(orjson.dumps(stored["scorecard"])))

    # -- coaching-site tokens -------------------------------------------------------------------

    def site_tokens(self, employee_ids: Iterable[str] | None = None) -> dict[str, str]:
        """The secret site token of each employee (all by default), created on first use."""
        with self._writing():
            known = {e.id for e in self.list_employees()}
            wanted = sorted(known if employee_ids is None else set(employee_ids))
            for employee_id in wanted:
                if employee_id not in known:
                    raise NotFound(f"no employee {employee_id!r}")
            part = self._part("site_tokens", SITE_TOKENS)
            tokens = {k: cast(SiteToken, t).token for k, t in part.records("site_tokens").items()}
            missing = [e for e in wanted if e not in tokens]
            if missing:
                self._new_tokens(part, missing)
                tokens = {k: cast(SiteToken, t).token for k, t in part.records("site_tokens").items()}
        return {e: tokens[e] for e in wanted}

    def site_token(self, employee_id: str) -> str:
        return self.site_tokens([employee_id])[employee_id]

    def rotate_site_token(self, employee_id: str) -> str:
        """A new token for the employee: the old coaching-page address stops working."""
        with self._writing():
            self.get_employee(employee_id)
            return self._new_tokens(self._part("site_tokens", SITE_TOKENS), [employee_id])[employee_id]

    def _new_tokens(self, part: Partition, employee_ids: list[str]) -> dict[str, str]:
        now = self._now()
        records = [SiteToken(employee_id=e, token=secrets.token_urlsafe(24), created_at=now) for e in employee_ids]
        with part.transaction() as tx:
            put_documents(tx.table("site_tokens"), {r.employee_id: self._doc(r) for r in records})
            for r in records:
                tx.patch("site_tokens", r)
        return {r.employee_id: r.token for r in records}
