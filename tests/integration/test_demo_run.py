"""The whole demo, headless and fast, against the real Kafka and FerretDB: the three services
as subprocesses, the seeded feed, the local webhook receiver and SMTP sink.

Isolated from other tests by its own topics, consumer groups, database and ports.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from rich.console import Console

from planwatch.demo.problems import coordinator_alerts
from planwatch.demo.run import DemoConfig, run_demo
from planwatch.demo.supervisor import MANAGEMENT_PORT_OFFSET
from planwatch.infra.manager import Endpoints
from planwatch.infra.ports import free_ports
from planwatch.simulate.scenario import Outcome, build_scenario
from shared.catalog import load_catalog
from shared.contract.events import ProgressReported, ProgressRetracted
from shared.contract.observation import to_observation
from shared.domain.method_v1 import score_plan
from tests.webhook_oracle import verify_at

MongoDoc = dict[str, Any]

pytestmark = pytest.mark.integration

PLAN_ID = "qingyuan-digital-economy-2021"
SEED = 11


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (and their management ports, +1000)."""
    return free_ports(count, offsets=(0, MANAGEMENT_PORT_OFFSET))


@pytest.mark.timeout(420)
@pytest.mark.parametrize(("via", "replicas"), [("kafka", 1), ("http", 2)])
async def test_the_demo_runs_end_to_end(
    via: str,
    replicas: int,
    infra: Endpoints,
    mongo_client: AsyncMongoClient[MongoDoc],
    tmp_path: Path,
) -> None:
    # With two processes of each service the results must be those of one: the same scores as
    # the offline method, every webhook signed, nothing delivered twice.
    namespace = "demo" + uuid.uuid4().hex[:8]
    config = DemoConfig(
        seed=SEED,
        speed=20.0,  # the ~705 simulated days in ~35 s
        via=via,
        namespace=namespace,
        base_port=_free_ports(3 * replicas),
        replicas=replicas,
        database=f"planwatch_demo_{namespace}",
        state_dir=tmp_path,
        live=False,
        settle_s=60.0,
    )
    output = io.StringIO()
    console = Console(file=output, width=140)
    result = await run_demo(config, console, asyncio.Event())

    plan = load_catalog().plan(PLAN_ID)
    scenario = build_scenario(plan, SEED)
    expected = scenario.expected_counts()
    assert not result.interrupted, output.getvalue()
    assert result.progress is not None and result.progress.sent == len(scenario.items)
    if via == "http":  # ingest's door answered every event as the scenario expects
        assert result.progress.mismatches == []
        assert sum(result.progress.answered.values()) == result.progress.reports

    # Every event the platform should accept is stored once in `reports`; nothing else is.
    try:
        reports = mongo_client[config.database]["reports"]
        stored = {str(doc["event_id"]) async for doc in reports.find({}, {"event_id": 1})}
    finally:
        await mongo_client.drop_database(config.database)
    accepted_ids = {i.event_id for i in scenario.items if i.expected.outcome is Outcome.ACCEPTED}
    assert stored == accepted_ids
    assert result.reports_stored == expected[Outcome.ACCEPTED.value]

    # The bad events are in the dead-letter topic, each with the reason the scenario expects.
    wanted = Counter(
        {k.split(":", 1)[1]: v for k, v in expected.items() if k.startswith("rejected:")}
    )
    assert result.dead_letters == wanted

    # Scoring's API serves a status for every target, the one the offline method gives.
    observations = [
        to_observation(i.payload, plan)
        for i in scenario.items
        if i.expected.outcome is Outcome.ACCEPTED
        and isinstance(i.payload, ProgressReported | ProgressRetracted)
    ]
    offline = score_plan(plan, observations, scenario.items[-1].at)
    assert result.statuses == {t: r.status.value for t, r in offline.targets.items()}

    # Alerts reached the local webhook, signed (checked again with the reference library),
    # and critical ones the SMTP sink.
    posts = result.view.posts
    assert posts and all(p.verified for p in posts)
    # Nothing delivered twice (fault-free: a notification is sent once, one webhook-id each).
    ids = Counter(p.headers.get("webhook-id") for p in posts)
    assert [i for i, n in ids.items() if n > 1] == []
    for post in posts[:5]:
        received = datetime.fromtimestamp(post.received_at, UTC)
        verify_at(result.webhook_secret, post.body, post.headers, received)
    # Co-owners get their own copy, through their own receiver (the demo routing's role="co");
    # critical lead copies no one acknowledged escalate to the coordinator's receiver.
    receivers = {p.receiver for p in posts}
    assert {"demo-webhook", "demo-co-owners"} <= receivers
    assert receivers <= {"demo-webhook", "demo-co-owners", "demo-coordinator"}
    # The problems the seeded agencies raise reach the coordinator's receiver: problem_raised
    # (the one left open, at least: one raised and resolved within notify's group_wait is never
    # notified, as in Alertmanager) and problem_overdue for the one left open too long.
    got = coordinator_alerts(posts)
    assert got["problem_raised firing"] >= 1 and got["problem_overdue firing"] >= 1, got
    assert "the coordinator's receiver (demo-coordinator) got" in output.getvalue()
    names = {a.alertname for p in posts for a in p.alerts}
    assert {"target_achieved", "report_overdue"} <= names
    assert result.view.mails, "no e-mail reached the SMTP sink"
    assert all("planwatch" in m.sender for m in result.view.mails)
    # ... and the notifications topic, through notify's Kafka receiver.
    assert result.view.published > 0, "no notification on the notifications topic"
