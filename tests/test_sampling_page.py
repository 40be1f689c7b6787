"""The Échantillonnage page's import in AppTest: an Excel call log whose calls are on its second
sheet, a channel word of the export ("Tél") mapped to our phone channel, both saved with the mapping
and used by the preview and the import into a real store (env QA_DATA_DIR)."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from qa.i18n import t
from qa.interactions import load_mapping
from qa.store import Store

from .app_world import app_data_folder
from .test_app import app

HEADERS = ["Ref appel", "Agent", "Support", "Horodatage", "Duree"]
CALLS = [
    ["PBX-201", "emp-jean", "Tél", "05/10/2026 09:15", 125],
    ["PBX-202", "emp-sara", "tel", "06/10/2026 14:02", 310],
]
COLUMNS = {"id": "Ref appel", "employee_id": "Agent", "channel": "Support", "started_at": "Horodatage",
           "duration_seconds": "Duree"}  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook() -> bytes:
    """Two sheets: a summary first (what the page would read without a choice), the calls second."""
    book = Workbook()
    summary = book.active
    summary.title = "Résumé"
    summary.append(["Mois", "Appels"])
    summary.append(["2026-10", 2])
    calls = book.create_sheet("Appels")
    for row in [HEADERS, *CALLS]:
        calls.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def world(tmp_path, monkeypatch):
    return app_data_folder(tmp_path, monkeypatch)


def upload(at, data: bytes):
    at.file_uploader(key="sampling_file").set_value(("journal.xlsx", data, XLSX)).run()
    assert not at.exception, at.exception
    return at


def test_an_excel_log_is_read_from_the_picked_sheet_with_its_channel_words_and_imported(world):
    at = upload(app("lea", "sampling.py"), workbook())
    sheet = at.selectbox(key="sampling_sheet")
    assert sheet.options == ["Résumé", "Appels"] and sheet.value == "Résumé"
    assert t("ui.sampling.editor.columns_found", n=1, columns="Mois · Appels") in [c.value for c in at.caption]

    sheet.set_value("Appels").run()
    assert t("ui.sampling.editor.columns_found", n=2, columns=" · ".join(HEADERS)) in [c.value for c in at.caption]
    for field, column in COLUMNS.items():
        at.selectbox(key=f"sampling_col_{field}").set_value(column)
    at.text_area(key="sampling_channel_words").input("Tél phone").run()  # no "=": refused, the line named
    assert [e.value for e in at.error] == [t("sampling.import.bad_channel_line", line=1, text="Tél phone")]
    assert "sampling_import" not in [b.key for b in at.button]  # nothing to import until the words read

    at.text_area(key="sampling_channel_words").input("Tél = phone").run()
    assert not at.error
    at.text_input(key="sampling_mapping_name").input("pbx-excel")
    at.button(key="sampling_save_mapping").click().run()
    assert at.success[0].value == t("ui.sampling.editor.saved", name="pbx-excel")
    saved = load_mapping(world, "pbx-excel")
    assert saved.sheet == "Appels" and saved.channels == {"Tél": "phone"} and saved.columns == COLUMNS

    at.button(key="sampling_import").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.success[-1].value == t("ui.sampling.imported", rows=2, added=2, present=0)
    store = Store.open(world)
    try:
        found = store.get_interactions(["PBX-201", "PBX-202"])
    finally:
        store.close()
    assert {i: (c.channel, c.employee_id) for i, c in found.items()} == {
        "PBX-201": ("phone", "emp-jean"),
        "PBX-202": ("phone", "emp-sara"),  # "tel" is the same word as "Tél" (accents and case aside)
    }


def test_a_saved_mapping_brings_back_its_sheet_and_channel_words(world):
    at = app("lea", "sampling.py")
    at.file_uploader(key="sampling_file").set_value(("journal.xlsx", workbook(), XLSX)).run()
    at.selectbox(key="sampling_sheet").set_value("Appels").run()
    for field, column in COLUMNS.items():
        at.selectbox(key=f"sampling_col_{field}").set_value(column)
    at.text_area(key="sampling_channel_words").input("Tél = Téléphone").run()
    at.text_input(key="sampling_mapping_name").input("pbx-excel")
    at.button(key="sampling_save_mapping").click().run()

    again = app("lea", "sampling.py")
    again.selectbox(key="sampling_mapping").set_value("pbx-excel").run()
    upload(again, workbook())
    assert again.selectbox(key="sampling_sheet").value == "Appels"
    assert again.text_area(key="sampling_channel_words").value == "Tél = phone"
    assert [again.selectbox(key=f"sampling_col_{f}").value for f in COLUMNS] == list(COLUMNS.values())
    assert not again.error


def test_a_csv_upload_has_no_sheet_to_pick(world):
    at = app("lea", "sampling.py")
    csv = ";".join(HEADERS) + "\n" + "\n".join(";".join(map(str, row)) for row in CALLS) + "\n"
    at.file_uploader(key="sampling_file").set_value(("journal.csv", csv.encode(), "text/csv")).run()
    assert not at.exception, at.exception
    assert "sampling_sheet" not in [s.key for s in at.selectbox]
    assert at.text_area(key="sampling_channel_words").value == ""
