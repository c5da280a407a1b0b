"""`planwatch report --from-mongodb`: the report of the running platform, from the reports ingest
stored in MongoDB, as known at a past day, is the report of the same events read from a file
(`--events`), byte for byte; events reported after that day are left out of both. So is one
agency's (`--agency`), whose scorecard, targets and alerts are `planwatch score`'s."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from typer.testing import CliRunner, Result

from planwatch.report_cli import report_app
from planwatch.score_cli import score_app
from planwatch.simulate.feed import structured_lines
from planwatch.simulate.scenario import build_scenario
from services.ingest.keyring import snapshot
from services.ingest.store import StoredReport, signed_event_json
from services.ingest.validation import Accepted, AcceptedProblem, validate
from shared.accepted_problem import is_problem_document
from shared.catalog import load_catalog
from shared.contract.codec import decode_structured

pytestmark = pytest.mark.integration

CATALOG = load_catalog()
PLAN = CATALOG.plans["qingyuan-digital-economy-2021"]
DAY = date(2022, 3, 31)


def stored_documents() -> tuple[list[bytes], list[dict[str, Any]]]:
    """The scenario's accepted events as file lines, and as ingest stores them (validated by
    ingest's own rules against the scenario's keys)."""
    scenario = build_scenario(PLAN, 5)
    keys = snapshot([k.registry_entry() for k in scenario.keys.values()])
    lines = list(structured_lines(scenario))
    documents: dict[str, dict[str, Any]] = {}
    for line in lines:
        raw = decode_structured(line.strip())
        verdict = validate(raw, CATALOG, keys, raw.envelope.instant + timedelta(minutes=1))
        assert isinstance(verdict, Accepted | AcceptedProblem), verdict  # problems too
        report = StoredReport(verdict.event, signed_event_json(raw))
        documents[report.key] = report.to_document()
    return lines, list(documents.values())


def run_report(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(report_app, ["--at", DAY.isoformat(), *args])


async def test_the_live_report_is_the_report_of_the_same_events(
    mongo_db: AsyncDatabase[dict[str, Any]], mongodb_uri: str, tmp_path: Path
) -> None:
    lines, documents = stored_documents()
    later = [d for d in documents if d["reported_at"] > "2022-04-01"]
    assert later, "the scenario reports after the day too: the report must leave them out"
    retired = {**documents[0], "_id": "qy.gov-data|retired", "target": "no.longer-planned"}
    await mongo_db["reports"].insert_many([*documents, retired])
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(lines))
    env = {"MONGODB_URI": mongodb_uri, "MONGODB_DATABASE": mongo_db.name}
    live_out, file_out = tmp_path / "live.html", tmp_path / "file.html"
    live = await asyncio.to_thread(run_report, "--from-mongodb", "--out", str(live_out), env=env)
    assert live.exit_code == 0, live.output
    progress = [d for d in documents if not is_problem_document(d)]
    assert f"{len(progress)} stored report(s) of {PLAN.id}" in live.output
    assert "1 stored report(s) on unknown targets skipped" in live.output
    offline = await asyncio.to_thread(run_report, "--events", str(events), "--out", str(file_out))
    assert offline.exit_code == 0, offline.output
    assert live_out.read_bytes() == file_out.read_bytes()
    # Problems raised and followed: the same from ingest's stored events as from the file (the
    # feed's first problem, raised and resolved in March 2022, ended in the period).
    resolved = re.search(r'data-problem="[^"]+" data-state="resolved"', live_out.read_text())
    assert resolved is not None and "0 open problem(s), 1 ended in the period" in live.output


def test_one_source_exactly() -> None:
    both = run_report("--from-mongodb", "--events", __file__)
    assert both.exit_code == 2 and "one of them" in both.output
    assert run_report().exit_code == 2


async def test_the_live_agency_report_is_its_roll_up_in_planwatch_score(
    mongo_db: AsyncDatabase[dict[str, Any]], mongodb_uri: str, tmp_path: Path
) -> None:
    """`--from-mongodb --agency ID`: the agency's report of the running platform is that of the
    same events from a file, and its scorecard, targets and alerts are `planwatch score`'s."""
    lines, documents = stored_documents()
    await mongo_db["reports"].insert_many(documents)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(lines))
    env = {"MONGODB_URI": mongodb_uri, "MONGODB_DATABASE": mongo_db.name}
    agency = "qy.miit"
    live_out, file_out = tmp_path / "live.html", tmp_path / "file.html"
    common = ("--agency", agency, "--lang", "en")
    live = await asyncio.to_thread(
        run_report, "--from-mongodb", *common, "--out", str(live_out), env=env
    )
    assert live.exit_code == 0, live.output
    offline = await asyncio.to_thread(
        run_report, "--events", str(events), *common, "--out", str(file_out)
    )
    assert offline.exit_code == 0, offline.output
    html = live_out.read_text(encoding="utf-8")
    assert html == file_out.read_text(encoding="utf-8")
    scored = CliRunner().invoke(score_app, ["--events", str(events), "--at", DAY.isoformat()])
    state = json.loads(scored.stdout)
    match = re.search(r'<script type="application/json" id="planwatch-agency">(.*?)</script>', html)
    assert match is not None
    part = json.loads(match.group(1))
    mine = set(part["led"]) | set(part["co"])
    assert part["led"] and part["scorecard"] == state["agencies"][agency]
    assert part["targets"] == {t: state["targets"][t] for t in sorted(mine)}
    assert part["alerts"] == [a for a in state["alerts"] if a["target"] in mine]
