"""Calibration reliability: Krippendorff's published examples, an independent alpha, the report."""

from __future__ import annotations

import json
from itertools import permutations
from typing import Any

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.errors import AnswerError
from qa.reliability import (
    OVERALL_LEVEL,
    agreement,
    alpha,
    calibration_report,
    interpret,
    level_for,
    reliability_matrix,
)

nan = np.nan


def alpha_by_coincidences(data: Any, level: str) -> float | None:
    """Krippendorff's alpha written out from his coincidence-matrix definition, independently.

    o_ck = sum over units of (pairs of values c, k from different coders) / (m_u - 1);
    n_c = sum_k o_ck; alpha = 1 - (n - 1) * sum o_ck d_ck / sum_{c, k} n_c n_k d_ck.
    """
    data = np.asarray(data, dtype=float)
    o: dict[tuple[float, float], float] = {}
    for column in data.T:
        values = [v for v in column if not np.isnan(v)]
        if len(values) < 2:
            continue
        for a, b in permutations(range(len(values)), 2):
            key = (values[a], values[b])
            o[key] = o.get(key, 0.0) + 1.0 / (len(values) - 1)
    domain = sorted({c for c, _ in o})
    n_c = {c: sum(count for (a, _), count in o.items() if a == c) for c in domain}
    n = sum(n_c.values())

    def distance(c: float, k: float) -> float:
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return (c - k) ** 2
        if level == "ratio":
            return ((c - k) / (c + k)) ** 2
        low, high = sorted((c, k))  # ordinal: (sum of n_g from c to k - (n_c + n_k) / 2)^2
        between = sum(n_c[g] for g in domain if low <= g <= high)
        return (between - (n_c[c] + n_c[k]) / 2) ** 2

    expected = sum(n_c[c] * n_c[k] * distance(c, k) for c in domain for k in domain)
    if n < 2 or expected == 0:
        return None
    observed = sum(count * distance(c, k) for (c, k), count in o.items())
    return 1.0 - (n - 1) * observed / expected


# --- Krippendorff's worked examples ("Computing Krippendorff's Alpha-Reliability", 2011) -------

# C: nominal data, any number of observers, missing data: 4 observers, 12 units.
FOUR_CODERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]
# A: binary data, two observers, no missing data: 10 units.
TWO_CODERS_BINARY = [
    [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
    [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
]


def test_nominal_example_with_missing_values_gives_0_743() -> None:
    result = alpha(np.array(FOUR_CODERS), "nominal")
    assert round(result.value, 3) == 0.743
    assert result.value == pytest.approx(alpha_by_coincidences(FOUR_CODERS, "nominal"), abs=1e-12)
    assert result.pairable == 40  # unit 12 has a single value, unit 11 two, the rest three or four
    assert result.reason is None


def test_interval_reading_of_the_same_example_gives_0_849() -> None:
    result = alpha(np.array(FOUR_CODERS), "interval")
    assert round(result.value, 3) == 0.849
    assert result.value == pytest.approx(alpha_by_coincidences(FOUR_CODERS, "interval"), abs=1e-12)


@pytest.mark.parametrize(("level", "expected"), [("ordinal", 0.815), ("ratio", 0.797)])
def test_other_levels_of_the_same_example_match_the_coincidence_formula(level: str, expected: float) -> None:
    result = alpha(np.array(FOUR_CODERS), level)  # type: ignore[arg-type]
    assert result.value == pytest.approx(alpha_by_coincidences(FOUR_CODERS, level), abs=1e-12)
    assert round(result.value, 3) == expected


def test_binary_two_coder_example_gives_0_095() -> None:
    # By hand: o_00 = 10, o_11 = 2, o_01 = o_10 = 4; n_0 = 14, n_1 = 6, n = 20.
    # alpha = 1 - (n - 1) * o_01 / (n_0 * n_1) = 1 - 19 * 4 / 84 = 2 / 21
    result = alpha(np.array(TWO_CODERS_BINARY, dtype=float), "nominal")
    assert result.value == pytest.approx(2 / 21, abs=1e-12)
    assert round(result.value, 3) == 0.095


def test_binary_answers_give_the_same_alpha_as_nominal_or_interval() -> None:
    """Why the pooled overall alpha may use the interval metric: on 0/1 it is the nominal one."""
    data = np.array(TWO_CODERS_BINARY, dtype=float)
    assert alpha(data, "interval").value == pytest.approx(alpha(data, "nominal").value, abs=1e-12)


# --- the mapping from answers -----------------------------------------------------------------


def test_reliability_matrix_codes_answers_in_the_order_given() -> None:
    answers = {"ana": {"u1": "yes", "u2": "no", "u3": "na"}, "ben": {"u2": "yes", "u3": None, "u1": 4}}
    matrix = reliability_matrix(answers, ["u1", "u2", "u3"], ["ben", "ana", "zoe"])
    expected = np.array([[4.0, 1.0, nan], [1.0, 0.0, nan], [nan, nan, nan]])
    np.testing.assert_array_equal(matrix, expected)


@pytest.mark.parametrize("answer", ["maybe", True, [1]])
def test_reliability_matrix_refuses_what_is_not_an_answer(answer: Any) -> None:
    with pytest.raises(ValueError, match="not an answer"):
        reliability_matrix({"ana": {"u1": answer}}, ["u1"], ["ana"])


def test_the_papers_nominal_example_through_the_mapping() -> None:
    units = [f"u{i}" for i in range(1, 13)]
    answers = {
        coder: {unit: int(v) for unit, v in zip(units, row, strict=True) if not np.isnan(v)}
        for coder, row in zip("ABCD", FOUR_CODERS, strict=True)
    }
    matrix = reliability_matrix(answers, units, list("ABCD"))
    np.testing.assert_array_equal(matrix, np.array(FOUR_CODERS))
    assert round(alpha(matrix, "nominal").value, 3) == 0.743


def build_expected_matrix(answers: dict[str, dict[str, Any]], units: list[str], coders: list[str]) -> np.ndarray:
    code = {"yes": 1.0, "no": 0.0}
    rows = []
    for coder in coders:
        row = []
        for unit in units:
            value = answers.get(coder, {}).get(unit)
            row.append(nan if value in (None, "na") else code.get(value, value))
        rows.append(row)
    return np.array(rows, dtype=float)


UNITS = [f"u{i}" for i in range(8)]
CODERS = ["ana", "ben", "chloe", "david"]


def answers_strategy(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, dict[str, Any]]]:
    """{evaluator: {unit: answer}} with units and evaluators left out at random (missing)."""
    unit_answers = st.dictionaries(st.sampled_from(UNITS), values, max_size=len(UNITS))
    return st.dictionaries(st.sampled_from(CODERS), unit_answers, min_size=1)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.tuples(answers_strategy(st.sampled_from(["yes", "no", "na", None])), st.just("nominal")),
        st.tuples(answers_strategy(st.one_of(st.integers(1, 5), st.just("na"))), st.just("ordinal")),
        st.tuples(answers_strategy(st.integers(0, 3)), st.just("interval")),
    )
)
def test_alpha_through_the_mapping_matches_the_package_and_the_formula(case: tuple[dict, str]) -> None:
    answers, level = case
    matrix = reliability_matrix(answers, UNITS, CODERS)
    expected_matrix = build_expected_matrix(answers, UNITS, CODERS)
    np.testing.assert_array_equal(matrix, expected_matrix)
    result = alpha(matrix, level)  # type: ignore[arg-type]
    by_formula = alpha_by_coincidences(expected_matrix, level)
    if result.value is None:
        assert by_formula is None
        assert result.reason.startswith(("fewer than 2 pairable values", "no variation"))
    else:
        assert result.value == pytest.approx(by_formula, abs=1e-9)
        package = krippendorff.alpha(reliability_data=expected_matrix, level_of_measurement=level)
        assert result.value == pytest.approx(package, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_alpha_matches_the_package_on_seeded_random_ratings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 6, size=(5, 30)).astype(float)
    data[rng.random(data.shape) < 0.2] = nan
    for level in ("nominal", "ordinal", "interval"):
        package = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert alpha(data, level).value == pytest.approx(package, abs=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("matrix", "reason"),
    [
        pytest.param([[nan, nan], [nan, nan]], "fewer than 2 pairable values", id="no-answers"),
        pytest.param([[1, 0, 1]], "fewer than 2 pairable values", id="one-evaluator"),
        pytest.param([[1, nan], [nan, 0]], "fewer than 2 pairable values", id="never-the-same-unit"),
        pytest.param([[1, 1, 0], [1, 1, nan]], "no variation", id="all-pairable-answers-equal"),
    ],
)
def test_undefined_alpha_is_reported_not_raised(matrix: list[list[float]], reason: str) -> None:
    result = alpha(np.array(matrix, dtype=float), "nominal")
    assert result.value is None
    assert result.reason.startswith(reason)


def test_agreement_counts_pairs_of_answers() -> None:
    # unit 1: answers 1, 1, 0 -> 3 pairs, 1 equal; unit 2: 1, 1 -> 1 pair, equal; unit 3: one answer
    matrix = np.array([[1, 1, 0], [1, 1, nan], [0, nan, nan]], dtype=float)
    assert agreement(matrix) == pytest.approx(2 / 4)
    assert agreement(np.array([[1, nan], [nan, 1]], dtype=float)) is None


@pytest.mark.parametrize(
    ("value", "reading"),
    [
        (1.0, "reliable"),
        (0.800, "reliable"),
        (0.7999, "tentative"),
        (0.667, "tentative"),
        (0.6669, "ambiguous"),
        (-0.3, "ambiguous"),
        (None, "undefined"),
    ],
)
def test_interpretation_follows_krippendorffs_thresholds(value: float | None, reading: str) -> None:
    assert interpret(value) == reading


def test_level_follows_the_scale(mini) -> None:
    assert {c.id: level_for(c) for c in mini.criteria()} == {
        "greet": "nominal",
        "thanks": "nominal",
        "quality": "ordinal",
        "steps": "ordinal",
    }


# --- the calibration report -------------------------------------------------------------------

SESSION_UNITS = ["u1", "u2", "u3", "u4"]
# mini: greet yes/no (weight 2, critical), thanks yes/no/na, quality rating 1..5 (weight 3),
# steps points 0..3 (N/A allowed).
BY_CRITERION = {
    "greet": {"ana": ["yes", "yes", "no", "yes"], "ben": ["yes"] * 4, "chloe": ["yes", "no", "yes", "yes"]},
    "thanks": {
        "ana": ["yes", "na", "no", "yes"],
        "ben": ["yes", "no", "no", "yes"],
        "chloe": ["yes", "na", "no", None],
    },
    "quality": {"ana": [4, 3, 2, 5], "ben": [4, 3, 3, 5], "chloe": [5, 3, 2, 4]},
    "steps": {"ana": [3, 2, 0, 3], "ben": [3, 1, 0, "na"], "chloe": [2, 2, 0, 3]},
}
MATRICES = {
    "greet": [[1, 1, 0, 1], [1, 1, 1, 1], [1, 0, 1, 1]],
    "thanks": [[1, nan, 0, 1], [1, 0, 0, 1], [1, nan, 0, nan]],
    "quality": [[4, 3, 2, 5], [4, 3, 3, 5], [5, 3, 2, 4]],
    "steps": [[3, 2, 0, 3], [3, 1, 0, nan], [2, 2, 0, 3]],
}
WEIGHTS = {"greet": 2.0, "thanks": 1.0, "quality": 3.0, "steps": 1.0}


def session_answers() -> dict[str, dict[str, dict[str, Any]]]:
    answers: dict[str, dict[str, dict[str, Any]]] = {}
    for cid, by_evaluator in BY_CRITERION.items():
        for evaluator, values in by_evaluator.items():
            for unit, value in zip(SESSION_UNITS, values, strict=True):
                if value is not None:
                    answers.setdefault(evaluator, {}).setdefault(unit, {})[cid] = value
    return answers


def fraction_by_hand(cid: str, value: Any) -> float:
    if cid == "quality":
        return (value - 1) / 4
    if cid == "steps":
        return value / 3
    return 1.0 if value == "yes" else 0.0


def score_by_hand(answers: dict[str, Any]) -> float:
    """Weighted percent of mini, N/A and unanswered left out; a "no" to greet (critical) is 0."""
    if answers.get("greet") == "no":
        return 0.0
    given = {cid: v for cid, v in answers.items() if v not in (None, "na")}
    earned = sum(WEIGHTS[cid] * fraction_by_hand(cid, v) for cid, v in given.items())
    return 100.0 * earned / sum(WEIGHTS[cid] for cid in given)


def test_per_criterion_reliability_matches_independent_computation(mini) -> None:
    report = calibration_report(mini, SESSION_UNITS, session_answers())
    assert report.evaluators == ["ana", "ben", "chloe"]
    by_id = {c.criterion_id: c for c in report.criteria}
    for cid, matrix in MATRICES.items():
        level = "nominal" if cid in ("greet", "thanks") else "ordinal"
        row = by_id[cid]
        assert row.alpha.level == level
        assert row.alpha.value == pytest.approx(alpha_by_coincidences(matrix, level), abs=1e-12)
        assert row.agreement == pytest.approx(agreement(np.array(matrix, dtype=float)))
        assert row.interpretation == interpret(row.alpha.value)
        assert (row.guidance is not None) == (row.interpretation == "ambiguous")
    # greet by hand: n = 12 values, 10 yes, 2 no; each "no" sits among two "yes" in a 3-answer
    # unit, so o_no,yes = 2 * 2 / (3 - 1) = 2 and alpha = 1 - 11 * 2 / (2 * 10) = -0.1
    assert by_id["greet"].alpha.value == pytest.approx(-0.1)
    assert by_id["greet"].interpretation == "ambiguous"
    assert by_id["greet"].guidance == "Un bonjour franc."
    # thanks: every pair of answers agrees (u2 has one answer only) and both values occur
    assert by_id["thanks"].agreement == 1.0
    assert by_id["thanks"].alpha.value == pytest.approx(1.0)
    assert by_id["thanks"].guidance is None


def test_overall_alpha_pools_criteria_as_fractions_on_the_interval_metric(mini) -> None:
    report = calibration_report(mini, SESSION_UNITS, session_answers())
    pooled = [
        [
            nan if value in (None, "na") else fraction_by_hand(cid, value)
            for cid, by_evaluator in BY_CRITERION.items()
            for value in by_evaluator[evaluator]
        ]
        for evaluator in ("ana", "ben", "chloe")
    ]
    assert OVERALL_LEVEL == "interval"
    assert report.overall.level == "interval"
    assert report.overall.pairable == 43  # 48 cells - 3 N/A - 1 unanswered - the lone answer to thanks on u2
    assert report.overall.value == pytest.approx(alpha_by_coincidences(pooled, "interval"), abs=1e-12)
    assert report.overall_interpretation == interpret(report.overall.value)


def evaluator_units(evaluator: str) -> dict[str, dict[str, Any]]:
    return session_answers()[evaluator]


def test_deviation_from_the_consensus_of_the_others(mini) -> None:
    report = calibration_report(mini, SESSION_UNITS, session_answers())
    scores = {ev: {u: score_by_hand(evaluator_units(ev)[u]) for u in SESSION_UNITS} for ev in ("ana", "ben", "chloe")}
    assert scores["ana"]["u1"] == pytest.approx(100 * 6.25 / 7)
    assert scores["ana"]["u3"] == 0.0  # ana failed the critical greeting
    for deviation in report.deviations:
        ev = deviation.evaluator
        others = [o for o in scores if o != ev]
        expected = [scores[ev][u] - np.mean([scores[o][u] for o in others]) for u in SESSION_UNITS]
        assert [row.unit_id for row in deviation.units] == SESSION_UNITS
        assert [row.difference for row in deviation.units] == pytest.approx(expected)
        assert deviation.mean_abs_difference == pytest.approx(np.mean(np.abs(expected)))
        assert deviation.mean_difference == pytest.approx(np.mean(expected))
    assert report.consensus == "others"


def test_deviation_from_reference_answers_which_do_not_enter_alpha(mini) -> None:
    reference = evaluator_units("ben")
    answers = {ev: units for ev, units in session_answers().items() if ev != "ben"}
    report = calibration_report(mini, SESSION_UNITS, answers, reference=reference)
    without_reference = calibration_report(mini, SESSION_UNITS, answers)
    assert report.consensus == "reference"
    assert report.evaluators == ["ana", "chloe"]
    assert [c.alpha for c in report.criteria] == [c.alpha for c in without_reference.criteria]
    for deviation in report.deviations:
        expected = [
            score_by_hand(evaluator_units(deviation.evaluator)[u]) - score_by_hand(reference[u]) for u in SESSION_UNITS
        ]
        assert deviation.mean_abs_difference == pytest.approx(np.mean(np.abs(expected)))


def test_report_is_plain_json(mini) -> None:
    data = calibration_report(mini, SESSION_UNITS, session_answers(), lang="en").to_dict()
    assert json.loads(json.dumps(data)) == data
    greet = next(c for c in data["criteria"] if c["criterion_id"] == "greet")
    assert greet["guidance"] == "A clear hello."
    assert set(data) >= {"criteria", "overall", "deviations", "evaluators", "units"}


def test_report_with_one_evaluator_is_undefined_not_an_error(mini) -> None:
    report = calibration_report(mini, SESSION_UNITS, {"ana": evaluator_units("ana")})
    assert report.overall.value is None
    assert report.overall_interpretation == "undefined"
    assert all(c.alpha.reason.startswith("fewer than 2 pairable values") for c in report.criteria)
    assert report.deviations[0].mean_abs_difference is None


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        pytest.param({"quality": 9}, "ana/u1/quality", id="out-of-scale"),
        pytest.param({"greet": "na"}, "ana/u1/greet", id="na-not-allowed"),
        pytest.param({"smile": "yes"}, "ana/u1/smile", id="unknown-criterion"),
    ],
)
def test_answers_that_do_not_fit_the_scorecard_are_domain_errors(mini, bad: dict[str, Any], key: str) -> None:
    answers = session_answers()
    answers["ana"]["u1"] = {**answers["ana"]["u1"], **bad}
    with pytest.raises(AnswerError) as error:
        calibration_report(mini, SESSION_UNITS, answers)
    assert key in error.value.messages
