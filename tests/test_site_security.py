"""Hostile text stays text, output paths never leave the output folder, pages carry no one else's data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitegen import paths
from sitegen.build import build_site
from sitegen.privacy import MASK, Redactor
from sitegen.write import UnsafePath, remove, safe_join, write_bytes

from .site_world import (
    CUSTOMER_REF,
    EMPLOYEES,
    PHONE,
    RECORDING,
    UNAPPROVED_MARKER,
    XSS_COMMENT,
    XSS_NAME,
    World,
    make_world,
    open_store,
    soup,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    world = make_world(tmp)
    out = tmp / "site"
    report = build_site(world.store, out, workers=1)
    tokens = world.store.site_tokens()
    yield world, out, report, tokens
    world.store.close()


def every_page(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


# -- escaping ---------------------------------------------------------------------------------------


def test_a_script_in_a_comment_is_shown_as_text(built) -> None:
    _, out, _, tokens = built
    file = out / paths.employee_page(tokens["E1"], "fr")
    html = file.read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert XSS_COMMENT in soup(file).get_text()  # what the reader sees: the text itself


def test_hostile_debrief_answers_and_question_ids_are_shown_as_text(built) -> None:
    """Debrief texts and their keys reach the page through ready-made HTML (sitegen.context)."""
    _, out, _, tokens = built
    for lang in ("fr", "en"):
        file = out / paths.employee_page(tokens["E1"], lang)
        html = file.read_text()
        assert "<b>Réponse</b>" not in html and "<i>unknown_question</i>" not in html
        text = soup(file).get_text()
        assert f"<b>Réponse</b> {XSS_COMMENT}" in text
        assert "<i>unknown_question</i>" in text


def test_a_hostile_employee_name_is_shown_as_text_everywhere(built) -> None:
    _, out, _, tokens = built
    for file in every_page(out):
        html = file.read_text()
        assert "<img" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", ""), file
    own = soup(out / paths.employee_page(tokens["E3"], "fr"))
    assert XSS_NAME in own.h1.get_text()
    assert own.title.get_text().endswith(XSS_NAME)


def test_chart_data_cannot_close_its_script_element(built) -> None:
    """The team "Centre <b>d'appels</b>" is a heatmap row: escaped for Plotly (which reads a few
    HTML tags in labels, so the tags would be drawn as bold), then made safe inside the script."""
    _, out, report, _ = built
    html = (out / report.leads_page).read_text()
    assert "<b>d'appels</b>" not in html
    rows = []
    for script in soup(out / report.leads_page).find_all("script", attrs={"data-chart": True}):
        assert "<" not in script.string and ">" not in script.string and "&" not in script.string
        figure = json.loads(script.string)  # what site.js hands to Plotly
        rows += [row for trace in figure["data"] if trace["type"] == "heatmap" for row in trace["y"]]
    assert "Centre &lt;b&gt;d'appels&lt;/b&gt;" in rows  # Plotly shows it as the text typed


# -- paths ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    ["../../etc", "../x.html", "/etc/passwd", "a/../../b", "p/./x", "", "a//b", "a\\..\\b", "x\x00y", " p/x"],
)
def test_safe_join_refuses_paths_leaving_the_output_folder(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UnsafePath):
        safe_join(tmp_path, bad)
    with pytest.raises(UnsafePath):
        write_bytes(tmp_path, bad, b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_path_traversal_id_cannot_write_outside(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    for hostile in ("../../etc", "../outside"):
        with pytest.raises(UnsafePath):
            paths.employee_page(hostile, "fr")
        with pytest.raises(UnsafePath):
            write_bytes(root, f"p/{hostile}/index.html", b"x")
    assert not (tmp_path / "etc").exists() and not (tmp_path / "outside").exists()


def test_a_symlink_inside_the_output_folder_cannot_lead_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "out", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "p")
    with pytest.raises(UnsafePath):
        write_bytes(root, "p/index.html", b"x")
    assert list(outside.iterdir()) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=4))
def test_safe_join_result_is_always_inside_the_root(tmp_path_factory, parts: list[str]) -> None:
    root = tmp_path_factory.getbasetemp() / "hypothesis-root"
    root.mkdir(exist_ok=True)
    try:
        target = safe_join(root, *parts)
    except UnsafePath:
        return
    assert target.is_relative_to(root.resolve()) and target != root.resolve()


def test_writes_are_atomic_and_remove_cleans_empty_folders(tmp_path: Path) -> None:
    write_bytes(tmp_path, "p/t/index.html", b"one")
    write_bytes(tmp_path, "p/t/index.html", b"two")
    assert (tmp_path / "p/t/index.html").read_bytes() == b"two"
    assert [p.name for p in (tmp_path / "p/t").iterdir()] == ["index.html"]  # no temp file left
    assert remove(tmp_path, "p/t/index.html")
    assert not (tmp_path / "p").exists() and tmp_path.exists()


# -- privacy ----------------------------------------------------------------------------------------


def test_employee_pages_hold_no_customer_data_colleague_or_unapproved_evaluation(built) -> None:
    _, out, _, tokens = built
    names = {e["id"]: e["display_name"] for e in EMPLOYEES}
    for employee, token in tokens.items():
        for lang in paths.LANGS:
            file = out / paths.employee_page(token, lang)
            text = soup(file).get_text(" ")
            html = file.read_text()
            for other, name in names.items():
                if other != employee:
                    assert name not in text, f"{employee} page shows {other}'s name"
            assert CUSTOMER_REF not in html and RECORDING not in html
            assert PHONE not in text and "0612345678" not in text.replace(" ", "")
            assert UNAPPROVED_MARKER not in html
            for other_token in tokens.values():
                if other_token != token:
                    assert other_token not in html


def test_redacted_comments_keep_the_rest_of_the_text(built) -> None:
    _, out, _, tokens = built
    text = soup(out / paths.employee_page(tokens["E1"], "fr")).get_text(" ")
    assert f"{MASK} était en pause. Rappel au {MASK}." in text
    bruno = soup(out / paths.employee_page(tokens["E2"], "fr")).get_text(" ")
    assert f"Client {MASK} rappelé." in bruno


def test_only_approved_evaluations_are_counted(built) -> None:
    world, out, _, tokens = built
    from .test_site import cells

    rows = cells(soup(out / paths.employee_page(tokens["E1"], "fr")), "evaluations-caption")
    assert len(rows) == len(world.approved_overall("E1")) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Appelez le 06 12 34 56 78 svp", f"Appelez le {MASK} svp"),
        ("Tél. +33 6 12 34 56 78.", f"Tél. {MASK}."),
        ("mail: jean.dupont@example.com", f"mail: {MASK}"),
        ("Vu ÉLODIE durand hier", f"Vu {MASK} hier"),
        ("Alice Martin a aidé", "Alice Martin a aidé"),  # the page's own employee
        ("Note 4 sur 5 en 2025", "Note 4 sur 5 en 2025"),  # short numbers are not phone numbers
    ],
)
def test_redactor(text: str, expected: str) -> None:
    redactor = Redactor(["Élodie Durand", "Alice Martin"])
    assert redactor.clean(text, keep=["Alice Martin"]) == expected


def test_customer_reference_is_removed_whatever_its_case() -> None:
    assert Redactor().clean("ref cli-0042424 ok", [CUSTOMER_REF]) == f"ref {MASK} ok"


# -- photos -------------------------------------------------------------------------------------------


def test_photos_of_an_approved_evaluation_are_never_published(tmp_path: Path) -> None:
    """A visit's photos (receipt, shelf) stay in the data folder: the site neither links nor copies them."""
    import base64

    from qa import evaluations
    from qa.auth import Actor
    from qa.photos import add_photo, image_type
    from qa.scorecards import resolve

    # A store of its own: written by the app's own path (evaluations.submit remembers the scorecard).
    world = World(open_store(tmp_path / "data"), tmp_path / "data", {})
    world.store.upsert_employees(EMPLOYEES)
    loaded = resolve("mystery_visit")
    shopper, lead = Actor("shopper1", "shopper"), Actor("lead1", "qa_lead")
    marker = b"qt-photo-never-published-7f3a"
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + marker + b"-png"
    jpeg = b"\xff\xd8\xff\xe0" + marker + b"-jpeg"
    try:
        state = evaluations.start_visit(world.store, shopper, loaded)
        state.update(
            employee_id="E1",
            context={**state["context"], "site": "Magasin test", "scenario": "purchase"},
            answers={c.id: ("yes" if c.scale.type.startswith("yes") else c.scale.max) for c in loaded.card.criteria()},
            debrief={q.id: "Réponse" for q in loaded.card.questions},
        )
        names = [add_photo(world.data_dir, shopper, state, content) for content in (png, jpeg)]
        evaluation = evaluations.submit(world.store, shopper, loaded, state)
        evaluations.approve(world.store, lead, evaluation.id)
        (kept,) = [e for e in world.store.iter_evaluations() if e.id == evaluation.id]
        assert kept.status == "approved" and kept.photos == names  # kept with the evaluation
        assert [(world.data_dir / n).read_bytes() for n in names] == [png, jpeg]
        out = tmp_path / "site"
        build_site(world.store, out, workers=1)
        page = out / paths.employee_page(world.store.site_tokens()["E1"], "fr")
    finally:
        world.store.close()

    own_assets = {p.read_bytes() for p in (Path(paths.__file__).parent / "static").rglob("*") if p.is_file()}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert "1 évaluation(s) approuvée(s)" in soup(page).get_text()  # the evaluation itself is published
    references = [*names, *(n.split("/", 1)[1] for n in names), f"photos/{evaluation.id}"]
    for file in files:
        content = file.read_bytes()
        assert marker not in content, file  # neither copied nor inlined (base64 would hide it: see below)
        assert not any(r.encode() in content for r in references), file
        if image_type(content) is not None or file.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".heic"):
            assert content in own_assets, f"{file} is an image that is not one of the site's own assets"
    encoded = [base64.b64encode(c)[:24] for c in (png, jpeg)]
    assert not any(e in p.read_bytes() for p in files for e in encoded)


def test_a_hostile_scenario_and_failed_criterion_id_never_reach_the_evaluations_table_raw(tmp_path: Path) -> None:
    """The evaluations table is written as ready HTML (sitegen.context.table_rows): a visit's
    scenario as typed, and a failed criterion id and a band id the scorecard does not know, must
    come out as text."""
    world = make_world(tmp_path)
    try:
        doc = world.add("E2", "phone_call", scenario=XSS_COMMENT, failing=["privacy_protected"])
        doc["score"]["critical_failures"] = [*doc["score"]["critical_failures"], "<b>unknown</b>"]
        doc["score"]["band"] = "<i>band</i>"  # a band id the scorecard does not know
        doc["id"], doc["interaction_id"] = "ev-hostile", None
        doc["visit"] = {"scenario": XSS_COMMENT}
        world.store.import_evaluations([doc], by="test")
        build_site(world.store, tmp_path / "site", workers=1)
        tokens = world.store.site_tokens()
        for lang in ("fr", "en"):
            file = tmp_path / "site" / paths.employee_page(tokens["E2"], lang)
            html = file.read_text()
            assert "<script>alert(1)" not in html and "<b>unknown</b>" not in html and "<i>band</i>" not in html
            assert "&lt;b&gt;unknown&lt;/b&gt;" in html  # the unknown id, shown as text
            assert "&lt;i&gt;band&lt;/i&gt;" in html
            assert XSS_COMMENT not in soup(file).get_text()  # an unknown scenario is not shown at all
    finally:
        world.store.close()
