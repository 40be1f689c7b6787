"""CLI commands about the store's contents: setup, demo, users, employees, export, import, backup, restore."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from qa import demo
from qa.auth import ROLES
from qa.cli import command, data_dir
from qa.errors import QAError
from qa.store import Store


@command
def register(sub: argparse._SubParsersAction) -> None:
    setup = sub.add_parser("setup", help="first run: an admin user and demo data on an empty store")
    setup.add_argument("--today", type=_day, help="reference date of the demo data (default: today)")
    setup.set_defaults(handler=cmd_setup)

    dem = sub.add_parser("demo", help="fill an empty store with deterministic demo data")
    dem.add_argument("--employees", type=_positive, default=demo.DEFAULT_EMPLOYEES)
    dem.add_argument("--evaluations", type=_positive, default=demo.DEFAULT_EVALUATIONS)
    dem.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
    dem.add_argument("--today", type=_day, help="reference date YYYY-MM-DD (default: today)")
    dem.set_defaults(handler=cmd_demo)

    users = sub.add_parser("users", help="add and list the users who sign in")
    usub = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = usub.add_parser("add", help="add a user; prints a random password once unless --password-stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--display-name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.set_defaults(handler=cmd_users_add)
    listing = usub.add_parser("list", help="one line per user: name, role, active, display name")
    listing.set_defaults(handler=cmd_users_list)

    _register_exchange(sub)


def _register_exchange(sub: argparse._SubParsersAction) -> None:
    """Employees, evaluations, export, backup and restore (qa.roster, qa.exchange, the store)."""
    employees = sub.add_parser("employees", help="import the employee roster, list employees")
    esub = employees.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = esub.add_parser("import", help="add and update employees from a CSV or Excel roster (all or nothing)")
    imp.add_argument("file")
    imp.add_argument("--full", action="store_true", help="the file is the whole roster: deactivate anyone absent")
    imp.set_defaults(handler=cmd_employees_import)
    elist = esub.add_parser("list", help="one line per employee: id, active, team, site, name")
    elist.add_argument("--active", action="store_true", help="only active employees")
    elist.set_defaults(handler=cmd_employees_list)

    evaluations = sub.add_parser("evaluations", help="import evaluations")
    evsub = evaluations.add_subparsers(dest="action", required=True, metavar="ACTION")
    evimp = evsub.add_parser("import", help="import a JSON export or a CSV in the export's shape (all or nothing)")
    evimp.add_argument("file")
    evimp.set_defaults(handler=cmd_evaluations_import)

    export = sub.add_parser("export", help="export evaluations as CSV or JSON")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--out", help="file to write (default: standard output)")
    export.add_argument("--long", action="store_true", help="one row per answer instead of one per evaluation")
    export.add_argument("--excel-fr", action="store_true", help="CSV for French Excel: ';', UTF-8 BOM, decimal comma")
    export.set_defaults(handler=cmd_export)

    backup = sub.add_parser("backup", help="snapshot the data folder (and copy it to --out: a .zip or a folder)")
    backup.add_argument("--out")
    backup.set_defaults(handler=cmd_backup)
    restore = sub.add_parser("restore", help="replace the data by a backup (the current data is backed up first)")
    restore.add_argument("file")
    restore.set_defaults(handler=cmd_restore)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


@contextmanager
def opened(args: argparse.Namespace) -> Iterator[Store]:
    store = Store.open(data_dir(args))
    try:
        yield store
    finally:
        store.close()


def _has_evaluations(store: Store) -> bool:
    return store.count_evaluations() > 0  # from the files' headers: no evaluation is read


def _print_users(users: list[demo.DemoUser]) -> None:
    print("Demo sign-ins (public demo passwords):")
    for user in users:
        print(f"  {user.name:<10} {user.role:<8} password: {user.password:<16} {user.display_name}")


def _fill_demo(store: Store, employees: int, evaluations: int, seed: int, today: date | None) -> None:
    if store.list_employees() or _has_evaluations(store):
        raise QAError(f"the store in {store.data_dir} already holds employees or evaluations; "
                      "demo data goes into an empty store (use another --data folder)")  # fmt: skip
    data = demo.demo_records(employees, evaluations, seed, today)
    written = demo.write_demo(store, data)
    print(f"Demo data written to {store.data_dir}: {written['employees']} employees, {written['evaluations']} "
          f"evaluations, {written['interactions']} calls, {written['drafts']} drafts "
          f"(seed {seed}, up to {data.today.isoformat()}).")  # fmt: skip
    _print_users(data.users)


def cmd_demo(args: argparse.Namespace) -> int:
    with opened(args) as store:
        _fill_demo(store, args.employees, args.evaluations, args.seed, args.today)
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    with opened(args) as store:
        users = store.list_users()
        if users:
            employees = store.list_employees()
            active = sum(1 for e in employees if e.active)
            evaluations, approved = store.count_evaluations(), store.count_evaluations(status="approved")
            print(f"Store {store.data_dir} is already set up: {len(users)} users, {len(employees)} employees "
                  f"({active} active), {evaluations} evaluations ({approved} approved); nothing changed.")  # fmt: skip
            return 0
        password = demo.add_user(store, "admin", "admin", "Administrateur")
        print(f"Created the admin user of {store.data_dir}.")
        print(f"  admin      admin    password: {password}   (shown once: write it down)")
        if store.list_employees() or _has_evaluations(store):
            print("The store already holds data: no demo data added.")
            return 0
        _fill_demo(store, demo.DEFAULT_EMPLOYEES, demo.DEFAULT_EVALUATIONS, demo.DEFAULT_SEED, args.today)
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise QAError("no password on standard input")
    with opened(args) as store:
        by = f"command line ({getpass.getuser()})"
        chosen = demo.add_user(store, args.name, args.role, args.display_name, password, logged_by=by)
    print(f"Added user {args.name} ({args.role}).")
    if password is None:
        print(f"Password (shown once): {chosen}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    with opened(args) as store:
        for user in store.list_users():
            state = "active" if user.active else "inactive"
            print(f"{user.name}\t{user.role}\t{state}\t{user.display_name}")
    return 0


def cmd_employees_list(args: argparse.Namespace) -> int:
    with opened(args) as store:
        for e in store.list_employees(active_only=args.active):
            print(f"{e.id}\t{'active' if e.active else 'inactive'}\t{e.team}\t{e.site}\t{e.display_name}")
    return 0


def cmd_employees_import(args: argparse.Namespace) -> int:
    from qa.roster import import_roster

    with opened(args) as store:
        report = import_roster(store, Path(args.file), full=args.full)
    print(report.summary())
    return 0


def cmd_evaluations_import(args: argparse.Namespace) -> int:
    from qa.exchange import import_evaluations

    with opened(args) as store:
        report = import_evaluations(store, Path(args.file))
    print(report.summary())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from qa.exchange import export_evaluations

    if args.excel_fr and args.format != "csv":
        raise QAError("--excel-fr is a CSV option (use --format csv)")
    with opened(args) as store:
        payload = export_evaluations(store, fmt=args.format, long=args.long, excel_fr=args.excel_fr)
    if args.out:
        try:
            Path(args.out).write_bytes(payload)
        except OSError as error:
            raise QAError(f"cannot write {args.out}: {error.strerror}") from None
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    with opened(args) as store:
        path = store.backup(args.out)
    print(f"Backup written to {path}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    if not Path(args.file).exists():
        raise QAError(f"{args.file}: no such backup file or folder")
    with opened(args) as store:
        store.restore(args.file)
    print(f"Restored {args.file} into {data_dir(args)} (the previous data was backed up first).")
    return 0
