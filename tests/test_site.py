"""The coaching site's pages say the right numbers on the right page, in both languages."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest

from qa.i18n import t
from qa.stats import mean_interval, verdict
from sitegen import paths, wording
from sitegen.build import build_site

from .site_world import EMPLOYEES, make_world, soup


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    world = make_world(tmp)
    out = tmp / "site"
    report = build_site(world.store, out, workers=1)
    tokens = world.store.site_tokens()
    yield world, out, report, tokens
    world.store.close()


def page(out: Path, tokens: dict[str, str], employee: str, lang: str = "fr"):
    return soup(out / paths.employee_page(tokens[employee], lang))


def cells(document, table_caption_id: str) -> list[list[str]]:
    # A table's title is its <caption>, or a title outside it that names it (aria-labelledby).
    table = document.find(id=table_caption_id).find_parent("table") or document.find(
        "table", attrs={"aria-labelledby": table_caption_id}
    )
    return [[c.get_text(strip=True) for c in row.find_all(["th", "td"])] for row in table.tbody.find_all("tr")]


def test_build_writes_both_languages_for_every_active_employee(built) -> None:
    _, out, report, tokens = built
    for employee, token in tokens.items():
        for lang in paths.LANGS:
            document = soup(out / paths.employee_page(token, lang))
            assert document.html["lang"] == lang, employee
            assert document.find("meta", attrs={"name": "robots"})["content"].startswith("noindex")
    assert (out / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert (out / "robots.txt").read_text() == "User-agent: *\nDisallow: /\n"
    assert report.pages == report.written


def test_headline_is_the_mean_with_its_interval_and_band(built) -> None:
    world, out, _, tokens = built
    scores = world.approved_overall("E1")
    expected = verdict(scores, fallback_stdev=None)
    interval = mean_interval(scores)
    assert expected.conclusive, "the world gives Alice a conclusive score"
    for lang in paths.LANGS:
        headline = page(out, tokens, "E1", lang).find("section", class_="headline").get_text(" ", strip=True)
        assert wording.number(interval.mean, lang) in headline
        assert wording.number(interval.low, lang) in headline and wording.number(interval.high, lang) in headline
        assert t("site.employee.based_on", lang, n=len(scores)) in headline
    band = world.cards["mystery_visit"].card.band_for(interval.mean).label.get("fr")
    assert band in page(out, tokens, "E1").find(class_="band").get_text()


def test_too_few_evaluations_say_so_instead_of_a_score(built) -> None:
    world, out, _, tokens = built
    (single,) = world.approved_overall("E2")
    for lang in paths.LANGS:
        headline = page(out, tokens, "E2", lang).find("section", class_="headline")
        assert t("stats.not_enough", lang) in headline.get_text()
        assert headline.find(class_="score").get_text(strip=True) == t("stats.not_enough", lang)
        assert wording.number(single, lang) not in headline.get_text()


def test_no_evaluation_yet(built) -> None:
    _, out, _, tokens = built
    document = page(out, tokens, "E4")
    assert t("site.employee.no_evaluations", "fr") in document.get_text()
    assert document.find("table") is None


def test_behaviours_table_matches_the_section_scores(built) -> None:
    world, out, _, tokens = built
    approved = [e for e in world.evaluations if e["employee_id"] == "E1" and e["status"] == "approved"]
    rows = {row[0]: row for row in cells(page(out, tokens, "E1"), "behaviours-caption")}
    for behaviour in ("courtesy", "listening", "empathy", "solution"):
        values = [s["score"] for e in approved for s in e["score"]["sections"].values() if s["behaviour"] == behaviour]
        interval = mean_interval(values)
        row = rows[t(f"behaviour.{behaviour}", "fr")]
        if interval.stdev:
            assert row[1] == wording.number(interval.mean, "fr")
            assert row[2] == f"{wording.number(interval.low, 'fr')} à {wording.number(interval.high, 'fr')}"
        else:  # five identical scores: a zero-width interval proves nothing
            assert row[1] == t("site.not_enough_short", "fr")
        assert row[3] == str(len(values))
    chart = page(out, tokens, "E1").find("script", attrs={"data-chart": "chart-behaviours"})
    assert chart is not None and '"type":"bar"' in chart.string


def test_focus_areas_are_the_costliest_criteria_with_their_coaching_tip(built) -> None:
    world, out, _, tokens = built
    card = world.cards["mystery_visit"].card
    for lang in paths.LANGS:
        focus = page(out, tokens, "E1", lang).find(id="focus-title").find_parent("section")
        titles = [h.get_text(strip=True) for h in focus.find_all("h3")]
        assert 2 <= len(titles) <= 3
        # Failed in every visit and among the heaviest: first.
        assert card.criterion("solution_or_alternative").label.get(lang) in titles
        tips = focus.get_text(" ", strip=True)
        assert card.criterion("solution_or_alternative").coaching.get(lang) in tips


def test_strengths_are_criteria_passed_every_time(built) -> None:
    _, out, _, tokens = built
    strengths = page(out, tokens, "E1").find(id="strengths-title").find_parent("section")
    items = strengths.find_all("li")
    assert items, "Alice passes most courtesy criteria every time"
    for item in items:
        assert re.search(r"Réussi (\d+) fois sur \1 ", item.get_text(" ", strip=True))


def test_balanced_service_note_when_solution_lags(built) -> None:
    _, out, _, tokens = built
    for lang in paths.LANGS:
        note = page(out, tokens, "E1", lang).find(class_="balance")
        assert note is not None and t("site.employee.balance_solution", lang) in note.get_text(" ", strip=True)
    assert page(out, tokens, "E3").find(class_="balance") is None


def test_evaluation_list_shows_approved_ones_with_details(built) -> None:
    world, out, _, tokens = built
    rows = cells(page(out, tokens, "E3"), "evaluations-caption")
    approved = [e for e in world.evaluations if e["employee_id"] == "E3" and e["status"] == "approved"]
    assert len(rows) == len(approved)
    assert [r[0] for r in rows] == sorted((e["started_at"].date().isoformat() for e in approved), reverse=True)
    failed = world.cards["phone_call"].card.criterion("privacy_protected").label.get("fr")
    assert any(r[5] == failed and r[3] == "0,0" for r in rows), "the critical failure and its zero score are listed"
    assert all(r[1] == "Téléphone" and r[2] == "Demande de renseignements" for r in rows)


def test_comments_are_verbatim_and_debrief_answers_are_labelled(built) -> None:
    world, out, _, tokens = built
    text = page(out, tokens, "E1").find(id="comments-title").find_parent("section").get_text(" ", strip=True)
    assert "Aucune alternative proposée." in text
    question = world.cards["mystery_visit"].card.questions
    label = next(q for q in question if q.id == "what_differently").label.get("fr")
    assert label in text and "Proposer une alternative." in text


def test_trend_has_one_row_per_quarter(built) -> None:
    _, out, _, tokens = built
    rows = cells(page(out, tokens, "E1"), "trend-caption")
    assert [r[0] for r in rows] == ["T1 2025", "T2 2025"]
    en = cells(page(out, tokens, "E1", "en"), "trend-caption")
    assert [r[0] for r in en] == ["Q1 2025", "Q2 2025"]


def test_language_switch_links_are_relative_twins(built) -> None:
    _, out, _, tokens = built
    fr = page(out, tokens, "E1")
    link = fr.find(class_="lang-switch").a
    assert link["href"] == "en.html" and link["hreflang"] == "en"
    assert page(out, tokens, "E1", "en").find(class_="lang-switch").a["href"] == "index.html"
    for document in (fr, page(out, tokens, "E1", "en")):
        for element in document.find_all(["a", "link", "script"]):
            target = element.get("href") or element.get("src")
            if target and not target.startswith("#"):
                assert not re.match(r"^[a-z]+:|^/", target), f"{target} must be relative for file shares"


def test_pages_have_a_skip_link_ordered_headings_and_accessible_tables(built) -> None:
    out = built[1]
    for file in sorted(out.rglob("*.html")):
        document = soup(file)
        skip = document.find("a", class_="skip-link")
        assert skip is not None and document.find(id=skip["href"][1:]) is not None, file
        levels = [int(h.name[1]) for h in document.find_all(re.compile(r"^h[1-6]$"))]
        assert levels[0] == 1 and levels.count(1) == 1, file
        assert all(b - a <= 1 for a, b in pairwise(levels)), f"{file}: {levels}"
        for table in document.find_all("table"):
            # Named by its caption, or by a title outside it (one that stays put while it scrolls).
            title = table.caption or document.find(id=table.get("aria-labelledby", ""))
            assert title is not None and title.get_text(strip=True), file
            assert all(th.get("scope") in ("col", "row") for th in table.find_all("th")), file


def test_leads_pages_exist_and_are_not_linked_from_employee_pages(built) -> None:
    _, out, report, tokens = built
    index = soup(out / report.leads_page)
    teams = [a.get_text(strip=True) for a in index.find(id="teams-caption").find_parent("table").find_all("a")]
    assert teams == sorted({e["team"] for e in EMPLOYEES})
    for employee, token in tokens.items():
        for lang in paths.LANGS:
            html = (out / paths.employee_page(token, lang)).read_text()
            assert "leads/" not in html, employee
    assert paths.leads_key(tokens) in report.leads_page


def test_team_page_ranks_who_to_coach_and_lists_who_needs_more_evaluations(built) -> None:
    _, out, report, _ = built
    index = soup(out / report.leads_page)
    link = next(a for a in index.find_all("a") if a.get_text(strip=True) == "Vente")
    team = soup((out / report.leads_page).parent / link["href"])
    coaching = [r[0] for r in cells(team, "coaching-caption")]
    assert coaching == ["Alice Martin"]
    more = cells(team, "more-needed-caption")
    assert more[0][0] == "Bruno Petit" and more[0][1] == "1"
    distribution = cells(team, "distribution-caption")
    assert sum(int(r[1]) for r in distribution) == 6  # Alice's five and Bruno's one approved evaluation
    assert cells(team, "completion-caption") == [["Vente", "1", "2", "50 %"]]  # the cancelled one is left out
    teams = {r[0].split("(")[0]: r for r in cells(index, "teams-caption")}
    assert teams["Vente"][4] == "1/2 (50 %)"


def test_landing_page_lists_nothing(built) -> None:
    _, out, _, tokens = built
    html = (out / "index.html").read_text()
    assert not any(token in html for token in tokens.values())
    assert "leads/" not in html
