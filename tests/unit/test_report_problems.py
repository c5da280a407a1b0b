"""Problems raised and followed in the report: the problem events of an events file (the demo
feed's) folded as known at the report's day, the open ones (with age and overdue flag) and those
resolved in the period, in the plan's and in an agency's report, in Chinese and English, with
hostile text escaped; `planwatch report` shows them from the file."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planwatch.problem_events import read_problem_entries, read_problem_file
from planwatch.report.agency import agency_report
from planwatch.report.agency_render import render_agency_report
from planwatch.report.model import build_report
from planwatch.report.problems import problems_at
from planwatch.report.render import render_report
from planwatch.report_cli import report_app
from planwatch.simulate.feed import write_jsonl
from planwatch.simulate.problems import PROBLEM_STORIES, problem_id
from planwatch.simulate.scenario import DEFAULT_SEED, RawBytes, Role, Scenario, build_scenario
from shared.catalog import load_catalog
from shared.contract.codec import encode_structured
from shared.contract.events import EventType, new_problem_raised, new_problem_step
from shared.domain.catalog import Plan
from shared.domain.problems import ProblemState
from shared.domain.timebase import CST
from shared.vocabulary import Lang

PLAN_ID = "qingyuan-digital-economy-2021"
FIVE_G, AGRI = PROBLEM_STORIES
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_catalog().plan(PLAN_ID)


@pytest.fixture(scope="module")
def scenario(plan: Plan) -> Scenario:
    return build_scenario(plan)


@pytest.fixture(scope="module")
def feed(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "feed.jsonl"
    write_jsonl(path, scenario)
    return path


def test_the_demo_feed_raises_and_follows_problems(scenario: Scenario, plan: Plan) -> None:
    items = scenario.of_role(Role.PROBLEM)
    kinds = [
        (i.agency, i.payload.envelope.type) for i in items if not isinstance(i.payload, RawBytes)
    ]
    assert (FIVE_G.raiser, EventType.PROBLEM_RAISED) in kinds
    assert (AGRI.raiser, EventType.PROBLEM_RAISED) in kinds
    assert (plan.coordinator, EventType.PROBLEM_ACKNOWLEDGED) in kinds
    assert (plan.coordinator, EventType.PROBLEM_RESOLVED) in kinds
    again = build_scenario(plan).of_role(Role.PROBLEM)
    assert [i.payload for i in again] == [i.payload for i in items]  # deterministic


def test_the_report_folds_the_problems_known_at_its_day(feed: Path, plan: Plan) -> None:
    read = read_problem_file(feed, load_catalog(), plan)
    assert read.bad == [] and read.count == 6
    five_g, agri = problem_id(FIVE_G, DEFAULT_SEED), problem_id(AGRI, DEFAULT_SEED)
    assert set(read.entries) == {five_g, agri}

    # Days after the raise: open (acknowledged), not overdue; nothing ended yet.
    early = problems_at(plan, read.entries, date(2022, 3, 18), since=date(2022, 3, 1))
    assert [(p.problem_id, p.state) for p in early.open] == [(five_g, ProblemState.ACKNOWLEDGED)]
    assert early.ended == () and not early.overdue(early.open[0])
    # The month it was resolved: no longer open, ended in the period; not in a later period.
    march = problems_at(plan, read.entries, date(2022, 3, 31), since=date(2022, 3, 1))
    assert march.open == () and [p.problem_id for p in march.ended] == [five_g]
    assert march.ended[0].state is ProblemState.RESOLVED
    april = problems_at(plan, read.entries, date(2022, 4, 30), since=date(2022, 4, 1))
    assert april.open == () and april.ended == ()
    # The end of the feed: the agricultural parks' problem still open, and overdue.
    end = problems_at(plan, read.entries, date(2023, 4, 15), since=date(2023, 4, 1))
    assert [p.problem_id for p in end.open] == [agri]
    assert end.overdue(end.open[0])
    # Per agency: the raiser, an agency asked through a group, the coordinator; not others.
    for agency in (AGRI.raiser, "carrier.china-telecom", plan.coordinator):
        assert [p.problem_id for p in end.for_agency(plan, agency).open] == [agri], agency
    assert end.for_agency(plan, "qy.health").open == ()


def _hostile_file(plan: Plan) -> list[bytes]:
    raised_at = datetime(2022, 5, 9, 10, 0, tzinfo=CST)
    common = {"plan": plan.id, "subject": "gov.mobile-services", "problem_id": "p-hostile"}
    raised = new_problem_raised(agency="qy.gov-data", summary=HOSTILE, needs=HOSTILE,
                                from_agencies=["qy.gov-units"], time=raised_at,
                                evidence="https://x.example/?a=1&b=\"><b>", **common)  # fmt: skip
    later = raised_at + timedelta(days=1)
    comment = new_problem_step(EventType.PROBLEM_COMMENTED, agency=plan.coordinator,
                               time=later, note=HOSTILE, **common)  # fmt: skip
    # Not the coordinator: refused by the catalog check, named with its line.
    wrong = new_problem_step(EventType.PROBLEM_RESOLVED, agency="qy.health",
                             time=raised_at + timedelta(days=2), **common)  # fmt: skip
    return [encode_structured(e) for e in (raised, comment, wrong)]


@pytest.mark.parametrize("lang", [Lang.ZH, Lang.EN])
def test_the_problems_section_escapes_what_agencies_wrote(plan: Plan, lang: Lang) -> None:
    read = read_problem_entries(_hostile_file(plan), load_catalog(), plan)
    assert [(b.number, b.reason) for b in read.bad] == [(3, "not_coordinator")]
    day = date(2022, 5, 31)
    problems = problems_at(plan, read.entries, day, since=date(2022, 5, 1))
    data = build_report(plan, [], day)
    html = render_report(data, lang, problems)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img" in html
    assert 'href="https://x.example/?a=1&amp;b=&#34;&gt;&lt;b&gt;"' in html
    row = re.search(r'<tr class="problem" data-problem="p-hostile" data-state="(\w+)"', html)
    assert row is not None and row.group(1) == "open"
    assert ("待解决问题" if lang is Lang.ZH else "Open problems") in html
    assert html.count('data-action="commented"') == 1
    # The agency's report shows the same section, cut to the agency's problems.
    mine = problems.for_agency(plan, "qy.gov-units").all
    agency_html = render_agency_report(agency_report(data, "qy.gov-units", mine), lang)
    assert 'data-problem="p-hostile"' in agency_html and "<script>alert" not in agency_html
    none = render_agency_report(agency_report(data, "qy.health", ()), lang)
    assert 'id="no-open-problems"' in none and 'data-problem="' not in none


def test_planwatch_report_shows_the_problems_of_the_file(feed: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for args, name in (([], "plan.html"), (["--agency", AGRI.raiser], "agency.html")):
        out = tmp_path / name
        result = runner.invoke(
            report_app, ["--events", str(feed), "--at", "2023-04-15", "--out", str(out), *args]
        )
        assert result.exit_code == 0, result.output
        html = out.read_text(encoding="utf-8")
        agri = problem_id(AGRI, DEFAULT_SEED)
        assert re.search(rf'data-problem="{agri}" data-state="acknowledged"[^>]*'
                         r'data-overdue="true"', html), name  # fmt: skip
        assert "1 open problem(s)" in result.output
