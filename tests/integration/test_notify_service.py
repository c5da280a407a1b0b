"""The notify service as a process (`python -m services.notify.main`) on the real Kafka and
FerretDB, with a local webhook receiver, a local SMTP server and the wall clock:

- a scoring-like alert published to the alerts topic reaches the webhook (signed, grouped),
  the inbox and the notifications topic; a duplicate transition is dropped;
- silences through `planwatch silence add|list|expire` mute and release an alert;
- SIGKILL in the middle of a group and of a retry, then a restart: nothing lost, nothing
  sent twice to a receiver that had answered 2xx; SIGTERM stops cleanly;
- a bad routing file stops the start with `file:line: reason`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo.asynchronous.database import AsyncDatabase
from typer.testing import CliRunner

from planwatch.silence_cli import silence_app
from shared.runtime.auth import SILENCES_WRITE
from tests.integration import notify_subprocess
from tests.integration.auth_support import token
from tests.integration.notify_harness import SECRET, read_topic
from tests.integration.notify_subprocess import NotifyProcesses
from tests.integration.notify_support import (
    HttpReceiver,
    Reply,
    alert_event,
    encoded,
    start_smtp,
    wait_until,
    wait_until_true,
)
from tests.integration.service_process import ServiceProcess
from tests.webhook_oracle import verify_at

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
notify_process = notify_subprocess.notify_process  # the fixture, for pytest to find here


def stopped_cleanly(service: ServiceProcess) -> bool:
    """SIGTERM, and True when it stopped cleanly: uvicorn re-raises the signal once its
    shutdown finished, so the exit status is -SIGTERM, not 0."""
    code = service.stop()
    text = service.log.read_text()
    return (
        code in (0, -signal.SIGTERM)
        and "flush loop stopped" in text
        and '"service stopped"' in text
    )


@pytest.fixture
def http_port(free_port: int) -> int:
    return free_port


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    server = HttpReceiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def smtp(unused_tcp_port_factory: Any) -> Iterator[tuple[int, Any]]:
    port = unused_tcp_port_factory()
    controller, inbox = start_smtp(port)
    yield port, inbox
    controller.stop()


async def publish(kafka: str, topic: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"target")
    finally:
        await producer.stop()


def metric_value(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_alert_reaches_webhook_inbox_and_topic_then_silences_via_cli(
    kafka_bootstrap: str,
    topic_name: str,
    http_port: int,
    notify_process: NotifyProcesses,
    receiver: HttpReceiver,
    smtp: tuple[int, Any],
    tmp_path: Path,
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    smtp_port, inbox = smtp
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        f"""
route:
  receiver: everyone
  group_by: [plan, agency, rule]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: everyone
    webhook_configs:
      - url: {receiver.url("/hook")}
        secret: env:NOTIFY_TEST_SECRET
        allow_private: true
    email_configs: [{{to: [ops@qy.example], from: planwatch@qy.example}}]
    kafka_configs: [{{topic: {topic_name}.out}}]
"""
    )
    service = notify_process(routing, http_port, smtp_port=smtp_port)
    service.start()
    await service.ready()
    try:
        now = datetime.now(UTC)
        first = alert_event(target="t-1", at=now)
        second = alert_event(target="t-2", at=now)
        await publish(
            kafka_bootstrap, f"{topic_name}.alerts", encoded(first), encoded(second), encoded(first)
        )
        [request] = await receiver.wait_for("/hook", 1)
        message = verify_at(SECRET, request.body, request.headers, request.received_at)
        assert isinstance(message, dict)
        assert sorted(a["labels"]["target"] for a in message["alerts"]) == ["t-1", "t-2"]
        assert message["receiver"] == "everyone" and message["status"] == "firing"
        await wait_until(lambda: len(inbox.messages) == 1)
        _, mail = inbox.messages[0]
        assert "数字经济规划监测" in mail["Subject"] and mail["Subject"].startswith("[FIRING:2]")
        [(_, value, _)] = await read_topic(kafka_bootstrap, f"{topic_name}.out", 1)
        assert json.loads(value)["groupKey"] == message["groupKey"]
        received = metric_value(service.metrics(), "planwatch_notify_alerts_received_total")
        assert received == 3
        assert 'result="duplicate"} 1.0' in service.metrics()

        # Silence t-3 with the CLI; its alert joins the group but is not sent.
        # Silence t-3 with the CLI and an operator's token; its alert joins the group but is
        # not sent. Without a token the API refuses; the silence's author is the token's.
        cli = CliRunner(env={"PLANWATCH_TOKEN": token(SILENCES_WRITE, sub="ops-on-call")})
        anonymous = CliRunner(env={"PLANWATCH_TOKEN": "", "PLANWATCH_TOKEN_FILE": ""})
        refused = anonymous.invoke(silence_app, ["list", "--url", service.url])
        assert refused.exit_code == 1 and "401" in refused.output
        added = cli.invoke(
            silence_app,
            ["add", 'target="t-3"', "--author", "ops", "--comment", "检修", "--url", service.url],
        )
        assert added.exit_code == 0, added.output
        sid = added.output.strip()
        stored = await mongo_db["notify_silences"].find_one({"_id": sid})
        assert stored is not None and stored["created_by"] == "ops-on-call"
        listed = cli.invoke(silence_app, ["list", "--url", service.url])
        assert listed.exit_code == 0 and sid in listed.output and 'target="t-3"' in listed.output
        third = alert_event(target="t-3", at=datetime.now(UTC))
        await publish(kafka_bootstrap, f"{topic_name}.alerts", encoded(third))
        await wait_until(
            lambda: metric_value(service.metrics(), "planwatch_notify_alerts_silenced_total") >= 1
        )
        assert len(receiver.at("/hook")) == 1
        expired = cli.invoke(silence_app, ["expire", sid, "--url", service.url])
        assert expired.exit_code == 0, expired.output
        _, after = await receiver.wait_for("/hook", 2)
        targets = sorted(a["labels"]["target"] for a in json.loads(after.body)["alerts"])
        assert targets == ["t-1", "t-2", "t-3"]
        missing = cli.invoke(silence_app, ["expire", "no-such-id", "--url", service.url])
        assert missing.exit_code == 1 and "404" in missing.output
        assert await mongo_db["notify_silences"].count_documents({}) == 1
        audit = await mongo_db["notify_audit"].find({}).sort("at", 1).to_list()
        assert [(a["actor"], a["action"], a["subject"]) for a in audit] == [
            ("ops-on-call", "silence.create", sid),
            ("ops-on-call", "silence.expire", sid),
        ]
    finally:
        assert stopped_cleanly(service)


async def test_sigkill_mid_group_and_mid_retry_loses_nothing_and_repeats_nothing(
    kafka_bootstrap: str,
    topic_name: str,
    http_port: int,
    notify_process: NotifyProcesses,
    receiver: HttpReceiver,
    tmp_path: Path,
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        f"""
route:
  receiver: both
  group_by: [rule]
  group_wait: 3s
  group_interval: 1h
  repeat_interval: 1d
receivers:
  - name: both
    webhook_configs:
      - {{url: "{receiver.url("/good")}", allow_private: true}}
      - {{url: "{receiver.url("/flaky")}", allow_private: true}}
"""
    )
    receiver.script("/flaky", *[Reply(500)] * 10_000)
    first = notify_process(routing, http_port, log="notify-1.log")
    first.start()
    await first.ready()
    now = datetime.now(UTC)
    await publish(
        kafka_bootstrap, f"{topic_name}.alerts", encoded(alert_event(rule="report_overdue", at=now))
    )
    await receiver.wait_for("/good", 1)
    await receiver.wait_for("/flaky", 2)  # failing, retrying

    async def only_flaky_pending() -> bool:
        docs = [d async for d in mongo_db["notify_pending"].find({})]
        return len(docs) == 1 and docs[0]["integration"] == "both/webhook/1"

    await wait_until_true(only_flaky_pending, within=10)
    # A second group: stored, then killed before its group_wait (3 s) is over.
    await publish(
        kafka_bootstrap,
        f"{topic_name}.alerts",
        encoded(alert_event(rule="deadline_near", at=datetime.now(UTC))),
    )

    async def two_groups() -> bool:
        return await mongo_db["notify_groups"].count_documents({}) >= 2

    await wait_until_true(two_groups, within=10, interval=0.02)
    first.kill()
    assert len(receiver.at("/good")) == 1

    receiver.scripts["/flaky"].clear()  # the flaky receiver recovers
    second = notify_process(routing, http_port, log="notify-2.log")
    second.start()
    await second.ready()
    try:
        await wait_until(lambda: sum(r.answered == 200 for r in receiver.at("/flaky")) >= 2)
        await receiver.wait_for("/good", 2)
        # Anything repeated would arrive within 20 more steps of the flush loop (2 s of its
        # 0.1 s ticks): wait for the steps, not for wall time.
        steps = metric_value(second.metrics(), "planwatch_notify_loop_steps_total")
        await wait_until(
            lambda: (
                metric_value(second.metrics(), "planwatch_notify_loop_steps_total") >= steps + 20
            ),
            within=120,
        )
    finally:
        assert stopped_cleanly(second)

    def by_group(path: str) -> dict[str, list[int | None]]:
        seen: dict[str, list[int | None]] = {}
        for request in receiver.at(path):
            rule = json.loads(request.body)["groupLabels"]["rule"]
            seen.setdefault(rule, []).append(request.answered)
        return seen

    good = by_group("/good")
    assert good == {"report_overdue": [200], "deadline_near": [200]}
    flaky = by_group("/flaky")
    assert flaky["deadline_near"] == [200]
    assert flaky["report_overdue"][-1] == 200
    assert flaky["report_overdue"].count(200) == 1
    ids = {
        r.headers["webhook-id"]
        for r in receiver.at("/flaky")
        if json.loads(r.body)["groupLabels"]["rule"] == "report_overdue"
    }
    assert len(ids) == 1  # every retry, across the restart, carried the same webhook-id
    assert await mongo_db["notify_pending"].count_documents({}) == 0


def test_bad_routing_file_is_refused_with_line_and_reason(tmp_path: Path, free_port: int) -> None:
    routing = tmp_path / "bad.yaml"
    routing.write_text(
        "route:\n  receiver: nobody\n  group_wait: 5 minutes\nreceivers:\n  - name: a\n"
    )
    env = {
        **os.environ,
        "NOTIFY_ROUTING_FILE": str(routing),
        "NOTIFY_HTTP__PORT": str(free_port),
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.notify.main"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    stderr = done.stderr.decode()
    assert f"{routing}:2: " in stderr and "nobody" in stderr
    assert f"{routing}:3: " in stderr
