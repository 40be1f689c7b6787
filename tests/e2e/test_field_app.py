"""The field app in real Chromium at a tablet viewport, against a real `streamlit run` server.

A shopper signs in, fills the whole face-to-face scorecard (reloading half-way and finding the
draft), submits with a double tap, and the evaluation is in the store once; another shopper's
evaluation cannot be opened by its address; markup typed into the form is shown as text; a
server restart finds the draft with its answers and comment.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from qa.scorecards import resolve
from qa.store import Store

from ..app_world import PASSWORDS, populate
from .conftest import CHROMIUM, TABLET, Shots, serve

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium (make test installs it)"
    ),
]

SCRIPT = "<script>window.__qt_xss = 1</script><img src=x onerror='window.__qt_xss = 2'>"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)


def expect():
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def sign_in(page, name: str) -> None:
    expect()(page.get_by_test_id("stForm")).to_be_visible(timeout=20_000)
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORDS[name])
    page.get_by_role("button", name="Se connecter").click()
    expect()(page.get_by_test_id("stForm")).to_have_count(0, timeout=20_000)


def open_app(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"]')


def answer_every_criterion(page, section) -> int:
    """Tap the first option of every criterion of `section` (found by its key); returns how many."""
    for criterion in section.criteria:
        option = page.locator(f".st-key-ans_{criterion.id} [data-testid=stRadioOption]").first
        option.click()
        expect()(option).to_have_attribute("data-selected", "true")
    return len(section.criteria)


def next_step(page, heading: str) -> None:
    page.locator(".st-key-step_next button").click()
    expect()(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()


def no_sideways_scroll(page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 1024})
    page.wait_for_timeout(300)
    overflow = page.evaluate(
        "() => [document.documentElement.scrollWidth - window.innerWidth,"
        " ...[...document.querySelectorAll('[data-testid=stMain]')].map(e => e.scrollWidth - e.clientWidth)]"
    )
    page.set_viewport_size({"width": 820, "height": 1180})
    assert max(overflow) <= 0, f"horizontal scrolling at {width} px: {overflow}"


def on_screen(locator) -> None:
    """Wait until the element is what the page shows at its centre (not clipped by a container
    still opening, not covered)."""
    locator.scroll_into_view_if_needed()
    locator.page.wait_for_function(
        "e => { const r = e.getBoundingClientRect();"
        " const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        " return r.height > 0 && hit !== null && (hit === e || e.contains(hit)); }",
        arg=locator.element_handle(),
    )


TOUCH_TARGETS = {
    "radio": "[data-testid=stMain] [data-testid=stRadioOption]",
    "step": "[data-testid=stMain] [class*=st-key-goto_] button",
    "button": "[data-testid=stMain] button",
    "text box": "[data-testid=stMain] textarea",
    "guidance": "[data-testid=stMain] [data-testid=stExpander] summary",
}


def small_touch_targets(page, minimum: float = 44) -> list[str]:
    """Every visible radio option, button, text box and guidance header narrower or lower than
    `minimum` CSS pixels, described; each kind must be present (CSS locators pierce the text
    boxes' shadow roots)."""
    small = []
    for kind, selector in TOUCH_TARGETS.items():
        boxes = [b for b in (e.bounding_box() for e in page.locator(selector).filter(visible=True).all()) if b]
        assert boxes, f"no {kind} on the page to measure"
        small += [f"{kind} {b['width']:.0f}x{b['height']:.0f}" for b in boxes if min(b["width"], b["height"]) < minimum]
    return small


def test_a_shopper_scores_a_whole_visit_on_a_tablet(server, tablet):
    page, shot = tablet
    card = resolve("mystery_visit").card
    sections = [s.label.fr for s in card.sections]
    open_app(page, server.url)
    shot("sign-in")
    sign_in(page, "alice")
    start = page.get_by_role("button", name="Commencer une visite")
    expect()(start).to_be_visible()
    start.click()
    expect()(page.get_by_role("heading", name="Visite", exact=True)).to_be_visible()

    # Context: who served, where, the scenario; the two time stamps measure the wait.
    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name=re.compile("Jean Dupont")).click()
    site = page.get_by_label("Site visité *")
    site.fill("Lyon Part-Dieu")
    site.press("Enter")  # a one-line box: Enter sends the text and adds no line
    page.get_by_role("radiogroup", name="Scénario joué *").get_by_text("Demande de renseignements").click()
    # Widgets are found by their key (Streamlit marks each one's container with st-key-<key>).
    page.locator(".st-key-stamp_arrived_at button").click()
    expect()(page.locator(".st-key-unstamp_arrived_at button")).to_be_visible()
    page.locator(".st-key-stamp_greeted_at button").click()
    expect()(page.get_by_text(re.compile(r"Attente avant accueil : \d+(\.\d)? min"))).to_be_visible()
    no_sideways_scroll(page, 768)
    shot("context", full_page=True)

    answered = 0
    next_step(page, sections[0])
    answered += answer_every_criterion(page, card.sections[0])
    comment = page.locator(".st-key-cm_customer_acknowledged textarea")
    comment.fill(SCRIPT)  # sent after a pause in typing (ui.textbox), no blur needed
    assert small_touch_targets(page) == []
    no_sideways_scroll(page, 768)
    shot("courtesy", full_page=True)
    next_step(page, sections[1])
    answered += answer_every_criterion(page, card.sections[1])
    next_step(page, sections[2])
    shot("half-way")

    # A reload (or a dropped connection): sign in again and find the draft where it was.
    page.reload(wait_until="domcontentloaded")
    sign_in(page, "alice")
    expect()(page.get_by_text(re.compile("Brouillon repris"))).to_be_visible()
    expect()(page.get_by_role("heading", name=sections[2], exact=True)).to_be_visible()
    shot("resumed")
    page.locator(".st-key-goto_1 button").click()
    first = page.locator('[data-testid="stMain"] [role="radiogroup"]').first
    expect()(first.get_by_test_id("stRadioOption").first).to_have_attribute("data-selected", "true")
    expect()(page.locator(".st-key-cm_customer_acknowledged textarea")).to_have_value(SCRIPT)
    page.locator(".st-key-goto_3 button").click()
    expect()(page.get_by_role("heading", name=sections[2], exact=True)).to_be_visible()

    answered += answer_every_criterion(page, card.sections[2])
    next_step(page, sections[3])
    answered += answer_every_criterion(page, card.sections[3])
    assert answered == len(card.criteria())
    next_step(page, "Bilan")
    for n, question in enumerate(card.questions):
        box = page.get_by_label(re.compile("^" + re.escape(question.label.fr)))
        box.fill(SCRIPT if n == 0 else f"Réponse {n}")
    expect()(page.locator(".st-key-goto_5 button")).to_contain_text("check_circle")  # the debrief is saved
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": "../../ticket.png", "mimeType": "image/png", "buffer": PNG}]
    )
    expect()(page.get_by_test_id("stImage")).to_have_count(1)
    shot("debrief", full_page=True)
    next_step(page, "Envoi")
    expect()(page.get_by_text("Tout est rempli.")).to_be_visible()
    no_sideways_scroll(page, 768)
    shot("send")
    page.locator(".st-key-submit button").dblclick()  # a double tap
    expect()(page.get_by_text(re.compile(r"Évaluation envoyée : \d+ %"))).to_be_visible()
    expect()(page.locator(".st-key-new_visit button")).to_be_visible()  # back to the list, ready for the next visit
    expect()(page.locator(".st-key-submit")).to_have_count(0)
    shot("submitted")

    store = Store.open(server.data_dir)
    try:
        mine = [e for e in store.iter_evaluations() if e.evaluator == "alice"]
        assert len(mine) == 1
        (evaluation,) = mine
        assert len(evaluation.answers) == len(card.criteria()) and evaluation.employee_id == "emp-jean"
        assert evaluation.visit["site"] == "Lyon Part-Dieu" and evaluation.visit["wait_minutes"] >= 0
        assert SCRIPT in evaluation.comments.values() and evaluation.debrief["situation"] == SCRIPT
        assert evaluation.photos == [f"photos/{evaluation.id}/1.png"]
        assert (server.data_dir / evaluation.photos[0]).read_bytes() == PNG
        assert store.drafts_for("alice") == []
    finally:
        store.close()

    # What was typed as markup is shown as text, and nothing of it runs.
    page.goto(f"{server.url}/my_evaluations?id={evaluation.id}", wait_until="domcontentloaded")
    sign_in(page, "alice")
    page.get_by_text(sections[0], exact=True).first.click()  # open the courtesy answers
    courtesy = page.get_by_test_id("stExpander").filter(has=page.get_by_text(sections[0], exact=True))
    comment = courtesy.get_by_text(SCRIPT, exact=True)
    expect()(comment).to_be_visible()
    on_screen(comment)  # the expander has finished opening: the comment is what the eye sees there
    shown = page.get_by_text(SCRIPT, exact=True).filter(visible=True)
    expect()(shown).to_have_count(2)  # the comment and the debrief answer, as typed
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("() => window.__qt_xss") is None
    courtesy.evaluate("e => e.scrollIntoView({block: 'start'})")  # its heading and its comment in view
    on_screen(comment)
    shot("shown-as-text")


def test_a_shopper_cannot_open_another_shoppers_evaluation(server, tablet):
    page, shot = tablet
    open_app(page, f"{server.url}/my_evaluations?id={server.bobs_evaluation}")
    sign_in(page, "alice")
    expect()(page.get_by_text("Évaluation introuvable.")).to_be_visible()
    assert page.get_by_text("Remarque privée de Bob").count() == 0
    assert page.get_by_text("Réponse de Bob").count() == 0
    shot("refused")


def test_a_comment_typed_then_left_without_blur_is_in_the_draft(server, browser):
    """Nothing typed is lost: the text box sends its text after a pause in typing, so a tab
    closed in the middle of a comment (no blur, no Enter) finds it in the resumed draft."""
    typed = "Accueil chaleureux, <b>sourire</b> & « bonjour »"
    context = browser.new_context(**TABLET)
    page = context.new_page()
    shot = Shots(page, "test_a_comment_typed_then_left_without_blur")
    try:
        open_app(page, server.url)
        sign_in(page, "bob")
        page.locator(".st-key-new_visit button").click()
        page.locator(".st-key-goto_1 button").click()
        comment = page.locator(".st-key-cm_greeted_at_door textarea")
        expect()(comment).to_be_visible()
        comment.click()
        # Keystrokes, as a person types, with a pause half-way: the first half is sent and the
        # page reruns while the second half is being typed, which must not be lost or undone.
        half = len(typed) // 2
        comment.press_sequentially(typed[:half], delay=15)
        page.wait_for_timeout(650)
        comment.press_sequentially(typed[half:], delay=60)
        page.wait_for_timeout(1500)
        # Still in the box: no blur, no Enter has sent it.
        assert page.evaluate("() => document.activeElement.shadowRoot.activeElement.tagName") == "TEXTAREA"
        shot("typed-no-blur")
        # Already saved, before the tab goes (closing it would also send the text, best effort).
        store = Store.open(server.data_dir)
        try:
            (draft,) = store.drafts_for("bob")
            assert draft.state["comments"] == {"greeted_at_door": typed}
        finally:
            store.close()
    finally:
        context.close()  # the tab is closed mid-typing

    context = browser.new_context(**TABLET)
    page = context.new_page()
    shot = Shots(page, "test_a_comment_typed_then_left_without_blur-resumed")
    try:
        open_app(page, server.url)
        sign_in(page, "bob")
        expect()(page.get_by_text(re.compile("Brouillon repris"))).to_be_visible()
        resumed = page.locator(".st-key-cm_greeted_at_door textarea")
        expect()(resumed).to_have_value(typed)
        expect()(resumed).to_have_accessible_name(re.compile(r"^Commentaire sur le critère \d+$"))  # a real label
        shot("resumed")
    finally:
        context.close()
    store = Store.open(server.data_dir)
    try:
        (draft,) = store.drafts_for("bob")
        assert draft.state["comments"] == {"greeted_at_door": typed}
    finally:
        store.close()


def test_a_server_restart_resumes_the_draft_with_its_answers_and_comment(tmp_path, browser):
    """The draft lives in the data folder, not in the server: a new `streamlit run` over the same
    folder (a restart, a crash, a deployment) finds it with every answer and comment."""
    data_dir = tmp_path / "data"
    store = Store.open(data_dir)
    try:
        populate(store, data_dir)
    finally:
        store.close()
    card = resolve("mystery_visit").card
    section = card.sections[0]
    typed = "Sourire à l'entrée, <i>bonjour</i> & merci"
    context = browser.new_context(**TABLET)
    page = context.new_page()
    shot = Shots(page, "test_a_server_restart_resumes_the_draft")
    try:
        with serve(data_dir) as first:
            open_app(page, first)
            sign_in(page, "alice")
            page.locator(".st-key-new_visit button").click()
            page.locator(".st-key-goto_1 button").click()
            expect()(page.get_by_role("heading", name=section.label.fr, exact=True)).to_be_visible()
            answer_every_criterion(page, section)
            page.locator(".st-key-cm_greeted_at_door textarea").fill(typed)
            # Wait for what the server saved (the box sends its text after a pause in typing).
            expect()(page.locator(".st-key-goto_1 button")).to_contain_text("check_circle")
            for _ in range(50):
                store = Store.open(data_dir)
                try:
                    (saved,) = store.drafts_for("alice")
                finally:
                    store.close()
                if saved.state["comments"].get("greeted_at_door") == typed:
                    break
                page.wait_for_timeout(200)
            assert saved.state["comments"] == {"greeted_at_door": typed}
            shot("before-restart")
        with pytest.raises(OSError):  # the first server process has ended
            urllib.request.urlopen(f"{first}/_stcore/health", timeout=2)  # noqa: S310 - local server
        with serve(data_dir) as url:  # a new one over the same data folder
            open_app(page, url)
            sign_in(page, "alice")  # sessions do not outlive the server: sign in again
            expect()(page.get_by_text(re.compile("Brouillon repris"))).to_be_visible()
            expect()(page.get_by_role("heading", name=section.label.fr, exact=True)).to_be_visible()
            for criterion in section.criteria:
                option = page.locator(f".st-key-ans_{criterion.id} [data-testid=stRadioOption]").first
                expect()(option).to_have_attribute("data-selected", "true")
            expect()(page.locator(".st-key-cm_greeted_at_door textarea")).to_have_value(typed)
            shot("resumed-after-restart")
    finally:
        context.close()
    store = Store.open(data_dir)
    try:
        (draft,) = store.drafts_for("alice")
        assert draft.state["answers"] == saved.state["answers"] and len(draft.state["answers"]) == len(section.criteria)
        assert draft.state["comments"] == {"greeted_at_door": typed}
    finally:
        store.close()
