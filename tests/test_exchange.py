"""Export (CSV safe for spreadsheets, French Excel, long format, JSON) and import back, all or nothing."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.demo import demo_records
from qa.exchange import ImportFailed, export_evaluations, import_evaluations, neutralise, restore_text, to_csv
from qa.store import Store
from qa.tabular import read_table

# Texts a spreadsheet would run as formulas, each planted in one evaluation's debrief.
DANGEROUS = {
    "equals": '=HYPERLINK("http://evil.example","clic")',
    "plus": "+33 6 12 34 56 78",
    "minus": "-2 points pour l'accueil",
    "at": "@SUM(A1:A9)",
    "tab": "\tcmd|' /C calc'!A0",
    "carriage-return": "\r=1+1",
    "quote": "'déjà cité",
}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Store:
    """A store with 60 demo evaluations, some with dangerous texts (no users: not needed here)."""
    data = demo_records(employees=10, evaluations=60, seed=11, today=date(2025, 6, 15))
    evaluations = list(data.evaluations)
    for index, text in enumerate(DANGEROUS.values()):
        ev = evaluations[index]
        evaluations[index] = ev.model_copy(update={"debrief": {**ev.debrief, "what_differently": text}})
    store = Store.open(tmp_path_factory.mktemp("source") / "data", storage="reference")
    from qa.demo import write_demo

    data.evaluations, data.users = evaluations, []
    write_demo(store, data)
    yield store
    store.close()


@pytest.fixture
def fresh(tmp_path: Path):
    with Store.open(tmp_path / "fresh", storage="reference") as store:
        yield store


def records(store: Store) -> dict:
    return {ev.id: ev for ev in store.iter_evaluations()}


@pytest.mark.parametrize("text", list(DANGEROUS.values()), ids=list(DANGEROUS))
def test_each_dangerous_prefix_is_neutralised_and_restored(source: Store, text: str) -> None:
    assert neutralise(text).startswith("'") and restore_text(neutralise(text)) == text
    rows = list(csv.DictReader(io.StringIO(export_evaluations(source, "csv").decode("utf-8"), newline="")))
    cells = [row["debrief.what_differently"] for row in rows]
    assert "'" + text in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values())


def test_safe_texts_are_left_alone() -> None:
    assert neutralise("Très bon accueil") == "Très bon accueil"
    assert neutralise("2025-06-01T10:00+02:00") == "2025-06-01T10:00+02:00"


def test_csv_has_one_row_per_evaluation_with_section_and_overall_scores(source: Store) -> None:
    frame = pd.read_csv(io.BytesIO(export_evaluations(source, "csv")))
    assert len(frame) == 60 and frame["id"].is_unique
    for column in ("overall", "band", "section.courtesy", "section.listening", "section.empathy", "section.solution"):
        assert column in frame.columns
    stored = records(source)
    for _, row in frame.iterrows():
        assert row["overall"] == pytest.approx(stored[row["id"]].score["overall"], abs=0.005)


def test_french_excel_option(source: Store) -> None:
    data = export_evaluations(source, "csv", excel_fr=True)
    assert data.startswith(b"\xef\xbb\xbf")
    header = data[3:].split(b"\r\n", 1)[0].decode("utf-8")
    assert header.startswith("id;status;scorecard_id;")
    assert "," not in header
    frame = pd.read_csv(io.BytesIO(data), sep=";", decimal=",", encoding="utf-8-sig")
    assert frame.columns[0] == "id" and len(frame) == 60
    assert frame["overall"].dtype == float
    stored = records(source)
    for _, row in frame.iterrows():
        assert row["overall"] == pytest.approx(stored[row["id"]].score["overall"], abs=0.005)
    assert any("," in line.split(";")[14] for line in data.decode("utf-8-sig").splitlines()[1:])


def test_long_format_has_one_row_per_answer(source: Store) -> None:
    frame = pd.read_csv(io.BytesIO(export_evaluations(source, "csv", long=True)), keep_default_na=False)
    stored = records(source)
    assert len(frame) == sum(len(ev.answers) for ev in stored.values())
    row = frame.iloc[0]
    ev = stored[row["evaluation_id"]]
    assert str(ev.answers[row["criterion"]]) == str(row["answer"])
    assert {"section", "behaviour", "criterion", "answer", "passed", "weight", "comment"} <= set(frame.columns)
    long_json = json.loads(export_evaluations(source, "json", long=True))
    assert len(long_json["answers"]) == len(frame)


@pytest.mark.parametrize(
    ("fmt", "excel_fr"),
    [pytest.param("json", False, id="json"), pytest.param("csv", False, id="csv"),
     pytest.param("csv", True, id="csv-excel-fr")],
)  # fmt: skip
def test_export_import_round_trips_exactly_into_a_fresh_store(source: Store, fresh: Store, tmp_path: Path,
                                                              fmt: str, excel_fr: bool) -> None:  # fmt: skip
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(export_evaluations(source, fmt, excel_fr=excel_fr))
    report = import_evaluations(fresh, path)
    assert (report.imported, report.already_present, report.employees_added) == (60, 0, 10)
    assert records(fresh) == records(source)
    assert [ev.model_dump(mode="json") for ev in records(fresh).values()] == [
        ev.model_dump(mode="json") for ev in records(source).values()
    ]
    assert export_evaluations(fresh, fmt, excel_fr=excel_fr) == path.read_bytes()
    again = import_evaluations(fresh, path)  # importing twice adds nothing
    assert (again.imported, again.already_present) == (0, 60)


def test_invalid_csv_rows_are_named_by_line_and_nothing_is_imported(source: Store, fresh: Store,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    rows = list(csv.reader(io.StringIO(export_evaluations(source, "csv").decode("utf-8"), newline="\n")))
    header = rows[0]
    rows[4][header.index("status")] = "finished"  # line 5
    rows[7][header.index("answer.understood_need")] = "beaucoup"  # line 8
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path = tmp_path / "bad.csv"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    with pytest.raises(ImportFailed) as error:
        import_evaluations(fresh, path)
    message = str(error.value)
    assert f"{path}:5: status:" in message
    assert f"{path}:8: answer 'understood_need': 'beaucoup' is not a whole number" in message
    assert len(error.value.problems) == 2
    assert records(fresh) == {} and fresh.list_employees() == []


def test_invalid_json_items_are_named_by_line(source: Store, fresh: Store, tmp_path: Path) -> None:
    lines = export_evaluations(source, "json").decode("utf-8").split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith('{"id": "ev-'))
    item = json.loads(lines[first + 2].rstrip(","))
    item["score"]["overall"] = 99.5
    lines[first + 2] = json.dumps(item, ensure_ascii=False) + ","
    item = json.loads(lines[first + 5].rstrip(","))
    item["employee_id"] = "nobody"
    lines[first + 5] = json.dumps(item, ensure_ascii=False) + ","
    path = tmp_path / "bad.json"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ImportFailed) as error:
        import_evaluations(fresh, path)
    message = str(error.value)
    assert f"{path}:{first + 3}: the score snapshot does not match the answers (overall 99.5 in the file" in message
    assert f"{path}:{first + 6}: employee 'nobody' is not in the roster" in message
    assert records(fresh) == {}


def test_duplicates_and_conflicts_are_refused(source: Store, fresh: Store, tmp_path: Path) -> None:
    data = json.loads(export_evaluations(source, "json"))
    data["evaluations"].append(data["evaluations"][0])
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportFailed, match="is also on line 1"):
        import_evaluations(fresh, path)
    data["evaluations"].pop()
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    import_evaluations(fresh, path)
    data["evaluations"][0]["status"] = "returned" if data["evaluations"][0]["status"] != "returned" else "approved"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportFailed, match="already in the store with other content"):
        import_evaluations(fresh, path)


def test_spreadsheet_migration_without_scores_or_versions(fresh: Store, tmp_path: Path) -> None:
    """A team's own sheet: French answers, no score, no version (the current scorecard is used)."""
    from qa.scorecards import load_all

    card = load_all()["phone_call"].card
    answers = {c.id: ("oui" if c.scale.type.startswith("yes") else 3) for c in card.criteria()}
    header = ["id", "status", "scorecard_id", "channel", "evaluator", "employee_id", "employee_name", "started_at",
              "visit.scenario", "visit.duration_seconds", *(f"answer.{k}" for k in answers)]  # fmt: skip
    row = ["ev-old-1", "approved", "phone_call", "phone", "lead1", "E9", "Ana Lopez", "2024-11-05T10:00:00+01:00",
           "enquiry", "184", *answers.values()]  # fmt: skip
    path = tmp_path / "sheet.csv"
    path.write_text(";".join(header) + "\n" + ";".join(map(str, row)) + "\n", encoding="cp1252")
    report = import_evaluations(fresh, path)
    assert (report.imported, report.employees_added) == (1, 1)
    ev = fresh.get_evaluation("ev-old-1")
    assert ev.answers["identified_self"] == "yes" and ev.answers["tone_of_voice"] == 3
    assert ev.visit == {"scenario": "enquiry", "duration_seconds": 184}
    assert ev.score["complete"] is True and ev.scorecard_version == load_all()["phone_call"].version


def test_unknown_columns_are_refused_on_line_1(fresh: Store, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,scorecard_id,evaluator,employee_id,channel,started_at,score_total\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match=r"x.csv:1: unknown columns: score_total"):
        import_evaluations(fresh, path)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40),
    excel_fr=st.booleans(),
)
def test_any_text_survives_the_csv_and_is_never_a_formula(tmp_path_factory, text: str, excel_fr: bool) -> None:
    cell = neutralise(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    path = tmp_path_factory.mktemp("cell") / "one.csv"
    path.write_bytes(to_csv(["id", "text"], [["ev-1", text]], excel_fr=excel_fr))
    table = read_table(path)
    assert table.rows[0][0] == 2
    assert restore_text(table.rows[0][1][1]) == text
