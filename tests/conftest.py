"""Shared fixtures: paths of the repository and its small test scorecard."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


# What a store opened on the repository would leave there (a Store on "." or on the default ./data).
STORE_TRACES = ("store.json", ".lock", "data", "evaluations", "interactions", "employees.json", "backups")


@pytest.fixture(scope="session", autouse=True)
def _never_write_into_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Code that falls back to its default data folder (QA_DATA_DIR, else ./data) during the tests,
    in this process or a child, gets a temporary one, even under `make test` (which exports
    QA_DATA_DIR=./data); and the run fails if a store appeared in the repository anyway."""
    before = {name for name in STORE_TRACES if (ROOT / name).exists()}
    saved = os.environ.get("QA_DATA_DIR")
    os.environ["QA_DATA_DIR"] = str(tmp_path_factory.mktemp("default-data-folder") / "data")
    yield
    if saved is None:
        os.environ.pop("QA_DATA_DIR", None)
    else:
        os.environ["QA_DATA_DIR"] = saved
    stray = sorted(name for name in STORE_TRACES if (ROOT / name).exists())
    assert not set(stray) - before, f"a test wrote store files into the repository: {stray}"


@pytest.fixture
def mini_path() -> Path:
    return FIXTURES / "mini.yaml"


@pytest.fixture
def mini(mini_path: Path):
    from qa.scorecards import load_scorecard

    return load_scorecard(mini_path).card
