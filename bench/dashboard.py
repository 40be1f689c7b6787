"""Dashboard speed at 100,000 evaluations: the first open in a fresh process, then each filter change.

    .venv/bin/python bench/dashboard.py [--evaluations N] [--changes K]

The data folder (bench/out/dashboard-100k: the demo's 1,000 employees and 100,000 evaluations,
one draw a month with its assignments, a QA lead) is built once (~2 min) and reused.

1. Fresh process, direct calls: what `load_dashboard` costs piece by piece in a process that has
   never read the store (the store's column views already on disk, as after any earlier run),
   then `dashboard_view` for a few filter sets.
2. Fresh process, the page in Streamlit's AppTest: a QA lead's landing page through the entry
   script (the store is opened there, as in the app; after drawing it the entry imports
   qa.dashboard in a background thread), then the first open of pages/dashboard.py once that
   warm-up ended (a second run opens it at once, the warm-up still under way: the worst case),
   then K filter changes (channel, team, site, period, scorecard, submitted, grouping),
   each a whole rerun of the page. AppTest's own bookkeeping is included: an upper bound of the
   server's time. Target: <= 1 s for the first open and for every interaction.

Wall and CPU time (time.process_time: every thread of the process) are printed for each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
LEAD = "bench-lead"


def data_folder(evaluations: int) -> Path:
    """A data folder with `evaluations` demo evaluations, draws and a QA lead (built once, then reused)."""
    from qa.auth import hash_password
    from qa.demo import demo_records, write_demo
    from qa.models import Assignment, Draw, User
    from qa.store import Store

    folder = OUT / f"dashboard-{evaluations // 1000}k"
    done = folder / ".complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    data = demo_records(1000 if evaluations > 1000 else 40, evaluations, seed=11, today=date(2025, 6, 15))
    with Store.open(folder, backup_every=None) as store:
        write_demo(store, data)
        store.add_user(
            User(name=LEAD, display_name="Bench lead", role="qa_lead",
                 password_hash=hash_password("bench-password"), created_at=datetime.now(UTC))
        )  # fmt: skip
        by_month: dict[str, list[Any]] = {}
        for ev in data.evaluations:
            if ev.interaction_id:
                by_month.setdefault(ev.month, []).append(ev)
        for month, scored in sorted(by_month.items()):
            picked = scored[:: max(1, len(scored) // 400)][:400]
            draw = Draw(
                id=f"draw-{month}", plan={"per_employee": 1}, seed=1, frame_hash="bench",
                created_at=datetime.fromisoformat(f"{month}-01T08:00:00+00:00"), created_by=LEAD,
                selected=[ev.interaction_id for ev in picked] + [f"missing-{month}-{i}" for i in range(40)],
            )  # fmt: skip
            assignments = [
                Assignment(
                    draw_id=draw.id,
                    interaction_id=ev.interaction_id,
                    employee_id=ev.employee_id,
                    evaluator=ev.evaluator,
                    status="done",
                    evaluation_id=ev.id,
                )
                for ev in picked[:360]
            ]
            store.save_draw(draw, assignments)
    done.touch()
    print(f"built {folder} ({evaluations:,} evaluations) in {time.perf_counter() - started:.0f} s")
    return folder


def measured(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def fmt(wall: float, cpu: float) -> str:
    return f"{wall:.3f} s wall, {cpu:.3f} s CPU"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


# --- the children: each runs in a fresh process ----------------------------------------------------


def child_direct(folder: Path) -> None:
    from qa import dashboard as dash
    from qa.auth import Actor
    from qa.scorecards import load_all
    from qa.store import Store

    store = Store.open(folder)
    lines = []
    w, c, loaded = measured(load_all)
    cards = {k: v.card for k, v in loaded.items()}
    lines.append(f"load_all (the scorecards' YAML; the app caches it): {fmt(w, c)}")
    w, c, _ = measured(lambda: dash.data_stamp(store))
    lines.append(f"data_stamp (checked on every rerun): {fmt(w, c)}")
    w, c, rows = measured(lambda: store.evaluation_rows(criteria=True))
    lines.append(f"store.evaluation_rows(criteria=True) ({len(rows):,} rows): {fmt(w, c)}")
    w, c, other = measured(lambda: (store.list_employees(), store.list_draws(), store.assignments()))
    lines.append(f"employees, draws, assignments: {fmt(w, c)}")
    w, c, data = measured(lambda: dash.build_dashboard(rows, other[0], cards, draws=other[1], assignments=other[2]))
    lines.append(f"build_dashboard: {fmt(w, c)}")
    store.close()
    store = Store.open(folder)
    w, c, _ = measured(lambda: dash.load_dashboard(store, Actor(LEAD, "qa_lead"), cards=cards))
    lines.append(f"load_dashboard again (views now in memory): {fmt(w, c)}")
    months = dash.filter_options(data)["month"]
    teams = dash.filter_options(data)["team"]
    for name, filters in (
        ("no filter", dash.Filters()),
        ("one channel", dash.Filters(channels=("phone",))),
        ("team + 4 months", dash.Filters(teams=tuple(teams[:1]), start_month=months[1], end_month=months[-2])),
        ("submitted too, by week", dash.Filters(statuses=("approved", "submitted"))),
    ):
        runs = [measured(lambda f=filters: dash.dashboard_view(data, f, period="week")) for _ in range(5)]
        view = runs[0][2]
        lines.append(
            f"dashboard_view, {name} ({view.count:,} evaluations): median "
            f"{1000 * statistics.median(r[0] for r in runs):.0f} ms wall, "
            f"{1000 * statistics.median(r[1] for r in runs):.0f} ms CPU"
        )
    print(json.dumps({"lines": lines}))


def child_page(folder: Path, changes: int, at_once: bool) -> None:
    os.environ["QA_DATA_DIR"] = str(folder)
    from streamlit.testing.v1 import AppTest

    from qa.auth import Actor
    from ui import session

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.session_state[session.TOKEN] = session._sessions().start(Actor(LEAD, "qa_lead"))
    w, c, _ = measured(at.run)
    lines = [f"sign-in landing page (entry script, store opened): {fmt(w, c)}"]
    warm_up = next((th for th in threading.enumerate() if th.name == "warm-up"), None)
    if not at_once and warm_up is not None:  # the QA lead reads the landing page meanwhile
        w, c, _ = measured(warm_up.join)
        lines.append(f"the entry's background warm-up (qa.dashboard's imports) ended {w:.3f} s after the landing page")
    at.switch_page("pages/dashboard.py")
    w, c, _ = measured(at.run)
    assert not at.exception, at.exception
    count = next(text.value for text in at.text if "évaluation" in text.value)
    what = "right after the landing page, warm-up under way" if at_once else "after the warm-up"
    lines.append(f"FIRST OPEN of the dashboard ({count}; {what}): {fmt(w, c)} [target <= 1 s]")
    w, c, _ = measured(at.run)
    lines.append(f"plain rerun, nothing changed: {fmt(w, c)}")

    months = list(at.select_slider(key="dash_period").options)
    teams = list(at.multiselect(key="dash_team").options)
    sites = list(at.multiselect(key="dash_site").options)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("channel", lambda: at.multiselect(key="dash_channel").set_value(["phone"])),
        ("team", lambda: at.multiselect(key="dash_team").set_value(teams[:1])),
        ("site", lambda: at.multiselect(key="dash_site").set_value(sites[:2])),
        ("period", lambda: at.select_slider(key="dash_period").set_value((months[1], months[-2]))),
        ("scorecard", lambda: at.multiselect(key="dash_scorecard").set_value(["phone_call"])),
        ("submitted", lambda: at.checkbox(key="dash_submitted").check()),
        ("by week", lambda: at.radio(key="dash_granularity").set_value("week")),
        ("all channels", lambda: at.multiselect(key="dash_channel").set_value([])),
        ("all teams", lambda: at.multiselect(key="dash_team").set_value([])),
        ("all sites", lambda: at.multiselect(key="dash_site").set_value([])),
        ("whole period", lambda: at.select_slider(key="dash_period").set_value((months[0], months[-1]))),
        ("all scorecards", lambda: at.multiselect(key="dash_scorecard").set_value([])),
        ("approved only", lambda: at.checkbox(key="dash_submitted").uncheck()),
        ("by month", lambda: at.radio(key="dash_granularity").set_value("month")),
    ]
    walls, cpus, worst = [], [], ("", 0.0)
    for i in range(changes):
        name, change = steps[i % len(steps)]
        change()
        w, c, _ = measured(at.run)
        assert not at.exception, at.exception
        walls.append(w)
        cpus.append(c)
        worst = max(worst, (name, w), key=lambda item: item[1])
    lines.append(
        f"filter change ({len(walls)} of {len(steps)} kinds, each a new set of filters at first): "
        f"p50 {1000 * statistics.median(walls):.0f} ms / p95 {1000 * percentile(walls, 0.95):.0f} ms wall; "
        f"p50 {1000 * statistics.median(cpus):.0f} ms / p95 {1000 * percentile(cpus, 0.95):.0f} ms CPU "
        f"[target <= 1 s]; slowest: {worst[0]} {1000 * worst[1]:.0f} ms wall"
    )
    print(json.dumps({"lines": lines}))


def run_child(kind: str, folder: Path, *extra: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--folder", str(folder), *extra],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])["lines"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=28)
    parser.add_argument("--child", choices=("direct", "page", "page-at-once"))
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.child == "direct":
        return child_direct(args.folder)
    if args.child in ("page", "page-at-once"):
        return child_page(args.folder, args.changes, args.child == "page-at-once")
    folder = data_folder(args.evaluations)
    print(f"data: {folder}; load average {os.getloadavg()[0]:.2f} (2 cores, shared)")
    for kind, title in (
        ("direct", "fresh process, direct calls"),
        ("page", "fresh process, the page in AppTest"),
        ("page-at-once", "fresh process, the page in AppTest, opened as soon as the landing page is drawn"),
    ):
        print(f"{title}:")
        for line in run_child(kind, folder, "--changes", str(args.changes)):
            print(f"  {line}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
