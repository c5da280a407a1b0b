"""The scoring service as replicas: its processes' environment, and one measured run.

Accepted events (`planwatch.accepted`'s 6 partitions, keyed by target) are produced at once;
the run is done when the points log holds every point they make (counted beforehand by the
same engine in memory).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pymongo import AsyncMongoClient

from bench.replica_set import ReplicaSet, ReplicaSpec, drop_database, measure, produce, row
from services.scoring.engine import ScoringEngine
from services.scoring.memory_store import InMemoryScoringStore
from shared import topics
from shared.accepted import AcceptedEvent
from shared.domain.catalog import Catalog
from shared.kafka_admin import ensure_topics
from shared.runtime.publisher import Outbound

TOPIC_KINDS = ("accepted", "clock", "sync", "scores", "alerts", "dlt")


async def points_made(catalog: Catalog, events: Sequence[AcceptedEvent]) -> dict[str, str]:
    """The points-log documents the events make (their `_id` -> event id): the same engine, in
    memory. An event that wins no (target, date, agency) slot makes none."""

    async def publish_nothing(_: Sequence[Any]) -> None:
        return None

    store = InMemoryScoringStore()
    await ScoringEngine(catalog, store, publish_nothing, base_url="http://bench").apply(events)
    return {key: str(doc["event_id"]) for key, doc in store.points.items()}


class ScoringDeployment:
    """One run's topics, group and database, and the environment of its replicas."""

    def __init__(self, bootstrap: str, uri: str) -> None:
        tag = uuid.uuid4().hex[:10]
        self.topics = {kind: f"bench.{tag}.{kind}" for kind in TOPIC_KINDS}
        self.group = f"bench-{tag}"
        self.database = f"bench_{tag}"
        self.bootstrap = bootstrap
        self.uri = uri

    def env(self, n: int, port: int, management: int) -> dict[str, str]:
        t = self.topics
        return {
            "PLANWATCH_AUTH_MODE": "dev",  # loopback only; the bench calls no HTTP route
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_CLIENT_ID": f"bench-scoring-{n}",
            "MONGODB_URI": self.uri,
            "MONGODB_DATABASE": self.database,
            "SCORING_GROUP_ID": self.group,
            "SCORING_INPUT_TOPIC": t["accepted"],
            "SCORING_CLOCK_TOPIC": t["clock"],
            "SCORING_SYNC_TOPIC": t["sync"],
            "SCORING_SCORES_TOPIC": t["scores"],
            "SCORING_ALERTS_TOPIC": t["alerts"],
            "SCORING_DLT_TOPIC": t["dlt"],
            "SCORING_HTTP__PORT": str(port),
            "SCORING_MANAGEMENT_PORT": str(management),
            "SCORING_LOG_LEVEL": "WARNING",
        }

    def spec(self) -> ReplicaSpec:
        return ReplicaSpec("scoring", self.env, (self.group,), self.bootstrap)

    async def create_topics(self) -> None:
        await ensure_topics(
            self.bootstrap,
            {
                self.topics["accepted"]: topics.PARTITIONS[topics.ACCEPTED],
                self.topics["clock"]: 1,
                self.topics["sync"]: 1,
                self.topics["scores"]: topics.PARTITIONS[topics.SCORES],
                self.topics["alerts"]: topics.PARTITIONS[topics.ALERTS],
                self.topics["dlt"]: 1,
            },
        )

    def record(self, event: AcceptedEvent) -> Outbound:
        return Outbound(self.topics["accepted"], event.to_json(), key=event.target.encode())


async def scoring_run(
    count: int, events: Sequence[AcceptedEvent], expected: int, endpoints: tuple[str, str]
) -> dict[str, Any]:
    bootstrap, uri = endpoints
    deployment = ScoringDeployment(bootstrap, uri)
    await deployment.create_topics()
    replicas = ReplicaSet(deployment.spec(), count)
    records = [deployment.record(e) for e in events]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    points = client[deployment.database]["scoring_points"]

    async def send() -> None:
        await produce(bootstrap, records)

    async def stored() -> int:
        return await points.count_documents({})

    try:
        await replicas.start()
        measured = await measure(replicas, endpoints, send, stored, expected)
    finally:
        replicas.stop()
        await client.close()
        await drop_database(uri, deployment.database)
    return row("scoring", count, len(events), measured)
