"""Who holds which partitions: the consumer groups' members as the broker describes them,
by Kafka client id (each replica of a cluster has its own)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from shared.kafka_admin import admin_options
from shared.runtime.settings import KafkaSettings

# client id -> topic -> partitions
Assignments = dict[str, dict[str, list[int]]]


def assignments(groups: Iterable[dict[str, Any]]) -> dict[str, Assignments]:
    """Per group, each member's partitions (a DescribeGroups response's groups, as objects).
    Members of one client id are merged (a service may run more than one consumer)."""
    found: dict[str, Assignments] = {}
    for group in groups:
        members: Assignments = {}
        for member in group.get("members") or []:
            topics = members.setdefault(str(member["client_id"]), {})
            raw = member.get("member_assignment") or b""
            if not raw:
                continue  # joined, not yet assigned
            decoded = ConsumerProtocolMemberAssignment.decode(raw)
            for topic, partitions in decoded.assignment:
                topics[topic] = sorted({*topics.get(topic, []), *partitions})
        found[str(group["group"])] = members
    return found


async def describe(kafka: KafkaSettings, group_ids: list[str]) -> dict[str, Assignments]:
    """The groups' members and their partitions, from the broker."""
    admin = AIOKafkaAdminClient(**admin_options(kafka), client_id="planwatch-cluster-status")
    await admin.start()
    described: list[dict[str, Any]] = []
    try:
        # One group per request: aiokafka 0.14 sends DescribeGroups v3 and reads the answer
        # with v2's layout, which has no trailing authorized_operations per group. With one
        # group only that last field is left unread; with several, the next group is misread.
        for group_id in group_ids:
            for response in await admin.describe_consumer_groups([group_id]):
                described.extend(response.to_object()["groups"])
    finally:
        await admin.close()
    return assignments(described)


def by_client(groups: dict[str, Assignments]) -> dict[str, tuple[str, dict[str, list[int]]]]:
    """client id -> (its group, its partitions by topic)."""
    out: dict[str, tuple[str, dict[str, list[int]]]] = {}
    merged: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for group, members in groups.items():
        for client, topics in members.items():
            merged[client].update(topics)
            out[client] = (group, merged[client])
    return out
