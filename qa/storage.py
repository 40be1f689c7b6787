"""TinyDB storages for the store: a durable orjson file per partition, and TinyDB's JSON as reference.

`DurableJSONStorage` is a TinyDB `Storage`: TinyDB reads the whole state and writes it back whole.
It adds what TinyDB leaves out:

* durability: each write goes to a temporary file in the same folder, which is fsynced, then
  `os.replace`d over the old file, then the folder is fsynced. A reader or a crash sees the old
  file or the new one, never half of one;
* a cache: the parsed state is kept until the file changes. Every write stamps the file with a new
  random token in its first bytes, so a reader checks freshness by reading 42 bytes (no parsing)
  and cannot be fooled by coarse timestamps or reused inode numbers;
* a header: the schema version, the body's length and CRC-32 (a damaged file is an error, never an
  empty database) and a small summary (ids, statuses) that can be read without the body;
* an index (optional, per kind of file): for one table, where each document lies in the body and
  the values of a few fields, so one employee's or one evaluator's evaluations are read from
  their byte ranges, each checked by its own CRC, without parsing the whole file. It is a line of
  its own between the header and the body (`{id: [value, ..., start, length, crc32]}`), described
  in the summary (`"index": {"table": t, "fields": [f, ...], "length": L, "crc32": C}`), so that
  reading a header (ids, statuses) does not parse it.

File format: two lines, `{"token":"<32 hex>","format":...,"schema":N,"length":L,"crc32":C,
"summary":{...}}` then the TinyDB state `{"table": {"doc_id": {...}}}`; with an index, its line
comes between them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import zlib
from collections.abc import Callable, Container, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson
from tinydb.storages import JSONStorage, Storage

from qa.errors import StoreError, UnreadableFile

FORMAT = "qualiterrain-store"
SCHEMA = 2  # version of the data folder's layout and records; see qa/migrations.py
_PREFIX = b'{"token":"'
_PEEK = len(_PREFIX) + 32

Tables = dict[str, dict[str, Any]]
Summariser = Callable[[Tables], dict[str, Any]]
Index = tuple[str, tuple[str, ...]]  # (table, fields): whose documents' byte ranges a header lists, by field


class PartitionStorage(Protocol):
    """What qa/partitions.py needs from a storage, beyond TinyDB's read/write/close."""

    path: Path
    token: str | None  # the token of the cached state; None when nothing is cached

    @property
    def cached_bytes(self) -> int: ...
    def read(self) -> Tables | None: ...
    def write(self, data: Tables) -> None: ...
    def summary(self) -> dict[str, Any] | None: ...
    def peek_token(self) -> str | None: ...
    def read_uncached(self) -> Tables | None: ...
    def read_body(self) -> tuple[str | None, bytes | memoryview] | None: ...
    def read_indexed(
        self, table: str, field_name: str, value: Any, skip: Container[str] = ()
    ) -> tuple[str | None, list[dict[str, Any]] | None, int] | None: ...
    def drop_tables(self) -> None: ...
    def forget(self) -> None: ...
    def close(self) -> None: ...


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a replaced or new file) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create `path` and missing parents (private: 0700), each made durable in its parent."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise
        return
    fsync_dir(path.parent)


def stage_file(path: Path, payload: bytes | Sequence[bytes | memoryview], *, durable: bool = True) -> Path:
    """Write `payload` (or its parts, one after the other) to a new temporary file beside `path`
    (fsynced if `durable`)."""
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for part in [payload] if isinstance(payload, bytes | memoryview) else payload:
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: Path, payload: bytes | Sequence[bytes | memoryview], *, durable: bool = True) -> None:
    """Replace `path` by `payload` so that no reader or crash ever sees a partial file."""
    tmp = stage_file(path, payload, durable=durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def file_token(path: Path) -> str | None:
    """The token a durable file was stamped with when written (None: no file, or not stamped)."""
    try:
        with open(path, "rb") as handle:
            return _token_of(handle.read(_PEEK))
    except FileNotFoundError:
        return None


def _token_of(head: bytes) -> str | None:
    if len(head) >= _PEEK and head.startswith(_PREFIX):
        return head[len(_PREFIX) : _PEEK].decode("ascii", "replace")
    return None


def parse_header(line: bytes, path: Path) -> dict[str, Any]:
    """The header of a store file, or UnreadableFile / StoreError when it is not one we can read."""
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise UnreadableFile(str(path), f"damaged header ({error})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UnreadableFile(str(path), "not a Qualiterrain store file")
    schema = header.get("schema")
    if not isinstance(schema, int) or schema > SCHEMA:
        raise StoreError(
            f"{path} was written by a newer version of Qualiterrain (store schema {schema}; this "
            f"version reads schema {SCHEMA} and older). Upgrade Qualiterrain to open it."
        )
    if schema < SCHEMA:
        raise StoreError(f"{path} has store schema {schema}; open the store to migrate it first.")
    return header


def split(data: bytes, path: Path) -> tuple[dict[str, Any], memoryview]:
    """Header and body of a whole store file, the body checked against the header's length and CRC.

    The body is a view into `data`, not a copy (files are megabytes; copying them twice cost a
    third of a bulk read).
    """
    if not data:
        raise UnreadableFile(str(path), "the file is empty")
    newline = data.find(b"\n")
    if newline < 0:
        newline = len(data)
    header = parse_header(data[:newline], path)
    start = newline + 1 + index_bytes(header)  # the index line, if any, is checked by its reader
    end = len(data)
    while end > start and data[end - 1] == 10:  # trailing newlines
        end -= 1
    body = memoryview(data)[start:end]
    if len(body) != header.get("length"):
        raise UnreadableFile(str(path), f"truncated ({len(body)} of {header.get('length')} bytes)")
    if zlib.crc32(body) != header.get("crc32"):
        raise UnreadableFile(str(path), "checksum mismatch (the file was damaged or edited)")
    return header, body


def index_bytes(header: dict[str, Any]) -> int:
    """How many bytes the index line takes after the header line (its newline included)."""
    index = (header.get("summary") or {}).get("index")
    return int(index["length"]) + 1 if isinstance(index, dict) and "length" in index else 0


def decode(data: bytes, path: Path) -> tuple[dict[str, Any], Tables]:
    """Header and tables of a whole store file, checked against the header's length and CRC."""
    header, body = split(data, path)
    try:
        tables = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise UnreadableFile(str(path), f"damaged data ({error})") from None
    if not isinstance(tables, dict):
        raise UnreadableFile(str(path), "the data is not a set of tables")
    return header, tables


def encode_indexed(tables: Tables, index: Index) -> tuple[bytes, dict[str, list[Any]]]:
    """`orjson.dumps(tables)`, byte for byte, and the index's spans: for each document of the
    index's table, the values of the index's fields, then where it lies in the body and its CRC.

    The indexed table's documents are dumped one by one to learn their offsets in the body (the
    other tables in one call); compact JSON makes the joined pieces identical to a single dump.
    """
    table, fields = index
    pieces: list[bytes] = [b"{"]
    pos = 1
    spans: dict[str, list[Any]] = {}
    for n, (name, docs) in enumerate(tables.items()):
        head = (b"," if n else b"") + orjson.dumps(name) + b":"
        pieces.append(head)
        pos += len(head)
        if name != table:
            dumped = orjson.dumps(docs)
            pieces.append(dumped)
            pos += len(dumped)
            continue
        pieces.append(b"{")
        pos += 1
        for i, (key, doc) in enumerate(docs.items()):
            if key.__class__ is not str:
                raise TypeError(f"document id {key!r} is not a string")
            label = (b"," if i else b"") + orjson.dumps(key) + b":"
            dumped = orjson.dumps(doc)
            pieces += (label, dumped)
            pos += len(label)
            spans[key] = [*(doc.get(f) for f in fields), pos, len(dumped), zlib.crc32(dumped)]
            pos += len(dumped)
        pieces.append(b"}")
        pos += 1
    pieces.append(b"}")
    return b"".join(pieces), spans


def encode(
    tables: Tables, summary: dict[str, Any], token: str, index: Index | None = None
) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and the summary written in its header (with the index's spans, if any)."""
    line = b""
    if index is None:
        body = orjson.dumps(tables)
    else:
        body, spans = encode_indexed(tables, index)
        line = orjson.dumps(spans)
        described = {"table": index[0], "fields": list(index[1]), "length": len(line), "crc32": zlib.crc32(line)}
        summary = {**summary, "index": described}
        line += b"\n"
    rest = orjson.dumps(
        {"format": FORMAT, "schema": SCHEMA, "length": len(body), "crc32": zlib.crc32(body), "summary": summary}
    )
    return _PREFIX + token.encode("ascii") + b'",' + rest[1:] + b"\n" + line + body + b"\n", summary


class DurableJSONStorage(Storage):
    """One partition file: durable atomic writes, parsed state cached until the file changes."""

    replaces_files = True  # never writes in place: a hard link to the file is a stable snapshot

    def __init__(
        self, path: str | Path, summarise: Summariser | None = None, durable: bool = True, index: Index | None = None
    ) -> None:
        self.path = Path(path)
        self._summarise = summarise
        self._durable = durable
        self._index = index
        self.token: str | None = None  # token of the cached tables; None when nothing is cached
        self._tables: Tables | None = None
        self._summary: dict[str, Any] | None = None
        self._summary_token: str | None = None
        self._body_bytes = 0
        self._header_bytes = 0
        self._spans: dict[str, list[Any]] = {}  # the index line, parsed (see read_indexed)
        self._spans_token: str | None = None

    @property
    def cached_bytes(self) -> int:
        """Roughly how much of the file is held in memory (for the cache's budget)."""
        return self._body_bytes if self._tables is not None else self._header_bytes

    def _peek(self) -> tuple[Any, str | None] | None:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - kept open for the full read below
        except FileNotFoundError:
            return None
        return handle, _token_of(handle.read(_PEEK))

    def read(self) -> Tables | None:
        peeked = self._peek()
        if peeked is None:
            self.forget()
            return None
        handle, token = peeked
        with handle:
            if token is not None and token == self.token and self._tables is not None:
                return dict(self._tables)  # a copy of the outer dict: TinyDB assigns into it
            handle.seek(0)
            data = handle.read()
        header, tables = decode(data, self.path)
        self.token, self._tables, self._body_bytes = _token_of(data), tables, len(data)
        self._summary, self._summary_token = header.get("summary") or {}, self.token
        return dict(tables)

    def read_uncached(self) -> Tables | None:
        """The file's tables without keeping them (a scan must not evict what others use)."""
        peeked = self._peek()
        if peeked is None:
            return None
        handle, token = peeked
        with handle:
            if token is not None and token == self.token and self._tables is not None:
                return dict(self._tables)
            handle.seek(0)
            data = handle.read()
        return decode(data, self.path)[1]

    def read_body(self) -> tuple[str | None, bytes | memoryview] | None:
        """The file's token and checked body (JSON bytes of its tables), for bulk decoders."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return _token_of(data), split(data, self.path)[1]

    def read_indexed(
        self, table: str, field_name: str, value: Any, skip: Container[str] = ()
    ) -> tuple[str | None, list[dict[str, Any]] | None, int] | None:
        """The file's token, the documents of `table` whose field `field_name` is `value`, read
        from their byte ranges, and how many bytes they took.

        Only the header (cached until the file changes) and those documents are read and parsed,
        from one open file, so they all belong to the same state of it. When the file's token is
        in `skip` (a state the caller holds already), nothing more is read: (token, None, 0).
        None when the file has no index of that field (written before indexes, or another kind
        of file): parse it instead. A range that does not hold the document the header promises
        is a damaged file.
        """
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return None, [], 0
        with handle:
            line = handle.readline()
            token = _token_of(line)
            if token is not None and token in skip:
                return token, None, 0
            if token is None or token != self._summary_token or self._summary is None:
                header = parse_header(line.rstrip(b"\n"), self.path)
                self._summary, self._summary_token = header.get("summary") or {}, token
                self._header_bytes = len(line)
            index = self._summary.get("index") or {}
            if index.get("table") != table or field_name not in index.get("fields", ()) or "length" not in index:
                return None
            at = index["fields"].index(field_name)
            if self._spans_token != token:
                raw = handle.read(int(index["length"]) + 1)[:-1]
                if len(raw) != index["length"] or zlib.crc32(raw) != index.get("crc32"):
                    raise UnreadableFile(str(self.path), "damaged index (length or checksum)")
                try:
                    self._spans = orjson.loads(raw)
                except orjson.JSONDecodeError as error:
                    raise UnreadableFile(str(self.path), f"damaged index ({error})") from None
                self._spans_token = token
            base, out, size = len(line) + int(index["length"]) + 1, [], 0
            for key, span in self._spans.items():
                if span[at] != value:
                    continue
                start, length, crc = span[-3:]
                handle.seek(base + start)
                data = handle.read(length)
                doc = None
                if zlib.crc32(data) == crc:  # the body's CRC covers the whole file: each range has its own
                    with contextlib.suppress(orjson.JSONDecodeError):
                        doc = orjson.loads(data)
                if not isinstance(doc, dict) or doc.get("id", key) != key or doc.get(field_name) != value:
                    raise UnreadableFile(str(self.path), f"the index does not match the data at {key!r}")
                out.append(doc)
                size += length
        return token, out, size

    def drop_tables(self) -> None:
        """Drop the parsed tables but keep the header's summary (ids, statuses) cached."""
        self.token = self._tables = None
        self._body_bytes = 0

    def encode(self, data: Tables) -> tuple[str, dict[str, Any], bytes]:
        """A new token, the summary and the file's bytes for `data`."""
        token = secrets.token_hex(16)
        summary = self._summarise(data) if self._summarise else {}
        payload, summary = encode(data, summary, token, self._index)
        return token, summary, payload

    def write(self, data: Tables) -> None:
        try:
            token, summary, payload = self.encode(data)
            atomic_write(self.path, payload, durable=self._durable)
        except (OSError, TypeError, orjson.JSONEncodeError) as error:
            self.forget()  # TinyDB may have changed cached documents in place before failing
            raise StoreError(f"could not write {self.path}: {error}") from error
        except BaseException:
            self.forget()
            raise
        self.remember(token, data, summary, len(payload))

    def remember(self, token: str, data: Tables, summary: dict[str, Any], size: int) -> None:
        """Cache what was just written as the file's state."""
        self.token, self._tables, self._body_bytes = token, dict(data), size
        self._summary, self._summary_token = summary, token

    def remember_summary(self, token: str, summary: dict[str, Any]) -> None:
        """Cache the header just written, not its tables."""
        self.token = self._tables = None
        self._body_bytes = 0
        self._summary, self._summary_token = summary, token

    def summary(self) -> dict[str, Any] | None:
        """The header's summary (ids, statuses) without parsing the body; None if no file."""
        peeked = self._peek()
        if peeked is None:
            self.forget()
            return None
        handle, token = peeked
        with handle:
            if token is not None and token == self._summary_token and self._summary is not None:
                return self._summary
            handle.seek(0)
            line = handle.readline()
        header = parse_header(line.rstrip(b"\n"), self.path)
        self._summary, self._summary_token = header.get("summary") or {}, _token_of(line)
        self._header_bytes = len(line)
        return self._summary

    def peek_token(self) -> str | None:
        """The token of the file as it is now (None when there is no file)."""
        return file_token(self.path)

    def forget(self) -> None:
        """Drop the cache; the next read parses the file again."""
        self.token = self._tables = self._summary = self._summary_token = self._spans_token = None
        self._body_bytes = self._header_bytes = 0
        self._spans = {}

    def close(self) -> None:
        self.forget()


class WriteBatch:
    """Durable writes of many files at once: all written, then all fsynced, then all replaced.

    Bulk imports touch hundreds of files; one fsync (and journal commit) per file costs 1.3-3x
    more than flushing them together. Each file still replaces its old version only once it is
    durable, and the batch is acknowledged (commit returns) only when every file is. A file may
    be written once per batch (a second write would start from the file's old state).
    """

    def __init__(self) -> None:
        self._staged: dict[Path, tuple[DurableJSONStorage, Path, dict[str, Any], str]] = {}

    def write(self, storage: Storage, data: Tables) -> None:
        if not isinstance(storage, DurableJSONStorage):
            storage.write(data)
            return
        if storage.path in self._staged:
            raise StoreError(f"{storage.path} was written twice in one batch")
        try:
            token, summary, payload = storage.encode(data)
            tmp = stage_file(storage.path, payload, durable=False)
        except (OSError, TypeError, orjson.JSONEncodeError) as error:
            storage.forget()
            raise StoreError(f"could not write {storage.path}: {error}") from error
        storage.forget()  # until commit, the file on disk is still the old one
        self._staged[storage.path] = (storage, tmp, summary, token)

    def commit(self) -> None:
        try:
            for _, tmp, *_ in self._staged.values():
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            for path, (_, tmp, *_) in self._staged.items():
                os.replace(tmp, path)
            for folder in {path.parent for path in self._staged}:
                fsync_dir(folder)
        except OSError as error:
            self.abort()
            raise StoreError(f"could not write the batch: {error}") from error
        for storage, _, summary, token in self._staged.values():
            # The header is kept, not the tables: a batch is a bulk import, and keeping a million
            # documents parsed only to free them at exit cost a second; whoever reads a file next
            # parses it (bulk readers use the columnar views, which never parse).
            storage.remember_summary(token, summary)
        self._staged.clear()

    def abort(self) -> None:
        for storage, tmp, *_ in self._staged.values():
            tmp.unlink(missing_ok=True)
            storage.forget()
        self._staged.clear()


class ReferenceJSONStorage(JSONStorage):
    """TinyDB's own JSONStorage (no cache, writes in place) with the same small extra interface.

    Tests run every store test against it and against `DurableJSONStorage`: the durable one must
    behave exactly like the plain one, only safer and faster.
    """

    replaces_files = False

    def __init__(
        self, path: str | Path, summarise: Summariser | None = None, durable: bool = True, index: Index | None = None
    ) -> None:
        ensure_dir(Path(path).parent)  # private folders, as for the durable storage
        super().__init__(str(path))
        self.path = Path(path)
        self._summarise = summarise
        self.token: str | None = None  # never cached: every read parses the file
        self.cached_bytes = 0

    def read(self) -> Tables | None:
        try:
            return super().read()
        except ValueError as error:  # json.JSONDecodeError and UnicodeDecodeError
            raise UnreadableFile(str(self.path), f"damaged data ({error})") from None

    def summary(self) -> dict[str, Any] | None:
        tables = self.read()
        if tables is None:
            return None
        return self._summarise(tables) if self._summarise else {}

    def peek_token(self) -> str | None:
        return None

    def read_uncached(self) -> Tables | None:
        return self.read()

    def read_body(self) -> tuple[str | None, bytes | memoryview] | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return None, data.strip() or b"{}"

    def read_indexed(
        self, table: str, field_name: str, value: Any, skip: Container[str] = ()
    ) -> tuple[str | None, list[dict[str, Any]] | None, int] | None:
        return None  # no header, no index: the caller filters the parsed table

    def drop_tables(self) -> None:
        pass

    def forget(self) -> None:
        pass


STORAGES: dict[str, type[DurableJSONStorage] | type[ReferenceJSONStorage]] = {
    "durable": DurableJSONStorage,
    "reference": ReferenceJSONStorage,
}
