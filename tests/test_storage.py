"""DurableJSONStorage: a TinyDB storage whose writes are atomic and durable, cached by file token."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from tinydb import TinyDB

from qa.errors import StoreError, UnreadableFile
from qa.partitions import summary_of
from qa.storage import DurableJSONStorage, WriteBatch, decode


def test_tinydb_works_on_it_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    with TinyDB(path, storage=DurableJSONStorage) as db:
        db.table("people").insert_multiple([{"name": "Ana"}, {"name": "Bo"}])
    with TinyDB(path, storage=DurableJSONStorage) as db:
        assert [d["name"] for d in db.table("people").all()] == ["Ana", "Bo"]
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]  # no temporary file left


def test_a_missing_file_is_an_empty_database(tmp_path: Path) -> None:
    assert DurableJSONStorage(tmp_path / "nothing.json").read() is None


def test_the_file_is_a_header_line_then_the_tables(tmp_path: Path) -> None:
    storage = DurableJSONStorage(tmp_path / "f.json", summarise=summary_of("t", "status"))
    storage.write({"t": {"a": {"status": "open"}}})
    header, _, body = (tmp_path / "f.json").read_bytes().partition(b"\n")
    meta = orjson.loads(header)
    assert meta["schema"] == 2 and meta["summary"] == {"t": {"a": "open"}} and len(meta["token"]) == 32
    assert orjson.loads(body) == {"t": {"a": {"status": "open"}}}


def test_a_reader_sees_another_instances_write_and_otherwise_uses_its_cache(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    mine, theirs = DurableJSONStorage(path), DurableJSONStorage(path)
    mine.write({"t": {"1": {"v": "a"}}})
    assert theirs.read() == {"t": {"1": {"v": "a"}}}
    theirs.write({"t": {"1": {"v": "b"}}})  # same size, probably the same mtime tick
    assert mine.read() == {"t": {"1": {"v": "b"}}}
    # With the token unchanged, the file is not parsed again: damaging the body goes unnoticed.
    data = path.read_bytes()
    path.write_bytes(data[:-4] + b"XX}\n")
    assert mine.read() == {"t": {"1": {"v": "b"}}}


def test_read_returns_a_copy_of_the_outer_dict(tmp_path: Path) -> None:
    storage = DurableJSONStorage(tmp_path / "f.json")
    storage.write({"t": {}})
    storage.read()["u"] = {}  # type: ignore[index]  # TinyDB assigns tables into what it reads
    assert storage.read() == {"t": {}}


def _write(path: Path) -> bytes:
    DurableJSONStorage(path).write({"t": {"1": {"name": "Zoé"}}})
    return path.read_bytes()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(lambda b: b"", "the file is empty", id="empty"),
        pytest.param(lambda b: b[: len(b) // 2], "damaged header|truncated", id="cut-in-half"),
        pytest.param(lambda b: b[:-8] + b"\n", "truncated", id="truncated-body"),
        pytest.param(lambda b: b.replace(b"Zo", b"Jo"), "checksum mismatch", id="edited"),
        pytest.param(lambda b: b'{"t": {}}', "not a Qualiterrain store file", id="plain-json"),
        pytest.param(lambda b: b"\x00" * 64, "damaged header", id="zeros"),
    ],
)
def test_a_damaged_file_is_an_error_naming_it_never_an_empty_database(tmp_path: Path, damage, reason: str) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(damage(_write(path)))
    with pytest.raises(UnreadableFile, match=reason) as error:
        DurableJSONStorage(path).read()
    assert error.value.path == str(path) and str(path) in str(error.value)


def test_a_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(_write(path).replace(b'"schema":2', b'"schema":3', 1))
    with pytest.raises(StoreError, match="newer version of Qualiterrain"):
        DurableJSONStorage(path).read()


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    storage = DurableJSONStorage(path)
    storage.write({"t": {"1": {"v": 1}}})
    before = path.read_bytes()
    with pytest.raises(StoreError, match="could not write"):
        storage.write({"t": {"1": {"v": {1, 2}}}})  # a set is not JSON
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["f.json"]
    assert storage.read() == {"t": {"1": {"v": 1}}}


def test_a_failed_fsync_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.json"
    storage = DurableJSONStorage(path)
    storage.write({"t": {}})
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StoreError, match="No space left"):
        storage.write({"t": {"1": {}}})
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["f.json"]
    assert storage.read() == {"t": {}}


def test_the_summary_is_read_without_the_body(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    DurableJSONStorage(path, summarise=summary_of("t")).write({"t": {"a": {}, "b": {}}})
    header, _, body = path.read_bytes().partition(b"\n")
    path.write_bytes(header + b"\n" + body.replace(b"a", b"z"))
    storage = DurableJSONStorage(path)
    assert storage.summary() == {"t": {"a": 1, "b": 1}}
    with pytest.raises(UnreadableFile):
        storage.read()


def test_a_batch_replaces_its_files_only_when_committed(tmp_path: Path) -> None:
    one, two = DurableJSONStorage(tmp_path / "one.json"), DurableJSONStorage(tmp_path / "d" / "two.json")
    one.write({"t": {"old": {}}})
    batch = WriteBatch()
    batch.write(one, {"t": {"new": {}}})
    batch.write(two, {"t": {"new": {}}})
    with pytest.raises(StoreError, match="twice"):
        batch.write(one, {"t": {}})
    assert one.read() == {"t": {"old": {}}} and two.read() is None  # not yet
    batch.commit()
    assert one.read() == two.read() == {"t": {"new": {}}}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["d", "one.json", "two.json"]


def test_an_aborted_batch_leaves_nothing(tmp_path: Path) -> None:
    one = DurableJSONStorage(tmp_path / "one.json")
    one.write({"t": {"old": {}}})
    batch = WriteBatch()
    batch.write(one, {"t": {"new": {}}})
    batch.abort()
    assert one.read() == {"t": {"old": {}}} and os.listdir(tmp_path) == ["one.json"]


def test_decode_checks_length_and_checksum(tmp_path: Path) -> None:
    data = _write(tmp_path / "f.json")
    header, tables = decode(data, tmp_path / "f.json")
    assert tables == {"t": {"1": {"name": "Zoé"}}} and header["length"] == len(data.partition(b"\n")[2]) - 1
