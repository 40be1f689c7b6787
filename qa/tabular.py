"""Reading the tables people make (CSV from any Excel, or .xlsx) with the line number of every row.

French Excel writes `;`-separated CSV in Windows-1252 (or UTF-8 with a BOM); others write `,` and
UTF-8. Both are accepted. Each row keeps the line it starts on, so that every error can name it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from qa.errors import QAError

EXCEL_SUFFIXES = (".xlsx", ".xlsm")


class TableError(QAError):
    """A table file cannot be read at all (missing, not CSV/Excel, no header)."""


@dataclass(frozen=True)
class Table:
    """A file's header and rows; `rows` holds (line number, cells) with cells padded to the header."""

    path: Path
    header: list[str]
    rows: list[tuple[int, list[str]]]
    delimiter: str | None  # None for an Excel workbook

    @property
    def decimal_comma(self) -> bool:
        """French CSV: `;` separates the cells, so numbers may use a decimal comma."""
        return self.delimiter == ";"


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 (French Excel's "CSV"), which covers Latin-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace").replace("\ufffd", "?")


def sniff_delimiter(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_table(path: Path) -> Table:
    """The file as a table; raises TableError naming the file when it cannot be read."""
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _read_excel(path)
    try:
        text = decode(path.read_bytes())
    except OSError as error:
        raise TableError(f"{path}: cannot read the file: {error.strerror}") from None
    if "\x00" in text:
        raise TableError(f"{path}: not a text file (CSV) nor an Excel workbook (.xlsx)")
    delimiter = sniff_delimiter(text.split("\n", 1)[0])
    # Lines are counted at "\n" only, as editors do: a quoted lone "\r" stays inside its cell.
    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    last = 0
    try:
        for cells in reader:
            line, last = last + 1, reader.line_num  # a quoted cell may span lines: keep where the row starts
            if header is None:
                header = [cell.strip() for cell in cells]
            elif any(cell.strip() for cell in cells):
                rows.append((line, _fit(cells, len(header))))
    except csv.Error as error:
        raise TableError(f"{path}:{reader.line_num}: not valid CSV: {error}") from None
    if not header or not any(header):
        raise TableError(f"{path}: the file is empty (a header line is expected)")
    return Table(path, header, rows, delimiter)


def _fit(cells: list[str], width: int) -> list[str]:
    if len(cells) < width:
        return cells + [""] * (width - len(cells))
    return cells


def _excel_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # ids typed as numbers come back as 10001.0
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _read_excel(path: Path) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged or foreign file
        raise TableError(f"{path}: not a readable Excel workbook ({type(error).__name__})") from None
    try:
        sheet = workbook.worksheets[0]
        header: list[str] | None = None
        rows: list[tuple[int, list[str]]] = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_excel_text(v) for v in values]
            if header is None:
                if any(c.strip() for c in cells):
                    header = [c.strip() for c in cells]
                continue
            if any(c.strip() for c in cells):
                rows.append((line, _fit(cells, len(header))))
    finally:
        workbook.close()
    if not header:
        raise TableError(f"{path}: the first sheet is empty (a header row is expected)")
    return Table(path, header, rows, None)
