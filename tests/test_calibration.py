"""Calibration sessions: blind answers, closing, the report end to end, against published alphas."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa import calibration as cal
from qa.auth import Actor
from qa.cli import main
from qa.errors import AnswerError, NotFound, PermissionDenied, QAError
from qa.scorecards import load_scorecard
from qa.store import Store

from .calibration_world import EVALUATORS, LEAD, T0, UNITS, mini, open_world
from .test_reliability import FOUR_CODERS, TWO_CODERS_BINARY

# A scorecard made for the published examples: a 1..5 rating that allows N/A (the examples have
# missing values) and a yes/no/N/A criterion (nominal).
PUBLISHED_CARD = """
id: published
title: {fr: Exemples publiés, en: Published examples}
description: {fr: Données de Krippendorff., en: Krippendorff's data.}
channels: [phone]
sections:
  - id: courtesy
    behaviour: courtesy
    label: {fr: Courtoisie, en: Courtesy}
    criteria:
      - id: level
        label: {fr: Niveau, en: Level}
        guidance: {fr: Un niveau de 1 à 5., en: A level from 1 to 5.}
        coaching: {fr: Visez 5., en: Aim for 5.}
        source: 001_9261c09d0400fef0.txt
        scale: {type: rating, min: 1, max: 5}
        na_allowed: true
      - id: binary
        label: {fr: Binaire, en: Binary}
        guidance: {fr: "Oui ou non, selon l'exemple.", en: "Yes or no, as in the example."}
        coaching: {fr: Dites oui., en: Say yes.}
        source: 001_9261c09d0400fef0.txt
        scale: {type: yes_no_na}
bands:
  - {id: all, label: {fr: Tout, en: All}, min: 0, max: 100}
"""


@pytest.fixture
def store(tmp_path):
    store = open_world(tmp_path / "data")
    yield store
    store.close()


@pytest.fixture
def book(store):
    return cal.CalibrationBook.of(store)


def answers(greet="yes", thanks="yes", quality=4, steps=2):
    return {"greet": greet, "thanks": thanks, "quality": quality, "steps": steps}


def as_(name: str) -> Actor:
    return Actor(name, "shopper")


def make_session(book, store, **kwargs):
    return cal.create_session(
        book, LEAD, mini(), list(UNITS), list(EVALUATORS), store=store, clock=lambda: T0, **kwargs
    )


# --- the whole path, on Krippendorff's published data -----------------------------------------


def test_the_papers_examples_through_a_whole_session(tmp_path):
    """4 evaluators x 12 units: ordinal alpha 0.815 (rating) and nominal 0.095 (yes/no), end to end."""
    path = tmp_path / "published.yaml"
    path.write_text(PUBLISHED_CARD, encoding="utf-8")
    loaded = load_scorecard(path)
    store = Store.open(tmp_path / "data")
    book = cal.CalibrationBook.of(store)
    units = [f"u{i}" for i in range(1, 13)]
    coders = ["A", "B", "C", "D"]
    session = cal.create_session(book, LEAD, loaded, units, coders, session_id="paper")
    for row, coder in enumerate(coders):
        for column, unit in enumerate(units):
            level = FOUR_CODERS[row][column]
            binary = TWO_CODERS_BINARY[row][column] if row < 2 and column < 10 else None
            given = {
                "level": "na" if np.isnan(level) else int(level),
                "binary": "na" if binary is None else ("yes" if binary else "no"),
            }
            cal.submit_answers(book, as_(coder), session.id, unit, given)
    cal.close_session(book, LEAD, session.id)
    result = cal.session_report(book, LEAD, session.id, lang="en")
    store.close()
    by_id = {c.criterion_id: c for c in result.report.criteria}
    assert by_id["level"].alpha.level == "ordinal"
    assert round(by_id["level"].alpha.value, 3) == 0.815
    assert by_id["binary"].alpha.level == "nominal"
    assert round(by_id["binary"].alpha.value, 3) == 0.095
    # below 0.667: flagged ambiguous, with its guidance shown so that it can be rewritten
    assert by_id["binary"].interpretation == "ambiguous"
    assert by_id["binary"].guidance == "Yes or no, as in the example."
    assert by_id["level"].interpretation == "reliable" and by_id["level"].guidance is None
    assert result.labels["level"] == "Level"


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_session_alphas_match_the_package_on_random_answers(seed):
    """Random answers go through submit -> close -> report; each criterion's alpha equals the package's
    on the matrix built independently here from the same answers (N/A missing, yes=1, no=0)."""
    rng = np.random.default_rng(seed)
    loaded = mini()
    units = [f"u{i}" for i in range(5)]
    coders = ["a", "b", "c"]
    given = {
        coder: {
            unit: {
                "greet": str(rng.choice(["yes", "no"])),
                "thanks": str(rng.choice(["yes", "no", "na"])),
                "quality": int(rng.integers(1, 6)),
                "steps": "na" if rng.random() < 0.2 else int(rng.integers(0, 4)),
            }
            for unit in units
        }
        for coder in coders
    }
    with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder)) as store:
        book = cal.CalibrationBook.of(store)
        session = cal.create_session(book, LEAD, loaded, units, coders, session_id="random")
        for coder in coders:
            for unit in units:
                cal.submit_answers(book, as_(coder), session.id, unit, given[coder][unit])
        cal.close_session(book, LEAD, session.id)
        report = cal.session_report(book, LEAD, session.id).report
    code = {"yes": 1.0, "no": 0.0, "na": np.nan}
    for criterion in report.criteria:
        data = np.array(
            [
                [code.get(given[c][u][criterion.criterion_id], given[c][u][criterion.criterion_id]) for u in units]
                for c in coders
            ],
            dtype=float,
        )
        values = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
        values = values[~np.isnan(values)]
        if values.size < 2 or np.unique(values).size < 2:
            assert criterion.alpha.value is None
            continue
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=criterion.alpha.level)
        assert criterion.alpha.value == pytest.approx(expected, abs=1e-9)


# --- blind scoring ------------------------------------------------------------------------------


def test_nobody_reads_anothers_answers_before_the_session_closes(store, book):
    session = make_session(book, store)
    cal.submit_answers(book, as_("ana"), session.id, "I1", answers())
    cal.submit_answers(book, as_("bruno"), session.id, "I1", answers(quality=2))
    with pytest.raises(PermissionDenied, match="still open"):
        cal.answers_of(book, as_("bruno"), session.id, "ana")
    with pytest.raises(PermissionDenied, match="still open"):
        cal.answers_of(book, LEAD, session.id, "ana")  # not even the QA lead
    with pytest.raises(PermissionDenied, match="still open"):
        cal.session_report(book, LEAD, session.id)
    assert cal.answers_of(book, as_("ana"), session.id, "ana") == {"I1": answers()}
    seen = cal.get_session(book, as_("bruno"), session.id)
    assert set(seen.answers) == {"bruno"}
    assert cal.get_session(book, LEAD, session.id).answers == {}
    done = cal.progress(book, LEAD, session.id)
    assert done.answered["ana"] == ["I1"] and done.missing["ana"] == ["I2", "I3"]
    cal.close_session(book, LEAD, session.id)
    assert cal.answers_of(book, as_("bruno"), session.id, "ana") == {"I1": answers()}


def test_outsiders_and_shoppers_cannot_organise_or_peek(store, book):
    with pytest.raises(PermissionDenied):
        cal.create_session(book, as_("ana"), mini(), ["I1"], ["ana", "bruno"])
    session = make_session(book, store)
    with pytest.raises(PermissionDenied):
        cal.submit_answers(book, as_("zoe"), session.id, "I1", answers())
    with pytest.raises(PermissionDenied):
        cal.close_session(book, as_("ana"), session.id)
    with pytest.raises(PermissionDenied):
        cal.get_session(book, as_("zoe"), session.id)
    assert [s.id for s in cal.list_sessions(book, as_("zoe"))] == []
    assert [s.id for s in cal.list_sessions(book, as_("ana"))] == [session.id]


def test_answers_are_checked_and_freeze_at_close(store, book):
    session = make_session(book, store)
    with pytest.raises(AnswerError) as error:
        cal.submit_answers(book, as_("ana"), session.id, "I1", {"greet": "maybe", "quality": 9})
    assert set(error.value.messages) == {"greet", "quality", "thanks", "steps"}
    with pytest.raises(NotFound, match="no unit 'I9'"):
        cal.submit_answers(book, as_("ana"), session.id, "I9", answers())
    with pytest.raises(QAError, match="fewer than two"):
        cal.close_session(book, LEAD, session.id)
    cal.submit_answers(book, as_("ana"), session.id, "I1", answers(quality=1))
    cal.submit_answers(book, as_("ana"), session.id, "I1", answers())  # changing one's mind while open
    cal.submit_answers(book, as_("bruno"), session.id, "I1", answers())
    cal.close_session(book, LEAD, session.id)
    with pytest.raises(QAError, match="closed"):
        cal.submit_answers(book, as_("ana"), session.id, "I2", answers())
    assert cal.answers_of(book, LEAD, session.id, "ana") == {"I1": answers()}


def test_creating_checks_units_people_and_ids(store, book):
    with pytest.raises(NotFound, match="I9"):
        cal.create_session(book, LEAD, mini(), ["I1", "I9"], ["ana", "bruno"], store=store)
    with pytest.raises(NotFound, match="nobody"):
        cal.create_session(book, LEAD, mini(), ["I1"], ["ana", "nobody"], store=store)
    with pytest.raises(QAError, match="at least two"):
        cal.create_session(book, LEAD, mini(), ["I1"], ["ana"], store=store)
    with pytest.raises(QAError, match="reference"):
        cal.create_session(book, LEAD, mini(), ["I1"], ["ana", "bruno"], reference_by="ana", store=store)
    with pytest.raises(QAError, match="session id"):
        cal.create_session(book, LEAD, mini(), ["I1"], ["ana", "bruno"], session_id="../escape")
    make_session(book, store, session_id="s1")
    with pytest.raises(QAError, match="already exists"):
        make_session(book, store, session_id="s1")
    with pytest.raises(NotFound):
        book.load("../../etc/passwd")


def test_a_session_is_a_record_of_the_stores_calibration_table(store, book):
    """One record in calibration_sessions/<month>.json (no file of its own), read back by a new
    store instance; a refused change (a wrong answer) leaves the file byte for byte as it was."""
    session = make_session(book, store, session_id="s1")
    cal.submit_answers(book, as_("ana"), "s1", "I1", answers(), clock=lambda: T0)
    path = store.data_dir / "calibration_sessions" / "2025-03.json"
    before = path.read_bytes()
    with pytest.raises(AnswerError):
        cal.submit_answers(book, as_("bruno"), "s1", "I1", {**answers(), "quality": 9})
    assert path.read_bytes() == before
    assert not (store.data_dir / "calibration").exists()
    store.close()
    with Store.open(store.data_dir) as again:
        stored = again.get_calibration_session(session.id)
    assert stored.scorecard_version == mini().version
    assert stored.answers == {"ana": {"I1": answers()}} and stored.answered_at == {"ana": {"I1": T0}}


def test_unit_material_never_shows_the_customer(store, book):
    session = make_session(book, store)
    material = cal.unit_material(store, book, as_("ana"), session.id, "I2")
    assert material["recording"] == "recordings/I2.mp3"
    assert "customer_ref" not in material and "CUSTOMER-SECRET" not in json.dumps(material, default=str)


# --- the done-when scenario: three calls, four evaluators, a reference, who drifts --------------


def run_three_calls(store, book, *, reference=True):
    session = make_session(book, store, session_id="s3", reference_by="lea" if reference else None)
    # "thanks" is read four ways (ambiguous); "greet" and "quality" agree; bruno is generous.
    thanks = {
        "ana": ["yes", "no", "yes"],
        "bruno": ["no", "yes", "yes"],
        "chloe": ["yes", "yes", "no"],
        "david": ["no", "no", "yes"],
    }
    for name in EVALUATORS:
        for i, unit in enumerate(UNITS):
            quality = [3, 4, 2][i] + (2 if name == "bruno" and i < 2 else 0)
            cal.submit_answers(
                book, as_(name), session.id, unit, answers(thanks=thanks[name][i], quality=min(quality, 5))
            )
    if reference:
        for i, unit in enumerate(UNITS):
            cal.submit_answers(book, LEAD, session.id, unit, answers(thanks="yes", quality=[3, 4, 2][i]))
    cal.close_session(book, LEAD, session.id)
    return session


def test_three_calls_four_evaluators_show_ambiguity_and_who_drifts(store, book):
    session = run_three_calls(store, book)
    result = cal.session_report(book, LEAD, session.id, lang="fr")
    report = result.report
    by_id = {c.criterion_id: c for c in report.criteria}
    assert by_id["thanks"].interpretation == "ambiguous"
    assert by_id["thanks"].guidance == "Remercie au départ."
    assert by_id["greet"].alpha.value is None  # everyone said yes: no variation, alpha undefined
    assert report.consensus == "reference"
    deviations = {d.evaluator: d for d in report.deviations}
    assert max(deviations, key=lambda e: deviations[e].mean_difference) == "bruno"
    assert deviations["bruno"].mean_difference > 5
    assert "lea" not in report.evaluators  # the reference is the yardstick, not a voice in alpha
    assert result.to_dict()["overall"]["level"] == "interval"


def test_cli_runs_a_calibration_end_to_end(tmp_path, capsys):
    data = tmp_path / "data"
    open_world(data).close()
    base = ["--data", str(data)]
    mini_path = str(Path(__file__).parent / "fixtures" / "mini.yaml")
    assert (
        main(
            [
                *base,
                "calibration",
                "create",
                "--scorecard",
                mini_path,
                "--units",
                "I1,I2,I3",
                "--evaluators",
                "ana,bruno,chloe,david",
                "--reference-from",
                "lea",
                "--id",
                "c1",
                "--by",
                "lea",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == "c1"
    for name, quality in [("ana", 3), ("bruno", 5), ("chloe", 3), ("david", 2), ("lea", 3)]:
        for unit in UNITS:
            path = tmp_path / f"{name}-{unit}.yaml"
            path.write_text(f"greet: yes\nthanks: {'yes' if name < 'c' else 'no'}\nquality: {quality}\nsteps: na\n")
            assert main([*base, "calibration", "answer", "c1", "--as", name, "--unit", unit, str(path)]) == 0
    capsys.readouterr()
    # blind: before closing, bruno asking for ana's answers is refused with a message
    assert main([*base, "calibration", "answers", "c1", "--as", "bruno", "--of", "ana"]) == 1
    assert "still open" in capsys.readouterr().err
    assert main([*base, "calibration", "report", "c1"]) == 1
    assert "still open" in capsys.readouterr().err
    assert main([*base, "calibration", "status", "c1"]) == 0
    assert "ana: 3 answered" in capsys.readouterr().out
    assert main([*base, "calibration", "close", "c1", "--by", "ana"]) == 1  # a shopper cannot close
    assert "may not calibrate" in capsys.readouterr().err
    assert main([*base, "calibration", "close", "c1", "--by", "lea"]) == 0
    capsys.readouterr()
    assert main([*base, "calibration", "report", "c1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["consensus"] == "reference" and report["evaluators"] == ["ana", "bruno", "chloe", "david"]
    thanks = next(c for c in report["criteria"] if c["criterion_id"] == "thanks")
    assert thanks["interpretation"] == "ambiguous"  # no variation within a call, all of it between readers
    assert main([*base, "calibration", "report", "c1", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "ambiguous criteria, guidance to rewrite:" in out and "thanks (Thanks): Thanks on leaving." in out
    assert "bruno: mean 41.7" in out  # 100 against the reference's 58.3 on every call
