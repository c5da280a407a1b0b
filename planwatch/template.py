"""The reports template of one agency: the targets it may report and an empty reports sheet.

A workbook (.xlsx) has the sheets `reports`, with the header row that `publish --file` reads
(and drop-downs of the agency's targets and of the plan's scopes), `targets`, one row per
target the agency leads or co-owns: its unit, comparator, target value, deadline, cadence, for
a milestone its stages in order, and whether a row needs a `scope` (method v1.1: only the
target's headline reporters send unscoped figures), and `scopes`, the plan's breakdown units
(counties and parks) a row's `scope` may name. As CSV the sheets are files: FILE.csv (reports),
FILE.targets.csv and FILE.scopes.csv.
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

from planwatch.messages import MessageError
from planwatch.sheets import COLUMNS, REPORTS_SHEET
from shared.domain.catalog import Kind, Plan, Target

TARGETS_SHEET: Final = "targets"
SCOPES_SHEET: Final = "scopes"
#: The columns of the template's reports sheet: all that `publish --file` reads.
REPORT_HEADERS: Final = COLUMNS
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
    "scope",  # "optional": the agency reports the headline figure; "required": only breakdowns
)
SCOPE_HEADERS: Final = ("scope", "kind", "name", "name_en")
# Rows of the reports sheet the target drop-down covers.
_VALIDATED_ROWS: Final = 10_001


class TemplateError(MessageError):
    """The template cannot be made (planwatch.messages: str() is English)."""


@dataclass(frozen=True, slots=True)
class TargetLine:
    """One target an agency may report, as the template lists it."""

    target: Target
    role: str  # "lead" or "co-owner"
    headline: bool  # one of the target's headline reporters: may send a row without a scope

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
            target.deadline.isoformat() if target.deadline else "no date in the plan",
            target.cadence.value,
            ", ".join(stage.id for stage in target.stages),
            "stage" if milestone else "value",
            "optional" if self.headline else "required",
        )


def target_lines(plan: Plan, agency: str) -> list[TargetLine]:
    """The targets `agency` may report (lead or co-owner, as ingest decides it), by id."""
    if agency not in plan.agencies:
        raise TemplateError("plan.no_agency", plan=plan.id, agency=agency)
    lines = [
        TargetLine(
            target,
            "lead" if target.lead == agency else "co-owner",
            plan.reports_headline(target.id, agency),
        )
        for target in sorted(plan.targets.values(), key=lambda t: t.id)
        if agency in plan.responsible_for(target.id)
    ]
    if not lines:
        raise TemplateError("template.no_targets", agency=agency, plan=plan.id)
    return lines


def scope_rows(plan: Plan) -> list[tuple[str, str, str, str]]:
    """The plan's breakdown units, as the `scopes` sheet lists them (catalog order)."""
    return [(unit.id, unit.kind, unit.name_zh, unit.name_en) for unit in plan.breakdowns.values()]


def write_template(path: Path, plan: Plan, agency: str) -> list[Path]:
    """The template at `path` (.xlsx or .csv); the files written."""
    lines = target_lines(plan, agency)
    scopes = scope_rows(plan)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        _write_workbook(path, lines, scopes)
        return [path]
    if suffix == ".csv":
        targets_path = path.with_name(f"{path.stem}.targets.csv")
        scopes_path = path.with_name(f"{path.stem}.scopes.csv")
        _write_csv(path, [REPORT_HEADERS])
        _write_csv(targets_path, [TARGET_HEADERS, *(line.cells() for line in lines)])
        _write_csv(scopes_path, [SCOPE_HEADERS, *scopes])
        return [path, targets_path, scopes_path]
    if not suffix:
        raise TemplateError("template.no_suffix", name=path.name)
    raise TemplateError("template.suffix", name=path.name, suffix=suffix)


def _write_csv(path: Path, rows: Sequence[Sequence[object]]) -> None:
    # UTF-8 with a byte-order mark, so that Excel opens the Chinese names as such.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)


def _write_workbook(
    path: Path, lines: Sequence[TargetLine], scopes: Sequence[Sequence[str]]
) -> None:
    workbook = Workbook()
    reports = workbook.active
    assert reports is not None
    reports.title = REPORTS_SHEET
    reports.append(REPORT_HEADERS)
    targets = workbook.create_sheet(TARGETS_SHEET)
    targets.append(TARGET_HEADERS)
    for line in lines:
        targets.append(line.cells())
    scope_sheet = workbook.create_sheet(SCOPES_SHEET)
    scope_sheet.append(SCOPE_HEADERS)
    for scope in scopes:
        scope_sheet.append(list(scope))
    for sheet, headers in (
        (reports, REPORT_HEADERS),
        (targets, TARGET_HEADERS),
        (scope_sheet, SCOPE_HEADERS),
    ):
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
    if scopes:
        letter = get_column_letter(REPORT_HEADERS.index("scope") + 1)
        choose_scope = DataValidation(
            type="list",
            formula1=f"={SCOPES_SHEET}!$A$2:$A${len(scopes) + 1}",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="unknown scope",
            error=f"Pick one of the scopes on the {SCOPES_SHEET!r} sheet, or leave it empty "
            "(the headline figure).",
        )
        choose_scope.add(f"{letter}2:{letter}{_VALIDATED_ROWS}")
        reports.add_data_validation(choose_scope)
    workbook.save(path)
