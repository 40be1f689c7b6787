"""Backups of the data folder: snapshots that share nothing with the live files, zips, restores.

A backup is a folder (or a zip of one) holding every file of the data folder as it was at one
moment, plus `MANIFEST.json` (schema, time, reason, each file's size and live stat), written
last: a backup without its manifest is incomplete.

Taking one is quick even for a large store. Under the store's lock, a file unchanged since the
previous backup is hard-linked to that backup's copy, and a changed file is hard-linked to the
live file (instant, and safe because the durable storage never writes a file in place). Then,
with no lock held, `detach` gives every file still shared with the live folder its own copy, so
that damage to a live file in place (disk errors, `> file`) never reaches a backup. A detach
interrupted by a crash is finished at the next open.

A restore is staged in `.restore/` and then applied file by file; a marker written between the two
lets the next `Store.open` finish a restore that was interrupted.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from qa.errors import StoreError, UnreadableFile
from qa.storage import atomic_write, decode, ensure_dir, fsync_dir

MANIFEST = "MANIFEST.json"
DETACHED = ".detached"
BACKUPS = "backups"
RESTORE = ".restore"
# Folders whose files all belong to the store (a restore removes the ones not in the backup): the
# tables, the import's saved column mappings (qa/interactions.py), evaluation photos
# (qa/photos.py), and calibration/ and disputes/ where older versions kept calibration sessions
# and the dispute index (moved into tables when the store opens: qa/store_reviews.py).
STORE_FOLDERS = (
    "evaluations",
    "interactions",
    "draws",
    "drafts",
    "calibration_sessions",
    "mappings",
    "photos",
    "calibration",
    "disputes",
)


@dataclass(frozen=True)
class Manifest:
    schema: int
    created_at: str
    reason: str
    files: dict[str, int]  # relative path -> size in bytes
    stats: dict[str, list[int]] = field(default_factory=dict)  # path -> live [inode, mtime_ns, size]

    def to_bytes(self) -> bytes:
        data = {
            "format": "qualiterrain-backup",
            "schema": self.schema,
            "created_at": self.created_at,
            "reason": self.reason,
            "files": self.files,
            "stats": self.stats,
        }
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)


def data_files(data_dir: Path) -> list[str]:
    """Every file of the store's state, as relative POSIX paths (not backups, locks, temp files)."""
    out: list[str] = []
    for folder, dirs, files in os.walk(data_dir):
        rel = Path(folder).relative_to(data_dir)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d not in (BACKUPS, RESTORE)]
        out.extend(
            (rel / name).as_posix()
            for name in files
            if not name.startswith(".") and not name.endswith((".tmp", ".partial"))
        )
    return sorted(out)


def is_store_file(rel: str) -> bool:
    """Whether a restore may delete `rel` when the backup does not hold it: the store's own JSON
    files at the top of the data folder, and any file in one of its folders (photos too)."""
    parts = PurePosixPath(rel).parts
    return rel.endswith(".json") if len(parts) == 1 else parts[0] in STORE_FOLDERS


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target)
    except OSError:  # no hard links on this file system, or the source vanished
        return False
    return True


def snapshot(
    data_dir: Path, dest: Path, *, link: bool, previous: Path | None, schema: int, created_at: str, reason: str
) -> Path:
    """Every data file into the new folder `dest` (then call `detach`). The caller holds the lock.

    Files unchanged since `previous` share its copy; with `link`, changed files are hard-linked to
    the live ones for now (only for storages that never write a file in place); else copied.
    """
    earlier = read_manifest(previous).stats if previous is not None else {}
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    files: dict[str, int] = {}
    stats: dict[str, list[int]] = {}
    for rel in data_files(data_dir):
        source, target = data_dir / rel, partial / rel
        ensure_dir(target.parent)
        st = source.stat()
        stats[rel] = [st.st_ino, st.st_mtime_ns, st.st_size]
        unchanged = previous is not None and earlier.get(rel) == stats[rel] and _link(previous / rel, target)
        if not (unchanged or (link and _link(source, target))):
            shutil.copy2(source, target)
        files[rel] = target.stat().st_size
    ensure_dir(partial)
    atomic_write(partial / MANIFEST, Manifest(schema, created_at, reason, files, stats).to_bytes())
    for folder, _, _ in os.walk(partial):
        fsync_dir(Path(folder))
    os.rename(partial, dest)
    fsync_dir(dest.parent)
    return dest


def detach(backup: Path, data_dir: Path) -> None:
    """Give each file of `backup` still shared with the live data folder its own copy."""
    if (backup / DETACHED).exists() or not backup.is_dir():
        return
    touched: set[Path] = set()
    for rel in read_manifest(backup).files:
        target, live = backup / rel, data_dir / rel
        try:
            shared = os.path.samefile(target, live)
        except FileNotFoundError:
            continue
        if shared:
            tmp = target.with_name(f".{target.name}.detach.tmp")
            shutil.copy2(target, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
            touched.add(target.parent)
    for folder in touched:
        fsync_dir(folder)
    atomic_write(backup / DETACHED, b"")


def write_zip(folder: Path, dest: Path) -> Path:
    """Archive a backup folder as one zip file; the manifest goes in last."""
    manifest = read_manifest(folder)
    ensure_dir(dest.parent)
    tmp = dest.with_name(f".{dest.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for rel in manifest.files:
            archive.write(folder / rel, rel)
        archive.write(folder / MANIFEST, MANIFEST)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


def copy_folder(folder: Path, dest: Path) -> Path:
    """Copy a backup folder elsewhere (a real copy: the files must not share the store's inodes)."""
    if dest.exists() and any(dest.iterdir()):
        raise StoreError(f"{dest} already exists and is not empty")
    manifest = read_manifest(folder)
    for rel in [*manifest.files, MANIFEST]:
        ensure_dir((dest / rel).parent)
        shutil.copy2(folder / rel, dest / rel)
    return dest


def _parse_manifest(raw: bytes, src: Path) -> Manifest:
    try:
        data: Any = orjson.loads(raw)
        return Manifest(
            int(data["schema"]),
            str(data["created_at"]),
            str(data.get("reason", "")),
            {str(k): int(v) for k, v in data["files"].items()},
            {str(k): [int(x) for x in v] for k, v in data.get("stats", {}).items()},
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise StoreError(f"{src} is not a Qualiterrain backup (bad {MANIFEST}: {error})") from None


def read_manifest(src: Path) -> Manifest:
    """The manifest of a backup folder or zip; StoreError if there is none (incomplete backup)."""
    try:
        if src.is_dir():
            return _parse_manifest((src / MANIFEST).read_bytes(), src)
        with zipfile.ZipFile(src) as archive:
            return _parse_manifest(archive.read(MANIFEST), src)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise StoreError(f"{src} is not a complete Qualiterrain backup ({error})") from None


def backup_problems(src: Path, must_read: str | None = None) -> list[str]:
    """What is wrong with a backup (missing or resized files); empty when it is good.

    With `must_read`, that file of the backup must also be readable (used to name a backup that
    holds a good copy of a damaged file).
    """
    try:
        manifest = read_manifest(src)
    except StoreError as error:
        return [str(error)]
    problems: list[str] = []
    if src.is_dir():
        for rel, size in manifest.files.items():
            path = src / rel
            if not path.is_file() or path.stat().st_size != size:
                problems.append(f"{rel}: missing or not {size} bytes")
        if must_read in manifest.files and not problems:
            problems.extend(_unreadable(src / must_read, (src / must_read).read_bytes()))
        return problems
    with zipfile.ZipFile(src) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
        problems = [
            f"{rel}: missing or not {size} bytes" for rel, size in manifest.files.items() if sizes.get(rel) != size
        ]
        if must_read in manifest.files and not problems:
            problems.extend(_unreadable(src / must_read, archive.read(must_read)))
    return problems


def _unreadable(path: Path, data: bytes) -> list[str]:
    try:
        if data.startswith(b'{"token":'):
            decode(data, path)
        else:
            orjson.loads(data)
    except (UnreadableFile, StoreError, orjson.JSONDecodeError) as error:
        return [str(error)]
    return []


def list_backups(data_dir: Path) -> list[tuple[Manifest, Path]]:
    """The complete backups in the data folder's backups/, newest first."""
    found: list[tuple[Manifest, Path]] = []
    folder = data_dir / BACKUPS
    if not folder.is_dir():
        return found
    for entry in folder.iterdir():
        if entry.name.endswith((".partial", ".tmp")) or entry.name.startswith("."):
            continue
        try:
            found.append((read_manifest(entry), entry))
        except StoreError:
            continue
    found.sort(key=lambda item: (item[0].created_at, item[1].name), reverse=True)
    return found


def newest_good_backup(data_dir: Path, must_read: str | None = None) -> Path | None:
    """The newest complete backup (holding a readable copy of `must_read`, when given)."""
    for _, path in list_backups(data_dir):
        if not backup_problems(path, must_read):
            return path
    return None


def stage_restore(src: Path, data_dir: Path) -> Manifest:
    """Copy a backup into `.restore/files/`, durably, then write the marker that commits to it."""
    manifest = read_manifest(src)
    staging = data_dir / RESTORE
    shutil.rmtree(staging, ignore_errors=True)
    for rel in manifest.files:
        if PurePosixPath(rel).is_absolute() or ".." in PurePosixPath(rel).parts:
            raise StoreError(f"{src}: refusing the path {rel!r} (outside the data folder)")
    files = staging / "files"
    if src.is_dir():
        for rel in manifest.files:
            ensure_dir((files / rel).parent)
            shutil.copy2(src / rel, files / rel)
    else:
        with zipfile.ZipFile(src) as archive:
            for rel in manifest.files:
                ensure_dir((files / rel).parent)
                (files / rel).write_bytes(archive.read(rel))
    for rel in manifest.files:
        with open(files / rel, "rb") as handle:
            os.fsync(handle.fileno())
    for folder, _, _ in os.walk(staging):
        fsync_dir(Path(folder))
    atomic_write(staging / "READY", manifest.to_bytes())
    return manifest


def finish_restore(data_dir: Path) -> bool:
    """Apply a staged restore (again, if it was interrupted). True when there was one."""
    staging = data_dir / RESTORE
    marker = staging / "READY"
    if not marker.is_file():
        shutil.rmtree(staging, ignore_errors=True)
        return False
    manifest = _parse_manifest(marker.read_bytes(), marker)
    touched: set[Path] = set()
    for rel in manifest.files:
        source = staging / "files" / rel
        if source.is_file():  # already moved if a previous attempt got this far
            ensure_dir((data_dir / rel).parent)
            os.replace(source, data_dir / rel)
            touched.add((data_dir / rel).parent)
    for rel in data_files(data_dir):
        if rel not in manifest.files and is_store_file(rel):
            (data_dir / rel).unlink()
            touched.add((data_dir / rel).parent)
    for folder in touched:
        fsync_dir(folder)
    marker.unlink()
    shutil.rmtree(staging, ignore_errors=True)
    fsync_dir(data_dir)
    return True
