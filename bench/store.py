"""Store figures at 1k, 10k and 100k evaluations (1,000 employees, 10 interactions per evaluation).

Each level builds a fresh data folder in bulk (add_interactions, import_evaluations), then measures
opening it, single durable submits on top of it, one employee's evaluations and a month's, then
whole-table reads in a freshly opened store (iter_evaluations, evaluation_rows, interactions_in,
interaction_frame). "cold" = the first call after opening (files parsed); "warm" = later calls (cache).
Daily automatic backups are off while measuring; their cost is measured on its own at the end.
Targets at 100k evaluations / 1M interactions: open <= 2 s, submit p95 <= 20 ms, employee <= 10 ms,
month <= 200 ms.   Usage: python bench/store.py [LEVEL ...]   (default: 1000 10000 100000)
"""

from __future__ import annotations

import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.auth import Actor
from qa.dashboard import load_dashboard
from qa.store import Store

EMPLOYEES = 1000
PARIS = [timezone(timedelta(hours=1)), timezone(timedelta(hours=2))]
START = datetime(2025, 1, 1, 8, tzinfo=UTC)
YEAR_SECONDS = 365 * 24 * 3600 - 86400
ANSWERS = ["yes", "no", "na", 1, 2, 3, 4]


def _moment(rng: random.Random) -> str:
    moment = START + timedelta(seconds=rng.randrange(YEAR_SECONDS))
    return moment.astimezone(PARIS[4 <= moment.month <= 9]).isoformat()


def interactions(n: int, rng: random.Random) -> list[dict]:
    return [
        {
            "id": f"call-{i:08d}",
            "employee_id": f"emp-{rng.randrange(EMPLOYEES):04d}",
            "channel": "phone",
            "started_at": _moment(rng),
            "duration_seconds": rng.randrange(30, 1800),
            "recording": f"recordings/2025/call-{i:08d}.mp3",
            "customer_ref": f"CUST-{rng.randrange(10**6):06d}",
        }
        for i in range(n)
    ]


BEHAVIOURS = ("courtesy", "listening", "empathy", "solution")


def _snapshot(answers: dict, rng: random.Random) -> dict:
    """A score snapshot shaped like qa.scoring's: sections with behaviours, one result per criterion."""
    criteria = {
        key: {
            "id": key,
            "section": BEHAVIOURS[j % 4],
            "value": value,
            "fraction": None if value == "na" else 1.0,
            "passed": None if value == "na" else value not in ("no", 1, 2),
            "weight": 1.0,
            "critical": j == 0,
        }
        for j, (key, value) in enumerate(answers.items())
    }
    return {
        "overall": round(rng.random() * 100, 1),
        "band": "good",
        "critical_failed": False,
        "critical_failures": [],
        "complete": True,
        "sections": {
            b: {"id": b, "behaviour": b, "score": round(rng.random() * 100, 1), "answered": 8} for b in BEHAVIOURS
        },
        "criteria": criteria,
    }


def evaluation(i: int, rng: random.Random, started_at: str | None = None, prefix: str = "ev") -> dict:
    """About 5 KB of JSON, like a real phone-call evaluation (the score snapshot is most of it)."""
    answers = {f"c{j:02d}": rng.choice(ANSWERS) for j in range(32)}
    return {
        "id": f"{prefix}-{i:08d}",
        "scorecard_id": "phone_call",
        "scorecard_version": "3f2a9c1d7b6e",
        "evaluator": f"shopper{rng.randrange(40):02d}",
        "employee_id": f"emp-{rng.randrange(EMPLOYEES):04d}",
        "interaction_id": f"call-{i * 10:08d}",
        "channel": "phone",
        "started_at": started_at or _moment(rng),
        "answers": answers,
        "comments": {
            "c03": "Le conseiller n'a pas reformulé la demande du client avant de répondre.",
            "c11": "Attente de quatre minutes sans message d'excuse ni proposition de rappel.",
        },
        "debrief": {
            "strength": "Accueil chaleureux, voix souriante et posée",
            "improve": "Reformuler la demande, proposer un rendez-vous, conclure par une synthèse",
        },
        "photos": [],
        "status": "approved" if i % 5 else "submitted",
        "score": _snapshot(answers, rng),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def timed(fn, *args):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def level(n: int, root: Path) -> list[tuple[str, str, str]]:
    rng = random.Random(n)
    rows: list[tuple[str, str, str]] = []
    data = root / f"store-{n}"
    store = Store.open(data)
    store.upsert_employees(
        {"id": f"emp-{i:04d}", "display_name": f"Employé {i}", "team": f"t{i % 20}", "site": f"site{i % 50}"}
        for i in range(EMPLOYEES)
    )
    store.remember_scorecard("phone_call", "3f2a9c1d7b6e", {"id": "phone_call", "sections": []})
    calls = interactions(n * 10, rng)
    t, added = timed(store.add_interactions, calls)
    rows.append((f"add_interactions ({added:,} in bulk)", f"{t:8.2f} s ", ""))
    t, added = timed(store.add_interactions, calls)
    rows.append((f"add_interactions again ({added:,} added)", f"{t:8.2f} s ", "small"))
    moved = [{**c, "started_at": "2026-06-01T10:00:00+02:00"} for c in calls[:1000]]
    t, added = timed(store.add_interactions, moved)
    rows.append((f"the same ids in another month ({added:,} added)", ms(t), "0 added"))
    del calls, moved
    evs = [evaluation(i, rng) for i in range(n)]
    t, added = timed(partial(store.import_evaluations, by="bench"), evs)
    rows.append((f"import_evaluations ({added:,} in bulk)", f"{t:8.2f} s ", ""))
    del evs
    store.close()

    t, store = timed(partial(Store.open, backup_every=None), data)
    rows.append(("open the store", ms(t), "<= 2000 ms"))

    submits = []
    c0 = time.process_time()
    for i in range(200):
        ev = evaluation(i, rng, started_at=f"2025-12-{rng.randrange(1, 29):02d}T10:00:00+01:00", prefix="new")
        ev["status"] = "submitted"
        t0 = time.perf_counter()
        store.submit_evaluation(ev)
        submits.append(time.perf_counter() - t0)
    rows.append(("submit one evaluation, p50", ms(pct(submits, 0.5)), ""))
    rows.append(
        (
            "submit one evaluation, p95",
            ms(pct(submits, 0.95)),
            f"<= 20 ms (cpu mean {ms((time.process_time() - c0) / 200)})",
        )
    )

    people = [f"emp-{rng.randrange(EMPLOYEES):04d}" for _ in range(50)]
    c0 = time.process_time()
    cold = [timed(store.evaluations_for_employee, p)[0] for p in people]
    c1 = time.process_time()
    warm = [timed(store.evaluations_for_employee, p)[0] for p in people]
    c2 = time.process_time()
    count = len(store.evaluations_for_employee(people[0]))
    rows.append(
        (f"an employee's evaluations ({count}), cold p95", ms(pct(cold, 0.95)), f"(cpu mean {ms((c1 - c0) / 50)})")
    )
    rows.append(
        ("an employee's evaluations, warm p95", ms(pct(warm, 0.95)), f"<= 10 ms (cpu mean {ms((c2 - c1) / 50)})")
    )
    evaluators = [f"shopper{i:02d}" for i in range(3)]
    cold = [timed(partial(store.evaluations_by_evaluator, months=["2025-11", "2025-12"]), e)[0] for e in evaluators]
    warm = [timed(partial(store.evaluations_by_evaluator, months=["2025-11", "2025-12"]), e)[0] for e in evaluators]
    rows.append(("an evaluator's last 2 months, cold / warm max", f"{ms(max(cold))} / {ms(max(warm))}", ""))

    c0 = time.process_time()
    t, month = timed(store.evaluations_in_month, "2025-06")
    rows.append((f"evaluations of a month ({len(month):,}), cold", ms(t), f"(cpu {ms(time.process_time() - c0)})"))
    warm = [timed(store.evaluations_in_month, "2025-06")[0] for _ in range(5)]
    rows.append(("evaluations of a month, warm p95", ms(pct(warm, 0.95)), "<= 200 ms"))

    ids = [f"ev-{rng.randrange(n):08d}" for _ in range(50)]
    gets = [timed(store.get_evaluation, i)[0] for i in ids]
    rows.append(("get_evaluation by id, first (reads headers)", ms(gets[0]), ""))
    rows.append(("get_evaluation by id, then p95", ms(pct(gets[1:], 0.95)), ""))

    t, _ = timed(store.backup)
    rows.append(("backup, the first (copies everything)", ms(t), ""))
    store.submit_evaluation({**evaluation(n, rng, prefix="last"), "status": "submitted"})
    t, _ = timed(store.backup)
    rows.append(("backup, the next (copies changed files)", ms(t), ""))
    store.close()
    return rows + whole_table_reads(data, n)


def cpu(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Wall and CPU seconds of one call (CPU time does not grow with the machine's load)."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t0, time.process_time() - c0, result


def seconds(wall: float, cpu_s: float) -> str:
    return f"{wall:6.2f} s (cpu {cpu_s:5.2f} s)"


def whole_table_reads(data: Path, n: int) -> list[tuple[str, str, str]]:
    """Whole-table reads in a freshly opened store: the first call (cold) and the next (warm)."""
    rows: list[tuple[str, str, str]] = []
    store = Store.open(data, backup_every=None)
    year = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    if hasattr(store, "count_evaluations"):
        wall, c, count = cpu(store.count_evaluations, status="approved")
        rows.append((f"count_evaluations(approved) ({count:,})", seconds(wall, c), "<= 0.2 s"))
    for label in ("cold", "warm"):
        wall, c, count = cpu(lambda: sum(1 for _ in store.iter_evaluations()))
        rows.append((f"iter_evaluations ({count:,}), {label}", seconds(wall, c), ""))
    if hasattr(store, "evaluation_rows"):
        for label in ("cold", "warm"):
            wall, c, frame = cpu(store.evaluation_rows, criteria=True)
            rows.append((f"evaluation_rows ({len(frame):,} x {frame.shape[1]}), {label}", seconds(wall, c), ""))
    for label in ("first", "again"):
        wall, c, data_ = cpu(load_dashboard, store, Actor("lead", "qa_lead"))
        rows.append((f"load_dashboard ({len(data_.evaluations):,}), {label}", seconds(wall, c), ""))
    wall, c, found = cpu(store.interactions_in, *year)
    rows.append((f"interactions_in, a year ({len(found):,})", seconds(wall, c), ""))
    del found
    if hasattr(store, "interaction_frame"):
        store.close()
        store = Store.open(data, backup_every=None)
        for label in ("cold", "warm"):
            wall, c, frame = cpu(store.interaction_frame, *year)
            rows.append((f"interaction_frame, a year ({len(frame):,}), {label}", seconds(wall, c), "<= 2 s cold"))
    store.close()
    return rows


def main(levels: list[int]) -> None:
    started = time.perf_counter()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"(machine: {os.cpu_count()} cores, load average {load} before starting)")
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        for n in levels:
            print(f"\n== {n:,} evaluations, {EMPLOYEES:,} employees, {n * 10:,} interactions")
            for name, value, target in level(n, Path(tmp)):
                print(f"  {name:<46}{value}   {target}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(total {time.perf_counter() - started:.0f} s, peak memory {rss:.0f} MB)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000, 100000])
