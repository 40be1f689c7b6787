"""A small real store for calibration, dispute and dashboard tests: users, calls, evaluations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from qa.auth import Actor
from qa.models import Employee, Evaluation, Interaction, User
from qa.scorecards import LoadedScorecard, load_scorecard
from qa.scoring import score
from qa.store import Store

from .conftest import FIXTURES

LEAD = Actor("lea", "qa_lead")
EVALUATORS = ("ana", "bruno", "chloe", "david")
UNITS = ("I1", "I2", "I3")
T0 = datetime(2025, 3, 3, 10, tzinfo=UTC)


def mini() -> LoadedScorecard:
    return load_scorecard(FIXTURES / "mini.yaml")


def open_world(data: Path, *, evaluations: int = 0) -> Store:
    """A store with a QA lead, four shoppers, an employee, three calls and some approved evaluations."""
    store = Store.open(data)
    store.upsert_employees([Employee(id="E1", display_name="Emma Petit", team="north", site="lyon")])
    for name, role in [("lea", "qa_lead"), *((n, "shopper") for n in EVALUATORS), ("zoe", "shopper")]:
        store.add_user(User(name=name, display_name=name.title(), role=role, password_hash="not-a-hash", created_at=T0))  # noqa: S106 - nobody signs in here
    store.add_interactions(
        Interaction(
            id=unit,
            employee_id="E1",
            channel="face_to_face",
            started_at=T0 + timedelta(hours=i),
            recording=f"recordings/{unit}.mp3",
            customer_ref="CUSTOMER-SECRET",
        )
        for i, unit in enumerate(UNITS)
    )
    loaded = mini()
    store.remember_scorecard(loaded.id, loaded.version, loaded.card.model_dump(mode="json"))
    for i in range(evaluations):
        add_evaluation(store, f"ev{i}", {"greet": "yes", "thanks": "yes", "quality": 3, "steps": 2})
    return store


def add_evaluation(store: Store, evaluation_id: str, answers: dict[str, Any], *, approve: bool = True) -> Evaluation:
    loaded = mini()
    evaluation = store.submit_evaluation(
        Evaluation(
            id=evaluation_id,
            scorecard_id=loaded.id,
            scorecard_version=loaded.version,
            evaluator="ana",
            employee_id="E1",
            interaction_id="I1",
            channel="face_to_face",
            started_at=T0,
            answers=answers,
            score=score(loaded.card, answers).to_dict(),
        )
    )
    if approve:
        evaluation = store.update_evaluation(evaluation_id, {"status": "approved"}, by="lea", action="approve")
    return evaluation
