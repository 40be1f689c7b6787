"""The Store's API, run against each storage: the durable one and TinyDB's JSONStorage (reference)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from qa.errors import InvalidRecord, NotFound, StoreError
from qa.store import Store
from tests.store_support import PARIS_SUMMER, SCORECARD, Clock, employee, evaluation, files_of, interaction, open_store


@pytest.fixture(params=["durable", "reference"])
def storage(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data: Path, storage: str) -> Iterator[Store]:
    store = open_store(data, storage)
    yield store
    store.close()


def other_process(data: Path, storage: str) -> Store:
    """A second Store on the same folder, as another process would have (own caches, own lock)."""
    return Store(
        data.resolve(), storage=storage, clock=Clock(), cache_mb=64, lock_timeout=5, backup_every=None, keep_backups=7
    )


# -- opening ------------------------------------------------------------------------------------


def test_open_gives_one_instance_per_folder_until_the_last_close(data: Path, storage: str) -> None:
    first = Store.open(data, storage=storage)
    second = Store.open(data / ".." / "data", storage=storage)
    assert first is second
    first.close()
    assert second.list_employees() == []  # still open for the second user
    second.close()
    with pytest.raises(StoreError, match="closed"):
        second.list_employees()
    assert Store.open(data, storage=storage) is not first
    Store.open(data, storage=storage).close()


def test_store_json_records_schema_and_layout(store: Store, data: Path, storage: str) -> None:
    meta = (data / "store.json").read_text()
    assert '"schema": 2' in meta and f'"storage": "{storage}"' in meta and '"evaluation_buckets"' in meta


# -- employees, users ---------------------------------------------------------------------------


def test_upsert_employees_counts_added_updated_unchanged(store: Store) -> None:
    counts = store.upsert_employees([employee(1, team="south"), employee(2), employee(4)])
    assert (counts.added, counts.updated, counts.unchanged) == (1, 1, 1)
    assert store.get_employee("emp-001").team == "south"
    store.upsert_employees([employee(2, active=False)])
    assert [e.id for e in store.list_employees(active_only=True)] == ["emp-001", "emp-003", "emp-004"]
    assert len(store.list_employees()) == 4
    with pytest.raises(NotFound, match="emp-999"):
        store.get_employee("emp-999")


def test_users_are_added_once_and_updated_but_never_renamed(store: Store) -> None:
    user = {
        "name": "lea",
        "display_name": "Léa",
        "role": "qa_lead",
        "password_hash": "$argon2id$x",
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    store.add_user(user)
    with pytest.raises(StoreError, match="already exists"):
        store.add_user(user)
    assert store.update_user("lea", {"role": "admin", "active": False}).role == "admin"
    assert store.get_user("lea").active is False
    assert store.list_users(active_only=True) == []
    with pytest.raises(InvalidRecord, match="name: cannot be changed"):
        store.update_user("lea", {"name": "leo"})
    with pytest.raises(InvalidRecord, match="role"):
        store.update_user("lea", {"role": "boss"})
    with pytest.raises(NotFound):
        store.get_user("nobody")


# -- interactions -------------------------------------------------------------------------------


def test_add_interactions_is_idempotent_on_id(store: Store) -> None:
    assert store.add_interactions([interaction(n) for n in range(1, 6)]) == 5
    assert store.add_interactions([interaction(n) for n in range(4, 9)]) == 3
    found = store.get_interaction("call-000004")
    assert found.duration_seconds == 124 and found.started_at.utcoffset() == timedelta(hours=2)
    assert "customer_ref" not in found.public()
    with pytest.raises(NotFound):
        store.get_interaction("call-999999")


def test_an_interaction_id_is_unique_across_months(store: Store, data: Path, storage: str) -> None:
    assert store.add_interactions([interaction(1), interaction(2)]) == 2
    moved = interaction(1, started_at=datetime(2025, 9, 1, 9, tzinfo=PARIS_SUMMER), duration_seconds=1)
    assert store.add_interactions([moved, interaction(3, started_at=moved["started_at"])]) == 1
    assert store.get_interaction("call-000001").started_at.month == 5  # the first one stays
    year = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert [i.id for i in store.interactions_in(*year)] == ["call-000001", "call-000002", "call-000003"]
    other = other_process(data, storage)  # ids another process stored are known here too
    assert other.add_interactions([interaction(4, started_at=moved["started_at"])]) == 1
    other.close()
    assert store.add_interactions([interaction(4), interaction(5)]) == 1
    assert len(store.interaction_frame(*year)) == 5
    twice = [interaction(6), interaction(6, started_at=moved["started_at"])]  # the last of an id wins
    assert store.add_interactions(twice) == 1 and store.get_interaction("call-000006").started_at.month == 9
    found = store.get_interactions(["call-000001", "call-000006", "call-999999"])
    assert found == {key: store.get_interaction(key) for key in ("call-000001", "call-000006")}


def test_interactions_in_uses_instants_across_month_files(store: Store) -> None:
    june_local = interaction(1, started_at=datetime(2025, 6, 1, 0, 30, tzinfo=PARIS_SUMMER))  # May 31 in UTC
    store.add_interactions([june_local, interaction(2, "emp-002"), interaction(3, "emp-003")])
    may = store.interactions_in(datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC))
    assert [i.id for i in may] == ["call-000002", "call-000003", "call-000001"]
    chosen = store.interactions_in(datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC), ["emp-002"])
    assert [i.id for i in chosen] == ["call-000002"]
    with pytest.raises(StoreError, match="timezone"):
        store.interactions_in(datetime(2025, 5, 1), datetime(2025, 6, 1))


# -- draws and assignments ----------------------------------------------------------------------


def draw(**extra: object) -> dict[str, object]:
    return {
        "id": "draw-1",
        "plan": {"per_employee": 2},
        "seed": 42,
        "frame_hash": "abc123",
        "created_at": datetime(2025, 5, 2, tzinfo=UTC),
        "created_by": "lea",
        "selected": ["call-000001", "call-000002"],
        "shortfalls": {"emp-003": 2},
        **extra,
    }


def assignment(interaction_id: str, evaluator: str = "shopper1", **extra: object) -> dict[str, object]:
    return {
        "draw_id": "draw-1",
        "interaction_id": interaction_id,
        "employee_id": "emp-001",
        "evaluator": evaluator,
        **extra,
    }


def test_a_draw_is_saved_with_its_assignments_and_never_changes(store: Store) -> None:
    store.save_draw(draw(), [assignment("call-000001"), assignment("call-000002", "shopper2")])
    assert store.get_draw("draw-1").seed == 42
    assert store.save_draw(draw()).id == "draw-1"  # the same draw again: nothing to do
    with pytest.raises(StoreError, match="other content"):
        store.save_draw(draw(seed=43))
    assert [d.id for d in store.list_draws()] == ["draw-1"]
    assert [a.interaction_id for a in store.assignments(evaluator="shopper2")] == ["call-000002"]
    store.save_assignments([assignment("call-000001", status="done", evaluation_id="ev-1")])
    assert [a.status for a in store.assignments(draw_id="draw-1")] == ["done", "open"]
    assert store.assignments(draw_id="draw-404") == []
    with pytest.raises(NotFound):
        store.get_draw("draw-404")


def test_assignments_must_belong_to_a_stored_draw_and_its_selection(store: Store) -> None:
    store.save_draw(draw())
    with pytest.raises(InvalidRecord, match="interaction_id: was not selected"):
        store.save_assignments([assignment("call-000009")])
    with pytest.raises(InvalidRecord, match="draw_id: no draw"):
        store.save_assignments([assignment("call-000001", draw_id="draw-2")])
    with pytest.raises(InvalidRecord, match="draw_id: is not"):
        store.save_draw(draw(id="draw-2"), [assignment("call-000001")])
    assert store.assignments() == []


# -- evaluations --------------------------------------------------------------------------------


def test_submit_stores_a_submitted_evaluation_with_its_audit_entry(store: Store) -> None:
    ev = evaluation()
    stored = store.submit_evaluation(ev, by="shopper1")
    assert stored.status == "submitted" and stored.submitted_at is not None
    assert store.get_evaluation(ev["id"]) == stored
    [entry] = store.audit_log(ev["id"])
    assert (entry.seq, entry.action, entry.by) == (0, "submitted", "shopper1")


def test_submitting_the_same_id_twice_stores_one_evaluation(store: Store) -> None:
    ev = evaluation()
    first = store.submit_evaluation(ev)
    again = store.submit_evaluation({**ev, "answers": {"greeting": "no"}})
    assert again == first
    assert len(store.evaluations_for_employee("emp-001")) == 1
    assert len(store.audit_log(ev["id"])) == 1


def test_update_writes_the_change_and_its_audit_entry(store: Store) -> None:
    ev = store.submit_evaluation(evaluation())
    updated = store.update_evaluation(
        ev.id,
        {"status": "returned", "comments": {"tone": "trop rapide"}},
        by="lea",
        action="return",
        details={"reason": "incomplet"},
    )
    assert updated.status == "returned" and updated.updated_at > ev.updated_at
    store.update_evaluation(ev.id, {"status": "submitted"}, by="shopper1", action="resubmit")
    log = store.audit_log(ev.id)
    assert [(e.seq, e.action) for e in log] == [(0, "submitted"), (1, "return"), (2, "resubmit")]
    assert log[1].fields == ["comments", "status"] and log[1].details == {"reason": "incomplet"}
    assert store.get_evaluation(ev.id).status == "submitted"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"status": "draft"}, "status: cannot go from 'submitted' to 'draft'", id="backwards"),
        pytest.param({"employee_id": "emp-002"}, "employee_id: cannot be changed", id="partition-key"),
        pytest.param(
            {"photos": ["../secret.jpg"]}, "photos: .*must be a relative path inside the data folder", id="path-escape"
        ),
        pytest.param({"colour": "blue"}, "colour: extra inputs are not permitted", id="unknown-field"),
    ],
)
def test_refused_updates_change_nothing(store: Store, data: Path, changes: dict, message: str) -> None:
    ev = store.submit_evaluation(evaluation())
    before = files_of(data)
    with pytest.raises(InvalidRecord, match=message):
        store.update_evaluation(ev.id, changes, by="lea", action="edit")
    assert files_of(data) == before
    assert store.get_evaluation(ev.id) == ev and len(store.audit_log(ev.id)) == 1


@pytest.mark.parametrize(
    ("record", "message"),
    [
        pytest.param(
            {"started_at": datetime(2025, 5, 3, 10)}, "started_at: input should have timezone", id="naive-time"
        ),
        pytest.param({"channel": "fax"}, "channel: input should be", id="unknown-channel"),
        pytest.param({"interaction_id": None}, r"\(record\): needs an interaction_id", id="nothing-evaluated"),
        pytest.param({"photos": ["/etc/passwd"]}, "photos: .*must be a relative path", id="absolute-photo"),
        pytest.param({"status": "approved"}, "status: a new evaluation is submitted", id="not-submitted"),
        pytest.param({"employee_id": "emp-404"}, "employee_id: no employee 'emp-404'", id="unknown-employee"),
        pytest.param(
            {"scorecard_version": "v9"},
            "scorecard_version: scorecard 'phone_call' version 'v9'",
            id="unknown-scorecard-version",
        ),
        pytest.param({"answers": {"greeting": object()}}, r"\(record\): cannot be stored as JSON", id="not-json"),
    ],
)
def test_invalid_evaluations_are_refused_and_leave_the_store_unchanged(
    store: Store, data: Path, record: dict, message: str
) -> None:
    store.submit_evaluation(evaluation())
    before = files_of(data)
    bad = evaluation(**record)
    with pytest.raises(InvalidRecord, match=message) as refused:
        store.submit_evaluation(bad)
    assert f"evaluation '{bad['id']}'" in str(refused.value)
    assert files_of(data) == before
    with pytest.raises(NotFound):
        store.get_evaluation(bad["id"])


def test_one_invalid_record_refuses_the_whole_batch(store: Store, data: Path) -> None:
    before = files_of(data)
    batch = [interaction(1), interaction(2, channel="pigeon"), interaction(3)]
    with pytest.raises(InvalidRecord, match=r"interaction 'call-000002' \(item 2\): channel"):
        store.add_interactions(batch)
    with pytest.raises(InvalidRecord, match="employee_id: no employee"):
        store.import_evaluations([evaluation(employee_id="emp-404")], by="import")
    assert files_of(data) == before


def test_queries_by_employee_month_and_status(store: Store) -> None:
    a = store.submit_evaluation(evaluation("emp-001"))
    b = store.submit_evaluation(evaluation("emp-002"))
    c = store.submit_evaluation(evaluation("emp-001", started_at=datetime(2025, 6, 2, 9, tzinfo=PARIS_SUMMER)))
    july_local = evaluation("emp-003", started_at=datetime(2025, 7, 1, 0, 30, tzinfo=PARIS_SUMMER))
    d = store.submit_evaluation(july_local)
    store.update_evaluation(b.id, {"status": "approved"}, by="lea", action="approve")
    assert [e.id for e in store.evaluations_for_employee("emp-001")] == [a.id, c.id]
    assert [e.id for e in store.evaluations_in_month("2025-05")] == [a.id, b.id]
    assert [e.id for e in store.evaluations_in_month("2025-07")] == [d.id]  # June 30 in UTC
    assert store.evaluations_in_month("2024-01") == []
    assert {e.id for e in store.iter_evaluations()} == {a.id, b.id, c.id, d.id}
    assert [e.id for e in store.iter_evaluations(status="approved")] == [b.id]
    with pytest.raises(StoreError, match="YYYY-MM"):
        store.evaluations_in_month("May 2025")


def test_import_keeps_statuses_and_skips_known_ids(store: Store) -> None:
    old = [evaluation(status="approved"), evaluation("emp-002", status="disputed")]
    assert store.import_evaluations(old, by="import") == 2
    assert store.import_evaluations([*old, evaluation("emp-003")], by="import") == 1
    assert store.get_evaluation(old[1]["id"]).status == "disputed"
    [entry] = store.audit_log(old[0]["id"])
    assert (entry.action, entry.by, entry.details) == ("imported", "import", {"status": "approved"})


def test_records_are_frozen(store: Store) -> None:
    ev = store.submit_evaluation(evaluation())
    with pytest.raises(ValidationError):
        ev.status = "approved"  # type: ignore[misc]


# -- another process ----------------------------------------------------------------------------


def test_a_reader_sees_what_another_process_wrote(store: Store, data: Path, storage: str) -> None:
    ev = store.submit_evaluation(evaluation())
    assert len(store.evaluations_in_month("2025-05")) == 1  # now cached here
    other = other_process(data, storage)
    other.update_evaluation(ev.id, {"status": "approved"}, by="lea", action="approve")
    other.submit_evaluation(evaluation("emp-001"))
    other.upsert_employees([employee(9)])
    assert store.get_evaluation(ev.id).status == "approved"
    assert len(store.evaluations_in_month("2025-05")) == 2
    assert len(store.evaluations_for_employee("emp-001")) == 2
    assert store.get_employee("emp-009")
    # and a write here starts from the other process's state, losing nothing
    store.update_evaluation(ev.id, {"comments": {"x": "y"}}, by="lea", action="comment")
    assert [e.action for e in other.audit_log(ev.id)] == ["submitted", "approve", "comment"]
    other.close()


# -- drafts, scorecards, site tokens ------------------------------------------------------------


def test_drafts_are_kept_per_user_and_key(store: Store) -> None:
    store.save_draft("shopper1", "call-000001", {"greeting": "yes"})
    store.save_draft("shopper1", "visit:lyon-2", {"step": 2})
    store.save_draft("shopper2", "call-000001", {"greeting": "no"})
    store.save_draft("shopper1", "call-000001", {"greeting": "no"})
    assert store.get_draft("shopper1", "call-000001").state == {"greeting": "no"}  # type: ignore[union-attr]
    assert [d.key for d in store.drafts_for("shopper1")] == ["call-000001", "visit:lyon-2"]
    assert store.delete_draft("shopper1", "call-000001") is True
    assert store.delete_draft("shopper1", "call-000001") is False
    assert store.get_draft("shopper1", "call-000001") is None
    assert [d.user for d in store.drafts_for("shopper2")] == ["shopper2"]
    assert store.drafts_for("nobody") == []


def test_scorecard_versions_are_kept_and_never_rewritten(store: Store) -> None:
    assert store.remember_scorecard("phone_call", "v1", SCORECARD) is False  # already there
    assert store.remember_scorecard("phone_call", "v2", {**SCORECARD, "version": 2}) is True
    copy = store.get_scorecard_version("phone_call", "v1")
    copy["sections"].clear()
    assert store.get_scorecard_version("phone_call", "v1") == SCORECARD
    with pytest.raises(StoreError, match="other content"):
        store.remember_scorecard("phone_call", "v1", {"id": "changed"})
    with pytest.raises(NotFound):
        store.get_scorecard_version("phone_call", "v9")


def test_site_tokens_are_created_on_first_use_and_rotate(store: Store) -> None:
    token = store.site_token("emp-001")
    assert len(token) >= 32 and store.site_token("emp-001") == token
    tokens = store.site_tokens()
    assert set(tokens) == {"emp-001", "emp-002", "emp-003"} and len(set(tokens.values())) == 3
    rotated = store.rotate_site_token("emp-001")
    assert rotated != token and store.site_token("emp-001") == rotated
    with pytest.raises(NotFound):
        store.site_token("emp-404")


def test_only_the_store_layer_imports_tinydb() -> None:
    root = Path(__file__).resolve().parent.parent
    allowed = {"qa/storage.py", "qa/partitions.py"}  # the storages and the files of the Store
    sources = [p for folder in ("qa", "sitegen", "ui", "pages", "bench") for p in (root / folder).rglob("*.py")]
    sources += [p for p in [root / "streamlit_app.py"] if p.exists()]
    importers = {
        p.relative_to(root).as_posix()
        for p in sources
        if any(line.lstrip().startswith(("import tinydb", "from tinydb")) for line in p.read_text().splitlines())
    }
    assert importers <= allowed


def test_a_file_is_not_a_data_folder_and_new_folders_are_private(tmp_path: Path, storage: str) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create the data folder"):
        Store.open(tmp_path / "file", storage=storage)
    with open_store(tmp_path / "new" / "data", storage) as store:
        store.submit_evaluation(evaluation())
    folders = [p for p in (tmp_path / "new").rglob("*") if p.is_dir()]
    assert folders and all(p.stat().st_mode & 0o077 == 0 for p in folders)


def test_scorecard_ids_follow_the_scorecard_format(store: Store) -> None:
    with pytest.raises(InvalidRecord, match="scorecard_id: string should match pattern"):
        store.remember_scorecard("phone@call", "v1", SCORECARD)
