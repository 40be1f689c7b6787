"""Drafts, submission, review and permissions of qa.evaluations against a real store in tmp_path."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import evaluations as ev
from qa.auth import Actor
from qa.errors import NotFound, PermissionDenied, QAError
from qa.evaluation_checks import (
    EMPLOYEE,
    MISSING,
    ORDER,
    context_key,
    problems,
    running_score,
    step_of,
    step_progress,
    steps,
    with_measured,
)
from qa.photos import add_photo, evaluation_photo, image_type, remove_photo
from qa.scorecards import load_scorecard
from qa.store import Store

from .app_world import CALL, populate
from .conftest import FIXTURES
from .store_support import at_once

ALICE, BOB = Actor("alice", "shopper"), Actor("bob", "shopper")
LEA, ROOT = Actor("lea", "qa_lead"), Actor("root", "admin")
COMPLETE = {"greet": "yes", "thanks": "na", "quality": 4, "steps": 2}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def mini_loaded():
    return load_scorecard(FIXTURES / "mini.yaml")


@pytest.fixture
def store(tmp_path):
    data = tmp_path / "data"
    opened = Store.open(data)
    populate(opened, data)
    yield opened
    opened.close()


def filled(store, actor, loaded, **changes):
    """A new visit draft of `actor` with every answer given."""
    state = ev.start_visit(store, actor, loaded, clock=Clock())
    state.update(employee_id="emp-jean", answers=dict(COMPLETE), **changes)
    ev.autosave(store, actor, state)
    return state


def test_a_new_draft_is_saved_at_once_and_only_its_author_sees_it(store, mini_loaded, tmp_path):
    state = ev.start_visit(store, ALICE, mini_loaded, clock=Clock())
    assert [d.key for d in ev.drafts(store, ALICE)] == [state["key"]]
    assert ev.drafts(store, BOB) == []
    assert ev.resume(store, BOB, state["key"]) is None
    state["answers"]["greet"] = "yes"
    ev.autosave(store, ALICE, state)
    store.close()
    reopened = Store.open(tmp_path / "data")  # a server restart: the draft is on disk
    try:
        assert ev.resume(reopened, ALICE, state["key"])["answers"] == {"greet": "yes"}
    finally:
        reopened.close()
    Store.open(tmp_path / "data")  # keep the fixture's close() balanced


def test_submit_refuses_an_incomplete_draft_and_keeps_it(store, mini_loaded):
    state = ev.start_visit(store, ALICE, mini_loaded, clock=Clock())
    state["answers"] = {"greet": "yes", "quality": 9}
    with pytest.raises(ev.IncompleteEvaluation) as refused:
        ev.submit(store, ALICE, mini_loaded, state)
    assert refused.value.codes == {EMPLOYEE: MISSING, "thanks": MISSING, "quality": "invalid", "steps": MISSING}
    assert list(store.iter_evaluations()) == []
    assert ev.resume(store, ALICE, state["key"]) is not None


def test_submit_writes_the_scored_evaluation_and_removes_the_draft(store, mini_loaded):
    state = filled(store, ALICE, mini_loaded, comments={"greet": "Bonjour franc"})
    evaluation = ev.submit(store, ALICE, mini_loaded, state, clock=Clock())
    assert evaluation.status == "submitted" and evaluation.evaluator == "alice"
    assert evaluation.employee_id == "emp-jean" and evaluation.visit is not None
    # greet 2 (yes) + quality 3 x 0.75 + steps 1 x 2/3; thanks is N/A: (2 + 2.25 + 0.667) / 6
    assert evaluation.score["overall"] == pytest.approx(81.94, abs=0.01)
    assert evaluation.score["band"] == "good"
    assert evaluation.comments == {"greet": "Bonjour franc"}
    assert ev.drafts(store, ALICE) == []
    assert [e.action for e in ev.history(store, ALICE, evaluation.id)] == ["submitted"]


def test_a_double_tap_creates_one_evaluation(store, mini_loaded):
    state = filled(store, ALICE, mini_loaded)
    first = ev.submit(store, ALICE, mini_loaded, dict(state))
    second = ev.submit(store, ALICE, mini_loaded, dict(state))
    assert first.id == second.id
    assert [e.id for e in store.iter_evaluations()] == [first.id]


def test_a_shopper_cannot_read_or_change_another_shoppers_evaluation(store, mini_loaded):
    alices = ev.submit(store, ALICE, mini_loaded, filled(store, ALICE, mini_loaded))
    for call in (
        lambda: ev.open_evaluation(store, BOB, alices.id),
        lambda: ev.history(store, BOB, alices.id),
        lambda: ev.reopen(store, BOB, alices.id),
        lambda: ev.scorecard_of(store, BOB, alices),
    ):
        with pytest.raises(NotFound):
            call()
    assert ev.visible_evaluations(store, BOB) == []
    assert [e.id for e in ev.visible_evaluations(store, LEA)] == [alices.id]
    # A crafted draft carrying Alice's evaluation id neither overwrites nor reveals it.
    crafted = filled(store, BOB, mini_loaded, evaluation_id=alices.id)
    with pytest.raises(NotFound):
        ev.submit(store, BOB, mini_loaded, crafted)
    for decide in (
        lambda: ev.approve(store, BOB, alices.id),
        lambda: ev.return_to_evaluator(store, BOB, alices.id, "x"),
    ):
        with pytest.raises(PermissionDenied):
            decide()
    assert store.get_evaluation(alices.id) == alices


def test_review_returns_with_a_comment_then_approves_the_correction(store, mini_loaded):
    submitted = ev.submit(store, ALICE, mini_loaded, filled(store, ALICE, mini_loaded))
    assert [e.id for e in ev.review_queue(store, LEA)] == [submitted.id]
    with pytest.raises(QAError, match="needs a comment"):
        ev.return_to_evaluator(store, LEA, submitted.id, "   ")
    ev.return_to_evaluator(store, LEA, submitted.id, "Précisez le scénario <b>svp</b>")
    assert ev.return_comment(store, ALICE, submitted.id) == "Précisez le scénario <b>svp</b>"
    assert ev.review_queue(store, LEA) == []
    state = ev.reopen(store, ALICE, submitted.id)
    assert state["evaluation_id"] == submitted.id and state["answers"] == COMPLETE
    state["answers"]["quality"] = 5
    corrected = ev.submit(store, ALICE, mini_loaded, state)
    assert corrected.status == "submitted" and corrected.answers["quality"] == 5
    approved = ev.approve(store, ROOT, submitted.id)
    assert approved.status == "approved"
    with pytest.raises(QAError, match="only a submitted one"):
        ev.approve(store, LEA, submitted.id)
    actions = [(e.by, e.action) for e in ev.history(store, LEA, submitted.id)]
    assert actions == [("alice", "submitted"), ("lea", "return"), ("alice", "resubmit"), ("root", "approve")]


def test_an_assigned_call_is_started_from_its_interaction_and_closed_on_submit(store):
    phone = load_scorecard(FIXTURES.parent.parent / "scorecards" / "phone_call.yaml")
    with pytest.raises(NotFound):
        ev.start_call(store, ALICE, phone, CALL["id"])  # not assigned to a shopper
    assert [a.interaction_id for a in ev.my_assignments(store, LEA)] == [CALL["id"]]
    state = ev.start_call(store, LEA, phone, CALL["id"], clock=Clock())
    assert state["employee_id"] == "emp-paul" and state["channel"] == "phone"
    assert state["context"]["interaction_id"] == CALL["id"]
    assert state["context"]["duration_seconds"] == 245
    assert ev.start_call(store, LEA, phone, CALL["id"]) == state  # resumed, not restarted
    state["answers"] = {c.id: "yes" if "yes" in _options(c) else _options(c)[-1] for c in phone.card.criteria()}
    state["context"].update(scenario="enquiry", call_type="recorded")
    state["debrief"] = {q.id: "RAS" for q in phone.card.questions}
    evaluation = ev.submit(store, LEA, phone, state)
    assert evaluation.interaction_id == CALL["id"] and evaluation.started_at == CALL["started_at"]
    assert ev.my_assignments(store, LEA) == []
    assert [a.evaluation_id for a in store.assignments(evaluator="lea")] == [evaluation.id]


def _options(criterion):
    scale = criterion.scale
    if scale.type in ("yes_no", "yes_no_na"):
        return ["yes", "no"]
    return list(range(getattr(scale, "min", 0), scale.max + 1))


def test_context_checks_and_measured_wait(mini_loaded):
    card = mini_loaded.card
    arrived = "2026-11-20T10:00:00+01:00"
    context = with_measured(card, {"arrived_at": arrived, "greeted_at": "2026-11-20T10:02:30+01:00"})
    assert context["wait_minutes"] == 2.5
    state = {
        "employee_id": "e",
        "answers": COMPLETE,
        "context": {"arrived_at": arrived, "greeted_at": "2026-11-20T09:59:00+01:00"},
    }
    assert problems(card, state) == {context_key("wait_minutes"): ORDER}
    assert step_of(card, context_key("wait_minutes")) == 0
    assert step_of(card, "quality") == steps(card).index("section.solution")


MINI = load_scorecard(FIXTURES / "mini.yaml").card


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({}, optional={k: st.just(v) for k, v in COMPLETE.items()}))
def test_progress_and_problems_agree_with_the_answers(answers):
    card = MINI
    state = {"employee_id": "e", "answers": answers, "context": {}, "debrief": {}}
    missing = {c.id for c in card.criteria()} - set(answers)
    assert set(problems(card, state)) == missing
    progress = step_progress(card, state)
    assert sum(done for done, _ in progress[1:-2]) == len(answers)
    result = running_score(card, answers)
    assert result.complete == (not missing)


def test_photos_are_named_by_the_app_and_readable_only_by_who_may_read_the_evaluation(store, mini_loaded, tmp_path):
    data = tmp_path / "data"
    state = filled(store, ALICE, mini_loaded)
    with pytest.raises(QAError, match="not a photo"):
        add_photo(data, ALICE, state, b"<script>alert(1)</script>")
    first = add_photo(data, ALICE, state, PNG)
    second = add_photo(data, ALICE, state, b"\xff\xd8\xff\xe0" + b"\x00" * 16)
    assert (first, second) == (f"photos/{state['evaluation_id']}/1.png", f"photos/{state['evaluation_id']}/2.jpg")
    remove_photo(data, ALICE, state, second)
    assert not (data / second).exists() and image_type((data / first).read_bytes()) == "png"
    evaluation = ev.submit(store, ALICE, mini_loaded, state)
    assert evaluation.photos == [first]
    assert evaluation_photo(data, store, LEA, evaluation.id, first) == data / first
    with pytest.raises(NotFound):
        evaluation_photo(data, store, BOB, evaluation.id, first)
    with pytest.raises(NotFound):
        evaluation_photo(data, store, ALICE, evaluation.id, "photos/../users.json")


def test_a_draft_cannot_place_photos_outside_its_folder(store, mini_loaded, tmp_path):
    state = filled(store, ALICE, mini_loaded, evaluation_id="../../etc")
    with pytest.raises(QAError, match="invalid evaluation id"):
        add_photo(tmp_path / "data", ALICE, state, PNG)
    shutil.rmtree(tmp_path / "data" / "photos", ignore_errors=True)


def test_recent_evaluations_are_the_actors_own_of_the_last_months_plus_every_returned_one(store, mini_loaded):
    def submitted_on(actor, created_at):
        state = filled(store, actor, mini_loaded)
        state["created_at"] = created_at
        return ev.submit(store, actor, mini_loaded, state, clock=Clock())

    now = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    this_month = submitted_on(ALICE, "2026-11-10T10:00:00+01:00")
    last_month = submitted_on(ALICE, "2026-10-03T10:00:00+02:00")
    old = submitted_on(ALICE, "2026-06-03T10:00:00+02:00")
    old_returned = submitted_on(ALICE, "2026-05-12T10:00:00+02:00")
    bobs = submitted_on(BOB, "2026-11-11T10:00:00+01:00")
    ev.return_to_evaluator(store, LEA, old_returned.id, "Le scénario manque")
    store.close()
    reopened = Store.open(store.data_dir)  # read through the files' indexes, as a new process would
    try:
        recent = ev.recent_evaluations(reopened, ALICE, clock=lambda: now)
        assert {e.id for e in recent} == {this_month.id, last_month.id, old_returned.id}
        assert [e.id for e in ev.recent_evaluations(reopened, BOB, clock=lambda: now)] == [bobs.id]
        # "All my evaluations" (and a shopper's whole list): every one of the actor's, nobody else's.
        everything = [e.id for e in ev.visible_evaluations(reopened, ALICE, mine=True)]
        assert sorted(everything) == sorted([this_month.id, last_month.id, old.id, old_returned.id])
        assert [e.id for e in ev.visible_evaluations(reopened, ALICE, status="returned")] == [old_returned.id]
        assert {e.id for e in ev.visible_evaluations(reopened, LEA)} == {*everything, bobs.id}
    finally:
        reopened.close()
    Store.open(store.data_dir)  # the fixture closes the store it opened: one more user of the folder


def test_two_leads_deciding_one_evaluation_at_once_decide_it_once(store, mini_loaded):
    """One lead approves while another returns the same evaluation (two app sessions, two
    threads): exactly one decision lands in the audit log; the other is told it came too late."""
    ids = [ev.submit(store, ALICE, mini_loaded, filled(store, ALICE, mini_loaded)).id for _ in range(10)]
    refused: list[str] = []
    for evaluation_id in ids:
        refused += at_once(
            lambda i=evaluation_id: ev.approve(store, LEA, i),
            lambda i=evaluation_id: ev.return_to_evaluator(store, Actor("max", "qa_lead"), i, "Le scénario manque"),
        )
        decisions = [e.action for e in store.audit_log(evaluation_id)][1:]
        assert len(decisions) == 1, f"{evaluation_id}: {decisions}"
    assert len(refused) == len(ids) and all("only a submitted one" in message for message in refused)
