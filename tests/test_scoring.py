"""Scoring: hand-computed examples for each scale, the quotient's bands, and invariants (hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.errors import AnswerError
from qa.scorecard_model import Scorecard
from qa.scorecards import content_version, parse_scorecard_text
from qa.scoring import score

T = {"fr": "texte", "en": "text"}
SOURCE = "003_f8da93b02677ac7e.txt"


def criterion(cid: str, scale: Any, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "label": T, "guidance": T, "coaching": T, "source": SOURCE, "scale": scale, **extra}


def card(sections: list[dict[str, Any]], **extra: Any) -> Scorecard:
    data = {
        "id": "t",
        "title": T,
        "description": T,
        "channels": ["phone"],
        "sections": sections,
        "bands": [{"id": "low", "label": T, "min": 0, "max": 50}, {"id": "high", "label": T, "min": 50, "max": 100}],
        **extra,
    }
    return Scorecard.model_validate(data)


# --- hand-computed examples -----------------------------------------------------------------


def test_mini_example(mini):
    # greet yes (w2: 2/2), thanks N/A (out), quality 4 on 1..5 (w3: 0.75*3), steps 2/3 (w1).
    result = score(mini, {"greet": "yes", "thanks": "na", "quality": 4, "steps": 2})
    assert result.overall == pytest.approx(100 * (2 + 2.25 + 2 / 3) / 6)  # 81.94
    assert result.band == "good"
    assert result.sections["courtesy"].score == pytest.approx(100.0)
    assert result.sections["solution"].score == pytest.approx(100 * (2.25 + 2 / 3) / 4)
    assert not result.critical_failed


@pytest.mark.parametrize(
    ("scale", "value", "fraction"),
    [
        ({"type": "yes_no"}, "yes", 1.0),
        ({"type": "yes_no"}, "no", 0.0),
        ({"type": "yes_no_na"}, "no", 0.0),
        ({"type": "rating", "min": 1, "max": 5}, 1, 0.0),
        ({"type": "rating", "min": 1, "max": 5}, 3, 0.5),
        ({"type": "rating", "min": 0, "max": 10}, 7, 0.7),
        ({"type": "points", "max": 4}, 1, 0.25),
        ({"type": "points", "max": 4}, 4, 1.0),
    ],
)
def test_each_scale(scale, value, fraction):
    c = card([{"id": "s", "label": T, "criteria": [criterion("a", scale), criterion("b", {"type": "yes_no"})]}])
    result = score(c, {"a": value, "b": "yes"})
    assert result.criteria["a"].fraction == pytest.approx(fraction)
    assert result.overall == pytest.approx(100 * (fraction + 1) / 2)


def test_critical_failure_zeroes_the_overall_and_flags(mini):
    result = score(mini, {"greet": "no", "thanks": "yes", "quality": 5, "steps": 3})
    assert result.overall == 0.0
    assert result.critical_failed and result.critical_failures == ["greet"]
    assert result.band == "low"
    assert result.sections["solution"].score == pytest.approx(100.0)  # where it failed stays visible


def test_critical_rating_fails_below_pass_at():
    c = card(
        [
            {
                "id": "s",
                "label": T,
                "criteria": [
                    criterion("a", {"type": "rating", "min": 1, "max": 5}, critical=True, pass_at=3),
                    criterion("b", {"type": "yes_no"}),
                ],
            }
        ]
    )
    assert not score(c, {"a": 3, "b": "yes"}).critical_failed
    assert score(c, {"a": 2, "b": "yes"}).critical_failed


def test_na_on_critical_does_not_fail():
    c = card(
        [
            {
                "id": "s",
                "label": T,
                "criteria": [
                    criterion("a", {"type": "yes_no_na"}, critical=True),
                    criterion("b", {"type": "yes_no"}),
                ],
            }
        ]
    )
    assert score(c, {"a": "na", "b": "yes"}).overall == 100.0


def test_all_na_section_drops_out(mini):
    result = score(mini, {"greet": "yes", "thanks": "na", "quality": 1, "steps": "na"})
    assert result.sections["courtesy"].score == 100.0
    assert result.sections["solution"].score == 0.0
    c = card(
        [
            {"id": "s1", "label": T, "criteria": [criterion("a", {"type": "yes_no_na"})]},
            {"id": "s2", "label": T, "criteria": [criterion("b", {"type": "yes_no"})]},
        ]
    )
    result = score(c, {"a": "na", "b": "no"})
    assert result.sections["s1"].score is None
    assert result.overall == 0.0


def test_everything_na_gives_no_overall_and_no_band():
    c = card([{"id": "s", "label": T, "criteria": [criterion("a", {"type": "yes_no_na"})]}])
    result = score(c, {"a": "na"})
    assert result.overall is None and result.band is None


@pytest.mark.parametrize(
    ("answers", "criterion_id", "fragment"),
    [
        ({"greet": "yes", "thanks": "yes", "quality": 6, "steps": 1}, "quality", "outside the scale 1..5"),
        ({"greet": "yes", "thanks": "yes", "quality": 4.5, "steps": 1}, "quality", "not a whole number"),
        ({"greet": "yes", "thanks": "yes", "quality": True, "steps": 1}, "quality", "not a whole number"),
        ({"greet": "oui", "thanks": "yes", "quality": 4, "steps": 1}, "greet", "not an answer on this scale"),
        ({"greet": True, "thanks": "yes", "quality": 4, "steps": 1}, "greet", "not an answer on this scale"),
        ({"greet": "na", "thanks": "yes", "quality": 4, "steps": 1}, "greet", "N/A is not allowed"),
        ({"greet": "yes", "thanks": "yes", "quality": 4}, "steps", "answer missing"),
        ({"greet": "yes", "thanks": "yes", "quality": 4, "steps": 1, "smile": "yes"}, "smile", "unknown criterion"),
        ({"greet": "yes", "thanks": "yes", "quality": "4", "steps": 1}, "quality", "not a whole number"),
    ],
    ids=[
        "out-of-range",
        "fraction",
        "bool-rating",
        "french-word",
        "bool-yes",
        "na-forbidden",
        "missing",
        "unknown",
        "string-number",
    ],
)
def test_bad_answers_name_their_criterion(mini, answers, criterion_id, fragment):
    with pytest.raises(AnswerError) as info:
        score(mini, answers)
    assert criterion_id in info.value.messages
    assert fragment in info.value.messages[criterion_id]


def test_partial_scoring_for_a_running_score(mini):
    result = score(mini, {"greet": "yes"}, partial=True)
    assert result.overall == 100.0 and not result.complete
    with pytest.raises(AnswerError):
        score(mini, {"greet": "maybe"}, partial=True)


# --- the service quotient: mean per area, sum of areas, bands at their edges -----------------

RATING = {"type": "rating", "min": 1, "max": 5}
QUOTIENT_BANDS = [
    {"id": "asset", "label": T, "min": 28, "max": 35},
    {"id": "adequate", "label": T, "min": 21, "max": 28},
    {"id": "losing", "label": T, "min": 7, "max": 21},
]


def quotient() -> Scorecard:
    sections = [
        {"id": f"area{i}", "label": T, "criteria": [criterion(f"a{i}s1", RATING), criterion(f"a{i}s2", RATING)]}
        for i in range(7)
    ]
    return card(sections, aggregation="sum_of_means", bands=QUOTIENT_BANDS)


def quotient_answers(area_means: list[tuple[int, int]]) -> dict[str, int]:
    return {f"a{i}s{j + 1}": pair[j] for i, pair in enumerate(area_means) for j in range(2)}


@pytest.mark.parametrize(
    ("pairs", "total", "band"),
    [
        ([(5, 5)] * 7, 35.0, "asset"),
        ([(4, 4)] * 7, 28.0, "asset"),  # 28 is the lower edge of "asset"
        ([(4, 4)] * 6 + [(4, 3)], 27.5, "adequate"),  # a fractional area mean just below 28
        ([(3, 3)] * 7, 21.0, "adequate"),
        ([(3, 3)] * 6 + [(3, 2)], 20.5, "losing"),
        ([(1, 1)] * 7, 7.0, "losing"),
    ],
    ids=["35", "28", "27.5", "21", "20.5", "7"],
)
def test_quotient_total_and_bands_at_edges(pairs, total, band):
    result = score(quotient(), quotient_answers(pairs))
    assert result.overall == pytest.approx(total)
    assert result.band == band
    assert result.sections["area6"].score == pytest.approx(sum(pairs[6]) / 2)


def test_quotient_range():
    assert quotient().score_range() == (7.0, 35.0)


def test_quotient_rejects_na_and_critical():
    bad = criterion("x", RATING, na_allowed=True)
    text = yaml.safe_dump(
        {
            "id": "q",
            "title": T,
            "description": T,
            "channels": ["phone"],
            "aggregation": "sum_of_means",
            "sections": [{"id": "a", "label": T, "criteria": [bad]}],
            "bands": [{"id": "all", "label": T, "min": 1, "max": 5}],
        }
    )
    with pytest.raises(Exception, match="sum_of_means does not allow N/A"):
        parse_scorecard_text(text, __import__("pathlib").Path("q.yaml"))


# --- properties (hypothesis) ----------------------------------------------------------------

SCALES = st.sampled_from(
    [
        {"type": "yes_no"},
        {"type": "yes_no_na"},
        {"type": "rating", "min": 1, "max": 5},
        {"type": "rating", "min": 0, "max": 3},
        {"type": "points", "max": 3},
    ]
)


@st.composite
def scorecards(draw: st.DrawFn) -> dict[str, Any]:
    n_sections = draw(st.integers(1, 4))
    sections, k = [], 0
    for s in range(n_sections):
        crits = []
        for _ in range(draw(st.integers(1, 5))):
            scale = draw(SCALES)
            extra: dict[str, Any] = {"weight": draw(st.sampled_from([0.5, 1, 2, 3]))}
            if draw(st.booleans()):
                extra["na_allowed"] = True
            if draw(st.integers(0, 5)) == 0:
                extra["critical"] = True
            crits.append(criterion(f"c{k}", scale, **extra))
            k += 1
        sections.append({"id": f"s{s}", "label": T, "criteria": crits})
    return {
        "id": "h",
        "title": T,
        "description": T,
        "channels": ["phone"],
        "sections": sections,
        "bands": [{"id": "low", "label": T, "min": 0, "max": 50}, {"id": "high", "label": T, "min": 50, "max": 100}],
    }


def values_for(c: dict[str, Any], with_na: bool) -> list[Any]:
    scale = c["scale"]
    if scale["type"] in ("yes_no", "yes_no_na"):
        values: list[Any] = ["no", "yes"]
    elif scale["type"] == "rating":
        values = list(range(scale["min"], scale["max"] + 1))
    else:
        values = list(range(scale["max"] + 1))
    na = with_na and (c.get("na_allowed") or scale["type"] == "yes_no_na")
    return values + (["na"] if na else [])


@st.composite
def card_and_answers(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    data = draw(scorecards())
    answers = {c["id"]: draw(st.sampled_from(values_for(c, True))) for s in data["sections"] for c in s["criteria"]}
    return data, answers


@settings(max_examples=150, deadline=None)
@given(card_and_answers())
def test_overall_always_within_0_100(pair):
    data, answers = pair
    result = score(Scorecard.model_validate(data), answers)
    assert result.overall is None or 0.0 <= result.overall <= 100.0
    for s in result.sections.values():
        assert s.score is None or 0.0 <= s.score <= 100.0


@settings(max_examples=150, deadline=None)
@given(card_and_answers(), st.data())
def test_improving_one_answer_never_lowers_the_score(pair, data_):
    data, answers = pair
    c = Scorecard.model_validate(data)
    scored = [cid for cid, v in answers.items() if v != "na"]
    if not scored:
        return
    cid = data_.draw(st.sampled_from(scored))
    raw = next(x for s in data["sections"] for x in s["criteria"] if x["id"] == cid)
    ladder = values_for(raw, with_na=False)
    better = dict(answers)
    better[cid] = data_.draw(st.sampled_from(ladder[ladder.index(answers[cid]) :]))
    before, after = score(c, answers).overall, score(c, better).overall
    assert after is not None and before is not None and after >= before - 1e-9


@settings(max_examples=150, deadline=None)
@given(card_and_answers(), st.data())
def test_na_equals_removing_the_criterion(pair, data_):
    data, answers = pair
    candidates = [
        x
        for s in data["sections"]
        for x in s["criteria"]
        if (x.get("na_allowed") or x["scale"]["type"] == "yes_no_na") and len(s["criteria"]) > 1
    ]
    if not candidates:
        return
    target = data_.draw(st.sampled_from(candidates))
    with_na = score(Scorecard.model_validate(data), {**answers, target["id"]: "na"})
    removed = {
        **data,
        "sections": [{**s, "criteria": [x for x in s["criteria"] if x is not target]} for s in data["sections"]],
    }
    without = score(Scorecard.model_validate(removed), {k: v for k, v in answers.items() if k != target["id"]})
    assert with_na.overall == without.overall
    assert with_na.band == without.band and with_na.critical_failed == without.critical_failed


@settings(max_examples=100, deadline=None)
@given(card_and_answers(), st.randoms(use_true_random=False))
def test_reordering_criteria_and_sections_changes_nothing(pair, rnd):
    data, answers = pair
    shuffled_sections = [{**s, "criteria": rnd.sample(s["criteria"], len(s["criteria"]))} for s in data["sections"]]
    shuffled = {**data, "sections": rnd.sample(shuffled_sections, len(shuffled_sections))}
    a, b = score(Scorecard.model_validate(data), answers), score(Scorecard.model_validate(shuffled), answers)
    assert a.overall == b.overall  # exactly: sums are exact, so a band's edge cannot be crossed
    assert a.band == b.band and sorted(a.critical_failures) == sorted(b.critical_failures)
    for sid in a.sections:
        assert a.sections[sid].score == b.sections[sid].score


@settings(max_examples=60, deadline=None)
@given(scorecards(), st.booleans(), st.booleans(), st.integers(1, 8))
def test_version_ignores_formatting_and_follows_meaning(data, flow, sort_keys, indent):
    from pathlib import Path

    plain = yaml.safe_dump(data, allow_unicode=True)
    styled = "# formatted differently\n" + yaml.safe_dump(
        data, default_flow_style=flow, sort_keys=sort_keys, indent=indent + 1, width=60, allow_unicode=False
    )
    reference = parse_scorecard_text(plain, Path("a.yaml")).version
    assert parse_scorecard_text(styled, Path("b.yaml")).version == reference
    changed = {**data, "sections": [dict(s) for s in data["sections"]]}
    first = dict(changed["sections"][0]["criteria"][0])
    first["weight"] = first["weight"] + 1
    changed["sections"][0] = {**changed["sections"][0], "criteria": [first, *changed["sections"][0]["criteria"][1:]]}
    assert content_version(Scorecard.model_validate(changed)) != reference


# --- snapshots scored before sums were exact ----------------------------------------------------


def _summed_left_to_right(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A weighted_percent snapshot as the version before `math.fsum` (6964cb0) wrote it: the same
    criteria, sections and overall summed left to right, in the scorecard's order."""

    def percent(results: list[dict[str, Any]]) -> float | None:
        earned = total = 0.0
        for r in results:
            if r["fraction"] is not None:
                earned += r["weight"] * r["fraction"]
                total += r["weight"]
        return 100.0 * earned / total if total else None

    criteria = list(snapshot["criteria"].values())
    sections = {
        sid: {**s, "score": percent([c for c in criteria if c["section"] == sid])}
        for sid, s in snapshot["sections"].items()
    }
    overall = percent(criteria)
    return {**snapshot, "sections": sections, "overall": None if overall is None else min(100.0, max(0.0, overall))}


def test_an_export_of_evaluations_scored_before_exact_sums_imports_unchanged(tmp_path) -> None:
    """Evaluations stored before scoring summed with math.fsum hold snapshots that differ from
    today's only by rounding (about one in five). Exporting them and importing the file into a new
    store (how a team moves or rebuilds its data) must take them as they are, not refuse the file
    with "the score snapshot does not match the answers", and must not rewrite their history."""
    from datetime import date

    from qa.demo import demo_records, write_demo
    from qa.exchange import export_evaluations, import_evaluations
    from qa.store import Store

    data = demo_records(employees=4, evaluations=40, seed=11, today=date(2025, 6, 15))
    cards = {loaded.id: loaded.card for loaded in data.scorecards.values()}
    older = []
    for ev in data.evaluations:
        if cards[ev.scorecard_id].aggregation == "weighted_percent" and ev.score:
            ev = ev.model_copy(update={"score": _summed_left_to_right(ev.score)})
        older.append(ev)
    assert sum(a.score != b.score for a, b in zip(older, data.evaluations, strict=True)) >= 3  # rounding differs
    data.evaluations, data.users = older, []
    path = tmp_path / "export.json"
    with Store.open(tmp_path / "before", storage="reference") as before:
        write_demo(before, data)
        path.write_bytes(export_evaluations(before, "json"))
        kept = {ev.id: ev.score for ev in before.iter_evaluations()}
    with Store.open(tmp_path / "after", storage="reference") as after:
        report = import_evaluations(after, path)
        assert report.imported == len(older)
        assert {ev.id: ev.score for ev in after.iter_evaluations()} == kept


def test_a_snapshot_agrees_up_to_rounding_only() -> None:
    from qa.scoring import same_snapshot

    snapshot = {"overall": 56.48148148148148, "band": "ok", "sections": {"s": {"score": 50.0, "answered": 2}}}
    assert same_snapshot({**snapshot, "overall": 56.481481481481474}, snapshot)
    assert not same_snapshot({**snapshot, "overall": 56.49}, snapshot)
    assert not same_snapshot({**snapshot, "band": "good"}, snapshot)
    assert not same_snapshot({**snapshot, "sections": {"s": {"score": 50.0, "answered": 3}}}, snapshot)
    assert not same_snapshot({**snapshot, "overall": None}, snapshot)
    assert not same_snapshot({k: v for k, v in snapshot.items() if k != "band"}, snapshot)
