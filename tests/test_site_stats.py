"""The analysis picks the right strengths, focus areas and lagging behaviour (its intervals are
`qa.stats`' own: tests/test_stats_quantiles.py)."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from qa.stats import Interval
from sitegen.analysis import CriterionStat, lagging_behaviour, strengths_and_focus

scores = st.lists(
    st.one_of(st.floats(min_value=0, max_value=100, allow_nan=False), st.sampled_from([0.0, 50.0, 100.0])),
    max_size=60,
)


def same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            same(a[key], b[key])
        elif isinstance(a[key], float) and isinstance(b[key], float):
            assert math.isclose(a[key], b[key], rel_tol=1e-9, abs_tol=1e-9), key
        else:
            assert a[key] == b[key], key


def stat(cid: str, passes: int, seen: int, impact: float, critical: int = 0) -> CriterionStat:
    return CriterionStat("card", cid, ("v1",), passes, seen, impact, critical)


def test_strengths_prefer_well_established_passes_and_focus_the_costliest() -> None:
    criteria = [
        stat("always_20", 20, 20, 0.0),
        stat("always_3", 3, 3, 0.0),
        stat("nearly", 19, 20, 0.2),
        stat("too_few", 2, 2, 0.0),
        stat("costly", 5, 20, 6.0),
        stat("critical", 18, 20, 9.0, critical=2),
        stat("cheap", 15, 20, 0.4),
        stat("medium", 10, 20, 2.0),
    ]
    strengths, focus = strengths_and_focus(criteria)
    assert [s.criterion_id for s in strengths] == ["always_20", "nearly", "always_3"]
    assert [s.criterion_id for s in focus] == ["critical", "costly", "medium"]


def interval(mean: float, half: float, n: int = 10) -> Interval:
    return Interval(n, mean, mean - half, mean + half, half, "t", 0.95, 5.0)


def test_a_behaviour_lags_only_when_the_gap_is_large_and_beyond_its_interval() -> None:
    even = {"courtesy": interval(85, 5), "listening": interval(80, 5), "empathy": interval(82, 5)}
    assert lagging_behaviour({**even, "solution": interval(60, 5)}).behaviour == "solution"
    assert lagging_behaviour({**even, "solution": interval(60, 30)}) is None  # could be noise
    assert lagging_behaviour({**even, "solution": interval(75, 3)}) is None  # too small to matter
    rude = {
        "courtesy": interval(55, 4),
        "listening": interval(80, 5),
        "empathy": interval(82, 5),
        "solution": interval(88, 4),
    }
    assert lagging_behaviour(rude).behaviour == "courtesy"


def test_the_team_distribution_puts_each_score_in_its_ten_point_bin() -> None:
    """Bins are [0, 10), [10, 20), ... [90, 100]: a perfect score is in the last one."""
    from types import SimpleNamespace

    from sitegen.context_leads import _distribution

    members = [
        SimpleNamespace(scores=(0.0, 9.99, 10.0, 55.5)),
        SimpleNamespace(scores=(100.0, 90.0, 89.9)),
        SimpleNamespace(scores=()),
    ]
    table = _distribution(members, "fr")  # type: ignore[arg-type]
    counts = {row["label"]: row["cells"][0] for row in table["rows"]}
    assert counts == {"0–10": 2, "10–20": 1, "20–30": 0, "30–40": 0, "40–50": 0, "50–60": 1, "60–70": 0,
                      "70–80": 0, "80–90": 1, "90–100": 2}  # fmt: skip
    assert _distribution([], "fr")["chart"] is None  # type: ignore[arg-type]
