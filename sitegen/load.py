"""The load stage: read from the store everything a site build needs, once, into `SiteData`.

Only approved evaluations are read (submitted, returned and disputed ones are held back), only
of active employees, only on scorecards that score people (not the self-assessment). Scorecard
versions that evaluations were scored with are fetched from the store when they differ from the
current files, so old evaluations keep their own wording.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, is_
from pathlib import Path
from typing import Any

import yaml

from qa.errors import NotFound, QAError, ScorecardError
from qa.models import Assignment, Employee, Evaluation
from qa.scorecard_model import Scorecard
from qa.scorecards import DEFAULT_DIR, content_version, load_all, scorecard_files
from sitegen import paths
from sitegen.cards import CardBook, VersionKey


@dataclass
class SiteData:
    """Everything the context stage reads; nothing in it touches the store again but the bulk read
    of `evaluation_rows`, which the build makes at most once."""

    employees: dict[str, Employee]  # active employees, by id
    evaluations: dict[str, list[Evaluation]]  # approved, by employee, oldest first
    cards: CardBook
    tokens: dict[str, str]  # employee id -> site token
    assignments: list[Assignment] = field(default_factory=list)
    all_names: list[str] = field(default_factory=list)  # every employee's name, for redaction
    # The store's columns of approved evaluations (`Store.evaluation_rows(criteria=True)`), read by
    # the build only when it analyses many employees (a full build); None: from the records.
    evaluation_rows: Callable[[], Any] | None = None


def _card_versions(
    store: Any, wanted: Iterable[VersionKey], current: dict[str, Scorecard]
) -> dict[VersionKey, Scorecard]:
    versions: dict[VersionKey, Scorecard] = {}
    for card_id, version in wanted:
        try:
            versions[(card_id, version)] = Scorecard.model_validate(store.get_scorecard_version(card_id, version))
        except NotFound:
            continue  # the current file's wording is used for criteria that still exist
    return versions


_ORDER = attrgetter("started_at", "id")  # oldest first (a C getter: 85,000 keys a build)
_CURRENT: dict[tuple[Any, ...], dict[str, tuple[Scorecard, str]]] = {}


def current_scorecards(directory: str | Path = DEFAULT_DIR) -> dict[str, tuple[Scorecard, str]]:
    """The scorecards of a folder with their versions, re-read only when a file changes.

    The line-precise loader (`qa.scorecards.load_all`) parses YAML in pure Python (~1 s for our
    three files); the fast C loader is enough when the files are valid, and `load_all` is still
    what explains an invalid file.
    """
    files = scorecard_files([directory])
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    if stamp not in _CURRENT:
        out: dict[str, tuple[Scorecard, str]] = {}
        try:
            for path in files:
                card = Scorecard.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
                if card.id in out:
                    raise ValueError(f"duplicate scorecard id {card.id!r}")
                out[card.id] = (card, content_version(card))
        except (ValueError, yaml.YAMLError, OSError):
            try:  # the careful loader names the file, line and column of every problem
                out = {card_id: (sc.card, sc.version) for card_id, sc in load_all(directory).items()}
            except ScorecardError as error:
                raise QAError(f"cannot build the site: a scorecard is invalid:\n{error}") from None
        _CURRENT.clear()
        _CURRENT[stamp] = out
    return _CURRENT[stamp]


# Each employee's evaluations as the store handed them out at the previous load in this process,
# with their scorecard versions and the kept (filtered, sorted) list. Records are frozen: when the
# store hands out exactly the same record objects, the previous results are still right, and the
# kept list is returned as the same list object (the build recognises it too). A rebuild in the
# app then re-reads only the employees whose evaluations changed.
_KEPT: dict[str, _Memo] = {}
_LOADING = threading.Lock()


@dataclass
class _Memo:
    items: list[Evaluation]
    versions: set[VersionKey]
    flags: dict[VersionKey, bool] | None = None
    kept: list[Evaluation] | None = None


def _same(before: list[Evaluation], items: list[Evaluation]) -> bool:
    return len(before) == len(items) and all(map(is_, before, items))


def _versions(employee_id: str, items: list[Evaluation]) -> set[VersionKey]:
    memo = _KEPT.get(employee_id)
    if memo is None or not _same(memo.items, items):
        memo = _KEPT[employee_id] = _Memo(items, {(e.scorecard_id, e.scorecard_version) for e in items})
    return memo.versions


def _kept(employee_id: str, items: list[Evaluation], scores_people: dict[VersionKey, bool]) -> list[Evaluation]:
    """The evaluations on behaviour scorecards, oldest first (after `_versions` for this list)."""
    memo = _KEPT[employee_id]
    if memo.kept is None or memo.flags != scores_people:
        kept = [e for e in items if scores_people[(e.scorecard_id, e.scorecard_version)]]
        kept.sort(key=_ORDER)
        memo.kept, memo.flags = kept, scores_people
    return memo.kept


def load_site_data(store: Any, scorecards_dir: str | Path = DEFAULT_DIR) -> SiteData:
    """Read employees, approved evaluations, scorecards, tokens and assignments from `store`."""
    loaded = current_scorecards(scorecards_dir)
    current = {card_id: card for card_id, (card, _) in loaded.items()}
    current_versions = {(card_id, version) for card_id, (_, version) in loaded.items()}

    everyone = store.list_employees()
    employees = {e.id: e for e in everyone if e.active}
    by_employee: dict[str, list[Evaluation]] = defaultdict(list)
    for evaluation in store.iter_evaluations(status="approved"):
        if evaluation.status != "approved" or evaluation.employee_id not in employees:
            continue
        by_employee[evaluation.employee_id].append(evaluation)
    with _LOADING:  # the memo below is shared by the app's sessions
        wanted: set[VersionKey] = set()
        for employee_id, items in by_employee.items():
            wanted.update(_versions(employee_id, items))
        versions = _card_versions(store, sorted(wanted - current_versions), current)
        versions.update({(card_id, version): card for card_id, (card, version) in loaded.items()})
        cards = CardBook(current=current, versions=versions)

        # Whether a (scorecard, version) scores people, asked once per version, not per evaluation.
        scores_people = {key: cards.behaviour_card(*key) for key in wanted}
        evaluations: dict[str, list[Evaluation]] = {}
        for employee_id, items in by_employee.items():
            kept = _kept(employee_id, items, scores_people)
            if kept:
                evaluations[employee_id] = kept
        for gone in set(_KEPT) - set(by_employee):
            del _KEPT[gone]

    tokens = store.site_tokens(sorted(employees)) if employees else {}
    for employee_id, token in tokens.items():
        if not paths.TOKEN.match(token):
            raise QAError(f"the site token of employee {employee_id!r} is not a safe folder name; rotate it")
    return SiteData(
        employees=employees,
        evaluations=evaluations,
        cards=cards,
        tokens=tokens,
        assignments=list(store.assignments()),
        all_names=sorted({e.display_name for e in everyone}),
        evaluation_rows=(lambda: store.evaluation_rows(status="approved", criteria=True))
        if hasattr(store, "evaluation_rows")
        else None,
    )


def customer_references(store: Any, evaluations: Sequence[Evaluation]) -> dict[str, str]:
    """interaction id -> customer reference of the evaluations whose comments a page shows.

    `Store.get_interactions` reads only the files that hold these calls (by its id index):
    0.05 s for the 4,600 calls of a thousand people's pages, where scanning the months they
    span for them (`interactions_in`) took 0.3 to 0.5 s.
    """
    wanted = {e.interaction_id for e in evaluations if e.interaction_id}
    if not wanted:
        return {}
    found = store.get_interactions(sorted(wanted))
    return {key: i.customer_ref for key, i in found.items() if i.customer_ref}
