"""The site build: load -> context -> render -> write, incremental through a manifest of hashes.

    report = build_site(store, "site", progress=lambda done, total, what: ...)

Each page has an input fingerprint (everything its content depends on: the employee, their
approved evaluations' ids and update times, their token, the code, templates and messages) and
a content hash (sitegen/manifest.py). A rebuild skips the pages whose fingerprint is unchanged
and rewrites a file only when its bytes changed: one new approved evaluation rewrites that
employee's two pages, their team's two and the overview's two. Identical input gives
byte-identical output (no timestamps, no random ids). Employee pages are rendered by two
processes when there are many of them (fork: the loaded data is shared, not copied).
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from qa import stats
from qa.errors import QAError
from qa.i18n import LOCALE_DIR, t
from qa.models import Employee
from qa.scorecards import DEFAULT_DIR
from sitegen import context, context_leads, manifest, paths, wording
from sitegen.context_leads import Member
from sitegen.frame import Analysed, Columns, analyse_many, columns_of
from sitegen.load import Approved, SiteData, customer_references, load_site_data
from sitegen.manifest import Entries, Writer, fingerprint
from sitegen.privacy import Redactor
from sitegen.render import STATIC, TEMPLATES, environment, render
from sitegen.write import remove_temp_files

Progress = Callable[[int, int, str], None]
References = Callable[[list[str]], dict[str, str]]  # interaction ids -> customer references

OWNED_FOLDERS = ("p", "leads", paths.ASSETS)
# Below this many employee pages to render, one process is faster than starting workers.
PARALLEL_FROM = 200


@dataclass(frozen=True)
class BuildReport:
    """What a build did; `leads_page` is the relative path of the QA leads' overview."""

    out_dir: str
    pages: int
    written: int
    unchanged: int
    removed: int
    seconds: float
    leads_page: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The domain modules whose code decides what a page says: the intervals and verdicts, the
# messages, the scorecards' bands and behaviours. (Scorecard files are fingerprinted by version.)
PAGE_SHAPING_MODULES = ("stats.py", "i18n.py", "scorecard_model.py")


def fingerprinted_files() -> list[Path]:
    """The code, templates, assets and messages that shape every page."""
    here = Path(__file__).resolve().parent
    domain = Path(stats.__file__).resolve().parent
    return sorted([*here.glob("*.py"), *TEMPLATES.glob("*"), *STATIC.glob("*"), *LOCALE_DIR.glob("*/*.yaml"),
                   *(domain / name for name in PAGE_SHAPING_MODULES)])  # fmt: skip


def code_fingerprint() -> str:
    """A hash of `fingerprinted_files`: a page built by other code is rebuilt."""
    digest = hashlib.blake2b(digest_size=16)
    for path in fingerprinted_files():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class _Inputs:
    """What the plan reads of one employee's evaluations."""

    n: int  # overall scores
    stamp: str  # hash of what a page shows of the evaluations (sitegen.load.STAMPED)
    squares: float  # sum of squared deviations of the scores (0 under 2 scores)
    uses_planning: bool  # whether the verdict falls back on the pooled stdev


def _inputs(approved: Approved) -> dict[str, _Inputs]:
    overall = approved.frame["overall"].to_numpy(dtype=np.float64, na_value=np.nan)
    out = {}
    for employee_id, rows in approved.rows.items():
        values = overall[rows]
        values = values[~np.isnan(values)]
        if not np.all(np.isfinite(values)):
            raise QAError(f"an evaluation of {employee_id!r} has an overall score that is not a finite number")
        # As qa.stats.pooled_stdev adds it up, so that the planning stdev is the same number.
        squares = float(((values - values.mean()) ** 2).sum()) if len(values) >= 2 else 0.0
        # The verdict falls back on the pooled stdev under 2 scores or when they do not vary.
        planning = len(values) < 2 or bool(values.min() == values.max())
        out[employee_id] = _Inputs(len(values), approved.stamp(employee_id), squares, planning)
    return out


def _pooled_planning(inputs: Iterable[_Inputs]) -> float | None:
    """The visit-to-visit spread pooled over employees (`qa.stats.pooled_stdev` of everyone's
    scores, from per-employee sums), rounded (`qa.stats.planning_stdev`)."""
    squares, degrees = 0.0, 0
    for found in inputs:
        if found.n >= 2:
            squares += found.squares
            degrees += found.n - 1
    return stats.planning_stdev(stats.pooled_from_sums(squares, degrees))


def _page_info(page: str, twin: str, lang: str) -> context.PageInfo:
    other = "en" if lang == "fr" else "fr"
    return context.PageInfo(lang, paths.root_of(page), paths.relative(page, twin), other)


@dataclass
class _State:
    """What every employee job reads (shared with forked workers, never sent through a pipe)."""

    data: SiteData
    out: Path
    old: Entries
    planning: float | None
    redactor: Redactor
    references: dict[str, str]
    stamps: dict[str, str]


_STATE: _State | None = None
# Two sessions of the app pressing "build" at once take turns (they would share the output folder).
_BUILDING = threading.Lock()
# Leads' summaries of employees by input fingerprint: a rebuild in the same process (the app's
# Publication page) re-analyses only the employees whose evaluations changed.
_MEMBERS: dict[str, Member] = {}


def _members(state: _State, ids: list[str]) -> tuple[Columns, list[tuple[Member, Analysed]]]:
    """The columns and analysis of these employees (see sitegen.frame) with their leads' summary."""
    data = state.data
    approved = data.evaluations
    columns = columns_of(approved.frame, approved.rows, approved.layouts, ids)
    analysed = analyse_many(columns, ids, data.cards, state.planning)
    return columns, [(Member.of(data.employees[i], a), a) for i, a in zip(ids, analysed, strict=True)]


JobResult = tuple[list[str], list[Member], Entries, int, int]


def _employees_job(
    ids: list[str], state: _State | None = None, progress: Callable[[str], None] | None = None
) -> JobResult:
    """Render these employees' two pages each; returns their manifest entries and leads' summaries.

    Forked workers find the state in `_STATE` (set just before the fork); in-process jobs get it
    as an argument, so two builds in two threads never share it.
    """
    state = state or _STATE
    assert state is not None, "the build state is set before jobs run"
    writer = Writer(state.out, state.old)
    members = []
    columns, found = _members(state, ids)
    shown_of = state.data.evaluations.shown(ids, context.COMMENTS_SHOWN)
    table = context.table_rows(columns, state.data.cards, paths.LANGS)
    for employee_id, (member, analysed) in zip(ids, found, strict=True):
        employee = member.employee
        token = state.data.tokens[employee_id]
        page = {lang: paths.employee_page(token, lang) for lang in paths.LANGS}
        redacted = context.redacted_texts(employee, shown_of[employee_id], state.redactor, state.references)
        start, stop = columns.spans[employee_id]
        count = stop - start
        last_day = date.fromisoformat(columns.texts["day"][stop - 1]) if count else None
        rows = context.employee_rows(table, columns, employee_id)
        for lang in paths.LANGS:
            twin = page["en" if lang == "fr" else "fr"]
            info = _page_info(page[lang], twin, lang)
            ctx = context.employee_page(
                employee, count, last_day, analysed, state.data.cards, info, redacted, rows[lang]
            )
            writer.put(page[lang], state.stamps[employee_id], render("employee.html", ctx))
        members.append(member)
        if progress is not None:
            progress(employee_id)
    return ids, members, writer.new, writer.written, writer.unchanged


def default_workers() -> int:
    """Two processes on a multi-core machine, but only from a single-threaded program (the CLI):
    forking a threaded server (Streamlit) could copy a lock another thread holds into a worker."""
    if threading.active_count() > 1 or threading.current_thread() is not threading.main_thread():
        return 1
    return min(2, os.cpu_count() or 1)


# Employees are rendered in slices that this process takes from the front of the list and the
# worker from the back, until they meet: whichever is slower (the worker pays for copying the
# memory it touches) simply takes fewer. A few slices each keep the progress bar moving.
SLICES_PER_PROCESS = 6
_SLICES: list[list[str]] = []
_NEXT: Any = None  # a shared [front, back] pair of slice numbers (multiprocessing.Array)


def _take(front: bool) -> int | None:
    """The next slice to render (from the front or the back), None when all are taken."""
    lock = _NEXT.get_lock()
    if not lock.acquire(timeout=60):  # held by a process that was killed in these few lines
        raise QAError("a process building pages stopped before the end; build again")
    try:
        start, stop = _NEXT[0], _NEXT[1]
        if start >= stop:
            return None
        if front:
            _NEXT[0] = start + 1
            return start
        _NEXT[1] = stop - 1
        return stop - 1
    finally:
        lock.release()


def _worker_slice(_: int) -> JobResult | None:
    """In a forked worker: render the last slice nobody took yet (None: none left)."""
    taken = _take(front=False)
    return None if taken is None else _employees_job(_SLICES[taken])


def _run_jobs(state: _State, ids: list[str], workers: int, progress: Callable[[str], None]) -> list[JobResult]:
    """Employee pages in this process, or shared with `workers - 1` forked processes.

    Each job analyses a slice of employees and renders their pages; a worker sends back only
    manifest entries and the leads' summaries (small), never pages. This process renders slices
    meanwhile instead of waiting: a forked worker pays for every page of shared memory it
    touches (copy on write), so one worker and this process beat two workers and an idle parent.
    """
    global _STATE, _SLICES, _NEXT
    if workers <= 1 or len(ids) < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return [_employees_job(ids, state, progress)] if ids else []
    size = max(1, -(-len(ids) // (SLICES_PER_PROCESS * workers)))
    slices = [ids[i : i + size] for i in range(0, len(ids), size)]
    fork = multiprocessing.get_context("fork")
    # Frozen objects are left alone by the collector: without this, a worker's first collection
    # walks (and so copies, page by page) every object of the loaded data it shares with us.
    _STATE, _SLICES, _NEXT = state, slices, fork.Array("i", [0, len(slices)])
    for lang in paths.LANGS:  # compiled once here, not once in each process
        environment(lang).get_template("employee.html")
    gc.freeze()
    try:
        # An executor, not a Pool: a worker that dies (killed for memory, say) breaks its
        # futures, where a Pool would wait for its results forever.
        with ProcessPoolExecutor(workers - 1, mp_context=fork, initializer=gc.disable) as pool:
            pending = [pool.submit(_worker_slice, k) for k in range(len(slices))]
            results = []
            while (taken := _take(front=True)) is not None:
                results.append(_employees_job(slices[taken], state, progress))
            for future in pending:
                result = future.result()
                if result is not None:
                    results.append(result)
                    for employee_id in result[0]:
                        progress(employee_id)
    except BrokenProcessPool:
        raise QAError("a process building pages stopped before the end (out of memory?); build again") from None
    finally:
        gc.unfreeze()
        _STATE, _SLICES, _NEXT = None, [], None
    return sorted(results, key=lambda r: r[0][0])


def build_site(
    store: Any,
    out_dir: str | Path,
    *,
    full: bool = False,
    progress: Progress | None = None,
    scorecards_dir: str | Path = DEFAULT_DIR,
    workers: int | None = None,
) -> BuildReport:
    """Build (or update) the coaching site of `store` in `out_dir`; see the module docstring.

    `progress(done, total, what)` is called as pages are produced (for a progress bar).
    `full=True` ignores the manifest and re-renders every page (files are still rewritten only
    when their bytes changed). `workers` caps the processes (default: 2 for large builds from a
    single-threaded program such as the CLI, 1 inside a threaded server such as the app).
    """
    started = time.perf_counter()
    data = load_site_data(store, scorecards_dir)
    return build_from_data(data, out_dir, full=full, progress=progress, workers=workers,
                           references=lambda interactions: customer_references(store, interactions), started=started)  # fmt: skip


def build_from_data(
    data: SiteData,
    out_dir: str | Path,
    *,
    full: bool = False,
    progress: Progress | None = None,
    references: References = lambda interactions: {},
    workers: int | None = None,
    started: float | None = None,
) -> BuildReport:
    """The context, render and write stages over already loaded data (one build at a time)."""
    with _BUILDING:
        return _build(
            data, out_dir, full=full, progress=progress, references=references, workers=workers, started=started
        )


def _build(
    data: SiteData,
    out_dir: str | Path,
    *,
    full: bool,
    progress: Progress | None,
    references: References,
    workers: int | None,
    started: float | None,
) -> BuildReport:
    started = time.perf_counter() if started is None else started
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise QAError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    remove_temp_files(out, OWNED_FOLDERS)
    old = {} if full else manifest.load(out)
    writer = Writer(out, old)
    layouts = sorted((key, layout.source) for key, layout in data.evaluations.layouts.items())
    code = fingerprint(code_fingerprint(), sorted(data.all_names), sorted(data.cards.versions), layouts)
    inputs = _inputs(data.evaluations)
    # The customers named in the shown evaluations' calls are redacted from their comments: a
    # call log imported after the evaluation changes the page (0.02 s once the calls are cached).
    calls = data.evaluations.interactions(sorted(data.employees), context.COMMENTS_SHOWN)
    customers = references(sorted({c for found in calls.values() for c in found}))
    planning = _pooled_planning(inputs.values())
    employees = sorted(data.employees.values(), key=lambda e: e.id)
    teams: dict[str, list[Employee]] = defaultdict(list)
    for employee in employees:
        teams[employee.team or "—"].append(employee)

    # Plan: which employees' pages are out of date.
    stamps: dict[str, str] = {}
    dirty: list[str] = []
    for employee in employees:
        token = data.tokens[employee.id]
        stamps[employee.id] = fingerprint(
            code,
            (employee.id, employee.display_name, employee.team, employee.site),
            token,
            planning if employee.id not in inputs or inputs[employee.id].uses_planning else None,
            inputs[employee.id].stamp if employee.id in inputs else None,
            [customers.get(call) for call in calls.get(employee.id, ())],
        )
        if not all(writer.fresh(paths.employee_page(token, lang), stamps[employee.id]) for lang in paths.LANGS):
            dirty.append(employee.id)

    total = len(dirty) + len(teams) + 1
    done = 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total, what)

    state = _State(data, out, old, planning, Redactor(data.all_names), customers, stamps)
    results = _run_jobs(state, dirty, workers if workers is not None else default_workers(), step)
    for ids, members, entries, written, unchanged in results:
        for employee_id, member in zip(ids, members, strict=True):
            _MEMBERS[stamps[employee_id]] = member
        writer.merge(entries, written, unchanged)
    missing = [e.id for e in employees if stamps[e.id] not in _MEMBERS]
    for employee_id, (member, _) in zip(missing, _members(state, missing)[1] if missing else [], strict=True):
        _MEMBERS[stamps[employee_id]] = member

    def member_of(employee: Employee) -> Member:
        return _MEMBERS[stamps[employee.id]]

    leads = _leads_pages(data, writer, teams, stamps, code, member_of, step)
    _write_assets(writer)
    _landing(writer, code)
    current = set(stamps.values())
    for stamp in [s for s in _MEMBERS if s not in current]:
        del _MEMBERS[stamp]
    removed = manifest.remove_stale(out, old, writer.new, OWNED_FOLDERS)
    manifest.save(out, writer.new)
    return BuildReport(str(out), len(writer.new), writer.written, writer.unchanged, removed,
                       round(time.perf_counter() - started, 3), leads)  # fmt: skip


def _leads_pages(
    data: SiteData,
    writer: Writer,
    teams: dict[str, list[Employee]],
    stamps: dict[str, str],
    code: str,
    member_of: Callable[[Employee], Member],
    step: Callable[[str], None],
) -> str:
    """One page per team and the overview, under the leads' secret folder; returns its path."""
    key = paths.leads_key(data.tokens)
    cards, assignments = data.cards, data.assignments
    progress_stamp = sorted((a.employee_id, a.status) for a in assignments)
    approved = data.evaluations
    last = {e: int(rows[-1]) for e, rows in approved.rows.items() if len(rows)}  # in time order
    latest = approved.day_at(max(last.values())) if last else None
    index = {lang: paths.leads_index(key, lang) for lang in paths.LANGS}
    hrefs: dict[str, dict[str, str]] = {lang: {} for lang in paths.LANGS}
    team_stamps = []
    for team in sorted(teams):
        people = teams[team]
        ids = {p.id for p in people}
        found = [last[i] for i in ids if i in last]
        team_latest = approved.day_at(max(found)) if found else None
        stamp = fingerprint(code, team, [stamps[p.id] for p in people], [c for c in progress_stamp if c[0] in ids],
                            team_latest)  # fmt: skip
        team_stamps.append(stamp)
        page = {lang: paths.team_page(key, team, lang) for lang in paths.LANGS}
        for lang in paths.LANGS:
            hrefs[lang][team] = paths.relative(index[lang], page[lang])
        if not all(writer.fresh(page[lang], stamp) for lang in paths.LANGS):
            team_members = [member_of(p) for p in people]
            for lang in paths.LANGS:
                info = _page_info(page[lang], page["en" if lang == "fr" else "fr"], lang)
                back = paths.relative(page[lang], index[lang])
                as_of = wording.day(team_latest, lang) if team_latest else None
                ctx = context_leads.team_page(team, team_members, assignments, cards, info, back, as_of)
                writer.put(page[lang], stamp, render("team.html", ctx))
        step(team)

    stamp = fingerprint(code, team_stamps, sorted(teams))
    if not all(writer.fresh(index[lang], stamp) for lang in paths.LANGS):
        everyone = [member_of(p) for team in sorted(teams) for p in teams[team]]
        for lang in paths.LANGS:
            info = _page_info(index[lang], index["en" if lang == "fr" else "fr"], lang)
            as_of = wording.day(latest, lang) if latest else None
            ctx = context_leads.index_page(everyone, assignments, hrefs[lang], info, as_of)
            writer.put(index[lang], stamp, render("leads_index.html", ctx))
    step("index")
    return index["fr"]


def _write_assets(writer: Writer) -> None:
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise QAError("plotly is not installed: the site's charts need its plotly.min.js")
    plotly_js = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    for source, name in [
        (STATIC / "site.css", "site.css"),
        (STATIC / "site.js", "site.js"),
        (plotly_js, "plotly.min.js"),
    ]:
        writer.put(f"{paths.ASSETS}/{name}", "", source.read_bytes())  # bytes: plotly.js is not ASCII


def _landing(writer: Writer, code: str) -> None:
    """A neutral front page (no list of pages) and a robots.txt that asks not to index anything."""
    info = context.PageInfo(lang="fr", root="", alternate_href="", alternate_lang="en")
    page = context.page_frame(info, t("site.landing.title", "fr"), charts_used=False)
    page["alternate"] = None
    ctx = {"page": page, "other": {"lang": "en", "text": t("site.landing.text", "en")}}
    writer.put("index.html", code, render("landing.html", ctx))
    writer.put("robots.txt", code, b"User-agent: *\nDisallow: /\n")
