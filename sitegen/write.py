"""The only way the site touches the disk: paths joined safely under the output folder, atomic writes.

Every page, asset and manifest goes through `safe_join`, which refuses any path that would leave
the output folder (like Pelican's `sanitised_join`), and `write_bytes`, which writes a temporary
file in the same folder and `os.replace`s it, so a crash never leaves a half-written page.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from qa.errors import QAError

# Names a page or asset may use for one path part: no separators, no dot-only parts.
_FORBIDDEN_PARTS = {"", ".", ".."}


class UnsafePath(QAError):
    """A path would leave the output folder (or is not a plain relative path)."""


@lru_cache(maxsize=64)
def _real_root(root: str) -> str:
    return os.path.realpath(root)


def safe_join(root: str | Path, *parts: str) -> Path:
    """`root / parts...`, refusing anything that is absolute, climbs out, or hides a separator.

    Each part may itself contain "/" (e.g. "p/abc/index.html"); every piece is checked, then the
    real path of the result (symlinks followed) must still be inside the real root.
    """
    base = _real_root(os.fspath(root))
    pieces: list[str] = []
    for part in parts:
        if not isinstance(part, str) or "\\" in part or "\x00" in part or part.startswith("/"):
            raise UnsafePath(f"refused output path {part!r}: not a plain relative path")
        for piece in part.split("/"):
            if piece in _FORBIDDEN_PARTS or piece.strip() != piece:
                raise UnsafePath(f"refused output path {'/'.join(parts)!r}: bad part {piece!r}")
            pieces.append(piece)
    if not pieces:
        raise UnsafePath("refused an empty output path")
    target = os.path.realpath(os.path.join(base, *pieces))
    if not target.startswith(base if base.endswith(os.sep) else base + os.sep):
        raise UnsafePath(f"refused output path {'/'.join(parts)!r}: it leaves {base}")
    return Path(target)


def digest(payload: bytes) -> str:
    """The content hash the manifest keeps for a file (blake2b, 128 bits, hex)."""
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def write_bytes(root: str | Path, relative: str, payload: bytes, made: set[str] | None = None) -> Path:
    """Write `payload` at `root/relative` atomically (temp file in the same folder + os.replace).

    `made`: folders this caller already created (a build writes two pages per folder, and
    `mkdir` is a system call per path part); the path is still checked by `safe_join` each time.
    """
    target = safe_join(root, relative)
    folder = os.path.dirname(target)
    if made is None or folder not in made:
        os.makedirs(folder, exist_ok=True)
        if made is not None:
            made.add(folder)
    tmp = os.path.join(folder, f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as handle:
            handle.write(payload)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def read_bytes(root: str | Path, relative: str) -> bytes | None:
    """The current content of `root/relative`, or None when there is no such file."""
    try:
        return safe_join(root, relative).read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def remove(root: str | Path, relative: str) -> bool:
    """Delete `root/relative` and the folders it leaves empty (never the root); True if it existed."""
    target = safe_join(root, relative)
    base = Path(root).resolve()
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    folder = target.parent
    while folder != base and folder.is_relative_to(base):
        try:
            folder.rmdir()
        except OSError:  # not empty: stop climbing
            break
        folder = folder.parent
    return True


def remove_temp_files(root: str | Path, folders: Iterable[str]) -> None:
    """Temporary files a killed build left behind in the given folders (recursively)."""
    for folder in folders:
        start = safe_join(root, folder)
        if not start.is_dir():
            continue
        for path in start.rglob(".*.tmp"):
            path.unlink(missing_ok=True)
