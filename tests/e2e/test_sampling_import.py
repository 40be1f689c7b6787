"""Importing a call log on the Échantillonnage page in real Chromium: a QA lead uploads a French
export (`;`, dd/mm/yyyy hh:mm, Latin-1) whose headers are not recognised, maps its columns on the
page, saves the mapping, and imports; the store then holds the calls and the mapping is offered."""

from __future__ import annotations

import pytest

from qa.interactions import guess_mapping, list_mappings, load_mapping
from qa.store import Store

from ..app_world import PASSWORDS
from .conftest import CHROMIUM, TABLET, Shots, serve
from .test_field_app import expect, open_app

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium (make test installs it)"
    ),
]

HEADERS = ["Réf. contact", "Poste agent", "Support", "Horodat.", "Durée totale", "Piste audio", "N° dossier"]
ROWS = [
    ["PBX-101", "emp-jean", "Téléphone", "05/10/2026 09:15", "125", "https://pbx.example/rec/101.wav", "C-77"],
    ["PBX-102", "emp-jean", "Appel entrant", "06/10/2026 14:02", "310", "", "C-78"],
    ["PBX-103", "emp-sara", "Téléphone", "07/10/2026 17:45", "48", "https://pbx.example/rec/103.wav", ""],
]
MAPPED = {  # field -> the column the QA lead picks
    "id": "Réf. contact",
    "employee_id": "Poste agent",
    "channel": "Support",
    "started_at": "Horodat.",
    "duration_seconds": "Durée totale",
    "recording": "Piste audio",
    "customer_ref": "N° dossier",
}


def choose(page, key: str, option: str) -> None:
    """Pick `option` (exact text) in the selectbox of `key`, typing it to filter the list (the list
    can close when a rerun of the previous choice lands: then it is opened again)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.locator(f".st-key-{key} [role=combobox]")
    for _ in range(3):
        box.click()
        box.fill(option)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    expect()(box).to_have_value(option)


def test_a_qa_lead_maps_the_columns_of_an_unknown_export_saves_the_mapping_and_imports(tmp_path, browser):
    from ..app_world import populate

    data_dir = tmp_path / "data"
    store = Store.open(data_dir)
    populate(store, data_dir)
    store.close()
    csv = "\r\n".join(";".join(row) for row in [HEADERS, *ROWS]).encode("latin-1") + b"\r\n"
    assert guess_mapping(HEADERS).columns == {}  # nothing recognised: the columns must be mapped by hand

    with serve(data_dir) as url:
        context = browser.new_context(**TABLET)
        context.set_default_timeout(20_000)
        try:
            page = context.new_page()
            shot = Shots(page, "test_a_qa_lead_maps_the_columns_of_an_unknown_export")
            open_app(page, f"{url}/sampling")
            expect()(page.get_by_test_id("stForm")).to_be_visible()
            page.get_by_label("Identifiant").fill("lea")
            page.get_by_label("Mot de passe").fill(PASSWORDS["lea"])
            page.get_by_role("button", name="Se connecter").click()  # the page has a form too: wait for it
            expect()(page.get_by_role("heading", name="Échantillonnage des appels")).to_be_visible()
            page.get_by_role("tab", name="Importer des appels").click()
            page.locator(".st-key-sampling_file input[type=file]").set_input_files(
                files=[{"name": "journal-pbx.csv", "mimeType": "text/csv", "buffer": csv}]
            )
            # The file's columns are shown, read as Latin-1 with ';' (accents intact).
            expect()(page.get_by_text("3 ligne(s), colonnes : Réf. contact · Poste agent", exact=False)).to_be_visible()
            shot("uploaded", full_page=True)
            # Imported as guessed, nothing is mapped: refused, with the line and the field named.
            page.locator(".st-key-sampling_import button").click()
            refused = "journal-pbx.csv:1: la correspondance des colonnes n'indique aucune colonne pour « id »"
            expect()(page.get_by_text(refused, exact=False)).to_be_visible()
            choose(page, "sampling_sep", "« ; »")
            choose(page, "sampling_encoding", "Latin-1 (Windows-1252)")
            for field, column in MAPPED.items():
                choose(page, f"sampling_col_{field}", column)
            page.locator(".st-key-sampling_mapping_name input").fill("pbx-lyon")
            page.locator(".st-key-sampling_mapping_name input").press("Enter")
            page.locator(".st-key-sampling_save_mapping button").click()
            expect()(page.get_by_text("Correspondance « pbx-lyon » enregistrée.")).to_be_visible()
            shot("mapped-and-saved", full_page=True)
            page.locator(".st-key-sampling_import button").click()
            expect()(page.get_by_text("3 ligne(s) lues : 3 appel(s) ajoutés, 0 déjà présents.")).to_be_visible()
            shot("imported", full_page=True)
            # The saved mapping is now offered for the next imports, and fills the editor when chosen.
            choose(page, "sampling_col_customer_ref", "—")
            choose(page, "sampling_mapping", "pbx-lyon")
            for field in ("id", "customer_ref"):
                box = page.locator(f".st-key-sampling_col_{field} [role=combobox]")
                expect()(box).to_have_value(MAPPED[field])
            expect()(page.locator(".st-key-sampling_encoding [role=combobox]")).to_have_value("Latin-1 (Windows-1252)")
            shot("saved-mapping-chosen", full_page=True)
        finally:
            context.close()

    assert list_mappings(data_dir) == ["pbx-lyon"]
    saved = load_mapping(data_dir, "pbx-lyon")
    assert saved.columns == MAPPED and saved.sep == ";" and saved.encoding == "cp1252"
    store = Store.open(data_dir)
    try:
        calls = store.get_interactions(["PBX-101", "PBX-102", "PBX-103"])
    finally:
        store.close()
    assert {i: (c.employee_id, c.channel, c.duration_seconds) for i, c in calls.items()} == {
        "PBX-101": ("emp-jean", "phone", 125),
        "PBX-102": ("emp-jean", "phone", 310),
        "PBX-103": ("emp-sara", "phone", 48),
    }
    assert calls["PBX-101"].started_at.isoformat() == "2026-10-05T09:15:00+02:00"  # Paris summer time
    assert calls["PBX-101"].recording == "https://pbx.example/rec/101.wav" and calls["PBX-101"].customer_ref == "C-77"
    assert calls["PBX-102"].recording is None and calls["PBX-103"].customer_ref is None
