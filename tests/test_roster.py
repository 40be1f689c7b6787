"""Employee roster import: English and French files, CSV and Excel, idempotent, all or nothing, never deletes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from qa.models import Evaluation
from qa.roster import RosterError, import_roster
from qa.store import Store

from .conftest import FIXTURES

ROSTERS = FIXTURES / "exchange"
EXPECTED = {
    "E100": ("Camille Martin", "Accueil", "Lyon Part-Dieu", True),
    "E101": ("Hugo Bernard", "Conseil", "Lyon Part-Dieu", True),
    "E102": ("Inès Dubois", "Caisse", "Paris Opéra", False),
}


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "data", storage="reference") as opened:
        yield opened


def employees(store) -> dict[str, tuple[str, str, str, bool]]:
    return {e.id: (e.display_name, e.team, e.site, e.active) for e in store.list_employees()}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("roster_en.csv", id="english-comma-utf8"),
        pytest.param("roster_fr_latin1.csv", id="french-semicolon-latin1-first-and-last-name"),
        pytest.param("roster_fr_bom.csv", id="french-semicolon-utf8-bom"),
    ],
)
def test_roster_files_in_english_and_french(store, name: str) -> None:
    report = import_roster(store, ROSTERS / name)
    assert (report.added, report.updated, report.deactivated) == (3, 0, 0)
    assert employees(store) == EXPECTED


def test_excel_roster(store, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Matricule", "Nom complet", "Équipe", "Magasin", "Actif"])
    sheet.append([100, "Camille Martin", "Accueil", "Lyon Part-Dieu", "oui"])
    sheet.append([None, None, None, None, None])
    sheet.append(["E101", "Hugo Bernard", "Conseil", "Lyon Part-Dieu", True])
    sheet.append(["E 102", "Inès Dubois", "Caisse", "Paris Opéra", "peut-être"])
    book.save(tmp_path / "roster.xlsx")
    with pytest.raises(RosterError) as error:
        import_roster(store, tmp_path / "roster.xlsx")
    message = str(error.value)
    assert "roster.xlsx:5: id: 'E 102' must be letters" in message
    assert "roster.xlsx:5: active: 'peut-être' is not yes/no" in message
    assert store.list_employees() == []
    sheet.delete_rows(5)
    book.save(tmp_path / "roster.xlsx")
    import_roster(store, tmp_path / "roster.xlsx")
    assert employees(store) == {"100": EXPECTED["E100"], "E101": EXPECTED["E101"]}


def test_import_is_idempotent(store) -> None:
    import_roster(store, ROSTERS / "roster_en.csv")
    report = import_roster(store, ROSTERS / "roster_fr_latin1.csv")
    assert (report.added, report.updated, report.deactivated, report.unchanged) == (0, 0, 0, 3)
    assert "0 employees added, 0 updated, 0 deactivated, 3 unchanged" in report.summary()


def test_bad_rows_are_each_named_by_line_and_nothing_is_written(store) -> None:
    with pytest.raises(RosterError) as error:
        import_roster(store, ROSTERS / "roster_bad.csv")
    lines = str(error.value).splitlines()
    assert lines[0].startswith("nothing imported from")
    problems = "\n".join(lines[1:])
    assert "roster_bad.csv:3: id: 'E 201' must be letters, digits" in problems
    assert "roster_bad.csv:4: name: missing" in problems
    assert "roster_bad.csv:5: active: 'peut-être' is not yes/no (oui/non)" in problems
    assert "roster_bad.csv:6: id 'E200' is also on line 2" in problems
    assert "roster_bad.csv:2:" not in problems
    assert store.list_employees() == []


def test_missing_columns_are_named(store, tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("nom;site\nAna;Lyon\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"r.csv:1: no id column .*columns found: nom, site"):
        import_roster(store, path)


def test_updates_keep_columns_the_file_does_not_give(store, tmp_path: Path) -> None:
    import_roster(store, ROSTERS / "roster_en.csv")
    path = tmp_path / "names.csv"
    path.write_text("id,name\nE100,Camille Martin-Roux\n", encoding="utf-8")
    report = import_roster(store, path)
    assert (report.updated, report.unchanged) == (1, 0)
    assert employees(store)["E100"] == ("Camille Martin-Roux", "Accueil", "Lyon Part-Dieu", True)
    assert employees(store)["E102"] == EXPECTED["E102"]  # absent, but the roster is not --full


def test_departed_employees_are_deactivated_never_deleted(store, tmp_path: Path) -> None:
    import_roster(store, ROSTERS / "roster_en.csv")
    store.remember_scorecard("mini", "v1", {"id": "mini"})
    evaluation = Evaluation(id="ev-1", scorecard_id="mini", scorecard_version="v1", evaluator="shopper1",
                            employee_id="E101", visit={"site": "Lyon"}, channel="face_to_face",
                            started_at=datetime(2025, 5, 2, 10, tzinfo=UTC), status="approved")  # fmt: skip
    store.import_evaluations([evaluation], by="test")
    path = tmp_path / "full.csv"
    path.write_text("id,name,team,site\nE100,Camille Martin,Accueil,Lyon Part-Dieu\n", encoding="utf-8")
    report = import_roster(store, path, full=True)
    assert (report.deactivated, report.unchanged) == (1, 1)  # E101 left; E102 was already inactive
    assert employees(store)["E101"] == ("Hugo Bernard", "Conseil", "Lyon Part-Dieu", False)
    assert [e.id for e in store.evaluations_for_employee("E101")] == ["ev-1"]
    assert len(store.list_employees()) == 3
    assert import_roster(store, path, full=True).deactivated == 0  # idempotent too


def test_a_returning_employee_is_reactivated(store) -> None:
    import_roster(store, ROSTERS / "roster_en.csv")
    path = ROSTERS / "roster_en.csv"
    text = path.read_text(encoding="utf-8").replace("Paris Opéra,no", "Paris Opéra,yes")
    other = Path(store.data_dir).parent / "back.csv"
    other.write_text(text, encoding="utf-8")
    report = import_roster(store, other)
    assert (report.updated, report.deactivated) == (1, 0)
    assert employees(store)["E102"][3] is True
