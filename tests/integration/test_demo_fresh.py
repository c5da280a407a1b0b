"""A demo run starts its consumer groups at the end of their topics: what an interrupted
earlier run left unconsumed is skipped, not fed into the fresh database."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from planwatch.demo.fresh import reset_groups_to_latest
from shared.kafka_admin import ensure_topics
from shared.runtime.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def test_groups_are_moved_to_the_end_of_their_topics(
    kafka_bootstrap: str, topic_name: str, group_id: str
) -> None:
    await ensure_topics(kafka_bootstrap, {topic_name: 2})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic_name, b"left over %d" % n, partition=n % 2)
    finally:
        await producer.stop()

    skipped = await reset_groups_to_latest(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), {group_id: {topic_name: 2}}
    )
    assert skipped == {group_id: 5}
    assert await reset_groups_to_latest(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), {group_id: {topic_name: 2}}
    ) == {group_id: 0}

    consumer = AIOKafkaConsumer(
        topic_name,
        bootstrap_servers=kafka_bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=2000)
        assert sum(len(records) for records in batches.values()) == 0
        assert await consumer.committed(TopicPartition(topic_name, 0)) == 3
        assert await consumer.committed(TopicPartition(topic_name, 1)) == 2
    finally:
        await consumer.stop()
