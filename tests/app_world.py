"""A small world for the app's tests: users with known passwords, employees, a call with its assignment."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from qa.auth import hash_password
from qa.draws import run_draw
from qa.models import User
from qa.sampling import SamplingPlan
from qa.store import Store

PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "lea": "lea-password", "root": "root-password"}
ROLES = {"alice": "shopper", "bob": "shopper", "lea": "qa_lead", "root": "admin"}
EMPLOYEES = [
    {"id": "emp-jean", "display_name": "Jean Dupont", "team": "Vente", "site": "Lyon Part-Dieu"},
    {"id": "emp-sara", "display_name": "Sara Martin", "team": "Accueil", "site": "Lyon Part-Dieu"},
    {"id": "emp-paul", "display_name": "Paul Petit", "team": "Centre d'appels", "site": "Villeurbanne"},
]
CALL = {
    "id": "call-0001",
    "employee_id": "emp-paul",
    "channel": "phone",
    "started_at": datetime(2026, 11, 2, 10, 30, tzinfo=UTC),
    "duration_seconds": 245,
    "recording": "recordings/call-0001.wav",
}


@cache
def _hash(password: str) -> str:
    return hash_password(password)  # argon2 is slow on purpose: once per process is enough


def populate(store, data_dir: Path) -> None:
    """Users (one per role, two shoppers), three employees and one recorded call assigned to lea."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    for name, role in ROLES.items():
        store.add_user(
            User(
                name=name,
                display_name=name.title(),
                role=role,
                password_hash=_hash(PASSWORDS[name]),
                created_at=now,
            )
        )
    store.upsert_employees(EMPLOYEES)
    store.add_interactions([CALL])
    recording = data_dir / "recordings" / "call-0001.wav"
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.write_bytes(_silence_wav())
    # The call is drawn for Paul and assigned to Lea by a real, recorded draw.
    plan = SamplingPlan(period="2026-11", quota=1, employees=("emp-paul",), evaluators=("lea",))
    run_draw(store, plan, seed=1, by="lea", clock=lambda: now)


def app_data_folder(tmp_path: Path, monkeypatch: Any) -> Path:
    """A populated data folder the app (AppTest) opens: QA_DATA_DIR and QA_SITE_DIR point there,
    and the real scorecards are used."""
    data = tmp_path / "data"
    store = Store.open(data)
    populate(store, data)
    store.close()
    monkeypatch.setenv("QA_DATA_DIR", str(data))
    monkeypatch.setenv("QA_SITE_DIR", str(tmp_path / "site"))
    monkeypatch.delenv("QA_SCORECARDS_DIR", raising=False)
    return data


def _silence_wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(b"\x80" * int(seconds * rate))
    return buffer.getvalue()
