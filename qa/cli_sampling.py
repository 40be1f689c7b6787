"""CLI commands about sampling: `qa interactions import|mappings` and `qa sample draw|show|verify|topup|list`."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from typing import Any

from qa.call_logs import is_excel
from qa.cli import command, data_dir, print_json
from qa.draws import describe_shortfalls, draw_progress, find_draw, plan_of, run_draw, topup, verify_draw
from qa.errors import QAError
from qa.interactions import (
    FIELDS,
    ColumnMapping,
    ImportRefused,
    guess_mapping,
    import_interactions,
    list_mappings,
    load_mapping,
    mapping_from_dict,
    read_table,
    save_mapping,
)
from qa.sampling import STRATA, SamplingPlan, plan_from
from qa.store import Store

USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$")


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise QAError(f"{what} must be written KEY=VALUE, not {item!r}")
        out[key.strip()] = value.strip()
    return out


def _who(args: argparse.Namespace) -> str:
    name = args.by or os.environ.get("QA_USER") or getpass.getuser()
    return name if USER.match(name or "") else "cli"


@command
def register(sub: argparse._SubParsersAction) -> None:
    inter = sub.add_parser("interactions", help="import call logs (CSV or Excel)")
    isub = inter.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = isub.add_parser("import", help="import a call log; all or nothing, importing twice adds nothing")
    imp.add_argument("file")
    imp.add_argument("--mapping", help="a saved column mapping (default: guessed from the headers)")
    imp.add_argument("--save-mapping", metavar="NAME", help="save the mapping used, for the next imports")
    imp.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN",
        help=f"column of a field (fields: {', '.join(FIELDS)}); repeatable",
    )
    imp.add_argument("--sheet", help="Excel sheet (default: the first)")
    imp.add_argument(
        "--default-channel",
        choices=["phone", "email", "chat", "face_to_face"],
        help="channel of every row when the file has no channel column",
    )
    imp.add_argument("--timezone", help="time zone of the file's local times (default Europe/Paris)")
    imp.add_argument("--encoding", help="file encoding (default: UTF-8 with or without BOM, else Latin-1)")
    imp.add_argument("--sep", help="CSV separator (default: guessed from the header line)")
    imp.add_argument("--date-format", help="strftime format of the start column, e.g. %%d/%%m/%%Y %%H:%%M")
    imp.add_argument("--duration-unit", choices=["seconds", "minutes", "milliseconds"])
    imp.add_argument(
        "--skip-unknown-employees",
        action="store_true",
        help="leave out rows of employees missing from the roster (listed) instead of refusing",
    )
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=cmd_import)
    maps = isub.add_parser("mappings", help="list the saved column mappings")
    maps.set_defaults(handler=cmd_mappings)

    sample = sub.add_parser("sample", help="draw, show, verify and top up samples of interactions")
    ssub = sample.add_subparsers(dest="action", required=True, metavar="ACTION")
    draw = ssub.add_parser("draw", help="draw a period's sample with a recorded seed and assign it")
    draw.add_argument("--period", required=True, help="month, YYYY-MM")
    draw.add_argument("--quota", required=True, type=int, help="interactions per employee")
    draw.add_argument("--strata", default="channel,week", help=f"comma list among {', '.join(STRATA)} ('' for none)")
    draw.add_argument(
        "--allocation",
        action="append",
        metavar="DIM=RULE",
        help="proportional (default), equal, or weights like channel=phone:3+chat:1; repeatable",
    )
    draw.add_argument("--min-duration", type=int, default=0, help="seconds; shorter interactions are not drawn")
    draw.add_argument("--channels", help="only these channels (comma list)")
    draw.add_argument("--employees", help="only these employees (comma list; default: every active employee)")
    draw.add_argument("--evaluators", help="evaluator user names (comma list; default: the active QA leads)")
    draw.add_argument(
        "--link",
        action="append",
        metavar="USER=EMPLOYEE",
        help="an evaluator who is also this employee (same name is linked anyway)",
    )
    draw.add_argument("--include-evaluated", action="store_true", help="allow already evaluated interactions")
    draw.add_argument("--include-drawn", action="store_true", help="allow interactions drawn by other draws")
    draw.add_argument("--no-fill", action="store_true", help="do not fill a short stratum from other strata")
    draw.add_argument("--timezone", default="Europe/Paris")
    draw.add_argument("--seed", type=int, help="seed (default: a random one, recorded)")
    draw.add_argument("--again", action="store_true", help="draw again for a period that already has a draw")
    draw.add_argument("--by", help="who draws (default: $QA_USER or the login name)")
    draw.add_argument("--json", action="store_true")
    draw.set_defaults(handler=cmd_draw)
    show = ssub.add_parser("show", help="a draw: plan, seed, shortfalls, interactions, assignments, progress")
    show.add_argument("draw")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)
    verify = ssub.add_parser("verify", help="re-run a draw from the stored interactions (exit 1 if it differs)")
    verify.add_argument("draw")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(handler=cmd_verify)
    top = ssub.add_parser("topup", help="fill what a draw is missing (replaced interactions, new employees)")
    top.add_argument("draw")
    top.add_argument(
        "--replace",
        nargs="+",
        default=[],
        metavar="INTERACTION_ID",
        help="drawn interactions that cannot be evaluated (their assignment is cancelled)",
    )
    top.add_argument("--seed", type=int)
    top.add_argument("--by")
    top.add_argument("--json", action="store_true")
    top.set_defaults(handler=cmd_topup)
    listing = ssub.add_parser("list", help="one line per draw")
    listing.set_defaults(handler=cmd_list)


# -- interactions ----------------------------------------------------------------------------------


def _first_lines(data: bytes, source: str, count: int = 5) -> bytes:
    """A CSV's header line and a few rows: all that guessing a mapping reads (an Excel file whole).

    Reading a million-row export twice, once to guess and once to import, cost 0.7 s of CPU.
    """
    if is_excel(data, source):
        return data
    end = 0
    for _ in range(count):
        found = data.find(b"\n", end)
        if found < 0:
            return data
        end = found + 1
    return data[:end]


def _mapping(args: argparse.Namespace, data: bytes, folder: Any) -> ColumnMapping:
    if args.mapping:
        base = load_mapping(folder, args.mapping)
    else:
        base = guess_mapping(read_table(_first_lines(data, args.file), args.file, None, args.sheet).frame.columns)
    values = base.model_dump()
    values["columns"] = {**values["columns"], **_pairs(args.map, "--map")}
    for name in ("default_channel", "timezone", "encoding", "sep", "date_format", "duration_unit", "sheet"):
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    if values.get("sep") == "\\t":
        values["sep"] = "\t"
    return mapping_from_dict(values, "the command line")


def cmd_import(args: argparse.Namespace) -> int:
    try:
        with open(args.file, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise QAError(f"{args.file}: cannot read the file: {error.strerror or error}") from None
    folder = data_dir(args)
    with Store.open(folder) as store:
        try:
            mapping = _mapping(args, data, folder)
            report = import_interactions(
                store, data, args.file, mapping, sheet=args.sheet, skip_unknown_employees=args.skip_unknown_employees
            )
        except ImportRefused as refused:
            print(refused.render(limit=None), file=sys.stderr)
            return 1
        if args.save_mapping:
            save_mapping(folder, args.save_mapping, mapping)
    if args.json:
        print_json({**report.to_dict(), "mapping": mapping.model_dump(mode="json")})
        return 0
    print(
        f"{args.file}: {report.rows} row(s), {report.added} interaction(s) added, "
        f"{report.already_present} already present"
    )
    if report.unknown_employees:
        print(f"skipped {report.skipped_rows} row(s) of employees not on the roster:")
        for emp, lines in sorted(report.unknown_employees.items()):
            print(f"  {emp}: line(s) {', '.join(map(str, lines[:10]))}{' ...' if len(lines) > 10 else ''}")
    if args.save_mapping:
        print(f"mapping saved as {args.save_mapping!r}")
    return 0


def cmd_mappings(args: argparse.Namespace) -> int:
    folder = data_dir(args)
    for name in list_mappings(folder):
        columns = load_mapping(folder, name).columns
        print(f"{name}\t" + ", ".join(f"{k}={v}" for k, v in columns.items()))
    return 0


# -- sample ----------------------------------------------------------------------------------------


def _allocation(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dim, rule in _pairs(items, "--allocation").items():
        if rule in ("proportional", "equal"):
            out[dim] = rule
            continue
        weights: dict[str, float] = {}
        for part in rule.split("+"):
            level, sep, weight = part.partition(":")
            try:
                weights[level.strip()] = float(weight.replace(",", "."))
            except ValueError:
                raise QAError(f"--allocation {dim}: {part!r} is not LEVEL:WEIGHT") from None
            if not sep:
                raise QAError(f"--allocation {dim}: {part!r} is not LEVEL:WEIGHT")
        out[dim] = weights
    return out


def _plan(args: argparse.Namespace) -> SamplingPlan:
    values = {
        "period": args.period,
        "quota": args.quota,
        "strata": _csv(args.strata) or [],
        "allocation": _allocation(args.allocation),
        "min_duration": args.min_duration,
        "channels": _csv(args.channels),
        "employees": _csv(args.employees),
        "evaluators": _csv(args.evaluators),
        "links": _pairs(args.link, "--link"),
        "exclude_evaluated": not args.include_evaluated,
        "exclude_drawn": not args.include_drawn,
        "fill_from_other_strata": not args.no_fill,
        "timezone": args.timezone,
    }
    return plan_from(values)


def _print_shortfalls(shortfalls: dict[str, Any]) -> None:
    if shortfalls.get("employees"):
        print("SHORT: the interactions stored cannot meet these quotas or strata:")
        for line in describe_shortfalls({"employees": shortfalls["employees"]}):
            print(f"  {line}")
    else:
        print(describe_shortfalls({})[0])
    if shortfalls.get("unassigned"):
        print("UNASSIGNED: " + describe_shortfalls({"unassigned": shortfalls["unassigned"]})[-1])


def _print_outcome(outcome: Any, as_json: bool) -> int:
    draw = outcome.draw
    if as_json:
        print_json(
            {
                "draw": draw.model_dump(mode="json"),
                "assignments": [a.model_dump(mode="json") for a in outcome.assignments],
            }
        )
        return 0
    loads: dict[str, int] = {}
    for a in outcome.assignments:
        loads[a.evaluator] = loads.get(a.evaluator, 0) + 1
    print(f"{draw.id}: {len(draw.selected)} interaction(s) drawn from {outcome.selection.eligible} eligible")
    print(f"seed {draw.seed}, frame hash {draw.frame_hash}")
    print("assigned: " + (", ".join(f"{k} {v}" for k, v in sorted(loads.items())) or "none"))
    _print_shortfalls(draw.shortfalls)
    print(f"anyone can check it: qa sample verify {draw.id}")
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    plan = _plan(args)
    with Store.open(data_dir(args)) as store:
        outcome = run_draw(store, plan, seed=args.seed, by=_who(args), allow_repeat=args.again)
    return _print_outcome(outcome, args.json)


def cmd_topup(args: argparse.Namespace) -> int:
    with Store.open(data_dir(args)) as store:
        find_draw(store, args.draw)
        outcome = topup(store, args.draw, replace=args.replace, seed=args.seed, by=_who(args))
    return _print_outcome(outcome, args.json)


def cmd_show(args: argparse.Namespace) -> int:
    with Store.open(data_dir(args)) as store:
        draw = find_draw(store, args.draw)
        plan = plan_of(draw)
        progress = draw_progress(store, draw.id)
        interactions = store.get_interactions(draw.selected)
        assignments = {a.interaction_id: a for a in store.assignments(draw_id=draw.id)}
    rows = []
    for i in draw.selected:
        record, a = interactions.get(i), assignments.get(i)
        rows.append(
            {
                "interaction_id": i,
                "employee_id": record.employee_id if record else None,
                "channel": record.channel if record else None,
                "started_at": record.started_at.isoformat() if record else None,
                "evaluator": a.evaluator if a else None,
                "status": a.status if a else "unassigned",
            }
        )
    if args.json:  # customer references are never shown
        print_json({"draw": draw.model_dump(mode="json"), "interactions": rows, "progress": progress.to_dict()})
        return 0
    kind = f"top-up of {draw.plan['topup_of']}" if draw.plan.get("topup_of") else "draw"
    print(f"{draw.id} ({kind}) by {draw.created_by} at {draw.created_at.isoformat(timespec='seconds')}")
    print(
        f"period {plan.period}, quota {plan.quota} per employee, strata {', '.join(plan.strata) or 'none'}"
        f", min duration {plan.min_duration} s"
    )
    print(f"seed {draw.seed}, frame hash {draw.frame_hash}, {draw.plan['resolved'].get('eligible')} eligible")
    print(
        f"progress: {progress.drawn} drawn, {progress.assigned} assigned, {progress.evaluated} evaluated"
        + (f", {progress.replaced} replaced" if progress.replaced else "")
    )
    _print_shortfalls(draw.shortfalls)
    for row in rows:
        print(
            "  ".join(
                str(row[k] or "-")
                for k in ("interaction_id", "employee_id", "channel", "started_at", "evaluator", "status")
            )
        )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    with Store.open(data_dir(args)) as store:
        find_draw(store, args.draw)
        result = verify_draw(store, args.draw)
    if args.json:
        print_json(result.to_dict())
    else:
        state = "MATCHES" if result.matches else "DOES NOT MATCH"
        print(f"{result.draw_id}: {state} ({result.selected} interaction(s), frame hash {result.frame_hash})")
        for line in result.differences:
            print(f"  differs: {line}")
        for line in result.notes:
            print(f"  note: {line}")
    return 0 if result.matches else 1


def cmd_list(args: argparse.Namespace) -> int:
    with Store.open(data_dir(args)) as store:
        draws = store.list_draws()
    for d in draws:
        kind = f"top-up of {d.plan['topup_of']}" if d.plan.get("topup_of") else "draw"
        print(f"{d.id}\t{d.plan.get('period')}\t{len(d.selected)} drawn\t{kind}\t{d.created_at.isoformat()}")
    return 0
