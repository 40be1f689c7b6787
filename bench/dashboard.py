"""Dashboard speed at 100,000 evaluations: the one-off build, then each interaction (filters -> every chart).

    .venv/bin/python bench/dashboard.py [--evaluations N]

The page builds `DashboardData` once per change of the store (cached) and calls `dashboard_view`
on every widget change: that call, plus drawing, must stay under a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import dashboard as dash  # noqa: E402
from qa.scorecards import load_all  # noqa: E402
from tests import synthetic  # noqa: E402


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=100_000)
    args = parser.parse_args()
    loaded = load_all()
    cards = {card_id: sc.card for card_id, sc in loaded.items()}
    card = loaded["phone_call"]
    start = time.perf_counter()
    people, evaluations = synthetic.evaluations(card.card, card.version, args.evaluations, n_employees=400, months=12)
    print(f"synthetic evaluations: {len(evaluations):,} in {time.perf_counter() - start:.2f} s (not part of the app)")

    start = time.perf_counter()
    data = dash.build_dashboard(evaluations, people, cards)
    print(f"build_dashboard (once per store change, cached): {time.perf_counter() - start:.2f} s")

    everything = dash.Filters()
    months = dash.filter_options(data)["month"]
    narrow = dash.Filters(start_month=months[2], end_month=months[-3], teams=("north",), sites=("lyon", "paris"))
    for name, filters in (("no filter", everything), ("team+sites+months", narrow)):
        seconds, view = timed(lambda f=filters: dash.dashboard_view(data, f))
        print(f"dashboard_view, {name} ({view.count:,} evaluations): {1000 * seconds:.0f} ms (median of 5)")

    frame = data.evaluations[dash.filter_mask(data.evaluations, everything)]
    mask = dash.filter_mask(data.evaluations, everything)
    charts = {
        "filter_mask": lambda: dash.filter_mask(data.evaluations, narrow),
        "score_distribution": lambda: dash.score_distribution(frame),
        "behaviours_by(team)": lambda: dash.behaviours_by(frame, "team"),
        "trend(month)": lambda: dash.trend(frame),
        "trend(week)": lambda: dash.trend(frame, "week"),
        "coaching_priorities": lambda: dash.coaching_priorities(frame),
        "criterion_priorities": lambda: dash.criterion_priorities(data, mask),
        "drift": lambda: dash.drift(frame),
        "safe_csv(trend by week)": lambda: dash.safe_csv(dash.trend(frame, "week")),
    }
    for name, fn in charts.items():
        seconds, _ = timed(fn)
        print(f"  {name}: {1000 * seconds:.1f} ms")


if __name__ == "__main__":
    main()
