"""Sampling at scale: drawing a plan over 1,000,000 interactions and 1,000 employees (target <= 2 s)
and importing a 1,000,000-row French CSV export (target <= 15 s). Prints wall and CPU seconds.

    .venv/bin/python bench/sampling.py [--rows N] [--employees N] [--skip-store]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.draws import period_frame, run_draw
from qa.interactions import ColumnMapping, check_rows, import_interactions, read_table
from qa.models import Employee, User
from qa.sampling import SamplingPlan, assign_evaluators, draw_sample
from qa.store import Store

MAPPING = ColumnMapping(
    columns={
        "id": "Id appel",
        "employee_id": "Matricule",
        "channel": "Canal",
        "started_at": "Date début",
        "duration_seconds": "Durée (s)",
        "customer_ref": "Réf. client",
    }
)


def timed(fn, repeat: int = 1) -> tuple[float, float, object]:
    """Median wall and CPU seconds of `repeat` runs, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def synthetic_frame(rows: int, employees: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-12-01", tz="Europe/Paris").value
    return pd.DataFrame(
        {
            "id": pd.array([f"APL-{i:09d}" for i in rng.permutation(rows)], dtype="str"),
            "employee_id": pd.array([f"A{i:05d}" for i in rng.integers(0, employees, rows)], dtype="str"),
            "channel": pd.array(rng.choice(["phone", "email", "chat"], rows, p=[0.8, 0.1, 0.1]), dtype="str"),
            "start": (start + rng.integers(0, 31 * 86_400 * 10**9, rows)).astype(np.int64),
            "duration": rng.integers(5, 1200, rows).astype(np.float64),
        }
    )


def french_csv(path: Path, rows: int, employees: int, seed: int = 2) -> None:
    rng = np.random.default_rng(seed)
    minutes = rng.integers(0, 31 * 24 * 60, rows)
    stamps = pd.Timestamp("2026-12-01") + pd.to_timedelta(minutes, unit="min")
    frame = pd.DataFrame(
        {
            "Id appel": [f"APL-{i:09d}" for i in range(rows)],
            "Matricule": [f"A{i:05d}" for i in rng.integers(0, employees, rows)],
            "Canal": rng.choice(["Téléphone", "Appel entrant", "Tchat", "Courriel"], rows),
            "Date début": stamps.strftime("%d/%m/%Y %H:%M"),
            "Durée (s)": [f"{s // 10},{s % 10}" for s in rng.integers(50, 9000, rows).tolist()],
            "Réf. client": [f"CLI-{c}" for c in rng.integers(0, 10**6, rows).tolist()],
        }
    )
    frame.to_csv(path, sep=";", index=False, encoding="latin-1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--employees", type=int, default=1_000)
    parser.add_argument("--skip-store", action="store_true", help="time parsing only, not the store's write")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} CPU(s), load average {load:.1f} (wall times grow with the load; CPU times do not)"
    )
    frame = synthetic_frame(args.rows, args.employees)
    people = sorted(set(frame["employee_id"].tolist()))
    plan = SamplingPlan(period="2026-12", quota=4, strata=("channel", "week"), min_duration=30)
    draw_sample(plan, frame.head(1000), 0, employees=people)  # warm imports and caches
    wall, cpu, selection = timed(lambda: draw_sample(plan, frame, 42, employees=people), repeat=3)
    print(
        f"draw: {args.rows:,} interactions, {len(people):,} employees, strata channel x week -> "
        f"{len(selection.selected):,} drawn: {wall:.2f} s wall, {cpu:.2f} s CPU (target <= 2 s)"
    )
    items = [(i, selection.employees_of[i]) for i in selection.selected]
    pool = [f"lead{i:02d}" for i in range(20)]
    wall, cpu, _ = timed(lambda: assign_evaluators(items, pool, 42), repeat=3)
    print(f"assign: {len(items):,} interactions to {len(pool)} evaluators: {wall:.2f} s wall, {cpu:.2f} s CPU")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        french_csv(path, args.rows, args.employees)
        size = path.stat().st_size / 2**20
        data = path.read_bytes()
        wall, cpu, checked = timed(lambda: check_rows(read_table(data, path.name), MAPPING))
        print(
            f"import read+check: {args.rows:,}-row French CSV ({size:.0f} MiB, Latin-1, ';', decimal comma) -> "
            f"{checked.rows:,} checked rows: {wall:.2f} s wall, {cpu:.2f} s CPU"
        )
        del checked
        if not args.skip_store:
            with Store.open(Path(tmp) / "data", backup_every=None) as store:
                store.upsert_employees(
                    [Employee(id=f"A{i:05d}", display_name=f"Agent {i}") for i in range(args.employees)]
                )
                wall, cpu, report = timed(lambda: import_interactions(store, data, path.name, MAPPING))
                print(
                    f"import total (read, check, store): {report.added:,} added: {wall:.2f} s wall, "
                    f"{cpu:.2f} s CPU (target <= 15 s)"
                )
                wall, cpu, report = timed(lambda: import_interactions(store, data, path.name, MAPPING))
                print(
                    f"import again (idempotent): {report.added:,} added, {report.already_present:,} present: "
                    f"{wall:.2f} s wall, {cpu:.2f} s CPU"
                )
                store.add_user(
                    User(
                        name="lead",
                        display_name="Lead",
                        role="qa_lead",
                        password_hash="!",  # noqa: S106
                        created_at=datetime.now(UTC),
                    )
                )
                draw_plan = SamplingPlan(period="2026-12", quota=4, strata=("channel", "week"), min_duration=30)
                wall, cpu, frame_rows = timed(lambda: len(period_frame(store, draw_plan)))
                print(f"store -> frame: {frame_rows:,} interactions read: {wall:.2f} s wall, {cpu:.2f} s CPU")
                wall, cpu, outcome = timed(lambda: run_draw(store, draw_plan, seed=1))
                print(
                    f"draw end to end (read the store, draw, assign, record): {len(outcome.draw.selected):,} "
                    f"drawn: {wall:.2f} s wall, {cpu:.2f} s CPU"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
