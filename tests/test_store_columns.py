"""Bulk reads: evaluation rows, interaction frames and counts say what the records say, stay fresh."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.errors import StoreError
from qa.models import Evaluation
from qa.store import Store
from qa.store_columns import evaluation_block, evaluation_frame, to_frame
from tests.store_support import PARIS_SUMMER, Clock, evaluation, interaction, open_store


@pytest.fixture(params=["durable", "reference"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path / "data", request.param)
    yield store
    store.close()


def snapshot(overall: float, passed: list[bool | None]) -> dict[str, Any]:
    return {
        "overall": overall,
        "band": "good" if overall >= 70 else "poor",
        "critical_failed": passed[0] is False,
        "sections": {
            "welcome": {"id": "welcome", "behaviour": "courtesy", "score": overall - 5, "answered": 2},
            "answer": {"id": "answer", "behaviour": "solution", "score": None, "answered": 0},
        },
        "critical_failures": ["c0"] if passed[0] is False else [],
        "criteria": {
            f"c{i}": {"id": f"c{i}", "passed": p, "weight": 1.0, "fraction": None if p is None else float(p) * 0.75}
            for i, p in enumerate(passed)
        },
    }


def test_evaluation_rows_hold_what_the_records_hold(store: Store) -> None:
    a = store.submit_evaluation(evaluation("emp-001", score=snapshot(80.0, [True, False, None])))
    b = store.submit_evaluation(evaluation("emp-002", score=snapshot(55.5, [False, True, True])))
    visit = evaluation(
        "emp-003", interaction_id=None, visit={"site": "Lyon", "scenario": "purchase"}, channel="face_to_face"
    )
    visit["started_at"] = datetime(2025, 7, 1, 0, 30, tzinfo=PARIS_SUMMER)  # June 30 in UTC, July locally
    c = store.submit_evaluation(visit)
    store.update_evaluation(b.id, {"status": "approved"}, by="lea", action="approve")

    rows = store.evaluation_rows(criteria=True)
    assert list(rows["id"]) == [a.id, b.id, c.id]  # oldest first
    first = rows.iloc[0]
    assert (first["employee_id"], first["evaluator"], first["channel"], first["status"]) == (
        "emp-001",
        "shopper1",
        "phone",
        "submitted",
    )
    assert first["started_at"] == pd.Timestamp(a.started_at) and str(first["started_at"].tz) == "UTC"
    assert first["submitted_at"] == pd.Timestamp(a.submitted_at)
    assert (first["overall"], first["band"], first["critical_failed"]) == (80.0, "good", False)
    assert first["behaviour.courtesy"] == 75.0 and first["section.welcome"] == 75.0
    assert math.isnan(first["behaviour.solution"])  # a section without a score
    assert [first["passed.c0"], first["passed.c1"], first["passed.c2"]] == [1, 0, -1]
    assert [first["fraction.c0"], first["fraction.c1"]] == [0.75, 0.0] and math.isnan(first["fraction.c2"])
    assert first["critical_failures"] == "" and pd.isna(first["scenario"])
    assert first["updated_at"] == pd.Timestamp(a.updated_at)
    assert rows.iloc[1]["critical_failed"] and rows.iloc[1]["passed.c0"] == 0
    assert rows.iloc[1]["critical_failures"] == "c0" and rows.iloc[1]["updated_at"] == pd.Timestamp(
        store.get_evaluation(b.id).updated_at
    )
    last = rows.iloc[2]
    assert (last["month"], last["day"]) == ("2025-07", "2025-07-01")  # in its own offset
    assert pd.isna(last["interaction_id"]) and last["overall"] == 87.5 and last["passed.c0"] == -1
    assert last["scenario"] == "purchase"

    assert "comments" not in rows.columns and "debrief" not in rows.columns  # free text only when asked

    assert list(store.evaluation_rows(status="approved")["id"]) == [b.id]
    assert list(store.evaluation_rows(months=["2025-07"])["id"]) == [c.id]
    assert not any(name.startswith(("passed.", "fraction.")) for name in store.evaluation_rows().columns)
    assert store.evaluation_rows(status="disputed").empty
    assert list(store.evaluation_rows(status="disputed").columns)[:3] == ["id", "scorecard_id", "scorecard_version"]
    with pytest.raises(StoreError, match="YYYY-MM"):
        store.evaluation_rows(months=["July"])


def test_free_text_columns_hold_the_records_comments_and_debrief_as_json(store: Store) -> None:
    said = {"welcome": 'Bonjour "chaleureux" <b>', "general": "Très bien\nmerci"}
    a = store.submit_evaluation({**evaluation("emp-001"), "comments": said, "debrief": {"why": "Attente", "n": 2}})
    b = store.submit_evaluation({**evaluation("emp-002"), "comments": {}, "debrief": {}})
    rows = store.evaluation_rows(texts=True).set_index("id")
    assert orjson.loads(rows.loc[a.id, "comments"]) == said
    assert orjson.loads(rows.loc[a.id, "debrief"]) == {"why": "Attente", "n": 2}
    assert pd.isna(rows.loc[b.id, "comments"]) and pd.isna(rows.loc[b.id, "debrief"])  # nothing said: null
    # From records, the same JSON objects (the text may be spaced or escaped differently).
    records = sorted(store.iter_evaluations(), key=lambda e: e.started_at)
    of_records = evaluation_frame(records).set_index("id")
    for column in ("comments", "debrief"):
        assert [None if pd.isna(v) else orjson.loads(v) for v in of_records[column]] == [
            None if pd.isna(v) else orjson.loads(v) for v in rows[column]
        ]


def test_records_with_free_text_take_the_fast_typed_path() -> None:
    """The lenient path is five times slower: a plain record with comments must not need it."""
    from qa.store_columns import _EVALUATIONS

    doc = Evaluation.model_validate(
        {**evaluation(score=snapshot(70.0, [True])), "comments": {"welcome": "Bien"}, "debrief": {"why": None}}
    ).model_dump(mode="json")
    body = orjson.dumps({"evaluations": {doc["id"]: doc}})
    (row,) = _EVALUATIONS.decode(body).evaluations.values()  # raises if a field does not fit the types
    assert bytes(row.comments) == b'{"welcome":"Bien"}'
    frame = to_frame(evaluation_block(body)[0])
    assert orjson.loads(frame["comments"].iloc[0]) == {"welcome": "Bien"}
    assert orjson.loads(frame["debrief"].iloc[0]) == {"why": None}


def test_counts_come_from_the_headers(store: Store) -> None:
    assert store.count_evaluations() == 0
    ids = [store.submit_evaluation(evaluation(f"emp-00{n % 3 + 1}")).id for n in range(5)]
    store.update_evaluation(ids[0], {"status": "approved"}, by="lea", action="approve")
    assert store.count_evaluations() == 5
    assert (store.count_evaluations(status="approved"), store.count_evaluations(status="submitted")) == (1, 4)


def test_bulk_reads_see_every_write_of_another_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(data)
    ev = store.submit_evaluation(evaluation())
    store.add_interactions([interaction(1)])
    assert store.evaluation_rows()["status"].tolist() == ["submitted"]  # now cached here
    year = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert len(store.interaction_frame(*year)) == 1
    other = Store(data.resolve(), storage="durable", clock=Clock(), cache_mb=64, lock_timeout=5,
                  backup_every=None, keep_backups=7)  # fmt: skip
    other.update_evaluation(ev.id, {"status": "approved"}, by="lea", action="approve")
    other.add_interactions([interaction(2)])
    assert store.evaluation_rows()["status"].tolist() == ["approved"]
    assert store.count_evaluations(status="approved") == 1
    assert [e.status for e in store.iter_evaluations()] == ["approved"]
    assert sorted(store.interaction_frame(*year)["id"]) == ["call-000001", "call-000002"]
    other.close()
    store.close()


def test_interaction_frame_equals_interactions_in(store: Store) -> None:
    june_local = interaction(1, started_at=datetime(2025, 6, 1, 0, 30, tzinfo=PARIS_SUMMER))  # May 31 in UTC
    store.add_interactions(
        [june_local, interaction(2, "emp-002", duration_seconds=None), interaction(3, "emp-003", recording="r/3.mp3")]
    )
    for start, end, who in [
        (datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC), None),
        (datetime(2025, 5, 3, 7, 1, tzinfo=UTC), datetime(2025, 5, 3, 7, 3, tzinfo=UTC), None),  # bounds: [start, end)
        (datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 8, 1, tzinfo=UTC), ["emp-002", "emp-009"]),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC), None),
    ]:
        records = store.interactions_in(start, end, who)
        frame = store.interaction_frame(start, end, who).sort_values("started_at", ignore_index=True)
        assert list(frame["id"]) == [r.id for r in records]
        assert list(frame["employee_id"]) == [r.employee_id for r in records]
        assert list(frame["started_at"]) == [pd.Timestamp(r.started_at) for r in records]
        assert [None if math.isnan(d) else d for d in frame["duration_seconds"]] == [
            r.duration_seconds for r in records
        ]
        assert list(frame["has_recording"]) == [bool(r.recording) for r in records]
        assert list(frame.columns) == [
            "id",
            "employee_id",
            "channel",
            "started_at",
            "duration_seconds",
            "has_recording",
        ]
    with pytest.raises(StoreError, match="timezone"):
        store.interaction_frame(datetime(2025, 5, 1), datetime(2025, 6, 1))


def test_a_scan_past_the_cache_budget_reads_the_same_records(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data", cache_mb=1)
    base = datetime(2025, 1, 5, 10, tzinfo=UTC)
    padding = {f"q{i}": "x" * 200 for i in range(60)}  # ~12 KB each: a few hundred KB a file
    docs = [
        evaluation(f"emp-00{i % 3 + 1}", started_at=base + timedelta(days=i % 360, minutes=i), comments=padding)
        for i in range(400)
    ]
    store.import_evaluations(docs, by="test")
    scanned = [list(store.iter_evaluations()) for _ in range(2)]  # the second with some files cached
    assert [e.id for e in scanned[0]] == [e.id for e in scanned[1]] and len(scanned[0]) == 400
    assert store._parts.room() >= 0  # the scan stayed within the budget
    for record in scanned[1][::37]:
        assert record == store.get_evaluation(record.id)  # rebuilt records equal validated ones
        assert record.model_dump(mode="json") == Evaluation.model_validate(record.model_dump()).model_dump(mode="json")
    assert [e.id for e in store.iter_evaluations(status="submitted")][:3] == [e.id for e in scanned[0][:3]]
    store.close()


def test_changing_a_rebuilt_record_in_memory_never_reaches_the_file(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    a, b = (store.submit_evaluation(evaluation("emp-001")) for _ in range(2))  # the same file
    careless = next(e for e in store.iter_evaluations() if e.id == a.id)
    careless.answers["greeting"] = "changed by a careless caller"
    store.update_evaluation(b.id, {"comments": {"x": "y"}}, by="lea", action="comment")  # rewrites the file
    store.close()
    with Store.open(tmp_path / "data") as fresh:
        assert fresh.get_evaluation(a.id).answers["greeting"] == "yes"


score_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 105),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=3),
)
sections = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(
        st.fixed_dictionaries({"behaviour": st.sampled_from(["courtesy", "empathy"]), "score": score_values}),
        score_values,
    ),
    max_size=3,
)
criteria = st.dictionaries(
    st.sampled_from(["x", "y", "z"]),
    st.one_of(st.fixed_dictionaries({"passed": score_values}, optional={"fraction": score_values}), score_values),
)
scores = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "overall": score_values,
            "band": score_values,
            "sections": sections,
            "criteria": criteria,
            "critical_failed": score_values,
            "critical_failures": st.one_of(st.lists(st.text(max_size=3), max_size=2), score_values),
        },
    ),
    st.dictionaries(st.text(max_size=3), score_values, max_size=2),
)


def expected_row(score: dict[str, Any]) -> dict[str, Any]:
    """What one evaluation's row should hold, computed the slow, obvious way."""

    def number(value: Any) -> float:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan

    out = {
        "overall": number(score.get("overall")),
        "band": score.get("band") if isinstance(score.get("band"), str) else None,
    }
    out["critical_failed"] = score.get("critical_failed") is True
    failures = score.get("critical_failures")
    out["critical_failures"] = ",".join(map(str, failures)) if isinstance(failures, list) else ""
    for key, section in (score.get("sections") or {}).items():
        if isinstance(section, dict) and not math.isnan(number(section.get("score"))):
            out[f"section.{key}"] = out[f"behaviour.{section['behaviour']}"] = number(section["score"])
    for key, result in (score.get("criteria") or {}).items():
        passed = result.get("passed") if isinstance(result, dict) else None
        out[f"passed.{key}"] = {True: 1, False: 0}.get(passed, -1) if isinstance(passed, bool) else -1
        fraction = number(result.get("fraction")) if isinstance(result, dict) else math.nan
        out[f"fraction.{key}"] = float(np.float32(fraction))  # kept as float32
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(scores, min_size=1, max_size=4))
def test_any_score_snapshot_gives_the_obvious_row(snapshots: list[dict[str, Any]]) -> None:
    """Well-formed snapshots take the fast typed path, odd ones the lenient one: same columns."""
    docs = {}
    for score in snapshots:
        doc = Evaluation.model_validate(evaluation(score=score)).model_dump(mode="json")
        docs[doc["id"]] = doc
    frame = to_frame(evaluation_block(orjson.dumps({"evaluations": docs}))[0])
    for i, score in enumerate(snapshots):
        row = frame.iloc[i]
        for name, value in expected_row(score).items():
            got = row[name] if name in row.index else (-1 if name.startswith("passed.") else math.nan)
            if name.startswith("fraction.") and name in row.index:
                got = float(got)
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got), name
            elif value is None:
                assert pd.isna(got), name
            else:
                assert got == value, name
        for name in frame.columns:
            if name.startswith(("section.", "behaviour.")) and name not in expected_row(score):
                assert math.isnan(row[name]), name
            if name.startswith("passed.") and name not in expected_row(score):
                assert row[name] == -1, name


def test_evaluation_frame_of_records_matches_the_store(store: Store) -> None:
    for n in range(3):
        store.submit_evaluation(evaluation(f"emp-00{n + 1}", score=snapshot(60.0 + n, [True, None])))
    records = sorted(store.iter_evaluations(), key=lambda e: e.started_at)
    texts = ["comments", "debrief"]  # compared as JSON objects in the free-text test
    pd.testing.assert_frame_equal(evaluation_frame(records).drop(columns=texts), store.evaluation_rows(criteria=True))


def test_views_kept_beside_their_files_serve_a_new_process_and_follow_changes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(data)
    ev = store.submit_evaluation(evaluation(score=snapshot(70.0, [True])))
    store.add_interactions([interaction(1)])
    year = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    rows, frame = store.evaluation_rows(criteria=True), store.interaction_frame(*year)
    store.close()
    views = sorted(p.name for p in data.rglob(".*.arrow"))
    assert (
        views
        == [
            ".e" + views[0][2:4] + ".evaluation-rows.v4.arrow",
            ".evaluation-rows.v4.arrow",  # the month's files combined, in the month's folder
            ".i" + views[2][2:4] + ".interaction-rows.v2.arrow",
        ]
    )

    for view in data.rglob(".*.arrow"):  # Arrow's buffers stay aligned in the mapped file
        assert len(view.read_bytes().partition(b"\n")[0]) % 64 == 63, view

    def fresh() -> Store:
        return Store(data.resolve(), storage="durable", clock=Clock(), cache_mb=64, lock_timeout=5,
                     backup_every=None, keep_backups=7)  # fmt: skip

    again = fresh()  # a new process: reads the views from disk
    pd.testing.assert_frame_equal(again.evaluation_rows(criteria=True), rows)
    pd.testing.assert_frame_equal(again.interaction_frame(*year), frame)
    again.update_evaluation(ev.id, {"status": "approved"}, by="lea", action="approve")  # the view is stale now
    again.close()
    for view in [*data.rglob(".i*.arrow"), *data.rglob(".evaluation-rows.v4.arrow")]:  # a damaged view is rebuilt
        content = view.read_bytes()
        view.write_bytes(content[: content.index(b"\n") + 1] + b"garbage")
    last = fresh()
    assert last.evaluation_rows()["status"].tolist() == ["approved"]
    pd.testing.assert_frame_equal(last.interaction_frame(*year), frame)
    backup = last.backup()
    assert not list(backup.rglob(".*.arrow"))  # caches are not backed up
    last.close()

    # Views in an older format are deleted when the current format is written beside them.
    month = next(data.rglob(".evaluation-rows.v4.arrow")).parent
    file_view = next(month.glob(".e*.evaluation-rows.v4.arrow"))
    older = [month / ".evaluation-rows.v3.arrow", month / file_view.name.replace(".v4.", ".v2.")]
    for path in older:
        path.write_bytes(b"an older format")
    unrelated = month / ".evaluation-rows.v9.arrow"  # a newer format (another version of the program)
    unrelated.write_bytes(b"newer")
    again = fresh()
    again.update_evaluation(ev.id, {"status": "disputed"}, by="lea", action="dispute")
    again.evaluation_rows()
    again.close()
    assert not any(path.exists() for path in older) and unrelated.exists()


def test_rows_are_in_time_order_even_when_months_overlap_in_utc(store: Store) -> None:
    """Months are folders by each evaluation's own offset: a June evening in Montréal comes after
    a July night in Paris. Rows come in UTC order whatever the folders say."""
    late_june = store.submit_evaluation(
        evaluation("emp-001", started_at=datetime(2025, 6, 30, 23, 30, tzinfo=timezone(timedelta(hours=-5))))
    )
    early_july = store.submit_evaluation(
        evaluation("emp-002", started_at=datetime(2025, 7, 1, 1, 0, tzinfo=PARIS_SUMMER))
    )
    rows = store.evaluation_rows()
    assert list(rows["month"]) == ["2025-07", "2025-06"]
    assert list(rows["id"]) == [early_july.id, late_june.id]
    assert rows["started_at"].is_monotonic_increasing


DAMAGE = """
import struct
import sys
from pathlib import Path
from qa.store import Store

data, how = Path(sys.argv[1]), sys.argv[2]
view = next(data.rglob(".evaluation-rows.v4.arrow"))
line, _, payload = view.read_bytes().partition(b"\\n")
if how == "offsets":  # the ids' offsets (ids of 9 characters) made to point far past the file
    offsets = struct.pack("<4q", 0, 9, 18, 27)
    assert offsets in payload  # the first such buffer is the ids' (the first column)
    payload = payload.replace(offsets, struct.pack("<4q", 0, 9, 18, 1 << 40), 1)
else:  # a damaged footer (pyarrow says OSError)
    payload = payload[:-12] + bytes(b ^ 0xFF for b in payload[-12:-10]) + payload[-10:]
view.write_bytes(line + b"\\n" + payload)
with Store.open(data, backup_every=None) as store:
    print(",".join(store.evaluation_rows()["id"]))
"""


@pytest.mark.parametrize("how", ["offsets", "footer"])
def test_a_damaged_view_is_built_again_not_trusted(tmp_path: Path, how: str) -> None:
    """Views are caches: a damaged one is rebuilt from the files, never read past its end (a
    mapped file read past its end ends the process with a bus error)."""
    import subprocess
    import sys

    data = tmp_path / "data"
    store = open_store(data)
    ids = [store.submit_evaluation(evaluation(f"emp-00{n + 1}")).id for n in range(3)]
    assert list(store.evaluation_rows()["id"]) == ids  # writes the views
    store.close()
    done = subprocess.run([sys.executable, "-c", DAMAGE, str(data), how], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ",".join(ids)


def test_only_the_month_views_stay_mapped(tmp_path: Path) -> None:
    """A mapping holds a file descriptor while its table lives: the per-file views, read when a
    month's combined view is rebuilt, are read into memory (64 a month would exhaust the limit)."""
    import os

    from tests.store_support import employee

    data = tmp_path / "data"
    store = open_store(data)
    store.upsert_employees([employee(n) for n in range(4, 40)])
    for n in range(1, 40):
        store.submit_evaluation(evaluation(f"emp-{n:03d}"))
    assert len(store.evaluation_rows()) == 39
    store.close()
    files = [p for p in data.rglob("e*.json") if p.parent.name[:2] == "20"]
    assert len(files) >= 10, "the evaluations spread over many files of the month"
    for view in data.rglob(".evaluation-rows.v4.arrow"):
        view.unlink()  # the month's view is stale: rebuilt from the per-file views
    again = Store.open(data, backup_every=None)
    before = len(os.listdir("/proc/self/fd"))
    rows = again.evaluation_rows()
    assert len(rows) == 39 and len(os.listdir("/proc/self/fd")) - before <= 2
    again.close()
