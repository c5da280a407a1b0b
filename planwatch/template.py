"""The reports template of one agency: the targets it may report and an empty reports sheet.

A workbook (.xlsx) has two sheets: `reports`, with the header row that `publish --file` reads
(and a drop-down of the agency's targets in its target column), and `targets`, one row per
target the agency leads or co-owns: its unit, comparator, target value, deadline, cadence and,
for a milestone, its stages in order. As CSV the two sheets are two files: FILE.csv (reports)
and FILE.targets.csv.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from planwatch.sheets import REPORTS_SHEET
from shared.domain.catalog import Kind, Plan, Target

TARGETS_SHEET: Final = "targets"
#: The columns of the template's reports sheet: what `publish --file` reads, but `scope`
#: (not yet in the event contract).
REPORT_HEADERS: Final = ("target", "as_of", "value", "stage", "note", "evidence")
TARGET_HEADERS: Final = (
    "target",
    "role",
    "name",
    "metric",
    "kind",
    "unit",
    "comparator",
    "target value",
    "deadline",
    "cadence",
    "stages",
    "reports with",
)
# Rows of the reports sheet the target drop-down covers.
_VALIDATED_ROWS: Final = 10_001


class TemplateError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TargetLine:
    """One target an agency may report, as the template lists it."""

    target: Target
    role: str  # "lead" or "co-owner"

    def cells(self) -> tuple[str | float, ...]:
        target = self.target
        milestone = target.kind is Kind.MILESTONE
        return (
            target.id,
            self.role,
            target.name_en,
            target.metric_zh,
            target.kind.value,
            target.unit,
            target.comparator.value,
            target.stages[int(target.target)].id if milestone else target.target,
            target.deadline.isoformat(),
            target.cadence.value,
            ", ".join(stage.id for stage in target.stages),
            "stage" if milestone else "value",
        )


def target_lines(plan: Plan, agency: str) -> list[TargetLine]:
    """The targets `agency` may report (lead or co-owner, as ingest decides it), by id."""
    if agency not in plan.agencies:
        raise TemplateError(f"plan {plan.id!r} has no agency {agency!r}")
    lines = [
        TargetLine(target, "lead" if target.lead == agency else "co-owner")
        for target in sorted(plan.targets.values(), key=lambda t: t.id)
        if agency in plan.responsible_for(target.id)
    ]
    if not lines:
        raise TemplateError(f"{agency!r} reports on no target of plan {plan.id!r}")
    return lines


def write_template(path: Path, plan: Plan, agency: str) -> list[Path]:
    """The template at `path` (.xlsx or .csv); the files written."""
    lines = target_lines(plan, agency)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        _write_workbook(path, lines)
        return [path]
    if suffix == ".csv":
        targets_path = path.with_name(f"{path.stem}.targets.csv")
        _write_csv(path, [REPORT_HEADERS])
        _write_csv(targets_path, [TARGET_HEADERS, *(line.cells() for line in lines)])
        return [path, targets_path]
    raise TemplateError(f"{path.name}: writes a .xlsx or .csv file, not {suffix or 'no suffix'}")


def _write_csv(path: Path, rows: Sequence[Sequence[object]]) -> None:
    # UTF-8 with a byte-order mark, so that Excel opens the Chinese names as such.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)


def _write_workbook(path: Path, lines: Sequence[TargetLine]) -> None:
    workbook = Workbook()
    reports = workbook.active
    assert reports is not None
    reports.title = REPORTS_SHEET
    reports.append(REPORT_HEADERS)
    targets = workbook.create_sheet(TARGETS_SHEET)
    targets.append(TARGET_HEADERS)
    for line in lines:
        targets.append(line.cells())
    for sheet, headers in ((reports, REPORT_HEADERS), (targets, TARGET_HEADERS)):
        for column, name in enumerate(headers, start=1):
            sheet.cell(row=1, column=column).font = Font(bold=True)
            sheet.column_dimensions[get_column_letter(column)].width = max(12, len(name) + 4)
        sheet.freeze_panes = "A2"
    # as_of typed as YYYY-MM-DD stays that text (Excel would make it a date of its locale).
    reports.column_dimensions["B"].number_format = "@"
    choose = DataValidation(
        type="list",
        formula1=f"={TARGETS_SHEET}!$A$2:$A${len(lines) + 1}",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="unknown target",
        error=f"Pick one of the targets on the {TARGETS_SHEET!r} sheet.",
    )
    choose.add(f"A2:A{_VALIDATED_ROWS}")
    reports.add_data_validation(choose)
    workbook.save(path)
