"""The evaluation files' index: one employee's evaluations read from their byte ranges.

An employee's evaluations lie in one file per month among others' evaluations; the header lists
where each evaluation lies in the body, so a reader parses a few KB instead of the whole file.
These tests hold the index to the parsed file: the same records, the same bytes on disk.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.errors import StoreError, UnreadableFile
from qa.partitions import summary_of
from qa.storage import DurableJSONStorage, decode, encode_indexed
from qa.store import Store
from qa.store_core import EVALUATION_INDEX
from tests.store_support import evaluation, open_store

ROOT = Path(__file__).resolve().parent.parent

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
docs = st.dictionaries(st.text(max_size=6), st.dictionaries(st.text(max_size=5), json_values, max_size=4), max_size=5)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["evaluations", "audit", 'é"x']), docs, max_size=3))
def test_the_indexed_body_is_byte_for_byte_a_plain_dump_and_every_span_holds_its_document(tables: Any) -> None:
    body, spans = encode_indexed(tables, ("evaluations", ("employee_id", "evaluator")))
    assert body == orjson.dumps(tables)
    for key, (employee, evaluator, start, length, crc) in spans.items():
        doc = tables["evaluations"][key]
        assert orjson.loads(body[start : start + length]) == doc
        assert zlib.crc32(body[start : start + length]) == crc
        assert (employee, evaluator) == (doc.get("employee_id"), doc.get("evaluator"))
    assert set(spans) == set(tables.get("evaluations", {}))


def _storage(path: Path) -> DurableJSONStorage:
    return DurableJSONStorage(
        path, summarise=summary_of("evaluations", "status"), index=("evaluations", ("employee_id", "evaluator"))
    )


def test_read_indexed_returns_exactly_the_documents_of_that_value(tmp_path: Path) -> None:
    tables = {
        "evaluations": {f"e{i}": {"id": f"e{i}", "employee_id": f"emp-{i % 3}", "note": "é" * i} for i in range(10)},
        "audit": {"a1": {"evaluation_id": "e1"}},
    }
    _storage(tmp_path / "f.json").write(tables)
    reader = _storage(tmp_path / "f.json")  # another process: nothing cached
    token, got, size = reader.read_indexed("evaluations", "employee_id", "emp-1")
    assert got == [tables["evaluations"][k] for k in ("e1", "e4", "e7")]
    assert token == reader.peek_token() and size == sum(len(orjson.dumps(d)) for d in got)
    assert reader.read_indexed("evaluations", "employee_id", "emp-9")[1:] == ([], 0)
    assert reader.read_indexed("audit", "evaluation_id", "e1") is None  # no index on that table
    assert reader.read_indexed("evaluations", "channel", "phone") is None  # nor on that field


def test_a_file_without_an_index_says_so_and_a_missing_file_is_empty(tmp_path: Path) -> None:
    DurableJSONStorage(tmp_path / "old.json").write({"evaluations": {"e1": {"id": "e1", "employee_id": "x"}}})
    assert _storage(tmp_path / "old.json").read_indexed("evaluations", "employee_id", "x") is None
    assert _storage(tmp_path / "none.json").read_indexed("evaluations", "employee_id", "x") == (None, [], 0)


def test_a_damaged_byte_inside_a_document_is_caught_by_its_own_checksum(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    _storage(path).write({"evaluations": {"e1": {"id": "e1", "employee_id": "x", "comment": "très bien"}}})
    path.write_bytes(path.read_bytes().replace(b"bien", b"mal!"))  # still JSON, same length and id
    with pytest.raises(UnreadableFile, match=r"f\.json.*index does not match"):
        _storage(path).read_indexed("evaluations", "employee_id", "x")


def test_the_index_is_a_line_of_its_own_that_header_readers_skip_and_its_damage_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    tables = {"evaluations": {"e1": {"id": "e1", "employee_id": "x", "evaluator": "s1"}}, "audit": {}}
    _storage(path).write(tables)
    header, index_line, body = path.read_bytes().split(b"\n")[:3]
    described = orjson.loads(header)["summary"]["index"]
    assert described["fields"] == ["employee_id", "evaluator"] and described["length"] == len(index_line)
    assert "e1" in orjson.loads(index_line) and orjson.loads(body) == tables
    assert decode(path.read_bytes(), path)[1] == tables  # a whole read skips the index line
    path.write_bytes(path.read_bytes().replace(b'"s1"', b'"s2"', 1))  # in the index line only
    with pytest.raises(UnreadableFile, match=r"f\.json.*damaged index"):
        _storage(path).read_indexed("evaluations", "employee_id", "x")
    assert decode(path.read_bytes(), path)[1] == tables  # the body itself is intact


def test_a_span_that_does_not_hold_its_document_is_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    _storage(path).write(
        {"evaluations": {"e1": {"id": "e1", "employee_id": "x"}, "e2": {"id": "e2", "employee_id": "y"}}}
    )
    data = path.read_bytes()
    path.write_bytes(data.replace(b'{"id":"e1"', b'{"id":"e2"', 1))  # same length: only the index can tell
    with pytest.raises(UnreadableFile, match=r"f\.json.*index does not match"):
        _storage(path).read_indexed("evaluations", "employee_id", "x")


@pytest.mark.parametrize("storage", ["durable", "reference"])
def test_an_employees_evaluations_are_the_same_read_through_the_index_or_parsed(tmp_path: Path, storage: str) -> None:
    store = open_store(tmp_path, storage=storage)
    mine = [store.submit_evaluation(evaluation("emp-001")) for _ in range(3)]
    theirs = [store.submit_evaluation(evaluation(f"emp-00{n}")) for n in (2, 3) for _ in range(4)]
    store.update_evaluation(mine[1].id, {"status": "approved"}, by="lead1", action="approve")
    store.close()
    fresh = Store.open(tmp_path, storage=storage)
    try:
        read = fresh.evaluations_for_employee("emp-001")
        others = fresh.evaluations_for_employee("emp-002")
        if storage == "durable":  # read through the index: no evaluation file was parsed whole
            opened = [p for p in fresh._parts._open.values() if p.name.startswith("evaluations/")]
            assert opened and not any(p.is_parsed for p in opened)
        assert [e.id for e in read] == [e.id for e in mine]
        assert [e.status for e in read] == ["submitted", "approved", "submitted"]
        assert read == [fresh.get_evaluation(e.id) for e in mine]  # the same records as parsed ones
        assert {e.id for e in others} == {e.id for e in theirs[:4]}
    finally:
        fresh.close()


def test_a_reader_sees_an_employees_new_evaluation_written_by_another_process(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    first = store.submit_evaluation(evaluation("emp-001"))
    store.close()
    reader = Store.open(tmp_path)
    try:
        assert [e.id for e in reader.evaluations_for_employee("emp-001")] == [first.id]  # read and kept
        assert [e.id for e in reader.evaluations_for_employee("emp-001")] == [first.id]
        script = (
            "import sys; from qa.store import Store; from tests.store_support import evaluation; "
            "s = Store.open(sys.argv[1]); print(s.submit_evaluation(evaluation('emp-001', id='ev-other')).id); s.close()"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        assert {e.id for e in reader.evaluations_for_employee("emp-001")} == {first.id, done.stdout.strip()}
    finally:
        reader.close()


def test_a_folder_written_before_the_index_is_indexed_once_when_opened(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    written = [store.submit_evaluation(evaluation(f"emp-00{1 + n % 3}")) for n in range(6)]
    store.close()
    files = sorted((tmp_path / "evaluations").rglob("e*.json"))
    for path in files:  # as an older version wrote them: no spans in the header, no flag
        tables = DurableJSONStorage(path).read()
        assert tables is not None
        DurableJSONStorage(path, summarise=summary_of("evaluations", "status")).write(tables)
        assert "index" not in orjson.loads(path.read_bytes().partition(b"\n")[0])["summary"]
    meta = json.loads((tmp_path / "store.json").read_text())
    del meta["evaluation_index"]
    (tmp_path / "store.json").write_text(json.dumps(meta))

    reopened = Store.open(tmp_path)
    try:
        for path in files:
            assert "index" in orjson.loads(path.read_bytes().partition(b"\n")[0])["summary"]
        assert json.loads((tmp_path / "store.json").read_text())["evaluation_index"] == EVALUATION_INDEX
        assert sorted(e.id for n in (1, 2, 3) for e in reopened.evaluations_for_employee(f"emp-00{n}")) == sorted(
            e.id for e in written
        )
    finally:
        reopened.close()


@pytest.mark.parametrize("storage", ["durable", "reference"])
def test_an_evaluators_evaluations_by_month_and_status(tmp_path: Path, storage: str) -> None:
    store = open_store(tmp_path, storage=storage)
    try:
        may = [store.submit_evaluation(evaluation(f"emp-00{n}", evaluator="shopper2")) for n in (1, 2, 3)]
        june = store.submit_evaluation(
            evaluation("emp-001", evaluator="shopper2", started_at=datetime(2025, 6, 2, 9, tzinfo=UTC))
        )
        others = [store.submit_evaluation(evaluation(f"emp-00{n}", evaluator="shopper1")) for n in (1, 2)]
        store.update_evaluation(may[1].id, {"status": "returned"}, by="lead1", action="return")
        store.close()
        store = Store.open(tmp_path, storage=storage)
        assert [e.id for e in store.evaluations_by_evaluator("shopper2")] == [e.id for e in [*may, june]]
        assert [e.id for e in store.evaluations_by_evaluator("shopper2", months=["2025-06"])] == [june.id]
        assert [e.id for e in store.evaluations_by_evaluator("shopper2", status="returned")] == [may[1].id]
        assert [e.id for e in store.evaluations_by_evaluator("shopper1")] == [e.id for e in others]
        assert store.evaluations_by_evaluator("nobody") == []
        with pytest.raises(StoreError, match="2025-6"):
            store.evaluations_by_evaluator("shopper2", months=["2025-6"])
    finally:
        store.close()
