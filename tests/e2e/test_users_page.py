"""The Utilisateurs page in real Chromium: an admin adds a user, who signs in with the password shown once."""

from __future__ import annotations

import re

import pytest

from .conftest import CHROMIUM, TABLET
from .test_field_app import expect, open_app, sign_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium (make test installs it)"
    ),
]


def test_an_admin_adds_a_user_who_signs_in_with_the_password_shown_once(server, browser, tablet):
    page, shot = tablet
    open_app(page, server.url)
    sign_in(page, "root")
    # In the top navigation; at 820 px its last pages are under "N more".
    page.get_by_text(re.compile(r"^\d+ more$")).click()
    page.get_by_role("menuitem", name=re.compile("Utilisateurs")).click()
    expect()(page.get_by_role("heading", name="Utilisateurs")).to_be_visible()
    shot("list")
    page.get_by_label("Identifiant (lettres").fill("nina")
    page.get_by_label("Nom affiché (facultatif)").fill("Nina <b>Roy</b>")
    page.locator(".st-key-users_add_role").get_by_text("responsable qualité").click()
    page.locator(".st-key-users_add button").click()
    expect()(page.get_by_text("Utilisateur « nina » ajouté.", exact=False)).to_be_visible()
    password = page.get_by_test_id("stCode").inner_text().strip()
    assert len(password) >= 12
    shot("added", full_page=True)

    other = browser.new_context(**TABLET)
    try:
        nina = other.new_page()
        open_app(nina, server.url)
        expect()(nina.get_by_test_id("stForm")).to_be_visible()
        nina.get_by_label("Identifiant").fill("nina")
        nina.get_by_label("Mot de passe").fill(password)
        nina.get_by_role("button", name="Se connecter").click()
        expect()(nina.get_by_text("responsable qualité", exact=False).first).to_be_visible()
        # A QA lead has no Utilisateurs page, even by its address.
        nina.goto(f"{server.url}/users", wait_until="domcontentloaded")
        expect()(nina.get_by_test_id("stForm")).to_be_visible()
        nina.get_by_label("Identifiant").fill("nina")
        nina.get_by_label("Mot de passe").fill(password)
        nina.get_by_role("button", name="Se connecter").click()
        expect()(nina.get_by_role("heading", name="Utilisateurs")).to_have_count(0)
        assert nina.locator(".st-key-users_add").count() == 0
    finally:
        other.close()


def test_a_page_address_opened_first_after_a_server_start_gets_the_apps_navigation(tmp_path, browser):
    """The first visitor after a start who opens a page's address (a bookmark) gets the app's own
    navigation for their role, not Streamlit's old-style list of every file in pages/."""
    from qa.store import Store

    from ..app_world import populate
    from .conftest import Shots, serve

    data_dir = tmp_path / "data"
    store = Store.open(data_dir)
    populate(store, data_dir)
    store.close()
    with serve(data_dir) as url:
        context = browser.new_context(**TABLET)
        try:
            page = context.new_page()
            shot = Shots(page, "test_a_page_address_opened_first_after_a_server_start")
            open_app(page, f"{url}/my_evaluations")
            sign_in(page, "alice")
            expect()(page.get_by_role("heading", name="Mes évaluations")).to_be_visible()
            expect()(page.get_by_test_id("stTopNavLink")).to_have_count(3)  # Évaluer, Ma file, Mes évaluations
            assert page.get_by_test_id("stSidebarNavLink").count() == 0
            assert page.get_by_text("users", exact=True).count() == 0
            shot("first-visitor")
        finally:
            context.close()
