"""Partitions: the store's tables split over small files, each one TinyDB database, with caches.

A partition is one file such as `evaluations/2025-05/e07.json`. Its TinyDB tables are keyed by our
own stable string ids (not TinyDB's counters, which collide between processes). Writes inside
`Partition.transaction()` reach the file as a single atomic write, so an evaluation and its audit
entry are saved together or not at all. Reads return validated, frozen records cached until the
file changes; `Partitions` keeps the recently used ones within a memory budget.
"""

from __future__ import annotations

import os
import re
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.middlewares import Middleware
from tinydb.table import Document, Table

from qa.errors import InvalidRecord, UnreadableFile
from qa.models import Record, validated_many
from qa.storage import Summariser, Tables

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def months_between(start: datetime, end: datetime) -> list[str]:
    """Every YYYY-MM from `start` to `end`, widened by a day so that any UTC offset is covered."""
    first, last = start - timedelta(days=1), end + timedelta(days=1)
    year, month, out = first.year, first.month, []
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def bucket(key: str, buckets: int) -> int:
    """A stable bucket for `key` (the same in every process, unlike hash())."""
    return zlib.crc32(key.encode("utf-8")) % buckets


class StrIdTable(Table):
    """A TinyDB table whose document ids are our own strings (uuid-like), never counters."""

    document_id_class = str  # type: ignore[assignment]


class PartitionDB(TinyDB):
    table_class = StrIdTable


class TransactionMiddleware(Middleware):
    """Collects the writes of one operation so they reach the storage as one atomic write."""

    def __init__(self, storage_cls: Any) -> None:
        super().__init__(storage_cls)
        self.active = False
        self.dirty = False
        self.pending: Tables | None = None

    def read(self) -> Tables | None:
        if not self.active:
            return self.storage.read()
        if self.pending is None:
            self.pending = self.storage.read() or {}
        return self.pending

    def write(self, data: Tables) -> None:
        if self.active:
            self.pending, self.dirty = data, True
        else:
            self.storage.write(data)

    def close(self) -> None:
        self.storage.close()


@dataclass(frozen=True)
class Kind:
    """What a family of partitions holds: its tables and their record types, and its summary."""

    tables: Mapping[str, type[Record]]
    summarise: Summariser | None = None


def summary_of(table: str, value: str | None = None) -> Summariser:
    """A summariser listing the ids of `table` (and one field of each, e.g. the status)."""

    def summarise(tables: Tables) -> dict[str, Any]:
        docs = tables.get(table, {})
        if value is None:
            return {table: dict.fromkeys(docs, 1)}
        return {table: {key: doc.get(value) for key, doc in docs.items()}}

    return summarise


@dataclass
class Transaction:
    """Handed to the body of `Partition.transaction`: the TinyDB database and record patches."""

    db: PartitionDB
    patches: dict[str, dict[str, Record]] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        return self.db.table(name, cache_size=0)

    def patch(self, table: str, record: Record) -> None:
        """Tell the record cache about a changed record, so it stays warm after the write."""
        self.patches.setdefault(table, {})[record.record_key()] = record


class Partition:
    """One file of the store: raw state through TinyDB, validated records cached by file token."""

    def __init__(self, root: Path, name: str, kind: Kind, storage_cls: Any) -> None:
        self.name = name
        self.path = root / f"{name}.json"
        self.kind = kind
        self._storage_cls = storage_cls
        self._mw: TransactionMiddleware | None = None
        self._db: PartitionDB | None = None
        self._records: dict[str, dict[str, Record]] = {}
        self._records_token: str | None = None
        self._indexes: dict[tuple[str, str], dict[Any, list[Record]]] = {}

    def _middleware(self, create: bool) -> TransactionMiddleware | None:
        if self._mw is None:
            if not create and not self.path.exists():
                return None
            self._mw = TransactionMiddleware(self._storage_cls)
            self._db = PartitionDB(self.path, storage=self._mw, summarise=self.kind.summarise)
        return self._mw

    @property
    def cached_bytes(self) -> int:
        return self._mw.storage.cached_bytes if self._mw else 0

    def raw(self, table: str) -> dict[str, Any]:
        """The table's raw documents (fresh; shared with the cache: do not change them)."""
        mw = self._middleware(create=False)
        tables = mw.read() if mw else None
        return (tables or {}).get(table, {})

    def ids(self, table: str) -> Mapping[str, Any]:
        """The table's ids (with their summary value), read from the header only."""
        mw = self._middleware(create=False)
        summary = mw.storage.summary() if mw else None
        return (summary or {}).get(table, {})

    def records(self, table: str) -> dict[str, Record]:
        """Every record of the table, validated; cached until the file changes."""
        mw = self._middleware(create=False)
        tables = (mw.read() if mw else None) or {}
        token = mw.storage.token if mw else None
        if token is None or token != self._records_token:
            self._records, self._indexes, self._records_token = {}, {}, token
        if table not in self._records:
            raw = tables.get(table, {})
            try:
                values = validated_many(self.kind.tables[table], list(raw.values()))
            except InvalidRecord as error:
                raise UnreadableFile(str(self.path), f"a stored record is invalid ({error})") from None
            self._records[table] = dict(zip(raw.keys(), values, strict=True))
        return self._records[table]

    def record(self, table: str, key: str) -> Record | None:
        """One record, without validating the whole partition when it is not cached."""
        mw = self._middleware(create=False)
        cached = mw is not None and self._records_token is not None and table in self._records
        if cached and mw.storage.peek_token() == self._records_token:  # type: ignore[union-attr]
            return self._records[table].get(key)
        doc = self.raw(table).get(key)
        if doc is None:
            return None
        try:
            return validated_many(self.kind.tables[table], [doc])[0]
        except InvalidRecord as error:
            raise UnreadableFile(str(self.path), f"a stored record is invalid ({error})") from None

    def indexed(self, table: str, field_name: str, value: Any) -> list[Record]:
        """The table's records whose `field_name` equals `value` (index built once per version)."""
        records = self.records(table)
        index = self._indexes.get((table, field_name))
        if index is None:
            index = {}
            for record in records.values():
                index.setdefault(getattr(record, field_name), []).append(record)
            self._indexes[(table, field_name)] = index
        return index.get(value, [])

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Every TinyDB write in the body becomes one atomic write of the file, or none at all."""
        mw = self._middleware(create=True)
        assert mw is not None and self._db is not None
        mw.active, mw.dirty, mw.pending = True, False, None
        tx = Transaction(self._db)
        try:
            yield tx
            if mw.dirty and mw.pending is not None:
                read_token = mw.storage.token
                mw.storage.write(mw.pending)
                self._after_write(read_token, tx.patches)
        except BaseException:
            mw.storage.forget()  # TinyDB may have changed cached documents in place
            self._records, self._indexes, self._records_token = {}, {}, None
            raise
        finally:
            mw.active, mw.dirty, mw.pending = False, False, None

    def _after_write(self, read_token: str | None, patches: dict[str, dict[str, Record]]) -> None:
        new_token = self._mw.storage.token if self._mw else None
        if read_token is None or new_token is None or read_token != self._records_token:
            self._records, self._indexes, self._records_token = {}, {}, None
            return
        # The cache held the state this write started from: patch it instead of re-validating.
        self._records = {t: {**recs, **patches[t]} for t, recs in self._records.items() if t in patches}
        self._indexes, self._records_token = {}, new_token

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        self._mw = self._db = None
        self._records, self._indexes, self._records_token = {}, {}, None


def insert_documents(table: Table, docs: Mapping[str, dict[str, Any]]) -> None:
    """Insert documents under our own ids (TinyDB refuses an id that is already there)."""
    table.insert_multiple(Document(doc, doc_id=key) for key, doc in docs.items())  # type: ignore[arg-type]


def put_documents(table: Table, docs: Mapping[str, dict[str, Any]]) -> None:
    """Insert or replace documents by id (TinyDB has no bulk upsert: remove, then insert)."""
    table.remove(doc_ids=list(docs))  # type: ignore[arg-type]
    insert_documents(table, docs)


class Partitions:
    """The partitions open in this process, least recently used first, within a memory budget."""

    def __init__(self, root: Path, storage_cls: Any, budget_bytes: int) -> None:
        self.root = root
        self.storage_cls = storage_cls
        self.budget_bytes = budget_bytes
        self._open: OrderedDict[str, Partition] = OrderedDict()

    def get(self, name: str, kind: Kind) -> Partition:
        part = self._open.get(name)
        if part is None:
            part = self._open[name] = Partition(self.root, name, kind, self.storage_cls)
        else:
            self._open.move_to_end(name)
        return part

    def names(self, folder: str) -> list[str]:
        """Names of the partition files directly in `folder` (e.g. "evaluations/2025-05")."""
        try:
            entries = os.scandir(self.root / folder)
        except FileNotFoundError:
            return []
        with entries:
            return sorted(
                f"{folder}/{e.name[:-5]}" for e in entries
                if e.name.endswith(".json") and not e.name.startswith(".") and e.is_file()
            )

    def months(self, folder: str) -> list[str]:
        """The YYYY-MM sub-folders of `folder`, oldest first."""
        try:
            entries = os.scandir(self.root / folder)
        except FileNotFoundError:
            return []
        with entries:
            return sorted(e.name for e in entries if MONTH.match(e.name) and e.is_dir())

    def evict(self) -> None:
        """Forget least recently used partitions until the cache fits its budget."""
        total = sum(part.cached_bytes for part in self._open.values())
        while total > self.budget_bytes and len(self._open) > 1:
            _, part = self._open.popitem(last=False)
            total -= part.cached_bytes
            part.close()

    def close_all(self) -> None:
        while self._open:
            self._open.popitem()[1].close()
