"""Exporting evaluations (CSV or JSON, wide or long) safely for spreadsheets, and importing them back.

Wide CSV: one row per evaluation: who, when, status, the overall and section scores (for reading),
then `answer.<criterion>`, `comment.<criterion>`, `debrief.<question>` and `visit.<field>`
columns (for importing back). Long CSV: one row per answer. JSON: the records as they are, with the
scorecard versions and employees they need, one evaluation per line.

Spreadsheet safety: a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would
be run as a formula by Excel or LibreOffice; it is written with a leading `'`. A text cell that
starts with `'` gets one more, so that import removes exactly one and every text comes back as it was.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qa.errors import InvalidRecord, NotFound, RowsRejected
from qa.models import Employee, Evaluation, dump_many, validated
from qa.scorecard_model import NA, Points, Rating, Scorecard
from qa.scorecards import load_all
from qa.scoring import same_snapshot, score, validate_answers
from qa.tabular import decode, read_table

FORMAT = "qualiterrain-evaluations"
VERSION = 1
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")
META = ("id", "status", "scorecard_id", "scorecard_version", "channel", "evaluator", "employee_id",
        "employee_name", "team", "site", "interaction_id", "started_at", "submitted_at", "updated_at")  # fmt: skip
DERIVED = ("overall", "band", "critical_failed")  # read from the score snapshot; ignored on import
LONG = ("evaluation_id", "status", "scorecard_id", "scorecard_version", "channel", "evaluator", "employee_id",
        "employee_name", "team", "site", "started_at", "section", "behaviour", "criterion", "answer", "fraction",
        "points", "weight", "passed", "critical", "comment")  # fmt: skip
PREFIXES = ("answer.", "comment.", "debrief.", "visit.")


def card_json(card: Scorecard) -> dict[str, Any]:
    """A scorecard as JSON that validates back into the same scorecard (what the store remembers).

    Only the fields the author set: a full dump writes `na_allowed: false` next to a yes_no_na
    scale, which the model refuses when it reads it back.
    """
    return card.model_dump(mode="json", exclude_unset=True)


def neutralise(text: str) -> str:
    """The text as a spreadsheet shows it but never runs it (see the module docstring)."""
    return "'" + text if text.startswith(DANGEROUS) else text


def restore_text(text: str) -> str:
    """The inverse of `neutralise` for a cell read back from a CSV export."""
    return text[1:] if text.startswith("'") else text


def scorecards_of(store: Any, evaluations: Iterable[Evaluation]) -> dict[str, dict[str, Any]]:
    """The scorecard JSON of every (id, version) used, keyed "id@version" (stored, else current)."""
    current = load_all()
    out: dict[str, dict[str, Any]] = {}
    for ev in evaluations:
        key = f"{ev.scorecard_id}@{ev.scorecard_version}"
        if key in out:
            continue
        try:
            out[key] = store.get_scorecard_version(ev.scorecard_id, ev.scorecard_version)
        except NotFound:
            loaded = current.get(ev.scorecard_id)
            if loaded is not None and loaded.version == ev.scorecard_version:
                out[key] = card_json(loaded.card)
    return out


def export_evaluations(store: Any, fmt: str = "csv", *, long: bool = False, excel_fr: bool = False) -> bytes:
    """Every evaluation of the store, oldest first, as the bytes of a CSV or JSON file."""
    evaluations = sorted(store.iter_evaluations(), key=lambda e: (e.started_at, e.id))
    employees = {e.id: e for e in store.list_employees()}
    if fmt == "json":
        return _json(store, evaluations, employees, long)
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}")
    header, rows = long_rows(evaluations, employees) if long else wide_rows(evaluations, employees)
    return to_csv(header, rows, excel_fr=excel_fr)


def _json(store: Any, evaluations: list[Evaluation], employees: Mapping[str, Employee], long: bool) -> bytes:
    if long:
        header, rows = long_rows(evaluations, employees)
        items = [dict(zip(header, row, strict=True)) for row in rows]
        body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
        return f'{{"format": "{FORMAT}-long", "version": {VERSION}, "answers": [\n{body}\n]}}\n'.encode()
    used = sorted({e.employee_id for e in evaluations})
    people = dump_many(Employee, [employees[i] for i in used if i in employees])
    cards = scorecards_of(store, evaluations)
    head = json.dumps({"format": FORMAT, "version": VERSION}, ensure_ascii=False)[:-1]
    lines = [head + ",", f'"scorecards": {json.dumps(cards, ensure_ascii=False, sort_keys=True)},', '"employees": [']
    lines.append(",\n".join(json.dumps(p, ensure_ascii=False) for p in people))
    lines.append('],\n"evaluations": [')
    lines.append(",\n".join(json.dumps(d, ensure_ascii=False) for d in dump_many(Evaluation, evaluations)))
    lines.append("]}")
    return ("\n".join(lines) + "\n").encode()


def _ordered_keys(groups: Iterable[Iterable[str]]) -> list[str]:
    return list(dict.fromkeys(key for group in groups for key in group))


def wide_rows(evaluations: list[Evaluation], employees: Mapping[str, Employee]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the one-row-per-evaluation table (cells are str, float, int or None)."""
    by_card = sorted(evaluations, key=lambda e: e.scorecard_id)  # columns follow each card's own order
    sections = _ordered_keys(e.score.get("sections", {}) for e in by_card)
    answers = _ordered_keys([*e.score.get("criteria", {}), *e.answers] for e in by_card)
    comments = _ordered_keys(e.comments for e in by_card)
    debrief = _ordered_keys(e.debrief for e in by_card)
    visit = _ordered_keys(e.visit or {} for e in by_card)
    header = [*META, *DERIVED, *(f"section.{s}" for s in sections), *(f"answer.{a}" for a in answers),
              *(f"comment.{c}" for c in comments), *(f"debrief.{d}" for d in debrief),
              *(f"visit.{v}" for v in visit), "photos"]  # fmt: skip
    rows = []
    for ev in evaluations:
        person = employees.get(ev.employee_id)
        snapshot = ev.score or {}
        row: list[Any] = [*_meta(ev, person), _rounded(snapshot.get("overall")), snapshot.get("band"),
                          snapshot.get("critical_failed")]  # fmt: skip
        row += [_rounded((snapshot.get("sections", {}).get(s) or {}).get("score")) for s in sections]
        row += [ev.answers.get(a) for a in answers]
        row += [ev.comments.get(c) for c in comments]
        row += [ev.debrief.get(d) for d in debrief]
        row += [(ev.visit or {}).get(v) for v in visit]
        row.append(json.dumps(ev.photos, ensure_ascii=False) if ev.photos else None)
        rows.append(row)
    return header, rows


def _rounded(value: Any) -> Any:
    """Scores shown to two decimals (they are read, not imported: import re-scores the answers)."""
    return round(float(value), 2) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _meta(ev: Evaluation, person: Employee | None) -> list[Any]:
    return [ev.id, ev.status, ev.scorecard_id, ev.scorecard_version, ev.channel, ev.evaluator, ev.employee_id,
            person.display_name if person else None, person.team if person else None,
            person.site if person else None, ev.interaction_id, ev.started_at.isoformat(),
            ev.submitted_at.isoformat() if ev.submitted_at else None,
            ev.updated_at.isoformat() if ev.updated_at else None]  # fmt: skip


def long_rows(evaluations: list[Evaluation], employees: Mapping[str, Employee]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the one-row-per-answer table, from each evaluation's score snapshot."""
    rows = []
    for ev in evaluations:
        meta = _meta(ev, employees.get(ev.employee_id))
        common = [*meta[:10], meta[11]]
        sections = ev.score.get("sections", {})
        for cid, result in ev.score.get("criteria", {}).items():
            fraction, weight = result.get("fraction"), result.get("weight")
            points = None if fraction is None or weight is None else _rounded(fraction * weight)
            fraction = _rounded(fraction)
            section = result.get("section")
            behaviour = (sections.get(section) or {}).get("behaviour")
            rows.append([*common, section, behaviour, cid, ev.answers.get(cid), fraction, points, weight,
                         result.get("passed"), result.get("critical"), ev.comments.get(cid)])  # fmt: skip
    return list(LONG), rows


def _cell(value: Any, excel_fr: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # repr: the shortest text that reads back as the same float
        return repr(value).replace(".", ",") if excel_fr else repr(value)
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def to_csv(header: list[str], rows: Iterable[list[Any]], *, excel_fr: bool = False) -> bytes:
    """CSV bytes; `excel_fr`: `;` separator, UTF-8 with BOM, decimal comma (what French Excel opens)."""
    buffer = io.StringIO(newline="")
    # RFC 4180 line ends: the writer then quotes every cell holding a \r or a \n (with "\n" alone it
    # leaves a bare \r unquoted, which readers take for a line end).
    writer = csv.writer(buffer, delimiter=";" if excel_fr else ",", lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([_cell(v, excel_fr) for v in row])
    return buffer.getvalue().encode("utf-8-sig" if excel_fr else "utf-8")


# -- import ---------------------------------------------------------------------------------------


class ImportFailed(RowsRejected):
    """Nothing was imported: every bad row, with its line."""


@dataclass(frozen=True)
class ImportReport:
    path: Path
    imported: int
    already_present: int
    employees_added: int

    def summary(self) -> str:
        return (f"{self.path}: {self.imported} evaluations imported, {self.already_present} already present, "
                f"{self.employees_added} employees added.")  # fmt: skip


@dataclass
class _Row:
    line: int
    doc: dict[str, Any]
    employee: dict[str, Any] | None = None  # name, team, site given with the row, for a new employee


def import_evaluations(store: Any, path: Path, *, by: str = "import") -> ImportReport:
    """Import a JSON export, or a CSV/Excel table in the wide export's shape; all rows or none."""
    head = b""
    if path.is_file():
        with path.open("rb") as handle:
            head = handle.read(64).lstrip(b"\xef\xbb\xbf \r\n\t")
    if head.startswith((b"{", b"[")):
        rows, cards, people = _read_json(path, store)
    else:
        rows, cards, people = _read_csv(path, store)
    return _import_rows(store, path, rows, cards, people, by)


class _Cards:
    """The scorecard of each (id, version) a file uses: the store's, else the file's, else scorecards/."""

    def __init__(self, store: Any, from_file: Mapping[str, Any] | None = None) -> None:
        self.store = store
        self.from_file = dict(from_file or {})
        self.json: dict[str, dict[str, Any]] = {}  # every version used -> its JSON
        self.stored: set[str] = set()
        self._parsed: dict[str, Scorecard] = {}
        self._current = load_all()  # parsed once: load_all reads the YAML files on every call

    def get(self, scorecard_id: str, version: str) -> tuple[str, Scorecard]:
        """(version, scorecard); an empty version means the current one. KeyError says what is unknown."""
        current = self._current.get(scorecard_id)
        if not version:
            if current is None:
                raise KeyError(f"unknown scorecard {scorecard_id!r}")
            version = current.version
        key = f"{scorecard_id}@{version}"
        if key not in self._parsed:
            try:
                self.json[key] = self.store.get_scorecard_version(scorecard_id, version)
                self.stored.add(key)
            except NotFound:
                if isinstance(self.from_file.get(key), dict):
                    self.json[key] = self.from_file[key]
                elif current is not None and current.version == version:
                    self.json[key] = card_json(current.card)
                else:
                    raise KeyError(f"scorecard {scorecard_id!r} version {version!r} is unknown here") from None
            try:
                self._parsed[key] = Scorecard.model_validate(self.json[key])
            except ValidationError:
                raise KeyError(f"scorecard {scorecard_id!r} version {version!r} cannot be read") from None
        return version, self._parsed[key]


def _checked(row: _Row, cards: _Cards) -> tuple[Evaluation | None, list[str]]:
    """The row as a valid evaluation whose score snapshot matches its answers, or what is wrong."""
    doc = row.doc
    try:
        version, card = cards.get(str(doc.get("scorecard_id") or ""), str(doc.get("scorecard_version") or ""))
    except KeyError as error:
        return None, [str(error.args[0])]
    answers = doc.get("answers", {})
    if not isinstance(answers, dict):
        return None, ["answers: must be a mapping of criterion id -> answer"]
    partial = doc.get("status") == "draft"
    problems = validate_answers(card, answers, partial=partial)
    if problems:
        return None, [f"answer {cid!r}: {message}" for cid, message in problems.items()]
    expected = score(card, answers, partial=partial).to_dict()
    if doc.get("score") and not same_snapshot(doc["score"], expected):
        stored, rescored = doc["score"].get("overall"), expected["overall"]
        return None, [
            f"the score snapshot does not match the answers (overall {stored} in the file, {rescored} re-scored)"
        ]
    try:
        # A snapshot that agrees up to rounding is kept as it was written: history is not re-scored.
        return validated(Evaluation, {**doc, "scorecard_version": version, "score": doc.get("score") or expected}), []
    except InvalidRecord as error:
        return None, [f"{field}: {message}" for field, message in error.messages.items()]


def _import_rows(store: Any, path: Path, rows: list[_Row], cards: _Cards,
                 people: dict[str, tuple[int, dict[str, Any]]], by: str) -> ImportReport:  # fmt: skip
    problems: list[tuple[int, str]] = []
    known = {e.id for e in store.list_employees()}
    existing = {e.id: e for e in store.iter_evaluations()}
    seen: dict[str, int] = {}
    new: list[Evaluation] = []
    new_people: dict[str, Employee] = {}
    already = 0
    for row in rows:
        record, messages = _checked(row, cards)
        problems += [(row.line, m) for m in messages]
        if record is None:
            continue
        if record.id in seen:
            problems.append((row.line, f"evaluation {record.id!r} is also on line {seen[record.id]}"))
            continue
        seen[record.id] = row.line
        if record.id in existing:
            if existing[record.id] != record:
                problems.append((row.line, f"evaluation {record.id!r} is already in the store with other content"))
            already += 1
            continue
        if record.employee_id not in known and record.employee_id not in new_people:
            given = people.get(record.employee_id, (row.line, row.employee))[1]
            if not given or not given.get("display_name"):
                problems.append((row.line, f"employee {record.employee_id!r} is not in the roster: import the roster "
                                           "first (qa employees import) or give employee_name"))  # fmt: skip
                continue
            try:
                new_people[record.employee_id] = validated(Employee, {**given, "id": record.employee_id})
            except InvalidRecord as error:
                problems += [(row.line, f"employee {f}: {m}") for f, m in error.messages.items()]
                continue
        new.append(record)
    if problems:
        raise ImportFailed(path, problems)
    for key in sorted({f"{r.scorecard_id}@{r.scorecard_version}" for r in new} - cards.stored):
        scorecard_id, version = key.split("@", 1)
        store.remember_scorecard(scorecard_id, version, cards.json[key])
    if new_people:
        store.upsert_employees(list(new_people.values()))
    imported = store.import_evaluations(new, by=by) if new else 0
    return ImportReport(path, imported, already, len(new_people))


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _array_items(text: str, pos: int, decoder: json.JSONDecoder) -> tuple[list[tuple[int, Any]], int]:
    """(line, item) of each item of the JSON array starting at `pos`, and where the array ends."""
    items: list[tuple[int, Any]] = []
    pos = _skip_space(text, pos + 1)
    line, counted = 1 + text.count("\n", 0, pos), pos
    while text[pos] != "]":
        line, counted = line + text.count("\n", counted, pos), pos
        item, pos = decoder.raw_decode(text, pos)
        items.append((line, item))
        pos = _skip_space(text, pos)
        if text[pos] == ",":
            pos = _skip_space(text, pos + 1)
    return items, pos + 1


def _json_sections(text: str) -> dict[str, Any]:
    """The top-level values of the file, with (line, item) lists for the arrays of records."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if text[pos] == "[":
        return {"evaluations": _array_items(text, pos, decoder)[0]}
    out: dict[str, Any] = {}
    pos = _skip_space(text, pos + 1)
    while text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip_space(text, _skip_space(text, pos) + 1)  # past the colon
        if key in ("evaluations", "employees") and text[pos] == "[":
            out[key], pos = _array_items(text, pos, decoder)
        else:
            out[key], pos = decoder.raw_decode(text, pos)
        pos = _skip_space(text, pos)
        if text[pos] == ",":
            pos = _skip_space(text, pos + 1)
    return out


def _read_json(path: Path, store: Any) -> tuple[list[_Row], _Cards, dict[str, tuple[int, dict[str, Any]]]]:
    text = decode(path.read_bytes())
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportFailed(path, [(error.lineno, f"not valid JSON: {error.msg} (column {error.colno})")]) from None
    sections = _json_sections(text)
    if sections.get("format", FORMAT) != FORMAT:
        raise ImportFailed(path, [(1, f"format {sections['format']!r} cannot be imported (a {FORMAT!r} export can)")])
    cards = sections.get("scorecards") or {}
    if not isinstance(cards, dict):
        raise ImportFailed(path, [(1, "'scorecards' must map id@version to a scorecard")])
    people = {}
    for line, item in sections.get("employees", []):
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            people[item["id"]] = (line, item)
    rows, problems = [], []
    for line, item in sections.get("evaluations", []):
        if isinstance(item, dict):
            rows.append(_Row(line, item))
        else:
            problems.append((line, "an evaluation must be a JSON object"))
    if problems:
        raise ImportFailed(path, problems)
    return rows, _Cards(store, cards), people


def _known_column(name: str) -> bool:
    return name in META or name in DERIVED or name == "photos" or name.startswith((*PREFIXES, "section."))


def _typed_answer(card: Scorecard, criterion_id: str, text: str) -> Any:
    words = {"oui": "yes", "non": "no", "sans objet": NA, "n/a": NA}
    try:
        criterion = card.criterion(criterion_id)
    except KeyError:
        return text  # refused later as an unknown criterion, with its name
    if isinstance(criterion.scale, Rating | Points):
        return int(text) if text.lstrip("-").isdigit() else text
    lowered = text.strip().lower()
    return words.get(lowered, lowered)


def _typed_context(card: Scorecard, field_id: str, text: str, decimal_comma: bool) -> Any:
    kinds = {f.id: f.type for f in card.context}
    if kinds.get(field_id) not in ("number", "duration"):
        return text
    number = text.replace(",", ".") if decimal_comma else text
    try:
        return float(number) if any(c in number for c in ".eE") else int(number)
    except ValueError:
        return text  # the evaluation is still valid; the app flags a wrong context value


def _read_csv(path: Path, store: Any) -> tuple[list[_Row], _Cards, dict[str, tuple[int, dict[str, Any]]]]:
    table = read_table(path)
    unknown = [name for name in table.header if not _known_column(name)]
    missing = [name for name in ("id", "scorecard_id", "evaluator", "employee_id", "channel", "started_at")
               if name not in table.header]  # fmt: skip
    if unknown or missing:
        parts = ([f"unknown columns: {', '.join(unknown)}"] if unknown else []) + (
            [f"missing columns: {', '.join(missing)}"] if missing else [])  # fmt: skip
        raise ImportFailed(path, [(1, "; ".join(parts) + " (expected the shape of qa export --format csv)")])
    cards = _Cards(store)
    rows = []
    for line, cells in table.rows:
        values = {name: restore_text(cell) for name, cell in zip(table.header, cells, strict=False)}
        rows.append(_csv_row(cards, line, values, table.decimal_comma))
    return rows, cards, {}


def _csv_row(cards: _Cards, line: int, values: dict[str, str],
             decimal_comma: bool) -> _Row:  # fmt: skip
    def text(name: str) -> str | None:
        return values.get(name) or None

    doc: dict[str, Any] = {name: text(name) for name in META if name not in ("employee_name", "team", "site")}
    doc["status"] = doc["status"] or "submitted"
    try:
        version, card = cards.get(doc["scorecard_id"] or "", doc["scorecard_version"] or "")
        doc["scorecard_version"] = version
    except KeyError:
        card = None
    grouped: dict[str, dict[str, Any]] = {prefix: {} for prefix in PREFIXES}
    for name, cell in values.items():
        prefix = next((p for p in PREFIXES if name.startswith(p)), None)
        if prefix is None or cell == "":
            continue
        key = name[len(prefix) :]
        if card is not None and prefix == "answer.":
            grouped[prefix][key] = _typed_answer(card, key, cell)
        elif card is not None and prefix == "visit.":
            grouped[prefix][key] = _typed_context(card, key, cell, decimal_comma)
        else:
            grouped[prefix][key] = cell
    doc.update(answers=grouped["answer."], comments=grouped["comment."], debrief=grouped["debrief."],
               visit=grouped["visit."] or None)  # fmt: skip
    try:
        doc["photos"] = json.loads(values["photos"]) if values.get("photos") else []
    except json.JSONDecodeError:
        doc["photos"] = [values["photos"]]
    employee = {"display_name": text("employee_name"), "team": values.get("team", ""), "site": values.get("site", "")}
    return _Row(line, doc, employee)
