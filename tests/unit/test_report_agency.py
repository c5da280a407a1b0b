"""`planwatch report --agency ID`: one agency's report, in Chinese and English, whose scorecard,
targets and alerts are `planwatch score`'s for the same events and day (its agency roll-up,
method v1.1); the open-problems hook; the schedule's days; `--send-to` through notify."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from planwatch.events_file import read_events
from planwatch.report.agency import agency_report
from planwatch.report.agency_render import render_agency_report
from planwatch.report.model import build_report
from planwatch.report_cli import period_start, report_app, report_day
from planwatch.report_send import ReportMail, ReportSendError, send_report
from planwatch.score_cli import score_app
from planwatch.simulate.feed import write_jsonl
from planwatch.simulate.scenario import build_scenario
from shared.catalog import load_catalog
from shared.domain.method_v1 import Status
from shared.vocabulary import STATUS_LABEL, Lang
from tests.unit.test_report_html import DAY, FEED, PLAN, json_block, score_json, tags

runner = CliRunner()
CATALOG = load_catalog()


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(FEED) + "\n", encoding="utf-8")
    return path


def agency_html(events: Path, out: Path, agency: str, *args: str) -> str:
    result = runner.invoke(
        report_app,
        ["--events", str(events), "--at", DAY, "--agency", agency, "--out", str(out), *args],
    )
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def expected_part(state: dict[str, Any], agency: str, targets: set[str]) -> dict[str, Any]:
    return {
        "scorecard": state["agencies"][agency],
        "targets": {t: state["targets"][t] for t in sorted(targets)},
        "alerts": [a for a in state["alerts"] if a["target"] in targets],
    }


def responsible(agency: str) -> tuple[set[str], set[str]]:
    plan = CATALOG.plans[PLAN]
    led = {t for t, target in plan.targets.items() if target.lead == agency}
    co = {t for t in plan.targets if t not in led and agency in plan.co_owners(t)}
    return led, co


@pytest.mark.parametrize("agency", ["qy.miit", "qy.gov-data", "qy.drc"])
def test_the_agency_report_is_planwatch_score_s_agency_roll_up(
    events: Path, tmp_path: Path, agency: str
) -> None:
    state = score_json(events)
    html = agency_html(events, tmp_path / "a.html", agency)
    part = json_block(html, "planwatch-agency")
    led, co = responsible(agency)
    assert (part["agency"], part["at"], part["plan"]) == (agency, DAY, PLAN)
    assert (set(part["led"]), set(part["co"])) == (led, co)
    assert {k: part[k] for k in ("scorecard", "targets", "alerts")} == expected_part(
        state, agency, led | co
    )
    assert sum(state["agencies"][agency]["lead"]["counts"].values()) == len(led)
    # What is drawn is what the JSON says: the scorecard, each target's row, each alert.
    attributes = {a.get("id"): a for _, a in tags(html) if a.get("id")}
    lead = state["agencies"][agency]["lead"]
    assert attributes["agency-lead"]["data-status"] == (lead["status"] or "")
    assert attributes["agency-lead"]["data-targets"] == str(len(led))
    score = attributes["agency-lead"]["data-score"]
    assert (float(score) if score else None) == lead["score"]
    assert attributes["agency-co"]["data-status"] == (
        state["agencies"][agency]["co"]["status"] or ""
    )
    assert attributes["agency-stale"]["data-stale"] == str(state["agencies"][agency]["stale"])
    rows = {a["data-target"]: a for t, a in tags(html) if t == "tr" and a.get("data-status")}
    assert set(rows) == led | co
    for target_id, row in rows.items():
        assert row["data-status"] == state["targets"][target_id]["status"]
    cards = {a["data-target"] for t, a in tags(html) if t == "section" and "data-target" in a}
    assert cards == led | co
    firing = {(a["data-target"], a["data-rule"]) for t, a in tags(html) if t == "tr" and
              a.get("data-rule") and "data-kind" not in a}  # fmt: skip
    assert firing == {
        (a["target"], a["rule"]) for a in expected_part(state, agency, led | co)["alerts"]
    }
    # The command gives the file's problems (this file has none): an empty section.
    assert 'id="problems"' in html and 'id="no-open-problems"' in html


def test_every_agency_of_the_demo_feed_at_several_days(tmp_path: Path) -> None:
    """The simulator's realistic feed: every agency's scorecard equals `planwatch score`'s."""
    plan = CATALOG.plans[PLAN]
    feed = tmp_path / "demo.jsonl"
    write_jsonl(feed, build_scenario(plan, 3))
    observations = read_events(feed.read_bytes().splitlines(), CATALOG, plan).observations
    seen_scored = False
    for day in ("2021-12-31", "2022-09-30"):
        scored = runner.invoke(score_app, ["--events", str(feed), "--at", day])
        state = json.loads(scored.stdout)
        data = build_report(plan, observations, date.fromisoformat(day))
        for agency in state["agencies"]:
            report = agency_report(data, agency)
            part = report.agency_json()
            mine = set(report.targets)
            assert {k: part[k] for k in ("scorecard", "targets", "alerts")} == expected_part(
                state, agency, mine
            ), (day, agency)
            seen_scored |= part["scorecard"]["lead"]["score"] is not None
            html = render_agency_report(report, Lang.EN)
            assert json_block(html, "planwatch-agency") == json.loads(json.dumps(part))
    assert seen_scored


def test_zh_and_en(events: Path, tmp_path: Path) -> None:
    zh = agency_html(events, tmp_path / "zh.html", "qy.miit")
    en = agency_html(events, tmp_path / "en.html", "qy.miit", "--lang", "en")
    assert '<html lang="zh-CN">' in zh and '<html lang="en">' in en
    assert "牵头指标" in zh and "Targets it leads" in en
    assert "责任单位进度报告" in zh and "Agency progress report" in en
    status = Status(json_block(zh, "planwatch-agency")["targets"]["industry.eit-rank"]["status"])
    assert STATUS_LABEL[Lang.ZH][status] in zh and STATUS_LABEL[Lang.EN][status] in en
    assert json_block(zh, "planwatch-agency") == json_block(en, "planwatch-agency")


def test_an_unknown_agency_is_refused(events: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        report_app,
        ["--events", str(events), "--at", DAY, "--agency", "qy.nobody",
         "--out", str(tmp_path / "x.html")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "qy.nobody" in result.output and "qy.miit" in result.output


@dataclass(frozen=True)
class FakeProblem:
    problem_id: str
    subject: str
    state: str
    raised_by: str
    raised_at: datetime


def test_the_open_problems_hook_shows_what_it_is_given() -> None:
    plan = CATALOG.plans[PLAN]
    observations = read_events([line.encode() for line in FEED], CATALOG, plan).observations
    data = build_report(plan, observations, date.fromisoformat(DAY))
    raised = datetime(2022, 6, 1, 2, 0, tzinfo=UTC)
    problems = [FakeProblem("p-1", "industry.digital-bases", "open", "qy.miit", raised)]
    html = render_agency_report(agency_report(data, "qy.miit", problems), Lang.ZH)
    assert 'id="problems"' in html and 'data-problem="p-1" data-state="open"' in html
    assert "待解决问题" in html
    empty = render_agency_report(agency_report(data, "qy.miit", []), Lang.EN)
    assert 'id="problems"' in empty and 'id="open-problems"' not in empty
    assert 'id="problems"' not in render_agency_report(agency_report(data, "qy.miit"), Lang.EN)


def test_the_schedule_s_days() -> None:
    now = datetime(2022, 3, 31, 16, 30, tzinfo=UTC)  # 1 April 00:30 in CST
    assert report_day("yesterday", now) == date(2022, 3, 31)
    assert report_day("2022-02-28") == date(2022, 2, 28)
    assert period_start("month", date(2022, 3, 31)) == date(2022, 3, 1)
    assert period_start(None, date(2022, 3, 31)) is None
    assert period_start("2022-01-15", date(2022, 3, 31)) == date(2022, 1, 15)


def test_send_to_needs_notify_s_url(
    events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLANWATCH_NOTIFY_URL", raising=False)
    result = runner.invoke(
        report_app,
        ["--events", str(events), "--at", DAY, "--out", str(tmp_path / "r.html"),
         "--send-to", "leadership-report"],
    )  # fmt: skip
    assert result.exit_code == 2 and "--url" in result.output


def test_send_to_mails_the_written_report(
    events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, ReportMail]] = []

    def fake_send(url: str, mail: ReportMail) -> dict[str, Any]:
        sent.append((url, mail))
        return {"sent": [{"to": ["director@qy.example"]}]}

    monkeypatch.setattr("planwatch.report_cli.send_report", fake_send)
    out = tmp_path / "miit.html"
    result = runner.invoke(
        report_app,
        ["--events", str(events), "--at", DAY, "--agency", "qy.miit", "--lang", "en",
         "--out", str(out), "--send-to", "leadership-report", "--url", "http://notify:8003"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [(url, mail)] = sent
    assert url == "http://notify:8003" and mail.receiver == "leadership-report"
    assert (
        mail.attachment == out and DAY in mail.subject and "Agency progress report" in mail.subject
    )
    assert "sent miit.html to leadership-report: director@qy.example" in result.output


def test_send_report_posts_the_file_with_the_token(tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.7 test")
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != "Bearer t0k3n":
            return httpx.Response(401, json={"detail": "no token"})
        return httpx.Response(200, json={"sent": []})

    mail = ReportMail("leadership-report", "subject", "note", pdf)
    transport = httpx.MockTransport(answer)
    assert send_report("http://n:1/", mail, environ={"PLANWATCH_TOKEN": "t0k3n"},
                       transport=transport) == {"sent": []}  # fmt: skip
    [request] = seen
    assert request.url == "http://n:1/api/v1/reports/mail"
    posted = json.loads(request.content)
    assert (posted["filename"], posted["content_type"]) == ("report.pdf", "application/pdf")
    with pytest.raises(ReportSendError, match=r"notify refused \(401\): no token"):
        send_report("http://n:1", mail, environ={}, transport=transport)
    with pytest.raises(ReportSendError, match=r"only a \.pdf or \.html"):
        send_report("http://n:1", ReportMail("r", "s", "t", tmp_path / "x.txt"), environ={},
                    transport=transport)  # fmt: skip
