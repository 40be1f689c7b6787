"""Backups and restores, and damaged files reported with the newest backup holding a good copy."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from qa.backups import backup_problems, list_backups, read_manifest
from qa.errors import StoreError, UnreadableFile
from qa.storage import atomic_write
from qa.store import Store
from tests.store_support import Clock, employee, evaluation, files_of, open_store

ROOT = Path(__file__).resolve().parent.parent


def ids(store: Store) -> set[str]:
    return {e.id for e in store.iter_evaluations()}


def test_restore_brings_back_the_backed_up_state(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with open_store(data) as store:
        kept = store.submit_evaluation(evaluation())
        backup = store.backup()
        assert backup.parent == data / "backups" and backup_problems(backup) == []
        store.update_evaluation(kept.id, {"status": "approved"}, by="lea", action="approve")
        store.submit_evaluation(evaluation("emp-002"))
        store.upsert_employees([employee(7)])
        store.restore(backup)
        assert ids(store) == {kept.id}
        assert store.get_evaluation(kept.id).status == "submitted"
        assert [e.id for e in store.list_employees()] == ["emp-001", "emp-002", "emp-003"]
        reasons = sorted(m.reason for m, _ in list_backups(data) if m.reason != "auto")
        assert reasons == ["before-restore", "manual"]  # the state replaced is kept too


# Files the app keeps beside the main tables: saved import mappings, calibration sessions, the dispute
# index, evaluation photos (written by qa/interactions.py, qa/store_reviews.py, qa/photos.py).
BESIDE = [
    "mappings/genesys.json",
    "calibration_sessions/2025-03.json",
    "disputes.json",
    "photos/ev-1/p1.jpg",
]


def test_backups_and_restores_hold_mappings_calibration_disputes_and_photos(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with open_store(data) as store:
        for rel in BESIDE:
            atomic_write(data / rel, f"before {rel}".encode())
        backup = store.backup(tmp_path / "backup.zip")
        for rel in BESIDE:
            atomic_write(data / rel, f"after {rel}".encode())
            atomic_write((data / rel).with_name(f"new-{Path(rel).name}"), b"made after the backup")
        assert set(BESIDE) <= set(read_manifest(backup).files)
        store.restore(backup)
    for rel in BESIDE:
        assert (data / rel).read_bytes() == f"before {rel}".encode()
        assert not (data / rel).with_name(f"new-{Path(rel).name}").exists()  # restored as it was: no more


def test_backups_share_no_file_with_the_live_folder_only_with_each_other(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with open_store(data) as store:
        store.submit_evaluation(evaluation())
        first = store.backup()
        store.submit_evaluation(evaluation())  # changes one evaluations file, not the others
        second = store.backup()
    live = {p.relative_to(data): p.stat().st_ino for p in data.rglob("*.json") if "backups" not in p.parts}
    for backup in (first, second):
        assert all((backup / rel).stat().st_ino != ino for rel, ino in live.items())
    [changed] = [rel for rel in live if rel.parts[0] == "evaluations"]
    assert (first / changed).stat().st_ino != (second / changed).stat().st_ino
    assert (first / "employees.json").stat().st_ino == (second / "employees.json").stat().st_ino


@pytest.mark.parametrize("name", ["backup.zip", "copy"])
def test_a_backup_outside_restores_into_an_empty_folder(tmp_path: Path, name: str) -> None:
    with open_store(tmp_path / "data") as store:
        ev = store.submit_evaluation(evaluation())
        dest = store.backup(tmp_path / "elsewhere" / name)
    assert read_manifest(dest).files["store.json"] > 0 and backup_problems(dest) == []
    if dest.is_dir():  # a real copy: changing the store later cannot change it
        data_file = next((tmp_path / "data" / "evaluations").rglob("*.json"))
        copied = dest / data_file.relative_to(tmp_path / "data")
        assert copied.stat().st_ino != data_file.stat().st_ino
    with Store.open(tmp_path / "new", clock=Clock()) as other:
        other.restore(dest)
        assert other.get_evaluation(ev.id) == ev


def test_an_incomplete_backup_is_refused(tmp_path: Path) -> None:
    with open_store(tmp_path / "data") as store:
        backup = store.backup()
        (backup / "MANIFEST.json").unlink()
        before = files_of(tmp_path / "data")
        with pytest.raises(StoreError, match="not a complete Qualiterrain backup"):
            store.restore(backup)
        assert files_of(tmp_path / "data") == before


def damage(path: Path) -> None:
    """Damage a file in place, as a disk error or `> file` would (same inode, same name)."""
    with open(path, "r+b") as handle:
        handle.seek(60)
        handle.write(b"#####")


def test_a_damaged_file_names_the_newest_backup_with_a_good_copy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with open_store(data) as store:
        store.submit_evaluation(evaluation())
        older = store.backup()
        store.submit_evaluation(evaluation())  # the same file, replaced by a new version
        newest = store.backup()
    [path] = (data / "evaluations").rglob("*.json")
    damage(path)
    with Store.open(data) as store, pytest.raises(UnreadableFile) as error:
        store.evaluations_in_month("2025-05")
    message = str(error.value)
    assert error.value.path == str(path) and str(path) in message
    assert error.value.backup == str(newest) and f"qa restore {newest}" in message
    damage(newest / path.relative_to(data))  # now the newest backup's copy is bad too
    with Store.open(data) as store:
        with pytest.raises(UnreadableFile) as error:
            store.evaluations_in_month("2025-05")
        assert error.value.backup == str(older)
        store.restore(older)
        assert len(ids(store)) == 1


def test_a_damaged_small_table_stops_the_store_from_opening(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with open_store(data) as store:
        backup = store.backup()
    (data / "employees.json").write_bytes(b"")
    with pytest.raises(UnreadableFile, match=r"employees\.json: the file is empty") as error:
        Store.open(data)
    assert error.value.backup == str(backup)
    (data / "backups").rename(tmp_path / "gone")
    with pytest.raises(UnreadableFile, match="No good backup was found in"):
        Store.open(data)


def test_writes_make_an_automatic_backup_once_a_day(tmp_path: Path) -> None:
    clock = Clock()
    with open_store(tmp_path / "data", clock=clock, keep_backups=2) as store:
        for _ in range(4):
            store.submit_evaluation(evaluation())
            clock.now += timedelta(hours=25)
            store.submit_evaluation(evaluation())
        autos = [m for m, _ in list_backups(tmp_path / "data") if m.reason == "auto"]
        assert len(autos) == 2  # one a day, the newest two kept


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [6, 25, 60, 68, 75, 82, 90])
def test_a_restore_killed_halfway_ends_in_the_old_or_the_backed_up_state(tmp_path: Path, kill_at: int) -> None:
    data = tmp_path / "data"
    with open_store(data) as store:
        for n in range(3):
            store.submit_evaluation(evaluation(f"emp-00{n + 1}"))
        old_state = ids(store)
        backup = store.backup()
        for n in range(3):
            store.submit_evaluation(
                evaluation(f"emp-00{n + 1}", started_at=evaluation()["started_at"] + timedelta(days=40))
            )
        new_state = ids(store)
    code = (
        "import sys; from tests.store_worker import kill_at; kill_at(int(sys.argv[3])); "
        "from qa.store import Store; Store.open(sys.argv[1]).restore(sys.argv[2])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(data), str(backup), str(kill_at)], cwd=ROOT, capture_output=True, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Store.open(data) as store:
        assert ids(store) in (old_state, new_state)
        marker_was_written = not (data / ".restore").exists()
        assert marker_was_written


def test_a_backup_keeps_the_users_log_as_it_was_when_a_user_changes_later(tmp_path: Path) -> None:
    from qa import auth

    data = tmp_path / "data"
    root = auth.Actor("root", "admin")
    with open_store(data) as store:
        auth.create_user(store, "root", "admin")
        auth.add_user(store, root, "nina", "shopper")
        backup = store.backup()
        auth.add_user(store, root, "omar", "qa_lead")  # after the backup: it must not reach it
        assert [c.user for c in auth.user_changes(store, root)] == ["omar", "nina"]
        store.restore(backup)
        assert [c.user for c in auth.user_changes(store, root)] == ["nina"]
