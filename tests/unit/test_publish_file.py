"""`publish --file` without sending: reading CSV and xlsx sheets, row checks with row numbers,
deterministic ids, the ledger of report times."""

from __future__ import annotations

import json
import re
import uuid
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from planwatch import sheets
from planwatch.publish_cli import publish_app
from planwatch.publish_file import (
    REPEATED,
    RowReport,
    check_rows,
    parse_rows,
    row_event_id,
)
from planwatch.sent_ledger import note_times, read_times
from planwatch.sheets import SheetError, read_sheet
from shared.contract.keys import private_key_pem
from tests.unit.ingest_support import PLAN, catalog, private_key

AGENCY = "qy.gov-data"
NOW = datetime(2022, 4, 6, 12, 0, tzinfo=UTC)
TIME = "2022-04-06T09:30:00+08:00"


def write_csv(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def write_xlsx(path: Path, rows: list[list[object]], *, title: str = "reports") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def check(path: Path, agency: str = AGENCY) -> tuple[list[int], list[tuple[int, str]]]:
    """(rows that pass, (row, reason) of every error)."""
    reports, errors = parse_rows(read_sheet(path))
    plan = catalog().plans[PLAN]
    ready, more = check_rows(
        reports,
        agency=agency,
        plan=plan,
        catalog=catalog(),
        times={},
        default_time=TIME,
        now=NOW,
    )
    found = sorted((e.row, e.reason) for e in errors + more)
    return [r.row for r in ready], found


# --- reading ----------------------------------------------------------------------------------


def test_csv_rows_are_numbered_as_the_sheet_shows_them(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "r.csv",
        " Target ,AS_OF,value,stage,note,evidence\r\n"
        "gov.mobile-services,2022-03-31,72.5,,掌上办 Q1,https://example.gov.cn/q1\r\n"
        ",,,,,\r\n"
        "\r\n"
        'gov.data-platform,2022-03-31,,planned,"a note, with a comma",\r\n',
        bom=True,
    )
    sheet = read_sheet(path)
    assert sheet.columns == ("target", "as_of", "value", "stage", "note", "evidence")
    assert [row.number for row in sheet.rows] == [2, 5]
    reports, errors = parse_rows(sheet)
    assert errors == []
    assert reports == [
        RowReport(
            2,
            "gov.mobile-services",
            date(2022, 3, 31),
            value=72.5,
            note="掌上办 Q1",
            evidence="https://example.gov.cn/q1",
        ),
        RowReport(
            5, "gov.data-platform", date(2022, 3, 31), stage="planned", note="a note, with a comma"
        ),
    ]


@pytest.mark.parametrize(
    ("header", "complaint"),
    [
        ("target,as_of,vaule", "unknown column(s) 'vaule'"),
        ("target,value", "lacks the column(s) as_of"),
        ("target,as_of,note", "needs a `value` column, a `stage` column, or both"),
        ("target,as_of,value,Value", "value appear more than once"),
        (",,", "row 1 must hold the column names"),
    ],
)
def test_a_bad_header_refuses_the_whole_file(tmp_path: Path, header: str, complaint: str) -> None:
    path = write_csv(tmp_path / "r.csv", header + "\ngov.mobile-services,2022-03-31,1\n")
    with pytest.raises(SheetError, match=re.escape(complaint)):
        read_sheet(path)


def test_files_over_the_limits_are_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "r.csv", "target,as_of,value\n" + "gov.x,2022-03-31,1\n" * 5)
    monkeypatch.setattr(sheets, "MAX_ROWS", 4)
    with pytest.raises(SheetError, match="more than 4 reports"):
        read_sheet(path)
    monkeypatch.setattr(sheets, "MAX_FILE_BYTES", 50)
    with pytest.raises(SheetError, match=r"the limit is 0 MiB"):
        read_sheet(path)
    with pytest.raises(SheetError, match=r"takes a \.csv or \.xlsx file"):
        read_sheet(write_csv(tmp_path / "r.txt", "x"))


def test_a_csv_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_bytes("target,as_of,value\n清远,2022-03-31,1\n".encode("gb18030"))
    with pytest.raises(SheetError, match="save it as CSV UTF-8"):
        read_sheet(tmp_path / "bad.csv")


def test_xlsx_cells_dates_numbers_and_the_reports_sheet(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    other = workbook.active
    assert other is not None
    other.title = "notes"
    other.append(["not", "read"])
    reports = workbook.create_sheet("Reports")
    reports.append(["target", "as_of", "value", "stage"])
    reports.append(["gov.mobile-services", datetime(2022, 3, 31), 72, None])
    reports.append([None, None, None, None])
    reports.append(["gov.data-platform", "2022-03-31", None, "planned"])
    reports.append(["gov.online-services", date(2022, 3, 31), 0.5, None])
    reports.cell(row=5, column=3).number_format = "0.0%"
    path = tmp_path / "r.xlsx"
    workbook.save(path)

    sheet = read_sheet(path)
    assert [row.number for row in sheet.rows] == [2, 4, 5]
    reports_parsed, errors = parse_rows(sheet)
    assert [(r.row, r.target, r.as_of, r.value, r.stage) for r in reports_parsed] == [
        (2, "gov.mobile-services", date(2022, 3, 31), 72.0, None),
        (4, "gov.data-platform", date(2022, 3, 31), None, "planned"),
    ]
    [percent] = errors
    assert percent.row == 5 and "formatted as a percentage" in percent.message


def test_a_workbook_with_several_sheets_and_none_named_reports_is_refused(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.create_sheet("more")
    workbook.save(tmp_path / "r.xlsx")
    with pytest.raises(SheetError, match="none is named 'reports'"):
        read_sheet(tmp_path / "r.xlsx")


def test_a_workbook_that_unpacks_too_large_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_xlsx(tmp_path / "r.xlsx", [["target", "as_of", "value"]])
    monkeypatch.setattr(sheets, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(SheetError, match="unpacks to"):
        read_sheet(path)
    (tmp_path / "fake.xlsx").write_bytes(b"not a zip")
    with pytest.raises(SheetError, match="not an Excel workbook"):
        read_sheet(tmp_path / "fake.xlsx")
    with zipfile.ZipFile(tmp_path / "empty.xlsx", "w") as archive:
        archive.writestr("hello.txt", "hi")
    monkeypatch.setattr(sheets, "MAX_UNPACKED_BYTES", 10**6)
    with pytest.raises(SheetError, match="not a readable Excel workbook"):
        read_sheet(tmp_path / "empty.xlsx")


# --- checking rows ----------------------------------------------------------------------------


def test_every_error_is_listed_with_its_row_and_reason(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "r.xlsx",
        [
            ["target", "as_of", "value", "stage", "scope", "note", "evidence"],
            ["gov.mobile-services", "2022-03-31", 72.5],  # 2 ok
            ["gov.mobile-services", "2022-03-31", 73],  # 3 repeated (target, day)
            ["gov.nothing", "2022-03-31", 5],  # 4 unknown target
            ["gov.mobile-services", "2022-02-28", 170],  # 5 out of range
            ["gov.data-platform", "2022-03-31", None, "nope"],  # 6 unknown stage
            ["gov.data-platform", "2022-02-28", 3],  # 7 a value for a milestone
            ["gov.mobile-services", "31/01/2022", "7,5"],  # 8 two cell errors
            ["gov.mobile-services", "2022-01-31", 60, None, "qingcheng"],  # 9 unknown scope
            ["gov.mobile-services", "2022-04-30", 60],  # 10 as_of after the report's day
            ["infra.5g-coverage", "2022-03-31", 100],  # 11 not responsible
            ["gov.online-services", "2022-03-31", 60, None, None, None, "ftp://x"],  # 12 url
            ["gov.online-services", "2022-02-28", 60, "planned"],  # 13 value and stage
            [None, "2022-03-31", 1],  # 14 no target
            ["gov.data-platform", "2022-01-31", None, "planned"],  # 15 ok
            ["gov.mobile-services", "2022-03-31", 70, None, "county.yingde"],  # 16 ok: scoped
            ["gov.mobile-services", "2022-03-31", 71, None, "county.yingde"],  # 17 repeated
        ],
    )
    ready, errors = check(path)
    assert ready == [2, 15, 16]
    assert errors == [
        (3, REPEATED),
        (4, "unknown_target"),
        (5, "value_out_of_range"),
        (6, "value_out_of_range"),
        (7, "unit_mismatch"),
        (8, "malformed"),
        (8, "malformed"),
        (9, "unknown_scope"),
        (10, "as_of_out_of_range"),
        (11, "not_responsible"),
        (12, "malformed"),
        (13, "malformed"),
        (14, "malformed"),
        (17, REPEATED),
    ]


def test_scope_is_checked_as_ingest_checks_it(tmp_path: Path) -> None:
    # carriers (china-mobile a member) co-own infra.5g-coverage; qy.miit reports its headline.
    path = write_csv(
        tmp_path / "r.csv",
        "target,as_of,value,scope\n"
        "infra.5g-coverage,2022-03-31,40,county.yingde\n"  # 2 a county's figure: ok
        "infra.5g-coverage,2022-03-31,41,\n"  # 3 the headline: not this agency's
        "infra.5g-coverage,2022-03-31,42,county.atlantis\n",  # 4 no such breakdown unit
    )
    ready, errors = check(path, agency="carrier.china-mobile")
    assert ready == [2]
    assert errors == [(3, "not_reporter"), (4, "unknown_scope")]
    reports, _ = parse_rows(read_sheet(path))
    [scoped], _ = check_rows(
        reports[:1],
        agency="carrier.china-mobile",
        plan=catalog().plans[PLAN],
        catalog=catalog(),
        times={},
        default_time=TIME,
        now=NOW,
    )
    assert scoped.event.data.scope == "county.yingde"
    assert scoped.event.id == row_event_id("carrier.china-mobile", PLAN, reports[0])


def test_a_value_under_an_unnamed_column_is_an_error(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "r.csv", "target,as_of,value,\ngov.mobile-services,2022-03-31,1,x\n"
    )
    _, errors = parse_rows(read_sheet(path))
    assert [(e.row, e.message) for e in errors] == [
        (2, "column 4 has a value but no column name in row 1")
    ]


# --- ids and times ----------------------------------------------------------------------------


def test_event_ids_are_uuid5_of_the_rows_content() -> None:
    base = RowReport(2, "gov.mobile-services", date(2022, 3, 31), value=72.5, note="q1")
    first = row_event_id(AGENCY, PLAN, base)
    assert uuid.UUID(first).version == 5
    assert row_event_id(AGENCY, PLAN, base) == first
    moved = RowReport(9, "gov.mobile-services", date(2022, 3, 31), value=72.50, note="q1")
    assert row_event_id(AGENCY, PLAN, moved) == first  # the row number is not content
    for other in (
        RowReport(2, "gov.mobile-services", date(2022, 3, 31), value=72.6, note="q1"),
        RowReport(2, "gov.mobile-services", date(2022, 3, 30), value=72.5, note="q1"),
        RowReport(2, "gov.mobile-services", date(2022, 3, 31), value=72.5),
        RowReport(2, "gov.mobile-services", date(2022, 3, 31), value=72.5, note="q1", scope="x"),
        RowReport(2, "gov.mobile-services", date(2022, 3, 31), stage="72.5", note="q1"),
    ):
        assert row_event_id(AGENCY, PLAN, other) != first
    assert row_event_id("qy.miit", PLAN, base) != first
    assert row_event_id(AGENCY, "another-plan", base) != first


def test_a_row_already_sent_keeps_its_first_report_time(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "r.csv",
        "target,as_of,value\ngov.mobile-services,2022-03-31,72.5\ngov.online-services,2022-03-31,60\n",
    )
    reports, _ = parse_rows(read_sheet(path))
    first_id = row_event_id(AGENCY, PLAN, reports[0])
    ledger = tmp_path / "state" / "sent.jsonl"
    assert read_times(ledger, {first_id}) == {}
    assert note_times(ledger, {first_id: "2022-04-01T10:00:00+08:00"}) == 1
    with ledger.open("a") as handle:
        handle.write('{"id": "cut sho')  # a line a crash cut short is ignored
    assert note_times(ledger, {first_id: TIME}, known=[first_id]) == 0
    times = read_times(ledger, {first_id, "other"})
    assert times == {first_id: "2022-04-01T10:00:00+08:00"}
    ready, errors = check_rows(
        reports,
        agency=AGENCY,
        plan=catalog().plans[PLAN],
        catalog=catalog(),
        times=times,
        default_time=TIME,
        now=NOW,
    )
    assert errors == []
    assert [r.event.envelope.time for r in ready] == ["2022-04-01T10:00:00+08:00", TIME]
    assert [r.event.id for r in ready] == [first_id, row_event_id(AGENCY, PLAN, reports[1])]


def test_a_value_right_of_the_header_in_a_workbook_is_an_error(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "r.xlsx",
        [["target", "as_of", "value"], ["gov.mobile-services", "2022-03-31", 1, None, "stray"]],
    )
    _, errors = parse_rows(read_sheet(path))
    assert [(e.row, e.message) for e in errors] == [
        (2, "column 5 has a value but no column name in row 1")
    ]


def test_the_command_lists_the_errors_and_sends_nothing(tmp_path: Path) -> None:
    sheet = write_csv(
        tmp_path / "r.csv",
        "target,as_of,value\ngov.mobile-services,2022-03-31,72.5\ngov.nothing,2022-03-31,1\n",
    )
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(private_key_pem(private_key(AGENCY)))
    ledger = tmp_path / "sent.jsonl"
    args = ["--agency", AGENCY, "--key-id", "k1", "--key-file", str(key_file), "--json"]
    args += ["--file", str(sheet), "--ledger", str(ledger), "--via", "http"]
    args += ["--url", "http://127.0.0.1:9/never-called", "--lang", "en"]
    result = CliRunner().invoke(publish_app, args)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [
        {
            "row": 3,
            "status": "invalid",
            "target": "gov.nothing",
            "as_of": "2022-03-31",
            "reason": "unknown_target",
            "message": (
                "plan 'qingyuan-digital-economy-2021' has no target 'gov.nothing' "
                "(nor deliverable or indicator)"
            ),
        },
        {"totals": {"invalid": 1}},
    ]
    assert "nothing was sent" in result.stderr
    assert not ledger.exists()
    refused = CliRunner().invoke(publish_app, [*args, "--value", "3"])
    assert refused.exit_code == 2 and "--value" in refused.output
