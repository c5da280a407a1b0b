"""The notify service as replicas: its processes' environment, and one measured run.

Firing alerts, three per task, one aggregation group per task (`group_by: [task]`,
`group_wait: 0s`), are produced at once to the alerts topic (6 partitions, keyed by target,
as scoring publishes them); each replica routes what it consumes onto the groups topic (keyed
by group), the owner of a group's partition stores the alert into the group, flushes it and
delivers one signed webhook to a local HTTP receiver in this process. The run is done when the
receiver has had one delivery per group. The flush loop ticks at production's default
(`NOTIFY_TICK_S`, 1 s): a tick bounds a due group's wait, and each tick of each replica reads
every stored group (inhibition needs them all), so a shorter tick costs the database more.
"""

from __future__ import annotations

import uuid
from typing import Any

from bench.bench_notify import SECRET, Receiver, alert_events, routing
from bench.replica_set import ReplicaSet, ReplicaSpec, drop_database, measure, produce, row
from bench.results_file import RESULTS
from shared import topics
from shared.contract.alert_event import AlertEvent, encode_alert_event
from shared.kafka_admin import ensure_topics
from shared.runtime.publisher import Outbound, text_headers

ALERTS_PER_GROUP = 3
JSON_HEADERS = text_headers({"content-type": "application/json"})


class NotifyDeployment:
    """One run's topics, groups, database and routing file, and its replicas' environment."""

    def __init__(self, bootstrap: str, uri: str, receiver_port: int) -> None:
        tag = uuid.uuid4().hex[:10]
        kinds = ("alerts", "groups", "notifications", "dlt")
        self.topics = {kind: f"bench.{tag}.{kind}" for kind in kinds}
        self.group = f"bench-notify-{tag}"
        self.database = f"bench_notify_{tag}"
        self.routing_file = RESULTS / f".bench-routing-{tag}.yaml"
        self.receiver_port = receiver_port
        self.bootstrap = bootstrap
        self.uri = uri

    def env(self, n: int, port: int, management: int) -> dict[str, str]:
        return {
            "PLANWATCH_AUTH_MODE": "dev",  # loopback only; the bench calls no HTTP route
            "BENCH_SECRET": SECRET,  # the webhook's signing secret (routing: env:BENCH_SECRET)
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_CLIENT_ID": f"bench-notify-{n}",
            "MONGODB_URI": self.uri,
            "MONGODB_DATABASE": self.database,
            "NOTIFY_GROUP_ID": self.group,
            "NOTIFY_INPUT_TOPIC": self.topics["alerts"],
            "NOTIFY_GROUPS_TOPIC": self.topics["groups"],
            "NOTIFY_NOTIFICATIONS_TOPIC": self.topics["notifications"],
            "NOTIFY_DLT_TOPIC": self.topics["dlt"],
            "NOTIFY_ROUTING_FILE": str(self.routing_file),
            "NOTIFY_HTTP__PORT": str(port),
            "NOTIFY_MANAGEMENT_PORT": str(management),
            "NOTIFY_LOG_LEVEL": "WARNING",
        }

    def spec(self) -> ReplicaSpec:
        return ReplicaSpec("notify", self.env, (self.group, f"{self.group}.groups"), self.bootstrap)

    async def prepare(self) -> None:
        self.routing_file.write_text(routing(self.receiver_port, group_by="[task]"), "utf-8")
        await ensure_topics(
            self.bootstrap,
            {
                self.topics["alerts"]: topics.PARTITIONS[topics.ALERTS],
                self.topics["groups"]: topics.PARTITIONS[topics.NOTIFY_GROUPS],
                self.topics["notifications"]: topics.PARTITIONS[topics.NOTIFICATIONS],
                self.topics["dlt"]: 1,
            },
        )

    def record(self, event: AlertEvent) -> Outbound:
        headers = (*JSON_HEADERS, ("alert-id", event.id.encode("utf-8")))
        key = (event.labels.target or "").encode("utf-8")
        return Outbound(self.topics["alerts"], encode_alert_event(event), key=key, headers=headers)


async def notify_run(count: int, groups: int, endpoints: tuple[str, str]) -> dict[str, Any]:
    """`groups` aggregation groups of three alerts each, through `count` replicas."""
    bootstrap, uri = endpoints
    receiver = Receiver()
    await receiver.start()
    deployment = NotifyDeployment(bootstrap, uri, receiver.port)
    await deployment.prepare()
    replicas = ReplicaSet(deployment.spec(), count)
    records = [deployment.record(e) for e in alert_events(groups)]

    async def send() -> None:
        await produce(bootstrap, records)

    async def delivered() -> int:
        return receiver.count

    try:
        await replicas.start()
        measured = await measure(replicas, endpoints, send, delivered, groups)
    finally:
        replicas.stop()
        await receiver.stop()
        await drop_database(uri, deployment.database)
        deployment.routing_file.unlink(missing_ok=True)
    result = row("notify", count, len(records), measured)
    result["deliveries"] = receiver.count
    result["deliveries_per_s"] = round(receiver.count / measured.seconds, 1)
    return result
