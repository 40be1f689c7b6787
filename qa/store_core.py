"""The machinery under `Store`: one instance per data folder, locks, opening, migration, backups.

Concurrency model (TinyDB itself is safe neither for threads nor for processes):
* one `Store` per data folder per process (`Store.open` keeps a registry), so one cache per file;
* every operation holds the store's `threading.RLock` (Streamlit sessions are threads);
* every write also holds a `filelock.FileLock` on `<data>/.lock`, so `qa` commands and the app
  never write at the same time; inside it each file is re-read if its token changed;
* reads take no file lock: files are replaced atomically and every read checks the file's token,
  so a read sees every write acknowledged before it began.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from filelock import FileLock, Timeout
from pydantic_core import PydanticSerializationError

from qa.backups import (
    BACKUPS,
    backup_problems,
    copy_folder,
    detach,
    finish_restore,
    list_backups,
    newest_good_backup,
    read_manifest,
    snapshot,
    stage_restore,
    write_zip,
)
from qa.errors import InvalidRecord, StoreError, UnreadableFile
from qa.migrations import LEFTOVERS, META, MIGRATIONS, detect_schema, read_meta, refuse_newer
from qa.models import (
    Assignment,
    AuditEntry,
    Draft,
    Draw,
    Employee,
    Evaluation,
    Interaction,
    Record,
    ScorecardVersion,
    SiteToken,
    User,
    UserChange,
)
from qa.partitions import Kind, Partition, Partitions, summary_of
from qa.storage import FORMAT, SCHEMA, STORAGES, atomic_write, ensure_dir

Clock = Callable[[], datetime]

# How many files the hot tables are split into per month (recorded in store.json at creation).
# At 100k evaluations a year, 64 buckets make ~180 KB files: what a submit rewrites, and what
# one employee's query parses per month.
LAYOUT_DEFAULTS = {"evaluation_buckets": 64, "interaction_buckets": 32}


# What each family of files holds (see the layout in qa/store.py).
EMPLOYEES = Kind({"employees": Employee})
USERS = Kind({"users": User, "user_changes": UserChange})  # a change and its log line: one write
SITE_TOKENS = Kind({"site_tokens": SiteToken})
SCORECARDS = Kind({"scorecard_versions": ScorecardVersion})
DRAWS = Kind({"draws": Draw, "assignments": Assignment}, summary_of("draws"))
DRAFTS = Kind({"drafts": Draft})
EVALUATIONS = Kind(
    {"evaluations": Evaluation, "audit": AuditEntry},
    summary_of("evaluations", "status"),
    index=("evaluations", ("employee_id", "evaluator")),  # someone's evaluations without parsing whole files
)
INTERACTIONS = Kind({"interactions": Interaction}, summary_of("interactions"))
EVALUATION_INDEX = 4  # which index evaluation files carry; older folders are re-indexed when opened
SMALL_FILES = {"employees": EMPLOYEES, "users": USERS, "site_tokens": SITE_TOKENS, "scorecards": SCORECARDS}

R = TypeVar("R", bound=Record)


def time_order(record: Any) -> tuple[float, str]:
    """The sort key of `by_time` (one function object, so sorted lists can be cached by it)."""
    return record.started_at.timestamp(), record.record_key()


def by_time(records: list[R]) -> list[R]:
    """Sorted by started_at, then key.

    Timestamps, not datetimes: comparing datetimes of different offsets calls utcoffset() at
    every comparison, which made sorting a month of evaluations 20x slower.
    """
    records.sort(key=time_order)
    return records


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreCore:
    """Opening, locking, caching, migration and backups; the tables live in `qa.store.Store`."""

    _registry: ClassVar[dict[Path, StoreCore]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def open(
        cls,
        data_dir: str | Path,
        *,
        storage: str = "durable",
        clock: Clock | None = None,
        cache_mb: int | None = None,
        lock_timeout: float = 30.0,
        backup_every: timedelta | None = timedelta(days=1),
        keep_backups: int = 7,
    ) -> Self:
        """The store of `data_dir`, created or migrated if needed; the same instance per process.

        `storage` is "durable" (the default) or "reference" (TinyDB's plain JSONStorage, for
        tests). `cache_mb` bounds the size of the files kept parsed in memory (default 256, or
        $QA_STORE_CACHE_MB); their Python objects take about 7x that, so a store of 100k
        evaluations a year stays warm in about 1 GB, and a small store uses what it needs.
        Every `backup_every`, the first write makes a snapshot in `<data>/backups/` (the newest
        `keep_backups` are kept). Options of the first `open` of a folder win while it is open.
        """
        path = Path(data_dir).resolve()
        with cls._registry_lock:
            store = cls._registry.get(path)
            if store is None:
                store = cls(
                    path,
                    storage=storage,
                    clock=clock,
                    cache_mb=cache_mb or int(os.environ.get("QA_STORE_CACHE_MB", "256")),
                    lock_timeout=lock_timeout,
                    backup_every=backup_every,
                    keep_backups=keep_backups,
                )
                cls._registry[path] = store
            elif store._storage_name != storage:
                raise StoreError(f"{path} is already open with the {store._storage_name} storage")
            store._opened += 1
            return store  # type: ignore[return-value]

    def __init__(
        self,
        data_dir: Path,
        *,
        storage: str,
        clock: Clock | None,
        cache_mb: int,
        lock_timeout: float,
        backup_every: timedelta | None,
        keep_backups: int,
    ) -> None:
        if storage not in STORAGES:
            raise StoreError(f"unknown storage {storage!r} (known: {', '.join(STORAGES)})")
        self.data_dir = data_dir
        self._storage_name = storage
        self._storage_cls = STORAGES[storage]
        self._clock = clock or utc_now
        self._mutex = threading.RLock()
        self._depth = 0
        self._opened = 0
        self._closed = False
        self._backup_every = backup_every
        self._keep_backups = keep_backups
        self._last_backup: datetime | None = None
        self.layout = dict(LAYOUT_DEFAULTS)
        try:
            ensure_dir(data_dir)
        except OSError as error:
            raise StoreError(f"cannot create the data folder {data_dir}: {error}") from None
        self._file_lock = FileLock(str(data_dir / ".lock"), timeout=lock_timeout)
        self._lock_timeout = lock_timeout
        self._parts = Partitions(data_dir, self._storage_cls, cache_mb * 2**20)
        self._undetached: list[Path] = []  # snapshots taken under the lock, to detach after it
        self._where: dict[str, str] = {}  # evaluation id -> partition, learnt as they are seen
        self._learnt: dict[str, tuple[int, int]] = {}  # partition -> which header its ids came from
        self._interaction_months: dict[str, str] = {}  # interaction id -> month, from the headers
        self._indexed: dict[str, str | None] = {}  # interaction partition -> token of the header indexed
        self._prepared = False
        with self._writing():
            self._prepare()
        self._prepared = True

    # -- life cycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Release this user of the store; the last one closes its files."""
        with self._registry_lock:
            if self._closed:
                return
            self._opened -= 1
            if self._opened > 0:
                return
            if self._registry.get(self.data_dir) is self:
                del self._registry[self.data_dir]
            with self._mutex:
                self._parts.close_all()
                self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _prepare(self) -> None:
        finish_restore(self.data_dir)
        schema = detect_schema(self.data_dir)
        if schema is None:
            self._write_meta({})
        else:
            refuse_newer(schema, self.data_dir)
            if schema < SCHEMA:
                self._migrate(schema)
        meta = read_meta(self.data_dir) or {}
        refuse_newer(int(meta["schema"]), self.data_dir)
        if meta.get("storage", "durable") != self._storage_name:
            raise StoreError(f"{self.data_dir} holds {meta.get('storage')} files, not {self._storage_name}")
        self.layout = {key: int(meta.get(key, value)) for key, value in LAYOUT_DEFAULTS.items()}
        self._remove_temp_files()
        self._undetached += [path for _, path in list_backups(self.data_dir)]  # finished if interrupted
        self._check_small_files()
        if meta.get("evaluation_index") != EVALUATION_INDEX:
            if self._storage_name == "durable":  # TinyDB's plain files have no header to index in
                self._index_evaluation_files()
            self._write_meta({key: meta[key] for key in LAYOUT_DEFAULTS if key in meta})

    def _index_evaluation_files(self) -> None:
        """Rewrite evaluation files written before their header indexed them (same content).

        Done once per data folder, a month at a time (one batch of fsyncs each); a kill half-way
        leaves some files indexed and the flag unset, so the next open finishes the job.
        """
        for month in self._parts.months("evaluations"):
            with self._parts.batch_writes():
                for name in self._parts.names(f"evaluations/{month}"):
                    part = self._part(name, EVALUATIONS)
                    index = (part.summary() or {}).get("index") or {}
                    current = "length" in index and tuple(index.get("fields", ())) == EVALUATIONS.index[1]  # type: ignore[index]
                    if not current:
                        with part.transaction() as tx:
                            tx.merge("evaluations", {})  # writes the file back as it is, indexed
            self._parts.evict()

    def _write_meta(self, extra: dict[str, Any]) -> None:
        old = read_meta(self.data_dir) or {}
        meta = {
            "format": FORMAT,
            "schema": SCHEMA,
            "storage": self._storage_name,
            "created_at": old.get("created_at", self._now().isoformat()),
            **LAYOUT_DEFAULTS,
            "evaluation_index": EVALUATION_INDEX,  # evaluation files index their records (storage.encode_indexed)
            **extra,
        }
        atomic_write(self.data_dir / META, json.dumps(meta, indent=2).encode() + b"\n")

    def _migrate(self, schema: int) -> None:
        meta = read_meta(self.data_dir)
        if meta is None or "migrating_from" not in meta:
            self._snapshot(f"before-migration-v{schema}", schema=schema)
            self._write_meta({"migrating_from": schema})
        for version in range(schema, SCHEMA):
            MIGRATIONS[version](self, self.data_dir)  # type: ignore[arg-type]
        self._write_meta({})  # done; only then may the old files go (a kill here leaves them, harmless)
        for version in range(schema, SCHEMA):
            for name in LEFTOVERS.get(version, []):
                (self.data_dir / name).unlink(missing_ok=True)

    def _remove_temp_files(self) -> None:
        """Temporary files left by a killed writer (we hold the lock: none is being written)."""
        for folder, dirs, files in os.walk(self.data_dir):
            if Path(folder) == self.data_dir:
                dirs[:] = [d for d in dirs if d != BACKUPS]
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    (Path(folder) / name).unlink(missing_ok=True)
        backups = self.data_dir / BACKUPS
        if backups.is_dir():
            for entry in backups.iterdir():
                if entry.name.endswith(".partial"):
                    shutil.rmtree(entry, ignore_errors=True)
                elif entry.is_dir():
                    for tmp in entry.rglob(".*.detach.tmp"):
                        tmp.unlink()

    def _check_small_files(self) -> None:
        """Read the small tables now, so a damaged one is reported when the store opens."""
        for name, kind in SMALL_FILES.items():
            for table in kind.tables:
                self._part(name, kind).raw(table)

    # -- locking --------------------------------------------------------------------------------

    @contextmanager
    def _reading(self, *, evict_every: int = 1) -> Iterator[None]:
        """Hold the store's mutex for one read (loops over many files pass `evict_every` > 1)."""
        with self._mutex:
            self._check_open()
            self._depth += 1
            try:
                yield
            except UnreadableFile as error:
                raise self._explain(error) from None
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._parts.evict(every=evict_every)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        snapshots: list[Path] = []
        with self._mutex:
            self._check_open()
            outer = self._depth == 0
            if outer:
                try:
                    self._file_lock.acquire()
                except Timeout:
                    raise StoreError(
                        f"{self.data_dir} is locked by another process (waited {self._lock_timeout:g} s); try again"
                    ) from None
            self._depth += 1
            try:
                yield
                if outer and self._prepared:
                    self._maybe_backup()
            except UnreadableFile as error:
                raise self._explain(error) from None
            finally:
                self._depth -= 1
                if outer:
                    snapshots, self._undetached = self._undetached, []
                    self._file_lock.release()
                    self._parts.evict()
        for folder in snapshots:  # copying the changed files needs no lock: see qa/backups.py
            detach(folder, self.data_dir)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store of {self.data_dir} is closed")

    def _explain(self, error: UnreadableFile) -> UnreadableFile:
        """The same error, naming the newest backup that holds a good copy of the file."""
        if error.backup or error.looked_in:
            return error
        try:
            rel = Path(error.path).resolve().relative_to(self.data_dir).as_posix()
        except ValueError:
            rel = None
        backup = newest_good_backup(self.data_dir, rel)
        return UnreadableFile(
            error.path, error.reason, str(backup) if backup else None, looked_in=str(self.data_dir / BACKUPS)
        )

    # -- helpers for the tables -----------------------------------------------------------------

    def _now(self) -> datetime:
        moment = self._clock()
        if moment.tzinfo is None:
            raise StoreError("the store's clock must return timezone-aware datetimes")
        return moment

    def _part(self, name: str, kind: Kind) -> Partition:
        return self._parts.get(name, kind)

    @staticmethod
    def _doc(record: Record) -> dict[str, Any]:
        try:
            return record.model_dump(mode="json")
        except PydanticSerializationError as error:
            raise InvalidRecord(
                f"{record.kind} {record.record_key()!r}", {"(record)": f"cannot be stored as JSON ({error})"}
            ) from None

    # -- backups --------------------------------------------------------------------------------

    def backup(self, dest: str | Path | None = None) -> Path:
        """A consistent copy of the data folder: in `<data>/backups/` (instant, hard links) and,
        when `dest` is given, also as a zip file (`*.zip`) or a folder there. Returns its path."""
        with self._writing():
            folder = self._snapshot("manual")
        if dest is None:
            return folder
        dest = Path(dest)
        return write_zip(folder, dest) if dest.suffix == ".zip" else copy_folder(folder, dest)

    def restore(self, src: str | Path) -> None:
        """Replace the store's data by a backup (folder or zip); the current data is backed up
        first. Interrupted, it is finished by the next open."""
        src = Path(src)
        problems = backup_problems(src)
        if problems:
            raise StoreError(f"{src} cannot be restored: {'; '.join(problems[:5])}")
        refuse_newer(read_manifest(src).schema, src)
        with self._writing():
            self._snapshot("before-restore")
            stage_restore(src, self.data_dir)
            self._parts.close_all()
            for index in (self._where, self._learnt, self._interaction_months, self._indexed):
                index.clear()
            finish_restore(self.data_dir)
            self._prepare()

    def _snapshot(self, reason: str, *, schema: int = SCHEMA) -> Path:
        now = self._now()
        folder = self.data_dir / BACKUPS
        ensure_dir(folder)
        name = f"{reason}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
        dest, n = folder / name, 1
        while dest.exists():
            n += 1
            dest = folder / f"{name}-{n}"
        backups = list_backups(self.data_dir)
        previous = backups[0][1] if backups and backups[0][1].is_dir() else None
        snapshot(
            self.data_dir,
            dest,
            link=self._storage_cls.replaces_files,
            previous=previous,
            schema=schema,
            created_at=now.isoformat(),
            reason=reason,
        )
        self._undetached.append(dest)
        for kind in ("auto", "manual"):
            if reason == kind:
                for _, old in [b for b in list_backups(self.data_dir) if b[0].reason == kind][self._keep_backups :]:
                    shutil.rmtree(old, ignore_errors=True)
        return dest

    def _maybe_backup(self) -> None:
        if self._backup_every is None:
            return
        now = self._now()
        if self._last_backup is None:
            autos = [m for m, _ in list_backups(self.data_dir) if m.reason == "auto"]
            self._last_backup = (
                datetime.fromisoformat(autos[0].created_at) if autos else datetime.min.replace(tzinfo=UTC)
            )
        if now - self._last_backup < self._backup_every:
            return
        if any(
            entry.name != META
            for entry in self.data_dir.iterdir()
            if not entry.name.startswith(".") and entry.name != BACKUPS
        ):
            self._snapshot("auto")
        self._last_backup = now
