"""The load stage: read from the store everything a site build needs, once, into `SiteData`.

Only approved evaluations are read (submitted, returned and disputed ones are held back), only
of active employees, only on scorecards that score people (not the self-assessment). They are
read as the store's columns (`Store.evaluation_rows`, kept on disk as Arrow views), never as
records: a new process loads 100,000 evaluations in a fraction of a second, where validating
the records took 13 s. The evaluators' free text comes with them as JSON and is decoded only for
the dozen evaluations a page shows. Scorecard versions that evaluations were scored with are
fetched from the store when they differ from the current files, so old evaluations keep their
own wording.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from qa.errors import NotFound, QAError, ScorecardError
from qa.models import Assignment, Employee
from qa.scorecard_model import Scorecard
from qa.scorecards import DEFAULT_DIR, load_all, scorecard_files
from sitegen import paths
from sitegen.cards import CardBook, VersionKey
from sitegen.frame import Layout, layout_of, pair_codes

# What a page shows of an evaluation changes only through a new status or an update: these
# columns make each employee's input fingerprint (sitegen.build).
STAMPED = ("id", "status", "updated_at", "submitted_at", "scorecard_version")
_NO_ROWS = np.zeros(0, dtype=np.intp)
_JSON = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Shown:
    """An evaluation whose comments and debrief answers a page shows (decoded from the columns)."""

    scorecard_id: str
    scorecard_version: str
    day: date  # in the evaluation's own offset, as the evaluations table prints it
    channel: str
    interaction_id: str | None
    comments: dict[str, Any]
    debrief: dict[str, Any]


@dataclass
class Approved:
    """The approved evaluations a site shows, as the store's columns.

    `frame` is in the store's order (oldest first) and may hold rows the site does not show
    (other statuses, inactive employees, self-assessments); `rows[employee]` are the positions
    of that employee's shown rows in it, oldest first. `layouts` says, for each scorecard
    version, which criteria its score snapshots list with their weights (read from one record of
    that version).
    """

    frame: pd.DataFrame
    rows: dict[str, np.ndarray]
    layouts: dict[VersionKey, Layout]
    _stamps: dict[str, str] | None = field(default=None, repr=False)

    def positions(self, employee_id: str) -> np.ndarray:
        return self.rows.get(employee_id, _NO_ROWS)

    def day_at(self, position: int) -> date:
        return date.fromisoformat(str(self.frame["day"].iat[position]))

    def latest(self, ids: Sequence[str], count: int) -> list[np.ndarray]:
        """Each employee's `count` latest rows, newest first."""
        return [self.positions(i)[::-1][:count] for i in ids]

    def _at(self, name: str, positions: np.ndarray) -> list[Any]:
        """A column's values at these rows (None when missing), read from Arrow in one call."""
        return self.frame[name].take(positions).to_numpy(dtype=object, na_value=None).tolist()

    def interactions(self, ids: Sequence[str], count: int) -> dict[str, list[str]]:
        """The calls of each employee's `count` latest evaluations (whose customers a page redacts)."""
        found = self.latest(ids, count)
        calls = self._at("interaction_id", np.concatenate(found)) if found else []
        out, start = {}, 0
        for employee_id, positions in zip(ids, found, strict=True):
            out[employee_id] = [c for c in calls[start : start + len(positions)] if c is not None]
            start += len(positions)
        return out

    def shown(self, ids: Sequence[str], count: int) -> dict[str, list[Shown]]:
        """These employees' `count` latest evaluations each, newest first, with their free text decoded."""
        found = self.latest(ids, count)
        if not found:
            return {}
        rows = np.concatenate(found)
        columns = [self._at(name, rows) for name in ("scorecard_id", "scorecard_version", "day", "channel",
                                                     "interaction_id", "comments", "debrief")]  # fmt: skip
        items = [
            Shown(card, version, date.fromisoformat(day), channel, interaction, _texts(said), _texts(debrief))
            for card, version, day, channel, interaction, said, debrief in zip(*columns, strict=True)
        ]
        out, start = {}, 0
        for employee_id, positions in zip(ids, found, strict=True):
            out[employee_id] = items[start : start + len(positions)]
            start += len(positions)
        return out

    def stamp(self, employee_id: str) -> str:
        """A hash of what the employee's pages show of their evaluations (see STAMPED)."""
        if self._stamps is None:
            hashes = pd.util.hash_pandas_object(self.frame[list(STAMPED)], index=False).to_numpy()
            self._stamps = {
                e: hashlib.blake2b(hashes[rows].tobytes(), digest_size=16).hexdigest() for e, rows in self.rows.items()
            }
        return self._stamps[employee_id]


def _texts(value: Any) -> dict[str, Any]:
    """A free-text column's JSON object ({} when null or not an object)."""
    if not isinstance(value, str):
        return {}
    found = _JSON.decode(value)
    return found if isinstance(found, dict) else {}


@dataclass
class SiteData:
    """Everything the context stage reads; nothing in it touches the store again."""

    employees: dict[str, Employee]  # active employees, by id
    evaluations: Approved  # approved, on behaviour scorecards, of these employees
    cards: CardBook
    tokens: dict[str, str]  # employee id -> site token
    assignments: list[Assignment] = field(default_factory=list)
    all_names: list[str] = field(default_factory=list)  # every employee's name, for redaction


def _card_versions(store: Any, wanted: Iterable[VersionKey]) -> dict[VersionKey, Scorecard]:
    versions: dict[VersionKey, Scorecard] = {}
    for card_id, version in wanted:
        try:
            versions[(card_id, version)] = Scorecard.model_validate(store.get_scorecard_version(card_id, version))
        except NotFound:
            continue  # the current file's wording is used for criteria that still exist
    return versions


_CURRENT: dict[tuple[Any, ...], dict[str, tuple[Scorecard, str]]] = {}
_READING = threading.Lock()


def current_scorecards(directory: str | Path = DEFAULT_DIR) -> dict[str, tuple[Scorecard, str]]:
    """The scorecards of a folder with their versions (`qa.scorecards.load_all`), re-read only
    when a file changes (the app rebuilds the site in the same process)."""
    files = scorecard_files([directory])
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    with _READING:  # the app's sessions share the cache
        if stamp not in _CURRENT:
            try:
                loaded = {card_id: (sc.card, sc.version) for card_id, sc in load_all(directory).items()}
            except ScorecardError as error:  # every problem, as file:line:column
                raise QAError(f"cannot build the site: a scorecard is invalid:\n{error}") from None
            _CURRENT.clear()
            _CURRENT[stamp] = loaded
        return _CURRENT[stamp]


# The layout of each scorecard version, by the evaluation it was read from: a rebuild in the same
# process (the app's Publication page) reads no record at all.
_LAYOUTS: dict[tuple[str, str, str, Any], Layout] = {}


def _layouts(
    store: Any, frame: pd.DataFrame, kept: np.ndarray, codes: np.ndarray, keys: Sequence[VersionKey]
) -> dict[VersionKey, Layout]:
    """One record per scorecard version tells the criteria's weights and order: the first shown
    one with an overall score (a record imported without its score snapshot lists nothing, and
    would take every other evaluation of that version's criteria off the pages)."""
    scored = ~np.isnan(frame["overall"].to_numpy(dtype=np.float64, na_value=np.nan)[kept])
    out: dict[VersionKey, Layout] = {}
    for code in np.unique(codes).tolist():
        mine = codes == code
        candidates = np.flatnonzero(mine & scored)
        at = int(candidates[0]) if len(candidates) else int(np.flatnonzero(mine)[0])
        key, row = keys[code], int(kept[at])
        evaluation_id = str(frame["id"].iat[row])
        memo = (*key, evaluation_id, frame["updated_at"].iat[row])
        if memo not in _LAYOUTS:
            if len(_LAYOUTS) >= 1000:  # the app lives long; a handful of versions is the norm
                _LAYOUTS.clear()
            _LAYOUTS[memo] = layout_of(store.get_evaluation(evaluation_id))
        out[key] = _LAYOUTS[memo]
    return out


def load_site_data(store: Any, scorecards_dir: str | Path = DEFAULT_DIR) -> SiteData:
    """Read employees, approved evaluations, scorecards, tokens and assignments from `store`."""
    loaded = current_scorecards(scorecards_dir)
    current = {card_id: card for card_id, (card, _) in loaded.items()}
    current_versions = {(card_id, version) for card_id, (_, version) in loaded.items()}

    everyone = store.list_employees()
    employees = {e.id: e for e in everyone if e.active}
    # Every status, filtered below with the other conditions: filtering in the store would copy
    # each of the ~140 columns for a mask the site applies to row positions anyway.
    frame = store.evaluation_rows(criteria=True, texts=True)
    approved = (frame["status"] == "approved").to_numpy(dtype=bool, na_value=False)
    codes, keys = pair_codes(frame["scorecard_id"], frame["scorecard_version"])
    shown = frame["employee_id"].isin(list(employees)).to_numpy() & approved  # active employees' approved rows
    wanted = {keys[code] for code in np.unique(codes[shown]).tolist()}
    versions = _card_versions(store, sorted(wanted - current_versions))
    versions.update({(card_id, version): card for card_id, (card, version) in loaded.items()})
    cards = CardBook(current=current, versions=versions)

    # Whether a (scorecard, version) scores people, asked once per version, not per evaluation
    # (codes are never -1: both columns are always set).
    scores_people = np.array([cards.behaviour_card(*key) for key in keys], dtype=bool)
    kept = np.flatnonzero(shown & scores_people[codes])  # positions (the frame is not copied)
    layouts = _layouts(store, frame, kept, codes[kept], keys)
    employee_codes, employee_ids = pd.factorize(frame["employee_id"].take(kept).to_numpy(dtype=object), sort=True)
    sorter = np.argsort(employee_codes, kind="stable")  # each employee's rows stay oldest first
    order = kept[sorter]
    bounds = np.searchsorted(employee_codes[sorter], np.arange(len(employee_ids) + 1))
    rows = {str(e): order[bounds[i] : bounds[i + 1]] for i, e in enumerate(employee_ids.tolist())}

    tokens = store.site_tokens(sorted(employees)) if employees else {}
    for employee_id, token in tokens.items():
        if not paths.TOKEN.match(token):
            raise QAError(f"the site token of employee {employee_id!r} is not a safe folder name; rotate it")
    return SiteData(
        employees=employees,
        evaluations=Approved(frame, rows, layouts),
        cards=cards,
        tokens=tokens,
        assignments=list(store.assignments()),
        all_names=sorted({e.display_name for e in everyone}),
    )


# Customer references already read, per store folder, valid while no interaction file changes
# (the app's rebuild after an approval reads none again: 0.08 s of its 0.5 s budget).
_REFERENCES: dict[str, tuple[str, dict[str, str | None]]] = {}


def customer_references(store: Any, interactions: Iterable[str]) -> dict[str, str]:
    """interaction id -> customer reference of these calls (those of the evaluations whose
    comments a page shows: `Approved.interactions`).

    `Store.get_interactions` reads only the files that hold these calls (by its id index):
    0.05 s for the 4,600 calls of a thousand people's pages, where scanning the months they
    span for them (`interactions_in`) took 0.3 to 0.5 s.
    """
    wanted = set(interactions)
    if not wanted:
        return {}
    place, stamp = str(getattr(store, "data_dir", id(store))), store.state_stamp("interactions")
    with _READING:
        found = _REFERENCES.get(place)
        known: dict[str, str | None] = dict(found[1]) if found is not None and found[0] == stamp else {}
    missing = sorted(wanted - known.keys())
    if missing:
        read = store.get_interactions(missing)
        known.update({key: read[key].customer_ref if key in read else None for key in missing})
        with _READING:
            _REFERENCES[place] = (stamp, known)
    return {key: ref for key in wanted if (ref := known.get(key))}
