"""Draws against the store: run a plan, record the draw with its assignments, verify it, top it up.

Everything a draw depended on is recorded in `Draw.plan["resolved"]` (the employees given a
quota, the evaluator pool, the ids excluded as already evaluated or already drawn, the ids held
and replaced by a top-up, the evaluators' loads), so `verify_draw` re-runs the same pure
`qa.sampling.draw_sample` on the interactions stored today and says whether it gives the same
frame hash and the same ids, and whether each exclusion is still justified by the store.

Evaluators: the pool is the active users with role qa_lead, or the users named in the plan. An
evaluator is linked to an employee when their user name is the employee id (ignoring case) or
when the plan's `links` says so; they never get that employee's interactions.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from qa.auth import Actor, require
from qa.errors import NotFound, QAError
from qa.i18n import t
from qa.models import Assignment, Draw
from qa.partitions import months_between
from qa.sampling import SamplingPlan, Selection, assign_evaluators, draw_sample

Clock = Callable[[], datetime]
FORMAT = 1  # version of the layout of Draw.plan["resolved"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class SamplingError(QAError):
    """A draw that cannot be made as asked; `message(lang)` says why in French or English."""

    def __init__(self, code: str, **values: Any) -> None:
        self.code = code
        self.values = values
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        return t(f"sampling.draw.{self.code}", lang, **self.values)


def level_label(dimension: str, level: str, lang: str = "en") -> str:
    """A stratum level as people read it: "Téléphone", "matin"; weeks stay ISO weeks (2026-W49)."""
    if dimension == "channel":
        return t(f"channel.{level}", lang)
    if dimension == "time_of_day":
        return t(f"sampling.time_of_day.{level}", lang)
    return level


def describe_shortfalls(shortfalls: dict[str, Any], lang: str = "en") -> list[str]:
    """One line per employee who fell short, then one per short stratum, then unassigned ones."""
    lines: list[str] = []
    for emp, info in sorted(shortfalls.get("employees", {}).items()):
        lines.append(
            t(
                "sampling.short.employee",
                lang,
                employee=emp,
                drawn=info["drawn"],
                quota=info["quota"],
                available=info["available"],
            )
        )
        for item in info["strata"]:
            where = (
                ", ".join(
                    f"{t(f'sampling.dimension.{k}', lang)}={level_label(k, v, lang)}"
                    for k, v in item["stratum"].items()
                )
                or "-"
            )
            lines.append(
                "  "
                + t("sampling.short.stratum", lang, where=where, wanted=item["wanted"], available=item["available"])
            )
    if not lines:
        lines.append(t("sampling.short.none", lang))
    if shortfalls.get("unassigned"):
        lines.append(t("sampling.short.unassigned", lang, ids=", ".join(shortfalls["unassigned"])))
    return lines


@dataclass
class DrawOutcome:
    """A recorded draw, its assignments and the pure selection it came from."""

    draw: Draw
    assignments: list[Assignment]
    selection: Selection


def plan_of(draw: Draw) -> SamplingPlan:
    return SamplingPlan.model_validate({k: v for k, v in draw.plan.items() if k in SamplingPlan.model_fields})


def quota_employees(store: Any, plan: SamplingPlan) -> list[str]:
    """The plan's employees (each must be on the roster), else every active employee."""
    if plan.employees is None:
        return [e.id for e in store.list_employees(active_only=True)]
    known = {e.id for e in store.list_employees()}
    unknown = sorted(set(plan.employees) - known)
    if unknown:
        raise SamplingError("unknown_employees", ids=", ".join(unknown))
    return sorted(set(plan.employees))


def evaluator_pool(store: Any, plan: SamplingPlan) -> list[str]:
    """The users named by the plan (each must be an active user), else the active QA leads."""
    users = {u.name: u for u in store.list_users(active_only=True)}
    if plan.evaluators is not None:
        unknown = sorted(set(plan.evaluators) - set(users))
        if unknown:
            raise SamplingError("unknown_evaluators", ids=", ".join(unknown))
        return sorted(set(plan.evaluators))
    pool = sorted(name for name, user in users.items() if user.role == "qa_lead")
    if not pool:
        raise SamplingError("no_evaluator")
    return pool


def period_frame(store: Any, plan: SamplingPlan) -> pd.DataFrame:
    """The period's interactions in the columns of `frame_of`, read as columns (no records built)."""
    start, end = plan.bounds()
    rows = store.interaction_frame(start, end)
    return pd.DataFrame(
        {
            "id": rows["id"],
            "employee_id": rows["employee_id"],
            "channel": rows["channel"],
            "start": rows["started_at"].dt.as_unit("ns").astype("int64").to_numpy(),
            "duration": rows["duration_seconds"].to_numpy(dtype="float64"),
        }
    )


def evaluated_ids(store: Any, plan: SamplingPlan) -> set[str]:
    """Interactions of the period already evaluated (an evaluation, or an assignment marked done)."""
    start, end = plan.bounds()
    evaluated = store.evaluation_rows(months=months_between(start, end))["interaction_id"].dropna()
    return set(evaluated) | {a.interaction_id for a in store.assignments() if a.status == "done" or a.evaluation_id}


def _family(store: Any, draw_id: str) -> list[Draw]:
    """A draw and its top-ups, oldest first (a top-up's id leads to the same family)."""
    draw = store.get_draw(draw_id)
    root_id = draw.plan.get("topup_of") or draw.id
    draws = store.list_draws()
    return [d for d in draws if d.id == root_id or d.plan.get("topup_of") == root_id]


def _draw_id(period: str, frame_hash: str, seed: int, now: datetime) -> str:
    short = hashlib.sha256(f"{frame_hash}:{seed}:{now.isoformat()}".encode()).hexdigest()[:8]
    return f"draw-{period}-{short}"


def _record(
    store: Any,
    frame: pd.DataFrame,
    plan: SamplingPlan,
    seed: int,
    by: str,
    now: datetime,
    resolved: dict[str, Any],
    topup_of: str | None,
) -> DrawOutcome:
    excluded = resolved["excluded_evaluated"] + resolved["excluded_drawn"] + resolved["replaced"]
    selection = draw_sample(
        plan,
        frame,
        seed,
        employees=resolved["employees"],
        excluded=excluded,
        held=resolved["held"],
        allocation_seed=resolved.get("allocation_seed"),
    )
    items = [(i, selection.employees_of[i]) for i in selection.selected]
    chosen, nobody = assign_evaluators(items, resolved["evaluators"], seed, links=plan.links, loads=resolved["loads"])
    draw = Draw(
        id=_draw_id(plan.period, selection.frame_hash, seed, now),
        plan={
            **plan.model_dump(mode="json"),
            "format": FORMAT,
            "topup_of": topup_of,
            "resolved": {**resolved, "eligible": selection.eligible},
        },
        seed=seed,
        frame_hash=selection.frame_hash,
        created_at=now,
        created_by=by,
        selected=selection.selected,
        shortfalls={"employees": selection.shortfalls, "unassigned": nobody},
    )
    assignments = [
        Assignment(draw_id=draw.id, interaction_id=i, employee_id=selection.employees_of[i], evaluator=chosen[i])
        for i in selection.selected
        if i in chosen
    ]
    store.save_draw(draw, assignments)
    return DrawOutcome(draw, assignments, selection)


def _author(actor: Actor | None, by: str) -> str:
    if actor is None:
        return by
    require(actor, "sample")
    return actor.name


def run_draw(
    store: Any,
    plan: SamplingPlan,
    *,
    seed: int | None = None,
    by: str = "qa",
    clock: Clock = utcnow,
    allow_repeat: bool = False,
    actor: Actor | None = None,
) -> DrawOutcome:
    """Draw the plan's sample from the stored interactions, assign it, record both; returns them.

    Without a seed, a random one is taken (and recorded). A second full draw of a period is
    refused unless `allow_repeat` (a top-up is what fills a draw's gaps). The app passes the
    signed-in `actor` (who needs the "sample" permission and is recorded as the author); the
    command line, run by whoever holds the data folder, passes `by`.
    """
    by = _author(actor, by)
    earlier = [d for d in store.list_draws() if d.plan.get("period") == plan.period and not d.plan.get("topup_of")]
    if earlier and not allow_repeat:
        raise SamplingError("already_drawn", period=plan.period, draw=earlier[-1].id)
    seed = secrets.randbits(63) if seed is None else seed
    frame = period_frame(store, plan)
    if frame.empty:
        raise SamplingError("no_interactions", period=plan.period)
    in_frame = set(frame["id"].tolist())
    employees = quota_employees(store, plan)
    pool = evaluator_pool(store, plan)
    evaluated = sorted(evaluated_ids(store, plan) & in_frame) if plan.exclude_evaluated else []
    drawn = sorted({i for d in store.list_draws() for i in d.selected} & in_frame) if plan.exclude_drawn else []
    resolved = {
        "employees": employees,
        "evaluators": pool,
        "excluded_evaluated": evaluated,
        "excluded_drawn": drawn,
        "held": [],
        "replaced": [],
        "loads": {},
    }
    return _record(store, frame, plan, seed, by, clock(), resolved, None)


def topup(
    store: Any,
    draw_id: str,
    *,
    replace: Iterable[str] = (),
    seed: int | None = None,
    by: str = "qa",
    clock: Clock = utcnow,
    actor: Actor | None = None,
) -> DrawOutcome:
    """Fill only what a draw is missing: replaced interactions (an unusable recording), employees
    added since, interactions imported since. Replaced interactions' assignments are cancelled."""
    by = _author(actor, by)
    family = _family(store, draw_id)
    root = family[0]
    plan = plan_of(root)
    drawn = {i for d in family for i in d.selected}
    replaced_before = {i for d in family for i in d.plan["resolved"].get("replaced", [])}
    replace = sorted(set(replace))
    wrong = [i for i in replace if i not in drawn or i in replaced_before]
    if wrong:
        raise SamplingError("not_drawn", draw=root.id, ids=", ".join(wrong))
    replaced = sorted(replaced_before | set(replace))
    held = sorted(drawn - set(replaced))
    frame = period_frame(store, plan)
    in_frame = set(frame["id"].tolist())
    others = {i for d in store.list_draws() if d not in family for i in d.selected}
    evaluated = sorted((evaluated_ids(store, plan) & in_frame) - set(held)) if plan.exclude_evaluated else []
    current = {
        (a.interaction_id): a
        for d in family
        for a in store.assignments(draw_id=d.id)
        if a.status != "cancelled" and a.interaction_id in set(held)
    }
    loads: dict[str, int] = {}
    for a in current.values():
        loads[a.evaluator] = loads.get(a.evaluator, 0) + 1
    resolved = {
        "employees": quota_employees(store, plan),
        "evaluators": evaluator_pool(store, plan),
        "excluded_evaluated": evaluated,
        "excluded_drawn": sorted(others & in_frame) if plan.exclude_drawn else [],
        "held": held,
        "replaced": replaced,
        "loads": dict(sorted(loads.items())),
        "allocation_seed": root.seed,
    }
    seed = secrets.randbits(63) if seed is None else seed
    # Recorded even when nothing was missing: the top-up then documents that the draw was complete.
    outcome = _record(store, frame, plan, seed, by, clock(), resolved, root.id)
    cancelled = [
        a.model_copy(update={"status": "cancelled"})
        for d in family
        for a in store.assignments(draw_id=d.id)
        if a.interaction_id in set(replace)
    ]
    if cancelled:
        store.save_assignments(cancelled)
    return outcome


@dataclass
class Verification:
    """Whether a draw is reproduced by the stored interactions today, and what differs if not."""

    draw_id: str
    matches: bool
    recorded_hash: str
    frame_hash: str
    selected: int
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ids(items: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" ... ({len(items)} in all)" if len(items) > limit else "")


def verify_draw(store: Any, draw_id: str) -> Verification:
    """Re-run the draw from the stored interactions with its recorded plan, seed and exclusions."""
    draw = store.get_draw(draw_id)
    plan = plan_of(draw)
    resolved = draw.plan["resolved"]
    excluded = resolved["excluded_evaluated"] + resolved["excluded_drawn"] + resolved["replaced"]
    selection = draw_sample(
        plan,
        period_frame(store, plan),
        draw.seed,
        employees=resolved["employees"],
        excluded=excluded,
        held=resolved["held"],
        allocation_seed=resolved.get("allocation_seed"),
    )
    out = Verification(draw.id, True, draw.frame_hash, selection.frame_hash, len(draw.selected))
    if selection.frame_hash != draw.frame_hash:
        out.differences.append(
            f"the eligible interactions changed: frame hash {selection.frame_hash[:16]}..., recorded "
            f"{draw.frame_hash[:16]}... ({selection.eligible} eligible now, {resolved.get('eligible')} then)"
        )
    now, then = set(selection.selected), set(draw.selected)
    if now != then:
        out.differences.append(f"recorded but not drawn now: {_ids(sorted(then - now))}" if then - now else "")
        out.differences.append(f"drawn now but not recorded: {_ids(sorted(now - then))}" if now - then else "")
    before = [d for d in store.list_draws() if (d.created_at, d.id) < (draw.created_at, draw.id)]
    unjustified = sorted(set(resolved["excluded_drawn"]) - {i for d in before for i in d.selected})
    if unjustified:
        out.differences.append(f"excluded as already drawn, but no earlier draw has them: {_ids(unjustified)}")
    if draw.plan.get("topup_of"):
        family = {
            i
            for d in before
            if d.id == draw.plan["topup_of"] or d.plan.get("topup_of") == draw.plan["topup_of"]
            for i in d.selected
        }
        stray = sorted((set(resolved["held"]) | set(resolved["replaced"])) - family)
        if stray:
            out.differences.append(f"held or replaced but not drawn earlier in this family: {_ids(stray)}")
    not_evaluated = sorted(set(resolved["excluded_evaluated"]) - evaluated_ids(store, plan))
    if not_evaluated:
        out.differences.append(f"excluded as already evaluated, but not evaluated: {_ids(not_evaluated)}")
    out.differences = [d for d in out.differences if d]
    out.matches = not out.differences
    items = [(i, selection.employees_of[i]) for i in selection.selected if i in selection.employees_of]
    chosen, _ = assign_evaluators(
        items, resolved["evaluators"], draw.seed, links=plan.links, loads=resolved.get("loads") or {}
    )
    stored = {a.interaction_id: a.evaluator for a in store.assignments(draw_id=draw.id)}
    moved = sorted(i for i, e in stored.items() if chosen.get(i) not in (None, e))
    if moved:
        out.notes.append(f"reassigned since the draw (allowed): {_ids(moved)}")
    return out


def find_draw(store: Any, draw_id: str) -> Draw:
    try:
        return store.get_draw(draw_id)
    except NotFound:
        known = [d.id for d in store.list_draws()][-5:]
        raise SamplingError("no_draw", draw=draw_id, latest=f" ({', '.join(known)})" if known else "") from None


@dataclass
class Progress:
    """How far a draw (with its top-ups) has got: drawn, assigned, evaluated, overall and per person."""

    draw_id: str
    period: str
    quota: int
    drawn: int
    assigned: int
    evaluated: int
    replaced: int
    unassigned: list[str]
    short: dict[str, Any]  # employee id -> shortfall (see qa.sampling), from the latest draw of the family
    employees: list[dict[str, Any]]  # employee_id, quota, drawn, assigned, evaluated, short
    evaluators: list[dict[str, Any]]  # evaluator, assigned, evaluated
    draws: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def draw_progress(store: Any, draw_id: str, *, actor: Actor | None = None) -> Progress:
    """Drawn, assigned and evaluated counts of a draw and its top-ups (for the page and `show`)."""
    if actor is not None:
        require(actor, "sample")
    family = _family(store, find_draw(store, draw_id).id)
    root, latest = family[0], family[-1]
    plan = plan_of(root)
    replaced = {i for d in family for i in d.plan["resolved"].get("replaced", [])}
    selected = [i for d in family for i in d.selected if i not in replaced]
    start, end = plan.bounds()
    frame = store.interaction_frame(start, end)
    frame = frame[frame["id"].isin(selected)]
    owner = dict(zip(frame["id"], frame["employee_id"], strict=True))
    active = {a.interaction_id: a for d in family for a in store.assignments(draw_id=d.id) if a.status != "cancelled"}
    evaluated = (evaluated_ids(store, plan) | {i for i, a in active.items() if a.status == "done"}) & set(selected)
    per_emp: dict[str, dict[str, Any]] = {
        e: {"employee_id": e, "quota": plan.quota, "drawn": 0, "assigned": 0, "evaluated": 0, "short": False}
        for e in latest.plan["resolved"]["employees"]
    }
    per_eval: dict[str, dict[str, Any]] = {}
    for i in selected:
        emp = owner.get(i) or (active[i].employee_id if i in active else "?")
        row = per_emp.setdefault(
            emp, {"employee_id": emp, "quota": plan.quota, "drawn": 0, "assigned": 0, "evaluated": 0, "short": False}
        )
        row["drawn"] += 1
        row["evaluated"] += i in evaluated
        if i in active:
            row["assigned"] += 1
            ev = per_eval.setdefault(
                active[i].evaluator, {"evaluator": active[i].evaluator, "assigned": 0, "evaluated": 0}
            )
            ev["assigned"] += 1
            ev["evaluated"] += i in evaluated
    short = latest.shortfalls.get("employees", {})
    for emp in short:
        if emp in per_emp:
            per_emp[emp]["short"] = True
    return Progress(
        draw_id=root.id,
        period=plan.period,
        quota=plan.quota,
        drawn=len(selected),
        assigned=sum(1 for i in selected if i in active),
        evaluated=len(evaluated),
        replaced=len(replaced),
        unassigned=sorted(i for i in selected if i not in active),
        short=short,
        employees=sorted(per_emp.values(), key=lambda r: r["employee_id"]),
        evaluators=sorted(per_eval.values(), key=lambda r: r["evaluator"]),
        draws=[d.id for d in family],
    )
