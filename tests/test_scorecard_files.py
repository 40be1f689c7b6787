"""The scorecards shipped in scorecards/: what evaluators, coaches and managers rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.scorecard_model import BEHAVIOURS, Points, Rating, Scorecard, YesNoNA
from qa.scorecards import DEFAULT_DIR, load_all, scorecard_files
from qa.scoring import score

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
BEHAVIOUR_CARDS = ("mystery_visit", "phone_call")
DEBRIEF = {"situation", "behaviours_observed", "expectations_met", "why_not", "what_differently"}
DEBRIEF_SEED = "000_ee94f13b4c0fd2bc.txt"


@pytest.fixture(scope="module")
def cards() -> dict[str, Scorecard]:
    return {card_id: loaded.card for card_id, loaded in load_all().items()}


def best_answers(card: Scorecard) -> dict[str, object]:
    """The top answer to every criterion."""
    answers: dict[str, object] = {}
    for c in card.criteria():
        if isinstance(c.scale, Rating | Points):
            answers[c.id] = c.scale.max
        else:
            answers[c.id] = "yes"
    return answers


def test_every_file_loads_and_validates(cards: dict[str, Scorecard]) -> None:
    # load_all raises on any invalid file, so reaching here means every file validated.
    assert len(cards) == len(scorecard_files([DEFAULT_DIR]))
    assert {"mystery_visit", "phone_call", "service_quotient"} <= set(cards)
    assert cards["mystery_visit"].channels == ["face_to_face"]
    assert cards["phone_call"].channels == ["phone"]
    assert cards["service_quotient"].channels == ["face_to_face", "phone"]


@pytest.mark.parametrize("card_id", BEHAVIOUR_CARDS)
def test_behaviour_cards_have_the_four_behaviours_in_order(cards: dict[str, Scorecard], card_id: str) -> None:
    card = cards[card_id]
    assert card.aggregation == "weighted_percent"
    assert [s.behaviour for s in card.sections] == list(BEHAVIOURS)
    assert [s.id for s in card.sections] == list(BEHAVIOURS)
    assert 20 <= len(card.criteria()) <= 40


@pytest.mark.parametrize("card_id", BEHAVIOUR_CARDS)
def test_behaviour_cards_mix_scales_weights_and_criticals(cards: dict[str, Scorecard], card_id: str) -> None:
    criteria = cards[card_id].criteria()
    kinds = {c.scale.type for c in criteria}
    assert kinds == {"yes_no", "yes_no_na", "rating", "points"}
    assert {c.weight for c in criteria} <= {1.0, 2.0, 3.0}
    assert 1 <= sum(c.critical for c in criteria) <= 2
    for c in criteria:
        if isinstance(c.scale, Rating):
            # Every level of a rating is labelled, so evaluators score against words, not numbers.
            assert [level.value for level in c.scale.labels] == list(range(c.scale.min, c.scale.max + 1))


@pytest.mark.parametrize("card_id", BEHAVIOUR_CARDS)
def test_na_is_explained_where_it_is_allowed(cards: dict[str, Scorecard], card_id: str) -> None:
    for c in cards[card_id].criteria():
        if isinstance(c.scale, YesNoNA):
            assert "sans objet" in c.guidance.fr.lower(), c.id
            assert "n/a" in c.guidance.en.lower(), c.id


def test_every_source_names_a_seed_file(cards: dict[str, Scorecard]) -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"seed folder {SEEDS} is absent")
    seeds = {p.name for p in SEEDS.glob("*.txt")}
    for card in cards.values():
        sources = [c.source for c in card.criteria()] + [q.source for q in card.questions if q.source]
        missing = sorted(set(sources) - seeds)
        assert not missing, f"{card.id} cites unknown seed files {missing}"


def test_english_was_written(cards: dict[str, Scorecard]) -> None:
    for card in cards.values():
        texts = [card.title, card.description]
        texts += [s.label for s in card.sections]
        texts += [t for c in card.criteria() for t in (c.label, c.guidance, c.coaching)]
        texts += [q.label for q in card.questions]
        for text in texts:
            assert text.fr.strip() != text.en.strip(), f"{card.id}: untranslated text {text.fr!r}"


def test_ids_are_unique_and_separate_from_labels(cards: dict[str, Scorecard]) -> None:
    for card in cards.values():
        ids = [c.id for c in card.criteria()]
        assert len(ids) == len(set(ids))
        for c in card.criteria():
            assert c.id not in (c.label.fr, c.label.en)


def test_quotient_is_seven_areas_rated_never_to_always(cards: dict[str, Scorecard]) -> None:
    card = cards["service_quotient"]
    assert card.aggregation == "sum_of_means"
    assert len(card.sections) == 7
    assert all(s.behaviour is None for s in card.sections)
    for c in card.criteria():
        assert isinstance(c.scale, Rating)
        assert (c.scale.min, c.scale.max) == (1, 5)
        assert [level.value for level in c.scale.labels] == [1, 2, 3, 4, 5]
        assert c.scale == card.criteria()[0].scale
        assert not c.critical and not c.allows_na
    assert card.score_range() == (7.0, 35.0)


def test_quotient_bands_follow_the_seed(cards: dict[str, Scorecard]) -> None:
    card = cards["service_quotient"]
    assert card.band_for(35).id == "asset"
    assert card.band_for(28).id == "asset"
    assert card.band_for(27.5).id == "adequate"
    assert card.band_for(21).id == "adequate"
    assert card.band_for(20).id == "losing_customers"
    assert card.band_for(7).id == "losing_customers"
    top = score(card, best_answers(card))
    assert (top.overall, top.band) == (35.0, "asset")
    bottom = score(card, {c.id: 1 for c in card.criteria()})
    assert (bottom.overall, bottom.band) == (7.0, "losing_customers")


def test_visit_measures_the_wait_between_arrival_and_greeting(cards: dict[str, Scorecard]) -> None:
    fields = {f.id: f for f in cards["mystery_visit"].context}
    wait = fields["wait_minutes"]
    assert wait.type == "duration"
    assert wait.unit == "minutes"
    assert wait.measured_from == ["arrived_at", "greeted_at"]
    assert fields["arrived_at"].type == fields["greeted_at"].type == "timestamp"
    for required in ("site", "visit_datetime", "scenario"):
        assert fields[required].required
    assert [c.id for c in fields["scenario"].choices or []] == ["enquiry", "complaint", "purchase"]


def test_phone_call_context(cards: dict[str, Scorecard]) -> None:
    fields = {f.id: f for f in cards["phone_call"].context}
    assert fields["interaction_id"].type == "interaction" and fields["interaction_id"].required
    assert fields["call_datetime"].type == "datetime" and fields["call_datetime"].required
    assert (fields["duration_seconds"].type, fields["duration_seconds"].unit) == (
        "duration",
        "seconds",
    )
    assert [c.id for c in fields["scenario"].choices or []] == ["enquiry", "complaint", "purchase"]


@pytest.mark.parametrize("card_id", BEHAVIOUR_CARDS)
def test_debrief_questions_are_asked(cards: dict[str, Scorecard], card_id: str) -> None:
    questions = {q.id: q for q in cards[card_id].questions}
    assert set(questions) >= DEBRIEF
    for qid in DEBRIEF:
        assert questions[qid].source == DEBRIEF_SEED


@pytest.mark.parametrize("card_id", BEHAVIOUR_CARDS)
def test_behaviour_card_scores_and_bands(cards: dict[str, Scorecard], card_id: str) -> None:
    card = cards[card_id]
    assert (card.band_for(0).id, card.band_for(100).id) == ("insufficient", "excellent")
    perfect = score(card, best_answers(card))
    assert (perfect.overall, perfect.band, perfect.critical_failed) == (100.0, "excellent", False)
    # A single critical "no" sinks an otherwise perfect evaluation.
    critical = next(c for c in card.criteria() if c.critical)
    sunk = score(card, {**best_answers(card), critical.id: "no"})
    assert sunk.critical_failed and sunk.overall == 0.0 and sunk.band == "insufficient"
