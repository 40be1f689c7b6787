"""Sampling: reproducible draws, quotas and strata honoured or shortfalls reported, uniform selection,
fair assignment; and against a real store: verify, top-up, exclusions, progress."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from qa.auth import Actor
from qa.draws import SamplingError, describe_shortfalls, draw_progress, run_draw, topup, verify_draw
from qa.errors import PermissionDenied, QAError
from qa.models import Employee, Evaluation, Interaction, User
from qa.sampling import SamplingPlan, assign_evaluators, draw_sample, frame_of, plan_from
from qa.store import Store

PARIS = ZoneInfo("Europe/Paris")
NO_SIGN_IN = "!"  # a password hash nothing matches: these users never sign in
DECEMBER = SamplingPlan(period="2026-12", quota=4)


def calls(
    n: int,
    employees: list[str],
    *,
    seed: int = 0,
    channels=("phone", "phone", "phone", "chat"),
    month: int = 12,
    prefix: str = "c",
) -> list[Interaction]:
    rng = np.random.default_rng(seed)
    start = datetime(2026, month, 1, tzinfo=PARIS)
    return [
        Interaction(
            id=f"{prefix}{i:05d}",
            employee_id=employees[i % len(employees)],
            channel=channels[int(rng.integers(len(channels)))],
            started_at=start + timedelta(minutes=int(rng.integers(0, 30 * 24 * 60))),
            duration_seconds=int(rng.integers(10, 600)),
        )
        for i in range(n)
    ]


EMPLOYEES = [f"E{i}" for i in range(1, 9)]
FRAME = frame_of(calls(2000, EMPLOYEES))


def test_same_seed_and_frame_give_the_same_draw_whatever_the_storage_order():
    first = draw_sample(DECEMBER, FRAME, 42, employees=EMPLOYEES)
    shuffled = FRAME.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = draw_sample(DECEMBER, shuffled, 42, employees=list(reversed(EMPLOYEES)))
    assert again.selected == first.selected and again.frame_hash == first.frame_hash
    assert len(first.selected) == 4 * len(EMPLOYEES)


def test_another_seed_gives_another_draw_on_the_same_frame():
    one = draw_sample(DECEMBER, FRAME, 1, employees=EMPLOYEES)
    two = draw_sample(DECEMBER, FRAME, 2, employees=EMPLOYEES)
    assert one.frame_hash == two.frame_hash
    assert one.selected != two.selected


def test_the_frame_hash_sees_any_change_of_an_eligible_row():
    base = draw_sample(DECEMBER, FRAME, 1, employees=EMPLOYEES).frame_hash
    longer = FRAME.copy()
    longer.loc[5, "duration"] += 1
    moved = FRAME.copy()
    moved.loc[5, "employee_id"] = "E2" if moved.loc[5, "employee_id"] != "E2" else "E3"
    extra = pd.concat([FRAME, frame_of(calls(1, EMPLOYEES, prefix="new"))], ignore_index=True)
    for changed in (longer, moved, extra):
        assert draw_sample(DECEMBER, changed, 1, employees=EMPLOYEES).frame_hash != base
    november = pd.concat([FRAME, frame_of(calls(5, EMPLOYEES, month=11, prefix="nov"))], ignore_index=True)
    assert draw_sample(DECEMBER, november, 1, employees=EMPLOYEES).frame_hash == base  # outside the period


def test_each_employee_gets_the_quota_spread_over_weeks_by_their_days():
    # December 2026: weeks W49 (6 days), W50-W52 (7 days), W53 (4 days): 31 calls split 6/7/7/7/4.
    plan = SamplingPlan(period="2026-12", quota=31, strata=("week",), allocation={"week": "equal"})
    selection = draw_sample(plan, FRAME, 5, employees=EMPLOYEES)
    assert selection.shortfalls == {}
    for emp in EMPLOYEES:
        weeks = Counter(s["week"] for i, s in selection.strata_of.items() if selection.employees_of[i] == emp)
        assert weeks == {"2026-W49": 6, "2026-W50": 7, "2026-W51": 7, "2026-W52": 7, "2026-W53": 4}


def test_explicit_channel_weights_are_honoured():
    plan = SamplingPlan(period="2026-12", quota=4, strata=("channel",), allocation={"channel": {"phone": 1, "chat": 1}})
    selection = draw_sample(plan, FRAME, 9, employees=EMPLOYEES)
    for emp in EMPLOYEES:
        got = Counter(s["channel"] for i, s in selection.strata_of.items() if selection.employees_of[i] == emp)
        assert got == {"phone": 2, "chat": 2}


def test_proportional_allocation_meets_each_stratum_share_on_average():
    plan = SamplingPlan(period="2026-12", quota=2, strata=("channel",))
    rows = calls(400, ["E1"], channels=("phone", "phone", "phone", "chat"), seed=4)
    frame = frame_of(rows)
    share = sum(r.channel == "chat" for r in rows) / len(rows)
    chats = [
        sum(s["channel"] == "chat" for s in draw_sample(plan, frame, seed, employees=["E1"]).strata_of.values())
        for seed in range(400)
    ]
    assert np.mean(chats) == pytest.approx(2 * share, abs=0.08)


def test_shortfalls_name_the_employee_and_the_stratum():
    rows = calls(200, ["E1", "E2"], seed=1)
    rows += [
        Interaction(id="few1", employee_id="E3", channel="phone", started_at=datetime(2026, 12, 2, 10, tzinfo=PARIS)),
        Interaction(id="few2", employee_id="E3", channel="phone", started_at=datetime(2026, 12, 3, 10, tzinfo=PARIS)),
    ]
    rows = [r for r in rows if not (r.employee_id == "E2" and r.started_at.day >= 28)]  # E2 never works in W53
    frame = frame_of(rows)
    plan = SamplingPlan(period="2026-12", quota=31, strata=("week",), allocation={"week": "equal"})
    selection = draw_sample(plan, frame, 3, employees=["E1", "E2", "E3", "E4"])
    short = selection.shortfalls
    assert set(short) == {"E2", "E3", "E4"}
    assert short["E2"]["drawn"] == 31  # filled from E2's other weeks ...
    assert {"stratum": {"week": "2026-W53"}, "wanted": 4, "available": 0} in short["E2"]["strata"]  # ... but said
    assert (short["E3"]["drawn"], short["E3"]["available"], short["E3"]["quota"]) == (2, 2, 31)
    assert (short["E4"]["drawn"], short["E4"]["available"]) == (0, 0)  # on the roster, no call at all
    counts = Counter(selection.employees_of.values())
    assert counts == {"E1": 31, "E2": 31, "E3": 2}
    strict = draw_sample(plan.model_copy(update={"fill_from_other_strata": False}), frame, 3, employees=["E2"])
    assert strict.shortfalls["E2"]["drawn"] == 27 and len(strict.selected) == 27


def test_eligibility_rules_are_applied():
    plan = SamplingPlan(period="2026-12", quota=1000, min_duration=300, channels=("phone",), strata=())
    excluded = set(FRAME["id"][:50])
    selection = draw_sample(plan, FRAME, 1, employees=EMPLOYEES[:3], excluded=excluded)
    chosen = FRAME.set_index("id").loc[selection.selected]
    assert (chosen["duration"] >= 300).all() and set(chosen["channel"]) == {"phone"}
    assert set(chosen["employee_id"]) == set(EMPLOYEES[:3]) and not excluded & set(selection.selected)
    unknown = frame_of(
        [Interaction(id="u1", employee_id="E1", channel="phone", started_at=datetime(2026, 12, 5, tzinfo=PARIS))]
    )
    assert draw_sample(plan.model_copy(update={"min_duration": 1}), unknown, 1, employees=["E1"]).selected == []
    assert draw_sample(plan.model_copy(update={"min_duration": 0}), unknown, 1, employees=["E1"]).selected == ["u1"]


def test_selection_is_uniform_within_each_stratum():
    """Chi-square over 600 seeded draws: each of the 30 interactions of a stratum is drawn as often."""
    rows = [
        Interaction(
            id=f"u{i:02d}",
            employee_id="E1",
            channel="phone" if i < 30 else "chat",
            started_at=datetime(2026, 12, 7 + i % 5, 10, tzinfo=PARIS),
        )
        for i in range(45)
    ]
    frame = frame_of(rows)
    plan = SamplingPlan(period="2026-12", quota=6, strata=("channel",), allocation={"channel": {"phone": 2, "chat": 1}})
    counts: Counter[str] = Counter()
    for seed in range(600):
        counts.update(draw_sample(plan, frame, seed, employees=["E1"]).selected)
    phone = [counts[f"u{i:02d}"] for i in range(30)]
    chat = [counts[f"u{i:02d}"] for i in range(30, 45)]
    assert sum(phone) == 600 * 4 and sum(chat) == 600 * 2
    assert chisquare(phone).pvalue > 0.01
    assert chisquare(chat).pvalue > 0.01


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["E1", "E2", "E3"]),
            st.sampled_from(["phone", "chat", "email"]),
            st.integers(0, 40 * 24 - 1),  # hours from 2026-11-28: some rows fall outside December
            st.one_of(st.none(), st.integers(0, 120)),
        ),
        max_size=60,
    ),
    quota=st.integers(1, 8),
    strata=st.sampled_from([(), ("channel",), ("week",), ("channel", "week"), ("week", "time_of_day")]),
    rule=st.sampled_from(["proportional", "equal"]),
    min_duration=st.sampled_from([0, 30]),
    seed=st.integers(0, 2**40),
)
def test_property_quotas_are_met_when_possible_and_shortfalls_said_otherwise(
    rows, quota, strata, rule, min_duration, seed
):
    start = datetime(2026, 11, 28, tzinfo=PARIS)
    records = [
        Interaction(
            id=f"r{n:03d}", employee_id=emp, channel=ch, started_at=start + timedelta(hours=h), duration_seconds=d
        )
        for n, (emp, ch, h, d) in enumerate(rows)
    ]
    plan = SamplingPlan(
        period="2026-12", quota=quota, strata=strata, min_duration=min_duration, allocation=dict.fromkeys(strata, rule)
    )
    employees = ["E1", "E2", "E3", "E4"]
    selection = draw_sample(plan, frame_of(records), seed, employees=employees)
    end = datetime(2027, 1, 1, tzinfo=PARIS)
    eligible = {
        r.id: r
        for r in records
        if datetime(2026, 12, 1, tzinfo=PARIS) <= r.started_at < end
        and (min_duration == 0 or (r.duration_seconds or -1) >= min_duration)
    }
    assert len(set(selection.selected)) == len(selection.selected) and set(selection.selected) <= set(eligible)
    for emp in employees:
        available = sum(r.employee_id == emp for r in eligible.values())
        drawn = sum(eligible[i].employee_id == emp for i in selection.selected)
        assert drawn == min(quota, available)
        if available < quota:
            assert selection.shortfalls[emp]["drawn"] == drawn and selection.shortfalls[emp]["available"] == available
        elif rule == "proportional" or not strata:
            assert emp not in selection.shortfalls
        for item in selection.shortfalls.get(emp, {}).get("strata", []):
            assert item["wanted"] > item["available"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["E1", "E2", "E3", "lead", "e1"]), min_size=1, max_size=5, unique=True),
    st.lists(st.sampled_from(["E1", "E2", "E3", "E4"]), min_size=1, max_size=40),
    st.integers(0, 2**32),
)
def test_property_nobody_evaluates_themself_and_loads_stay_balanced(pool, owners, seed):
    items = [(f"i{n}", emp) for n, emp in enumerate(owners)]
    chosen, nobody = assign_evaluators(items, pool, seed, links={"lead": "E4"})
    for interaction, emp in items:
        if interaction in chosen:
            evaluator = chosen[interaction]
            assert evaluator.casefold() != emp.casefold() and not (evaluator == "lead" and emp == "E4")
        else:
            assert interaction in nobody
    if not any(e.casefold() in {o.casefold() for o in owners} or e == "lead" for e in pool):
        loads = Counter(chosen.values())
        assert max(loads.values()) - min(loads.get(e, 0) for e in pool) <= 1


# -- against a real store ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2027, 1, 2, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "data", backup_every=None)
    s.upsert_employees([Employee(id=e, display_name=e) for e in ["E1", "E2", "E3", "E4"]])
    for name in ("lead1", "lead2", "E1"):
        s.add_user(
            User(
                name=name,
                display_name=name,
                role="qa_lead",
                password_hash=NO_SIGN_IN,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
    s.add_interactions(calls(300, ["E1", "E2", "E3", "E4"], seed=7))
    yield s
    s.close()


def test_a_recorded_draw_is_verified_and_a_changed_frame_is_detected(store):
    outcome = run_draw(store, DECEMBER, seed=11, by="lead1", clock=Clock())
    draw = store.get_draw(outcome.draw.id)
    assert draw.id.startswith("draw-2026-12-") and draw.seed == 11 and len(draw.selected) == 16
    assert draw.plan["quota"] == 4 and draw.plan["resolved"]["evaluators"] == ["E1", "lead1", "lead2"]
    assert verify_draw(store, draw.id).matches
    store.add_interactions(
        [
            Interaction(
                id="late1",
                employee_id="E2",
                channel="phone",
                started_at=datetime(2026, 12, 24, 11, tzinfo=PARIS),
                duration_seconds=80,
            )
        ]
    )
    result = verify_draw(store, draw.id)
    assert not result.matches
    assert any("eligible interactions changed" in d for d in result.differences)


def test_assignments_are_stored_balanced_and_never_to_the_employee(store):
    outcome = run_draw(store, DECEMBER, seed=3, clock=Clock())
    stored = store.assignments(draw_id=outcome.draw.id)
    assert len(stored) == 16 and all(a.status == "open" for a in stored)
    assert all(a.evaluator != a.employee_id for a in stored)
    loads = Counter(a.evaluator for a in stored)
    assert max(loads.values()) - min(loads.values()) <= 1


def test_a_second_draw_of_a_period_is_explicit_and_never_redraws(store):
    first = run_draw(store, DECEMBER, seed=1, clock=Clock())
    with pytest.raises(QAError, match="already has draw"):
        run_draw(store, DECEMBER, seed=2, clock=Clock())
    second = run_draw(store, DECEMBER, seed=2, clock=Clock(), allow_repeat=True)
    assert not set(first.draw.selected) & set(second.draw.selected)
    assert sorted(second.draw.plan["resolved"]["excluded_drawn"]) == sorted(first.draw.selected)
    assert verify_draw(store, second.draw.id).matches


def test_evaluated_interactions_are_not_drawn(store):
    target = calls(300, ["E1", "E2", "E3", "E4"], seed=7)[0]
    store.remember_scorecard("card", "v1", {"id": "card"})
    store.submit_evaluation(
        Evaluation(
            id="ev1",
            scorecard_id="card",
            scorecard_version="v1",
            evaluator="lead1",
            employee_id=target.employee_id,
            interaction_id=target.id,
            channel="phone",
            started_at=target.started_at,
        )
    )
    plan = SamplingPlan(period="2026-12", quota=100, strata=())
    outcome = run_draw(store, plan, seed=1, clock=Clock())
    assert target.id not in outcome.draw.selected
    assert outcome.draw.plan["resolved"]["excluded_evaluated"] == [target.id]
    assert verify_draw(store, outcome.draw.id).matches


def test_topup_replaces_an_unusable_recording_and_serves_a_new_employee(store):
    clock = Clock()
    outcome = run_draw(store, DECEMBER, seed=5, clock=clock)
    gone = outcome.draw.selected[0]
    owner = outcome.selection.employees_of[gone]
    store.upsert_employees([Employee(id="E5", display_name="E5")])
    store.add_interactions(calls(20, ["E5"], seed=9, prefix="n"))
    extra = topup(store, outcome.draw.id, replace=[gone], seed=6, clock=clock)
    added = Counter(extra.selection.employees_of.values())
    assert added == {owner: 1, "E5": 4}
    assert gone not in extra.draw.selected
    cancelled = [a for a in store.assignments(draw_id=outcome.draw.id) if a.status == "cancelled"]
    assert [a.interaction_id for a in cancelled] == [gone]
    assert verify_draw(store, extra.draw.id).matches and verify_draw(store, outcome.draw.id).matches
    progress = draw_progress(store, outcome.draw.id)
    assert (progress.drawn, progress.assigned, progress.evaluated, progress.replaced) == (20, 20, 0, 1)
    assert {r["employee_id"]: r["drawn"] for r in progress.employees} == {"E1": 4, "E2": 4, "E3": 4, "E4": 4, "E5": 4}
    with pytest.raises(QAError, match="not an interaction currently drawn"):
        topup(store, outcome.draw.id, replace=[gone], clock=clock)


def test_a_topup_of_a_complete_draw_draws_nothing_and_says_so(store):
    plan = SamplingPlan(
        period="2026-12",
        quota=5,
        strata=("channel", "week", "time_of_day"),
        allocation={"week": "equal", "time_of_day": "equal"},
    )
    clock = Clock()
    first = run_draw(store, plan, seed=1, clock=clock)
    extra = topup(store, first.draw.id, seed=2, clock=clock)
    assert extra.draw.selected == []

    def short(draw):
        return {e: (v["drawn"], v["strata"]) for e, v in draw.shortfalls["employees"].items()}

    assert short(extra.draw) == short(first.draw)  # the same strata wanted as the first draw
    assert extra.draw.plan["topup_of"] == first.draw.id and verify_draw(store, extra.draw.id).matches


def test_progress_counts_evaluations(store):
    outcome = run_draw(store, DECEMBER, seed=8, clock=Clock())
    done = store.assignments(draw_id=outcome.draw.id)[0]
    store.save_assignments([done.model_copy(update={"status": "done"})])
    progress = draw_progress(store, outcome.draw.id)
    assert (progress.drawn, progress.assigned, progress.evaluated) == (16, 16, 1)
    row = next(r for r in progress.evaluators if r["evaluator"] == done.evaluator)
    assert row["evaluated"] == 1


def test_a_draw_needs_interactions_and_evaluators(store, tmp_path):
    with pytest.raises(QAError, match="no interaction stored in 2027-03"):
        run_draw(store, SamplingPlan(period="2027-03", quota=4), clock=Clock())
    with pytest.raises(QAError, match="not an active user"):
        run_draw(store, DECEMBER.model_copy(update={"evaluators": ("ghost",)}), clock=Clock())


def test_messages_are_in_french_too(store):
    with pytest.raises(SamplingError) as error:
        run_draw(store, SamplingPlan(period="2027-03", quota=4), clock=Clock())
    assert error.value.message("fr") == (
        "aucune interaction enregistrée en 2027-03 : importez d'abord les journaux d'appels"
    )
    short = {
        "E4": {
            "quota": 4,
            "drawn": 1,
            "held": 0,
            "available": 1,
            "strata": [{"stratum": {"week": "2026-W53"}, "wanted": 1, "available": 0}],
        }
    }
    assert describe_shortfalls({"employees": short}, "fr") == [
        "E4 : 1 tirée(s) sur 4 (1 disponible(s))",
        "  strate semaine=2026-W53 : 1 voulue(s), 0 disponible(s)",
    ]
    assert describe_shortfalls({}, "fr") == ["tous les quotas et toutes les strates sont respectés"]


def test_frame_of_keeps_instants_exactly():
    moment = datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=PARIS)
    frame = frame_of([Interaction(id="x", employee_id="E1", channel="chat", started_at=moment)])
    assert pd.Timestamp(frame["start"][0], tz="UTC") == pd.Timestamp(moment)
    assert np.isnan(frame["duration"][0])


def test_only_those_allowed_to_sample_may_draw(store):
    shopper = Actor("mystery1", "shopper")
    with pytest.raises(PermissionDenied):
        run_draw(store, DECEMBER, seed=1, clock=Clock(), actor=shopper)
    outcome = run_draw(store, DECEMBER, seed=1, clock=Clock(), actor=Actor("lead2", "qa_lead"))
    assert store.get_draw(outcome.draw.id).created_by == "lead2"
    with pytest.raises(PermissionDenied):
        draw_progress(store, outcome.draw.id, actor=shopper)
    with pytest.raises(PermissionDenied):
        topup(store, outcome.draw.id, clock=Clock(), actor=shopper)


def test_a_plan_from_a_form_names_each_wrong_field():
    with pytest.raises(QAError, match=r"period: '2026-13' is not a month written as YYYY-MM; quota: Input should be"):
        plan_from({"period": "2026-13", "quota": 0})
    assert plan_from({"period": "2026-12", "quota": "4", "strata": ["week"]}).quota == 4


def test_a_plan_is_validated():
    with pytest.raises(ValueError, match="YYYY-MM"):
        SamplingPlan(period="2026-13", quota=4)
    with pytest.raises(ValueError, match="not one of the strata"):
        SamplingPlan(period="2026-12", quota=4, strata=("week",), allocation={"channel": "equal"})
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        SamplingPlan(period="2026-12", quota=0)
