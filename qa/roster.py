"""Employees from an HR roster (CSV or Excel, English or French): add, update, deactivate; all or nothing.

Columns (any order, any case, accents optional; other columns are ignored):
    id      id, identifiant, matricule, employee_id
    name    name, nom complet, display_name; or first/last name (prénom + nom)
    team    team, équipe, service
    site    site, magasin, agence
    active  active, actif, statut: yes/no, oui/non, true/false, vrai/faux, 1/0, actif/inactif
            (empty: active)
Nobody is ever deleted: a departed employee (active = no, or absent from a `full` roster) is
deactivated and keeps their evaluations.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import InvalidRecord, RowsRejected
from qa.models import Employee, validated
from qa.tabular import read_table

ALIASES = {
    "id": ("id", "identifiant", "matricule", "employee_id", "employee id", "id employe", "code"),
    "name": ("name", "nom complet", "display_name", "display name", "full name", "nom et prenom", "prenom nom"),
    "first_name": ("first name", "first_name", "prenom"),
    "last_name": ("last name", "last_name", "nom", "nom de famille"),
    "team": ("team", "equipe", "service"),
    "site": ("site", "magasin", "agence", "lieu"),
    "active": ("active", "actif", "active?", "statut", "status"),
}
TRUE = frozenset({"yes", "y", "oui", "o", "true", "vrai", "1", "x", "actif", "active", "present"})
FALSE = frozenset({"no", "n", "non", "false", "faux", "0", "inactif", "inactive", "parti", "sorti", "left"})


class RosterError(RowsRejected):
    """The roster was refused, nothing written: each bad row with its line."""


@dataclass(frozen=True)
class RosterReport:
    path: Path
    added: int
    updated: int
    deactivated: int
    unchanged: int

    def summary(self) -> str:
        return (f"{self.path}: {self.added} employees added, {self.updated} updated, {self.deactivated} deactivated, "
                f"{self.unchanged} unchanged.")  # fmt: skip


def normalise(header: str) -> str:
    """Lower case, no accents, single spaces: 'Équipe ' and 'equipe' are the same column."""
    text = unicodedata.normalize("NFKD", header.strip().lower().lstrip("\ufeff"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace("_", " ").split())


def column_map(header: list[str]) -> tuple[dict[str, int], list[str]]:
    """Which column holds each field, and the problems with the header (missing or repeated fields)."""
    lookup = {normalise(alias): field for field, aliases in ALIASES.items() for alias in aliases}
    columns: dict[str, int] = {}
    problems = []
    for index, name in enumerate(header):
        field = lookup.get(normalise(name))
        if field is None:
            continue
        if field in columns:
            problems.append(f"columns {header[columns[field]]!r} and {name!r} both give the {field}")
        columns[field] = index
    if "name" in columns:
        columns.pop("first_name", None)
        columns.pop("last_name", None)
    if "id" not in columns:
        problems.append("no id column (id, identifiant or matricule)")
    if "name" not in columns and "last_name" not in columns:
        problems.append("no name column (name, nom, or prénom and nom)")
    if problems:
        problems.append(f"columns found: {', '.join(header)}")
    return columns, problems


def parse_active(text: str) -> bool | None:
    value = normalise(text)
    if not value:
        return True
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    return None


def read_roster(path: Path) -> tuple[list[Employee], set[str]]:
    """The employees of a roster file and which fields it gives; RosterError lists every bad row."""
    table = read_table(path)
    columns, header_problems = column_map(table.header)
    if header_problems:
        raise RosterError(path, [(1, "; ".join(header_problems))])

    def cell(cells: list[str], field: str) -> str:
        return cells[columns[field]].strip() if field in columns else ""

    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    employees = []
    for line, cells in table.rows:
        employee_id = cell(cells, "id")
        name = cell(cells, "name") or " ".join(p for p in (cell(cells, "first_name"), cell(cells, "last_name")) if p)
        active = parse_active(cell(cells, "active"))
        row_problems = []
        if active is None:
            row_problems.append(f"active: {cell(cells, 'active')!r} is not yes/no (oui/non)")
        if employee_id in seen:
            row_problems.append(f"id {employee_id!r} is also on line {seen[employee_id]}")
        try:
            record = validated(Employee, {"id": employee_id, "display_name": name, "team": cell(cells, "team"),
                                          "site": cell(cells, "site"), "active": bool(active)})  # fmt: skip
        except InvalidRecord as error:
            labels = {"id": "id", "display_name": "name"}
            row_problems += [f"{labels.get(f, f)}: {_plain(m, cells, columns, f)}" for f, m in error.messages.items()]
            record = None
        if employee_id and employee_id not in seen:
            seen[employee_id] = line
        if row_problems:
            problems += [(line, message) for message in row_problems]
        elif record is not None:
            employees.append(record)
    if problems:
        raise RosterError(path, problems)
    return employees, {field for field in ("team", "site", "active") if field in columns}


def _plain(message: str, cells: list[str], columns: dict[str, int], field: str) -> str:
    """Pydantic's wording, made readable for a roster ('string should match pattern' says nothing)."""
    if field == "id":
        value = cells[columns["id"]].strip()
        if not value:
            return "missing"
        return f"{value!r} must be letters, digits and . _ - : @ + only (no spaces), at most 128 characters"
    if field == "display_name" and "at least 1" in message:
        return "missing"
    return message


def import_roster(store: Any, path: Path, *, full: bool = False) -> RosterReport:
    """Add and update the roster's employees (idempotent); with `full`, deactivate everyone absent."""
    employees, given = read_roster(path)
    current = {e.id: e for e in store.list_employees()}
    records: list[Employee] = []
    for record in employees:
        before = current.get(record.id)
        if before is not None:  # a column the file lacks keeps the stored value
            kept = {field: getattr(before, field) for field in ("team", "site", "active") if field not in given}
            record = record.model_copy(update=kept)
        records.append(record)
    listed = {r.id for r in records}
    departed = []
    if full:
        departed = [e.model_copy(update={"active": False}) for e in current.values() if e.id not in listed and e.active]
    deactivated = sum(1 for r in records if not r.active and r.id in current and current[r.id].active) + len(departed)
    counts = store.upsert_employees(records + departed)
    return RosterReport(path, counts.added, counts.updated - deactivated, deactivated, counts.unchanged)
