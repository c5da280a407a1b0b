"""Reading a reports sheet: a CSV file or an Excel workbook (.xlsx), bounded.

Row 1 holds the column names (case and surrounding spaces do not matter); every later row that
is not blank is one report. Rows are numbered as a spreadsheet shows them: the header is row 1.
A workbook is read in openpyxl's read-only mode from its sheet named `reports` (or its only
sheet), cached formula results rather than formulas.

Limits, checked before a file is parsed where possible: at most `MAX_FILE_BYTES` on disk and,
for a workbook, `MAX_UNPACKED_BYTES` unpacked (a zip bomb is refused unread); at most
`MAX_ROWS` reports and `MAX_SCANNED_ROWS` rows in all. Whatever is wrong with the file as a
whole is a `SheetError`; what is wrong with a row is the caller's (planwatch.publish_file).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Final
from xml.etree.ElementTree import ParseError

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from planwatch.messages import MessageError

MAX_FILE_BYTES: Final = 5 * 1024 * 1024
MAX_UNPACKED_BYTES: Final = 50 * 1024 * 1024
MAX_ROWS: Final = 10_000
MAX_SCANNED_ROWS: Final = 5 * MAX_ROWS  # blank rows included
REPORTS_SHEET: Final = "reports"
# Columns right of the last named one that are still read, to report values put there.
_STRAY_COLUMNS: Final = 5
# What openpyxl raises on a damaged workbook.
_UNREADABLE: Final = (
    OSError,
    KeyError,
    ValueError,
    ParseError,
    zipfile.BadZipFile,
    InvalidFileException,
)

#: The columns `planwatch publish --file` reads, in the template's order.
COLUMNS: Final = ("target", "as_of", "value", "stage", "scope", "note", "evidence")
REQUIRED_COLUMNS: Final = ("target", "as_of")
VALUE_COLUMNS: Final = ("value", "stage")  # at least one of them

#: What a cell may hold: text (stripped, never empty), a number, a date or time, or nothing.
CellValue = str | int | float | bool | date | datetime | time | timedelta | None


class SheetError(MessageError):
    """The file as a whole cannot be read as a reports sheet."""


@dataclass(frozen=True, slots=True)
class SheetRow:
    number: int  # as the spreadsheet numbers it: the header is row 1
    cells: Mapping[str, CellValue]  # by column name; blank cells are absent
    # Columns whose cell is formatted as a percentage in the workbook (72.5 % is stored as 0.725).
    percent: frozenset[str] = frozenset()
    # A non-empty cell under a column with no name (its position, 1-based), if any.
    unnamed: int | None = None


@dataclass(frozen=True, slots=True)
class Sheet:
    columns: tuple[str, ...]
    rows: list[SheetRow] = field(default_factory=list)


def read_sheet(path: Path) -> Sheet:
    """The reports in a .csv or .xlsx file; SheetError when the file cannot be one."""
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        if not suffix:
            raise SheetError("sheet.no_suffix", name=path.name)
        raise SheetError("sheet.suffix", name=path.name, suffix=suffix)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SheetError("sheet.unreadable", path=path, error=exc.strerror or exc) from None
    if size > MAX_FILE_BYTES:
        raise SheetError(
            "sheet.too_big", name=path.name, size=size / 1048576, limit=MAX_FILE_BYTES // 1048576
        )
    if suffix == ".csv":
        return _read_csv(path)
    return _read_xlsx(path)


# --- the header and the rows, whatever the format -------------------------------------------


def _clean(value: object) -> CellValue:
    if isinstance(value, str):
        text = value.strip()
        return text or None
    if isinstance(value, str | int | float | bool | date | datetime | time | timedelta):
        return value
    if value is None:
        return None
    return str(value)  # anything else openpyxl may give (e.g. an error string type)


def _header(cells: Sequence[object]) -> tuple[list[str | None], tuple[str, ...]]:
    """The name of each column position (None: unnamed) and the named columns, checked."""
    names: list[str | None] = []
    for value in cells:
        cleaned = _clean(value)
        names.append(None if cleaned is None else str(cleaned).lower())
    named = [name for name in names if name is not None]
    if not named:
        raise SheetError("sheet.no_header", columns=", ".join(COLUMNS))
    unknown = [name for name in named if name not in COLUMNS]
    if unknown:
        raise SheetError(
            "sheet.unknown_columns",
            unknown=", ".join(repr(n) for n in unknown),
            columns=", ".join(COLUMNS),
        )
    repeated = sorted({name for name in named if named.count(name) > 1})
    if repeated:
        raise SheetError("sheet.repeated_columns", columns=", ".join(repeated))
    missing = [name for name in REQUIRED_COLUMNS if name not in named]
    if missing:
        raise SheetError("sheet.missing_columns", columns=", ".join(missing))
    if not any(name in named for name in VALUE_COLUMNS):
        raise SheetError("sheet.no_value_column")
    return names, tuple(named)


def _collect(
    names: Sequence[str | None], rows: Iterable[tuple[int, Sequence[object], frozenset[int]]]
) -> list[SheetRow]:
    """SheetRows of the non-blank rows: (number, cell values, positions formatted as %)."""
    result: list[SheetRow] = []
    scanned = 0
    for number, values, percent_positions in rows:
        scanned += 1
        if scanned > MAX_SCANNED_ROWS:
            raise SheetError("sheet.too_many_rows", limit=MAX_SCANNED_ROWS)
        cells: dict[str, CellValue] = {}
        percent: set[str] = set()
        unnamed: int | None = None
        for position, raw in enumerate(values):
            value = _clean(raw)
            if value is None:
                continue
            name = names[position] if position < len(names) else None
            if name is None:
                unnamed = unnamed or position + 1
                continue
            cells[name] = value
            if position in percent_positions:
                percent.add(name)
        if not cells and unnamed is None:
            continue
        if len(result) == MAX_ROWS:
            raise SheetError("sheet.too_many_reports", limit=MAX_ROWS)
        result.append(SheetRow(number, cells, frozenset(percent), unnamed))
    return result


# --- CSV --------------------------------------------------------------------------------------


def _read_csv(path: Path) -> Sheet:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise SheetError("sheet.unreadable", path=path, error=exc.strerror or exc) from None
    except UnicodeDecodeError as exc:
        raise SheetError("sheet.not_utf8", name=path.name, byte=exc.start) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise SheetError("sheet.empty", name=path.name)
        names, columns = _header(header)

        def numbered() -> Iterator[tuple[int, Sequence[object], frozenset[int]]]:
            for number, values in enumerate(reader, start=2):
                yield number, values, frozenset()

        return Sheet(columns, _collect(names, numbered()))
    except csv.Error as exc:
        raise SheetError("sheet.bad_csv", name=path.name, line=reader.line_num, error=exc) from None


# --- Excel ------------------------------------------------------------------------------------


def _check_unpacked_size(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (OSError, zipfile.BadZipFile) as exc:
        raise SheetError("sheet.not_xlsx", name=path.name, error=exc) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise SheetError(
            "sheet.unpacked_too_big",
            name=path.name,
            size=unpacked / 1048576,
            limit=MAX_UNPACKED_BYTES // 1048576,
        )


def _read_xlsx(path: Path) -> Sheet:
    _check_unpacked_size(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except _UNREADABLE as exc:
        raise SheetError("sheet.unreadable_xlsx", name=path.name, error=exc) from None
    try:
        by_name = {sheet.title.strip().lower(): sheet for sheet in workbook.worksheets}
        sheet = by_name.get(REPORTS_SHEET)
        if sheet is None:
            if len(workbook.worksheets) != 1:
                titles = ", ".join(s.title for s in workbook.worksheets)
                raise SheetError(
                    "sheet.which_sheet", name=path.name, titles=titles, sheet=REPORTS_SHEET
                )
            sheet = workbook.worksheets[0]
        header = next(sheet.iter_rows(min_row=1, max_row=1), None)
        if header is None:
            raise SheetError("sheet.empty_sheet", name=path.name, title=sheet.title)
        names, columns = _header([cell.value for cell in header])
        # Only the header's width (and a few columns beyond, for stray values) is read: a
        # sheet that claims 16,384 columns is not padded out to them row by row.
        width = max(i for i, name in enumerate(names) if name is not None) + 1 + _STRAY_COLUMNS
        rows = sheet.iter_rows(min_row=2, max_col=width)

        def numbered() -> Iterator[tuple[int, Sequence[object], frozenset[int]]]:
            for number, cells in enumerate(rows, start=2):
                values = [cell.value for cell in cells]
                percent = frozenset(
                    position
                    for position, cell in enumerate(cells)
                    if isinstance(cell.value, int | float)
                    and "%" in str(getattr(cell, "number_format", "") or "")
                )
                yield number, values, percent

        return Sheet(columns, _collect(names, numbered()))
    except SheetError:
        raise
    except _UNREADABLE as exc:
        raise SheetError("sheet.unreadable_sheet", name=path.name, error=exc) from None
    finally:
        workbook.close()
