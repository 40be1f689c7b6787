"""The write stage checks each folder once per build (sitegen.write.Folders) and leaves identical
files alone; nothing it writes may land outside the output folder, whatever symlinks it finds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sitegen.build import build_site
from sitegen.manifest import Writer
from sitegen.write import Folders, UnsafePath, write_bytes

from .site_world import make_world

PAGE_FOLDER = "AbCdEfGhIjKlMnOpQrSt"  # shaped like a site token (sitegen.paths.TOKEN)


@pytest.fixture
def out_and_outside(tmp_path: Path) -> tuple[Path, Path]:
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    return out, outside


def test_a_symlinked_page_folder_pointing_outside_is_refused(out_and_outside: tuple[Path, Path]) -> None:
    out, outside = out_and_outside
    writer = Writer(out, {})
    writer.put(f"p/{PAGE_FOLDER}/index.html", "s", b"one")  # the writer already knows p/ and one page folder
    (out / "p" / "other-token-0123456").symlink_to(outside, target_is_directory=True)
    for page in ("index.html", "en.html"):
        with pytest.raises(UnsafePath):
            writer.put(f"p/other-token-0123456/{page}", "s", b"two")
    assert list(outside.iterdir()) == []


def test_a_folder_that_becomes_a_symlink_after_its_check_is_refused(out_and_outside: tuple[Path, Path]) -> None:
    out, outside = out_and_outside
    folders = Folders(out)
    assert not folders.same_bytes(f"p/{PAGE_FOLDER}/index.html", b"x")  # checked while it did not exist
    (out / "p").mkdir()
    (out / "p" / PAGE_FOLDER).symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath):
        write_bytes(out, f"p/{PAGE_FOLDER}/index.html", b"x", folders)
    assert list(outside.iterdir()) == []


def test_a_symlink_at_the_page_name_is_replaced_not_followed(out_and_outside: tuple[Path, Path]) -> None:
    out, outside = out_and_outside
    secret = outside / "secret.txt"
    secret.write_bytes(b"payload")
    (out / "p" / PAGE_FOLDER).mkdir(parents=True)
    page = out / "p" / PAGE_FOLDER / "index.html"
    page.symlink_to(secret)
    writer = Writer(out, {})
    writer.put(f"p/{PAGE_FOLDER}/index.html", "s", b"payload")  # same bytes, but through a symlink: rewritten
    assert writer.written == 1
    assert not page.is_symlink() and page.read_bytes() == b"payload"
    assert secret.read_bytes() == b"payload" and list(outside.iterdir()) == [secret]


def test_writing_without_an_old_manifest_keeps_identical_files(tmp_path: Path) -> None:
    names = [f"p/{PAGE_FOLDER}/index.html", f"p/{PAGE_FOLDER}/en.html", "index.html"]
    first = Writer(tmp_path, {})
    for name in names:
        first.put(name, "s", name.encode())
    inodes = {name: os.stat(tmp_path / name).st_ino for name in names}
    second = Writer(tmp_path, {})  # a full build: no manifest entries to compare with
    for name in names:
        second.put(name, "s", name.encode() if name != "index.html" else b"changed")
    assert (second.written, second.unchanged) == (1, 2)
    assert (tmp_path / "index.html").read_bytes() == b"changed"
    assert all(os.stat(tmp_path / n).st_ino == inodes[n] for n in names if n != "index.html"), "kept as they were"
    assert set(second.new) == set(first.new) and len(second.new) == 3
    assert sorted(p.name for p in (tmp_path / "p" / PAGE_FOLDER).iterdir()) == ["en.html", "index.html"]  # no temp file


def test_a_full_build_over_the_same_site_rewrites_nothing(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    try:
        out = tmp_path / "site"
        first = build_site(world.store, out, full=True, workers=1)
        pages = sorted(out.rglob("*.html"))
        inodes = {p: p.stat().st_ino for p in pages}
        again = build_site(world.store, out, full=True, workers=1)
    finally:
        world.store.close()
    assert first.written == first.pages
    assert again.written == 0 and again.unchanged == again.pages
    assert {p: p.stat().st_ino for p in sorted(out.rglob("*.html"))} == inodes
