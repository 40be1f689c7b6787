"""The store's review tables: calibration sessions, the disputed index, the change stamp, and the
migration of the JSON files older versions kept beside the store (tests/fixtures/reviews_v0, written
by the previous qa/calibration.py and qa/disputes.py)."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from qa import calibration as cal
from qa import disputes
from qa.auth import Actor
from qa.backups import list_backups, read_manifest
from qa.errors import InvalidRecord, NotFound, PermissionDenied, StoreError
from qa.store import Store

from .calibration_world import LEAD, T0, add_evaluation, mini, open_world
from .conftest import FIXTURES

LEGACY = FIXTURES / "reviews_v0"
LEGACY_FILES = ["calibration/cal-closed.json", "calibration/cal-open.json", "disputes/evaluations.json"]


@pytest.fixture
def legacy_data(tmp_path: Path) -> Path:
    """A data folder of the previous version: a store, and sessions and disputes as JSON files beside it."""
    data = tmp_path / "data"
    with open_world(data, evaluations=3):
        pass
    for rel in LEGACY_FILES:
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LEGACY / rel, data / rel)
    (data / "calibration" / ".lock").touch()  # the old folder lock, as the old code left it
    return data


def test_opening_moves_legacy_sessions_and_disputes_into_the_tables_after_a_backup(legacy_data: Path) -> None:
    with Store.open(legacy_data) as store:
        sessions = {s.id: s for s in store.calibration_sessions()}
        assert store.disputed_ids() == {"ev1", "ev2"}
        # the records are the files' content, field for field
        for rel in LEGACY_FILES[:2]:
            legacy = orjson.loads((LEGACY / rel).read_bytes())
            assert store._doc(sessions[legacy["id"]]) == legacy
        assert not (legacy_data / "calibration").exists() and not (legacy_data / "disputes").exists()
        # the backup taken first holds the old files as they were
        [folder] = [
            path for manifest, path in list_backups(legacy_data) if manifest.reason == "before-migration-reviews"
        ]
        assert set(LEGACY_FILES) <= set(read_manifest(folder).files)
        assert all((folder / rel).read_bytes() == (LEGACY / rel).read_bytes() for rel in LEGACY_FILES)

        # the migrated sessions work as before: the closed one reports, the open one stays blind
        book = cal.CalibrationBook.of(store)
        report = cal.session_report(book, LEAD, "cal-closed", lang="en").report
        assert {c.criterion_id for c in report.criteria} == {"greet", "thanks", "quality", "steps"}
        with pytest.raises(PermissionDenied, match="still open"):
            cal.answers_of(book, Actor("bruno", "shopper"), "cal-open", "ana")
        assert cal.answers_of(book, Actor("ana", "shopper"), "cal-open", "ana")["I1"]["quality"] == 1
        cal.submit_answers(
            book,
            Actor("bruno", "shopper"),
            "cal-open",
            "I1",
            {"greet": "yes", "thanks": "yes", "quality": 5, "steps": 3},
        )
        assert cal.progress(book, LEAD, "cal-open").answered == {"ana": ["I1"], "bruno": ["I1"]}
    with Store.open(legacy_data) as store:  # nothing left to migrate: no second backup
        assert [m.reason for m, _ in list_backups(legacy_data)].count("before-migration-reviews") == 1
        assert {s.id for s in store.calibration_sessions()} == {"cal-closed", "cal-open"}


def test_an_interrupted_migration_runs_again_without_duplicating(legacy_data: Path) -> None:
    with Store.open(legacy_data):
        pass
    for rel in LEGACY_FILES:  # as if killed after the writes, before the old files were removed
        (legacy_data / rel).parent.mkdir(exist_ok=True)
        shutil.copyfile(LEGACY / rel, legacy_data / rel)
    with Store.open(legacy_data) as store:
        assert sorted(s.id for s in store.calibration_sessions()) == ["cal-closed", "cal-open"]
        assert store.disputed_ids() == {"ev1", "ev2"}
    assert not (legacy_data / "calibration").exists()


def test_a_damaged_legacy_file_stops_the_opening_with_its_path_and_field(legacy_data: Path) -> None:
    path = legacy_data / "calibration" / "cal-open.json"
    doc = orjson.loads(path.read_bytes())
    doc["status"] = "half-open"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(StoreError, match=r"cal-open\.json: status: "):
        Store.open(legacy_data)
    assert path.exists()  # nothing removed: fix the file and open again
    (legacy_data / "disputes" / "evaluations.json").write_bytes(b'{"ev1": true}')
    path.write_bytes((LEGACY / "calibration" / "cal-open.json").read_bytes())
    with pytest.raises(StoreError, match=r"evaluations\.json: expected a list of evaluation ids"):
        Store.open(legacy_data)


def test_a_legacy_disputed_id_the_table_refuses_is_reported_with_the_file_and_the_id(legacy_data: Path) -> None:
    """A hand-edited index with an impossible id: the opening names the file and the id, not only
    the table's field (the user has to find and fix that file)."""
    index = legacy_data / "disputes" / "evaluations.json"
    index.write_bytes(orjson.dumps(["ev1", "ev 2"]))
    with pytest.raises(StoreError) as error:
        Store.open(legacy_data)
    assert str(index) in str(error.value) and "'ev 2'" in str(error.value)
    assert index.exists()  # nothing removed: fix the file and open again


def test_restoring_the_backup_taken_before_the_migration_migrates_it_again(legacy_data: Path) -> None:
    with Store.open(legacy_data) as store:
        [before] = [
            path for manifest, path in list_backups(legacy_data) if manifest.reason == "before-migration-reviews"
        ]
        store.update_calibration_session("cal-open", lambda s: {"evaluators": ["ana", "bruno", "chloe"]})
        store.restore(before)  # the old layout comes back, and is moved into the tables again
        assert not (legacy_data / "calibration").exists()
        assert store.get_calibration_session("cal-open").evaluators == ["ana", "bruno"]
        assert store.disputed_ids() == {"ev1", "ev2"}


# --- the tables themselves -----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path):
    store = open_world(tmp_path / "data")
    yield store
    store.close()


def make(store: Store, session_id: str, days: int = 0) -> cal.CalibrationSession:
    return cal.create_session(
        cal.CalibrationBook.of(store), LEAD, mini(), ["I1", "I2"], ["ana", "bruno"],
        session_id=session_id, clock=lambda: T0 + timedelta(days=days),
    )  # fmt: skip


def test_sessions_are_kept_by_month_and_found_by_id(store: Store) -> None:
    make(store, "march")
    make(store, "may", days=60)
    assert sorted(p.name for p in (store.data_dir / "calibration_sessions").iterdir() if p.suffix == ".json") == [
        "2025-03.json",
        "2025-05.json",
    ]
    assert [s.id for s in store.calibration_sessions()] == ["march", "may"]
    assert store.get_calibration_session("may").created_at == T0 + timedelta(days=60)
    with pytest.raises(NotFound):
        store.get_calibration_session("june")
    with pytest.raises(StoreError, match="already exists"):
        store.add_calibration_session(store.get_calibration_session("march"))


def test_a_change_cannot_move_a_session_or_break_its_record(store: Store) -> None:
    make(store, "s1")
    with pytest.raises(InvalidRecord, match="cannot change"):
        store.update_calibration_session("s1", lambda s: {"created_at": T0 + timedelta(days=90)})
    with pytest.raises(InvalidRecord, match="status"):
        store.update_calibration_session("s1", lambda s: {"status": "archived"})
    assert store.get_calibration_session("s1").status == "open"


def test_the_disputed_index_is_a_table_and_disputes_use_it(store: Store) -> None:
    add_evaluation(store, "ev1", {"greet": "yes", "thanks": "yes", "quality": 3, "steps": 2})
    assert store.mark_disputed(["ev9", "ev9"]) == 1 and store.mark_disputed(["ev9"]) == 0
    disputes.open_dispute(store, LEAD, "ev1", ["thanks"], "I did thank her")
    assert store.disputed_ids() == {"ev1", "ev9"}
    assert (store.data_dir / "disputes.json").is_file() and not (store.data_dir / "disputes").exists()
    disputes.confirm(store, LEAD, "ev1", "The recording has no thanks")
    # resolved, still counted: the index remembers it, the audit log holds the decision
    assert [(r.criterion_id, r.disputes, r.overturned) for r in disputes.overturn_rates(store, LEAD)] == [
        ("thanks", 1, 0)
    ]


def test_the_state_stamp_moves_with_each_write_of_its_tables_only(store: Store) -> None:
    first = store.state_stamp("evaluations", "employees")
    assert store.state_stamp("evaluations", "employees") == first
    make(store, "s1")  # another table
    assert store.state_stamp("evaluations", "employees") == first
    add_evaluation(store, "ev1", {"greet": "yes", "thanks": "yes", "quality": 3, "steps": 2}, approve=False)
    second = store.state_stamp("evaluations", "employees")
    assert second != first
    store.update_evaluation("ev1", {"status": "approved"}, by="lea", action="approve")
    assert store.state_stamp("evaluations", "employees") != second


def test_the_state_stamp_moves_even_when_a_rewrite_keeps_inode_mtime_and_size(store: Store) -> None:
    add_evaluation(store, "ev1", {"greet": "yes", "thanks": "yes", "quality": 3, "steps": 2}, approve=False)
    [path] = [p for p in (store.data_dir / "evaluations").rglob("*.json") if not p.name.startswith(".")]
    before, stat = store.state_stamp("evaluations"), path.stat()
    data = path.read_bytes()  # another write in the same clock tick, of the same size, on a reused inode:
    with open(path, "r+b") as handle:  # only the token tells it apart
        handle.write(data[:10] + bytes(reversed(data[10:42])) + data[42:])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    assert store.state_stamp("evaluations") != before
