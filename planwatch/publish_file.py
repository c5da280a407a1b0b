"""The rows of a reports sheet as progress reports: parsed, given ids, checked, nothing sent.

Each row becomes one `progress.reported.v1` event of the sending agency. Its id is a UUIDv5 of
the row's content (agency, plan, target, as_of, value or stage, scope, note, evidence), so the
same row always gets the same id and sending a file again is answered `duplicate`. Its checks
are the contract's (`shared.contract.events.new_report`) and ingest's catalog checks
(`shared.contract.catalog_checks`, with the sender's checks of method v1.1: a `scope` must be a
breakdown unit of the plan, and a row without one must come from a headline reporter of its
target), run before anything is sent. A row's errors are collected, never raised: every error
of the file is listed with its row number.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from pydantic import ValidationError

from planwatch.messages import MessageError, Msg, msg
from planwatch.sheets import CellValue, Sheet, SheetRow
from shared.contract import jcs
from shared.contract.catalog_checks import DEFAULT_CLOCK_SKEW, check_against_catalog
from shared.contract.events import ProgressReported, new_report
from shared.contract.reasons import ContractError, Reason
from shared.domain.catalog import Catalog, Plan

#: The namespace of the UUIDv5 ids of sheet rows (itself a UUIDv5 of a planwatch URN).
ROW_ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:planwatch:publish-file:row")

# A plain decimal number (no thousands separators: "72,5" means 72.5 in some locales).
_NUMBER_RE: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

# The reason of a row error that is not ingest's.
REPEATED: Final = "repeated"


@dataclass(frozen=True, slots=True)
class RowReport:
    """One row's cells, typed."""

    row: int
    target: str
    as_of: date
    value: float | None = None
    stage: str | None = None
    scope: str | None = None  # a breakdown unit id of the plan (method v1.1); None: the headline
    note: str | None = None
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    reason: str  # a `Reason` value, or REPEATED
    message: str
    target: str | None = None
    as_of: str | None = None  # as the sheet has it
    # The message in the catalog (planwatch.messages), for the errors of this module; the
    # contract's and ingest's are English only (`message`), and their `reason` says the rest.
    text: Msg | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}: {self.message}"


@dataclass(frozen=True, slots=True)
class ReadyRow:
    """A row that passed every check: its event, unsigned."""

    row: int
    event: ProgressReported


class _CellError(MessageError):
    pass


# --- cells ------------------------------------------------------------------------------------


def _text(cells: Mapping[str, CellValue], name: str) -> str | None:
    value = cells.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise _CellError("cell.not_text", column=name, value=value)
    if isinstance(value, float | int):
        return str(int(value))  # a stage or note typed as a number
    if not isinstance(value, str):
        raise _CellError("cell.not_text", column=name, value=value)
    return value


def _day(cells: Mapping[str, CellValue]) -> date:
    value = cells.get("as_of")
    if value is None:
        raise _CellError("cell.as_of_empty")
    if isinstance(value, datetime):  # a date cell of a workbook
        if value.time() != datetime.min.time() or value.tzinfo is not None:
            raise _CellError("cell.as_of_time", value=value.isoformat())
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise _CellError("cell.as_of_form", value=value)
    raise _CellError("cell.as_of_not_date", value=value)


def _number(row: SheetRow) -> float | None:
    value = row.cells.get("value")
    if value is None:
        return None
    if "value" in row.percent:
        raise _CellError("cell.percent_format")
    if isinstance(value, bool):
        raise _CellError("cell.not_number", value=value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        if not _NUMBER_RE.fullmatch(value):
            percent = "%" in value
            raise _CellError(
                "cell.not_decimal_percent" if percent else "cell.not_decimal", value=value
            )
        number = float(value)
    else:
        raise _CellError("cell.not_number", value=value)
    if not math.isfinite(number):
        raise _CellError("cell.not_finite", value=value)
    return number


def parse_row(row: SheetRow) -> RowReport | list[RowError]:
    """The row's report, or every error of its cells."""
    target_cell, as_of_cell = row.cells.get("target"), row.cells.get("as_of")
    target_hint = None if target_cell is None else str(target_cell)
    as_of_hint = None if as_of_cell is None else str(as_of_cell)
    errors: list[RowError] = []

    def fail(reason: str, text: Msg) -> None:
        errors.append(RowError(row.number, reason, str(text), target_hint, as_of_hint, text))

    if row.unnamed is not None:
        fail(Reason.MALFORMED.value, msg("cell.unnamed", column=row.unnamed))
    parsed: dict[str, object] = {}
    for name, reader in (
        ("target", lambda: _text(row.cells, "target")),
        ("as_of", lambda: _day(row.cells)),
        ("value", lambda: _number(row)),
        ("stage", lambda: _text(row.cells, "stage")),
        ("scope", lambda: _text(row.cells, "scope")),
        ("note", lambda: _text(row.cells, "note")),
        ("evidence", lambda: _text(row.cells, "evidence")),
    ):
        try:
            parsed[name] = reader()
        except _CellError as exc:
            fail(Reason.MALFORMED.value, exc.text)
    if "target" in parsed and parsed["target"] is None:
        fail(Reason.MALFORMED.value, msg("cell.target_empty"))
    if errors:
        return errors
    return RowReport(
        row=row.number,
        target=str(parsed["target"]),
        as_of=_as_date(parsed["as_of"]),
        value=_as_float(parsed["value"]),
        stage=_as_text(parsed["stage"]),
        scope=_as_text(parsed["scope"]),
        note=_as_text(parsed["note"]),
        evidence=_as_text(parsed["evidence"]),
    )


def _as_date(value: object) -> date:
    assert isinstance(value, date)
    return value


def _as_float(value: object) -> float | None:
    assert value is None or isinstance(value, float)
    return value


def _as_text(value: object) -> str | None:
    assert value is None or isinstance(value, str)
    return value


def parse_rows(sheet: Sheet) -> tuple[list[RowReport], list[RowError]]:
    """Every row's report, and every error; a (target, scope, as_of) repeated in the file is one."""
    reports: list[RowReport] = []
    errors: list[RowError] = []
    first_row: dict[tuple[str, str | None, date], int] = {}
    for row in sheet.rows:
        parsed = parse_row(row)
        if isinstance(parsed, list):
            errors.extend(parsed)
            continue
        key = (parsed.target, parsed.scope, parsed.as_of)
        earlier = first_row.setdefault(key, parsed.row)
        if earlier != parsed.row:
            as_of = parsed.as_of.isoformat()
            text = (
                msg("row.repeated", target=parsed.target, as_of=as_of, earlier=earlier)
                if parsed.scope is None
                else msg(
                    "row.repeated_scoped",
                    target=parsed.target,
                    scope=parsed.scope,
                    as_of=as_of,
                    earlier=earlier,
                )
            )
            errors.append(RowError(parsed.row, REPEATED, str(text), parsed.target, as_of, text))
            continue
        reports.append(parsed)
    return reports, errors


# --- ids and checks ---------------------------------------------------------------------------


def row_event_id(agency: str, plan: str, report: RowReport) -> str:
    """The row's event id: a UUIDv5 of its content, so a row sent again keeps its id.

    The content is RFC 8785 JSON (absent cells omitted, numbers in their shortest form), so
    72.5 and 72.50 are one value and a column added later, empty, changes no id.
    """
    content: dict[str, object] = {
        "agency": agency,
        "plan": plan,
        "target": report.target,
        "as_of": report.as_of.isoformat(),
    }
    optional = {
        "value": report.value,
        "stage": report.stage,
        "scope": report.scope,
        "note": report.note,
        "evidence": report.evidence,
    }
    content.update((name, given) for name, given in optional.items() if given is not None)
    return str(uuid.uuid5(ROW_ID_NAMESPACE, jcs.canonicalize(content).decode("utf-8")))


def validation_message(exc: ValidationError) -> str:
    """A pydantic error in one line: `field: what is wrong; …`."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def check_rows(
    reports: Sequence[RowReport],
    *,
    agency: str,
    plan: Plan,
    catalog: Catalog,
    times: Mapping[str, str],
    default_time: str,
    now: datetime,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> tuple[list[ReadyRow], list[RowError]]:
    """Each report as an unsigned event, checked as ingest checks it (but for the signature).

    `times`: event id -> the report time it was first sent with (planwatch.sent_ledger);
    other rows get `default_time`. `now` stands for ingest's intake instant.
    """
    ready: list[ReadyRow] = []
    errors: list[RowError] = []
    for report in reports:
        event_id = row_event_id(agency, plan.id, report)
        try:
            event = new_report(
                agency=agency,
                plan=plan.id,
                target=report.target,
                as_of=report.as_of,
                time=times.get(event_id, default_time),
                value=report.value,
                stage=report.stage,
                scope=report.scope,
                note=report.note,
                evidence=report.evidence,
                event_id=event_id,
            )
            check_against_catalog(event, catalog, now, clock_skew)
        except (ValidationError, ContractError) as exc:
            if isinstance(exc, ContractError):
                reason, message = exc.reason.value, exc.message
            else:
                reason, message = Reason.MALFORMED.value, validation_message(exc)
            as_of = report.as_of.isoformat()
            errors.append(RowError(report.row, reason, message, report.target, as_of))
            continue
        ready.append(ReadyRow(report.row, event))
    return ready, errors
