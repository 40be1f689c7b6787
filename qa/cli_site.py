"""CLI commands of the coaching site: `qa site build` and `qa site links`."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from qa.cli import command, data_dir, print_json
from qa.errors import QAError


@command
def register(sub: argparse._SubParsersAction) -> None:
    site = sub.add_parser("site", help="build the static coaching site and print its private links")
    ssub = site.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = ssub.add_parser("build", help="build or update the site (only changed pages are rewritten)")
    build.add_argument("--out", required=True, help="output folder (created if needed)")
    build.add_argument("--full", action="store_true", help="ignore the manifest and re-render every page")
    build.add_argument("--json", action="store_true", help="print the build report as JSON")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(handler=cmd_build)
    links = ssub.add_parser("links", help="print each employee's private page link (for sending)")
    links.add_argument("--base-url", default="", help="prefix of the links, e.g. https://intranet/coaching/")
    links.add_argument("--lang", choices=["fr", "en"], default="fr")
    links.add_argument("--rotate", metavar="EMPLOYEE", help="give this employee a new token (old link stops working)")
    links.add_argument("--json", action="store_true")
    links.set_defaults(handler=cmd_links)


class ProgressBar:
    """A one-line progress bar on a terminal (stderr); silent when stderr is not a terminal."""

    WIDTH = 30

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.last = -1

    def __call__(self, done: int, total: int, what: str) -> None:
        if not self.enabled or total <= 0:
            return
        percent = 100 * done // total
        if percent == self.last and done != total:
            return
        self.last = percent
        filled = self.WIDTH * done // total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {percent:3d}% {done}/{total} pages")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _open_store(args: argparse.Namespace):
    from qa.store import Store

    return Store.open(data_dir(args))


def cmd_build(args: argparse.Namespace) -> int:
    from sitegen.build import build_site

    store = _open_store(args)
    try:
        progress = None if args.quiet or args.json else ProgressBar()
        report = build_site(store, args.out, full=args.full, progress=progress)
    finally:
        store.close()
    if args.json:
        print_json(report.to_dict())
        return 0
    print(
        f"{report.pages} pages in {report.out_dir}: {report.written} written, {report.unchanged} unchanged, "
        f"{report.removed} removed ({report.seconds:.2f} s)"
    )
    print(f"QA leads' overview: {report.leads_page}")
    return 0


def cmd_links(args: argparse.Namespace) -> int:
    from sitegen import paths

    store = _open_store(args)
    try:
        employees = [e for e in store.list_employees() if e.active]
        if args.rotate:
            if args.rotate not in {e.id for e in employees}:
                raise QAError(f"no active employee {args.rotate!r}: only active employees have a page")
            store.rotate_site_token(args.rotate)
        tokens = store.site_tokens([e.id for e in employees]) if employees else {}
    finally:
        store.close()
    base = args.base_url
    if base and not base.endswith("/"):
        base += "/"
    rows = [
        {"employee_id": e.id, "name": e.display_name, "link": base + paths.employee_page(tokens[e.id], args.lang)}
        for e in sorted(employees, key=lambda e: e.id)
        if not args.rotate or e.id == args.rotate
    ]
    leads = base + paths.leads_index(paths.leads_key(tokens), args.lang) if tokens else None
    if args.json:
        print_json({"employees": rows, "leads": leads})
        return 0
    for row in rows:
        print(f"{row['employee_id']}\t{row['name']}\t{row['link']}")
    if leads and not args.rotate:
        print(f"# QA leads' overview (not for employees): {leads}")
    if args.rotate:
        print(
            "# Rebuild the site (qa site build) so that the new link works and the old one is removed.", file=sys.stderr
        )
    return 0
