"""Defects found in review of the store's recent changes (qa/storage.py, qa/partitions.py,
qa/store_core.py, qa/store_evaluations.py), each kept as a test once fixed."""

from __future__ import annotations

from pathlib import Path

from tests.store_support import evaluation, open_store


def _tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.name != ".lock")


def test_reading_the_rows_of_a_month_without_evaluations_writes_nothing(tmp_path: Path) -> None:
    """qa/draws.py reads the rows of every month of a draw's period (next month's included): a read
    must not leave empty month folders behind in the data folder (and in every backup after it)."""
    store = open_store(tmp_path)
    try:
        store.submit_evaluation(evaluation("emp-001"))
        before = _tree(store.data_dir)
        months = store._parts.months("evaluations")
        assert len(store.evaluation_rows(months=["2031-01"])) == 0
        assert store._parts.months("evaluations") == months
        assert _tree(store.data_dir) == before
    finally:
        store.close()
