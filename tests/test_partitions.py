"""Partitions: one atomic write per transaction, record caches that follow the file, LRU budget."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tinydb.table import Document

from qa.models import Employee
from qa.partitions import Kind, Partitions, bucket, months_between, summary_of
from qa.storage import DurableJSONStorage, ReferenceJSONStorage

KIND = Kind({"employees": Employee, "notes": Employee}, summary_of("employees"))


def doc(n: int, **extra: object) -> dict[str, object]:
    return {"id": f"e{n}", "display_name": f"E {n}", "team": "", "site": "", "active": True, **extra}


@pytest.fixture(params=[DurableJSONStorage, ReferenceJSONStorage], ids=["durable", "reference"])
def parts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Partitions]:
    parts = Partitions(tmp_path, request.param, budget_bytes=1 << 20)
    yield parts
    parts.close_all()  # TinyDB's JSONStorage keeps its file open


def test_a_transaction_over_two_tables_is_one_write(parts: Partitions, tmp_path: Path) -> None:
    part = parts.get("p", KIND)
    with part.transaction() as tx:
        tx.merge("employees", {"e1": doc(1)})
        tx.table("notes").insert(Document(doc(2), doc_id="e2"))  # type: ignore[arg-type]
        path = tmp_path / "p.json"  # TinyDB's JSONStorage creates it empty; ours does not create it
        assert not path.exists() or path.stat().st_size == 0  # nothing written before the end
    assert set(part.records("employees")) == {"e1"} and set(part.records("notes")) == {"e2"}


def test_a_failed_transaction_writes_nothing_even_after_in_place_updates(parts: Partitions) -> None:
    part = parts.get("p", KIND)
    with part.transaction() as tx:
        tx.merge("employees", {"e1": doc(1)})
    with pytest.raises(RuntimeError), part.transaction() as tx:
        tx.table("employees").update({"display_name": "changed"}, doc_ids=["e1"])  # type: ignore[list-item]
        tx.merge("notes", {"e2": doc(2)})
        raise RuntimeError("refused halfway")
    assert part.records("employees")["e1"].display_name == "E 1"
    assert part.raw("notes") == {}


def test_records_follow_changes_made_by_another_partition_object(tmp_path: Path) -> None:
    here = Partitions(tmp_path, DurableJSONStorage, 1 << 20).get("p", KIND)
    there = Partitions(tmp_path, DurableJSONStorage, 1 << 20).get("p", KIND)
    with here.transaction() as tx:
        tx.merge("employees", {"e1": doc(1)})
    assert here.records("employees")["e1"].display_name == "E 1"
    with there.transaction() as tx:
        tx.merge("employees", {"e1": doc(1, display_name="Renamed")})
    assert here.records("employees")["e1"].display_name == "Renamed"
    assert here.ids("employees") == {"e1": 1}


def test_matching_validates_only_what_it_returns(parts: Partitions) -> None:
    part = parts.get("p", KIND)
    with part.transaction() as tx:
        tx.merge("employees", {"e1": doc(1, team="a"), "e2": doc(2, team="b"), "e3": doc(3, team="a")})
    assert [e.id for e in part.matching("employees", "team", "a")] == ["e1", "e3"]
    assert [e.id for e in part.matching("employees", "team", "zzz")] == []
    part.records("employees")
    assert [e.id for e in part.matching("employees", "team", "b")] == ["e2"]  # from the index now


def test_the_cache_keeps_within_its_budget(tmp_path: Path) -> None:
    parts = Partitions(tmp_path, DurableJSONStorage, budget_bytes=3000)
    for n in range(10):
        with parts.get(f"p{n}", KIND).transaction() as tx:
            tx.merge("employees", {f"e{i}": doc(i) for i in range(5)})
    parts.evict()
    assert sum(parts.get(f"p{n}", KIND).cached_bytes for n in range(8, 10)) <= 3000
    assert len(parts.get("p0", KIND).records("employees")) == 5  # evicted files are read again


def test_layout_helpers() -> None:
    assert bucket("emp-001", 32) == bucket("emp-001", 32) < 32
    assert months_between(datetime(2024, 12, 31, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)) == [
        "2024-12",
        "2025-01",
        "2025-02",
    ]


def test_listing_skips_temporary_files_and_odd_folders(tmp_path: Path) -> None:
    for name in ["t/2025-05/e01.json", "t/2025-05/.e01.json.1a2b.tmp", "t/2025-13/e01.json", "t/notes/x.json"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    parts = Partitions(tmp_path, DurableJSONStorage, 1 << 20)
    assert parts.months("t") == ["2025-05"]
    assert parts.names("t/2025-05") == ["t/2025-05/e01"]
    assert parts.names("t/2099-01") == [] and parts.months("nothing") == []
