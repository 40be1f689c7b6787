"""Importing call logs (CSV or Excel exports of phone systems and CRMs) as validated interactions.

The pipeline is `read_table` (bytes -> a table of strings with the file line of every row, see
qa/call_logs.py) -> `check_rows` (table + column mapping -> checked Arrow columns, or every bad
row with its line) -> `import_interactions` (-> the store's `add_interaction_table`, which takes
the columns as they are: all or nothing, idempotent on the id).
For a page: `sheet_names(data)`, `read_table(data, name)` and `guess_mapping(headers)` to preview
an upload, then `import_interactions(store, data, name, mapping)`; `ImportRefused.render("fr")`.
French exports are the norm: `;` separator, decimal comma, `dd/mm/yyyy hh:mm` local times, UTF-8
with or without BOM, or Latin-1 (Windows-1252). Parsing and checks are vectorised (pandas and
Arrow kernels), and no record is built per row, so a million rows import in about 5 s of CPU. Column mappings are saved as small JSON files in
`<data>/mappings/` (the store has no table for them), each written atomically.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from qa.auth import Actor, require
from qa.call_logs import ImportRefused, RowProblem, Table, problem, sheet_names
from qa.call_logs import read_table as read_log
from qa.errors import QAError
from qa.i18n import t
from qa.interaction_columns import CHANNELS, FIELDS, KEY_PATTERN, documents
from qa.models import Channel, Interaction, validated_many
from qa.storage import atomic_write

__all__ = [
    "ColumnMapping",
    "ImportRefused",
    "ImportReport",
    "channel_words_text",
    "check_rows",
    "guess_mapping",
    "import_file",
    "import_interactions",
    "list_mappings",
    "load_mapping",
    "parse_channel_words",
    "parse_interactions",
    "read_table",
    "save_mapping",
    "sheet_names",
]

# The fields, channels and id pattern are the model's (qa.interaction_columns derives them), so the
# file's checks and the store's column checks cannot drift apart. REQUIRED: what a mapping must map.
REQUIRED = ("id", "employee_id", "channel", "started_at", "duration_seconds")
MAX_DURATION = 2.0**53  # seconds; beyond, a "duration" is not one (and would not fit the file's numbers)
MAPPING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Dates as French exports write them first, then ISO (Excel cells arrive as ISO strings).
DATE_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%d-%m-%Y %H:%M",
    "%d.%m.%Y %H:%M",
)

# Channel words seen in exports (lower case, accents removed) -> our channel.
CHANNEL_WORDS: dict[str, str] = {
    **{
        w: "phone"
        for w in (
            "phone",
            "telephone",
            "tel",
            "appel",
            "call",
            "voice",
            "voix",
            "inbound",
            "outbound",
            "entrant",
            "sortant",
            "appel entrant",
            "appel sortant",
        )
    },
    **{w: "email" for w in ("email", "e-mail", "mail", "courriel")},
    **{w: "chat" for w in ("chat", "tchat", "messagerie", "live chat", "webchat")},
    **{
        w: "face_to_face"
        for w in (
            "face_to_face",
            "face a face",
            "face-a-face",
            "agence",
            "boutique",
            "magasin",
            "visite",
            "en personne",
            "accueil",
        )
    },
}

# Header words (lower case, accents and punctuation removed) that usually hold each field.
HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "id": (
        "id",
        "interaction id",
        "id appel",
        "id interaction",
        "identifiant",
        "identifiant appel",
        "call id",
        "numero appel",
        "ref appel",
        "n appel",
        "no appel",
        "num appel",
        "uuid",
    ),
    "employee_id": (
        "employee id",
        "employee",
        "agent",
        "id agent",
        "matricule",
        "conseiller",
        "login agent",
        "agent id",
        "operateur",
        "collaborateur",
    ),
    "channel": ("channel", "canal", "media", "type", "type appel"),
    "started_at": (
        "started at",
        "start",
        "date",
        "date heure",
        "debut",
        "date debut",
        "date appel",
        "heure debut",
        "start time",
        "horodatage",
    ),
    "duration_seconds": (
        "duration",
        "duree",
        "duree s",
        "duree sec",
        "duree secondes",
        "duration seconds",
        "duree appel",
        "temps conversation",
        "duree conversation",
    ),
    "recording": ("recording", "enregistrement", "fichier audio", "url enregistrement", "audio", "lien"),
    "customer_ref": (
        "customer",
        "customer ref",
        "client",
        "ref client",
        "reference client",
        "numero client",
        "id client",
    ),
}


def _plain(text: str) -> str:
    """Lower case, accents removed, punctuation as single spaces: for matching words."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(re.sub(r"[^a-z0-9-]+", " ", text).split())


class ColumnMapping(BaseModel):
    """Which column of the file holds each field, and how to read the values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str]  # field -> column header in the file
    default_channel: Channel | None = None  # when the file has no channel column (a phone system's log)
    channels: dict[str, Channel] = {}  # extra channel words of this export -> our channel
    date_format: str | None = None  # strftime format tried before the usual ones
    timezone: str = "Europe/Paris"  # local times in the file are in this zone
    duration_unit: Literal["seconds", "minutes", "milliseconds"] = "seconds"
    sep: str | None = None  # None: guessed from the header line
    encoding: str | None = None  # None: UTF-8 (with or without BOM), else Windows-1252 / Latin-1
    sheet: str | None = None  # Excel sheet; None: the first

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, columns: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(columns) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)} (fields: {', '.join(FIELDS)})")
        return columns

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r} (e.g. Europe/Paris)") from None
        return zone


def parse_channel_words(text: str, lang: str = "fr") -> dict[str, Channel]:
    """A mapping's channel words from text, one `word = channel` a line (the page's editor). The
    channel is our code (phone) or its name in French or English (Téléphone, Phone); blank lines and
    lines starting with # are skipped. A QAError in `lang` names the first bad line (1-based)."""
    names = {_plain(code): code for code in CHANNELS}
    for language in ("fr", "en"):
        names.update({_plain(t(f"channel.{code}", language)): code for code in CHANNELS})
    known = ", ".join(CHANNELS)
    words: dict[str, Channel] = {}
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, equals, channel = line.partition("=")
        word, channel = word.strip(), channel.strip()
        if not equals or not _plain(word):
            raise QAError(t("sampling.import.bad_channel_line", lang, line=number, text=line.strip()))
        if _plain(channel) not in names:
            raise QAError(t("sampling.import.bad_channel_target", lang, line=number, text=line.strip(), known=known))
        if _plain(word) in seen:
            raise QAError(
                t("sampling.import.duplicate_channel_word", lang, line=number, word=word, first=seen[_plain(word)])
            )
        seen[_plain(word)] = number
        words[word] = names[_plain(channel)]  # type: ignore[assignment]  # a value of CHANNELS
    return words


def channel_words_text(channels: Mapping[str, str]) -> str:
    """A mapping's channel words as `parse_channel_words` reads them back."""
    return "\n".join(f"{word} = {channel}" for word, channel in channels.items())


def guess_mapping(headers: Iterable[str]) -> ColumnMapping:
    """A first mapping from the file's headers (the page shows it for the user to correct)."""
    plain = {_plain(h): h for h in headers}
    columns: dict[str, str] = {}
    for name, words in HEADER_WORDS.items():
        for word in words:
            if word in plain and plain[word] not in columns.values():
                columns[name] = plain[word]
                break
    return ColumnMapping(columns=columns)


def read_table(data: bytes, source: str, mapping: ColumnMapping | None = None, sheet: str | None = None) -> Table:
    """A call log's bytes (CSV or Excel) as a table of strings, read as the mapping says."""
    mapping = mapping or ColumnMapping(columns={})
    return read_log(data, source, encoding=mapping.encoding, sep=mapping.sep, sheet=sheet or mapping.sheet)


# -- validating rows -----------------------------------------------------------------------------


class _Collector:
    """Gathers problems of vectorised checks: a boolean mask of bad rows -> one problem per row."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.problems: list[RowProblem] = []
        self.bad = np.zeros(len(table.frame), dtype=bool)

    def add(self, mask: np.ndarray, code: str, column: int, **values: Any) -> None:
        """`values` may hold arrays, Arrow arrays or Series (one value per row) or scalars."""
        rows = np.flatnonzero(mask)
        for row in rows.tolist():
            row_values = {k: _at(v, row) for k, v in values.items()}
            self.problems.append(problem(self.table.lines[row], code, column, **row_values))
        self.bad |= mask


def _at(values: Any, row: int) -> Any:
    if isinstance(values, pd.Series):
        return values.iloc[row]
    if isinstance(values, np.ndarray):
        return values[row]
    if isinstance(values, pa.Array):
        return values[row].as_py()
    return values


def _column(table: Table, mapping: ColumnMapping) -> tuple[dict[str, str], list[RowProblem]]:
    """The actual header of each mapped field (exact, else ignoring case and accents); missing ones."""
    headers = list(table.frame.columns)
    plain = {_plain(h): h for h in headers}
    found: dict[str, str] = {}
    problems: list[RowProblem] = []
    for name in FIELDS:
        wanted = mapping.columns.get(name)
        if wanted is None:
            if name in REQUIRED and not (name == "channel" and mapping.default_channel):
                if name == "duration_seconds":
                    continue  # optional when the mapping does not name it
                problems.append(problem(table.header_line, "unmapped_field", field=name))
            continue
        header = wanted if wanted in headers else plain.get(_plain(wanted))
        if header is None:
            problems.append(
                problem(table.header_line, "missing_column", field=name, column_name=wanted, found=", ".join(headers))
            )
        else:
            found[name] = header
    return found, problems


def _arrow(series: pd.Series) -> pa.Array:
    """A string column as one Arrow array (zero-copy for pandas' Arrow-backed strings)."""
    arr = pa.array(series, type=pa.large_string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _fast_french_dates(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """`dd/mm/yyyy hh:mm` parsed by Arrow (C++, ~20x faster than pandas' strptime): (datetime64[s], ok).

    Arrow rolls 31/02 over to 03/03, so a date is kept only if its month is the one written."""
    arr = _arrow(text)
    parsed = pc.strptime(arr, format="%d/%m/%Y %H:%M", unit="s", error_is_null=True)
    month = pc.utf8_lpad(pc.cast(pc.month(parsed), pa.large_string()), 2, "0")
    ok = pc.and_(pc.equal(pc.utf8_length(arr), 16), pc.equal(pc.utf8_slice_codeunits(arr, 3, 5), month))
    ok_np = ok.fill_null(False).to_numpy(zero_copy_only=False)
    return parsed.to_numpy(zero_copy_only=False).astype("datetime64[ns]"), ok_np


def _parse_dates(raw: pd.Series, mapping: ColumnMapping) -> pd.Series:
    """Naive local times from text, trying the mapping's format then the usual ones (NaT if none fits)."""
    text = raw.str.strip()
    result = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if mapping.date_format in (None, "%d/%m/%Y %H:%M"):
        values, ok = _fast_french_dates(text)
        result[ok] = values[ok]
    formats = ((mapping.date_format,) if mapping.date_format else ()) + DATE_FORMATS
    for fmt in formats:
        todo = result.isna() & text.ne("")
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        result[todo] = parsed
    return result


# A plain number (decimal comma or point): what nearly every export writes, read by Arrow's cast.
PLAIN_NUMBER = r"^[0-9]{1,15}([.,][0-9]{1,9})?$"


def _parse_durations(raw: pd.Series, unit: str) -> pd.Series:
    """Seconds from `125`, `125,5`, `1 234` (in the mapping's unit), `mm:ss` or `hh:mm:ss` (NaN if unreadable)."""
    text = raw.str.strip()
    for space in (" ", "\u00a0", "\u202f"):  # thousands separators; plain replaces stay in Arrow's kernels
        text = text.str.replace(space, "", regex=False)
    factor = {"seconds": 1.0, "minutes": 60.0, "milliseconds": 0.001}[unit]
    arr = _arrow(text)
    plain = pc.match_substring_regex(arr, PLAIN_NUMBER).to_numpy(zero_copy_only=False)
    numbers = pc.cast(pc.replace_substring(pc.if_else(plain, arr, "0"), ",", "."), pa.float64()).to_numpy()
    seconds = pd.Series(np.where(plain, numbers, np.nan), index=raw.index)
    other = ~plain
    if other.any():  # signs, exponents, stray text...: pandas says what it reads (NaN if nothing)
        rest = text[other]
        seconds[other] = pd.to_numeric(rest.str.replace(",", ".", regex=False), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
    seconds = seconds * factor
    clock = text.str.fullmatch(r"\d{1,4}:\d{1,2}(:\d{1,2})?")
    if clock.any():
        parts = text[clock].str.split(":", expand=True).apply(pd.to_numeric)
        if parts.shape[1] == 2:
            clock_seconds = parts[0] * 60 + parts[1]
        else:
            clock_seconds = pd.Series(
                np.where(
                    parts[2].isna(), parts[0] * 60 + parts[1], parts[0] * 3600 + parts[1] * 60 + parts[2].fillna(0)
                ),
                index=parts.index,
            )
        seconds[clock] = clock_seconds
    return seconds


@dataclass
class Checked:
    """The rows of a call log, every value checked: one Arrow array per field (dictionary-encoded for
    employees, channels and start times, which repeat), ready for the store."""

    values: dict[str, pa.Array]
    rows: int
    employee_column: int  # position of the employee column, for messages

    def table(self, keep: np.ndarray | None = None) -> pa.Table:
        """The checked rows (those in `keep`) as columns named as Interaction's fields."""
        table = pa.table({name: self.values[name] for name in FIELDS if name in self.values})
        return table if keep is None else table.filter(pa.array(keep))

    def documents(self, keep: np.ndarray | None = None) -> list[dict[str, Any]]:
        """JSON-ready documents of the checked rows (optionally only those in `keep`)."""
        return documents(self.table(keep))


def parse_interactions(table: Table, mapping: ColumnMapping) -> list[Interaction]:
    """Valid interactions of every row, or ImportRefused listing every bad row with its line."""
    return validated_many(Interaction, check_rows(table, mapping).documents())


def check_rows(table: Table, mapping: ColumnMapping) -> Checked:
    """Every row checked and converted (vectorised), or ImportRefused listing every bad row."""
    columns, problems = _column(table, mapping)
    if problems:
        raise ImportRefused(table.source, problems)
    frame, check = table.frame, _Collector(table)
    position = {name: list(frame.columns).index(header) + 1 for name, header in columns.items()}
    n = len(frame)
    values: dict[str, Any] = {}

    for name in ("id", "employee_id"):
        raw = values[name] = pc.utf8_trim_whitespace(_arrow(frame[columns[name]]))
        empty = pc.equal(raw, "").to_numpy(zero_copy_only=False)
        check.add(empty, f"missing_{name}", position[name])
        wrong = ~pc.match_substring_regex(raw, KEY_PATTERN).to_numpy(zero_copy_only=False) & ~empty
        check.add(wrong, f"bad_{name}", position[name], value=raw)
    if len(pc.unique(values["id"])) < n:  # Arrow's hash table first (~0.25 s a million): duplicates are rare
        ids = pd.Series(values["id"].to_pylist())
        duplicated = ids.duplicated(keep="first").to_numpy() & ids.ne("").to_numpy()
        first_line = pd.Series(table.lines).groupby(ids.to_numpy()).transform("first").to_numpy()
        check.add(duplicated, "duplicate_id", position["id"], value=ids, first=first_line)

    if "channel" in columns:
        raw = frame[columns["channel"]]
        words = {**CHANNEL_WORDS, **{_plain(k): v for k, v in mapping.channels.items()}}
        encoded = _arrow(raw).dictionary_encode()
        uniques = encoded.dictionary.to_pylist()
        mapped = pa.array(
            [words.get(_plain(u), mapping.default_channel if not u.strip() else None) for u in uniques],
            type=pa.large_string(),
        )
        unknown = pc.take(mapped, encoded.indices).is_null().to_numpy(zero_copy_only=False)
        check.add(unknown, "bad_channel", position["channel"], value=raw, known=", ".join(CHANNELS))
        values["channel"] = pa.DictionaryArray.from_arrays(encoded.indices, mapped)
    else:
        values["channel"] = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(n, dtype=np.int32)), pa.array([mapping.default_channel], pa.large_string())
        )

    raw_dates = frame[columns["started_at"]]
    dates = _parse_dates(raw_dates, mapping)
    empty = raw_dates.str.strip().eq("").to_numpy()
    check.add(empty, "missing_started_at", position["started_at"])
    check.add(dates.isna().to_numpy() & ~empty, "bad_date", position["started_at"], value=raw_dates)

    if "duration_seconds" in columns:
        raw_durations = frame[columns["duration_seconds"]]
        seconds = _parse_durations(raw_durations, mapping.duration_unit)
        blank = raw_durations.str.strip().eq("").to_numpy()
        check.add(
            seconds.isna().to_numpy() & ~blank,
            "bad_duration",
            position["duration_seconds"],
            value=raw_durations,
        )
        check.add((seconds < 0).to_numpy(), "negative_duration", position["duration_seconds"], value=raw_durations)
        huge = (seconds >= MAX_DURATION).to_numpy()  # inf, 1e300... (negative ones are reported as such)
        check.add(huge, "bad_duration", position["duration_seconds"], value=raw_durations)
        whole = np.where(np.abs(seconds.to_numpy()) < MAX_DURATION, seconds.round().to_numpy(), np.nan)
        values["duration_seconds"] = pa.array(whole, from_pandas=True).cast(pa.int64())
    for name in ("recording", "customer_ref"):
        if name in columns:  # kept exactly as given; an empty cell is no value
            text = _arrow(frame[columns[name]])
            blank = pc.equal(pc.utf8_trim_whitespace(text), "")  # the same whitespace as str.strip()
            values[name] = pc.if_else(blank, pa.scalar(None, pa.large_string()), text)

    if check.problems:
        raise ImportRefused(table.source, check.problems)
    values["started_at"] = _iso_local(dates, mapping.timezone)
    # Few distinct employees: kept once each (checks and documents then work on ~1,000 values).
    values["employee_id"] = values["employee_id"].dictionary_encode()
    return Checked(values, n, position["employee_id"])


def _iso_local(naive: pd.Series, zone: str) -> pa.Array:
    """ISO 8601 text with the zone's UTC offset of each naive local time, e.g. 2026-12-01T09:30:00+01:00
    (and Z for UTC, as the model writes it).

    Each distinct time is converted once (a month of calls has ~45,000 distinct minutes for a
    million rows), by Arrow and pandas, never a datetime each. DST: an hour that happens twice
    is taken the first time, a skipped hour is moved forward."""
    distinct, inverse = np.unique(naive.to_numpy(dtype="datetime64[s]"), return_inverse=True)
    times = pd.Series(distinct)
    local = times.dt.tz_localize(ZoneInfo(zone), ambiguous=np.ones(len(times), dtype=bool), nonexistent="shift_forward")
    wall = local.dt.tz_localize(None)
    offset = ((wall - local.dt.tz_convert("UTC").dt.tz_localize(None)).dt.total_seconds() // 60).astype(np.int64)
    seconds = pa.array(wall.to_numpy(dtype="datetime64[s]"), type=pa.timestamp("s"))
    text = pc.utf8_replace_slice(pc.cast(seconds, pa.large_string()), 10, 11, "T")  # 2026-12-01 09:30:00 -> ...T...
    used, which = np.unique(offset.to_numpy(), return_inverse=True)  # two offsets a year
    labels = [f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" if m else "Z" for m in used.tolist()]
    suffix = pc.take(pa.array(labels, pa.large_string()), pa.array(which.reshape(-1)))
    iso = pc.binary_join_element_wise(text, suffix, pa.scalar("", pa.large_string()))
    return pa.DictionaryArray.from_arrays(pa.array(inverse.reshape(-1).astype(np.int32)), iso)


# -- saved mappings ------------------------------------------------------------------------------


def _mapping_path(data_dir: Path, name: str) -> Path:
    if not MAPPING_NAME.match(name):
        raise QAError(t("sampling.import.bad_mapping_name", "en", name=name))
    return Path(data_dir) / "mappings" / f"{name}.json"


def save_mapping(data_dir: Path, name: str, mapping: ColumnMapping) -> Path:
    """Keep `mapping` under `name` for later imports (atomic: a reader never sees half a file)."""
    path = _mapping_path(data_dir, name)
    payload = json.dumps(mapping.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True)
    atomic_write(path, payload.encode("utf-8") + b"\n")
    return path


def load_mapping(data_dir: Path, name: str) -> ColumnMapping:
    path = _mapping_path(data_dir, name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(list_mappings(data_dir)) or "-"
        raise QAError(t("sampling.import.no_mapping", "en", name=name, known=known)) from None
    except (OSError, ValueError) as error:
        raise QAError(f"{path}: {error}") from None
    return mapping_from_dict(data, str(path))


def mapping_from_dict(data: Mapping[str, Any], source: str) -> ColumnMapping:
    try:
        return ColumnMapping.model_validate(data)
    except ValidationError as error:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False))
        raise QAError(f"{source}: invalid column mapping: {details}") from None


def list_mappings(data_dir: Path) -> list[str]:
    folder = Path(data_dir) / "mappings"
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith(".")) if folder.is_dir() else []


# -- into the store ------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: rows read, interactions added, already present, unknown employees skipped."""

    source: str
    rows: int
    added: int
    already_present: int
    unknown_employees: dict[str, list[int]] = field(default_factory=dict)  # employee id -> file lines
    skipped_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "added": self.added,
            "already_present": self.already_present,
            "skipped_rows": self.skipped_rows,
            "unknown_employees": self.unknown_employees,
        }


def import_interactions(
    store: Any,
    data: bytes,
    source: str,
    mapping: ColumnMapping,
    *,
    sheet: str | None = None,
    skip_unknown_employees: bool = False,
    actor: Actor | None = None,
) -> ImportReport:
    """Parse a call log and add its interactions to the store, all or nothing (idempotent on the id).

    Rows of employees missing from the roster refuse the file (one problem per row), unless
    `skip_unknown_employees`: then they are left out and listed in the report. Nobody is invented.
    The app passes the signed-in `actor`, who needs the "sample" permission.
    """
    if actor is not None:
        require(actor, "sample")
    table = read_table(data, source, mapping, sheet)
    checked = check_rows(table, mapping)
    employees = checked.values["employee_id"]  # dictionary-encoded: the roster is checked once per employee
    roster = pa.array([e.id for e in store.list_employees()], pa.large_string())
    known = pc.is_in(employees.dictionary, value_set=roster)
    keep = pc.take(known, employees.indices).to_numpy(zero_copy_only=False)
    unknown: dict[str, list[int]] = {}
    for row in np.flatnonzero(~keep).tolist():
        unknown.setdefault(employees[row].as_py(), []).append(int(table.lines[row]))
    if unknown and not skip_unknown_employees:
        raise ImportRefused(
            source,
            [
                problem(line, "unknown_employee", checked.employee_column, value=emp)
                for emp, lines in unknown.items()
                for line in lines
            ],
        )
    kept = int(keep.sum())
    # Columns, not records: the store checks them column-wise (as the model would), then writes them.
    added = store.add_interaction_table(checked.table(None if keep.all() else keep)) if kept else 0
    return ImportReport(source, checked.rows, added, kept - added, unknown, checked.rows - kept)


def import_file(
    store: Any,
    path: str | Path,
    mapping: ColumnMapping | None = None,
    *,
    sheet: str | None = None,
    skip_unknown_employees: bool = False,
) -> ImportReport:
    """`import_interactions` for a file on disk; without a mapping, one guessed from its headers."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise QAError(f"{path}: cannot read the file: {error.strerror or error}") from None
    if mapping is None:
        mapping = guess_mapping(read_table(data, str(path), None, sheet).frame.columns)
    return import_interactions(
        store, data, str(path), mapping, sheet=sheet, skip_unknown_employees=skip_unknown_employees
    )
