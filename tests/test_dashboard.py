"""Dashboard data: every chart's frame, its intervals, filters, drift on demo data, safe CSV."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from qa import dashboard as dash
from qa import stats
from qa.auth import Actor
from qa.cli import main
from qa.demo import demo_records
from qa.errors import PermissionDenied
from qa.models import Assignment, Draw
from qa.scorecard_model import BEHAVIOURS
from qa.scorecards import load_all
from qa.stats import mean_interval, pooled_stdev, verdict, wilson_interval

from . import synthetic

CARDS = {card_id: loaded.card for card_id, loaded in load_all().items()}


@pytest.fixture(scope="module")
def demo():
    return demo_records(40, 1500, seed=1, today=date(2025, 6, 15))


@pytest.fixture(scope="module")
def data(demo):
    return dash.build_dashboard(demo.evaluations, demo.employees, CARDS)


def approved(data):
    return data.evaluations[dash.filter_mask(data.evaluations, dash.Filters())]


def test_drift_finds_the_lenient_evaluator_planted_in_the_demo(demo, data):
    table = dash.drift(approved(data)).set_index("evaluator")
    planted = demo.lenient_evaluator
    assert table.loc[planted, "flagged"] and table.loc[planted, "direction"] == "lenient"
    assert table["shift"].abs().idxmax() == planted
    assert table.loc[planted, "low"] <= 8.0 <= table.loc[planted, "high"]  # planted at +8 points


def test_drift_from_cell_means_equals_drift_from_every_record(data):
    """dash.drift hands evaluator_drift one mean per (evaluator, employee, scorecard): same answer."""
    from qa.stats import evaluator_drift

    frame = approved(data)
    records = (
        frame[["evaluator", "employee_id", "scorecard_id", "overall"]].astype({"evaluator": str}).to_dict("records")
    )
    direct = {d.evaluator: d for d in evaluator_drift(records)}
    for row in dash.drift(frame).itertuples():
        assert row.shift == pytest.approx(direct[row.evaluator].shift, abs=1e-9)
        assert row.flagged == direct[row.evaluator].flagged


def test_behaviour_means_and_intervals_are_qa_stats_ones(data):
    frame = approved(data)
    table = dash.behaviours_by(frame, "team")
    assert set(table["behaviour"]) <= set(BEHAVIOURS)
    for row in table.itertuples():
        values = frame.loc[frame["team"].astype(str) == row.group, row.behaviour].dropna()
        expected = mean_interval(values)
        assert (row.n, row.mean, row.low, row.high) == (expected.n, expected.mean, expected.low, expected.high)


def test_trend_has_overall_and_behaviours_per_month(data):
    table = dash.trend(approved(data))
    assert set(table["measure"]) == {"overall", *BEHAVIOURS}
    assert list(table["period"]) == sorted(table["period"])
    weekly = dash.trend(approved(data), "week")
    assert weekly["period"].str.match(r"^\d{4}-W\d{2}$").all()


def test_distribution_counts_every_scored_evaluation_once(data):
    frame = approved(data)
    table = dash.score_distribution(frame)
    assert table["count"].sum() == frame["overall"].notna().sum()
    assert (table["bin_high"] - table["bin_low"] == 5).all() and table["bin_high"].max() <= 100


def test_criterion_priorities_count_failures_with_wilson_intervals(demo, data):
    mask = dash.filter_mask(data.evaluations, dash.Filters(scorecards=("phone_call",)))
    table = dash.criterion_priorities(data, mask)
    assert set(table["scorecard_id"]) == {"phone_call"}
    first = table.iloc[0]
    kept = [ev for ev in demo.evaluations if ev.status == "approved" and ev.scorecard_id == "phone_call"]
    results = [ev.score["criteria"][first.criterion_id]["passed"] for ev in kept]
    failed = sum(r is False for r in results)
    answered = sum(r is not None for r in results)
    assert (first.failed, first.answered) == (failed, answered)
    expected = wilson_interval(failed, answered)
    assert (first.failure_rate, first.low, first.high) == (expected.proportion, expected.low, expected.high)
    assert list(table["impact"]) == sorted(table["impact"], reverse=True)


def test_coaching_priorities_put_surely_low_scores_first(data):
    table = dash.coaching_priorities(approved(data))
    conclusive = table[table["conclusive"]]
    assert list(conclusive["high"]) == sorted(conclusive["high"])
    assert not table["conclusive"].iloc[len(conclusive) :].any()  # the inconclusive come after
    assert set(table["weakest_behaviour"]) <= {*BEHAVIOURS, ""}


def scores_frame(scores: dict[str, list[float]]) -> pd.DataFrame:
    """A dashboard frame (the columns coaching_priorities reads) with these overall scores."""
    ids = [e for e, values in scores.items() for _ in values]
    overall = [v for values in scores.values() for v in values]
    frame = pd.DataFrame(
        {
            "employee_id": pd.Categorical(ids),
            "team": pd.Categorical(["Conseil"] * len(ids)),
            "site": pd.Categorical(["Lille"] * len(ids)),
            "overall": overall,
        }
    )
    for behaviour in BEHAVIOURS:
        frame[behaviour] = frame["overall"]
    return frame


def planner(stdev: float, target: float = 10.0, floor: int = 3) -> int:
    """Evaluations needed for a 95 % t interval of +/- target, straight from scipy (not qa.stats)."""
    n = 2
    while scipy_stats.t.ppf(0.975, n - 1) * stdev / math.sqrt(n) > target:
        n += 1
    return max(floor, n)


def test_spread_scores_are_not_enough_to_conclude_and_say_how_many_are_needed():
    spread = [20.0, 85.0, 40.0, 95.0]
    tight = [70.0 + (i % 5) - 2 for i in range(30)]
    table = dash.coaching_priorities(scores_frame({"SPREAD": spread, "TIGHT": tight, "ONE": [50.0]}))
    rows = table.set_index("employee_id")

    needed = planner(float(np.std(spread, ddof=1)))
    assert needed > len(spread)
    assert not rows.loc["SPREAD", "conclusive"] and rows.loc["SPREAD", "needed"] == needed
    site = verdict(spread)  # what the coaching site says of the same scores
    assert not site.conclusive and site.needed_n == needed
    assert "not enough evaluations to conclude" in site.reason

    assert rows.loc["TIGHT", "conclusive"] and pd.isna(rows.loc["TIGHT", "needed"])
    assert table["employee_id"].iloc[0] == "TIGHT"  # conclusive people come first

    # One evaluation: planned with the pooled spread of everyone, rounded as the site rounds it.
    squares = sum((len(v) - 1) * float(np.var(v, ddof=1)) for v in (spread, tight))
    pooled = round(math.sqrt(squares / (len(spread) - 1 + len(tight) - 1)) / 0.5) * 0.5
    assert not rows.loc["ONE", "conclusive"] and rows.loc["ONE", "needed"] == planner(pooled)


def test_equal_scores_are_judged_at_the_pooled_spread():
    """Equal scores give a zero-width interval that proves nothing: the pooled spread decides."""
    same, other = [60.0, 60.0, 60.0], [30.0, 90.0, 50.0, 70.0]
    table = dash.coaching_priorities(scores_frame({"SAME": same, "OTHER": other})).set_index("employee_id")
    pooled = math.sqrt(float(np.var(other, ddof=1)) * 3 / (2 + 3))  # SAME adds 2 degrees, no spread
    assert pooled == 20.0
    assert scipy_stats.t.ppf(0.975, 2) * pooled / math.sqrt(3) > 10.0
    assert not table.loc["SAME", "conclusive"] and table.loc["SAME", "needed"] == planner(pooled)
    assert verdict(same, fallback_stdev=pooled).needed_n == planner(pooled)


def test_the_dashboard_judges_every_employee_as_the_coaching_site_does(demo, data):
    """From the stored scores, as the site reads them: the same mean, interval and verdict (==)."""
    last = sorted(set(data.evaluations["month"].astype(str)))[-1]
    frame = data.evaluations[dash.filter_mask(data.evaluations, dash.Filters(start_month=last, end_month=last))]
    by_employee: dict[str, list[float]] = {}
    for ev in demo.evaluations:
        if ev.status == "approved" and ev.month == last and ev.score.get("overall") is not None:
            by_employee.setdefault(ev.employee_id, []).append(ev.score["overall"])
    scores = dict(sorted(by_employee.items()))
    planning = stats.planning_stdev(pooled_stdev(scores.values()))  # as sitegen.build plans
    table = dash.coaching_priorities(frame, limit=len(scores))
    assert len(table) == len(scores)
    assert 0 < table["conclusive"].sum() < len(table)  # both kinds are checked
    for row in table.itertuples():
        site = verdict(scores[row.employee_id], fallback_stdev=planning)
        assert (row.n, row.mean) == (site.interval.n, site.interval.mean), row.employee_id
        assert same(row.low, site.interval.low) and same(row.high, site.interval.high), row.employee_id
        assert row.conclusive == site.conclusive, row.employee_id
        assert (None if pd.isna(row.needed) else row.needed) == (None if site.conclusive else site.needed_n)


# Any float score, and the everyday ones (repeated values make equal-score employees).
SCORES = st.one_of(st.floats(0.0, 100.0), st.sampled_from([0.0, 12.5, 33.333333333333336, 62.5, 87.5, 100.0]))


def same(shown: float, expected: float | None) -> bool:
    """The dashboard's number is qa.stats' one to the bit (NaN where qa.stats says None)."""
    return math.isnan(shown) if expected is None else shown == expected


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(SCORES, min_size=1, max_size=12), min_size=1, max_size=8),
    st.data(),
)
def test_every_interval_and_verdict_is_qa_stats_to_the_bit(people, draw):
    """The dashboard's means, intervals, verdicts and "needed" equal (==) what qa.stats gives for
    the same scores: what an employee's page says of them (mean_interval, verdict with the pooled
    planning stdev). Arbitrary floats find the last-bit differences (sums, x ** 2, t * s / sqrt(n))."""
    rows = sum(len(scores) for scores in people)
    teams = draw.draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=rows, max_size=rows))
    months = draw.draw(st.lists(st.sampled_from(["2025-01", "2025-02"]), min_size=rows, max_size=rows))
    behaviour = draw.draw(st.lists(st.one_of(st.none(), SCORES), min_size=rows, max_size=rows))
    ids = [f"E{i:02d}" for i, scores in enumerate(people) for _ in scores]
    frame = pd.DataFrame(
        {
            "employee_id": pd.Categorical(ids),
            "team": pd.Categorical(teams),
            "site": pd.Categorical(["Lille"] * rows),
            "scorecard_id": pd.Categorical(["phone_call"] * rows),
            "month": pd.Categorical(months),
            "overall": [v for scores in people for v in scores],
        }
    )
    for b in BEHAVIOURS:
        frame[b] = np.array([np.nan if v is None else v for v in behaviour], dtype=float)

    planning = stats.planning_stdev(stats.pooled_stdev(people))  # what sitegen.build plans with
    assert dash.planning_stdev(people) == planning
    table = dash.coaching_priorities(frame, limit=len(people))
    assert len(table) == len(people)
    for row in table.itertuples():
        site = verdict(people[int(row.employee_id[1:])], fallback_stdev=planning)
        assert (row.n, row.mean) == (site.interval.n, site.interval.mean)
        assert same(row.low, site.interval.low) and same(row.high, site.interval.high)
        assert row.conclusive == site.conclusive
        assert (None if pd.isna(row.needed) else row.needed) == (None if site.conclusive else site.needed_n)

    def check(table: pd.DataFrame, key: str, column: str | None) -> None:
        for row in table.to_dict("records"):
            values = frame.loc[frame[key].astype(str) == row[key], column or row["measure"]].dropna().tolist()
            expected = mean_interval(values)
            assert (row["n"], row["mean"]) == (expected.n, expected.mean)
            assert same(row["low"], expected.low) and same(row["high"], expected.high)
            assert same(row["half_width"], expected.half_width)
            assert row["conclusive"] == verdict(values).conclusive

    check(dash.score_summary(frame), "scorecard_id", "overall")
    check(dash.trend(frame).rename(columns={"period": "month"}), "month", None)
    behaviours = dash.behaviours_by(frame, "team").rename(columns={"group": "team", "behaviour": "measure"})
    check(behaviours, "team", None)


def test_equal_scores_have_no_spread_on_the_dashboard_as_on_the_site():
    """Three equal scores whose mean is not exactly representable: qa.stats gives them their own
    value and a stdev of 0 (judged at the pooled spread), not a stdev of 1e-16."""
    people = [[0.95, 0.95, 0.95], [11.11111111111111] * 3, [70.0], [50.0, 60.0, 65.0]]
    ids = [f"E{i:02d}" for i, scores in enumerate(people) for _ in scores]
    rows = len(ids)
    frame = pd.DataFrame({"employee_id": pd.Categorical(ids), "team": pd.Categorical(["A"] * rows),
                          "site": pd.Categorical(["Lille"] * rows), "scorecard_id": pd.Categorical(["phone_call"] * rows),
                          "month": pd.Categorical(["2025-01"] * rows), "overall": [v for s in people for v in s]})  # fmt: skip
    for b in BEHAVIOURS:
        frame[b] = frame["overall"]
    planning = stats.planning_stdev(stats.pooled_stdev(people))
    for row in dash.coaching_priorities(frame, limit=len(people)).itertuples():
        site = verdict(people[int(row.employee_id[1:])], fallback_stdev=planning)
        assert (row.mean, row.conclusive) == (site.interval.mean, site.conclusive), row.employee_id
        assert same(row.low, site.interval.low) and same(row.high, site.interval.high), row.employee_id
    trend = dash.behaviours_by(frame[frame["employee_id"] == "E00"], "team")
    assert set(trend["mean"]) == {0.95} and set(trend["half_width"]) == {0.0}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(-1e300, 1e300), st.floats(-1e-300, 1e-300), SCORES, st.just(2.0**-60)),
        min_size=0,
        max_size=300,
    ),
    st.integers(1, 6),
    st.randoms(use_true_random=False),
)
def test_group_sums_are_fsum_to_the_bit(values, size, rng):
    """The vectorised exact sums behind every mean and stdev: math.fsum per group, to the bit,
    for large, tiny and everyday numbers (and the groups left to fsum outright)."""
    codes = np.array([rng.randrange(-1, size) for _ in values], dtype=np.int64)
    groups = dash._grouped(codes, np.array(values, dtype=float), size)
    expected = [math.fsum(groups.values[a:b].tolist()) for a, b in zip(groups.starts, groups.stops, strict=True)]
    assert dash._fsums(groups.values, groups).tolist() == expected


def test_the_planner_is_qa_stats_to_the_bit():
    """`needed` for a sweep of spreads and targets: qa.stats.evaluations_needed, with ==."""
    spreads = np.concatenate([np.linspace(0.0, 60.0, 2401), np.random.default_rng(3).uniform(0.0, 60.0, 2000)])
    for target in (2.5, 5.0, 10.0, 10.000000000000002, 15.0):
        needed = dash._needed(spreads, target)
        assert needed.tolist() == [stats.evaluations_needed(s, target) for s in spreads.tolist()], target


def test_pass_rates_are_qa_stats_wilson_intervals(data):
    table = dash.criterion_priorities(data, dash.filter_mask(data.evaluations, dash.Filters()))
    assert len(table) > 10
    for row in table.itertuples():
        expected = wilson_interval(row.failed, row.answered)
        assert (row.failure_rate, row.low, row.high) == (expected.proportion, expected.low, expected.high)


def test_filters_narrow_every_chart(data):
    frame = data.evaluations
    some_team = sorted(set(frame.loc[frame["channel"] == "phone", "team"].astype(str)))[0]
    months = sorted(set(frame["month"].astype(str)))
    filters = dash.Filters(start_month=months[1], end_month=months[-2], teams=(some_team,), channels=("phone",))
    view = dash.dashboard_view(data, filters)
    kept = frame[
        (frame["month"].astype(str) >= months[1])
        & (frame["month"].astype(str) <= months[-2])
        & (frame["team"] == some_team)
        & (frame["channel"] == "phone")
        & (frame["status"] == "approved")
    ]
    assert view.count == len(kept) > 0
    assert view.distribution["count"].sum() == kept["overall"].notna().sum()
    assert set(view.behaviours["channel"]["group"]) == {"phone"}
    assert view.trend["period"].between(months[1], months[-2]).all()
    options = dash.filter_options(data)
    assert some_team in options["team"] and "phone" in options["channel"]


def test_sample_completion_counts_drawn_assigned_evaluated_approved():
    at = datetime(2025, 5, 2, tzinfo=UTC)
    draw = Draw(
        id="d1", plan={}, seed=1, frame_hash="h", created_at=at, created_by="lea", selected=["i1", "i2", "i3", "i4"]
    )
    assignments = [
        Assignment(
            draw_id="d1", interaction_id="i1", employee_id="E", evaluator="ana", status="done", evaluation_id="ev1"
        ),
        Assignment(
            draw_id="d1", interaction_id="i2", employee_id="E", evaluator="ana", status="done", evaluation_id="ev2"
        ),
        Assignment(draw_id="d1", interaction_id="i3", employee_id="E", evaluator="ana"),
        Assignment(draw_id="d1", interaction_id="i4", employee_id="E", evaluator="ana", status="cancelled"),
    ]
    people, evaluations = synthetic.evaluations(CARDS["phone_call"], "v", 2, n_employees=4)
    evaluations = [
        evaluations[0].model_copy(update={"id": "ev1"}),
        evaluations[1].model_copy(update={"id": "ev2", "status": "submitted"}),
    ]
    data = dash.build_dashboard(evaluations, people, CARDS, draws=[draw], assignments=assignments)
    row = dash.completion(data, dash.Filters()).iloc[0].to_dict()
    assert row == {"draw_id": "d1", "month": "2025-05", "drawn": 4, "assigned": 3, "evaluated": 2, "approved": 1}
    assert dash.completion(data, dash.Filters(start_month="2025-06")).empty


def test_csv_cannot_smuggle_a_formula():
    frame = pd.DataFrame(
        {
            "name": ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tTab", "plain", None],
            "shift": [-3.5, 1.0, 0.0, 2.0, 3.0, 4.0, np.nan],
            "=header": list("abcdefg"),
        }
    )
    text = dash.safe_csv(frame).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "shift", "'=header"]
    assert [r[0] for r in rows[1:]] == ['\'=HYPERLINK("http://x")', "'+1", "'-2+3", "'@SUM(A1)", "'\tTab", "plain", ""]
    assert rows[1][1] == "-3.5"  # numbers stay numbers


def test_dashboard_and_drift_are_for_qa_leads_only(tmp_path):
    from .calibration_world import open_world

    store = open_world(tmp_path / "data", evaluations=2)
    try:
        with pytest.raises(PermissionDenied):
            dash.load_dashboard(store, Actor("ana", "shopper"))
        with pytest.raises(PermissionDenied):
            dash.drift_report(store, Actor("ana", "shopper"))
        data = dash.load_dashboard(store, Actor("lea", "qa_lead"))
        assert len(data.evaluations) == 2
    finally:
        store.close()


def test_cli_drift_reports_the_planted_evaluator(tmp_path, capsys, demo):
    from qa.store import Store

    store = Store.open(tmp_path / "data")
    store.upsert_employees(demo.employees)
    for loaded in demo.scorecards.values():
        store.remember_scorecard(loaded.id, loaded.version, loaded.card.model_dump(mode="json"))
    store.add_interactions(demo.interactions)
    store.import_evaluations(demo.evaluations, by="demo")
    store.close()
    assert main(["--data", str(tmp_path / "data"), "drift", "--json"]) == 0
    rows = {r["evaluator"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[demo.lenient_evaluator]["flagged"] and rows[demo.lenient_evaluator]["direction"] == "lenient"
    assert main(["--data", str(tmp_path / "data"), "drift"]) == 0
    assert f"{demo.lenient_evaluator}: +" in capsys.readouterr().out
