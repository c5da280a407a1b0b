"""`planwatch score`: offline scoring of a JSONL file of structured CloudEvents."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planwatch import cli
from planwatch.score_cli import score_app
from shared.catalog import DEFAULT_CATALOG_DIR
from shared.contract.codec import encode_structured
from shared.contract.events import new_report, new_retraction, new_tick

PLAN = "qingyuan-digital-economy-2021"
MOBILE = "gov.mobile-services"
runner = CliRunner()


def report(event_id: str, as_of: date, value: float, time: str, agency: str = "qy.gov-data") -> str:
    event = new_report(
        agency=agency,
        plan=PLAN,
        target=MOBILE,
        as_of=as_of,
        value=value,
        time=time,
        event_id=event_id,
    )
    return encode_structured(event).decode()


GOOD = [
    report("e1", date(2021, 6, 30), 45, "2021-07-05T10:00:00+08:00"),
    report("e2", date(2021, 12, 31), 58, "2022-01-06T10:00:00+08:00"),
    report("e3", date(2022, 6, 30), 66, "2022-07-04T10:00:00+08:00"),
]


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_json_output_is_the_worked_example(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    result = runner.invoke(score_app, ["--events", str(path), "--at", "2022-07-04"])
    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)
    assert (state["method"], state["plan"], state["at"]) == ("v1.1", PLAN, "2022-07-04")
    mobile = state["targets"][MOBILE]
    assert mobile["status"] == "AT_RISK"
    assert round(mobile["score"], 3) == 2.161
    assert round(mobile["pace_ratio"], 4) == 0.9025
    assert {"rule": "status_degraded", "target": MOBILE, "severity": "warning"}.items() <= next(
        a for a in state["alerts"] if a["target"] == MOBILE and a["rule"] == "status_degraded"
    ).items()
    # Every other target of the shipped plan has no data.
    assert all(t["status"] == "NO_DATA" for tid, t in state["targets"].items() if tid != MOBILE)


def test_the_day_is_the_end_of_that_day(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    before = runner.invoke(score_app, ["--events", str(path), "--at", "2022-07-03"])
    assert json.loads(before.stdout)["targets"][MOBILE]["status"] == "ON_TRACK"


def test_bad_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    retraction = new_retraction(
        agency="qy.gov-data",
        plan=PLAN,
        target=MOBILE,
        as_of=date(2022, 6, 30),
        reason="wrong count",
        time="2022-07-10T09:00:00+08:00",
        event_id="e4",
    )
    unknown_target = GOOD[0].replace(MOBILE, "gov.no-such-target").replace('"e1"', '"e5"')
    lines = [
        *GOOD,
        "",  # blank: ignored
        "{not json",
        encode_structured(retraction).decode(),
        encode_structured(new_tick(at="2022-07-10T00:00:00+08:00")).decode(),
        unknown_target,
        report("e6", date(2022, 3, 31), 60, "2022-04-02T10:00:00+08:00", agency="qy.education"),
        GOOD[0],  # the same event again: a duplicate, not an error
        report("e1", date(2021, 6, 30), 46, "2021-07-05T10:00:00+08:00"),  # id reused
    ]
    path = write(tmp_path, lines)
    result = runner.invoke(score_app, ["--events", str(path), "--at", "2022-07-10"])
    assert result.exit_code == 0, result.output
    errors = result.stderr.splitlines()
    assert errors[0].startswith("line 5: malformed:")
    assert errors[1].startswith("line 8: ")
    assert "gov.no-such-target" in errors[1]
    assert errors[2].startswith("line 9: not_responsible:")
    assert errors[3].startswith("line 11: conflict:")
    assert errors[4] == "4 bad line(s) skipped"
    mobile = json.loads(result.stdout)["targets"][MOBILE]
    # The retraction removed 2022-06-30: the current point is 58 again.
    assert mobile["current"]["value"] == 58
    assert mobile["current"]["as_of"] == "2021-12-31"


def test_ids_are_unique_per_agency_not_across_agencies(tmp_path: Path) -> None:
    # CloudEvents ids are unique per source (ingest keys reports by agency and id): the
    # co-owner's scoped figure may reuse the lead's id "e2" without a conflict.
    scoped = new_report(
        agency="qy.gov-units",
        plan=PLAN,
        target=MOBILE,
        as_of=date(2021, 12, 31),
        value=61,
        time="2022-01-07T10:00:00+08:00",
        scope="county.yingde",
        event_id="e2",
    )
    path = write(tmp_path, [*GOOD, encode_structured(scoped).decode()])
    result = runner.invoke(score_app, ["--events", str(path), "--at", "2022-07-04"])
    assert result.exit_code == 0 and not result.stderr, result.output
    state = json.loads(result.stdout)
    assert round(state["targets"][MOBILE]["score"], 3) == 2.161  # the lead's headline alone
    assert state["breakdowns"][MOBILE]["county.yingde"]["value"] == 61


def test_strict_makes_a_bad_line_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, [*GOOD, "[]"])
    result = runner.invoke(score_app, ["--events", str(path), "--at", "2022-07-04", "--strict"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "line 4: malformed" in result.stderr
    ok = write(tmp_path, GOOD)
    assert (
        runner.invoke(score_app, ["--events", str(ok), "--at", "2022-07-04", "--strict"]).exit_code
        == 0
    )


def test_a_file_of_bad_lines_only_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, ["{not json", "[]"])
    result = runner.invoke(score_app, ["--events", str(path), "--at", "2022-07-04"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"{path}: every line is bad; nothing to score"


@pytest.mark.parametrize(
    ("lang", "words"), [("en", ["AT_RISK", "Targets"]), ("zh", ["存在风险", "指标"])]
)
def test_table_output_in_either_language(tmp_path: Path, lang: str, words: list[str]) -> None:
    path = write(tmp_path, GOOD)
    result = runner.invoke(
        score_app,
        ["--events", str(path), "--at", "2022-07-04", "--format", "table", "--lang", lang],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    for word in words:
        assert word in result.stdout
    assert "status_degraded" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour codes when the output is not a terminal


def test_explicit_plan_and_catalog_and_usage_errors(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    base = ["--events", str(path), "--at", "2022-07-04"]
    ok = runner.invoke(score_app, [*base, "--plan", PLAN, "--catalog", str(DEFAULT_CATALOG_DIR)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["plan"] == PLAN
    assert runner.invoke(score_app, [*base, "--plan", "no-such-plan"]).exit_code == 2
    empty = tmp_path / "empty-catalog"
    empty.mkdir()
    no_catalog = runner.invoke(score_app, [*base, "--catalog", str(empty)])
    assert no_catalog.exit_code == 2
    assert "no *.yaml plan files" in no_catalog.stderr
    bad_day = runner.invoke(score_app, ["--events", str(path), "--at", "2022-13-01"])
    assert bad_day.exit_code == 2


def test_registered_in_the_root_cli() -> None:
    assert ("planwatch.score_cli", "score_app", None) in cli._COMMAND_MODULES
