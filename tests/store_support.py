"""Helpers for the store tests: a controllable clock, record factories, a store with references."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from qa.errors import QAError
from qa.store import Store

PARIS_SUMMER = timezone(timedelta(hours=2))
SCORECARD = {"id": "phone_call", "version": 1, "sections": [{"id": "greeting"}]}


class Clock:
    """A clock that moves one second per call, so every timestamp differs and tests need no sleep."""

    def __init__(self, start: datetime = datetime(2025, 5, 20, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


_ids = itertools.count(1)


def employee(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"emp-{n:03d}", "display_name": f"Employé {n}", "team": "north", "site": "Lyon", **extra}


def evaluation(employee_id: str = "emp-001", **extra: Any) -> dict[str, Any]:
    """A valid evaluation of a phone call; `extra` overrides any field."""
    n = next(_ids)
    return {
        "id": f"ev-{n:06d}",
        "scorecard_id": "phone_call",
        "scorecard_version": "v1",
        "evaluator": "shopper1",
        "employee_id": employee_id,
        "interaction_id": f"call-{n:06d}",
        "channel": "phone",
        "started_at": datetime(2025, 5, 3, 10, 0, tzinfo=PARIS_SUMMER) + timedelta(minutes=n),
        "answers": {"greeting": "yes", "tone": 4},
        "comments": {"tone": "posé"},
        "debrief": {"plus": "accueil"},
        "score": {"overall": 87.5, "band": "good"},
        **extra,
    }


def interaction(n: int, employee_id: str = "emp-001", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"call-{n:06d}",
        "employee_id": employee_id,
        "channel": "phone",
        "started_at": datetime(2025, 5, 3, 9, 0, tzinfo=PARIS_SUMMER) + timedelta(minutes=n),
        "duration_seconds": 120 + n,
        "customer_ref": f"C{n}",
        **extra,
    }


def open_store(data: Path, storage: str = "durable", clock: Clock | None = None, **options: Any) -> Store:
    """A store with three employees and the scorecard version evaluations refer to."""
    store = Store.open(data, storage=storage, clock=clock or Clock(), **options)
    store.upsert_employees([employee(1), employee(2), employee(3)])
    store.remember_scorecard("phone_call", "v1", SCORECARD)
    return store


def files_of(folder: Path) -> dict[str, bytes]:
    """Every data file's bytes (not backups or the lock): to show that nothing changed."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "backups" not in p.parts and p.name != ".lock"
    }


def at_once(*actions: Callable[[], object]) -> list[str]:
    """Run the actions in threads released together (two app sessions deciding the same thing at
    the same moment); returns the messages of those refused with a QAError."""
    start = threading.Barrier(len(actions))
    refused: list[str] = []

    def run(action: Callable[[], object]) -> None:
        start.wait()
        try:
            action()
        except QAError as error:
            refused.append(str(error))

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return refused
