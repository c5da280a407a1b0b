"""notify as N replicas in one consumer group over the real Kafka and FerretDB: alerts are
routed at intake and re-keyed by group on the internal groups topic, so exactly one replica
owns each group. Every group is delivered exactly once, through a rebalance (a replica added
mid-stream) too, and a silence created through one replica's API mutes on whichever replica
owns the alert's group."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from shared.kafka_admin import ensure_topics
from shared.runtime.auth import SILENCES_WRITE
from tests.integration import notify_subprocess
from tests.integration.auth_support import headers
from tests.integration.notify_subprocess import NotifyProcesses
from tests.integration.notify_support import (
    HttpReceiver,
    alert_event,
    encoded,
    wait_until_true,
)
from tests.integration.service_process import ServiceProcess
from tests.integration.test_notify_service import metric_value, publish
from tests.integration.test_scoring_replicas import _port

pytestmark = pytest.mark.integration
notify_process = notify_subprocess.notify_process  # the fixture, for pytest to find here

ROUTING = """
route:
  receiver: hook
  group_by: [target]
  group_wait: 1s
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: hook
    webhook_configs:
      - {url: "URL", secret: "env:NOTIFY_TEST_SECRET", allow_private: true}
"""


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    server = HttpReceiver()
    await server.start()
    yield server
    await server.stop()


async def metric(service: ServiceProcess, name: str) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        return metric_value((await http.get(f"{service.management_url}/metrics")).text, name)


def group_keys(receiver: HttpReceiver) -> Counter[str]:
    return Counter(json.loads(r.body)["groupKey"] for r in receiver.at("/hook"))


async def test_each_group_is_delivered_once_by_its_owner_through_a_rebalance(
    kafka_bootstrap: str,
    topic_name: str,
    notify_process: NotifyProcesses,
    receiver: HttpReceiver,
    tmp_path: Path,
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING.replace("URL", receiver.url("/hook")), "utf-8")
    await ensure_topics(
        kafka_bootstrap,
        {f"{topic_name}.alerts": 6, f"{topic_name}.groups": 6},
    )

    def replica(n: int) -> ServiceProcess:
        port = _port()
        env = {"KAFKA_CLIENT_ID": f"notify-{n}", "KAFKA_SESSION_TIMEOUT_MS": "6000"}
        return notify_process(routing, port, log=f"notify-{n}.log", env=env)

    services = [replica(0), replica(1)]
    try:
        for service in services:
            service.start()
        for service in services:
            await service.ready()

        async def shared_by(members: list[ServiceProcess]) -> bool:
            owned = [await metric(s, "planwatch_notify_partitions_owned") for s in members]
            return sum(owned) == 6 and min(owned) > 0

        await wait_until_true(lambda: shared_by(services), within=120, interval=0.5)

        # A silence created through replica 0 mutes the alert whichever replica owns it.
        now = datetime.now(UTC)
        silence = {
            "matchers": [{"name": "target", "value": "t-muted", "isRegex": False}],
            "startsAt": (now - timedelta(minutes=1)).isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "test",
            "comment": "muted across replicas",
        }
        async with httpx.AsyncClient(
            base_url=services[0].url, timeout=10, headers=headers(SILENCES_WRITE)
        ) as http:
            assert (await http.post("/api/v2/silences", json=silence)).status_code == 200

        first = [alert_event(target=f"t-{i:02d}", at=now) for i in range(24)]
        await publish(
            kafka_bootstrap,
            f"{topic_name}.alerts",
            *[encoded(e) for e in first],
            encoded(alert_event(target="t-muted", at=now)),
        )
        await receiver.wait_for("/hook", 24, within=120)

        # A third replica joins mid-stream: the groups move, none is delivered twice or lost.
        services.append(replica(2))
        services[2].start()
        second = [alert_event(target=f"t-{i:02d}", at=now) for i in range(24, 48)]
        await publish(kafka_bootstrap, f"{topic_name}.alerts", *[encoded(e) for e in second])
        await services[2].ready()
        await wait_until_true(lambda: shared_by(services), within=120, interval=0.5)
        await receiver.wait_for("/hook", 48, within=120)

        async def settled() -> bool:
            pending = [await metric(s, "planwatch_notify_notifications_pending") for s in services]
            muted = sum(
                [await metric(s, "planwatch_notify_alerts_silenced_total") for s in services]
            )
            return sum(pending) == 0 and muted >= 1

        await wait_until_true(settled, within=60, interval=0.5)
        keys = group_keys(receiver)
        assert len(keys) == 48, sorted(keys)
        assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]
        assert not any("t-muted" in key for key in keys)
        assert sum([await metric(s, "planwatch_notify_fenced_sends_total") for s in services]) == 0
    finally:
        for service in services:
            service.stop()
