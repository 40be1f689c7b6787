"""The dashboard and calibration pages in Streamlit's AppTest: charts, filters, blind answers, disputes."""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from qa import calibration as cal
from qa.auth import Actor, hash_password
from qa.demo import demo_records
from qa.models import User
from qa.store import Store

from .calibration_world import mini
from .conftest import ROOT

PASSWORD = "correct horse battery"  # noqa: S105 - a test user in a temporary folder


@pytest.fixture(autouse=True)
def _restore_main_module():
    """AppTest leaves its script as sys.modules["__main__"]; a later forkserver/spawn process would
    then re-run that page on start-up (tests/test_store_durability.py did). Put the real one back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dashboard") / "data"
    demo = demo_records(12, 400, seed=3, today=date(2025, 6, 15))
    store = Store.open(folder)
    store.upsert_employees(demo.employees)
    for loaded in demo.scorecards.values():
        store.remember_scorecard(loaded.id, loaded.version, loaded.card.model_dump(mode="json"))
    store.add_interactions(demo.interactions)
    store.import_evaluations(demo.evaluations, by="demo")
    now = datetime(2025, 6, 1, tzinfo=UTC)
    for name, role in (("lea", "qa_lead"), ("sam", "shopper"), ("kim", "qa_lead"), ("max", "qa_lead")):
        store.add_user(
            User(name=name, display_name=name.title(), role=role, password_hash=hash_password(PASSWORD), created_at=now)
        )
    store.close()
    return folder


def signed_in(monkeypatch, data_dir, name: str, page: str = "dashboard") -> AppTest:
    monkeypatch.setenv("QA_DATA_DIR", str(data_dir))
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=30).run()
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(PASSWORD)
    at.button[0].click()  # the sign-in form's submit button, the only button before signing in
    return at.run()


def test_a_qa_lead_sees_every_chart_with_its_data_downloadable(monkeypatch, data_dir):
    at = signed_in(monkeypatch, data_dir, "lea")
    assert not at.exception
    assert [tab.label for tab in at.tabs] == [
        "Répartition",
        "Comportements",
        "Tendances",
        "Priorités de coaching",
        "Échantillon",
        "Dérive des évaluateurs",
    ]
    assert any("évaluation(s) retenue(s)" in text.value for text in at.text)
    downloads = at.get("download_button")
    assert {d.proto.label for d in downloads} == {"Télécharger les données (CSV)"}
    assert len(downloads) >= 5
    charts = at.get("plotly_chart")
    assert len(charts) >= 4


def test_filters_change_the_selection(monkeypatch, data_dir):
    at = signed_in(monkeypatch, data_dir, "lea")
    before = next(text.value for text in at.text if "retenue" in text.value)
    at.multiselect(key="dash_channel").set_value(["phone"]).run()
    assert not at.exception
    after = next(text.value for text in at.text if "retenue" in text.value)
    assert int(after.split()[0]) < int(before.split()[0])
    at.radio(key="dash_by").set_value("site").run()
    at.radio(key="dash_granularity").set_value("week").run()
    at.checkbox(key="dash_submitted").check().run()
    assert not at.exception


def test_the_site_filter_narrows_the_coaching_priorities_and_their_csv(monkeypatch, data_dir):
    """Only the chosen site's employees remain, in the table and in the CSV a lead downloads,
    each with the number of approved evaluations the store holds for them."""
    made: dict[str, object] = {}
    real_add = MediaFileManager.add_deferred

    def remember(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable  # the real download still gets registered below
        return real_add(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", remember)
    at = signed_in(monkeypatch, data_dir, "lea")
    store = Store.open(data_dir)
    try:
        site_of = {e.id: e.site for e in store.list_employees(active_only=False)}
        counts = Counter(
            ev.employee_id for ev in store.iter_evaluations(status="approved") if ev.score.get("overall") is not None
        )
    finally:
        store.close()
    sites = sorted({site_of[e] for e in counts})
    assert len(sites) >= 2
    chosen = sites[0]
    expected = {e: n for e, n in counts.items() if site_of[e] == chosen}

    at.multiselect(key="dash_site").set_value([chosen]).run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "Évaluations nécessaires" in df.value.columns)
    assert set(table["Site"]) == {chosen}
    assert dict(zip(table["Collaborateur"], table["Nb"], strict=True)) == expected
    for row in table.itertuples(index=False):
        needed = row[table.columns.get_loc("Évaluations nécessaires")]
        assert needed == "—" if row.Concluant else int(needed) > row.Nb  # "—": nothing more needed

    rows = list(csv.DictReader(io.StringIO(made["coaching_priorities.csv"]().decode("utf-8-sig"))))
    assert {r["site"] for r in rows} == {chosen}
    assert {r["employee_id"]: int(r["n"]) for r in rows} == expected
    for row in rows:
        if row["conclusive"] == "True":
            assert row["needed"] == ""
        else:
            assert int(row["needed"]) > int(row["n"])  # what is still missing, in total


def test_a_shopper_is_refused(monkeypatch, data_dir):
    at = signed_in(monkeypatch, data_dir, "sam")
    assert not at.exception
    assert at.error and not at.tabs


# --- the calibration page ------------------------------------------------------------------------


def interactions(data_dir, count: int) -> list[str]:
    store = Store.open(data_dir)
    try:
        return [ev.interaction_id for ev in store.iter_evaluations() if ev.interaction_id][:count]
    finally:
        store.close()


@pytest.fixture
def book(data_dir):
    """The calibration table of the pages' store (the same instance as the app's, in this process)."""
    store = Store.open(data_dir)
    yield cal.CalibrationBook.of(store)
    store.close()


def test_an_evaluator_answers_blind_and_the_lead_reads_the_report(monkeypatch, data_dir, book):
    lead = Actor("lea", "qa_lead")
    units = interactions(data_dir, 2)
    session = cal.create_session(book, lead, mini(), units, ["kim", "max"], session_id="page-1")
    cal.submit_answers(
        book, Actor("max", "qa_lead"), session.id, units[0], {"greet": "yes", "thanks": "no", "quality": 2, "steps": 1}
    )

    at = signed_in(monkeypatch, data_dir, "kim", "calibration")
    assert not at.exception
    for cid, value in (("greet", "yes"), ("thanks", "yes"), ("quality", 5), ("steps", 3)):
        at.radio(key=f"cal_page-1_{units[0]}_{cid}").set_value(value)
    at.button(key=f"FormSubmitter:cal_form_{units[0]}-Enregistrer mes réponses").click().run()
    assert not at.exception and at.success
    assert cal.answers_of(book, Actor("kim", "qa_lead"), "page-1", "kim")[units[0]]["quality"] == 5
    assert [r.value for r in at.radio if r.key and r.key.startswith("cal_page-1")] == ["yes", "yes", 5, 3] + [None] * 4
    # max's answers (no, 2, 1) are nowhere on kim's page while the session is open
    assert not any(r.value in ("no", 2, 1) for r in at.radio if r.key and r.key.startswith("cal_page-1"))

    at = signed_in(monkeypatch, data_dir, "lea", "calibration")
    assert not at.exception
    at.selectbox(key="cal_session").set_value("page-1").run()
    assert any("masquées" in c.value for c in at.caption)
    at.button(key="cal_close").click().run()
    assert not at.exception
    assert at.metric[0].label == "Alpha de Krippendorff de la session"
    assert len(at.dataframe) >= 2


def test_a_lead_creates_a_session_from_the_page(monkeypatch, data_dir, book):
    units = interactions(data_dir, 3)
    at = signed_in(monkeypatch, data_dir, "lea", "calibration")
    at.selectbox(key="cal_new_scorecard").set_value("phone_call")
    at.text_input(key="cal_new_units").input(",".join(units))
    at.multiselect(key="cal_new_evaluators").set_value(["kim", "max", "sam"])
    at.selectbox(key="cal_new_reference").set_value("lea")
    at.button(key="FormSubmitter:cal_new-Créer la session").click().run()
    assert not at.exception
    assert at.success and "créée" in at.success[0].value
    created = [s for s in cal.list_sessions(book, Actor("lea", "qa_lead")) if s.reference_by == "lea"]
    assert [u.id for u in created[0].units] == units


def test_a_lead_records_and_confirms_a_dispute_from_the_page(monkeypatch, data_dir):
    store = Store.open(data_dir)
    try:
        target = next(ev for ev in store.iter_evaluations(status="approved") if ev.scorecard_id == "phone_call")
    finally:
        store.close()
    at = signed_in(monkeypatch, data_dir, "lea", "calibration")
    at.text_input(key="dispute_evaluation").input(target.id).run()
    criterion = next(iter(target.answers))
    at.multiselect(key="dispute_criteria").set_value([criterion])
    at.text_area(key="dispute_reason").input('=HYPERLINK("x") <script>alert(1)</script>')
    at.button(key="FormSubmitter:dispute_open-Enregistrer la contestation").click().run()
    assert not at.exception and any("retirée du site" in s.value for s in at.success)
    at.selectbox(key="dispute_chosen").set_value(target.id)
    at.radio(key="dispute_how").set_value("confirm").run()
    assert any("<script>" in text.value for text in at.text)  # shown as plain text, never as markup
    at.text_area(key="dispute_decision").input("heard on the recording")
    at.button(key="FormSubmitter:dispute_resolve-Enregistrer la décision").click().run()
    assert not at.exception and any("tranchée" in s.value for s in at.success)
    store = Store.open(data_dir)
    try:
        assert store.get_evaluation(target.id).status == "approved"
        assert [e.action for e in store.audit_log(target.id)][-2:] == ["dispute_opened", "dispute_confirmed"]
    finally:
        store.close()


def test_a_shopper_is_refused_the_calibration_page(monkeypatch, data_dir):
    at = signed_in(monkeypatch, data_dir, "sam", "calibration")
    assert not at.exception
    assert at.error and not at.tabs


def test_the_dashboard_shows_a_new_evaluation_at_the_next_rerun_without_a_reload(monkeypatch, tmp_path):
    """The page keeps its data only while the store's files are unchanged (no time-based staleness)."""
    folder = tmp_path / "data"
    demo = demo_records(6, 60, seed=5, today=date(2025, 6, 15))
    with Store.open(folder) as store:
        store.upsert_employees(demo.employees)
        for loaded in demo.scorecards.values():
            store.remember_scorecard(loaded.id, loaded.version, loaded.card.model_dump(mode="json"))
        store.add_interactions(demo.interactions)
        store.import_evaluations(demo.evaluations, by="demo")
        now = datetime(2025, 6, 1, tzinfo=UTC)
        store.add_user(
            User(name="lea", display_name="Lea", role="qa_lead", password_hash=hash_password(PASSWORD), created_at=now)
        )
    at = signed_in(monkeypatch, folder, "lea")
    assert not at.exception

    def selected() -> int:
        return int(next(text.value for text in at.text if "retenue" in text.value).split()[0])

    before = selected()
    at.run()
    assert selected() == before
    approved = next(ev for ev in demo.evaluations if ev.status == "approved")
    with Store.open(folder) as store:
        store.import_evaluations([approved.model_copy(update={"id": "new-approved-1"})], by="test")
    at.run()
    assert not at.exception
    assert selected() == before + 1
