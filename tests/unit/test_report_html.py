"""`planwatch report`: the HTML report of a small synthetic feed, in Chinese and English, equal to
`planwatch score` for the same events and day."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from planwatch.events_file import read_events
from planwatch.report.model import build_report
from planwatch.report.pdf import find_chromium
from planwatch.report_cli import report_app
from planwatch.score_cli import score_app
from shared.catalog import load_catalog
from shared.contract.codec import encode_structured
from shared.contract.events import new_report
from shared.domain.catalog import Plan
from shared.domain.method_v1 import AlertRule, Severity, TransitionKind, alert_states, score_plan
from shared.domain.timebase import end_of_day
from shared.vocabulary import STATUS_LABEL, Lang

PLAN = "qingyuan-digital-economy-2021"
runner = CliRunner()


def report_line(
    event_id: str, agency: str, target: str, as_of: date, value: float, time: str
) -> str:
    event = new_report(
        agency=agency,
        plan=PLAN,
        target=target,
        as_of=as_of,
        value=value,
        time=time,
        event_id=event_id,
    )
    return encode_structured(event).decode()


# A share falling behind, a milestone moving on, a rank, a count reaching its target.
FEED = [
    report_line("m1", "qy.gov-data", "gov.mobile-services", date(2021, 6, 30), 45,
                "2021-07-05T10:00:00+08:00"),
    report_line("m2", "qy.gov-data", "gov.mobile-services", date(2021, 12, 31), 58,
                "2022-01-06T10:00:00+08:00"),
    report_line("m3", "qy.gov-data", "gov.mobile-services", date(2022, 6, 30), 66,
                "2022-07-04T10:00:00+08:00"),
    report_line("e1", "qy.drc", "economy.evaluation-system", date(2021, 9, 30), 1,
                "2021-10-08T09:00:00+08:00"),
    report_line("e2", "qy.drc", "economy.evaluation-system", date(2022, 3, 31), 2,
                "2022-04-07T09:00:00+08:00"),
    report_line("r1", "qy.miit", "industry.eit-rank", date(2021, 6, 30), 9,
                "2021-07-10T09:00:00+08:00"),
    report_line("r2", "qy.miit", "industry.eit-rank", date(2021, 12, 31), 7,
                "2022-01-10T09:00:00+08:00"),
    report_line("r3", "qy.miit", "industry.eit-rank", date(2022, 3, 31), 8,
                "2022-04-10T09:00:00+08:00"),
    report_line("b1", "qy.miit", "industry.digital-bases", date(2021, 9, 30), 1,
                "2021-10-09T09:00:00+08:00"),
    report_line("b2", "qy.miit", "industry.digital-bases", date(2022, 3, 31), 3,
                "2022-04-09T09:00:00+08:00"),
]  # fmt: skip
DAY = "2022-07-04"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_catalog().plans[PLAN]


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(FEED) + "\n", encoding="utf-8")
    return path


def make_report(events: Path, out: Path, *args: str) -> str:
    result = runner.invoke(
        report_app, ["--events", str(events), "--at", DAY, "--out", str(out), *args]
    )
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def score_json(events: Path, day: str = DAY) -> Any:
    result = runner.invoke(score_app, ["--events", str(events), "--at", day])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def json_block(html: str, element_id: str) -> Any:
    match = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S
    )
    assert match is not None, element_id
    return json.loads(match.group(1))


class Attributes(HTMLParser):
    """Every start tag's attributes, for asserting on data-* attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Attributes()
    parser.feed(html)
    return parser.tags


def test_embedded_state_equals_planwatch_score(events: Path, tmp_path: Path) -> None:
    html = make_report(events, tmp_path / "r.html")
    state = json_block(html, "planwatch-state")
    assert state == score_json(events)
    # The drawn statuses and scores are those of the JSON, for every target and area.
    cards = {a["data-target"]: a for t, a in tags(html) if t == "section" and "data-target" in a}
    assert set(cards) == set(state["targets"])
    for target_id, card in cards.items():
        result = state["targets"][target_id]
        assert card["data-status"] == result["status"]
        score = card["data-score"]
        assert (float(score) if score else None) == result["score"]
    areas = {a["data-area"]: a["data-status"] for t, a in tags(html) if a.get("data-area")}
    assert areas == {k: v["status"] or "" for k, v in state["areas"].items()}
    overall = next(a for t, a in tags(html) if a.get("id") == "overall")
    assert overall["data-status"] == state["overall"]["status"]
    assert float(overall["data-score"] or "nan") == state["overall"]["score"]
    counts = {a["data-status"]: int(a["data-count"] or 0) for t, a in tags(html) if
              a.get("data-count")}  # fmt: skip
    assert counts == {k: n for k, n in state["overall"]["counts"].items() if n}
    agencies = {a["data-agency"]: a for t, a in tags(html) if a.get("data-agency")}
    for agency_id, card in state["agencies"].items():
        if agency_id in agencies:
            assert agencies[agency_id]["data-lead-status"] == (card["lead"]["status"] or "")
            assert agencies[agency_id]["data-stale"] == str(card["stale"])


def test_chinese_by_default_and_english_on_request(
    events: Path, tmp_path: Path, plan: Plan
) -> None:
    zh = make_report(events, tmp_path / "zh.html")
    en = make_report(events, tmp_path / "en.html", "--lang", "en")
    assert '<html lang="zh-CN">' in zh and '<html lang="en">' in en
    # It says what it is: a progress report on the plan's commitments, not clause 3.6's system.
    assert "进度报告" in zh and "本报告不是第3.6条" in zh
    assert "progress report on the commitments" in en and "It is not the" in en
    for target in plan.targets.values():
        assert f'data-target="{target.id}"' in zh
        assert target.metric_zh in zh
        assert target.name_en.replace("'", "&#39;").replace('"', "&#34;") in en
    for area in plan.areas.values():
        assert area.name_zh in zh and area.name_en in en
    mobile = score_json(events)["targets"]["gov.mobile-services"]["status"]
    assert STATUS_LABEL[Lang.ZH][mobile] in zh
    assert STATUS_LABEL[Lang.EN][mobile] in en
    # The figures are the same in both languages.
    assert json_block(zh, "planwatch-state") == json_block(en, "planwatch-state")


def test_each_target_has_a_chart_with_its_reports(events: Path, tmp_path: Path) -> None:
    html = make_report(events, tmp_path / "r.html")
    state = json_block(html, "planwatch-state")
    sections = re.findall(r'<section class="card target" data-target="([^"]+)".*?</section>', html,
                          re.S)  # fmt: skip
    assert sorted(sections) == sorted(state["targets"])
    for target_id in sections:
        body = re.search(
            rf'<section class="card target" data-target="{re.escape(target_id)}".*?</section>',
            html,
            re.S,
        )
        assert body is not None
        points = body.group(0).count('class="point"')
        assert points == state["targets"][target_id]["points"]
        assert ('class="projection"' in body.group(0)) == (
            state["targets"][target_id]["projected"] is not None
        )


def test_no_external_resources(events: Path, tmp_path: Path) -> None:
    for lang in ("zh", "en"):
        html = make_report(events, tmp_path / f"{lang}.html", "--lang", lang)
        assert "http://" not in html and "https://" not in html
        assert not re.search(r"""(src|href)\s*=\s*["']?(//|[a-z]+:)""", html, re.I)
        assert not re.search(r"@import|url\(", html)
        assert "<link" not in html and "<img" not in html


def test_period_alerts_lead_to_the_alerts_firing_at_the_day(
    events: Path, tmp_path: Path, plan: Plan
) -> None:
    html = make_report(events, tmp_path / "r.html")
    transitions = json_block(html, "planwatch-transitions")
    state = json_block(html, "planwatch-state")
    # The mobile share fell to AT_RISK with the report of 2022-07-04 (the worked example).
    assert {
        "day": "2022-07-04",
        "target": "gov.mobile-services",
        "rule": AlertRule.STATUS_DEGRADED.value,
        "kind": TransitionKind.FIRING.value,
        "severity": Severity.WARNING.value,
    }.items() <= next(
        t for t in transitions
        if t["target"] == "gov.mobile-services" and t["rule"] == "status_degraded"
    ).items()  # fmt: skip
    # The digital bases reached 3 with the report of 2022-04-09.
    assert any(
        t["target"] == "industry.digital-bases"
        and t["rule"] == "target_achieved"
        and t["day"] == "2022-04-09"
        for t in transitions
    )
    # Applying the period's transitions to the alerts firing the day before it starts gives
    # exactly the alerts firing at the day.
    with events.open("rb") as handle:
        read = read_events(handle, load_catalog(), plan)
    data = build_report(plan, read.observations, date.fromisoformat(DAY))
    before = score_plan(plan, read.observations, end_of_day(data.since - timedelta(days=1)))
    firing = {(a.target, a.rule.value): a.severity.value for a in before.alerts}
    for t in transitions:
        key = (t["target"], t["rule"])
        if t["kind"] == "resolved":
            assert firing.pop(key) == t["severity"]
        else:
            assert firing.get(key) == t["previous_severity"]
            firing[key] = t["severity"]
    assert firing == {(a["target"], a["rule"]): a["severity"] for a in state["alerts"]}
    assert sum(len(alert_states(r)) for r in data.state.targets.values()) == len(state["alerts"])


def test_a_period_starting_after_the_day_is_refused(events: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        report_app,
        ["--events", str(events), "--at", DAY, "--since", "2022-08-01",
         "--out", str(tmp_path / "r.html")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "after the report's day" in result.stderr
    bad = runner.invoke(report_app, ["--events", str(events), "--at", "2022-13-01"])
    assert bad.exit_code == 2
    assert "not a date" in bad.output


def test_pdf_is_written_when_chromium_is_there(events: Path, tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip("chromium is not installed")
    out = tmp_path / "r.html"
    result = runner.invoke(
        report_app, ["--events", str(events), "--at", DAY, "--out", str(out), "--pdf"]
    )
    assert result.exit_code == 0, result.output
    pdf = out.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert pdf.stat().st_size > 10_000


def test_every_task_shows_with_its_score_or_what_it_tracks(
    events: Path, tmp_path: Path, plan: Plan
) -> None:
    """#16: all 27 tasks are in the report, scored or with their checklists and indicators;
    the headline shows its coverage ("17 of 27 tasks scored"); every commitment and indicator
    has its own entry."""
    html = make_report(events, tmp_path / "tasks.html", "--lang", "en")
    state = score_json(events)
    rows = {a["data-task"]: a for t, a in tags(html) if t == "tr" and a.get("data-task")}
    assert set(rows) == set(plan.tasks)
    unscored = {task for task, attrs in rows.items() if "unscored" in (attrs.get("class") or "")}
    assert (
        unscored == set(state["overall"]["unscored"]) == set(plan.tasks) - set(plan.scored_tasks())
    )
    assert f"{len(plan.scored_tasks())} / {len(plan.tasks)} tasks scored" in html
    assert f"{len(plan.tasks)} / {len(plan.tasks)} tasks tracked" in html
    commitments = {a["data-commitment"] for t, a in tags(html) if a.get("data-commitment")}
    assert commitments == set(plan.commitments)
    deliverables = {a["data-deliverable"] for t, a in tags(html) if a.get("data-deliverable")}
    assert deliverables == set(plan.deliverables)
    indicators = {a["data-indicator"] for t, a in tags(html) if a.get("data-indicator")}
    assert indicators == set(plan.indicators)
    assert "no date in the plan" in html
