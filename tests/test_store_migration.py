"""Schema versions: an older data folder is backed up then migrated; a newer one is refused."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qa.backups import list_backups
from qa.errors import StoreError
from qa.store import Store
from tests.store_support import files_of

ROOT = Path(__file__).resolve().parent.parent
V1 = ROOT / "tests" / "fixtures" / "store_v1"


@pytest.fixture
def v1_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(V1, data)
    return data


def summary(store: Store) -> dict[str, object]:
    """What a migration must keep, in comparable form."""
    return {
        "employees": [(e.id, e.display_name, e.active) for e in store.list_employees()],
        "users": [(u.name, u.role, u.created_at) for u in store.list_users()],
        "interactions": [
            (i.id, i.channel, i.started_at)
            for i in store.interactions_in(datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
        ],
        "evaluations": sorted((e.id, e.status, e.channel, e.employee_id) for e in store.iter_evaluations()),
        "audit": [(a.id, a.seq, a.action) for e in ("ev-0001", "ev-0002") for a in store.audit_log(e)],
    }


def test_a_schema_1_folder_is_backed_up_then_migrated(v1_data: Path) -> None:
    with Store.open(v1_data) as store:
        assert summary(store) == {
            "employees": [("E001", "Alice Martin", True), ("E002", "Bruno Petit", True), ("E003", "Chloé Roux", False)],
            "users": [
                ("lea", "qa_lead", datetime(2024, 9, 1, 8, tzinfo=UTC)),
                ("sam", "shopper", datetime(2024, 9, 2, 8, tzinfo=UTC)),
            ],
            "interactions": [
                ("C-1001", "phone", datetime(2024, 10, 3, 9, 12, tzinfo=UTC)),
                ("C-1002", "phone", datetime(2024, 10, 31, 23, 40, tzinfo=UTC)),
            ],
            "evaluations": [("ev-0001", "approved", "phone", "E001"), ("ev-0002", "submitted", "face_to_face", "E002")],
            "audit": [("v1-audit-1", 0, "submitted"), ("v1-audit-3", 1, "validated"), ("v1-audit-2", 0, "submitted")],
        }
        assert store.get_evaluation("ev-0002").visit == {
            "place": "Agence Lille Centre",
            "scenario": "ouverture de compte",
        }
        assert store.get_scorecard_version("phone_call", "a1b2c3d4e5f6")["id"] == "phone_call"
    meta = json.loads((v1_data / "store.json").read_text())
    assert meta["schema"] == 2 and "migrating_from" not in meta
    assert not (v1_data / "qa.json").exists()
    [(manifest, backup)] = list_backups(v1_data)
    assert manifest.schema == 1 and manifest.reason == "before-migration-v1"
    assert (backup / "qa.json").read_bytes() == (V1 / "qa.json").read_bytes()


def test_restoring_the_pre_migration_backup_migrates_it_again(v1_data: Path) -> None:
    with Store.open(v1_data) as store:
        migrated = summary(store)
        [(_, backup)] = list_backups(v1_data)
        store.update_evaluation("ev-0002", {"status": "approved"}, by="lea", action="approve")
        store.restore(backup)
        assert summary(store) == migrated


@pytest.mark.slow
# A migration here makes ~96 file-system calls: kill in the backup, between tables, inside
# the batches and after the old file is gone.
@pytest.mark.parametrize("kill_at", [8, 21, 45, 64, 85, 91, 95])
def test_a_migration_killed_halfway_completes_at_the_next_open(tmp_path: Path, kill_at: int) -> None:
    clean = tmp_path / "clean"
    shutil.copytree(V1, clean)
    with Store.open(clean) as store:
        expected = summary(store)
    data = tmp_path / "data"
    shutil.copytree(V1, data)
    code = (
        "import sys; from tests.store_worker import kill_at; kill_at(int(sys.argv[2])); "
        "from qa.store import Store; Store.open(sys.argv[1])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(data), str(kill_at)], cwd=ROOT, capture_output=True, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with Store.open(data) as store:
        assert summary(store) == expected
    backups = [path for manifest, path in list_backups(data) if manifest.reason == "before-migration-v1"]
    assert backups and all((b / "qa.json").read_bytes() == (V1 / "qa.json").read_bytes() for b in backups)


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store.open(data).close()
    meta = json.loads((data / "store.json").read_text())
    (data / "store.json").write_text(json.dumps({**meta, "schema": 3}))
    before = files_of(data)
    with pytest.raises(
        StoreError, match=r"newer version of Qualiterrain \(store schema 3; this version reads schema 2"
    ):
        Store.open(data)
    assert files_of(data) == before


def test_an_unknown_store_json_is_an_error_not_a_new_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "store.json").write_text("{not json")
    with pytest.raises(StoreError, match=r"cannot read .*store\.json"):
        Store.open(data)
