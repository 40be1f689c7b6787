"""The evaluations part of the Store: submit, import, update with audit, and the queries.

Evaluations live in `evaluations/<YYYY-MM>/e<NN>.json` (month of started_at in its own offset,
bucket of the employee), each file with the audit entries of its evaluations, so a change and its
audit entry are one atomic write. `Store` (qa/store.py) adds the other tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from qa.errors import InvalidRecord, NotFound, StoreError
from qa.models import STATUS_TRANSITIONS, AuditEntry, Evaluation, dump_many, new_id, validated, validated_many
from qa.partitions import MONTH, Partition, bucket, insert_documents, paused_gc, put_documents
from qa.store_core import EMPLOYEES, EVALUATIONS, SCORECARDS, StoreCore, by_time, time_order

if TYPE_CHECKING:
    import pandas as pd


def _months(months: Iterable[str]) -> list[str]:
    """The months asked for, sorted and once each; StoreError for one not written as YYYY-MM."""
    wanted = sorted(set(months))
    for month in wanted:
        if not MONTH.match(month):
            raise StoreError(f"{month!r} is not a month written as YYYY-MM")
    return wanted


class EvaluationStore(StoreCore):
    """Evaluations and their audit log."""

    def _mark_disputed(self, evaluation_ids: list[str]) -> None:
        """Called, under the write lock, before evaluations are written with status "disputed":
        the review tables (qa/store_reviews.py) keep the index of every evaluation ever disputed."""

    def _evaluation_name(self, month: str, employee_id: str) -> str:
        return f"evaluations/{month}/e{bucket(employee_id, self.layout['evaluation_buckets']):02d}"

    def _evaluation_names(self) -> list[str]:
        return [
            name for month in self._parts.months("evaluations") for name in self._parts.names(f"evaluations/{month}")
        ]

    def _find_evaluation(self, evaluation_id: str, *, scan: bool = True) -> tuple[Partition, Evaluation] | None:
        """Where an evaluation is: the remembered file first, else every file's header."""
        name = self._where.get(evaluation_id)
        names = [name] if name else []
        if scan:
            names += self._evaluation_names()
        for name in names:
            part = self._part(name, EVALUATIONS)
            ids = part.ids("evaluations")
            seen = (id(ids), len(ids))  # not the mapping itself: that would pin evicted files
            if self._learnt.get(name) != seen:  # a header not seen yet: remember all its ids
                self._where.update(dict.fromkeys(ids, name))
                self._learnt[name] = seen
            if evaluation_id in ids:
                record = part.record("evaluations", evaluation_id)
                if record is not None:
                    self._where[evaluation_id] = name
                    return part, cast(Evaluation, record)
        return None

    def _check_references(self, records: Iterable[Evaluation]) -> None:
        employees = self._part("employees", EMPLOYEES).records("employees")
        cards = self._part("scorecards", SCORECARDS).records("scorecard_versions")
        for r in records:
            if r.employee_id not in employees:
                raise InvalidRecord(f"evaluation {r.id!r}", {"employee_id": f"no employee {r.employee_id!r}"})
            if f"{r.scorecard_id}@{r.scorecard_version}" not in cards:
                raise InvalidRecord(
                    f"evaluation {r.id!r}",
                    {
                        "scorecard_version": (
                            f"scorecard {r.scorecard_id!r} version {r.scorecard_version!r} is not stored "
                            "(remember_scorecard first)"
                        )
                    },
                )

    def submit_evaluation(self, evaluation: Evaluation | Mapping[str, Any], *, by: str | None = None) -> Evaluation:
        """Store a new evaluation as submitted, with its audit entry, in one durable write.

        Its id is the idempotency key: if it is already stored, the stored one is returned and
        nothing is written (a retried submit never creates a second evaluation).
        """
        record = validated(Evaluation, evaluation)
        if record.status not in ("draft", "submitted"):
            raise InvalidRecord(
                f"evaluation {record.id!r}",
                {
                    "status": (
                        f"a new evaluation is submitted, not {record.status!r} (import_evaluations keeps statuses)"
                    )
                },
            )
        now = self._now()
        record = record.model_copy(
            update={"status": "submitted", "submitted_at": record.submitted_at or now, "updated_at": now}
        )
        entry = validated(
            AuditEntry,
            {
                "id": new_id(),
                "evaluation_id": record.id,
                "seq": 0,
                "at": now,
                "by": by or record.evaluator,
                "action": "submitted",
            },
        )
        doc, entry_doc = self._doc(record), self._doc(entry)
        with self._writing():
            found = self._find_evaluation(record.id, scan=False)
            if found is not None:
                return found[1]
            self._check_references([record])
            part = self._part(self._evaluation_name(record.month, record.employee_id), EVALUATIONS)
            with part.transaction() as tx:
                stored = tx.table("evaluations").get(doc_id=record.id)  # type: ignore[call-overload]  # str ids
                if stored is not None:
                    return validated(Evaluation, dict(stored))  # type: ignore[arg-type]
                insert_documents(tx.table("evaluations"), {record.id: doc})
                insert_documents(tx.table("audit"), {entry.id: entry_doc})
                tx.patch("evaluations", record)
                tx.patch("audit", entry)
            self._where[record.id] = part.name
        return record

    def import_evaluations(
        self,
        evaluations: Iterable[Evaluation | Mapping[str, Any]],
        *,
        by: str,
        audit: Mapping[str, list[AuditEntry]] | None = None,
    ) -> int:
        """Store many evaluations as they are (any status), one write per file; ids already
        stored are skipped. Each gets an "imported" audit entry unless `audit` gives its history."""
        with paused_gc():
            return self._import_evaluations(validated_many(Evaluation, evaluations), by, audit or {})

    def _import_evaluations(self, records: list[Evaluation], by: str, audit: Mapping[str, list[AuditEntry]]) -> int:
        now = self._now()
        entries = {
            r.id: list(
                audit.get(r.id)
                or [
                    AuditEntry(
                        id=new_id(),
                        evaluation_id=r.id,
                        seq=0,
                        at=now,
                        by=by,
                        action="imported",
                        details={"status": r.status},
                    )
                ]
            )
            for r in records
        }
        groups: dict[str, list[tuple[Evaluation, dict[str, Any]]]] = {}
        for record, doc in zip(records, dump_many(Evaluation, records), strict=True):
            groups.setdefault(self._evaluation_name(record.month, record.employee_id), []).append((record, doc))
        added = 0
        with self._writing(), self._parts.batch_writes():
            self._check_references(records)
            disputed = [r.id for r in records if r.status == "disputed"]
            if disputed:
                self._mark_disputed(disputed)
            for name in sorted(groups):
                part = self._part(name, EVALUATIONS)
                present = part.ids("evaluations")
                new = {r.id: (r, d) for r, d in groups[name] if r.id not in present and r.id not in self._where}
                if new:
                    log = [e for key in new for e in entries[key]]
                    with part.transaction() as tx:
                        tx.merge("evaluations", {key: d for key, (_, d) in new.items()})
                        tx.merge("audit", dict(zip((e.id for e in log), dump_many(AuditEntry, log), strict=True)))
                    self._where.update(dict.fromkeys(new, name))
                    added += len(new)
                self._parts.evict(every=16)
        return added

    def get_evaluation(self, evaluation_id: str) -> Evaluation:
        with self._reading():
            found = self._find_evaluation(evaluation_id)
        if found is None:
            raise NotFound(f"no evaluation {evaluation_id!r}")
        return found[1]

    def update_evaluation(
        self,
        evaluation_id: str,
        changes: Mapping[str, Any],
        *,
        by: str,
        action: str,
        details: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        """Change an evaluation and append its audit entry (who, when, action, details) in the
        same atomic write. Status changes follow models.STATUS_TRANSITIONS."""
        with self._writing():
            found = self._find_evaluation(evaluation_id)
            if found is None:
                raise NotFound(f"no evaluation {evaluation_id!r}")
            part, current = found
            now = self._now()
            record = validated(Evaluation, {**current.model_dump(), **changes, "updated_at": now})
            what = f"evaluation {evaluation_id!r}"
            moved = [f for f in sorted(Evaluation.IMMUTABLE) if getattr(record, f) != getattr(current, f)]
            if moved:
                raise InvalidRecord(what, dict.fromkeys(moved, "cannot be changed (it places the evaluation)"))
            if record.status != current.status and record.status not in STATUS_TRANSITIONS[current.status]:
                raise InvalidRecord(what, {"status": f"cannot go from {current.status!r} to {record.status!r}"})
            if record.status == "disputed" and current.status != "disputed":
                self._mark_disputed([evaluation_id])  # before the write: the index stays a superset
            fields = sorted(k for k in changes if getattr(current, k, None) != getattr(record, k, None))
            seq = sum(1 for e in part.raw("audit").values() if e["evaluation_id"] == evaluation_id)
            entry = validated(
                AuditEntry,
                {
                    "id": new_id(),
                    "evaluation_id": evaluation_id,
                    "seq": seq,
                    "at": now,
                    "by": by,
                    "action": action,
                    "fields": fields,
                    "details": dict(details or {}),
                },
            )
            doc, entry_doc = self._doc(record), self._doc(entry)
            with part.transaction() as tx:
                put_documents(tx.table("evaluations"), {evaluation_id: doc})
                insert_documents(tx.table("audit"), {entry.id: entry_doc})
                tx.patch("evaluations", record)
                tx.patch("audit", entry)
        return record

    def evaluations_for_employee(self, employee_id: str) -> list[Evaluation]:
        with self._reading():
            out = [
                cast(Evaluation, r)
                for month in self._parts.months("evaluations")
                for r in self._part(self._evaluation_name(month, employee_id), EVALUATIONS).indexed(
                    "evaluations", "employee_id", employee_id
                )
            ]
        return by_time(out)

    def evaluations_by_evaluator(
        self, evaluator: str, *, months: Iterable[str] | None = None, status: str | None = None
    ) -> list[Evaluation]:
        """The evaluator's evaluations (started in these months, with this status), oldest first.

        Read through the files' indexes: each file's header, then only that evaluator's records
        (files without that status are skipped from their header alone).
        """
        wanted = None if months is None else _months(months)
        out: list[Evaluation] = []
        with self._reading():
            if wanted is None:
                names = self._evaluation_names()
            else:
                names = [name for month in wanted for name in self._parts.names(f"evaluations/{month}")]
        for name in names:
            with self._reading(evict_every=16):
                part = self._part(name, EVALUATIONS)
                if status is not None and status not in part.ids("evaluations").values():
                    continue
                found = cast(list[Evaluation], part.indexed("evaluations", "evaluator", evaluator))
            out += found if status is None else [r for r in found if r.status == status]
        return by_time(out)

    def evaluations_in_month(self, month: str) -> list[Evaluation]:
        """Evaluations whose started_at (in its own offset) falls in `month` ("YYYY-MM")."""
        _months([month])
        # The collector paused for the whole read: between files, and while sorting, it would
        # otherwise walk the fresh records again and again (a third of a cold read).
        with self._reading(), paused_gc():
            out = [
                cast(Evaluation, r)
                for name in self._parts.names(f"evaluations/{month}")
                for r in self._part(name, EVALUATIONS).records("evaluations").values()
            ]
            return by_time(out)

    def iter_evaluations(self, *, status: str | None = None) -> Iterator[Evaluation]:
        """Every evaluation (with this status), a file at a time; no lock is held between files.

        Files without that status are skipped from their header; the others' records are rebuilt
        without validation. Files stay cached while the cache has room; past it, they are read
        and dropped, so a scan of a large store never evicts what the app was using.
        For analysis, `evaluation_rows` is much faster.
        """
        with self._reading():
            names = self._evaluation_names()
            room = self._parts.room()
        match = None if status is None else ("status", {status})
        for name in names:
            with self._reading(evict_every=16):
                part = self._part(name, EVALUATIONS)
                if status is not None and status not in part.ids("evaluations").values():
                    continue
                keep = part.is_parsed
                if not keep:
                    size = part.file_size()
                    keep, room = (True, room - size) if size <= room else (False, room)
                batch = cast(list[Evaluation], part.scan("evaluations", keep, match, time_order))
            yield from batch

    def count_evaluations(self, *, status: str | None = None) -> int:
        """How many evaluations (with this status) are stored, from the files' headers only."""
        with self._reading():
            return sum(
                len(ids) if status is None else sum(1 for value in ids.values() if value == status)
                for ids in (self._part(name, EVALUATIONS).ids("evaluations") for name in self._evaluation_names())
            )

    def evaluation_rows(
        self,
        *,
        status: str | None = None,
        months: Iterable[str] | None = None,
        criteria: bool = False,
        texts: bool = False,
    ) -> pd.DataFrame:
        """One row per evaluation (with this status, started in these months), oldest first.

        Columns: id, scorecard_id, scorecard_version, evaluator, employee_id, interaction_id,
        channel, status, started_at, submitted_at and updated_at (UTC), month and day (YYYY-MM,
        YYYY-MM-DD in the evaluation's own offset), overall, band, critical_failed,
        critical_failures (the failed critical criteria's ids joined by ","), scenario (a visit's
        `scenario` context, else null), then `section.<id>` and `behaviour.<name>` scores (NaN
        when absent) and, with `criteria`, `passed.<criterion id>` (int8: 1 passed, 0 failed, -1
        not scored) and `fraction.<criterion id>` (float32: the share of the criterion's weight
        earned, NaN when N/A or not scored); with `texts`, `comments` and `debrief` (the
        evaluator's free text as JSON objects, null when empty: they may name customers, so only
        a caller that redacts them asks). Read from the files' bodies without building
        records, and cached per file until it changes: the whole store in a fraction of a second
        once read, a few seconds the first time for 100,000 evaluations.
        """
        # Imported here: pandas and Arrow cost half a second to import, and most users of the
        # store (the CLI, a worker process) never make a bulk read.
        import pyarrow.compute as pc

        from qa.store_columns import (
            EVALUATION_SCHEMA,
            EVALUATION_VIEWS,
            FRACTION,
            PASSED,
            TEXT_COLUMNS,
            block_size,
            concat,
            evaluation_block,
            in_order,
            to_frame,
        )

        wanted = None if months is None else _months(months)
        blocks = []
        with self._reading():
            months_read = self._parts.months("evaluations") if wanted is None else wanted
        for month in months_read:
            with self._reading():
                blocks.append(
                    self._parts.folder_view(
                        f"evaluations/{month}",
                        EVALUATIONS,
                        "evaluation_rows",
                        evaluation_block,
                        EVALUATION_VIEWS,
                        lambda found: (block := in_order(concat(found, EVALUATION_SCHEMA)), block_size(block)),
                    )
                )
        table = concat(blocks, EVALUATION_SCHEMA)
        if status is not None:
            table = table.filter(pc.equal(table["status"], status))
        if not criteria:
            table = table.select([c for c in table.column_names if not c.startswith((PASSED, FRACTION))])
        if not texts:
            table = table.drop_columns(list(TEXT_COLUMNS))
        # Months stay separate chunks: pandas keeps text columns chunked, and numbers are made
        # contiguous once by to_frame (combining first copied every column a second time).
        return to_frame(in_order(table))

    def audit_log(self, evaluation_id: str) -> list[AuditEntry]:
        """Every change to the evaluation, in order."""
        with self._reading():
            found = self._find_evaluation(evaluation_id)
            if found is None:
                raise NotFound(f"no evaluation {evaluation_id!r}")
            entries = [cast(AuditEntry, e) for e in found[0].matching("audit", "evaluation_id", evaluation_id)]
        return sorted(entries, key=lambda e: e.seq)
