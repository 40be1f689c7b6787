"""Partitions: the store's tables split over small files, each one TinyDB database, with caches.

A partition is one file such as `evaluations/2025-05/e07.json`. Its TinyDB tables are keyed by our
own stable string ids (not TinyDB's counters, which collide between processes). Writes inside
`Partition.transaction()` reach the file as a single atomic write, so an evaluation and its audit
entry are saved together or not at all. Reads return frozen records cached until the file changes
(a single record is validated again; whole tables, from files checked by their CRC, are rebuilt
without validation: see `models.trusted_many`). `Partition.view` caches what a bulk reader
derives from the file (columns, a few fields per record), far smaller than the records.
`Partitions` keeps the recently used files within a memory budget, dropping parsed files before
views, and a scan (`Partition.scan`) reads files it has no room for without caching them, so a
whole-table read never evicts what the app was using.
"""

from __future__ import annotations

import contextlib
import gc
import glob
import hashlib
import mmap
import os
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Container, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from tinydb import TinyDB
from tinydb.middlewares import Middleware
from tinydb.table import Document, Table

from qa.errors import InvalidRecord, UnreadableFile
from qa.models import Record, trusted_many, validated_many
from qa.storage import Index, PartitionStorage, Summariser, Tables, WriteBatch, atomic_write

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"  # 4x faster than strftime


def months_between(start: datetime, end: datetime) -> list[str]:
    """Every YYYY-MM from `start` to `end`, widened by a day so that any UTC offset is covered."""
    first, last = start - timedelta(days=1), end + timedelta(days=1)
    year, month, out = first.year, first.month, []
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while parsing or validating many records.

    Nothing we build there is cyclic, but the collector would scan the growing heap again and
    again as millions of dicts are allocated: pausing it halves the cost of bulk loads.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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

    @property
    def inner(self) -> PartitionStorage:
        """The storage under the middleware, with its extra interface."""
        return cast(PartitionStorage, self.storage)


VIEW_MAGIC = "qualiterrain-view"


class ViewCodec(Protocol):
    """How a view is kept on disk, in a hidden file beside its partition (`.e07.<name>`).

    The file's first line names the format and the token of the partition's state it was derived
    from: a view of any other state is ignored and rebuilt. Views are caches: never backed up
    (backups skip hidden files), written without fsync, rebuilt when damaged. Change `name` when
    the layout of the value changes.
    """

    name: str

    def dump(self, value: Any) -> bytes | memoryview: ...
    def load(self, data: memoryview) -> tuple[Any, int]: ...  # the value and its size; ValueError if damaged


def load_view(path: Path, codec: ViewCodec, stamp: str, *, mapped: bool = False) -> tuple[Any, int] | None:
    """A view kept on disk, if it was derived from the state `stamp` names and is readable.

    `mapped`: the file is mapped, not read, so that the value's buffers (Arrow's columns) are the
    page cache's own pages: a new process does not copy a month of columns (~20 MB) and touches
    only the columns it reads. Only for the few large views (one per month folder): each mapping
    holds a file descriptor while its value lives. Views are only ever replaced by a rename,
    never rewritten in place, so a mapping is never cut short under a reader; the codec checks
    a value's structure before handing it out (a damaged offset would read past the mapping).
    """
    try:
        with open(path, "rb") as handle:
            line = handle.readline(_HEADER_MAX)
            if line.rstrip() != f"{VIEW_MAGIC} {codec.name} {stamp}".encode():
                return None  # a view of an older state, or of another format
            if not mapped:
                payload = memoryview(handle.read())
            elif os.fstat(handle.fileno()).st_size > len(line):
                payload = memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))[len(line) :]
            else:
                return None
    except (OSError, ValueError):
        return None
    try:
        return codec.load(payload)
    except ValueError:  # damaged: built again by the caller
        return None


# The header line is padded to a multiple of this, so that the payload (Arrow's buffers) is
# aligned in the mapped file as it was in memory.
_HEADER_ALIGN = 64
_HEADER_MAX = 4096


def save_view(path: Path, codec: ViewCodec, stamp: str, value: Any) -> None:
    """Keep a view on disk beside what it was derived from (a cache: no fsync)."""
    header = f"{VIEW_MAGIC} {codec.name} {stamp}"
    header += " " * (-(len(header) + 1) % _HEADER_ALIGN) + "\n"
    with contextlib.suppress(OSError):  # a read-only or full disk: the view stays in memory only
        atomic_write(path, [header.encode(), codec.dump(value)], durable=False)
        _remove_older_versions(path)


def save_view_soon(path: Path, codec: ViewCodec, stamp: str, value: Any) -> threading.Thread | None:
    """`save_view`, in the background when other threads run (a server: the request that
    changed a month does not wait for its 20 MB view to be written), else now (a command, which
    may fork next: a thread running then could leave a lock held in the child). Returns the
    thread writing it, if any (`Partitions.close_all` waits for it)."""
    if threading.active_count() == 1:
        save_view(path, codec, stamp, value)
        return None
    writer = threading.Thread(target=save_view, args=(path, codec, stamp, value), daemon=True)
    writer.start()
    return writer


_VERSION = re.compile(r"\.v(\d+)\.")


def _remove_older_versions(path: Path) -> None:
    """Delete the same view in an older format (`.e07.rows.v3.arrow` beside `.e07.rows.v4.arrow`):
    nothing reads it any more, and each format of a month of evaluations is a few MB."""
    found = _VERSION.search(path.name)
    if found is None:
        return
    head, tail = path.name[: found.start()], path.name[found.end() :]
    for other in path.parent.glob(f"{glob.escape(head)}.v*.{glob.escape(tail)}"):
        match = _VERSION.search(other.name)
        if other != path and match and match.start() == found.start() and int(match.group(1)) < int(found.group(1)):
            other.unlink(missing_ok=True)


@dataclass(frozen=True)
class Kind:
    """What a family of partitions holds: its tables and their record types, its summary, and
    the table and fields whose documents' byte ranges its headers list (see `Partition.indexed`)."""

    tables: Mapping[str, type[Record]]
    summarise: Summariser | None = None
    index: Index | None = None


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
    middleware: TransactionMiddleware
    patches: dict[str, dict[str, Record]] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        return self.db.table(name, cache_size=0)

    def merge(self, table: str, docs: Mapping[str, dict[str, Any]]) -> None:
        """Insert or replace many documents by id through the Storage interface.

        The bulk path: TinyDB's insert_multiple wraps and copies every document (~4 us each),
        which is most of the cost of importing a million interactions.
        """
        tables = self.middleware.read() or {}
        tables[table] = {**tables.get(table, {}), **docs}
        self.middleware.write(tables)

    def patch(self, table: str, record: Record) -> None:
        """Tell the record cache about a changed record, so it stays warm after the write."""
        self.patches.setdefault(table, {})[record.record_key()] = record


class Partition:
    """One file of the store: raw state through TinyDB, validated records cached by file token.

    Records are validated lazily: one employee's evaluations are validated without validating
    the other employees' evaluations in the same file.
    """

    def __init__(self, root: Path, name: str, kind: Kind, storage_cls: Any, owner: Partitions | None = None) -> None:
        self.name = name
        self._owner = owner
        self.path = root / f"{name}.json"
        self.kind = kind
        self._storage_cls = storage_cls
        self._mw: TransactionMiddleware | None = None
        self._db: PartitionDB | None = None
        self._forget_records(None)
        self._views: dict[str, tuple[str, Any, int]] = {}  # key -> (file token, value, bytes)
        self._view_bytes = 0  # their sum, kept as they change: the budget is checked after every read

    def _forget_records(self, token: str | None) -> None:
        self._records: dict[str, dict[str, Record]] = {}  # table -> some or all of its records
        self._complete: set[str] = set()  # tables whose records are all in _records
        self._indexes: dict[tuple[str, str], dict[Any, list[Record]]] = {}
        self._sorted: dict[tuple[str, Any], list[Record]] = {}  # (table, sort key) -> all its records
        self._records_token = token

    def _middleware(self, create: bool) -> TransactionMiddleware | None:
        if self._mw is None:
            if not create and not self.path.exists():
                return None
            self._mw = TransactionMiddleware(self._storage_cls)
            self._db = PartitionDB(self.path, storage=self._mw, summarise=self.kind.summarise, index=self.kind.index)
        return self._mw

    @property
    def cached_bytes(self) -> int:
        # Summed over every open partition after each read: kept to plain attribute look-ups.
        mw = self._mw
        parsed: int = mw.storage.cached_bytes if mw is not None else 0  # type: ignore[attr-defined]
        return parsed + self._view_bytes

    @property
    def parsed_bytes(self) -> int:
        """Bytes of the parsed file kept in memory (its records come on top)."""
        return self._mw.inner.cached_bytes if self._mw else 0

    def _keep_view(self, key: str, entry: tuple[str, Any, int] | None) -> None:
        """Store (or, with None, drop) a view, keeping `_view_bytes` their sum."""
        old = self._views.pop(key, None)
        if old is not None:
            self._view_bytes -= old[2]
        if entry is not None:
            self._views[key] = entry
            self._view_bytes += entry[2]

    @property
    def is_parsed(self) -> bool:
        """Whether the file's tables are in memory and current."""
        if self._mw is None:
            return False
        token = self._mw.inner.token
        return token is not None and token == self._mw.inner.peek_token()

    def peek_token(self) -> str | None:
        """The token of the file as it is now (None: no file, or a storage without tokens)."""
        mw = self._middleware(create=False)
        return mw.inner.peek_token() if mw else None

    def file_size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def shed(self) -> None:
        """Drop the parsed file and its records, keep the views and the header's summary."""
        if self._mw is not None:
            self._mw.inner.drop_tables()
        self._forget_records(None)

    def _tables(self) -> Tables:
        """The file's current state; drops the record cache if the file changed."""
        mw = self._middleware(create=False)
        with paused_gc():
            tables = (mw.read() if mw else None) or {}
        token = mw.inner.token if mw else None
        if token is None or token != self._records_token:
            self._forget_records(token)
        return tables

    def raw(self, table: str) -> dict[str, Any]:
        """The table's raw documents (fresh; shared with the cache: do not change them)."""
        return self._tables().get(table, {})

    def summary(self) -> dict[str, Any] | None:
        """The file's header summary (None: no file)."""
        mw = self._middleware(create=False)
        return mw.inner.summary() if mw else None

    def ids(self, table: str) -> Mapping[str, Any]:
        """The table's ids (with their summary value), read from the header only."""
        mw = self._middleware(create=False)
        summary = mw.inner.summary() if mw else None
        return (summary or {}).get(table, {})

    def _validate(self, table: str, raw: Mapping[str, Any], keys: list[str]) -> dict[str, Record]:
        cache = self._records.setdefault(table, {})
        missing = [key for key in keys if key not in cache]
        if missing:
            try:
                with paused_gc():
                    values = validated_many(self.kind.tables[table], [raw[key] for key in missing])
            except InvalidRecord as error:
                raise UnreadableFile(str(self.path), f"a stored record is invalid ({error})") from None
            cache.update(zip(missing, values, strict=True))
        return cache

    def records(self, table: str) -> dict[str, Record]:
        """Every record of the table (rebuilt without validation); cached until the file changes."""
        raw = self._tables().get(table, {})
        if table not in self._complete:
            self._rebuild(table, raw, list(raw))
            self._complete.add(table)
        return self._records.get(table, {})

    def _rebuild(self, table: str, raw: Mapping[str, Any], keys: list[str]) -> dict[str, Record]:
        """Cache the records of `keys` (from checked files: rebuilt without validation)."""
        cache = self._records.setdefault(table, {})
        missing = [key for key in keys if key not in cache]
        if missing:
            with paused_gc():
                records = trusted_many(self.kind.tables[table], [raw[key] for key in missing])
            cache.update(zip(missing, records, strict=True))
        return cache

    def scan(
        self,
        table: str,
        keep: bool,
        match: tuple[str, Container[Any]] | None = None,
        order: Callable[[Any], Any] | None = None,
    ) -> list[Record]:
        """The table's records (those whose field `match[0]` is one of `match[1]`), for a bulk read,
        sorted by `order` (else in file order).

        With `keep`, the file and the records built stay cached: with an `order` (or no `match`),
        all of them and the sorted list, so a repeated scan is a filter; with a `match` alone, only
        the matching ones (a look-up of a few ids). Without `keep`, a file not cached already is
        read and rebuilt without caching anything.
        """
        if keep or self.is_parsed:
            raw = self._tables().get(table, {})
            if match is not None and order is None and table not in self._complete:  # only those
                name, values = match
                keys = [key for key, doc in raw.items() if doc.get(name) in values]
                cache = self._rebuild(table, raw, keys)
                return [cache[key] for key in keys]
            self.records(table)
            memo = (table, order)
            ordered = self._sorted.get(memo)
            if ordered is None:
                ordered = list(self._records[table].values())
                if order is not None:
                    ordered.sort(key=order)
                self._sorted[memo] = ordered
            if match is None:
                return list(ordered)
            name, values = match
            return [r for r in ordered if getattr(r, name) in values]
        mw = self._middleware(create=False)
        if mw is None:
            return []
        with paused_gc():
            docs = list(((mw.inner.read_uncached() or {}).get(table) or {}).values())
            if match is not None:
                docs = [d for d in docs if d.get(match[0]) in match[1]]
            records = trusted_many(self.kind.tables[table], docs, shared=False)
        if order is not None:
            records.sort(key=order)
        return records

    def view(
        self, key: str, build: Callable[[bytes | memoryview], tuple[Any, int]], codec: ViewCodec | None = None
    ) -> Any:
        """What `build` derives from the file's body (JSON bytes), cached until the file changes.

        `build` returns the value and its approximate size in bytes (counted in the budget). The
        body is read and checked (CRC) without parsing it into the cache. None if no file.
        With a `codec`, the value is also kept on disk beside the file (see `ViewCodec`), so a
        new process finds it without decoding the file again.
        """
        mw = self._middleware(create=False)
        if mw is None:
            return None
        token = mw.inner.peek_token()
        hit = self._views.get(key)
        if hit is not None and hit[0] == token:
            return hit[1]
        if codec is not None and token is not None:
            loaded = self._load_view(codec, token)
            if loaded is not None:
                self._keep_view(key, (token, *loaded))
                return loaded[0]
        got = mw.inner.read_body()
        if got is None:
            self._keep_view(key, None)
            return None
        token, body = got
        with paused_gc():
            value, size = build(body)
        if token is not None:
            self._keep_view(key, (token, value, size))
            if codec is not None:
                self._save_view(codec, token, value)
        return value

    def _view_path(self, codec: ViewCodec) -> Path:
        return self.path.with_name(f".{self.path.stem}.{codec.name}")

    def _load_view(self, codec: ViewCodec, token: str) -> tuple[Any, int] | None:
        return load_view(self._view_path(codec), codec, token)

    def _save_view(self, codec: ViewCodec, token: str, value: Any) -> None:
        save_view(self._view_path(codec), codec, token, value)

    def record(self, table: str, key: str) -> Record | None:
        """One record (validating only that one when the table is not cached)."""
        raw = self._tables().get(table, {})
        if key not in raw:
            return None
        return self._validate(table, raw, [key])[key]

    def matching(self, table: str, field_name: str, value: Any) -> list[Record]:
        """The records whose `field_name` equals `value`; only those are validated."""
        raw = self._tables().get(table, {})
        if table in self._complete:
            index = self._indexes.get((table, field_name))
            if index is None:
                index = self._indexes[(table, field_name)] = {}
                for record in self._records[table].values():
                    index.setdefault(getattr(record, field_name), []).append(record)
            return index.get(value, [])
        keys = [key for key, doc in raw.items() if doc.get(field_name) == value]
        cache = self._validate(table, raw, keys)
        return [cache[key] for key in keys]

    def indexed(self, table: str, field_name: str, value: Any) -> list[Record]:
        """The records whose field `field_name` (one of `Kind.index`'s) equals `value`, as
        `matching` gives them.

        When the file is not parsed in memory, only its header and those records' bytes are read
        (a few KB instead of the whole file: an employee's evaluations over a year lie in 12
        files of ~0.5 MB), and the records are kept like a view (counted in the budget, dropped
        when the file changes), so reading them again costs one look at the file's token.
        Records are rebuilt without validation: the file's own header locates them, and a range
        that does not hold its record is an error.
        """
        index = self.kind.index
        if index is None or index[0] != table or field_name not in index[1]:
            raise ValueError(f"{self.name}: no index on {table}.{field_name}")
        mw = self._middleware(create=False)
        if mw is None:
            return []
        key = f"indexed:{table}:{field_name}:{value}"
        hit = self._views.get(key)
        parsed = mw.inner.token  # the state whose tables are in memory, if any
        # One open of the file tells its state and, unless a state held already is current, reads.
        known = [t for t in (parsed, hit[0] if hit is not None else None) if t is not None]
        with paused_gc():
            got = mw.inner.read_indexed(table, field_name, value, known)
            if got is not None and got[1] is not None:
                records = trusted_many(self.kind.tables[table], got[1], shared=False)
        if got is None or (got[1] is None and got[0] == parsed):  # no index, or parsed and current
            return self.matching(table, field_name, value)
        token, docs, size = got
        if docs is None:  # the records kept from this state
            assert hit is not None
            return list(hit[1])
        if token is not None:
            self._keep_view(key, (token, records, size))
        return list(records)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Every TinyDB write in the body becomes one atomic write of the file, or none at all."""
        mw = self._middleware(create=True)
        assert mw is not None and self._db is not None
        mw.active, mw.dirty, mw.pending = True, False, None
        tx = Transaction(self._db, mw)
        try:
            yield tx
            if mw.dirty and mw.pending is not None:
                batch = self._owner.batch if self._owner else None
                if batch is not None:
                    batch.write(mw.storage, mw.pending)
                    self._forget_records(None)
                else:
                    read_token = mw.inner.token
                    mw.inner.write(mw.pending)
                    self._after_write(read_token, tx.patches)
        except BaseException:
            mw.inner.forget()  # TinyDB may have changed cached documents in place
            self._forget_records(None)
            raise
        finally:
            mw.active, mw.dirty, mw.pending = False, False, None

    def _after_write(self, read_token: str | None, patches: dict[str, dict[str, Record]]) -> None:
        new_token = self._mw.inner.token if self._mw else None
        if read_token is None or new_token is None or read_token != self._records_token:
            self._forget_records(None)
            return
        # The cache held the state this write started from: patch it instead of re-validating.
        records = {t: {**recs, **patches[t]} for t, recs in self._records.items() if t in patches}
        complete = self._complete & records.keys()
        self._forget_records(new_token)
        self._records, self._complete = records, complete

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        self._mw = self._db = None
        self._forget_records(None)
        self._views, self._view_bytes = {}, 0


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
        # (folder, key) -> (stamp of the files' tokens, value, bytes); see folder_view
        self._folder_views: OrderedDict[tuple[str, str], tuple[str, Any, int]] = OrderedDict()
        self._saving: list[threading.Thread] = []  # views being written in the background
        self._calls = 0
        self.batch: WriteBatch | None = None

    @contextmanager
    def batch_writes(self) -> Iterator[None]:
        """Inside, partition writes are flushed together at the end (see storage.WriteBatch)."""
        if self.batch is not None:
            yield
            return
        self.batch = WriteBatch()
        try:
            yield
            self.batch.commit()
        except BaseException:
            self.batch.abort()
            raise
        finally:
            self.batch = None

    def get(self, name: str, kind: Kind) -> Partition:
        part = self._open.get(name)
        if part is None:
            part = self._open[name] = Partition(self.root, name, kind, self.storage_cls, self)
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
                f"{folder}/{e.name[:-5]}"
                for e in entries
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

    def room(self) -> int:
        """Bytes left in the budget."""
        return self.budget_bytes - self._total()

    def _total(self) -> int:
        return sum(part.cached_bytes for part in self._open.values()) + sum(
            size for _, _, size in self._folder_views.values()
        )

    def evict(self, every: int = 1) -> None:
        """Drop least recently used parsed files, then folder views, then files' views, until the
        cache fits its budget.

        Loops over many partitions pass `every` > 1 to check only every so often (the check
        sums over all open partitions). The most recently used partition is always kept.
        """
        self._calls += 1
        if self._calls % every:
            return
        total = self._total()
        if total <= self.budget_bytes:
            return
        for part in list(self._open.values())[:-1]:
            if total <= self.budget_bytes:
                return
            parsed = part.parsed_bytes
            if parsed:
                part.shed()
                total -= parsed - part.parsed_bytes
        while total > self.budget_bytes and self._folder_views:
            total -= self._folder_views.popitem(last=False)[1][2]
        while total > self.budget_bytes and len(self._open) > 1:
            _, part = self._open.popitem(last=False)
            total -= part.cached_bytes
            part.close()

    def folder_view(
        self,
        folder: str,
        kind: Kind,
        key: str,
        build: Callable[[bytes | memoryview], tuple[Any, int]],
        codec: ViewCodec,
        combine: Callable[[list[Any]], tuple[Any, int]],
    ) -> Any:
        """The views (`Partition.view`) of every file in `folder`, combined into one value.

        Kept in memory and on disk (`<folder>/.<codec.name>`, like a file's view) until any file
        of the folder changes, appears or goes: a month of evaluations is 64 files, and a new
        process then reads one file instead of 64 (the files' tokens are still checked, 42 bytes
        each). Files without tokens (TinyDB's plain storage) are combined every time.
        """
        parts = [self.get(name, kind) for name in self.names(folder)]
        tokens = [part.peek_token() for part in parts]
        if not parts or any(token is None for token in tokens):  # nothing to keep: no folder is made
            return combine([v for v in (p.view(key, build, codec) for p in parts) if v is not None])[0]
        lines = "\n".join(f"{part.name} {token}" for part, token in zip(parts, tokens, strict=True))
        stamp = hashlib.sha256(lines.encode()).hexdigest()
        hit = self._folder_views.get((folder, key))
        if hit is not None and hit[0] == stamp:
            self._folder_views.move_to_end((folder, key))
            return hit[1]
        path = self.root / folder / f".{codec.name}"
        loaded = load_view(path, codec, stamp, mapped=True)
        if loaded is None:
            loaded = combine([v for v in (p.view(key, build, codec) for p in parts) if v is not None])
            writer = save_view_soon(path, codec, stamp, loaded[0])
            if writer is not None:
                self._saving = [t for t in self._saving if t.is_alive()] + [writer]
        self._folder_views[(folder, key)] = (stamp, *loaded)
        return loaded[0]

    def close_all(self) -> None:
        for writer in self._saving:  # a closed store has its views on disk
            writer.join(timeout=30)
        self._saving = []
        self._folder_views.clear()
        while self._open:
            self._open.popitem()[1].close()
