"""The ingest service as replicas: its processes' environment, and one measured run.

Signed progress events (CloudEvents, Kafka binary mode; `planwatch.progress`'s 6 partitions,
keyed by target) are produced at once; the run is done when the reports collection holds every
event and the accepted topic every accepted record (each is stored, then published).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pymongo import AsyncMongoClient

from bench.bench_ingest import Triple
from bench.replica_set import (
    ReplicaSet,
    ReplicaSpec,
    TopicCounter,
    drop_database,
    measure,
    produce,
    row,
)
from bench.results_file import RESULTS
from shared import topics
from shared.contract.keys import AgencyKey
from shared.kafka_admin import ensure_topics
from shared.runtime.publisher import Outbound


class IngestDeployment:
    """One run's topics, group, database and keys file, and the environment of its replicas."""

    def __init__(self, bootstrap: str, uri: str) -> None:
        tag = uuid.uuid4().hex[:10]
        self.topics = {kind: f"bench.{tag}.{kind}" for kind in ("progress", "accepted", "dlt")}
        self.group = f"bench-ingest-{tag}"
        self.database = f"bench_ingest_{tag}"
        self.keys_file = RESULTS / f".bench-keys-{tag}.jsonl"
        self.bootstrap = bootstrap
        self.uri = uri

    def env(self, n: int, port: int, management: int) -> dict[str, str]:
        return {
            "PLANWATCH_AUTH_MODE": "dev",  # loopback only; the Kafka door alone is used
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_CLIENT_ID": f"bench-ingest-{n}",
            "MONGODB_URI": self.uri,
            "MONGODB_DATABASE": self.database,
            "INGEST_GROUP_ID": self.group,
            "INGEST_INPUT_TOPIC": self.topics["progress"],
            "INGEST_ACCEPTED_TOPIC": self.topics["accepted"],
            "INGEST_DEAD_LETTER_TOPIC": self.topics["dlt"],
            "INGEST_KEYS_FILE": str(self.keys_file),
            "INGEST_HTTP__PORT": str(port),
            "INGEST_MANAGEMENT_PORT": str(management),
            "INGEST_LOG_LEVEL": "WARNING",
        }

    def spec(self) -> ReplicaSpec:
        return ReplicaSpec("ingest", self.env, (self.group,), self.bootstrap)

    async def prepare(self, keys: Sequence[AgencyKey]) -> None:
        self.keys_file.write_text("".join(k.model_dump_json() + "\n" for k in keys), "utf-8")
        await ensure_topics(
            self.bootstrap,
            {
                self.topics["progress"]: topics.PARTITIONS[topics.PROGRESS],
                self.topics["accepted"]: topics.PARTITIONS[topics.ACCEPTED],
                self.topics["dlt"]: 1,
            },
            configs={self.topics["progress"]: topics.PROGRESS_CONFIG},
        )

    def record(self, triple: Triple) -> Outbound:
        key, value, headers = triple
        return Outbound(self.topics["progress"], value, key=key, headers=tuple(headers))


async def ingest_run(
    count: int, triples: Sequence[Triple], keys: Sequence[AgencyKey], endpoints: tuple[str, str]
) -> dict[str, Any]:
    bootstrap, uri = endpoints
    deployment = IngestDeployment(bootstrap, uri)
    await deployment.prepare(keys)
    replicas = ReplicaSet(deployment.spec(), count)
    records = [deployment.record(t) for t in triples]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    reports = client[deployment.database]["reports"]
    accepted = TopicCounter(
        bootstrap, deployment.topics["accepted"], topics.PARTITIONS[topics.ACCEPTED]
    )

    async def send() -> None:
        await produce(bootstrap, records)

    async def done() -> int:
        return min(await reports.count_documents({}), await accepted.count())

    try:
        await accepted.start()
        await replicas.start()
        measured = await measure(replicas, endpoints, send, done, len(records))
    finally:
        replicas.stop()
        await accepted.stop()
        await client.close()
        await drop_database(uri, deployment.database)
        deployment.keys_file.unlink(missing_ok=True)
    return row("ingest", count, len(records), measured)
