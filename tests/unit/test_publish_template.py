"""`planwatch template`: the agency's targets read back with openpyxl, the CSV variant, and
a filled template read by `publish --file`."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from planwatch.publish_file import check_rows, parse_rows
from planwatch.sheets import COLUMNS, read_sheet
from planwatch.template import (
    REPORT_HEADERS,
    SCOPE_HEADERS,
    TARGET_HEADERS,
    TemplateError,
    write_template,
)
from planwatch.template_cli import template_app
from tests.unit.ingest_support import PLAN, catalog

NOW = datetime(2022, 4, 6, 12, 0, tzinfo=UTC)


def test_the_workbook_lists_the_targets_the_agency_leads_or_co_owns(tmp_path: Path) -> None:
    plan = catalog().plans[PLAN]
    path = tmp_path / "miit.xlsx"
    assert write_template(path, plan, "qy.hitech-zone") == [path]
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["reports", "targets", "scopes"]
    assert [c.value for c in workbook["reports"][1]] == list(REPORT_HEADERS)
    assert workbook["reports"].max_row == 1
    rows = list(workbook["targets"].iter_rows(values_only=True))
    assert rows[0] == TARGET_HEADERS
    by_id = {row[0]: dict(zip(TARGET_HEADERS, row, strict=True)) for row in rows[1:]}
    expected = {t for t in plan.targets if "qy.hitech-zone" in plan.responsible_for(t)}
    assert set(by_id) == expected
    assert {"industry.tencent-cloud-base", "industry.eit-rank"} <= expected
    assert "gov.mobile-services" not in expected
    assert by_id["industry.eit-rank"]["unit"] == "rank"
    tencent = plan.targets["industry.tencent-cloud-base"]
    line = by_id["industry.tencent-cloud-base"]
    assert line["role"] == "co-owner"
    assert line["unit"] == "stage" and line["kind"] == "milestone"
    assert line["comparator"] == ">="
    assert line["target value"] == tencent.stages[-1].id
    assert line["deadline"] == "no date in the plan"  # the clause sets none
    assert line["stages"] == ", ".join(stage.id for stage in tencent.stages)
    assert line["reports with"] == "stage"
    assert line["scope"] == "required"  # a co-owner sends only its county's or park's figure
    scopes = list(workbook["scopes"].iter_rows(values_only=True))
    assert scopes[0] == SCOPE_HEADERS
    assert [row[0] for row in scopes[1:]] == list(plan.breakdowns)
    validations = {
        str(v.sqref): v.formula1 for v in workbook["reports"].data_validations.dataValidation
    }
    assert validations["A2:A10001"].startswith("=targets!$A$2:$A$")
    assert validations["E2:E10001"] == f"=scopes!$A$2:$A${len(plan.breakdowns) + 1}"


def test_lead_share_targets_carry_unit_and_value(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_template(path, catalog().plans[PLAN], "qy.gov-data")
    rows = list(openpyxl.load_workbook(path)["targets"].iter_rows(values_only=True))
    mobile = next(
        dict(zip(TARGET_HEADERS, r, strict=True)) for r in rows if r[0] == "gov.mobile-services"
    )
    assert (mobile["role"], mobile["unit"], mobile["target value"], mobile["stages"]) == (
        "lead",
        "percent",
        80,
        None,
    )
    assert mobile["scope"] == "optional"  # the lead reports the headline figure


def test_a_lead_whose_target_names_other_reporters_needs_a_scope(tmp_path: Path) -> None:
    # agri.traceability: lead qy.commerce, its headline reported by qy.agriculture.
    path = tmp_path / "t.xlsx"
    write_template(path, catalog().plans[PLAN], "qy.commerce")
    rows = list(openpyxl.load_workbook(path)["targets"].iter_rows(values_only=True))
    line = next(
        dict(zip(TARGET_HEADERS, r, strict=True)) for r in rows if r[0] == "agri.traceability"
    )
    assert (line["role"], line["scope"]) == ("lead", "required")


def test_the_csv_variant_is_three_files(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    written = write_template(path, catalog().plans[PLAN], "qy.gov-data")
    assert written == [path, tmp_path / "t.targets.csv", tmp_path / "t.scopes.csv"]
    with path.open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == [list(REPORT_HEADERS)]
    with written[1].open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(TARGET_HEADERS)
    assert sorted(r[0] for r in rows[1:]) == [
        "gov.data-platform",
        "gov.mobile-services",
        "gov.online-services",
        "gov.smart-governance",
    ]
    assert read_sheet(path).rows == []  # the empty template reads as no report
    with written[2].open(encoding="utf-8-sig", newline="") as handle:
        scopes = list(csv.reader(handle))
    assert scopes[0] == list(SCOPE_HEADERS)
    assert ["county.yingde", "county", "英德市", "Yingde City"] in scopes


def test_an_unknown_agency_or_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"no agency 'qy\.nobody'"):
        write_template(tmp_path / "t.xlsx", catalog().plans[PLAN], "qy.nobody")
    with pytest.raises(TemplateError, match=r"writes a \.xlsx or \.csv file"):
        write_template(tmp_path / "t.ods", catalog().plans[PLAN], "qy.gov-data")


def test_the_template_headers_are_the_columns_publish_reads() -> None:
    assert REPORT_HEADERS == COLUMNS


def test_a_filled_template_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    write_template(path, catalog().plans[PLAN], "qy.gov-data")
    workbook = openpyxl.load_workbook(path)
    reports = workbook["reports"]
    reports.append(
        ["gov.mobile-services", "2022-03-31", 72.5, None, None, "掌上办 Q1", "https://x.cn/q1"]
    )
    reports.append(["gov.data-platform", "2022-03-31", None, "planned"])
    reports.append(["gov.online-services", datetime(2022, 3, 31), 65])
    reports.append(["gov.online-services", "2022-03-31", 61, None, "county.qingxin"])
    workbook.save(path)

    reports_read, errors = parse_rows(read_sheet(path))
    assert errors == []
    ready, more = check_rows(
        reports_read,
        agency="qy.gov-data",
        plan=catalog().plans[PLAN],
        catalog=catalog(),
        times={},
        default_time="2022-04-06T09:30:00+08:00",
        now=NOW,
    )
    assert more == []
    assert [
        (r.row, r.event.data.target, r.event.data.value, r.event.data.stage, r.event.data.scope)
        for r in ready
    ] == [
        (2, "gov.mobile-services", 72.5, None, None),
        (3, "gov.data-platform", None, "planned", None),
        (4, "gov.online-services", 65.0, None, None),
        (5, "gov.online-services", 61.0, None, "county.qingxin"),
    ]
    assert ready[0].event.data.note == "掌上办 Q1"


def test_the_command_writes_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(template_app, ["--agency", "qy.gov-data"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "qy.gov-data.reports.xlsx"
    assert (tmp_path / "qy.gov-data.reports.xlsx").exists()
    refused = CliRunner().invoke(template_app, ["--agency", "qy.nobody"])
    assert refused.exit_code == 2
