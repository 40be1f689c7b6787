"""The numbers of a slice of employees' pages, from the store's columns of their evaluations.

`Columns` holds one row per approved evaluation of the employees analysed (each employee's rows
contiguous, oldest first), read from `Store.evaluation_rows(criteria=True)` by the load stage. The
analysis never reads the score snapshots' small dicts, which cost more than everything else
(some forty per evaluation): only one record per scorecard version is read, for its criteria's
weights (`layout_of`). The arithmetic is `sitegen.analysis`' own (`group_stats`, `merge_stats`, `qa.stats`
intervals) on the same float64 values in the same order, so the pages are the same to the byte.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qa.errors import QAError
from qa.models import Evaluation
from qa.scorecard_model import BEHAVIOURS
from qa.stats import mean_interval, verdict
from sitegen.analysis import (
    TREND_PERIODS,
    EmployeeAnalysis,
    band_of,
    group_stats,
    lagging_behaviour,
    merge_stats,
    strengths_and_focus,
)
from sitegen.cards import CardBook

FRACTION, PASSED, SECTION = "fraction.", "passed.", "section."
TEXTS = ("scorecard_id", "scorecard_version", "channel", "month", "day", "band", "scenario", "critical_failures")


@dataclass(frozen=True, slots=True)
class Analysed:
    """One employee's analysis and what their pages show of each evaluation (oldest first)."""

    analysis: EmployeeAnalysis
    overall: list[float | None]  # overall score of each evaluation
    failures: list[tuple[str, ...]]  # failed critical criteria of each evaluation
    behaviour_means: dict[str, float]  # plain mean of each behaviour's scores (for the leads)


@dataclass(frozen=True)
class Layout:
    """What every score snapshot of one scorecard version lists (read from one of its records)."""

    card_id: str
    version: str
    criteria: tuple[str, ...]  # in the snapshot's order
    weights: np.ndarray
    critical: np.ndarray
    behaviours: tuple[tuple[str, tuple[str, ...]], ...]  # behaviour -> its sections, in order
    source: str = ""  # the evaluation it was read from (part of every page's fingerprint)


@dataclass
class Columns:
    """Evaluation columns of some employees: each one's rows are `spans[id]` (start, stop)."""

    spans: dict[str, tuple[int, int]]
    texts: dict[str, np.ndarray]  # TEXTS as object arrays (None when missing)
    overall: np.ndarray  # float64, NaN when missing
    behaviours: dict[str, np.ndarray]  # mean of each behaviour's scored sections, NaN when none
    layouts: list[Layout]  # of each (scorecard, version), in order of first appearance
    layout: np.ndarray  # each row's layout (index into `layouts`)
    group: np.ndarray  # each row's group of criteria (scorecard, list of criteria); -1: none
    quarter: np.ndarray  # each row's quarter (YYYY-Qn, in the evaluation's own offset), objects
    criterion: dict[str, int]  # criterion id -> its column in `fractions` and `passed`
    fractions: np.ndarray  # float64 (rows x criteria), NaN when N/A
    passed: np.ndarray  # float64: 1.0, 0.0, NaN when N/A or not scored


def layout_of(evaluation: Evaluation) -> Layout:
    """The criteria (in order, with weights and critical flags) and behaviours of an evaluation's snapshot."""
    snapshot: Mapping[str, Any] = evaluation.score or {}
    criteria = snapshot.get("criteria") or {}
    sections: dict[str, list[str]] = {}
    for key, section in (snapshot.get("sections") or {}).items():
        if section.get("behaviour"):
            sections.setdefault(section["behaviour"], []).append(key)
    return Layout(
        evaluation.scorecard_id,
        evaluation.scorecard_version,
        tuple(criteria),
        np.array([criteria[c]["weight"] for c in criteria], dtype=float),
        np.array([bool(criteria[c]["critical"]) for c in criteria]),
        tuple((b, tuple(keys)) for b, keys in sections.items()),
        evaluation.id,
    )


def pair_codes(first: Any, second: Any) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """A code per row for each distinct (first, second) pair, in order of first appearance, and
    the pairs. (Not by joining the strings: any separator may occur in an id, and adding "\\0"
    to a pandas Series of strings silently drops it.)"""
    a, a_values = pd.factorize(np.asarray(first, dtype=object))
    b, b_values = pd.factorize(np.asarray(second, dtype=object))
    width = max(len(b_values), 1)
    codes, combined = pd.factorize(a.astype(np.int64) * width + b)
    pairs = [(str(a_values[c // width]), str(b_values[c % width])) for c in combined.tolist()]
    return codes, pairs


def exact_shares(values: np.ndarray) -> np.ndarray:
    """Float64 shares from float32 columns: a share is k/d for a small d (a rating's or points'
    scale), and the float32 of k/d gives k/d back exactly as scoring computed it in float64."""
    if values.dtype != np.float32:
        return values.astype(np.float64)
    found = np.sort(pd.unique(values.ravel()))  # a few dozen values (NaN last)
    exact = found.astype(np.float64)
    for at, value in enumerate(found.tolist()):
        for d in range(1, 101) if value == value else ():
            guess = round(value * d) / d
            if np.float32(guess) == found[at]:
                exact[at] = guess
                break
    return exact[np.searchsorted(found, values)]


def columns_of(
    frame: pd.DataFrame,
    rows_of: Mapping[str, np.ndarray],
    layouts_of: Mapping[tuple[str, str], Layout],
    ids: Sequence[str],
) -> Columns:
    """The columns of these employees' evaluations: `frame` is the store's frame of approved
    evaluations (sitegen.load.Approved), `rows_of[employee]` their positions in it, oldest first,
    and `layouts_of` the criteria of each scorecard version."""
    empty = np.zeros(0, dtype=np.intp)
    found = [rows_of.get(i, empty) for i in ids]
    positions = np.concatenate(found) if found else empty
    spans, start = {}, 0
    for i, items in zip(ids, found, strict=True):
        spans[i] = (start, start + len(items))
        start += len(items)
    texts = {name: frame[name].take(positions).to_numpy(dtype=object, na_value=None) for name in TEXTS}
    # Pages write the day as it is (no escaping per row): it must be a date, as the store's
    # validated records write it.
    if len(positions) and not pd.Series(texts["day"], dtype=object).str.fullmatch(r"\d{4}-\d\d-\d\d").all():
        raise QAError("an approved evaluation's start time does not begin with a YYYY-MM-DD date")
    layout_codes = pair_codes(texts["scorecard_id"], texts["scorecard_version"])[0]
    first_rows = np.unique(layout_codes, return_index=True)[1]
    layouts = [layouts_of[(texts["scorecard_id"][row], texts["scorecard_version"][row])] for row in first_rows.tolist()]
    groups: dict[tuple[str, tuple[str, ...]], int] = {}
    group_of = np.array(
        [groups.setdefault((x.card_id, x.criteria), len(groups)) if x.criteria else -1 for x in layouts] or [-1]
    )
    months, month_codes = np.unique(texts["month"].astype(str), return_inverse=True)
    quarters = np.array([_quarter(str(m)) for m in months.tolist()] + [""], dtype=object)[month_codes]
    names = [c[len(FRACTION) :] for c in frame.columns if c.startswith(FRACTION)]
    shape = (len(positions), len(names))
    fractions = exact_shares(_matrix(frame, [FRACTION + c for c in names], positions, shape))
    passed = _matrix(frame, [PASSED + c for c in names], positions, shape).astype(np.float64)
    passed[passed < 0] = np.nan
    overall = frame["overall"].to_numpy(dtype=np.float64, na_value=np.nan)[positions]
    behaviours: dict[str, np.ndarray] = {}
    for code, layout in enumerate(layouts):
        rows = np.flatnonzero(layout_codes == code)
        for behaviour, sections in layout.behaviours:
            total, count = np.zeros(len(rows)), np.zeros(len(rows))
            for section in sections:
                column = SECTION + section
                if column not in frame.columns:
                    continue
                values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)[positions[rows]]
                scored = ~np.isnan(values)
                total = np.where(scored, total + values, total)
                count += scored
            target = behaviours.setdefault(behaviour, np.full(len(positions), np.nan))
            target[rows] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    if len(overall) and not np.all(np.isfinite(overall[~np.isnan(overall)])):
        raise QAError("an evaluation's overall score is not a finite number")
    return Columns(
        spans,
        texts,
        overall,
        behaviours,
        layouts,
        layout_codes,
        group_of[layout_codes] if len(layout_codes) else layout_codes,
        quarters,
        {c: j for j, c in enumerate(names)},
        fractions,
        passed,
    )


def _matrix(frame: pd.DataFrame, names: list[str], positions: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """These columns at these rows, one column at a time (a slice costs its rows, not the frame)."""
    if not names:
        return np.zeros(shape, dtype=np.float32)
    return np.column_stack([frame[name].to_numpy()[positions] for name in names])


def _quarter(month: str) -> str:
    return f"{month[:4]}-Q{(int(month[5:7]) - 1) // 3 + 1}"


def analyse_one(columns: Columns, employee_id: str, cards: CardBook, planning_stdev: float | None) -> Analysed:
    """One employee's analysis from their rows (the numbers `tests/site_reference.py` defines from the records)."""
    start, stop = columns.spans[employee_id]
    overall = [None if v != v else v for v in columns.overall[start:stop].tolist()]
    scores = [v for v in overall if v is not None]
    headline = verdict(scores, fallback_stdev=planning_stdev)
    band = None
    if headline.conclusive and headline.interval.mean is not None:
        band = band_of(columns.texts["scorecard_id"][start:stop].tolist(), headline.interval.mean, cards)
    by_behaviour: dict[str, list[float]] = {b: [] for b in BEHAVIOURS}
    for behaviour, values in columns.behaviours.items():
        found = values[start:stop]
        by_behaviour.setdefault(behaviour, []).extend(found[~np.isnan(found)].tolist())
    by_period: dict[str, list[float]] = defaultdict(list)
    for period, value in zip(columns.quarter[start:stop].tolist(), overall, strict=True):
        if value is not None:
            by_period[period].append(value)
    behaviours = {b: mean_interval(values) for b, values in by_behaviour.items()}
    periods = [(p, mean_interval(by_period[p])) for p in sorted(by_period)[-TREND_PERIODS:]]
    strengths, focus = strengths_and_focus(_criterion_stats(columns, start, stop))
    analysis = EmployeeAnalysis(
        n=len(scores),
        headline=headline,
        band=band,
        behaviours=behaviours,
        periods=periods,
        strengths=strengths,
        focus=focus,
        lag=lagging_behaviour(behaviours),
    )
    failures = [tuple(f.split(",")) if f else () for f in columns.texts["critical_failures"][start:stop].tolist()]
    means = {b: sum(values) / len(values) for b, values in by_behaviour.items() if values}
    return Analysed(analysis, overall, failures, means)


def _criterion_stats(columns: Columns, start: int, stop: int) -> list[Any]:
    """Criterion stats grouped as the records' snapshots group (tests/site_reference.py): by scorecard
    and list of criteria (in order of first appearance), weights from the group's first evaluation."""
    codes = columns.group[start:stop]
    present = codes[codes >= 0]
    if not len(present):
        return []
    found, first = np.unique(present, return_index=True)
    out = []
    for group in found[np.argsort(first)].tolist():
        rows = start + np.flatnonzero(codes == group)
        layouts = columns.layout[rows]
        seen, at_row = np.unique(layouts, return_index=True)
        versions = [columns.layouts[k].version for k in seen[np.argsort(at_row)].tolist()]
        layout = columns.layouts[int(layouts[0])]
        where = np.ix_(rows, np.array([columns.criterion[c] for c in layout.criteria], dtype=np.intp))
        out.append(
            group_stats(
                layout.card_id,
                layout.criteria,
                layout.weights,
                layout.critical,
                columns.fractions[where],
                columns.passed[where],
                versions,
                stop - start,
            )
        )
    return merge_stats(out)


def analyse_many(columns: Columns, ids: Sequence[str], cards: CardBook, planning_stdev: float | None) -> list[Analysed]:
    """`analyse_one` for each of these employees."""
    return [analyse_one(columns, i, cards, planning_stdev) for i in ids]
