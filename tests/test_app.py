"""The Streamlit app in AppTest: every page for every role, sign-in, the evaluation form, review.

Widgets are found by their `key=`. The store is a real one in tmp_path (env QA_DATA_DIR); flows
use the small test scorecard (env QA_SCORECARDS_DIR) so that a whole form fits in a test.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from qa import evaluations as ev
from qa.auth import Actor
from qa.draws import run_draw
from qa.i18n import t
from qa.sampling import SamplingPlan
from qa.scorecards import load_scorecard
from qa.store import Store
from ui import session
from ui.draft import DRAFT, TEXT_LIMIT

from .app_world import CALL, PASSWORDS, ROLES, app_data_folder
from .conftest import FIXTURES, ROOT

ENTRY = str(ROOT / "streamlit_app.py")
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))


def _navigation() -> dict[str, str]:
    """Page file -> the permission the entry script lists it under (read from its PAGES table)."""
    tree = ast.parse((ROOT / "streamlit_app.py").read_text(encoding="utf-8"))
    table = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES"
    )
    return {Path(path).name: permission for path, _, _, permission in ast.literal_eval(table)}


PERMISSION = _navigation()
COMPLETE = {"greet": "yes", "thanks": "na", "quality": 4, "steps": 2}


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A data folder with users, employees and an assigned call; the real scorecards."""
    return app_data_folder(tmp_path, monkeypatch)


@pytest.fixture
def mini_world(world, tmp_path, monkeypatch):
    """The same world with only the small test scorecard in the scorecards folder."""
    cards = tmp_path / "cards"
    cards.mkdir()
    shutil.copy(FIXTURES / "mini.yaml", cards / "mini.yaml")
    monkeypatch.setenv("QA_SCORECARDS_DIR", str(cards))
    return world


def app(user: str | None = None, page: str | None = None) -> AppTest:
    """The app as `user` (signed in through a live session), optionally switched to `page`."""
    at = AppTest.from_file(ENTRY, default_timeout=30)
    if user:
        at.session_state[session.TOKEN] = session._sessions().start(Actor(user, ROLES[user]))
    at.run()
    if page:
        at.switch_page(f"pages/{page}").run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> list[str]:
    return [e.value for e in [*at.markdown, *at.text, *at.caption]]


def submitted(data: Path, actor: Actor, answers=COMPLETE, comment: str = "") -> str:
    """An evaluation written through the domain, as the form would (returns its id)."""
    store = Store.open(data)
    try:
        loaded = load_scorecard(FIXTURES / "mini.yaml")
        state = ev.start_visit(store, actor, loaded)
        state.update(employee_id="emp-jean", answers=dict(answers), comments={"greet": comment} if comment else {})
        return ev.submit(store, actor, loaded, state).id
    finally:
        store.close()


# -- every page, every role ---------------------------------------------------------------------


@pytest.mark.parametrize("role_user", ["alice", "lea", "root"], ids=["shopper", "qa_lead", "admin"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_for_every_role(world, role_user, page):
    assert page in PERMISSION, f"pages/{page} is not in the navigation of streamlit_app.py"
    actor = Actor(role_user, ROLES[role_user])
    submitted(world, Actor("bob", "shopper"))
    allowed = actor.can(PERMISSION[page])
    at = app(role_user)
    if allowed:
        at.switch_page(f"pages/{page}").run()
        assert not at.exception, at.exception
        assert t("ui.denied") not in [e.value for e in at.error]
    else:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"pages/{page}")  # not in this role's navigation
        # Opened directly (as Streamlit may run a page file), the page itself refuses.
        direct = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=30)
        direct.session_state[session.TOKEN] = session._sessions().start(actor)
        direct.run()
        assert not direct.exception, direct.exception
        assert [e.value for e in direct.error] == [t("ui.denied")]


def test_nothing_is_shown_before_sign_in(world):
    at = app()
    assert [w.key for w in at.text_input] == ["signin_name", "signin_password"]
    assert [b.label for b in at.button] == [t("ui.signin.submit")]
    assert texts(at) == []
    for page in PAGES:  # a page file run on its own shows the same sign-in form, nothing else
        direct = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=30).run()
        assert not direct.exception and [w.key for w in direct.text_input] == ["signin_name", "signin_password"]
        assert texts(direct) == [] and not direct.dataframe


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="signin_name").input(name)
    at.text_input(key="signin_password").input(password)
    return at.button[0].click().run()


def test_sign_in_wrong_then_right(world):
    at = app()
    at.switch_page("pages/evaluate.py").run()
    sign_in(at, "alice", "not her password")
    assert [e.value for e in at.error] == [t("ui.signin.wrong")]
    sign_in(at, "alice", PASSWORDS["alice"])
    assert not at.exception
    assert f"**alice** · {t('ui.role.shopper')}" in texts(at)
    at.button(key="sign_out").click().run()
    assert [w.key for w in at.text_input] == ["signin_name", "signin_password"]


def test_repeated_failed_sign_ins_are_slowed_down(world):
    at = app()
    at.switch_page("pages/evaluate.py").run()
    for _ in range(4):
        sign_in(at, "mallory", "guessing-password")
    throttled = t("ui.signin.throttled", seconds=0).split("0")
    assert at.error[0].value.startswith(throttled[0]) and at.error[0].value.endswith(throttled[1])


def test_an_expired_session_asks_to_sign_in_again(world):
    at = AppTest.from_file(ENTRY, default_timeout=30)
    at.session_state[session.TOKEN] = "a token this server never issued"
    at.run()
    assert [i.value for i in at.info] == [t("ui.signin.expired")]
    assert [w.key for w in at.text_input] == ["signin_name", "signin_password"]


# -- the evaluation form ------------------------------------------------------------------------


def start_visit(at: AppTest) -> AppTest:
    at.button(key="new_visit").click().run()
    at.selectbox(key="employee").select("emp-jean").run()
    return at


def type_into(at: AppTest, key: str, text: str) -> AppTest:
    """Type into one of the form's text boxes (ui.textbox: a custom component AppTest cannot
    drive), as its JavaScript does: the box's state becomes {"value": text}."""
    at.session_state[key] = {"value": text}
    return at


def go_to(at: AppTest, step: int) -> AppTest:
    return at.button(key=f"goto_{step}").click().run()


def current_step(at: AppTest) -> int:
    return at.session_state[DRAFT]["step"]


def test_a_whole_visit_is_scored_and_submitted(mini_world):
    at = start_visit(app("alice"))
    at.button(key="stamp_arrived_at").click().run()
    at.button(key="stamp_greeted_at").click().run()
    go_to(at, 1)
    at.radio(key="ans_greet").set_value("yes").run()
    at.radio(key="ans_thanks").set_value("na").run()
    type_into(at, "cm_greet", "Bonjour <b>franc</b>").run()
    at.button(key="step_next").click().run()
    at.radio(key="ans_quality").set_value(4).run()
    at.radio(key="ans_steps").set_value(2).run()
    assert any("82" in m for m in texts(at))  # the running score
    at.button(key="step_next").click().run()
    type_into(at, "dq_situation", "Une demande de renseignements.").run()
    at.button(key="step_next").click().run()
    assert [s.value for s in at.success] == [t("ui.form.ready")]
    at.button(key="submit").click().run()
    assert not at.exception
    assert at.success[0].value == t("ui.evaluate.submitted", score="82", band="Bien")
    store = Store.open(mini_world)
    try:
        (evaluation,) = store.iter_evaluations()
        assert evaluation.evaluator == "alice" and evaluation.answers == COMPLETE
        assert evaluation.comments == {"greet": "Bonjour <b>franc</b>"}
        assert evaluation.visit["wait_minutes"] >= 0 and "arrived_at" in evaluation.visit
        assert store.drafts_for("alice") == []
    finally:
        store.close()


def test_a_text_box_value_is_kept_in_the_draft_and_cut_to_a_bounded_size(mini_world):
    at = start_visit(app("alice"))
    go_to(at, 1)
    type_into(at, "cm_greet", "x" * 1_000_000).run()  # far beyond the box's maxlength: a crafted message
    assert at.session_state[DRAFT]["comments"]["greet"] == "x" * TEXT_LIMIT
    type_into(at, "cm_greet", "   ").run()  # blank: no comment
    assert "greet" not in at.session_state[DRAFT]["comments"]
    store = Store.open(mini_world)
    try:
        (saved,) = store.drafts_for("alice")
        assert saved.state["comments"] == {}
    finally:
        store.close()


def test_submitting_an_incomplete_form_shows_each_problem_and_clears_nothing(mini_world):
    at = start_visit(app("alice"))
    go_to(at, 1)
    at.radio(key="ans_greet").set_value("no").run()
    go_to(at, 4)
    at.button(key="submit").click().run()
    # Back to the first step with a problem (the courtesy section), the problem under its criterion.
    assert current_step(at) == 1
    assert at.radio(key="ans_greet").value == "no"
    assert [e.value for e in at.error] == [t("ui.problem.missing")]  # "thanks" is missing
    go_to(at, 2)
    assert [e.value for e in at.error] == [t("ui.problem.missing")] * 2
    assert at.session_state[DRAFT]["answers"] == {"greet": "no"}


def test_free_movement_between_steps_keeps_every_answer(mini_world):
    at = start_visit(app("alice"))
    go_to(at, 2)
    at.radio(key="ans_quality").set_value(5).run()
    go_to(at, 1)
    at.radio(key="ans_greet").set_value("yes").run()
    go_to(at, 2)
    assert at.radio(key="ans_quality").value == 5
    at.button(key="step_prev").click().run()
    assert at.radio(key="ans_greet").value == "yes"
    go_to(at, 0)
    assert at.selectbox(key="employee").value == "emp-jean"


def test_a_reload_resumes_the_draft_where_it_was(mini_world):
    at = start_visit(app("alice"))
    go_to(at, 2)
    at.radio(key="ans_quality").set_value(3).run()
    reloaded = app("alice")  # a new browser session: signs in again, finds the draft
    assert current_step(reloaded) == 2
    assert reloaded.radio(key="ans_quality").value == 3
    assert reloaded.info[0].value.startswith(t("ui.evaluate.resumed", when="")[:20])
    other = app("bob")  # nobody else's draft
    assert not other.info and other.button(key="new_visit")


def test_the_language_switch_translates_the_form(mini_world):
    at = start_visit(app("alice"))
    at.radio(key="lang_sidebar").set_value("en").run()
    assert at.button(key="goto_0").label.startswith("1. " + t("ui.step.context", "en"))
    go_to(at, 1)
    assert at.radio(key="ans_greet.en").label == "1. Greets the customer"
    assert at.radio(key="ans_greet.en").options == ["Yes", "No"]


def blocks(node):
    """Every container under `node`, depth first."""
    for child in getattr(node, "children", {}).values():
        if type(child).__name__ in ("Block", "Expander") or hasattr(child, "children"):
            yield child
            yield from blocks(child)


def test_each_criterion_has_its_guidance_one_tap_away_in_both_languages(mini_world):
    card = load_scorecard(FIXTURES / "mini.yaml").card
    at = start_visit(app("alice"))
    for lang in ("fr", "en"):
        if lang == "en":
            at.radio(key="lang_sidebar").set_value("en").run()
        for step, section in enumerate(card.sections, start=1):
            go_to(at, step)
            expanders = [e for e in at.expander if e.label == t("ui.form.guidance", lang)]
            # One per criterion, in the criterion's own bordered box, under its question.
            assert [" ".join(m.value for m in e.markdown) for e in expanders] == [
                c.guidance.get(lang) for c in section.criteria
            ]
            suffix = "" if lang == "fr" else ".en"
            boxes = [(b.radio, b.expander) for b in blocks(at.main) if len(b.radio) == 1 and len(b.expander) == 1]
            assert [(r[0].key, x[0].markdown[0].value) for r, x in boxes] == [
                (f"ans_{c.id}{suffix}", c.guidance.get(lang)) for c in section.criteria
            ]
    assert at.expander  # the guidance is folded (one tap opens it), never drawn open by default
    assert all(not e.proto.expanded for e in at.expander)


def media_url(data: bytes, mimetype: str = "audio/wav") -> str:
    """The address Streamlit gives a media file: it is named by a hash of its bytes."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    return MediaFileManager(MemoryMediaFileStorage("/mock/media")).add(data, mimetype, "audio")


def test_an_assigned_call_opens_from_my_queue_with_its_recording(world):
    at = app("lea", "queue.py")
    at.button(key="queue_call-0001").click().run()
    assert not at.exception
    assert current_step(at) == 0
    assert t("ui.form.recording") in " ".join(texts(at))
    assert [a.proto.url for a in at.get("audio")] == [media_url((world / CALL["recording"]).read_bytes())]
    # The recording stays in the page while the steps change below it. (AppTest reruns the page
    # it was last switched to, not the one the script switched to: switch as the browser did.)
    at.switch_page("pages/evaluate.py").run()
    go_to(at, 1)
    assert current_step(at) == 1 and len(at.get("audio")) == 1


def test_a_call_without_a_recording_opens_without_an_audio_player(world):
    store = Store.open(world)
    try:
        store.add_interactions([{**CALL, "id": "call-0002", "recording": None, "employee_id": "emp-sara"}])
        plan = SamplingPlan(period="2026-11", quota=1, employees=("emp-sara",), evaluators=("lea",))
        run_draw(store, plan, seed=1, by="lea", allow_repeat=True)
    finally:
        store.close()
    at = app("lea", "queue.py")
    at.button(key="queue_call-0002").click().run()
    assert not at.exception
    assert at.session_state[DRAFT]["interaction_id"] == "call-0002"
    assert at.get("audio") == [] and t("ui.form.recording") not in " ".join(texts(at))
    at.switch_page("pages/queue.py").run()
    at.button(key="queue_call-0001").click().run()  # the recorded call still has its player
    assert len(at.get("audio")) == 1


# -- reading, reviewing -------------------------------------------------------------------------


def test_a_shopper_cannot_open_another_shoppers_evaluation_by_its_address(world):
    bobs = submitted(world, Actor("bob", "shopper"), comment="Remarque de Bob")
    at = AppTest.from_file(ENTRY, default_timeout=30)
    at.session_state[session.TOKEN] = session._sessions().start(Actor("alice", "shopper"))
    at.query_params["id"] = bobs
    at.run()
    at.switch_page("pages/my_evaluations.py").run()
    assert [e.value for e in at.error] == [t("ui.mine.not_found")]
    assert "Remarque de Bob" not in texts(at) and not at.dataframe
    lead = app("lea", "my_evaluations.py")
    lead.query_params["id"] = bobs
    lead.run()
    assert not lead.error


def test_review_approves_and_returns_with_a_comment_the_evaluator_then_corrects(mini_world):
    world = mini_world
    first = submitted(world, Actor("alice", "shopper"))
    second = submitted(world, Actor("alice", "shopper"), comment="<script>alert('x')</script>")
    at = app("lea", "review.py")
    at.selectbox(key="review_pick").set_value(second).run()
    assert "<script>alert('x')</script>" in [x.value for x in at.text]  # st.text: shown as text, never HTML
    at.button(key="return_eval").click().run()  # returning needs a comment
    assert [e.value for e in at.error] == [t("ui.review.comment_required")]
    at.selectbox(key="review_pick").set_value(second).run()
    at.text_area(key="return_comment").input("Le <i>scénario</i> manque").run()
    at.button(key="return_eval").click().run()
    assert at.success[0].value == t("ui.review.done_return", id=second)
    at.selectbox(key="review_pick").set_value(first).run()
    at.button(key="approve").click().run()
    assert at.success[0].value == t("ui.review.done_approve", id=first)
    assert [i.value for i in at.info] == [t("ui.review.empty")]

    mine = app("alice", "my_evaluations.py")
    assert mine.warning[0].value == t("ui.mine.returned", n=1)
    mine.selectbox(key="mine_pick").set_value(second).run()
    assert "Le <i>scénario</i> manque" in [x.value for x in mine.text]
    mine.button(key="correct").click().run()
    assert not mine.exception and current_step(mine) == 0
    store = Store.open(world)
    try:
        log = [(e.by, e.action) for e in store.audit_log(second)]
        assert log == [("alice", "submitted"), ("lea", "return")]
        assert store.get_evaluation(first).status == "approved"
    finally:
        store.close()


def test_scorecards_page_shows_each_scorecard_valid_with_its_version(world):
    at = app("lea", "scorecards.py")
    assert len(at.success) == 3 and all("version" in s.value for s in at.success)


def test_publish_builds_the_site_with_a_progress_bar(world, tmp_path):
    approved = submitted(world, Actor("alice", "shopper"))
    store = Store.open(world)
    try:
        ev.approve(store, Actor("lea", "qa_lead"), approved)
    finally:
        store.close()
    at = app("lea", "publish.py")
    at.button(key="publish_build").click().run()
    assert not at.exception and not at.error
    assert at.success and (tmp_path / "site").is_dir()


def test_sampling_page_follows_verifies_and_refuses_a_second_draw(world):
    at = app("lea", "sampling.py")
    assert [m.value for m in at.metric] == ["1", "1", "0"]  # drawn, assigned, evaluated
    at.button(key="sampling_verify").click().run()
    assert at.success[0].value == t("ui.sampling.verified", id=at.selectbox(key="sampling_pick").value)
    at.selectbox(key="sampling_period").set_value("2026-11")
    at.button(key="FormSubmitter:sampling_plan-" + t("ui.sampling.draw")).click().run()
    assert not at.exception
    assert at.error[0].value.startswith("2026-11 a déjà le tirage")


# -- users (admins) -----------------------------------------------------------------------------


def test_an_admin_adds_a_user_who_then_signs_in_with_the_password_shown_once(world):
    at = app("root", "users.py")
    assert at.dataframe[0].value.iloc[:, 0].tolist() == ["alice", "bob", "lea", "root"]
    at.text_input(key="users_add_name").input("nina")
    at.text_input(key="users_add_display").input("Nina <b>Roy</b>")
    at.radio(key="users_add_role").set_value("qa_lead")
    at.button(key="users_add").click().run()
    assert not at.exception
    assert at.success[0].value == t("ui.users.added", name="nina")
    (password,) = [c.value for c in at.code]
    assert at.text_input(key="users_add_name").value == ""  # ready for the next one
    at.run()
    assert not at.code  # shown once
    assert "nina" in at.dataframe[0].value.iloc[:, 0].tolist()
    other = app()
    other.switch_page("pages/evaluate.py").run()
    sign_in(other, "nina", password)
    assert f"**nina** · {t('ui.role.qa_lead')}" in texts(other)


def test_an_admin_changes_a_role_deactivates_and_resets_and_a_user_is_signed_out_at_once(world):
    alice = app("alice")  # alice is signed in in another tab
    at = app("root", "users.py")
    at.selectbox(key="users_pick").select("alice").run()
    at.radio(key="users_role_alice").set_value("qa_lead")
    at.button(key="users_set_role").click().run()
    assert at.success[0].value == t("ui.users.role_saved", name="alice", role=t("ui.role.qa_lead"))
    alice.run()
    assert f"**alice** · {t('ui.role.qa_lead')}" in texts(alice)  # the new role applies at once

    at.button(key="users_deactivate").click().run()
    assert at.success[0].value == t("ui.users.deactivated", name="alice")
    assert [w.value for w in at.warning] == [t("ui.users.inactive")]
    alice.run()
    assert [w.key for w in alice.text_input] == ["signin_name", "signin_password"]  # signed out
    at.button(key="users_reactivate").click().run()
    at.button(key="users_reset").click().run()
    (password,) = [c.value for c in at.code]
    again = app()
    again.switch_page("pages/evaluate.py").run()
    sign_in(again, "alice", password)
    assert f"**alice** · {t('ui.role.qa_lead')}" in texts(again)
    log = [e.value for e in at.expander[0].text]  # the change log, latest first
    actions = ["password_reset", "reactivated", "deactivated", "role_changed"]
    assert [line.split(" · ")[1:] for line in log] == [
        ["root", t(f"ui.users.action.{action}"), "alice" + (" (from: shopper, to: qa_lead)" if n == 3 else "")]
        for n, action in enumerate(actions)
    ]


def test_an_admin_cannot_deactivate_themself_on_the_page(world):
    at = app("root", "users.py")
    at.selectbox(key="users_pick").select("root").run()
    at.button(key="users_deactivate").click().run()
    assert [e.value for e in at.error] == [t("ui.users.error.self")]
    store = Store.open(world)
    try:
        assert store.get_user("root").active
    finally:
        store.close()


def test_a_qa_lead_draws_a_sample_on_the_page_and_sees_it_drawn_and_assigned(world):
    calls = [("emp-jean", i) for i in range(5)] + [("emp-sara", i) for i in range(2)]
    store = Store.open(world)
    try:
        store.add_interactions(
            {"id": f"oct-{employee}-{i}", "employee_id": employee, "channel": "phone",
             "started_at": f"2026-10-{5 + i:02d}T09:{10 * i:02d}:00+02:00", "duration_seconds": 120}
            for employee, i in calls
        )  # fmt: skip
    finally:
        store.close()
    at = app("lea", "sampling.py")
    at.selectbox(key="sampling_period").set_value("2026-10")
    at.number_input(key="sampling_quota").set_value(4)
    at.text_input(key="sampling_seed").input("7")
    at.button(key="FormSubmitter:sampling_plan-" + t("ui.sampling.draw")).click().run()
    assert not at.exception and not at.error
    store = Store.open(world)
    try:
        draw = next(d for d in store.list_draws() if d.plan.get("period") == "2026-10")
        assigned = store.assignments(draw_id=draw.id)
    finally:
        store.close()
    # Four of Jean's five calls, Sara's two (short of the quota, which the page says), all for Lea.
    assert sorted(i.split("-", 2)[2].rsplit("-", 1)[0] for i in draw.selected) == ["jean"] * 4 + ["sara"] * 2
    assert draw.seed == 7
    assert {a.evaluator for a in assigned} == {"lea"} and len(assigned) == 6
    assert at.success[0].value == t("ui.sampling.drawn", id=draw.id, n=6, seed=7)
    assert any("emp-sara" in w.value and "2" in w.value for w in at.warning)
    # The Tirages tab shows the new draw first, with its progress: drawn, assigned, evaluated.
    assert at.selectbox(key="sampling_pick").value == draw.id
    assert [m.value for m in at.metric] == ["6", "6", "0"]
