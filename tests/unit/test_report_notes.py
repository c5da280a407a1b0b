"""Notes and evidence shown with each report: the points-log documents keep them, the read API's
series gives them per point and as a target's recent reports (newest first, bounded), the
offline report lists them in its appendix; live and offline lists are the same."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from typer.testing import CliRunner

from planwatch.report_cli import report_app
from services.scoring.api import make_router
from services.scoring.documents import fold_winners, winner_from_doc, winner_to_doc
from services.scoring.engine import ScoringEngine
from services.scoring.memory_store import InMemoryScoringStore
from shared.accepted import AcceptedEvent
from shared.catalog import load_catalog
from shared.contract.codec import encode_structured
from shared.contract.events import new_report
from shared.domain.observation import Observation
from shared.domain.recent_reports import known_winners, recent_reports, report_to_json
from shared.domain.timebase import CST
from shared.runtime.auth import PLANS_READ, install
from tests.token_issuer import LocalIssuer
from tests.unit.scoring_engine_cases import Collector
from tests.unit.scoring_streams import event

CATALOG = load_catalog()
PLAN = CATALOG.plans["qingyuan-digital-economy-2021"]
TARGET = "gov.mobile-services"  # a share led by qy.gov-data
NOTE = '<script>alert("x")</script> 数据来源：省平台 & 市统计'
LINK = "https://qy.example.gov.cn/proof?id=1&v=2"
ISSUER = LocalIssuer()


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CST)


def test_points_log_documents_keep_evidence_and_note_only_when_set() -> None:
    plain = Observation("e1", TARGET, date(2021, 6, 30), at(date(2021, 7, 5)), 45.0, "qy.gov-data")
    doc = winner_to_doc(PLAN.id, plain)
    assert "evidence" not in doc and "note" not in doc
    assert winner_from_doc(doc) == plain
    shown = Observation(
        "e2", TARGET, date(2021, 12, 31), at(date(2022, 1, 6)), 58.0, "qy.gov-data",
        evidence=LINK, note=NOTE,
    )  # fmt: skip
    doc = winner_to_doc(PLAN.id, shown)
    assert (doc["evidence"], doc["note"]) == (LINK, NOTE)
    assert winner_from_doc(doc) == shown


def test_recent_reports_are_the_winning_reports_newest_first_and_bounded() -> None:
    def obs(eid: str, as_of: date, reported: date, value: float | None, **kw: str) -> Observation:
        return Observation(eid, TARGET, as_of, at(reported), value, "qy.gov-data", **kw)

    events = [
        obs("a", date(2021, 6, 30), date(2021, 7, 5), 45.0, note="first"),
        obs("b", date(2021, 12, 31), date(2022, 1, 6), 58.0),
        obs("b2", date(2021, 12, 31), date(2022, 1, 20), 59.0, note="corrected"),  # replaces b
        obs("c", date(2022, 3, 31), date(2022, 4, 6), 60.0),
        obs("c-", date(2022, 3, 31), date(2022, 4, 9), None),  # retracts c
        obs("d", date(2022, 6, 30), date(2022, 7, 4), 66.0, evidence=LINK),
        Observation("s", TARGET, date(2022, 6, 30), at(date(2022, 7, 5)), 1.0, "x", scope="z"),
    ]
    winners = known_winners(events, at(date(2022, 7, 10)))
    assert [r.event_id for r in recent_reports(winners)] == ["d", "b2", "a"]
    assert [r.event_id for r in recent_reports(winners, 2)] == ["d", "b2"]
    # Known at an earlier instant: later reports and corrections are not there yet.
    earlier = known_winners(events, at(date(2022, 1, 10)))
    assert [r.event_id for r in recent_reports(earlier)] == ["b", "a"]
    assert report_to_json(recent_reports(winners)[0]) == {
        "as_of": "2022-06-30",
        "value": 66.0,
        "agency": "qy.gov-data",
        "reported_at": at(date(2022, 7, 4)).isoformat(),
        "event_id": "d",
        "evidence": LINK,
    }


def accepted(
    n: int, as_of: date, value: float, evidence: str | None = None, note: str | None = None
) -> AcceptedEvent:
    target = PLAN.targets[TARGET]
    reported = at(as_of + timedelta(days=5))
    return event(target, as_of, reported, value, f"n{n}", evidence=evidence, note=note)


async def test_the_engine_stores_them_and_the_series_endpoint_shows_them() -> None:
    events = [
        accepted(1, date(2021, 6, 30), 45.0, note="first report"),
        accepted(2, date(2021, 12, 31), 58.0),
        accepted(3, date(2022, 6, 30), 66.0, evidence=LINK, note=NOTE),
    ]
    store = InMemoryScoringStore()
    engine = ScoringEngine(CATALOG, store, Collector(), base_url="http://x")
    await engine.apply(events)
    docs = await store.target_points(PLAN.id, TARGET)
    by_id = {d["event_id"]: d for d in docs}
    assert by_id["n3"]["evidence"] == LINK and by_id["n3"]["note"] == NOTE
    assert "evidence" not in by_id["n2"] and "note" not in by_id["n2"]
    # The live list is the offline one for the same events.
    live = recent_reports(fold_winners(docs))
    assert engine.clock is not None
    offline = recent_reports(known_winners([e.to_observation() for e in events], engine.clock))
    assert live == offline

    app = FastAPI()
    install(app, ISSUER.authenticator())
    app.include_router(make_router(CATALOG, lambda: store))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://scoring", headers=ISSUER.headers(PLANS_READ)
    ) as api:
        url = f"/v1/plans/{PLAN.id}/targets/{TARGET}/series"
        series = (await api.get(url)).json()
        points = {p["event_id"]: p for p in series["points"]}
        assert (points["n3"]["evidence"], points["n3"]["note"]) == (LINK, NOTE)
        assert points["n1"]["note"] == "first report" and "evidence" not in points["n1"]
        assert set(points["n2"]) == {"as_of", "value", "reported_at", "event_id", "agency"}
        assert [r["event_id"] for r in series["recent_reports"]] == ["n3", "n2", "n1"]
        assert series["recent_reports"][0]["note"] == NOTE
        bounded = (await api.get(url, params={"reports": 1})).json()
        assert [r["event_id"] for r in bounded["recent_reports"]] == ["n3"]
        assert (await api.get(url, params={"reports": 10_000})).status_code == 422


def report_line(
    event_id: str,
    as_of: date,
    value: float,
    time: str,
    *,
    note: str | None = None,
    evidence: str | None = None,
) -> str:
    report = new_report(
        agency="qy.gov-data", plan=PLAN.id, target=TARGET, as_of=as_of, value=value,
        time=time, event_id=event_id, note=note, evidence=evidence,
    )  # fmt: skip
    return encode_structured(report).decode()


def test_the_reports_appendix_shows_notes_escaped_and_evidence_links(tmp_path: Path) -> None:
    feed = [
        report_line("m1", date(2021, 6, 30), 45, "2021-07-05T10:00:00+08:00", note="首次报送"),
        report_line("m2", date(2021, 12, 31), 58, "2022-01-06T10:00:00+08:00", evidence=LINK),
        report_line("m3", date(2022, 6, 30), 66, "2022-07-04T10:00:00+08:00", note=NOTE,
                    evidence=LINK),
    ]  # fmt: skip
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(feed) + "\n", encoding="utf-8")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        report_app, ["--events", str(events), "--at", "2022-07-04", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    match = re.search(
        rf'<section class="reports" data-reports="{TARGET}">(.*?)</section>', html, re.S
    )
    assert match is not None
    section = match.group(1)
    assert re.findall(r'<tr class="report" data-event="([^"]+)"', section) == ["m3", "m2", "m1"]
    assert "<script>alert" not in html  # the note is text, escaped
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; 数据来源：省平台 &amp; 市统计" in section
    )
    link = 'href="https://qy.example.gov.cn/proof?id=1&amp;v=2" rel="noopener noreferrer"'
    assert section.count(link) == 2
    assert "首次报送" in section
    # Known at an earlier day, the later report is not listed yet.
    result = CliRunner().invoke(
        report_app, ["--events", str(events), "--at", "2022-01-31", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    earlier = out.read_text(encoding="utf-8")
    assert 'data-event="m3"' not in earlier and 'data-event="m2"' in earlier
