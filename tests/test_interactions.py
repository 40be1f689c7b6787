"""Importing call logs: French CSV and Excel exports, line-numbered refusals, all or nothing, idempotent."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.auth import Actor
from qa.errors import PermissionDenied, QAError
from qa.interactions import (
    ColumnMapping,
    ImportRefused,
    guess_mapping,
    import_file,
    import_interactions,
    list_mappings,
    load_mapping,
    parse_interactions,
    read_table,
    save_mapping,
)
from qa.models import Employee
from qa.store import Store

from .conftest import FIXTURES

HEADER = "Id appel;Agent;Canal;Date;Durée (s);Enregistrement;Client"
ROWS = [
    "c1;E1;Téléphone;01/12/2026 09:30;125,5;rec/c1.wav; CLI 007 ",
    "c2;E2;Appel entrant;02/12/2026 14:05;00:02:05;;",
    "c3;E1;Tchat;15/12/2026 18:00;1 234;https://pbx.example/rec/c3;Dupont & fils",
    "c4;E3;Courriel;31/12/2026 23:59;0;;",
]
MAPPING = ColumnMapping(
    columns={
        "id": "Id appel",
        "employee_id": "Agent",
        "channel": "Canal",
        "started_at": "Date",
        "duration_seconds": "Durée (s)",
        "recording": "Enregistrement",
        "customer_ref": "Client",
    }
)
WIDE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "data", storage="durable", backup_every=None)
    s.upsert_employees([Employee(id=f"E{i}", display_name=f"Employé {i}", active=i != 3) for i in (1, 2, 3)])
    yield s
    s.close()


def write(
    tmp_path: Path,
    lines: list[str],
    *,
    encoding: str = "utf-8",
    bom: bool = False,
    name: str = "log.csv",
    newline: str = "\n",
) -> Path:
    path = tmp_path / name
    data = (newline.join(lines) + newline).encode(encoding)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


def stored(store) -> dict[str, dict]:
    return {r.id: r.model_dump(mode="json") for r in store.interactions_in(*WIDE)}


@pytest.mark.parametrize(
    ("encoding", "bom", "newline"),
    [
        pytest.param("utf-8", True, "\r\n", id="utf8-bom-crlf"),
        pytest.param("utf-8", False, "\n", id="utf8"),
        pytest.param("latin-1", False, "\r\n", id="latin1"),
        pytest.param("cp1252", False, "\n", id="windows-1252"),
    ],
)
def test_french_export_is_imported_with_every_field(store, tmp_path, encoding, bom, newline):
    path = write(tmp_path, [HEADER, *ROWS], encoding=encoding, bom=bom, newline=newline)
    report = import_file(store, path, MAPPING)
    assert (report.rows, report.added, report.already_present) == (4, 4, 0)
    rows = stored(store)
    assert rows["c1"] == {
        "id": "c1",
        "employee_id": "E1",
        "channel": "phone",
        "started_at": "2026-12-01T09:30:00+01:00",
        "duration_seconds": 126,
        "recording": "rec/c1.wav",
        "customer_ref": " CLI 007 ",
    }
    assert rows["c2"]["channel"] == "phone" and rows["c2"]["duration_seconds"] == 125
    assert rows["c2"]["recording"] is None and rows["c2"]["customer_ref"] is None
    assert rows["c3"]["channel"] == "chat" and rows["c3"]["duration_seconds"] == 1234
    assert rows["c3"]["customer_ref"] == "Dupont & fils"
    assert rows["c4"]["channel"] == "email" and rows["c4"]["started_at"] == "2026-12-31T23:59:00+01:00"


def test_the_mapping_is_guessed_from_french_headers(tmp_path):
    table = read_table(write(tmp_path, [HEADER, *ROWS]).read_bytes(), "log.csv")
    assert guess_mapping(table.frame.columns).columns == MAPPING.columns
    fixture = FIXTURES / "calls" / "telephonie_decembre.csv"
    guessed = guess_mapping(read_table(fixture.read_bytes(), fixture.name).frame.columns)
    assert set(guessed.columns) == {
        "id",
        "employee_id",
        "channel",
        "started_at",
        "duration_seconds",
        "recording",
        "customer_ref",
    }


def test_summer_time_and_iso_dates(store, tmp_path):
    path = write(tmp_path, ["id,agent,start,duration", "s1,E1,2026-07-14 10:00:00,60", "s2,E2,14/07/2026 10:00,60"])
    mapping = ColumnMapping(
        columns={"id": "id", "employee_id": "agent", "started_at": "start", "duration_seconds": "duration"},
        default_channel="phone",
    )
    import_file(store, path, mapping)
    assert {r["started_at"] for r in stored(store).values()} == {"2026-07-14T10:00:00+02:00"}


def test_importing_twice_adds_nothing(store, tmp_path):
    path = write(tmp_path, [HEADER, *ROWS])
    import_file(store, path, MAPPING)
    before = stored(store)
    again = import_file(store, path, MAPPING)
    assert (again.added, again.already_present) == (0, 4)
    assert stored(store) == before


def test_excel_workbook_with_real_dates_and_numbers(store, tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Résumé"
    sheet = book.create_sheet("Appels")
    sheet.append(["Id appel", "Agent", "Canal", "Date", "Durée (s)"])
    sheet.append(["x1", "E1", "Téléphone", datetime(2026, 12, 3, 10, 15), 95])
    sheet.append(["x2", "E2", "chat", "04/12/2026 11:00", 30.4])
    sheet.append([None, None, None, None, None])  # a blank row in the middle is skipped
    sheet.append(["x3", "E1", "mail", datetime(2026, 12, 5, 8, 0), "12,5"])
    path = tmp_path / "journal.xlsx"
    book.save(path)
    mapping = ColumnMapping(
        columns={
            k: v
            for k, v in MAPPING.columns.items()
            if k in ("id", "employee_id", "channel", "started_at", "duration_seconds")
        },
        sheet="Appels",
    )
    report = import_file(store, path, mapping)
    assert report.added == 3
    rows = stored(store)
    assert rows["x1"]["started_at"] == "2026-12-03T10:15:00+01:00" and rows["x1"]["duration_seconds"] == 95
    assert rows["x2"]["duration_seconds"] == 30 and rows["x3"]["channel"] == "email"
    with pytest.raises(ImportRefused, match=r"no sheet 'Feuil1' \(sheets: Résumé, Appels\)"):
        import_file(store, path, mapping.model_copy(update={"sheet": "Feuil1"}))


def test_excel_errors_name_the_sheet_row(store, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["Id appel", "Agent", "Canal", "Date", "Durée (s)"])
    book.active.append(["x1", "E1", "Téléphone", "32/12/2026 10:00", 95])
    path = tmp_path / "journal.xlsx"
    book.save(path)
    with pytest.raises(ImportRefused) as refused:
        import_file(
            store,
            path,
            ColumnMapping(
                columns={
                    k: v
                    for k, v in MAPPING.columns.items()
                    if k in ("id", "employee_id", "channel", "started_at", "duration_seconds")
                }
            ),
        )
    assert str(refused.value).splitlines()[1] == (
        f"{path}:2:4: cannot read the date '32/12/2026 10:00' (expected dd/mm/yyyy hh:mm)"
    )


BAD_CASES = [
    pytest.param(
        [HEADER.replace("Date", "Quand"), *ROWS],
        "utf-8",
        r"log\.csv:1: missing column 'Date' for "
        r"'started_at' \(columns found: Id appel, Agent, Canal, Quand,",
        id="missing-column",
    ),
    pytest.param(
        [HEADER, ROWS[0], "c2;E2;Téléphone;2026-31-12 10:00;12;;"],
        "utf-8",
        r"log\.csv:3:4: cannot read the date '2026-31-12 10:00'",
        id="bad-date",
    ),
    pytest.param(
        [HEADER, ROWS[0], ROWS[1], "c3;E1;chat;03/12/2026 10:00;douze;;"],
        "utf-8",
        r"log\.csv:4:5: cannot read the duration 'douze'",
        id="bad-number",
    ),
    pytest.param(
        [HEADER, ROWS[0], "c9;E1;chat;03/12/2026 10:00;-5;;"],
        "utf-8",
        r"log\.csv:3:5: negative duration '-5'",
        id="negative-number",
    ),
    pytest.param(
        [HEADER, *ROWS, ROWS[0].replace("09:30", "10:30")],
        "utf-8",
        r"log\.csv:6:1: duplicate interaction id 'c1' \(first on line 2\)",
        id="duplicate-id",
    ),
    pytest.param(
        [HEADER, ROWS[0], "c2;E2;fax;02/12/2026 14:05;3;;"],
        "utf-8",
        r"log\.csv:3:3: unknown channel 'fax'",
        id="unknown-channel",
    ),
    pytest.param(
        [HEADER, ROWS[0], "c 2;E2;chat;02/12/2026 14:05;3;;"],
        "utf-8",
        r"log\.csv:3:1: invalid interaction id 'c 2'",
        id="bad-id",
    ),
    pytest.param(
        [HEADER, ROWS[0], ";E2;chat;02/12/2026 14:05;3;;"],
        "utf-8",
        r"log\.csv:3:1: missing interaction id",
        id="missing-id",
    ),
    pytest.param(
        [HEADER, ROWS[0], "c2;E2;chat;02/12/2026 14:05;3;;;extra"],
        "utf-8",
        r"log\.csv:3: expected 7 fields, found 8",
        id="field-count",
    ),
    pytest.param([HEADER, *ROWS], "utf-16", r"log\.csv:1: this is not a UTF-8 or Latin-1 text file", id="utf-16"),
    pytest.param([HEADER], "utf-8", r"log\.csv:2: no interactions after the header line", id="header-only"),
    pytest.param(
        [HEADER, *ROWS[:2], "c5;E9;chat;02/12/2026 14:05;3;;"],
        "utf-8",
        r"log\.csv:4:2: unknown employee 'E9' \(not in the roster",
        id="unknown-employee",
    ),
]


@pytest.mark.parametrize(("lines", "encoding", "message"), BAD_CASES)
def test_each_malformed_file_is_refused_with_its_line_and_the_store_is_unchanged(
    store, tmp_path, lines, encoding, message
):
    import_file(
        store,
        write(tmp_path, ["id;agent;start;d", "ok1;E1;01/11/2026 10:00;60"], name="first.csv"),
        ColumnMapping(
            columns={"id": "id", "employee_id": "agent", "started_at": "start", "duration_seconds": "d"},
            default_channel="phone",
        ),
    )
    before, employees = stored(store), store.list_employees()
    with pytest.raises(ImportRefused, match=message) as refused:
        import_file(store, write(tmp_path, lines, encoding=encoding), MAPPING)
    assert refused.value.problems, "every refusal lists its problems"
    assert "nothing was imported" in str(refused.value)
    assert stored(store) == before
    assert store.list_employees() == employees  # unknown employees are reported, never invented


@pytest.mark.parametrize("content", [b"", b"   \r\n\r\n"], ids=["zero-bytes", "blank"])
def test_empty_file(store, tmp_path, content):
    path = tmp_path / "log.csv"
    path.write_bytes(content)
    with pytest.raises(ImportRefused, match=r"log\.csv:1: the file is empty"):
        import_file(store, path, MAPPING)
    assert stored(store) == {}


def test_a_forced_encoding_that_does_not_fit_names_the_line(store, tmp_path):
    path = write(tmp_path, [HEADER, *ROWS], encoding="latin-1")
    with pytest.raises(ImportRefused, match=r"log\.csv:1: byte 0xe9 is not valid utf-8 text: wrong encoding"):
        import_file(store, path, MAPPING.model_copy(update={"encoding": "utf-8"}))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(
        codecs.BOM_UTF8
        + "\n".join([HEADER, ROWS[0], "c2;E2;Tchat;02/12/2026 14:05;3;;"])
        .encode("utf-8")
        .replace(b"Tchat", b"T\xe9chat")
    )
    with pytest.raises(ImportRefused, match=r"bom\.csv:3: byte 0xe9 is not valid utf-8 text"):
        import_file(store, bom, MAPPING)


def test_every_bad_row_is_reported_not_only_the_first(store, tmp_path):
    lines = [HEADER, "b1;E1;chat;99/12/2026 10:00;x;;", ROWS[0], "b2;E2;chat;01/12/2026;-1;;", "b3;;chat;;1;;"]
    with pytest.raises(ImportRefused) as refused:
        import_file(store, write(tmp_path, lines), MAPPING)
    found = [(p.line, p.code) for p in refused.value.problems]
    assert found == [
        (2, "bad_date"),
        (2, "bad_duration"),
        (4, "negative_duration"),
        (5, "missing_employee_id"),
        (5, "missing_started_at"),
    ]
    assert (
        refused.value.problems[0].message("fr")
        == "date illisible « 99/12/2026 10:00 » (format attendu jj/mm/aaaa hh:mm)"
    )


def test_quoted_line_breaks_keep_line_numbers_right(store, tmp_path):
    lines = [HEADER, 'c1;E1;chat;01/12/2026 10:00;5;;"note\non two lines"', "c2;E2;chat;bad;5;;"]
    with pytest.raises(ImportRefused, match=r"log\.csv:4:4: cannot read the date 'bad'"):
        import_file(store, write(tmp_path, lines), MAPPING)


def test_blank_lines_are_skipped_and_keep_line_numbers_right(store, tmp_path):
    lines = [HEADER, ROWS[0], "", ";;;;;;", ROWS[1], "c9;E2;chat;demain;5;;", ""]
    with pytest.raises(ImportRefused, match=r"log\.csv:6:4: cannot read the date 'demain'"):
        import_file(store, write(tmp_path, lines), MAPPING)
    assert import_file(store, write(tmp_path, lines[:5]), MAPPING).added == 2


def test_unknown_employees_can_be_skipped_and_are_listed(store, tmp_path):
    lines = [HEADER, *ROWS, "c5;E9;chat;02/12/2026 14:05;3;;", "c6;E9;chat;02/12/2026 15:05;3;;"]
    report = import_file(store, write(tmp_path, lines), MAPPING, skip_unknown_employees=True)
    assert (report.added, report.skipped_rows, report.unknown_employees) == (4, 2, {"E9": [6, 7]})
    assert "c5" not in stored(store)
    assert [e.id for e in store.list_employees()] == ["E1", "E2", "E3"]


def test_only_those_allowed_to_sample_may_import(store, tmp_path):
    path = write(tmp_path, [HEADER, *ROWS])
    with pytest.raises(PermissionDenied):
        import_interactions(store, path.read_bytes(), "log.csv", MAPPING, actor=Actor("mystery1", "shopper"))
    assert stored(store) == {}
    report = import_interactions(store, path.read_bytes(), "log.csv", MAPPING, actor=Actor("lead", "qa_lead"))
    assert report.added == 4


def test_mappings_are_saved_atomically_and_reused(tmp_path):
    folder = tmp_path / "data"
    path = save_mapping(folder, "pbx-lyon", MAPPING.model_copy(update={"channels": {"Standard": "phone"}}))
    assert path == folder / "mappings" / "pbx-lyon.json"
    assert list_mappings(folder) == ["pbx-lyon"]
    assert [p.name for p in path.parent.iterdir()] == ["pbx-lyon.json"]  # no temporary file left behind
    assert load_mapping(folder, "pbx-lyon").channels == {"Standard": "phone"}
    with pytest.raises(QAError, match="no saved column mapping 'other' \\(saved: pbx-lyon\\)"):
        load_mapping(folder, "other")
    with pytest.raises(QAError, match="invalid mapping name"):
        save_mapping(folder, "../escape", MAPPING)


def test_a_mapping_with_an_unknown_field_or_zone_is_refused():
    with pytest.raises(ValueError, match="unknown field"):
        ColumnMapping(columns={"caller": "Appelant"})
    with pytest.raises(ValueError, match="unknown time zone"):
        ColumnMapping(columns={}, timezone="Europe/Lyon")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,12}", fullmatch=True),
            st.sampled_from(["E1", "E2"]),
            st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
            st.integers(min_value=0, max_value=100_000),
            st.text(
                alphabet=st.characters(codec="latin-1", exclude_characters='\r\n";', exclude_categories=["Cc"]),
                max_size=12,
            ),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda row: row[0],
    )
)
def test_property_values_written_the_french_way_are_read_back(tmp_path, rows):
    lines = [HEADER]
    for ident, emp, start, seconds, customer in rows:
        start = start.replace(second=0, microsecond=0)
        duration = f"{seconds // 10},{seconds % 10}" if seconds % 2 else str(seconds // 10)
        lines.append(f"{ident};{emp};Téléphone;{start:%d/%m/%Y %H:%M};{duration};;{customer}")
    path = write(tmp_path, lines, encoding="latin-1")
    records = parse_interactions(read_table(path.read_bytes(), "p.csv"), MAPPING)
    for record, (ident, emp, start, seconds, customer) in zip(records, rows, strict=True):
        assert (record.id, record.employee_id, record.channel) == (ident, emp, "phone")
        assert record.started_at.replace(tzinfo=None) == start.replace(second=0, microsecond=0)
        assert record.started_at.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
        exact = seconds / 10 if seconds % 2 else seconds // 10
        assert record.duration_seconds == round(exact)
        assert record.customer_ref == (customer if customer.strip() else None)
