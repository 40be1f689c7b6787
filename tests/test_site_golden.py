"""A small golden site: the whole output of a known world, compared file by file.

A deliberate change to the pages (templates, wording, scorecards) is reviewed as a diff of
tests/golden/site/ after `make golden` (which runs this module as a script).
"""

from __future__ import annotations

import difflib
import shutil
import sys
import tempfile
from pathlib import Path

from sitegen.build import build_from_data
from sitegen.load import customer_references, load_site_data
from sitegen.manifest import MANIFEST

from .conftest import ROOT
from .site_world import make_world, site_files, tokens_fixed

GOLDEN = ROOT / "tests" / "golden" / "site"


def build_golden(workdir: Path) -> dict[str, bytes]:
    """Build the world's site with fixed tokens; its files (without plotly.js and the manifest)."""
    world = make_world(workdir)
    try:
        data = load_site_data(world.store)
        data.tokens = tokens_fixed(data.tokens)
        out = workdir / "site"
        build_from_data(
            data, out, workers=1, references=lambda interactions: customer_references(world.store, interactions)
        )
    finally:
        world.store.close()
    return {name: payload for name, payload in site_files(out).items() if name != MANIFEST}


def test_site_matches_the_golden_copy(tmp_path: Path) -> None:
    built = build_golden(tmp_path)
    golden = site_files(GOLDEN)
    assert sorted(built) == sorted(golden), "files differ: run `make golden` and review the diff"
    for name in sorted(built):
        if built[name] != golden[name]:
            diff = difflib.unified_diff(
                golden[name].decode().splitlines(), built[name].decode().splitlines(), "golden", "built", lineterm=""
            )
            raise AssertionError(f"{name} differs from the golden copy (make golden):\n" + "\n".join(list(diff)[:60]))


def regenerate() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        built = build_golden(Path(tmp))
    shutil.rmtree(GOLDEN, ignore_errors=True)
    for name, payload in built.items():
        target = GOLDEN / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
    print(f"{len(built)} files written to {GOLDEN.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    regenerate()
