"""Problems raised and followed, end to end on the real Kafka and FerretDB (issue #17): an agency
raises a problem with `planwatch problem raise` through ingest's HTTP door; ingest stores and
passes it on; scoring (a subprocess) folds it and publishes `problem_raised`; notify (a
subprocess, with the demo's routing file) delivers it to the coordinator's receiver on the
demo's own webhook receiver, signed. The coordinator then resolves it with `planwatch problem
resolve`, the resolution reaches the same receiver, and scoring's read API shows the problem
resolved with its history.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from planwatch.demo.receivers import WebhookPost, WebhookReceiver, new_webhook_secret
from planwatch.demo.run import demo_routing
from shared.contract.keys import private_key_pem
from shared.kafka_admin import ensure_topics
from shared.runtime.auth import EVENTS_WRITE, PLANS_READ
from tests.integration.auth_support import headers, token
from tests.integration.ingest_support import (
    Setup,
    free_tcp_port,
    planwatch_cli,
    running_ingest,
    write_keys_file,
)
from tests.integration.scoring_support import Topics, scoring_env
from tests.integration.service_process import ServiceProcess
from tests.unit.ingest_support import PLAN, private_key

pytestmark = pytest.mark.integration
PROBLEM = "it-5g-sites"
SUBJECT = "infra.5g-coverage"  # led by qy.miit, co-owned by the carriers
RAISER = "carrier.china-mobile"
COORDINATOR = "qy.miit"


def _key_file(folder: Path, agency: str) -> Path:
    path = folder / f"{agency}.k1.key.pem"
    path.write_bytes(private_key_pem(private_key(agency)))
    path.chmod(0o600)
    return path


def _problem_alerts(post: WebhookPost) -> list[dict[str, Any]]:
    message = json.loads(post.body)
    return [a for a in message.get("alerts", []) if a["labels"].get("problem") == PROBLEM]


async def _posted(
    receiver: WebhookReceiver, wanted: Callable[[WebhookPost], bool], within_s: float = 90.0
) -> WebhookPost:
    """The first post that `wanted`, waiting at most `within_s` (polling the receiver)."""
    async with asyncio.timeout(within_s):
        while True:
            for post in receiver.snapshot():
                if wanted(post):
                    return post
            await asyncio.sleep(0.1)


def _coordinator_post(status: str) -> Callable[[WebhookPost], bool]:
    def wanted(post: WebhookPost) -> bool:
        alerts = _problem_alerts(post) if post.verified else []
        return post.receiver == "demo-coordinator" and any(
            a["status"] == status and a["labels"]["alertname"] == "problem_raised" for a in alerts
        )

    return wanted


async def test_an_agency_raises_a_problem_and_the_coordinators_webhook_receives_it(
    kafka_bootstrap: str, mongodb_uri: str, unique_id: str, tmp_path: Path
) -> None:
    setup = Setup(
        kafka_bootstrap,
        mongodb_uri,
        unique_id,
        write_keys_file(tmp_path / "keys.jsonl"),
        free_tcp_port(),
    )
    topics = Topics(unique_id)
    assert topics.accepted == setup.accepted_topic  # scoring reads what ingest passes on
    prefix = f"test.{unique_id}"
    await setup.create_topics()
    await ensure_topics(
        kafka_bootstrap,
        {
            **topics.partitions(),
            f"{prefix}.groups": 6,
            f"{prefix}.notifications": 3,
            f"{prefix}.notify-dlt": 1,
        },
    )
    scoring_port = free_tcp_port()
    scoring = ServiceProcess(
        "scoring",
        scoring_env(
            kafka=kafka_bootstrap,
            mongodb=mongodb_uri,
            database=setup.database,
            group_id=f"test-scoring-{unique_id}",
            topics=topics,
            port=scoring_port,
        ),
        tmp_path / "scoring.log",
        scoring_port,
    )
    secret = new_webhook_secret()
    receiver = WebhookReceiver(secret)
    routing = tmp_path / "routing.demo.yaml"
    routing.write_text(demo_routing(f"{prefix}.notifications"), encoding="utf-8")
    notify_port = free_tcp_port()
    notify = ServiceProcess(
        "notify",
        {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongodb_uri,
            "MONGODB_DATABASE": setup.database,
            "NOTIFY_ROUTING_FILE": str(routing),
            "NOTIFY_INPUT_TOPIC": topics.alerts,
            "NOTIFY_GROUPS_TOPIC": f"{prefix}.groups",
            "NOTIFY_GROUP_ID": f"test-notify-{unique_id}",
            "NOTIFY_NOTIFICATIONS_TOPIC": f"{prefix}.notifications",
            "NOTIFY_DLT_TOPIC": f"{prefix}.notify-dlt",
            "NOTIFY_HTTP__PORT": str(notify_port),
            "NOTIFY_TICK_S": "0.1",
            "NOTIFY_GRACEFUL_TIMEOUT_S": "5",
            "PLANWATCH_DEMO_WEBHOOK_URL": receiver.url,
            "PLANWATCH_DEMO_WEBHOOK_SECRET": secret,
        },
        tmp_path / "notify.log",
        notify_port,
    )
    receiver.start()
    try:
        scoring.start()
        notify.start()
        await scoring.ready()
        await notify.ready()
        async with running_ingest(setup.settings()) as ingest_url:
            common = ["--key-id", "k1", "--target", SUBJECT, "--problem", PROBLEM]
            common += ["--via", "http", "--url", ingest_url, "--format", "json"]
            raised = await planwatch_cli(
                [
                    "problem",
                    "raise",
                    "--agency",
                    RAISER,
                    "--key-file",
                    str(_key_file(tmp_path, RAISER)),
                    "--summary",
                    "40 sites wait for land-use approval",
                    "--needs",
                    "approval of the site list",
                    "--from",
                    "qy.natural-resources",
                    *common,
                ],
                {**os.environ, "PLANWATCH_TOKEN": token(EVENTS_WRITE, agency=RAISER)},
            )
            assert raised.returncode == 0, raised.stderr + raised.stdout
            answer = json.loads(raised.stdout)
            assert answer["problem_id"] == PROBLEM
            assert answer["results"][0]["status"] == "accepted", answer

            firing = await _posted(receiver, _coordinator_post("firing"))
            [alert] = [a for a in _problem_alerts(firing) if a["status"] == "firing"]
            assert alert["labels"]["agency"] == COORDINATOR
            assert alert["labels"]["role"] == "coordinator"
            assert alert["labels"]["raised_by"] == RAISER
            assert alert["labels"]["target"] == SUBJECT

            resolved = await planwatch_cli(
                [
                    "problem",
                    "resolve",
                    "--agency",
                    COORDINATOR,
                    "--key-file",
                    str(_key_file(tmp_path, COORDINATOR)),
                    "--note",
                    "approved on 2022-05-10",
                    *common,
                ],
                {**os.environ, "PLANWATCH_TOKEN": token(EVENTS_WRITE, agency=COORDINATOR)},
            )
            assert resolved.returncode == 0, resolved.stderr + resolved.stdout
            await _posted(receiver, _coordinator_post("resolved"))

        async with httpx.AsyncClient(base_url=scoring.url, headers=headers(PLANS_READ)) as api:
            detail = (await api.get(f"/v1/plans/{PLAN}/problems/{PROBLEM}")).json()
            assert detail["state"] == "resolved", detail
            assert [h["action"] for h in detail["history"]] == ["raised", "resolved"]
            assert detail["raised_by"] == RAISER and detail["finished_by"] == COORDINATOR
            listed = await api.get(f"/v1/plans/{PLAN}/problems", params={"state": "open"})
            assert listed.json()["count"] == 0
    finally:
        notify.stop()
        scoring.stop()
        receiver.stop()
