"""CLI commands for calibration sessions, evaluator drift and disputes: `qa calibration|drift|dispute`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qa import calibration as cal
from qa import disputes
from qa.auth import Actor
from qa.cli import command, data_dir, print_json
from qa.cli_scorecards import read_answers
from qa.dashboard import drift_report
from qa.errors import NotFound, QAError
from qa.scorecards import resolve

# Whoever runs `qa` on the server already holds the data folder: without --by, lead commands act
# as this administrator. --by NAME records a named QA lead instead (and checks their role).
CLI_ACTOR = Actor("cli", "admin")


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[Any]:
    from qa.store import Store

    store = Store.open(data_dir(args))
    try:
        yield store
    finally:
        store.close()


def _actor(store: Any, name: str | None) -> Actor:
    if not name:
        return CLI_ACTOR
    try:
        user = store.get_user(name)
    except NotFound:
        raise QAError(f"no user {name!r} (add one with: qa users add {name} --role qa_lead)") from None
    if not user.active:
        raise QAError(f"user {name!r} is deactivated")
    return Actor(user.name, user.role)


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@command
def register(sub: argparse._SubParsersAction) -> None:
    calibration = sub.add_parser("calibration", help="blind calibration sessions and their reliability")
    csub = calibration.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = csub.add_parser("create", help="open a session: units to score, evaluators, optional reference")
    create.add_argument("--scorecard", required=True, help="scorecard id or path")
    create.add_argument(
        "--units", required=True, help="interaction ids (visit:EVALUATION for a mystery visit), comma-separated"
    )
    create.add_argument("--evaluators", required=True, help="user names, comma-separated (at least two)")
    create.add_argument("--reference-from", help="user whose answers are the reference (not counted in alpha)")
    create.add_argument("--id", help="session id (default: generated)")
    create.add_argument("--by", help="QA lead creating the session")
    create.set_defaults(handler=cmd_create)
    answer = csub.add_parser("answer", help="record one participant's answers to one unit")
    answer.add_argument("session")
    answer.add_argument("answers", help="YAML or JSON file: {criterion_id: value}")
    answer.add_argument("--as", dest="as_user", required=True, help="the participant answering")
    answer.add_argument("--unit", required=True)
    answer.set_defaults(handler=cmd_answer)
    answers = csub.add_parser("answers", help="print a participant's answers (others' only once closed)")
    answers.add_argument("session")
    answers.add_argument("--as", dest="as_user", required=True, help="who is asking")
    answers.add_argument("--of", dest="of_user", help="whose answers (default: your own)")
    answers.set_defaults(handler=cmd_answers)
    status = csub.add_parser("status", help="who has answered which unit (no answers shown)")
    status.add_argument("session")
    status.add_argument("--by", help="QA lead asking")
    status.set_defaults(handler=cmd_status)
    listing = csub.add_parser("list", help="one line per session")
    listing.set_defaults(handler=cmd_list)
    close = csub.add_parser("close", help="close a session: answers freeze and the report opens")
    close.add_argument("session")
    close.add_argument("--by", help="QA lead closing the session")
    close.set_defaults(handler=cmd_close)
    report = csub.add_parser("report", help="alpha per criterion and overall, ambiguous criteria, deviations")
    report.add_argument("session")
    report.add_argument("--json", action="store_true")
    report.add_argument("--lang", choices=["fr", "en"], default="fr")
    report.add_argument("--by", help="QA lead asking")
    report.set_defaults(handler=cmd_report)

    drift = sub.add_parser("drift", help="evaluators' leniency or severity against colleagues (QA leads)")
    drift.add_argument("--scorecard", help="one scorecard id (default: all)")
    drift.add_argument("--include-submitted", action="store_true", help="count evaluations not yet approved")
    drift.add_argument("--json", action="store_true")
    drift.add_argument("--by", help="QA lead asking")
    drift.set_defaults(handler=cmd_drift)

    dispute = sub.add_parser("dispute", help="record and resolve employees' disputes")
    dsub = dispute.add_subparsers(dest="action", required=True, metavar="ACTION")
    opening = dsub.add_parser("open", help="record a dispute: which criteria, why")
    opening.add_argument("evaluation")
    opening.add_argument("--criteria", required=True, help="criterion ids, comma-separated")
    opening.add_argument("--reason", required=True)
    opening.add_argument("--by", required=True, help="QA lead recording the dispute")
    opening.set_defaults(handler=cmd_dispute_open)
    resolve_ = dsub.add_parser("resolve", help="re-score the evaluation or confirm it")
    resolve_.add_argument("evaluation")
    how = resolve_.add_mutually_exclusive_group(required=True)
    how.add_argument("--rescore", metavar="ANSWERS", help="YAML or JSON file with the corrected answers")
    how.add_argument("--confirm", action="store_true", help="keep the score (needs --reason)")
    resolve_.add_argument("--reason")
    resolve_.add_argument("--by", required=True, help="QA lead resolving the dispute")
    resolve_.set_defaults(handler=cmd_dispute_resolve)
    history = dsub.add_parser("history", help="the dispute's steps from the audit log")
    history.add_argument("evaluation")
    history.add_argument("--json", action="store_true")
    history.add_argument("--by", help="QA lead asking")
    history.set_defaults(handler=cmd_dispute_history)
    rates = dsub.add_parser("rates", help="per criterion: how often disputes overturn it, beside its calibration alpha")
    rates.add_argument("--scorecard", required=True, help="scorecard id or path")
    rates.add_argument("--json", action="store_true")
    rates.add_argument("--lang", choices=["fr", "en"], default="fr")
    rates.add_argument("--by", help="QA lead asking")
    rates.set_defaults(handler=cmd_dispute_rates)


# --- calibration -------------------------------------------------------------------------------


def cmd_create(args: argparse.Namespace) -> int:
    loaded = resolve(args.scorecard)
    with _store(args) as store:
        session = cal.create_session(
            cal.CalibrationBook.of(store),
            _actor(store, args.by),
            loaded,
            _names(args.units),
            _names(args.evaluators),
            reference_by=args.reference_from,
            store=store,
            session_id=args.id,
        )
    print(session.id)
    return 0


def cmd_answer(args: argparse.Namespace) -> int:
    answers = read_answers(args.answers)
    with _store(args) as store:
        actor = _actor(store, args.as_user)
        cal.submit_answers(cal.CalibrationBook.of(store), actor, args.session, args.unit, answers)
    print(f"{args.session}: answers of {args.as_user} to {args.unit} recorded")
    return 0


def cmd_answers(args: argparse.Namespace) -> int:
    with _store(args) as store:
        actor = _actor(store, args.as_user)
        given = cal.answers_of(cal.CalibrationBook.of(store), actor, args.session, args.of_user or actor.name)
    print_json(given)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _store(args) as store:
        done = cal.progress(cal.CalibrationBook.of(store), _actor(store, args.by), args.session)
    print(f"{done.session_id}: {done.status}")
    for name, units in done.answered.items():
        missing = done.missing[name]
        print(f"  {name}: {len(units)} answered" + (f", missing {', '.join(missing)}" if missing else ""))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        sessions = cal.list_sessions(cal.CalibrationBook.of(store), CLI_ACTOR)
    for s in sessions:
        units = ",".join(u.id for u in s.units)
        print(f"{s.id}\t{s.status}\t{s.scorecard_id}\t{units}\t{','.join(s.evaluators)}")
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    with _store(args) as store:
        session = cal.close_session(cal.CalibrationBook.of(store), _actor(store, args.by), args.session)
    print(f"{session.id}: closed")
    return 0


def _number(value: float | None, digits: int = 3) -> str:
    return "undefined" if value is None else f"{value:.{digits}f}"


def cmd_report(args: argparse.Namespace) -> int:
    with _store(args) as store:
        result = cal.session_report(cal.CalibrationBook.of(store), _actor(store, args.by), args.session, lang=args.lang)
    if args.json:
        print_json(result.to_dict())
        return 0
    report = result.report
    print(
        f"{result.session.id} [{report.scorecard_id} @ {result.session.scorecard_version}]: "
        f"{len(report.units)} unit(s), {len(report.evaluators)} evaluator(s), consensus = {report.consensus}"
    )
    print(f"overall alpha: {_number(report.overall.value)} ({report.overall_interpretation})")
    print("criteria (alpha >= 0.800 reliable, 0.667 to 0.800 tentative, below ambiguous):")
    for c in report.criteria:
        agreement = "-" if c.agreement is None else f"{100 * c.agreement:.0f}%"
        print(
            f"  {c.criterion_id}: alpha {_number(c.alpha.value)} ({c.interpretation}), agreement {agreement}"
            + (f" - {c.alpha.reason}" if c.alpha.reason else "")
        )
    ambiguous = [c for c in report.criteria if c.interpretation == "ambiguous"]
    if ambiguous:
        print("ambiguous criteria, guidance to rewrite:")
        for c in ambiguous:
            print(f"  {c.criterion_id} ({result.labels.get(c.criterion_id, '')}): {c.guidance}")
    print("deviation from the " + ("reference" if report.consensus == "reference" else "others' mean") + " (points):")
    for d in report.deviations:
        print(
            f"  {d.evaluator}: mean {_number(d.mean_difference, 1)}, mean absolute {_number(d.mean_abs_difference, 1)}"
        )
    for name, units in result.missing.items():
        print(f"note: {name} did not answer {', '.join(units)}")
    return 0


# --- drift -------------------------------------------------------------------------------------


def cmd_drift(args: argparse.Namespace) -> int:
    statuses = ("approved", "submitted") if args.include_submitted else ("approved",)
    with _store(args) as store:
        table = drift_report(store, _actor(store, args.by), scorecard_id=args.scorecard, statuses=statuses)
    if args.json:
        print_json(table.astype(object).where(table.notna(), None).to_dict(orient="records"))
        return 0
    if table.empty:
        print("no evaluator shares employees with a colleague yet: drift cannot be measured")
        return 0
    for row in table.itertuples(index=False):
        interval = "" if row.low is None or row.low != row.low else f" [{row.low:+.1f}, {row.high:+.1f}]"
        shift = "n/a" if row.shift is None or row.shift != row.shift else f"{row.shift:+.1f}"
        flag = f"  FLAGGED ({row.direction})" if row.flagged else ""
        print(f"{row.evaluator}: {shift} points{interval} over {row.n_pairs} shared employee(s){flag}")
    return 0


# --- disputes ----------------------------------------------------------------------------------


def cmd_dispute_open(args: argparse.Namespace) -> int:
    with _store(args) as store:
        disputes.open_dispute(store, _actor(store, args.by), args.evaluation, _names(args.criteria), args.reason)
    print(f"{args.evaluation}: disputed (held back from the coaching site until resolved)")
    return 0


def cmd_dispute_resolve(args: argparse.Namespace) -> int:
    answers = read_answers(args.rescore) if args.rescore else None
    with _store(args) as store:
        actor = _actor(store, args.by)
        if answers is not None:
            record = disputes.rescore(store, actor, args.evaluation, answers, reason=args.reason)
            print(f"{args.evaluation}: re-scored, overall {_number(record.score.get('overall'), 1)}")
        else:
            disputes.confirm(store, actor, args.evaluation, args.reason or "")
            print(f"{args.evaluation}: confirmed")
    return 0


def cmd_dispute_history(args: argparse.Namespace) -> int:
    with _store(args) as store:
        steps = disputes.dispute_history(store, _actor(store, args.by), args.evaluation)
    if args.json:
        print_json([step.to_dict() for step in steps])
        return 0
    for step in steps:
        extra = f" changed {sorted(step.changed)}" if step.changed else ""
        print(f"{step.at:%Y-%m-%d %H:%M} {step.by} {step.action} {','.join(step.criteria)}: {step.reason or ''}{extra}")
    return 0


def cmd_dispute_rates(args: argparse.Namespace) -> int:
    loaded = resolve(args.scorecard)
    with _store(args) as store:
        rows = disputes.criterion_ambiguity(
            store, cal.CalibrationBook.of(store), _actor(store, args.by), loaded, lang=args.lang
        )
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        rate = "-" if row["overturn_rate"] is None else f"{100 * row['overturn_rate']:.0f}%"
        print(
            f"{row['criterion_id']}: alpha {_number(row['alpha'])} ({row['interpretation']}), "
            f"overturned {row['overturned']}/{row['disputes']} ({rate})"
        )
    return 0
