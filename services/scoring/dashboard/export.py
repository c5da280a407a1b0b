"""A dashboard table as a file: CSV (UTF-8 with a byte-order mark, so Excel reads Chinese
right) or an Excel workbook (.xlsx, openpyxl).

Text that a spreadsheet would take for a formula (starting with = + - @, a tab or a carriage
return: an agency's evidence string, say) is kept text: a leading apostrophe in the CSV, a
string cell in the workbook. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Font

from services.scoring.dashboard.tables import Cell, Table

BOM: Final = "\ufeff"
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPES: Final = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _csv_cell(value: Cell) -> Cell:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(table: Table) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows([_csv_cell(v) for v in row] for row in table.rows)
    return (BOM + out.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = table.name  # ASCII, under Excel's 31 characters
    sheet.append(table.header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for r, row in enumerate(table.rows, start=2):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def encode(table: Table, fmt: str) -> bytes:
    """The table in `fmt` (a key of MEDIA_TYPES)."""
    return to_csv(table) if fmt == "csv" else to_xlsx(table)
