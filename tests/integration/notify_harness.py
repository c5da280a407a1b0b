"""The notify service built in-process on the real Kafka and FerretDB with a manual clock, so
the tests drive intake, flushes and deliveries step by step."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from services.notify.app import NotifyService, build_service
from services.notify.clock import ManualClock
from services.notify.config import DeliverySettings, NotifySettings, SmtpSettings
from services.notify.domain.config import load_routing
from services.notify.intake import IntakeResult
from services.notify.mongo_store import MongoNotifyStore
from shared.contract.alert_event import AlertEvent
from shared.kafka_admin import ensure_topics
from shared.runtime.publisher import KafkaPublisher
from shared.runtime.settings import KafkaSettings
from tests.integration.notify_support import HttpReceiver

# Near the wall clock: Standard Webhooks receivers refuse timestamps 5 minutes off.
T0 = datetime.now(UTC).replace(microsecond=0)
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


# One webhook receiver at the local HTTP server, one group per target.
ONE_HOOK_ROUTING = """
route:
  receiver: hook
  group_by: [target]
  group_wait: 10s
  group_interval: 5m
receivers:
  - name: hook
    webhook_configs:
      - {url: "{http}/hook", secret: "env:NOTIFY_TEST_SECRET", allow_private: true}
"""


@dataclass
class Harness:
    service: NotifyService
    clock: ManualClock
    http: HttpReceiver
    publisher: KafkaPublisher
    settings: NotifySettings
    registry: CollectorRegistry
    bootstrap: str
    prefix: str  # the test's topic prefix ({topic} in the routing text)
    db: AsyncDatabase[dict[str, Any]]  # what the service's store writes to

    async def send(self, event: AlertEvent) -> IntakeResult:
        return await self.service.intake.apply(event)

    async def tick(self, advance_s: float = 0.0) -> None:
        """Move the clock, flush what is due, deliver what is due (and wait for it)."""
        if advance_s:
            self.clock.advance(advance_s)
        now = self.clock.now()
        await self.service.flusher.flush_due(now)
        await self.service.worker.run_due(now)

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        value = self.registry.get_sample_value(name, labels or {})
        return 0.0 if value is None else value


MakeHarness = Callable[..., Awaitable[Harness]]


async def read_topic(
    bootstrap: str, topic: str, count: int, within: float = 20.0
) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    """The first `count` records of `topic` (key, value, headers)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []
    try:
        async with asyncio.timeout(within):
            while len(out) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    out.extend((r.key, r.value or b"", dict(r.headers)) for r in records)
    finally:
        await consumer.stop()
    return out


def body(request_body: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(request_body)
    return parsed


@pytest_asyncio.fixture
async def make_harness(
    kafka_bootstrap: str,
    mongo_db: AsyncDatabase[dict[str, Any]],
    topic_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[MakeHarness]:
    """`await make_harness(routing_yaml, delivery=..., smtp_port=...)`; `{http}` in the YAML
    is the local receiver's base URL, `{topic}` a fresh topic prefix."""
    monkeypatch.setenv("NOTIFY_TEST_SECRET", SECRET)
    made: list[Harness] = []

    async def make(
        routing: str,
        *,
        delivery: DeliverySettings | None = None,
        smtp_port: int = 25,
        http: HttpReceiver | None = None,
    ) -> Harness:
        receiver = http or HttpReceiver()
        if http is None:
            await receiver.start()
        text = routing.replace("{http}", f"http://127.0.0.1:{receiver.port}").replace(
            "{topic}", topic_name
        )
        config = load_routing(text, "test-routing.yaml")
        settings = NotifySettings(
            kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
            notifications_topic=f"{topic_name}.notifications",
            dlt_topic=f"{topic_name}.dlt",
            smtp=SmtpSettings(port=smtp_port, timeout_s=5),
            delivery=delivery or DeliverySettings(http_timeout_s=1.0, backoff_base_s=1.0),
        )
        wanted = {settings.notifications_topic: 1, settings.dlt_topic: 1}
        for receiver_config in config.receivers.values():
            for integration in receiver_config.integrations:
                topic = getattr(integration.config, "topic", None)
                if topic:
                    wanted[topic] = 1
        await ensure_topics(kafka_bootstrap, wanted)
        publisher = KafkaPublisher.for_settings(settings.kafka, "notify-test")
        await publisher.start()
        registry = CollectorRegistry()
        clock = ManualClock(T0)
        service = build_service(
            settings,
            config,
            store=MongoNotifyStore(mongo_db),
            publisher=publisher,
            registry=registry,
            clock=clock,
            rng=random.Random(7),
        )
        harness = Harness(
            service,
            clock,
            receiver,
            publisher,
            settings,
            registry,
            kafka_bootstrap,
            topic_name,
            mongo_db,
        )
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.service.worker.drain()
        await harness.service.http_client.aclose()
        await harness.publisher.stop()
        await harness.http.stop()
