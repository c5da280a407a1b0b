"""What the demo watches while the feed runs: scoring's read API, the dead-letter and
notifications topics and the stored reports. Read-only, over the services' public surfaces
(HTTP, Kafka, MongoDB)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from planwatch.http_token import auth_headers
from shared.runtime.kafka_security import client_options
from shared.runtime.settings import KafkaSettings

DLT_REASON_HEADER: Final = "x-dlt-reason"  # set by ingest on every dead letter
RECEIVER_HEADER: Final = "receiver"  # set by notify on every notification it publishes


@dataclass(frozen=True)
class ScoringSnapshot:
    """Target statuses as scoring serves them; `clock` is scoring's event-time clock."""

    clock: str | None = None
    statuses: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def by_status(self) -> Counter[str]:
        return Counter(self.statuses.values())


class ScoringPoller:
    def __init__(self, base_url: str, plan: str) -> None:
        self._url = f"{base_url.rstrip('/')}/v1/plans/{plan}/targets"
        self._client = httpx.AsyncClient(timeout=5.0, headers=auth_headers())
        self.latest = ScoringSnapshot(error="not polled yet")

    async def poll(self) -> ScoringSnapshot:
        try:
            response = await self._client.get(self._url)
        except httpx.HTTPError as exc:
            self.latest = ScoringSnapshot(error=f"scoring unreachable: {exc!r}")
            return self.latest
        if response.status_code == 404:
            self.latest = ScoringSnapshot(error="not scored yet")
            return self.latest
        if response.status_code != 200:
            self.latest = ScoringSnapshot(error=f"scoring answered {response.status_code}")
            return self.latest
        body: dict[str, Any] = response.json()
        statuses = {str(t["id"]): str(t["status"]) for t in body.get("targets", [])}
        clock = body.get("clock") or body.get("at")
        self.latest = ScoringSnapshot(str(clock) if clock else None, statuses)
        return self.latest

    async def close(self) -> None:
        await self._client.aclose()


class TopicCounter:
    """Counts the records written to a topic after `start`, by the value of one header (the
    reason ingest puts on a dead letter; the receiver notify puts on a notification)."""

    def __init__(
        self, kafka: KafkaSettings, topic: str, partitions: int = 1, *, by_header: str
    ) -> None:
        self.topic = topic
        self.partitions = partitions
        self.by_header = by_header
        self.counts: Counter[str] = Counter()
        self._consumer = AIOKafkaConsumer(
            **client_options(kafka),
            enable_auto_commit=False,
            client_id=f"planwatch-demo-{topic}",
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Remember where the topic ends now; count only what comes after."""
        await self._consumer.start()
        assigned = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        self._consumer.assign(assigned)
        ends = await self._consumer.end_offsets(assigned)
        for partition, offset in ends.items():
            self._consumer.seek(partition, offset)
        self._task = asyncio.create_task(self._run(), name=f"demo counter {self.topic}")

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    value = dict(record.headers).get(self.by_header, b"?")
                    self.counts[value.decode(errors="replace")] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._consumer.stop()


async def count_documents(mongodb_uri: str, database: str, collection: str) -> int | None:
    """How many documents a collection holds (None if MongoDB does not answer)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb_uri, serverSelectionTimeoutMS=3000
    )
    try:
        return await client[database][collection].count_documents({})
    except Exception:
        return None
    finally:
        await client.close()
