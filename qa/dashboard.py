"""The data behind the QA dashboard: evaluations -> one indexed frame -> one DataFrame per chart.

`build_dashboard` turns the store's evaluation rows (`Store.evaluation_rows`, columns read without
building records) into `DashboardData`: a frame with one row per evaluation (categorical columns,
scores put on 0..100) and, per scorecard, a matrix of criterion passes aligned with the frame's
rows. At 100,000 evaluations that takes about half a second in a new process (mostly the store's
column views) and well under 0.1 s of it is this module; the app keeps the result until
`data_stamp` says the store changed. Every chart function is then vectorised pandas/numpy over
a filtered view, so that each interaction with the page stays under a second
(bench/dashboard.py). Every mean comes with its t interval, every rate with its Wilson interval,
and "conclusive" is `qa.stats.verdict`'s answer (the coaching site's), with its planner's
"needed" for employees: the numbers `qa.stats` gives for the same scores, to the bit (vectorised
over groups, but with its formulas, quantiles and order of operations). No scipy.stats import.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from qa import stats
from qa.auth import Actor, require
from qa.scorecard_model import BEHAVIOURS, Scorecard
from qa.stats import DEFAULT_MIN_N, DEFAULT_TARGET_HALF_WIDTH, evaluator_drift
from qa.store_columns import evaluation_frame

SCORED_STATUSES = ("approved",)  # what the coaching site publishes; "submitted" on request
CATEGORIES = ("evaluator", "employee_id", "team", "site", "channel", "scorecard_id", "status", "month", "week")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets read as a formula (OWASP CSV injection)
# The coaching site's verdict (qa.stats defaults), shown in the page's caption.
MIN_N = DEFAULT_MIN_N
TARGET_HALF_WIDTH = DEFAULT_TARGET_HALF_WIDTH


@dataclass(frozen=True)
class CriteriaMatrix:
    """Criterion passes of one scorecard: rows[i] is the frame position of passed[i]."""

    ids: list[str]
    labels: dict[str, str]
    weights: np.ndarray
    rows: np.ndarray  # int64 positions in DashboardData.evaluations
    passed: np.ndarray  # int8: 1 passed, 0 failed, -1 N/A or unanswered


@dataclass(frozen=True)
class DashboardData:
    evaluations: pd.DataFrame
    criteria: dict[str, CriteriaMatrix]
    completion: pd.DataFrame  # one row per draw: drawn, assigned, evaluated, approved


@dataclass(frozen=True)
class Filters:
    """What the QA lead narrowed the dashboard to; an empty tuple means everything."""

    start_month: str | None = None  # "YYYY-MM", inclusive
    end_month: str | None = None
    teams: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    scorecards: tuple[str, ...] = ()
    statuses: tuple[str, ...] = field(default=SCORED_STATUSES)


def _score_ranges(cards: Mapping[str, Scorecard]) -> dict[str, tuple[float, float]]:
    return {card_id: card.score_range() for card_id, card in cards.items()}


def _recoded(codes: np.ndarray, labels: Sequence[str]) -> pd.Categorical:
    """Rows coded into `labels` (which may repeat) as a categorical of the distinct labels.

    How a per-employee or per-day attribute (team, ISO week) reaches 100,000 rows: one lookup
    per distinct employee or day, then integer indexing, never a Python call per row.
    """
    uniques, inverse = np.unique(np.asarray(list(labels), dtype=str), return_inverse=True)
    inverse = np.append(inverse.reshape(-1), -1)  # code -1 (no value) indexes the appended -1
    return pd.Categorical.from_codes(inverse[codes], categories=pd.Index(uniques, dtype=object))


def _iso_week(day: str) -> str:
    return "{}-W{:02d}".format(*date.fromisoformat(day).isocalendar()[:2])


def build_dashboard(
    evaluations: Iterable[Any] | pd.DataFrame,
    employees: Iterable[Any] = (),
    cards: Mapping[str, Scorecard] | None = None,
    *,
    draws: Iterable[Any] = (),
    assignments: Iterable[Any] = (),
    lang: str = "fr",
) -> DashboardData:
    """The dashboard's frame from evaluation rows (`Store.evaluation_rows(criteria=True)`, the
    fast path) or from records with the `qa.models.Evaluation` fields. Vectorised: text columns
    become categoricals straight from the store's Arrow strings, and what depends on the
    employee or the day is looked up once per distinct value."""
    assignments = list(assignments)
    rows = evaluations if isinstance(evaluations, pd.DataFrame) else evaluation_frame(evaluations)
    cards = dict(cards or {})
    ranges = _score_ranges(cards)
    people = {e.id: (e.team, e.site) for e in employees}
    columns = {
        name: rows[name].astype("category")
        for name in ("evaluator", "employee_id", "channel", "scorecard_id", "status", "month", "day")
    }
    card_column = columns["scorecard_id"]
    card_codes = card_column.cat.codes.to_numpy()
    card_names = [str(c) for c in card_column.cat.categories]
    bounds = np.array([ranges.get(c, (0.0, 100.0)) for c in card_names] + [(0.0, 100.0)], dtype=float).reshape(-1, 2)
    low, high = bounds[card_codes, 0], bounds[card_codes, 1]  # code -1 reads the appended default
    raw = rows["overall"].to_numpy(dtype=float)
    # A score already on 0..100 stays the stored one, as the coaching site reads it: 100 * x / 100
    # is not always x (176 of the demo's 1,500 scores would move by a last bit).
    overall = np.where((low == 0.0) & (high == 100.0), raw, 100.0 * (raw - low) / (high - low))
    employee = columns["employee_id"]
    employee_codes = employee.cat.codes.to_numpy()
    known = [people.get(str(e), ("", "")) for e in employee.cat.categories]
    day = columns.pop("day")
    frame = pd.DataFrame(
        {
            "evaluator": columns["evaluator"],
            "employee_id": employee,
            "team": _recoded(employee_codes, [team for team, _ in known]),
            "site": _recoded(employee_codes, [site for _, site in known]),
            "channel": columns["channel"],
            "scorecard_id": card_column,
            "status": columns["status"],
            "month": columns["month"],
            "week": _recoded(day.cat.codes.to_numpy(), [_iso_week(str(d)) for d in day.cat.categories]),
            "id": rows["id"],
            "started_at": pd.to_datetime(rows["started_at"], utc=True),
            "overall": overall,
            "band": rows["band"].fillna(""),
        }
    )
    for behaviour in BEHAVIOURS:
        column = f"behaviour.{behaviour}"
        frame[behaviour] = rows[column].to_numpy(dtype=float) if column in rows else np.full(len(rows), np.nan)
    matrices = {}
    criteria_columns = [c for c in rows.columns if c.startswith("passed.")]
    for code, card_id in enumerate(card_names):
        positions = np.flatnonzero(card_codes == code)
        if not len(positions):
            continue
        card = cards.get(card_id)
        by_id = {c.id: c for c in card.criteria()} if card else {}
        # For a scorecard no longer in the files: the criteria its evaluations scored.
        ids = list(by_id) if card else [c[7:] for c in criteria_columns if (rows[c].to_numpy()[positions] >= 0).any()]
        passed = np.full((len(positions), len(ids)), -1, dtype=np.int8)
        for j, cid in enumerate(ids):
            if f"passed.{cid}" in rows:
                passed[:, j] = rows[f"passed.{cid}"].to_numpy()[positions]
        matrices[card_id] = CriteriaMatrix(
            ids=ids,
            labels={cid: by_id[cid].label.get(lang) if cid in by_id else cid for cid in ids},
            weights=np.array([by_id[cid].weight if cid in by_id else 1.0 for cid in ids]),
            rows=positions.astype(np.int64),
            passed=passed,
        )
    return DashboardData(frame, matrices, _completion(draws, assignments, _statuses_of(frame, assignments)))


def _statuses_of(frame: pd.DataFrame, assignments: Iterable[Any]) -> dict[str, str]:
    """The status of each evaluation an assignment points at (not of all 100,000)."""
    wanted = {a.evaluation_id for a in assignments if a.evaluation_id}
    if not wanted:
        return {}
    kept = frame[frame["id"].isin(wanted).to_numpy()]
    return dict(zip(kept["id"].astype(str), kept["status"].astype(str), strict=True))


def _completion(draws: Iterable[Any], assignments: Iterable[Any], statuses: Mapping[str, str]) -> pd.DataFrame:
    by_draw: dict[str, list[int]] = {}
    for a in assignments:
        if a.status == "cancelled":
            continue
        tally = by_draw.setdefault(a.draw_id, [0, 0, 0])
        tally[0] += 1
        status = statuses.get(a.evaluation_id or "")
        tally[1] += status in ("submitted", "approved", "disputed", "returned")
        tally[2] += status == "approved"
    rows = []
    for draw in draws:
        assigned, evaluated, approved = by_draw.get(draw.id, [0, 0, 0])
        rows.append(
            {
                "draw_id": draw.id,
                "month": draw.created_at.strftime("%Y-%m"),
                "drawn": len(draw.selected),
                "assigned": assigned,
                "evaluated": evaluated,
                "approved": approved,
            }
        )
    columns = ["draw_id", "month", "drawn", "assigned", "evaluated", "approved"]
    return pd.DataFrame(rows, columns=columns).sort_values(["month", "draw_id"], ignore_index=True)


# The tables `load_dashboard` reads: when none of their files changed, its result still holds.
SOURCE_TABLES = ("evaluations", "employees", "draws")


def data_stamp(store: Any) -> str:
    """A few milliseconds' check of whether `load_dashboard` would read anything new (a cache key)."""
    return str(store.state_stamp(*SOURCE_TABLES))


def load_dashboard(
    store: Any, actor: Actor, *, lang: str = "fr", cards: Mapping[str, Scorecard] | None = None
) -> DashboardData:
    """Everything the dashboard shows, read from the store (QA leads only). `cards` defaults to
    the scorecards folder's files (the app passes the ones it has already loaded)."""
    from qa.scorecards import load_all

    require(actor, "dashboard")
    if cards is None:
        cards = {card_id: loaded.card for card_id, loaded in load_all().items()}
    return build_dashboard(
        store.evaluation_rows(criteria=True),
        store.list_employees(active_only=False),
        cards,
        draws=store.list_draws(),
        assignments=store.assignments(),
        lang=lang,
    )


# --- filtering ---------------------------------------------------------------------------------


def filter_mask(frame: pd.DataFrame, filters: Filters) -> np.ndarray:
    """A boolean row mask of the evaluations the filters keep."""
    mask = np.ones(len(frame), dtype=bool)
    if filters.start_month or filters.end_month:
        # Compare the few distinct months, then look rows up by category code (no string per row).
        months = np.asarray(frame["month"].cat.categories, dtype=str)
        keep = np.ones(len(months), dtype=bool)
        if filters.start_month:
            keep &= months >= filters.start_month
        if filters.end_month:
            keep &= months <= filters.end_month
        codes = frame["month"].cat.codes.to_numpy()
        mask &= np.append(keep, False)[codes]  # code -1 (no month) indexes the appended False
    for column, chosen in (
        ("team", filters.teams),
        ("site", filters.sites),
        ("channel", filters.channels),
        ("scorecard_id", filters.scorecards),
        ("status", filters.statuses),
    ):
        if chosen:
            mask &= frame[column].isin(chosen).to_numpy()
    return mask


def filter_options(data: DashboardData) -> dict[str, list[str]]:
    """The values each filter offers (only those present in the data)."""
    frame = data.evaluations
    return (
        {
            name: sorted(str(v) for v in frame[name].cat.categories if str(v))
            for name in ("month", "team", "site", "channel", "scorecard_id", "status")
        }
        if len(frame)
        else {name: [] for name in ("month", "team", "site", "channel", "scorecard_id", "status")}
    )


# --- intervals, vectorised, to the bit qa.stats' ---------------------------------------------------
#
# A lead must read on the dashboard the very interval an employee reads on their page, so every
# number below is computed as qa.stats computes it, operation for operation: sums are math.fsum
# (correctly rounded, so the order of the scores does not matter), squares are `x ** 2` (C's pow,
# which with this glibc differs from x * x in the last bit now and then: 772 of a million draws
# on -100..100; np.float_power calls the same pow), quantiles are qa.stats' own cached ones (one
# call per distinct sample size), and t / sqrt(n) * s keeps qa.stats' order.
# tests/test_dashboard.py asserts equality with `==`.


def _pow2(values: np.ndarray) -> np.ndarray:
    """`x ** 2` of each value as Python computes it for a float (pow, not np.square's x * x)."""
    return np.float_power(values, 2.0)


@dataclass(frozen=True)
class _Groups:
    """Values sorted by group, with each group's slice: one argsort per grouping and column."""

    values: np.ndarray  # float64, grouped, NaN left out
    starts: np.ndarray
    stops: np.ndarray


def _grouped(codes: np.ndarray, values: np.ndarray, size: int) -> _Groups:
    """The non-NaN `values` of each group code 0..size-1 (code -1, no group, left out)."""
    keep = (codes >= 0) & ~np.isnan(values)
    codes = codes[keep]
    ordered = values[keep][np.argsort(codes, kind="stable")]
    stops = np.cumsum(np.bincount(codes, minlength=size))
    return _Groups(ordered, np.concatenate(([0], stops[:-1])).astype(np.int64), stops)


def _fsums(values: np.ndarray, groups: _Groups) -> np.ndarray:
    """`math.fsum` of each group's slice of `values` (finite floats), without a Python call per value.

    fsum is the exact sum, rounded once. Vectorised: each level splits every value x into a high
    part q = (sigma + x) - sigma and the rest x - q, both exact (Rump, Ogita and Oishi 2008,
    "Accurate floating-point summation", ExtractVector), with sigma a power of two at least 4 *
    (largest |x|) * (largest group), so that the high parts are multiples of sigma * 2**-54 whose
    sums in any order stay below sigma / 2: numpy adds them up exactly. A level takes about
    52 - log2(group size) bits; 3 levels leave nothing of scores above ~2**-48. The levels' exact
    totals are then added by fsum per group (a few numbers each); a group whose values still
    leave something after 4 levels (tiny numbers) is summed by fsum outright.
    """
    counts = groups.stops - groups.starts
    out = np.zeros(len(counts))
    filled = np.flatnonzero(counts > 0)
    if not len(filled):
        return out
    starts = groups.starts[filled]
    largest_group = int(counts.max())
    rest = values
    levels: list[list[float]] = []
    bound = float(np.max(np.abs(rest)))
    while bound > 0.0 and len(levels) < 4:
        exponent = math.frexp(bound * largest_group)[1] + 2
        if not -900 < exponent < 1000:  # sigma would overflow, or its spacing reach the subnormals
            break
        sigma = math.ldexp(1.0, exponent)
        high = (sigma + rest) - sigma
        rest = rest - high
        levels.append(np.add.reduceat(high, starts).tolist())
        bound = float(np.max(np.abs(rest)))
    if levels:
        out[filled] = [math.fsum(parts) for parts in zip(*levels, strict=True)]
    if bound > 0.0:  # something left below the last level: exact fsum for the groups holding it
        left = np.add.reduceat((rest != 0.0).astype(np.int64), starts) > 0
        listed = values.tolist()
        for g, a, b in zip(
            filled[left].tolist(), starts[left].tolist(), groups.stops[filled][left].tolist(), strict=True
        ):
            out[g] = math.fsum(listed[a:b])
    return out


def _moments(groups: _Groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, mean, stdev) per group as `qa.stats.mean_interval` has them: fsum(v) / n and
    sqrt(fsum((v - mean) ** 2) / (n - 1)), but equal scores have their own value as mean and a
    stdev of 0; mean NaN without scores, stdev NaN under 2."""
    counts = groups.stops - groups.starts
    n = counts.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _fsums(groups.values, groups) / n
        squares = _fsums(_pow2(groups.values - np.repeat(mean, counts)), groups)
        stdev = np.where(counts >= 2, np.sqrt(squares / (n - 1)), np.nan)
    filled = np.flatnonzero(counts > 0)  # reduceat needs each segment's start, empty ones left out
    if len(filled):
        starts = groups.starts[filled]
        low = np.minimum.reduceat(groups.values, starts)
        equal = (low == np.maximum.reduceat(groups.values, starts)) & (counts[filled] >= 2)
        mean[filled[equal]], stdev[filled[equal]] = low[equal], 0.0
    return n, mean, stdev


def _t_quantiles(n: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """`qa.stats.t_quantile(confidence, n - 1)` per row (one call per distinct n), NaN below 2."""
    out = np.full(np.shape(n), np.nan)
    several = n >= 2
    distinct, inverse = np.unique(n[several], return_inverse=True)
    quantiles = np.array([stats.t_quantile(confidence, int(d) - 1) for d in distinct.tolist()], dtype=float)
    out[several] = quantiles[inverse.reshape(-1)]
    return out


def _t_half(stdev: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """`qa.stats.t_half_width(stdev, n)` per row: t_{n-1} / sqrt(n) * s, NaN below 2 scores."""
    with np.errstate(invalid="ignore"):
        return _t_quantiles(n, confidence) / np.sqrt(n) * stdev


def _needed(stdev: np.ndarray, target: float, confidence: float = 0.95) -> np.ndarray:
    """`qa.stats.evaluations_needed` per row (NaN where the stdev is NaN): the normal
    approximation, never above the answer, then every row still too wide walks up together
    (a handful of rounds, each one lookup of cached t quantiles)."""
    z = stats.normal_quantile(confidence)
    known = np.isfinite(stdev)
    s = np.where(known, stdev, 0.0)
    n = np.maximum(2.0, np.ceil(_pow2(z * s / target)))
    wide = _t_half(s, n, confidence) > target
    while wide.any():
        n[wide] += 1
        wide[wide] = _t_half(s[wide], n[wide], confidence) > target
    return np.where(known, n, np.nan)


def _verdicts(
    n: np.ndarray,
    stdev: np.ndarray,
    fallback_stdev: float | None = None,
    target: float = DEFAULT_TARGET_HALF_WIDTH,
    min_n: int = DEFAULT_MIN_N,
) -> tuple[np.ndarray, np.ndarray]:
    """(conclusive, needed) per row: `qa.stats.verdict(scores, target, min_n, fallback_stdev=...)`
    vectorised, from each row's count and sample stdev (`_moments`). `needed` is the planner's
    total, NaN when there is no planning stdev."""
    fallback = np.nan if fallback_stdev is None else float(fallback_stdev)
    with np.errstate(invalid="ignore"):
        planning = np.where(stdev > 0, stdev, fallback)  # verdict's `interval.stdev or fallback_stdev`
    floor = max(2, min_n)
    needed = np.maximum(floor, _needed(planning, target))  # NaN stays NaN
    # A zero stdev (equal scores) gives a zero-width interval that proves nothing: judged at the
    # fallback stdev (NaN without one, never conclusive), as verdict does.
    with np.errstate(invalid="ignore"):
        conclusive = (n >= floor) & (_t_half(planning, n) <= target)
    return conclusive, needed


def _with_intervals(grouped: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Add low/high (t interval, clamped to 0..100), half_width and conclusive (`qa.stats.verdict`
    without a fallback stdev) to a frame with n, mean, stdev columns (from `_moments`)."""
    n = grouped["n"].to_numpy(dtype=float)
    stdev = grouped["stdev"].to_numpy(dtype=float)
    half = _t_half(stdev, n, confidence)
    mean = grouped["mean"].to_numpy(dtype=float)
    low, high = stats.SCORE_RANGE
    grouped["low"] = np.clip(mean - half, low, high)
    grouped["high"] = np.clip(mean + half, low, high)
    grouped["half_width"] = half
    grouped["conclusive"] = _verdicts(n, stdev)[0]
    return grouped


def _summarise_columns(frame: pd.DataFrame, by: str, columns: Sequence[str], name: str) -> pd.DataFrame:
    """n, mean, stdev and interval of score columns per group of `by` (a categorical), as long
    rows (`name` = column) in the groups' order, groups without a score left out."""
    categories = frame[by].cat.categories
    codes = frame[by].cat.codes.to_numpy()
    moments = [_moments(_grouped(codes, frame[c].to_numpy(dtype=float), len(categories))) for c in columns]
    long = pd.DataFrame(
        {
            by: np.repeat(np.asarray(categories.astype(str), dtype=object), len(columns)),
            name: np.tile(np.asarray(columns, dtype=object), len(categories)),
            "n": np.column_stack([m[0] for m in moments]).ravel().astype(np.int64),
            "mean": np.column_stack([m[1] for m in moments]).ravel(),
            "stdev": np.column_stack([m[2] for m in moments]).ravel(),
        }
    )
    return _with_intervals(long[long["n"] > 0].reset_index(drop=True))


# --- one function per chart ---------------------------------------------------------------------


def score_distribution(frame: pd.DataFrame, bin_width: float = 5.0) -> pd.DataFrame:
    """How many evaluations fall in each bin of the overall score (0..100), per scorecard."""
    scored = frame[["scorecard_id", "overall"]].dropna()
    edges = np.arange(0.0, 100.0 + bin_width, bin_width)
    index = np.clip(np.floor(scored["overall"].to_numpy() / bin_width), 0, len(edges) - 2).astype(int)
    counts = (
        pd.DataFrame({"scorecard_id": scored["scorecard_id"].to_numpy(), "bin": index})
        .groupby(["scorecard_id", "bin"], observed=True)
        .size()
        .rename("count")
        .reset_index()
    )
    counts["scorecard_id"] = counts["scorecard_id"].astype(str)
    counts["bin_low"] = edges[counts["bin"]]
    counts["bin_high"] = edges[counts["bin"] + 1]
    return counts[["scorecard_id", "bin_low", "bin_high", "count"]]


def score_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean overall score with its interval, per scorecard."""
    return _summarise_columns(frame, "scorecard_id", ["overall"], "measure").drop(columns="measure")


def behaviours_by(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """The four behaviours' mean scores (0..100) per team, site or channel, with intervals."""
    out = _summarise_columns(frame, by, BEHAVIOURS, "behaviour")
    return out.rename(columns={by: "group"}).sort_values(["group", "behaviour"], ignore_index=True)


def trend(frame: pd.DataFrame, period: str = "month") -> pd.DataFrame:
    """Overall and behaviour means per period ("month" or "week"), with intervals."""
    out = _summarise_columns(frame, period, ["overall", *BEHAVIOURS], "measure")
    return out.rename(columns={period: "period"}).sort_values(["period", "measure"], ignore_index=True)


def planning_stdev(scores: Iterable[Sequence[float]]) -> float | None:
    """The coaching site's planning stdev over these employees (each one's scores):
    `qa.stats.pooled_stdev`, rounded as the site rounds it (`qa.stats.planning_stdev`)."""
    return stats.planning_stdev(stats.pooled_stdev(scores))


def coaching_priorities(frame: pd.DataFrame, limit: int = 50) -> pd.DataFrame:
    """Employees to coach first: those whose overall interval sits lowest, with their weakest behaviour.

    "mean", "low", "high", "conclusive" and "needed" are the coaching site's verdict on the same
    scores (`qa.stats.verdict`: +/- DEFAULT_TARGET_HALF_WIDTH points, at least DEFAULT_MIN_N
    evaluations, for those with fewer than 2 scores or equal ones the planning stdev of the
    selected employees, `qa.stats.planning_stdev(qa.stats.pooled_stdev(...))`), to the bit:
    "needed" is how many evaluations in total the planner asks for, <NA> when the person is
    already conclusive (or no spread is known at all). Conclusive people are ranked by the
    interval's upper bound, so a person is listed high only when even the kindest reading of
    their scores is low; the others ("not enough evaluations to conclude") are listed after them.
    """
    employees = frame["employee_id"].cat.categories
    groups = _grouped(frame["employee_id"].cat.codes.to_numpy(), frame["overall"].to_numpy(dtype=float), len(employees))
    n, mean, stdev = _moments(groups)
    present = np.flatnonzero(n > 0)
    people = pd.DataFrame(
        {"employee_id": np.asarray(employees.astype(str), dtype=object)[present], "n": n[present].astype(np.int64)}
    )
    people["mean"], people["stdev"] = mean[present], stdev[present]
    people = _with_intervals(people)
    if people.empty:
        return people.assign(
            needed=pd.array([], dtype="Int64"), team="", site="", weakest_behaviour="", weakest_mean=np.nan
        )[PRIORITY_COLUMNS]
    # pooled_stdev adds up each employee's squares with numpy (as the site's build does), so it
    # is handed the scores themselves (as lists: it reads them one by one): the same number.
    listed = groups.values.tolist()
    scores = [listed[a:b] for a, b in zip(groups.starts[present].tolist(), groups.stops[present].tolist(), strict=True)]
    conclusive, needed = _verdicts(
        people["n"].to_numpy(dtype=float), people["stdev"].to_numpy(dtype=float), planning_stdev(scores)
    )
    people["conclusive"] = conclusive
    people["needed"] = pd.array(np.where(conclusive, np.nan, needed), dtype="Float64").astype("Int64")
    means = frame.groupby("employee_id", observed=True)[list(BEHAVIOURS)].mean()
    filled = means.fillna(np.inf)
    weakest = filled.idxmin(axis=1).where(np.isfinite(filled.min(axis=1)), "")
    people["weakest_behaviour"] = people["employee_id"].map(weakest).fillna("").astype(str)
    people["weakest_mean"] = people["employee_id"].map(filled.min(axis=1).replace(np.inf, np.nan)).astype(float)
    first = frame.groupby("employee_id", observed=True)[["team", "site"]].first()
    people["team"] = people["employee_id"].map(first["team"]).astype(str)
    people["site"] = people["employee_id"].map(first["site"]).astype(str)
    ranked = people.sort_values(["conclusive", "high", "mean"], ascending=[False, True, True], ignore_index=True)
    return ranked[PRIORITY_COLUMNS].head(limit)


PRIORITY_COLUMNS = [
    "employee_id",
    "team",
    "site",
    "n",
    "mean",
    "low",
    "high",
    "conclusive",
    "needed",
    "weakest_behaviour",
    "weakest_mean",
]


def criterion_priorities(data: DashboardData, mask: np.ndarray) -> pd.DataFrame:
    """Criteria that cost the most: failure rate (`qa.stats.wilson_interval`) times weight, per scorecard."""
    rows = []
    for card_id, matrix in data.criteria.items():
        kept = matrix.passed[mask[matrix.rows]]
        if not len(kept):
            continue
        answered = (kept >= 0).sum(axis=0)
        failed = (kept == 0).sum(axis=0)
        for i, cid in enumerate(matrix.ids):
            if answered[i] == 0:
                continue
            rate = stats.wilson_interval(int(failed[i]), int(answered[i]))  # cached: a few dozen criteria
            rows.append(
                {
                    "scorecard_id": card_id,
                    "criterion_id": cid,
                    "label": matrix.labels[cid],
                    "weight": float(matrix.weights[i]),
                    "answered": int(answered[i]),
                    "failed": int(failed[i]),
                    "failure_rate": rate.proportion,
                    "low": rate.low,
                    "high": rate.high,
                }
            )
    columns = ["scorecard_id", "criterion_id", "label", "weight", "answered", "failed", "failure_rate", "low", "high"]
    out = pd.DataFrame(rows, columns=columns)
    out["impact"] = out["failure_rate"] * out["weight"]
    return out.sort_values(["impact", "failed"], ascending=False, ignore_index=True)


def completion(data: DashboardData, filters: Filters) -> pd.DataFrame:
    """Sample completion per draw (drawn, assigned, evaluated, approved) in the chosen months."""
    table = data.completion
    if filters.start_month:
        table = table[table["month"] >= filters.start_month]
    if filters.end_month:
        table = table[table["month"] <= filters.end_month]
    return table.reset_index(drop=True)


def drift(frame: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Each evaluator's leniency (+) or severity (-) against colleagues on the same people and card.

    `qa.stats.evaluator_drift` on the overall scores already put on 0..100. Flagged when the
    interval excludes 0 and the shift is large enough to matter. QA leads only (the caller of
    `load_dashboard` was checked).
    """
    # evaluator_drift only uses each evaluator's mean per (employee, scorecard): handing it those
    # means (one record per cell and evaluator) gives the same result from ~100x fewer records.
    keys = ["evaluator", "employee_id", "scorecard_id"]
    cells = frame.groupby(keys, observed=True)["overall"].mean().dropna().reset_index()
    records = zip(
        cells["evaluator"].astype(str),
        cells["employee_id"].astype(str),
        cells["scorecard_id"].astype(str),
        cells["overall"].to_numpy(),
        strict=True,
    )
    results = evaluator_drift(records, confidence=confidence)
    columns = ["evaluator", "n_pairs", "shift", "low", "high", "flagged", "direction"]
    out = pd.DataFrame([r.to_dict() for r in results], columns=columns)
    return out.sort_values(["flagged", "shift"], ascending=[False, False], ignore_index=True, key=_abs_if_numeric)


def _abs_if_numeric(column: pd.Series) -> pd.Series:
    return column.abs() if column.name == "shift" else column


def drift_report(
    store: Any, actor: Actor, *, scorecard_id: str | None = None, statuses: Sequence[str] = SCORED_STATUSES
) -> pd.DataFrame:
    """Evaluator drift over ordinary evaluations, straight from the store (QA leads only)."""
    data = load_dashboard(store, actor)
    filters = Filters(scorecards=(scorecard_id,) if scorecard_id else (), statuses=tuple(statuses))
    return drift(data.evaluations[filter_mask(data.evaluations, filters)])


# --- downloads -----------------------------------------------------------------------------------


def _neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes (UTF-8 with BOM, for Excel) where no text cell can run as a spreadsheet formula.

    Text starting with = + - @ tab or carriage return gets a leading apostrophe (OWASP's advice);
    numbers stay numbers, so a negative shift is still -3.2. Column names are text too.
    """
    safe = frame.copy()
    for column in safe.columns:
        if not (pd.api.types.is_numeric_dtype(safe[column]) or pd.api.types.is_bool_dtype(safe[column])):
            safe[column] = safe[column].astype(object).map(_neutralise)
    safe.columns = [_neutralise(str(c)) for c in safe.columns]
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8-sig")


@dataclass(frozen=True)
class DashboardView:
    """Every chart's data for one set of filters: what the page draws and offers for download."""

    count: int
    distribution: pd.DataFrame
    summary: pd.DataFrame
    behaviours: dict[str, pd.DataFrame]  # by team, site, channel
    trend: pd.DataFrame
    priorities: pd.DataFrame
    criteria: pd.DataFrame
    completion: pd.DataFrame
    drift: pd.DataFrame


def dashboard_view(data: DashboardData, filters: Filters, *, period: str = "month") -> DashboardView:
    """The whole dashboard for one set of filters (the function the page calls on each interaction)."""
    mask = filter_mask(data.evaluations, filters)
    frame = data.evaluations[mask]
    return DashboardView(
        count=int(mask.sum()),
        distribution=score_distribution(frame),
        summary=score_summary(frame),
        behaviours={by: behaviours_by(frame, by) for by in ("team", "site", "channel")},
        trend=trend(frame, period),
        priorities=coaching_priorities(frame),
        criteria=criterion_priorities(data, mask),
        completion=completion(data, filters),
        drift=drift(frame),
    )
