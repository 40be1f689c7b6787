"""Schema versions of the data folder: detect, back up, upgrade older ones, refuse newer ones.

Schema 1 was the prototype: one plain TinyDB file `qa.json` (TinyDB's JSONStorage, integer
document ids, naive timestamps, a few other field names), with its version in a `_meta` table.
Schema 2 is the partitioned, durable layout of qa/store.py, with its version in `store.json` and in
the header of every file.

A migration from version N reads the old files and writes the new ones through the Store itself
(so every record is validated), idempotently: `store.json` says `"migrating_from": N` until it is
done, so an interrupted migration simply runs again at the next open.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import StoreError, UnreadableFile
from qa.models import AuditEntry, Evaluation, validated_many
from qa.storage import SCHEMA

if TYPE_CHECKING:
    from qa.store import Store

META = "store.json"
V1_FILE = "qa.json"


def read_meta(data_dir: Path) -> dict[str, Any] | None:
    """The data folder's `store.json`, or None when there is none."""
    path = data_dir / META
    try:
        meta = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise UnreadableFile(str(path), f"damaged ({error})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("schema"), int):
        raise UnreadableFile(str(path), "it does not record a schema version")
    return meta


def detect_schema(data_dir: Path) -> int | None:
    """The schema of the data in `data_dir`; None for a new (empty) data folder."""
    meta = read_meta(data_dir)
    if meta is not None:
        return int(meta.get("migrating_from", meta["schema"]))
    if (data_dir / V1_FILE).is_file():
        data = _read_v1(data_dir)
        meta_docs = list(data.get("_meta", {}).values())
        return int(meta_docs[0].get("schema", 1)) if meta_docs else 1
    return None


def refuse_newer(schema: int, data_dir: Path) -> None:
    if schema > SCHEMA:
        raise StoreError(
            f"the data folder {data_dir} was written by a newer version of Qualiterrain (store "
            f"schema {schema}; this version reads schema {SCHEMA} and older). Upgrade Qualiterrain."
        )


def _read_v1(data_dir: Path) -> dict[str, Any]:
    path = data_dir / V1_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as error:
        raise UnreadableFile(str(path), f"damaged ({error})") from None
    if not isinstance(data, dict):
        raise UnreadableFile(str(path), "not a TinyDB database")
    return data


def _aware(value: str | None) -> str | None:
    """Schema 1 wrote naive timestamps in UTC; schema 2 requires the offset."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


V1_CHANNELS = {"visit": "face_to_face", "call": "phone", "mail": "email"}
V1_STATUSES = {"validated": "approved", "contested": "disputed"}


def migrate_1_to_2(store: Store, data_dir: Path) -> None:
    """qa.json (one TinyDB file) -> the partitioned layout."""
    data = _read_v1(data_dir)
    table = lambda name: list(data.get(name, {}).items())  # noqa: E731 - (doc_id, doc) pairs

    for _, doc in table("scorecards"):
        store.remember_scorecard(doc["id"], doc["version"], doc["json"])
    store.upsert_employees(
        {
            "id": d["id"],
            "display_name": d["name"],
            "team": d.get("team", ""),
            "site": d.get("site", ""),
            "active": d.get("active", True),
        }
        for _, d in table("employees")
    )
    existing = {user.name for user in store.list_users()}
    for _, d in table("users"):
        if d["name"] not in existing:
            store.add_user(
                {
                    "name": d["name"],
                    "display_name": d.get("display_name") or d["name"],
                    "role": d["role"],
                    "password_hash": d["password_hash"],
                    "active": d.get("active", True),
                    "created_at": _aware(d["created"]),
                }
            )
    store.add_interactions(
        {
            "id": d["id"],
            "employee_id": d["employee"],
            "channel": V1_CHANNELS.get(d["channel"], d["channel"]),
            "started_at": _aware(d["started_at"]),
            "duration_seconds": d.get("duration"),
            "recording": d.get("recording"),
            "customer_ref": d.get("customer_ref"),
        }
        for _, d in table("interactions")
    )

    evaluations = validated_many(
        Evaluation,
        [
            {
                "id": d["id"],
                "scorecard_id": d["scorecard"],
                "scorecard_version": d["scorecard_version"],
                "evaluator": d["evaluator"],
                "employee_id": d["employee"],
                "interaction_id": d.get("interaction"),
                "visit": d.get("visit"),
                "channel": V1_CHANNELS.get(d["channel"], d["channel"]),
                "started_at": _aware(d["started_at"]),
                "submitted_at": _aware(d.get("submitted_at")),
                "updated_at": _aware(d.get("submitted_at")),
                "answers": d.get("answers", {}),
                "comments": d.get("comments", {}),
                "score": d.get("score", {}),
                "status": V1_STATUSES.get(d["status"], d["status"]),
            }
            for _, d in table("evaluations")
        ],
    )
    entries: dict[str, list[AuditEntry]] = {}
    for doc_id, d in sorted(table("audit"), key=lambda item: int(item[0])):
        seq = len(entries.setdefault(d["evaluation"], []))
        entries[d["evaluation"]].append(
            AuditEntry(
                id=f"v1-audit-{doc_id}",
                evaluation_id=d["evaluation"],
                seq=seq,
                at=_aware(d["at"]),  # type: ignore[arg-type]
                by=d["by"],
                action=d["action"],
                details=d.get("details", {}),
            )
        )
    store.import_evaluations(evaluations, by="migration", audit=entries)


MIGRATIONS: dict[int, Callable[[Store, Path], None]] = {1: migrate_1_to_2}
# Files of an older schema that are gone once its migration is complete.
LEFTOVERS: dict[int, list[str]] = {1: [V1_FILE]}
