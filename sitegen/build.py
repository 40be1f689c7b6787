"""The site build: load -> context -> render -> write, with a manifest for incremental rebuilds.

    report = build_site(store, "site", progress=lambda done, total, what: ...)

Each page has an input fingerprint (a hash of everything its content depends on: the employee,
their approved evaluations' ids and update times, their token, the code, templates and messages)
and an output hash. A rebuild skips the pages whose fingerprint is unchanged and rewrites a page
only when its bytes changed, so one new approved evaluation rewrites that employee's two pages,
their team's and the overview. The manifest (`.site-manifest.json`) keeps hashes only: paths are
hashed too, so it reveals no token. Identical input gives byte-identical output.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from qa.errors import QAError
from qa.i18n import LOCALE_DIR, t
from qa.models import Employee, Evaluation
from qa.scorecards import DEFAULT_DIR
from qa.stats import pooled_stdev
from sitegen import context, context_leads, paths, wording
from sitegen.analysis import EmployeeAnalysis, Facts, analyse_employee, evaluation_facts
from sitegen.load import SiteData, customer_references, load_site_data
from sitegen.privacy import Redactor
from sitegen.render import STATIC, TEMPLATES, render
from sitegen.write import digest, read_bytes, remove, remove_temp_files, safe_join, write_bytes

Progress = Callable[[int, int, str], None]
References = Callable[[Iterable[str]], dict[str, str]]

MANIFEST = ".site-manifest.json"
MANIFEST_FORMAT = 1
# The planning stdev (for people with too few evaluations) is rounded so that one new evaluation
# elsewhere does not change every page's "about N evaluations needed".
PLANNING_STEP = 0.5
OWNED_FOLDERS = ("p", "leads", paths.ASSETS)


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


def _key(relative: str) -> str:
    """A manifest key: the hashed path, so the manifest never lists tokens."""
    return hashlib.blake2b(relative.encode("utf-8"), digest_size=12).hexdigest()


def _fingerprint(*parts: Any) -> str:
    return hashlib.blake2b(orjson.dumps(parts, default=str), digest_size=16).hexdigest()


def code_fingerprint() -> str:
    """A hash of the code, templates, assets and messages that shape every page."""
    digest_ = hashlib.blake2b(digest_size=16)
    here = Path(__file__).resolve().parent
    files = sorted([*here.glob("*.py"), *TEMPLATES.glob("*"), *STATIC.glob("*"), *LOCALE_DIR.glob("*/*.yaml")])
    for path in files:
        digest_.update(path.name.encode())
        digest_.update(path.read_bytes())
    return digest_.hexdigest()


def planning_stdev(facts: Iterable[list[Facts]]) -> float | None:
    """Visit-to-visit spread pooled over employees, rounded (see PLANNING_STEP)."""
    pooled = pooled_stdev([f.overall for f in group if f.overall is not None] for group in facts)
    return None if pooled is None else round(pooled / PLANNING_STEP) * PLANNING_STEP


def _evaluation_stamp(evaluation: Evaluation) -> tuple[Any, ...]:
    return (
        evaluation.id,
        evaluation.status,
        evaluation.updated_at,
        evaluation.submitted_at,
        evaluation.scorecard_version,
    )


def _employee_stamp(employee: Employee) -> tuple[Any, ...]:
    return (employee.id, employee.display_name, employee.team, employee.site)


class Writer:
    """Writes pages whose bytes changed and records every output in the new manifest."""

    def __init__(self, out: Path, old: dict[str, list[str]]) -> None:
        self.out = out
        self.old = old
        self.new: dict[str, list[str]] = {}
        self.written = 0
        self.unchanged = 0

    def fresh(self, relative: str, fingerprint: str) -> bool:
        """True (and recorded) when the page's inputs did not change and its file is still there."""
        entry = self.old.get(_key(relative))
        if entry and entry[0] == fingerprint and safe_join(self.out, relative).is_file():
            self.new[_key(relative)] = entry
            self.unchanged += 1
            return True
        return False

    def put(self, relative: str, fingerprint: str, payload: bytes) -> None:
        output = digest(payload)
        entry = self.old.get(_key(relative))
        if entry and entry[1] == output and safe_join(self.out, relative).is_file():
            self.unchanged += 1
        else:
            write_bytes(self.out, relative, payload)
            self.written += 1
        self.new[_key(relative)] = [fingerprint, output]


def _load_manifest(out: Path) -> dict[str, list[str]]:
    raw = read_bytes(out, MANIFEST)
    if raw is None:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}  # a damaged manifest only costs a full build
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return {}
    return {k: v for k, v in data.get("pages", {}).items() if isinstance(v, list) and len(v) == 2}


def _remove_stale(out: Path, old: dict[str, list[str]], new: dict[str, list[str]]) -> int:
    """Delete the files an earlier build wrote that this one did not (rotated tokens, departures)."""
    stale = set(old) - set(new)
    if not stale:
        return 0
    removed = 0
    for folder in OWNED_FOLDERS:
        start = safe_join(out, folder)
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                relative = Path(dirpath, name).relative_to(out).as_posix()
                if _key(relative) in stale and remove(out, relative):
                    removed += 1
    return removed


def _write_assets(writer: Writer) -> None:
    import plotly

    plotly_js = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    for source, name in [
        (STATIC / "site.css", "site.css"),
        (STATIC / "site.js", "site.js"),
        (plotly_js, "plotly.min.js"),
    ]:
        writer.put(f"{paths.ASSETS}/{name}", "", source.read_bytes())  # bytes: plotly.js is not ASCII


def _landing(writer: Writer, code: str) -> None:
    info = context.PageInfo(lang="fr", root="", alternate_href="", alternate_lang="en")
    page = context.page_frame(info, t("site.landing.title", "fr"), charts_used=False)
    page["alternate"] = None
    ctx = {"page": page, "other": {"lang": "en", "text": t("site.landing.text", "en")}}
    writer.put("index.html", code, render("landing.html", ctx))
    writer.put("robots.txt", code, b"User-agent: *\nDisallow: /\n")


def build_site(
    store: Any,
    out_dir: str | Path,
    *,
    full: bool = False,
    progress: Progress | None = None,
    scorecards_dir: str | Path = DEFAULT_DIR,
) -> BuildReport:
    """Build (or update) the coaching site of `store` in `out_dir`; see the module docstring.

    `progress(done, total, what)` is called as pages are produced (for a progress bar);
    `full=True` ignores the manifest and re-renders every page (files are still only rewritten
    when their bytes changed).
    """
    started = time.perf_counter()
    data = load_site_data(store, scorecards_dir)
    return build_from_data(
        data,
        out_dir,
        full=full,
        progress=progress,
        references=lambda ids: customer_references(store, ids),
        started=started,
    )


def build_from_data(
    data: SiteData,
    out_dir: str | Path,
    *,
    full: bool = False,
    progress: Progress | None = None,
    references: References = lambda ids: {},
    started: float | None = None,
) -> BuildReport:
    """The context, render and write stages over already loaded data."""
    started = time.perf_counter() if started is None else started
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise QAError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    remove_temp_files(out, OWNED_FOLDERS)
    old = {} if full else _load_manifest(out)
    writer = Writer(out, old)
    code = _fingerprint(code_fingerprint(), sorted(data.all_names))
    redactor = Redactor(data.all_names)
    cards = data.cards

    facts: dict[str, list[Facts]] = {}
    analyses: dict[str, EmployeeAnalysis] = {}

    def facts_of(employee_id: str) -> list[Facts]:
        if employee_id not in facts:
            facts[employee_id] = [evaluation_facts(e) for e in data.evaluations.get(employee_id, [])]
        return facts[employee_id]

    # The planning stdev needs every employee's scores: cheap overall values only.
    planning = planning_stdev(
        [evaluation_facts_overall(e) for e in evaluations] for evaluations in data.evaluations.values()
    )

    def analysis_of(employee_id: str) -> EmployeeAnalysis:
        if employee_id not in analyses:
            analyses[employee_id] = analyse_employee(
                data.evaluations.get(employee_id, []), facts_of(employee_id), cards, planning
            )
        return analyses[employee_id]

    employees = sorted(data.employees.values(), key=lambda e: e.id)
    teams: dict[str, list[Employee]] = defaultdict(list)
    for employee in employees:
        teams[employee.team or "—"].append(employee)
    total = len(employees) + len(teams) + 1
    done = 0

    stamps: dict[str, str] = {}
    for employee in employees:
        token = data.tokens[employee.id]
        evaluations = data.evaluations.get(employee.id, [])
        stamp = _fingerprint(
            code, _employee_stamp(employee), token, planning, [_evaluation_stamp(e) for e in evaluations]
        )
        stamps[employee.id] = stamp
        page_paths = {lang: paths.employee_page(token, lang) for lang in paths.LANGS}
        if not all(writer.fresh(page_paths[lang], stamp) for lang in paths.LANGS):
            refs = references(context.displayed_interactions(evaluations))
            for lang in paths.LANGS:
                other = "en" if lang == "fr" else "fr"
                info = context.PageInfo(
                    lang, paths.root_of(page_paths[lang]), paths.relative(page_paths[lang], page_paths[other]), other
                )
                ctx = context.employee_page(
                    employee, evaluations, facts_of(employee.id), analysis_of(employee.id), cards, info, redactor, refs
                )
                writer.put(page_paths[lang], stamp, render("employee.html", ctx))
        done += 1
        if progress:
            progress(done, total, employee.id)

    key = paths.leads_key(data.tokens)
    assignments = data.assignments
    completion_stamp = sorted((a.employee_id, a.status) for a in assignments)
    as_of_moment = max((e.started_at for items in data.evaluations.values() for e in items), default=None)
    team_hrefs_by_lang: dict[str, dict[str, str]] = {lang: {} for lang in paths.LANGS}
    team_stamps = []
    for team in sorted(teams):
        members = teams[team]
        ids = {m.id for m in members}
        stamp = _fingerprint(
            code, team, [stamps[m.id] for m in members], [c for c in completion_stamp if c[0] in ids], as_of_moment
        )
        team_stamps.append(stamp)
        page_paths = {lang: paths.team_page(key, team, lang) for lang in paths.LANGS}
        for lang in paths.LANGS:
            team_hrefs_by_lang[lang][team] = paths.relative(paths.leads_index(key, lang), page_paths[lang])
        if not all(writer.fresh(page_paths[lang], stamp) for lang in paths.LANGS):
            leads_members = [context_leads.Member(m, analysis_of(m.id), facts_of(m.id)) for m in members]
            for lang in paths.LANGS:
                other = "en" if lang == "fr" else "fr"
                info = context.PageInfo(
                    lang, paths.root_of(page_paths[lang]), paths.relative(page_paths[lang], page_paths[other]), other
                )
                as_of = wording.day(as_of_moment, lang) if as_of_moment else None
                back = paths.relative(page_paths[lang], paths.leads_index(key, lang))
                ctx = context_leads.team_page(team, leads_members, assignments, cards, info, back, as_of)
                writer.put(page_paths[lang], stamp, render("team.html", ctx))
        done += 1
        if progress:
            progress(done, total, team)

    index_stamp = _fingerprint(code, team_stamps, sorted(teams))
    index_paths = {lang: paths.leads_index(key, lang) for lang in paths.LANGS}
    if not all(writer.fresh(index_paths[lang], index_stamp) for lang in paths.LANGS):
        everyone = [context_leads.Member(e, analysis_of(e.id), facts_of(e.id)) for e in employees]
        for lang in paths.LANGS:
            other = "en" if lang == "fr" else "fr"
            info = context.PageInfo(
                lang, paths.root_of(index_paths[lang]), paths.relative(index_paths[lang], index_paths[other]), other
            )
            as_of = wording.day(as_of_moment, lang) if as_of_moment else None
            ctx = context_leads.index_page(everyone, assignments, team_hrefs_by_lang[lang], info, as_of)
            writer.put(index_paths[lang], index_stamp, render("leads_index.html", ctx))
    done += 1
    if progress:
        progress(done, total, "index")

    _write_assets(writer)
    _landing(writer, code)
    removed = _remove_stale(out, old, writer.new)
    manifest = {"format": MANIFEST_FORMAT, "pages": dict(sorted(writer.new.items()))}
    write_bytes(out, MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    pages = sum(1 for _ in writer.new)
    return BuildReport(
        str(out),
        pages,
        writer.written,
        writer.unchanged,
        removed,
        round(time.perf_counter() - started, 3),
        index_paths["fr"],
    )


def evaluation_facts_overall(evaluation: Evaluation) -> Facts:
    """Only the overall score of an evaluation (enough for the pooled stdev)."""
    overall = (evaluation.score or {}).get("overall")
    return Facts(float(overall) if overall is not None else None, {}, {}, {}, ())
