"""The build manifest: what each output file was made from and what it contains, as hashes only.

Each entry maps a hashed output path to [input fingerprint, content hash]. Paths are hashed so
that the manifest, which sits in the output folder, never lists an employee's token.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from sitegen.write import Folders, digest, read_bytes, remove, safe_join, write_bytes

MANIFEST = ".site-manifest.json"
FORMAT = 1

Entries = dict[str, list[str]]


def key(relative: str) -> str:
    """The manifest key of an output path."""
    return hashlib.blake2b(relative.encode("utf-8"), digest_size=12).hexdigest()


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-able parts (datetimes and other values through str)."""
    return hashlib.blake2b(orjson.dumps(parts, default=str), digest_size=16).hexdigest()


def load(out: Path) -> Entries:
    """The previous build's entries; empty (a full build) when missing, damaged or of another format."""
    raw = read_bytes(out, MANIFEST)
    if raw is None:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("pages"), dict):
        return {}
    return {k: v for k, v in data["pages"].items() if isinstance(v, list) and len(v) == 2}


def save(out: Path, entries: Entries) -> None:
    payload = orjson.dumps({"format": FORMAT, "pages": dict(sorted(entries.items()))}, option=orjson.OPT_INDENT_2)
    if read_bytes(out, MANIFEST) != payload:
        write_bytes(out, MANIFEST, payload)


class Writer:
    """Writes files whose bytes changed and records every output of this build.

    Used in the main process and in build workers alike (each worker returns its `new` entries).
    """

    def __init__(self, out: Path, old: Entries) -> None:
        self.out = out
        self.old = old
        self.new: Entries = {}
        self.written = 0
        self.unchanged = 0
        self._folders = Folders(out)  # folders checked and made by this writer

    def fresh(self, relative: str, stamp: str) -> bool:
        """True when the file's inputs did not change and it is still there (it is then kept)."""
        entry = self.old.get(key(relative))
        # Only an existence check (nothing is written): a plain join is enough and much cheaper.
        if entry and entry[0] == stamp and os.path.isfile(os.path.join(self.out, relative)):
            self.new[key(relative)] = entry
            self.unchanged += 1
            return True
        return False

    def put(self, relative: str, stamp: str, payload: bytes) -> None:
        """Write `payload` unless the file already holds exactly these bytes.

        Without an entry in the old manifest (a full build, or a file new to the manifest) the
        file on disk is compared: rewriting an identical page would cost a new file (and, on
        ext4, an inode to allocate and one to free) for nothing.
        """
        output = digest(payload)
        entry = self.old.get(key(relative))
        if entry:
            kept = entry[1] == output and self._folders.is_file(relative)
        else:
            kept = self._folders.same_bytes(relative, payload)
        if kept:
            self.unchanged += 1
        else:
            write_bytes(self.out, relative, payload, self._folders)
            self.written += 1
        self.new[key(relative)] = [stamp, output]

    def merge(self, entries: Entries, written: int, unchanged: int) -> None:
        self.new.update(entries)
        self.written += written
        self.unchanged += unchanged


def remove_stale(out: Path, old: Entries, new: Entries, folders: Iterable[str]) -> int:
    """Delete files an earlier build wrote and this one did not (rotated tokens, departures).

    Only files listed in the old manifest are touched: anything else in the folder stays.
    """
    stale = set(old) - set(new)
    if not stale:
        return 0
    removed = 0
    for folder in folders:
        start = safe_join(out, folder)
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                relative = Path(dirpath, name).relative_to(out.resolve()).as_posix()
                if key(relative) in stale and remove(out, relative):
                    removed += 1
    return removed
