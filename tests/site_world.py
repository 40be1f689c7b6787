"""A small, fully known world for the coaching-site tests, written through the real store.

Employees in two teams; evaluations on the real mystery-visit and phone-call scorecards, scored
for real by `qa.scoring.score`, in every status; comments that carry traps (HTML, a phone number,
a customer reference, a colleague's name). `site_data()` gives fixed tokens for golden output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

from qa.scorecard_model import Points, Rating, Scorecard
from qa.scorecards import load_all
from qa.scoring import score
from qa.store import Store

XSS_NAME = '"><img src=x onerror=alert(1)>'
XSS_COMMENT = "<script>alert(1)</script>"
CUSTOMER_REF = "CLI-0042424"
PHONE = "06 12 34 56 78"
UNAPPROVED_MARKER = "UNAPPROVED-MARKER"
RECORDING = "recordings/secret-call.wav"

EMPLOYEES = [
    {"id": "E1", "display_name": "Alice Martin", "team": "Vente", "site": "Lyon"},
    {"id": "E2", "display_name": "Bruno Petit", "team": "Vente", "site": "Paris"},
    {"id": "E3", "display_name": XSS_NAME, "team": "Centre <b>d'appels</b>", "site": "Lille"},
    {"id": "E4", "display_name": "Chloé Durand", "team": "Centre <b>d'appels</b>", "site": "Lille"},
]
START = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)


def answers(card: Scorecard, failing: Iterable[str] = ()) -> dict[str, Any]:
    """Best answers everywhere, worst on the `failing` criteria."""
    failing = set(failing)
    out: dict[str, Any] = {}
    for criterion in card.criteria():
        scale = criterion.scale
        bad = criterion.id in failing
        if isinstance(scale, Rating):
            out[criterion.id] = scale.min if bad else scale.max
        elif isinstance(scale, Points):
            out[criterion.id] = 0 if bad else scale.max
        else:
            out[criterion.id] = "no" if bad else "yes"
    return out


@dataclass
class World:
    """What was written, so tests can compute the expected numbers themselves."""

    store: Store
    data_dir: Path
    cards: dict[str, Any]
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0

    def add(
        self,
        employee: str,
        card_id: str = "mystery_visit",
        *,
        failing: Iterable[str] = (),
        status: str = "approved",
        days: int = 0,
        comments: Mapping[str, str] | None = None,
        debrief: Mapping[str, str] | None = None,
        scenario: str = "enquiry",
    ) -> dict[str, Any]:
        """Write one evaluation (with its call for the phone scorecard) and return it."""
        self.count += 1
        loaded = self.cards[card_id]
        started = START + timedelta(days=days, minutes=self.count)
        result = score(loaded.card, answers(loaded.card, failing))
        doc: dict[str, Any] = {
            "id": f"ev-{self.count:03d}",
            "scorecard_id": card_id,
            "scorecard_version": loaded.version,
            "evaluator": "shopper1" if card_id == "mystery_visit" else "lead1",
            "employee_id": employee,
            "channel": "face_to_face" if card_id == "mystery_visit" else "phone",
            "started_at": started,
            "submitted_at": started + timedelta(hours=1),
            "updated_at": started + timedelta(hours=2),
            "answers": answers(loaded.card, failing),
            "comments": dict(comments or {}),
            "debrief": dict(debrief or {}),
            "score": result.to_dict(),
            "status": status,
            "visit": {"scenario": scenario, "site": "Magasin test"},
        }
        if card_id == "phone_call":
            call_id = f"call-{self.count:03d}"
            self.store.add_interactions([{
                "id": call_id, "employee_id": employee, "channel": "phone", "started_at": started,
                "duration_seconds": 120, "recording": RECORDING, "customer_ref": CUSTOMER_REF,
            }])  # fmt: skip
            doc["interaction_id"] = call_id
        self.store.import_evaluations([doc], by="test")
        self.evaluations.append(doc)
        return doc

    def approved_overall(self, employee: str) -> list[float]:
        return [
            e["score"]["overall"]
            for e in self.evaluations
            if e["employee_id"] == employee and e["status"] == "approved"
        ]


def open_store(data_dir: Path) -> Store:
    return Store.open(data_dir, backup_every=None)


def make_world(tmp_path: Path) -> World:
    """Four employees and a dozen evaluations with known scores, traps and every status."""
    data_dir = tmp_path / "data"
    store = open_store(data_dir)
    cards = {key: value for key, value in load_all().items() if key in ("mystery_visit", "phone_call")}
    for loaded in cards.values():
        store.remember_scorecard(loaded.id, loaded.version, loaded.card.model_dump(mode="json"))
    store.upsert_employees(EMPLOYEES)
    world = World(store, data_dir, cards)
    # Alice: five approved visits, weak on the solution behaviour (a balanced-service note).
    weak = ["solution_or_alternative", "acted_promptly", "accurate_information", "asked_customer_ideas"]
    for day in range(5):
        world.add("E1", failing=weak if day % 2 == 0 else weak[:2], days=day * 24,
                  comments={"solution_or_alternative": f"Aucune alternative proposée. {XSS_COMMENT}",
                            "general": f"Bruno Petit était en pause. Rappel au {PHONE}."},
                  debrief={"what_differently": "Proposer une alternative.",
                           "<i>unknown_question</i>": f"<b>Réponse</b> {XSS_COMMENT}"})  # fmt: skip
    world.add("E1", status="submitted", comments={"general": f"{UNAPPROVED_MARKER} submitted"})
    world.add("E1", status="returned", comments={"general": f"{UNAPPROVED_MARKER} returned"})
    world.add("E1", status="disputed", comments={"general": f"{UNAPPROVED_MARKER} disputed"})
    # Bruno: a single approved call: not enough to conclude.
    world.add("E2", "phone_call", failing=["open_questions"], comments={"general": f"Client {CUSTOMER_REF} rappelé."})
    # E3 (a hostile name): three approved calls, one with a failed critical criterion.
    for day, failing in enumerate([[], ["open_questions"], ["privacy_protected"]]):
        world.add("E3", "phone_call", failing=failing, days=day * 30,
                  comments={"general": "Alice Martin a repris l'appel."})  # fmt: skip
    # Chloé: nothing approved yet.
    world.add("E4", status="submitted")
    # A sample draw: three calls to evaluate in team Vente (one done, one open, one cancelled).
    calls = ["draw-call-1", "draw-call-2", "draw-call-3"]
    store.save_draw(
        {"id": "draw-1", "plan": {"per_employee": 1}, "seed": 7, "frame_hash": "abc", "created_at": START,
         "created_by": "lead1", "selected": calls},
        [{"draw_id": "draw-1", "interaction_id": call, "employee_id": employee, "evaluator": "lead1", "status": status}
         for call, employee, status in zip(calls, ["E1", "E2", "E2"], ["done", "open", "cancelled"], strict=True)],
    )  # fmt: skip
    return world


def tokens_fixed(employee_ids: Iterable[str]) -> dict[str, str]:
    """Deterministic stand-ins for the store's random tokens (golden output only)."""
    return {e: f"golden-token-{e.lower():0>4}-aaaaaaaaaaaa" for e in employee_ids}


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def site_files(root: Path) -> dict[str, bytes]:
    """Every file of a built site by relative path (plotly.js left out: 4.8 MB of vendor code)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "plotly.min.js"
    }
