"""Sampling plans and reproducible draws: which interactions are evaluated, chosen fairly and provably.

A draw is a pure function of (plan, eligible frame, seed): `draw_sample` returns the same ids for
the same inputs on any machine, whatever order the interactions were stored in, because rows are
sorted by id before the seeded generator gives each one a random priority. Inside each stratum
(employee x channel x week x time of day) the rows with the lowest priorities are taken: a uniform
sample without replacement. The frame hash (SHA-256 over the sorted eligible rows) lets anyone
check later that the frame is the one the draw saw (`qa.draws.verify_draw`).

Allocation of an employee's quota over strata, per dimension: "proportional" (to the employee's
eligible interactions, the default), "equal" (the same share per level; for weeks, per day of the
period that the week holds, so a 3-day edge week weighs 3/7 of a full one) or explicit weights
{level: weight}. Shares are turned into whole numbers by systematic rounding from a seeded random start, so each
stratum gets its share on average.
When a stratum holds fewer interactions than its share, the draw says so and fills the quota
from the employee's other strata; when the employee has too few interactions in all, it says so.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qa.errors import QAError
from qa.models import Channel, Interaction

STRATA = ("channel", "week", "time_of_day")
TIME_OF_DAY = ("morning", "afternoon", "evening")
FRAME_COLUMNS = ("id", "employee_id", "channel", "start", "duration")
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HASH_VERSION = b"qualiterrain-frame-v1\n"
Rule = Literal["proportional", "equal"] | dict[str, float]


class SamplingPlan(BaseModel):
    """What to draw: a month, a quota per employee, strata and their allocation, eligibility rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: str  # a month, YYYY-MM, in `timezone`
    quota: int = Field(ge=1, le=1000)  # interactions per employee
    strata: tuple[Literal["channel", "week", "time_of_day"], ...] = ("channel", "week")
    allocation: dict[str, Rule] = {}  # dimension -> rule; missing dimensions are proportional
    fill_from_other_strata: bool = True  # a stratum's shortfall is taken from the employee's other strata
    min_duration: int = Field(default=0, ge=0)  # seconds; an interaction of unknown duration then is excluded
    channels: tuple[Channel, ...] | None = None  # only these channels (None: all)
    exclude_evaluated: bool = True
    exclude_drawn: bool = True
    timezone: str = "Europe/Paris"
    time_bands: tuple[int, int] = (12, 17)  # morning < 12h <= afternoon < 17h <= evening
    employees: tuple[str, ...] | None = None  # None: the store's active employees
    evaluators: tuple[str, ...] | None = None  # None: the store's active QA leads
    links: dict[str, str] = {}  # evaluator user name -> employee id they must never evaluate

    @field_validator("period")
    @classmethod
    def _month(cls, period: str) -> str:
        if not PERIOD.match(period):
            raise ValueError(f"{period!r} is not a month written as YYYY-MM")
        return period

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        return zone

    @model_validator(mode="after")
    def _consistent(self) -> SamplingPlan:
        if len(set(self.strata)) != len(self.strata):
            raise ValueError("a stratum dimension is listed twice")
        for name, rule in self.allocation.items():
            if name not in self.strata:
                raise ValueError(f"allocation for {name!r}, which is not one of the strata {list(self.strata)}")
            if isinstance(rule, dict) and (not rule or min(rule.values()) < 0 or not sum(rule.values()) > 0):
                raise ValueError(f"weights of {name!r} must be >= 0 with a positive total")
        if not 0 < self.time_bands[0] < self.time_bands[1] < 24:
            raise ValueError("time_bands must be two hours 0 < morning end < evening start < 24")
        return self

    def bounds(self) -> tuple[datetime, datetime]:
        """The period as [start, end) aware datetimes in the plan's time zone."""
        year, month = int(self.period[:4]), int(self.period[5:])
        zone = ZoneInfo(self.timezone)
        nxt = (year + 1, 1) if month == 12 else (year, month + 1)
        return datetime(year, month, 1, tzinfo=zone), datetime(*nxt, 1, tzinfo=zone)

    def days(self) -> list[date]:
        start, end = self.bounds()
        return [start.date() + timedelta(days=i) for i in range((end.date() - start.date()).days)]


def plan_from(values: Mapping[str, Any]) -> SamplingPlan:
    """A plan from a form or the command line; a wrong value is a QAError naming the field."""
    try:
        return SamplingPlan.model_validate(dict(values))
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'plan'}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors(include_url=False)
        )
        raise QAError(f"invalid sampling plan: {details}") from None


def _ns(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def frame_of(interactions: Iterable[Interaction]) -> pd.DataFrame:
    """The columns a draw needs, one row per interaction (start in UTC nanoseconds)."""
    rows = list(interactions)
    # timestamp() is exact to the microsecond for our dates (< 2**53 microseconds since 1970).
    seconds = np.fromiter((r.started_at.timestamp() for r in rows), dtype=np.float64, count=len(rows))
    return pd.DataFrame(
        {
            "id": pd.array([r.id for r in rows], dtype="str"),
            "employee_id": pd.array([r.employee_id for r in rows], dtype="str"),
            "channel": pd.array([r.channel for r in rows], dtype="str"),
            "start": np.round(seconds * 1e6).astype(np.int64) * 1000,
            "duration": np.array(
                [np.nan if r.duration_seconds is None else r.duration_seconds for r in rows], dtype=np.float64
            ),
        }
    )


@dataclass(frozen=True)
class Dimension:
    name: str
    levels: list[str]
    equal_shares: np.ndarray  # the "equal" rule's share of each level


@dataclass
class Selection:
    """The outcome of `draw_sample`: ids drawn (sorted), the frame's hash, what fell short."""

    selected: list[str]
    frame_hash: str
    eligible: int
    shortfalls: dict[str, Any]
    employees_of: dict[str, str] = field(default_factory=dict)  # selected id -> employee id
    strata_of: dict[str, dict[str, str]] = field(default_factory=dict)  # selected id -> {dimension: level}


def generators(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent streams for rounding shares, row priorities and evaluator assignment, from one seed."""
    tie, pick, assign = np.random.SeedSequence(seed).spawn(3)
    return (
        np.random.Generator(np.random.PCG64(tie)),
        np.random.Generator(np.random.PCG64(pick)),
        np.random.Generator(np.random.PCG64(assign)),
    )


def _text(series: pd.Series) -> pa.Array:
    """A string column as one Arrow large_string array (zero-copy for pandas' Arrow-backed strings)."""
    arr = pa.array(series)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def _codes(arr: pa.Array, values: Sequence[str]) -> np.ndarray:
    """Index of each value of `arr` in `values`, -1 when absent."""
    found = pc.index_in(arr, value_set=pa.array(list(values), type=pa.large_string()))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


@dataclass(frozen=True)
class Columns:
    """The frame's columns as arrays (Arrow strings, numpy numbers): fast to filter, sort and hash."""

    ids: pa.Array
    employees: pa.Array
    channels: pa.Array
    starts: np.ndarray
    durations: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Columns:
        return cls(
            _text(frame["id"]),
            _text(frame["employee_id"]),
            _text(frame["channel"]),
            frame["start"].to_numpy(dtype=np.int64),
            frame["duration"].to_numpy(dtype=np.float64),
        )


def eligible_mask(
    plan: SamplingPlan, cols: Columns, employees: Sequence[str], excluded: Iterable[str] = ()
) -> np.ndarray:
    """Rows the plan may draw: in the period, of these employees, long enough, not excluded."""
    start, end = plan.bounds()
    mask = (cols.starts >= _ns(start)) & (cols.starts < _ns(end))
    mask &= _codes(cols.employees, employees) >= 0
    if plan.min_duration:
        mask &= np.nan_to_num(cols.durations, nan=-1.0) >= plan.min_duration
    if plan.channels is not None:
        mask &= _codes(cols.channels, plan.channels) >= 0
    excluded = sorted(set(excluded))
    if excluded:
        mask &= _codes(cols.ids, excluded) < 0
    return mask


def _sorted_by_id(cols: Columns, mask: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Row numbers where `mask` holds in the order of their ids (so storage order never matters),
    and those ids."""
    rows = np.flatnonzero(mask)
    ids = cols.ids.take(pa.array(rows, type=pa.int64()))
    order = pc.sort_indices(ids)
    return rows[order.to_numpy()], ids.take(order)


def _update_strings(digest: Any, arr: pa.Array) -> None:
    """Each value's UTF-8 length (int64 little-endian), then all the UTF-8 bytes."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    digest.update(np.diff(offsets).astype("<i8").tobytes())
    data = arr.buffers()[2]
    if data is not None and len(arr):
        digest.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])


def frame_hash(blocks: Sequence[tuple[pa.Array, Mapping[str, Any]]]) -> str:
    """SHA-256 of blocks of rows sorted by id. Format, per block: the row count (int64 big-endian);
    the ids (see `_update_strings`); for employee and channel, the sorted list of distinct values
    (same encoding) then each row's index in it (int32 little-endian); the starts (UTC ns) and
    durations (seconds, -1 when unknown) as little-endian int64."""
    digest = hashlib.sha256(HASH_VERSION)
    for ids, block in blocks:
        digest.update(len(ids).to_bytes(8, "big"))
        _update_strings(digest, ids)
        for name in ("employee", "channel"):
            values, codes = block[name]
            _update_strings(digest, pa.array(values, type=pa.large_string()))
            digest.update(codes.astype("<i4").tobytes())
        digest.update(block["start"].astype("<i8").tobytes())
        digest.update(np.nan_to_num(block["duration"], nan=-1.0).astype("<i8").tobytes())
    return digest.hexdigest()


def _dimensions(
    plan: SamplingPlan, starts: np.ndarray, channels: tuple[list[str], np.ndarray]
) -> tuple[list[Dimension], np.ndarray]:
    """The strata levels of the plan and the cell of each row (flat index over the levels; -1: none).

    `channels` is (distinct channels, each row's index in them)."""
    local = pd.DatetimeIndex(starts, tz="UTC").tz_convert(ZoneInfo(plan.timezone)).tz_localize(None)
    local_ns = local.asi8
    days = plan.days()
    dims: list[Dimension] = []
    codes: list[np.ndarray] = []
    for name in plan.strata:
        if name == "channel":
            present, code = channels
            levels: list[str] = list(plan.channels) if plan.channels is not None else list(present)
            levels = levels or ["phone"]
            remap = np.array([levels.index(c) if c in levels else -1 for c in present] + [-1], dtype=np.int64)
            codes.append(remap[np.where(code >= 0, code, len(present))])
            shares = np.full(len(levels), 1.0 / len(levels))
        elif name == "week":
            mondays = sorted({d - timedelta(days=d.weekday()) for d in days})
            levels = [f"{m.isocalendar()[0]}-W{m.isocalendar()[1]:02d}" for m in mondays]
            day = local_ns // DAY_NS
            monday = day - (day + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
            week = (monday - (mondays[0] - date(1970, 1, 1)).days) // 7
            codes.append(np.where((week >= 0) & (week < len(levels)), week, -1))
            in_week = np.array([sum(1 for d in days if d - timedelta(days=d.weekday()) == m) for m in mondays])
            shares = in_week / in_week.sum()
        else:
            levels = list(TIME_OF_DAY)
            hour = (local_ns // HOUR_NS) % 24
            codes.append((hour >= plan.time_bands[0]).astype(np.int64) + (hour >= plan.time_bands[1]))
            shares = np.full(3, 1.0 / 3)
        dims.append(Dimension(name, levels, shares))
    cell = np.zeros(len(starts), dtype=np.int64)
    valid = np.ones(len(starts), dtype=bool)
    for code, dim in zip(codes, dims, strict=True):
        cell = cell * len(dim.levels) + np.maximum(code, 0)
        valid &= code >= 0
    return dims, np.where(valid, cell, -1)


def _weights(plan: SamplingPlan, dims: list[Dimension], counts: np.ndarray) -> np.ndarray:
    """Each employee's share of the quota per cell: fixed shares times within-level proportions."""
    n_emp = counts.shape[0]
    shape = (n_emp, *(len(d.levels) for d in dims))
    n = counts.reshape(shape).astype(np.float64)
    fixed = np.ones(shape)
    proportional: list[int] = []
    for axis, dim in enumerate(dims, start=1):
        rule = plan.allocation.get(dim.name, "proportional")
        if rule == "proportional":
            proportional.append(axis)
            continue
        share = dim.equal_shares if rule == "equal" else np.array([float(rule.get(lv, 0.0)) for lv in dim.levels])
        share = share / share.sum() if share.sum() > 0 else share
        fixed = fixed * share.reshape([len(dim.levels) if a == axis else 1 for a in range(len(shape))])
    if proportional:
        within = n.sum(axis=tuple(proportional), keepdims=True)
        combos = int(np.prod([shape[a] for a in proportional]))
        conditional = np.divide(n, within, out=np.full(shape, 1.0 / combos), where=within > 0)
    else:
        conditional = np.ones(shape)
    return (fixed * conditional).reshape(n_emp, -1)


def _apportion(total: np.ndarray, weights: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Whole numbers per cell summing to `total` per row, in proportion to `weights`.

    Systematic rounding: each cell gets the whole part of its share, and the fractions are
    rounded by points spaced 1 apart from a random start in [0, 1) (`start`, one per row), so a
    cell due 0.4 of an interaction gets one in 40 % of draws: every share is met on average.
    """
    wsum = weights.sum(axis=1, keepdims=True)
    share = np.divide(weights, wsum, out=np.zeros_like(weights, dtype=np.float64), where=wsum > 0)
    ideal = total[:, None] * share
    base = np.floor(ideal + 1e-9).astype(np.int64)
    rest = (total - base.sum(axis=1)).astype(np.float64)
    frac = np.clip(ideal - base, 0.0, None)
    cum = np.round(np.cumsum(frac, axis=1), 9)
    if cum.shape[1]:
        cum[:, -1] = np.where(wsum[:, 0] > 0, rest, 0.0)  # the fractions add up to the whole remainder
    hits = np.maximum(np.ceil(cum - start[:, None]), 0.0)  # points start + k (k >= 0) below each sum
    extra = np.diff(np.concatenate([np.zeros((len(total), 1)), hits], axis=1), axis=1)
    return base + np.clip(extra, 0, 1).astype(np.int64)


def _allocate(
    quota: np.ndarray, weights: np.ndarray, capacity: np.ndarray, start: np.ndarray, fill: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(wanted per cell, allocated per cell): wanted capped by capacity, shortfalls filled elsewhere."""
    wanted = _apportion(quota, weights, start)
    alloc = np.minimum(wanted, capacity)
    for _ in range(weights.shape[1] + 1) if fill else ():
        missing = quota - alloc.sum(axis=1)
        spare = capacity - alloc
        todo = (missing > 0) & (spare.sum(axis=1) > 0)
        if not todo.any():
            break
        w = np.where(spare > 0, weights, 0.0)
        flat = w.sum(axis=1) == 0
        w[flat] = spare[flat]
        alloc = alloc + np.minimum(_apportion(np.where(todo, missing, 0), w, start), spare)
    return wanted, alloc


def draw_sample(
    plan: SamplingPlan,
    frame: pd.DataFrame,
    seed: int,
    *,
    employees: Sequence[str],
    excluded: Iterable[str] = (),
    held: Iterable[str] = (),
    allocation_seed: int | None = None,
) -> Selection:
    """The sample of `plan` from `frame` with `seed`: the same inputs always give the same ids.

    `frame` has the columns of `frame_of`. `employees` get the quota; `excluded` ids are never
    drawn (already evaluated or drawn); `held` ids were drawn before (a top-up): they count
    towards their employee's quota and strata and are not drawn again; `allocation_seed` (a top-up:
    the first draw's seed) rounds the strata shares.
    """
    employees = sorted(set(employees))
    cols = Columns.of(frame)
    emp_all = _codes(cols.employees, employees)
    present = sorted(pc.unique(cols.channels).to_pylist())
    chan_all = _codes(cols.channels, present)
    held_ids = sorted(set(held))
    rows, ids = _sorted_by_id(cols, eligible_mask(plan, cols, employees, set(excluded) | set(held_ids)))
    held_rows, held_sorted = _sorted_by_id(cols, _codes(cols.ids, held_ids) >= 0) if held_ids else (rows[:0], ids[:0])

    def block(index: np.ndarray) -> dict[str, Any]:
        return {
            "employee": (employees, emp_all[index]),
            "channel": (present, chan_all[index]),
            "start": cols.starts[index],
            "duration": cols.durations[index],
        }

    digest = frame_hash([(ids, block(rows)), (held_sorted, block(held_rows))])

    both = np.concatenate([rows, held_rows])
    dims, cells = _dimensions(plan, cols.starts[both], (present, chan_all[both]))
    n_cells = int(np.prod([len(d.levels) for d in dims])) if dims else 1
    n_rows, n_emp = len(rows), len(employees)
    emp = emp_all[both]
    group = np.where((emp >= 0) & (cells >= 0), emp * n_cells + cells, -1)
    size = n_emp * n_cells
    capacity = np.bincount(group[:n_rows][group[:n_rows] >= 0], minlength=size).reshape(n_emp, n_cells)
    held_count = np.bincount(group[n_rows:][group[n_rows:] >= 0], minlength=size).reshape(n_emp, n_cells)

    _, pick_rng, _ = generators(seed)
    # A top-up rounds the strata shares as its first draw did (same seed), so it wants the same.
    tie_rng, _, _ = generators(seed if allocation_seed is None else allocation_seed)
    start = tie_rng.random(n_emp)
    quota = np.full(n_emp, plan.quota, dtype=np.int64)
    available = capacity + held_count
    wanted, alloc = _allocate(quota, _weights(plan, dims, available), available, start, plan.fill_from_other_strata)
    need = np.maximum(alloc - held_count, 0)
    missing = np.maximum(quota - held_count.sum(axis=1), 0)
    need = _apportion(np.minimum(missing, need.sum(axis=1)), need.astype(np.float64), start)

    # Uniform without replacement inside each (employee, cell): the lowest random priorities win.
    # Priorities are given in id order, so the draw does not depend on how rows were stored.
    priority = pick_rng.random(n_rows)
    g = group[:n_rows]
    order = np.argsort(np.where(g >= 0, g, size).astype(np.float64) + priority, kind="stable")
    g_sorted = g[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1] if n_rows else np.zeros(0, dtype=np.int64)
    rank = np.arange(n_rows) - np.repeat(starts, np.diff(np.r_[starts, n_rows]))
    quota_of_group = np.where(g_sorted >= 0, need.ravel()[np.maximum(g_sorted, 0)], 0)
    chosen = np.sort(order[rank < quota_of_group])
    picked = rows[chosen]
    picked_ids = ids.take(pa.array(chosen, type=pa.int64())).to_pylist()
    picked_emp = [employees[e] for e in emp_all[picked].tolist()]
    shape = tuple(len(d.levels) for d in dims)

    def stratum(cell: int) -> dict[str, str]:
        index = np.unravel_index(cell, shape) if dims else ()
        return {d.name: d.levels[int(i)] for d, i in zip(dims, index, strict=True)}

    shortfalls = _shortfalls(
        employees, wanted, held_count.sum(axis=1) + need.sum(axis=1), available, held_count, quota, stratum
    )
    return Selection(
        selected=picked_ids,
        frame_hash=digest,
        eligible=n_rows,
        shortfalls=shortfalls,
        employees_of=dict(zip(picked_ids, picked_emp, strict=True)),
        strata_of={i: stratum(int(c)) for i, c in zip(picked_ids, cells[chosen].tolist(), strict=True)},
    )


def _shortfalls(
    employees: list[str],
    wanted: np.ndarray,
    drawn: np.ndarray,
    available: np.ndarray,
    held: np.ndarray,
    quota: np.ndarray,
    stratum: Any,
) -> dict[str, Any]:
    """Employees whose quota or strata could not be met, with what was wanted and what there was."""
    out: dict[str, Any] = {}
    short_cells = wanted > available
    short_emp = drawn < quota
    for e in np.flatnonzero(short_emp | short_cells.any(axis=1)).tolist():
        strata = [
            {"stratum": stratum(c), "wanted": int(wanted[e, c]), "available": int(available[e, c])}
            for c in np.flatnonzero(short_cells[e]).tolist()
        ]
        out[employees[e]] = {
            "quota": int(quota[e]),
            "drawn": int(drawn[e]),
            "held": int(held[e].sum()),
            "available": int(available[e].sum()),
            "strata": strata,
        }
    return out


def is_linked(evaluator: str, employee_id: str, links: Mapping[str, str]) -> bool:
    """An evaluator is the employee when their user name is the employee id (ignoring case), or
    when the plan links them; they never evaluate that employee's interactions."""
    linked = links.get(evaluator)
    return evaluator.casefold() == employee_id.casefold() or (linked is not None and linked == employee_id)


def assign_evaluators(
    items: Sequence[tuple[str, str]],
    evaluators: Sequence[str],
    seed: int,
    *,
    links: Mapping[str, str] | None = None,
    loads: Mapping[str, int] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Evaluator of each (interaction id, employee id), balancing load, never the employee themself.

    Items are taken most constrained first, then in a seeded random order; each goes to the least
    loaded evaluator allowed (ties drawn at random). Returns ({interaction id: evaluator}, [ids nobody may evaluate]).
    """
    links = links or {}
    pool = sorted(set(evaluators))
    load = np.array([int((loads or {}).get(e, 0)) for e in pool], dtype=np.int64)
    _, _, rng = generators(seed)
    ordered = sorted(items)
    allowed = [np.array([not is_linked(e, emp, links) for e in pool], dtype=bool) for _, emp in ordered]
    # The most constrained interactions first (fewest allowed evaluators), else in a seeded random
    # order: the others can then still even out the load.
    rank = rng.permutation(len(ordered)).tolist()
    out: dict[str, str] = {}
    nobody: list[str] = []
    for index in sorted(range(len(ordered)), key=lambda k: (int(allowed[k].sum()), rank[k])):
        interaction_id, _ = ordered[index]
        ok = allowed[index]
        if not ok.any():
            nobody.append(interaction_id)
            continue
        candidates = np.flatnonzero(ok & (load == load[ok].min()))
        choice = int(candidates[rng.integers(len(candidates))]) if len(candidates) > 1 else int(candidates[0])
        out[interaction_id] = pool[choice]
        load[choice] += 1
    return out, sorted(nobody)
