"""The bulk path of imports: interactions checked as columns accept exactly what the model accepts,
and are written exactly as the model path writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from qa.errors import InvalidRecord
from qa.interaction_columns import documents, vouched
from qa.interactions import ColumnMapping, ImportRefused, import_interactions
from qa.models import Employee, Interaction, dump_many, validated_many
from qa.store import Store

from .store_support import files_of

WIDE = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


def rows(n: int, start: int = 0) -> list[dict]:
    """Canonical interactions over three months, some without duration, recording or customer."""
    return [
        {
            "id": f"call-{i:05d}",
            "employee_id": f"E{i % 7}",
            "channel": ("phone", "email", "chat", "face_to_face")[i % 4],
            "started_at": f"2026-{10 + i % 3:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00"
            + ("+01:00" if i % 5 else "Z"),
            "duration_seconds": None if i % 11 == 0 else i % 3600,
            "recording": f"rec/{i}.wav" if i % 2 else None,
            "customer_ref": None if i % 3 == 0 else f" CLI {i} ",
        }
        for i in range(start, start + n)
    ]


def table_of(docs: list[dict]) -> pa.Table:
    names = list(dict.fromkeys(name for doc in docs for name in doc))  # every row's fields
    return pa.table({name: [doc.get(name) for doc in docs] for name in names})


def encoded(table: pa.Table, names=("employee_id", "channel", "started_at")) -> pa.Table:
    """The table with these columns dictionary-encoded, as check_rows gives them."""
    for name in names:
        table = table.set_column(table.column_names.index(name), name, table[name].dictionary_encode())
    return table


def bodies(data: Path) -> dict[str, bytes]:
    """The interaction files' bodies (their headers hold a random token)."""
    return {
        name: content.split(b"\n", 1)[1] if content.startswith(b'{"token"') else content
        for name, content in files_of(data).items()
        if name.startswith("interactions/") and name.endswith(".json")
    }


@pytest.fixture(params=["durable", "reference"])
def storage(request) -> str:
    return request.param


@pytest.fixture
def stores(tmp_path: Path, storage: str):
    """Two empty stores: one fed through the model, one through the columns."""
    model = Store.open(tmp_path / "model", storage=storage, backup_every=None)
    columns = Store.open(tmp_path / "columns", storage=storage, backup_every=None)
    yield model, columns
    model.close()
    columns.close()


def test_a_canonical_table_is_vouched_for_and_its_documents_are_the_models():
    docs = rows(200)
    assert vouched(table_of(docs)) and vouched(encoded(table_of(docs)))
    assert documents(table_of(docs)) == dump_many(Interaction, validated_many(Interaction, docs))
    assert documents(encoded(table_of(docs))) == documents(table_of(docs))


@pytest.mark.parametrize(
    ("name", "value"),
    [("employee_id", "E 1"), ("channel", "fax"), ("started_at", "2026-04-31T10:00:00+02:00"), ("employee_id", None)],
)
def test_a_bad_value_in_a_dictionary_encoded_column_is_seen(stores, tmp_path, name, value):
    model, columns = stores
    docs = rows(4)
    docs[1] = {**docs[1], name: value}
    table = encoded(table_of(docs))
    assert not vouched(table)
    with pytest.raises(InvalidRecord) as expected:
        model.add_interactions(docs)
    with pytest.raises(InvalidRecord) as refused:
        columns.add_interaction_table(table)
    assert str(refused.value) == str(expected.value)
    assert bodies(tmp_path / "columns") == {}


def test_the_column_path_writes_the_same_files_as_the_model_path(stores, tmp_path):
    model, columns = stores
    docs = rows(600)
    assert model.add_interactions(docs) == columns.add_interaction_table(table_of(docs)) == 600
    assert bodies(tmp_path / "columns") == bodies(tmp_path / "model")
    again = rows(300, start=450)  # 150 already stored, 150 new
    assert model.add_interactions(again) == columns.add_interaction_table(table_of(again)) == 150
    assert bodies(tmp_path / "columns") == bodies(tmp_path / "model")
    assert columns.add_interaction_table(table_of(again)) == 0
    assert columns.get_interaction("call-00700") == model.get_interaction("call-00700")
    assert len(columns.interaction_frame(*WIDE)) == 750


def test_ids_stored_by_another_process_in_another_month_are_skipped(stores, tmp_path, storage):
    _, columns = stores
    other = Store.open(tmp_path / "columns", storage=storage, backup_every=None)
    moved = {**rows(1)[0], "started_at": "2025-01-05T10:00:00+01:00"}
    assert other.add_interaction_table(table_of([moved])) == 1
    other.close()
    assert columns.add_interaction_table(table_of(rows(10))) == 9
    assert columns.get_interaction("call-00000").started_at.year == 2025  # the first one stays


def test_an_id_twice_in_a_table_keeps_the_last_as_the_model_path_does(stores, tmp_path):
    model, columns = stores
    docs = [*rows(5), {**rows(1)[0], "started_at": "2026-12-30T10:00:00+01:00", "duration_seconds": 7}]
    assert model.add_interactions(docs) == columns.add_interaction_table(table_of(docs)) == 5
    assert bodies(tmp_path / "columns") == bodies(tmp_path / "model")
    assert columns.get_interaction("call-00000").duration_seconds == 7


# One value changed in an otherwise canonical table: the columns never vouch for it; the store
# then refuses it with the model's message (and changes nothing), or stores what the model stores.
ODD_VALUES = [
    pytest.param("id", "call 1", False, id="id-with-space"),
    pytest.param("id", "", False, id="empty-id"),
    pytest.param("id", "x" * 129, False, id="id-too-long"),
    pytest.param("id", "-call", False, id="id-starting-with-dash"),
    pytest.param("id", "call-1\n", False, id="id-with-newline"),
    pytest.param("employee_id", "Émile", False, id="employee-not-a-key"),
    pytest.param("employee_id", None, False, id="no-employee"),
    pytest.param("channel", "fax", False, id="unknown-channel"),
    pytest.param("channel", "Phone", False, id="channel-in-capitals"),
    pytest.param("started_at", "2026-04-31T10:00:00+02:00", False, id="31-april"),
    pytest.param("started_at", "2026-02-29T10:00:00+01:00", False, id="29-february-2026"),
    pytest.param("started_at", "2026-12-01T24:00:00+01:00", False, id="hour-24"),
    pytest.param("started_at", "2026-12-01T10:00:60+01:00", False, id="second-60"),
    pytest.param("started_at", "2026-12-01T10:00:00+24:00", False, id="offset-24h"),
    pytest.param("started_at", "0000-12-01T10:00:00+01:00", False, id="year-0"),
    pytest.param("started_at", "2026-12-01T10:00:00", False, id="naive-time"),
    pytest.param("started_at", "demain", False, id="not-a-time"),
    pytest.param("duration_seconds", -1, False, id="negative-duration"),
    pytest.param("duration_seconds", 12.5, False, id="fractional-duration"),
    pytest.param("recording", 5, False, id="recording-not-text"),
    pytest.param("started_at", "2024-02-29T10:00:00+00:00", True, id="utc-as-offset"),
    pytest.param("started_at", "2026-12-01 10:00:00+01:00", True, id="space-before-time"),
    pytest.param("started_at", "2026-12-01T10:00+01:00", True, id="no-seconds"),
    pytest.param("started_at", "2026-12-01T10:00:00.250+01:00", True, id="milliseconds"),
    pytest.param("duration_seconds", 12.0, True, id="whole-float-duration"),
    pytest.param("extra", "x", False, id="unknown-field"),
]


@pytest.mark.parametrize(("name", "value", "valid"), ODD_VALUES)
def test_values_the_columns_do_not_vouch_for_go_through_the_model(stores, tmp_path, name, value, valid):
    model, columns = stores
    columns.add_interaction_table(table_of(rows(3, start=100)))
    docs = rows(4)
    for row in range(4) if name == "recording" else [2]:  # an Arrow column holds one type
        docs[row] = {**docs[row], name: value}
    table = table_of(docs)
    assert not vouched(table)
    model.add_interaction_table(table_of(rows(3, start=100)))
    if valid:
        assert model.add_interactions(table.to_pylist()) == columns.add_interaction_table(table) == 4
        assert bodies(tmp_path / "columns") == bodies(tmp_path / "model")
        return
    with pytest.raises(InvalidRecord) as expected:
        model.add_interactions(table.to_pylist())
    before = files_of(tmp_path / "columns")
    with pytest.raises(InvalidRecord) as refused:
        columns.add_interaction_table(table)
    assert str(refused.value) == str(expected.value)
    assert files_of(tmp_path / "columns") == before


MOMENTS = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: d.replace(microsecond=0).isoformat()
    ),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: d.replace(microsecond=0).isoformat()
    ),
    st.from_regex(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", fullmatch=True),
).flatmap(
    lambda moment: st.sampled_from(["Z", "+01:00", "-05:30", "+02:00", "+00:00", "+23:59", "+24:00", ""]).map(
        lambda offset: moment + offset
    )
)
VALID_KEYS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,20}", fullmatch=True)
KEYS = st.one_of(VALID_KEYS, VALID_KEYS, VALID_KEYS, st.text(max_size=8))  # mostly valid: tables get vouched for


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": KEYS,
                "employee_id": KEYS,
                "channel": st.sampled_from(["phone", "email", "chat", "face_to_face", "phone", "fax", "Phone"]),
                "started_at": MOMENTS,
                "duration_seconds": st.one_of(st.none(), st.integers(min_value=-3, max_value=10**12)),
                "customer_ref": st.one_of(st.none(), st.text(max_size=6)),
            }
        ),
        min_size=1,
        max_size=5,
    ),
    st.booleans(),
)
def test_whatever_the_columns_vouch_for_the_model_accepts_unchanged(docs, dictionaries):
    table = encoded(table_of(docs)) if dictionaries else table_of(docs)
    if vouched(table):
        assert documents(table) == dump_many(Interaction, validated_many(Interaction, docs))
    event("vouched" if vouched(table) else "not vouched")


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "data", backup_every=None)
    s.upsert_employees([Employee(id=f"E{i}", display_name=f"Agent {i}") for i in (1, 2)])
    yield s
    s.close()


MAPPING = ColumnMapping(
    columns={"id": "id", "employee_id": "agent", "started_at": "start", "duration_seconds": "d"},
    default_channel="phone",
)


def test_an_import_in_utc_is_stored_as_the_model_writes_utc(store):
    data = b"id;agent;start;d\nu1;E1;01/12/2026 09:30;1e3\nu2;E2;02/12/2026 10:00;12,5\n"
    report = import_interactions(store, data, "utc.csv", MAPPING.model_copy(update={"timezone": "UTC"}))
    assert report.added == 2
    found = {r.id: r.model_dump(mode="json") for r in store.interactions_in(*WIDE)}
    assert found["u1"]["started_at"] == "2026-12-01T09:30:00Z" and found["u1"]["duration_seconds"] == 1000
    assert found["u2"]["duration_seconds"] == 12  # 12.5 rounds half to even, as before


@pytest.mark.parametrize("duration", ["inf", "1e400", "1e16", "nan"])
def test_durations_that_are_no_number_of_seconds_are_refused_with_their_line(store, duration):
    data = f"id;agent;start;d\nu1;E1;01/12/2026 09:30;60\nu2;E2;02/12/2026 10:00;{duration}\n".encode()
    with pytest.raises(ImportRefused, match=rf"d\.csv:3:4: cannot read the duration '{duration}'") as refused:
        import_interactions(store, data, "d.csv", MAPPING.model_copy(update={"duration_unit": "minutes"}))
    assert len(refused.value.problems) == 1
    negative = "cannot read the duration" if duration == "nan" else "negative duration"
    with pytest.raises(ImportRefused, match=rf"d\.csv:3:4: {negative} '-{duration}'") as refused:
        import_interactions(store, data.replace(duration.encode(), b"-" + duration.encode()), "d.csv", MAPPING)
    assert len(refused.value.problems) == 1  # one problem per bad cell
    assert store.interactions_in(*WIDE) == []


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_control_character_is_refused_with_its_line(store, encoding):
    data = "id;agent;start;d\nu1;E1;01/12/2026 09:30;60\nu2;E2;02/12/2026 10:00;6\x0c0\n".encode(encoding)
    with pytest.raises(ImportRefused, match=r"c\.csv:3: .*U\+000C"):
        import_interactions(store, b"\xef\xbb\xbf" + data if encoding == "utf-8" else data, "c.csv", MAPPING)
    assert store.interactions_in(*WIDE) == []


def test_local_times_get_the_offset_of_their_day_around_daylight_saving_changes(store):
    starts = ["28/03/2026 02:30", "29/03/2026 02:30", "29/03/2026 03:30", "25/10/2026 02:30", "26/10/2026 02:30"]
    data = "id;agent;start;d\n" + "".join(f"t{n};E1;{start};60\n" for n, start in enumerate(starts))
    assert import_interactions(store, data.encode(), "dst.csv", MAPPING).added == 5
    found = {r.id: r.model_dump(mode="json")["started_at"] for r in store.interactions_in(*WIDE)}
    assert found == {
        "t0": "2026-03-28T02:30:00+01:00",
        "t1": "2026-03-29T03:00:00+02:00",  # an hour that does not exist: moved forward
        "t2": "2026-03-29T03:30:00+02:00",
        "t3": "2026-10-25T02:30:00+02:00",  # an hour that happens twice: the first time
        "t4": "2026-10-26T02:30:00+01:00",
    }
