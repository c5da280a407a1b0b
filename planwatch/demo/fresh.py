"""A fresh start for a demo run on the platform's own topics: the services' consumer groups
are moved to the end of their input topics before the services start.

Without it, events a previous run left unconsumed (it was stopped mid-feed) would flow into
this run's freshly reset database. This is `kafka-consumer-groups --reset-offsets --to-latest`
for groups that have no running member (the demo starts the services afterwards).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared.runtime.kafka_security import client_options
from shared.runtime.settings import KafkaSettings


async def reset_groups_to_latest(
    kafka: KafkaSettings, groups: Mapping[str, Mapping[str, int]]
) -> dict[str, int]:
    """For each group, {topic: partition count} (the topics must exist): commit every
    partition's end offset; returns, per group, how many records it skipped."""
    skipped: dict[str, int] = {}
    for group, group_topics in groups.items():
        consumer = AIOKafkaConsumer(
            **client_options(kafka),
            group_id=group,
            enable_auto_commit=False,
            client_id="planwatch-demo-reset",
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic, count in group_topics.items()
                for p in range(count)
            ]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            committed = [await consumer.committed(tp) for tp in partitions]
            skipped[group] = sum(
                ends[tp] - (offset if offset is not None else 0)
                for tp, offset in zip(partitions, committed, strict=True)
            )
            await consumer.commit({tp: OffsetAndMetadata(ends[tp], "") for tp in partitions})
        finally:
            await consumer.stop()
    return skipped
