"""Reading call logs: bytes of a CSV or Excel export -> a table of strings with the line of each row.

Text is UTF-8 (with or without BOM) or else Windows-1252 / Latin-1; anything else (UTF-16, binary)
is refused with its line. Well-formed CSV files are read by Arrow's multithreaded reader; the
others by pandas' C parser, whose errors name the line. Problems are `RowProblem`s (a catalogue
code and values, so the app can show them in French) gathered in one `ImportRefused`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from qa.errors import QAError
from qa.i18n import t

SEPARATORS = (";", ",", "\t", "|")
MAX_SHOWN = 50


@dataclass(frozen=True, order=True)
class RowProblem:
    """One bad row or file-level problem: the file line, the column (0 = whole row), what is wrong."""

    line: int
    column: int
    code: str
    values: tuple[tuple[str, Any], ...] = ()

    def message(self, lang: str = "en") -> str:
        return t(f"sampling.import.{self.code}", lang, **dict(self.values))

    def located(self, source: str, lang: str = "en") -> str:
        where = f"{source}:{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.message(lang)}"


def problem(line: int, code: str, column: int = 0, **values: Any) -> RowProblem:
    return RowProblem(int(line), int(column), code, tuple(sorted(values.items())))


class ImportRefused(QAError):
    """The file was refused as a whole: nothing was imported. Holds every problem found."""

    def __init__(self, source: str, problems: list[RowProblem]) -> None:
        self.source = source
        self.problems = sorted(problems)
        super().__init__(self.render())

    def render(self, lang: str = "en", limit: int | None = MAX_SHOWN) -> str:
        shown = self.problems if limit is None else self.problems[:limit]
        lines = [t("sampling.import.refused", lang, source=self.source, n=len(self.problems))]
        lines += [p.located(self.source, lang) for p in shown]
        if len(shown) < len(self.problems):
            lines.append(t("sampling.import.more", lang, n=len(self.problems) - len(shown)))
        return "\n".join(lines)


@dataclass
class Table:
    """The file as strings: one column per header, and the file line (or sheet row) of each row."""

    frame: pd.DataFrame
    lines: np.ndarray
    header_line: int
    source: str


# -- reading bytes -------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The same characters as bytes: in UTF-8, Windows-1252 and Latin-1 alike they are single bytes
# that no other character uses, so the bytes tell whether the text has any (10x faster than re;
# other encodings a mapping may name are searched as text).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def _line_at(data: bytes | str, offset: int) -> int:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(newline, 0, offset) + 1  # type: ignore[arg-type]


def decode_text(data: bytes, source: str, encoding: str | None = None) -> str:
    """The text of a CSV export: UTF-8 (BOM or not), else Windows-1252/Latin-1; refuses anything else."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in data[:4096]:
        raise ImportRefused(source, [problem(1, "not_text")])
    skip = 0
    if encoding is None and data.startswith(codecs.BOM_UTF8):
        encoding, skip = "utf-8", len(codecs.BOM_UTF8)  # the BOM promises UTF-8: a bad byte is an error
    tried = [encoding] if encoding else ["utf-8", "cp1252", "latin-1"]
    text = None
    for name in tried:
        try:
            text = data[skip:].decode(name)
            break
        except UnicodeDecodeError as error:
            failure = error
        except LookupError:
            raise ImportRefused(source, [problem(1, "unknown_encoding", encoding=name)]) from None
    if text is None:
        at = skip + failure.start
        raise ImportRefused(
            source, [problem(_line_at(data, at), "bad_encoding", encoding=tried[0], byte=f"0x{data[at]:02x}")]
        )
    text = text.removeprefix("\ufeff")
    ascii_based = codecs.lookup(name).name in ("utf-8", "cp1252", "iso8859-1")
    clean = ascii_based and len(data.translate(None, _CONTROL_BYTES)) == len(data)
    bad = None if clean else _CONTROL.search(text)
    if bad:
        raise ImportRefused(
            source, [problem(_line_at(text, bad.start()), "control_character", char=f"U+{ord(bad.group()):04X}")]
        )
    return text


def _guess_sep(header: str) -> str:
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ";"


def _arrow_csv(body: str, first: str, sep: str) -> pd.DataFrame | None:
    """The common case read by Arrow's multithreaded reader (~4x faster than pandas' C parser): every
    row on its own line, as many fields as headers. None otherwise (blank lines, line breaks in
    quotes, a wrong field count...): pandas then reads it and says exactly where the problem is."""
    headers = [h.strip() for h in next(csv.reader([first.rstrip("\r")], delimiter=sep))]
    if len(set(headers)) != len(headers) or "\n\n" in body or "\n\r\n" in body:
        return None
    try:
        table = pacsv.read_csv(
            io.BytesIO(body.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=headers, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(headers, pa.large_string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != body.count("\n") - (1 if body.endswith("\n") else 0):
        return None  # a quoted value held a line break: line numbers need pandas' reading
    string = pd.StringDtype("pyarrow", na_value=np.nan)
    return table.to_pandas(types_mapper={pa.large_string(): string}.get)


def read_csv_table(data: bytes, source: str, *, encoding: str | None = None, sep: str | None = None) -> Table:
    """A CSV export as a table of strings, each row with its line in the file."""
    text = decode_text(data, source, encoding)
    body = text.lstrip("\r\n\t ")
    if not body or body.isspace():
        raise ImportRefused(source, [problem(1, "empty")])
    header_line = text[: len(text) - len(body)].count("\n") + 1
    first = body[: body.find("\n")] if "\n" in body else body  # split() would copy the whole file
    sep = sep or _guess_sep(first)
    fast = _arrow_csv(body, first, sep)
    if fast is not None:
        return _drop_blank_rows(
            Table(fast, np.arange(len(fast), dtype=np.int64) + header_line + 1, header_line, source)
        )
    try:
        frame = pd.read_csv(
            io.StringIO(body),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            quotechar='"',
        )
    except pd.errors.ParserError as error:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if found:
            expected, line, saw = map(int, found.groups())
            raise ImportRefused(
                source, [problem(line + header_line - 1, "field_count", expected=expected, found=saw)]
            ) from None
        raise ImportRefused(source, [problem(header_line, "unreadable_csv", reason=str(error).strip())]) from None
    except pd.errors.EmptyDataError:
        raise ImportRefused(source, [problem(1, "empty")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.fillna("")
    lines = np.arange(len(frame), dtype=np.int64) + header_line + 1
    # A quoted field may hold line breaks: shift the line of every following row.
    if '"' in body:
        breaks = sum(frame[c].str.count("\n").to_numpy() for c in frame.columns)
        if breaks.any():
            lines = lines + np.concatenate([[0], np.cumsum(breaks)[:-1]]).astype(np.int64)
    return _drop_blank_rows(Table(frame, lines, header_line, source))


def read_excel_table(data: bytes, source: str, sheet: str | None = None) -> Table:
    """An Excel workbook's sheet (the first by default) as a table of strings, with sheet row numbers."""
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused(source, [problem(1, "old_excel")])
    try:
        book = pd.ExcelFile(io.BytesIO(data), engine="openpyxl")
    except (zipfile.BadZipFile, ValueError, KeyError, OSError) as error:
        raise ImportRefused(source, [problem(1, "unreadable_excel", reason=str(error))]) from None
    with book:
        names = [str(n) for n in book.sheet_names]
        if sheet is not None and sheet not in names:
            raise ImportRefused(source, [problem(1, "no_sheet", sheet=sheet, sheets=", ".join(names))])
        frame = pd.read_excel(
            book, sheet_name=sheet if sheet is not None else 0, dtype=str, keep_default_na=False, na_filter=False
        )
    if frame.empty and not len(frame.columns):
        raise ImportRefused(source, [problem(1, "empty")])
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.fillna("").astype(str)
    lines = np.arange(len(frame), dtype=np.int64) + 2
    return _drop_blank_rows(Table(frame, lines, 1, source))


def _drop_blank_rows(table: Table) -> Table:
    frame = table.frame
    if len(frame.columns):
        blank = np.ones(len(frame), dtype=bool)
        for column in frame.columns:  # a row is blank if every cell is: stop at the first column with none
            blank &= frame[column].str.strip().eq("").to_numpy()
            if not blank.any():
                break
        if blank.any():
            table = Table(frame[~blank].reset_index(drop=True), table.lines[~blank], table.header_line, table.source)
    if table.frame.empty:
        raise ImportRefused(table.source, [problem(table.header_line + 1, "no_rows")])
    return table


def is_excel(data: bytes, filename: str = "") -> bool:
    return data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")) or filename.lower().endswith(
        (".xlsx", ".xlsm", ".xls")
    )


def read_table(
    data: bytes, source: str, *, encoding: str | None = None, sep: str | None = None, sheet: str | None = None
) -> Table:
    """A call log's bytes (CSV or Excel, told apart by content) as a table of strings."""
    if not data or data.isspace():
        raise ImportRefused(source, [problem(1, "empty")])
    if is_excel(data, source):
        return read_excel_table(data, source, sheet)
    return read_csv_table(data, source, encoding=encoding, sep=sep)


def sheet_names(data: bytes) -> list[str]:
    """The sheets of an Excel workbook (for a page to offer them); [] for a CSV file."""
    if not data.startswith(b"PK\x03\x04"):
        return []
    try:
        with pd.ExcelFile(io.BytesIO(data), engine="openpyxl") as book:
            return [str(n) for n in book.sheet_names]
    except (zipfile.BadZipFile, ValueError, KeyError, OSError):
        return []
