"""Photos taken during a visit (receipt, shelf): kept in the data folder with their evaluation, never published.

A photo is stored as `photos/<evaluation id>/<n>.<ext>` under the data folder: the name comes from
its position and its content type (read from the bytes), never from the uploaded file's name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from qa.auth import Actor, require
from qa.errors import NotFound, QAError
from qa.evaluations import open_evaluation
from qa.storage import atomic_write

MAX_BYTES = 15 * 1024 * 1024
MAX_PHOTOS = 12
_EVALUATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$")
_NAME = re.compile(r"^photos/([A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127})/(\d{1,3})\.(jpg|png|webp|heic)$")


def image_type(content: bytes) -> str | None:
    """The file extension matching the image's bytes (JPEG, PNG, WebP, HEIC), or None."""
    if content.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    if content[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1"):
        return "heic"
    return None


def _folder(data_dir: Path, evaluation_id: str) -> Path:
    if not _EVALUATION_ID.match(evaluation_id or "") or evaluation_id in (".", ".."):
        raise QAError(f"invalid evaluation id {evaluation_id!r}")
    return Path(data_dir) / "photos" / evaluation_id


def add_photo(data_dir: Path, actor: Actor, state: dict[str, Any], content: bytes) -> str:
    """Save one photo for the draft `state` and list it there; returns its path in the data folder."""
    require(actor, "evaluate")
    kind = image_type(content)
    if kind is None:
        raise QAError("this file is not a photo (JPEG, PNG, WebP or HEIC expected)")
    if len(content) > MAX_BYTES:
        raise QAError(
            f"this photo is too large ({len(content) // 1024 // 1024} MB, at most {MAX_BYTES // 1024 // 1024} MB)"
        )
    photos = state.setdefault("photos", [])
    if len(photos) >= MAX_PHOTOS:
        raise QAError(f"at most {MAX_PHOTOS} photos per evaluation")
    folder = _folder(data_dir, state["evaluation_id"])
    taken = {int(m.group(2)) for p in photos if (m := _NAME.match(p))}
    taken |= {int(p.stem) for p in folder.glob("*") if p.stem.isdigit()} if folder.is_dir() else set()
    number = max(taken, default=0) + 1
    relative = f"photos/{state['evaluation_id']}/{number}.{kind}"
    atomic_write(Path(data_dir) / relative, content)
    photos.append(relative)
    return relative


def remove_photo(data_dir: Path, actor: Actor, state: dict[str, Any], relative: str) -> None:
    """Take a photo off the draft (the file is deleted: it was never part of a submitted evaluation)."""
    require(actor, "evaluate")
    photos = state.get("photos") or []
    if relative not in photos:
        return
    photos.remove(relative)
    match = _NAME.match(relative)
    if match and match.group(1) == state["evaluation_id"] and not state.get("correcting"):
        (Path(data_dir) / relative).unlink(missing_ok=True)


def draft_photo(data_dir: Path, state: dict[str, Any], relative: str) -> Path:
    """The file of a photo listed in the actor's own draft."""
    match = _NAME.match(relative)
    if relative not in (state.get("photos") or []) or not match or match.group(1) != state["evaluation_id"]:
        raise NotFound(f"no photo {relative!r} in this draft")
    return Path(data_dir) / relative


def evaluation_photo(data_dir: Path, store, actor: Actor, evaluation_id: str, relative: str) -> Path:
    """The file of a photo of an evaluation the actor may read."""
    evaluation = open_evaluation(store, actor, evaluation_id)
    match = _NAME.match(relative)
    if relative not in evaluation.photos or not match or match.group(1) != evaluation.id:
        raise NotFound(f"no photo {relative!r} in evaluation {evaluation_id}")
    return Path(data_dir) / relative
