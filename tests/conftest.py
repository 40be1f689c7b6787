"""Shared fixtures: paths of the repository and its small test scorecard."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture
def mini_path() -> Path:
    return FIXTURES / "mini.yaml"


@pytest.fixture
def mini(mini_path: Path):
    from qa.scorecards import load_scorecard

    return load_scorecard(mini_path).card
