"""The shared batch subscriber on the real Kafka: undecodable records reach the service's work
(which dead-letters them) instead of failing the batch, and the offsets are committed after it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka.annotations import KafkaMessage

from shared.kafka_admin import ensure_topics
from shared.runtime.kafka import DurableBatchProcessor, Record, batch_subscriber, make_broker
from shared.runtime.settings import KafkaSettings, RetrySettings

pytestmark = pytest.mark.integration

JSON = [("content-type", b"application/json")]


async def test_undecodable_record_mid_batch_reaches_the_work_and_is_committed(
    kafka_bootstrap: str, topic_name: str, group_id: str
) -> None:
    await ensure_topics(kafka_bootstrap, {topic_name: 1})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic_name, b'{"n": 1}', headers=JSON)
        # Not JSON although it says so, and a header value that is not UTF-8: FastStream's
        # default parser and decoder would fail the whole batch before the handler ran.
        await producer.send_and_wait(
            topic_name, b"\xff not json", headers=[*JSON, ("x-bad", b"\xfe\xff")]
        )
        await producer.send_and_wait(topic_name, b'{"n": 3}', headers=JSON)
    finally:
        await producer.stop()

    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, batch_timeout_ms=20)
    broker = make_broker(kafka, graceful_timeout_s=5)
    processor = DurableBatchProcessor(retry=RetrySettings())
    seen: list[bytes] = []
    done = asyncio.Event()

    async def work(records: Sequence[Record]) -> None:
        seen.extend(record.value or b"" for record in records)
        if len(seen) >= 3:
            done.set()

    @batch_subscriber(broker, topic_name, group_id=group_id, kafka=kafka, gate=processor.gate)
    async def consume(msg: KafkaMessage) -> None:
        consumer: AIOKafkaConsumer = msg.consumer
        await processor.process(consumer, msg.raw_message, work)

    await broker.start()
    try:
        async with asyncio.timeout(60):
            await done.wait()
    finally:
        await broker.stop()

    assert seen == [b'{"n": 1}', b"\xff not json", b'{"n": 3}']
    # The raw record keeps its original header bytes (dead letters must carry them unchanged).
    check = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group_id)
    await check.start()
    try:
        committed = await check.committed(TopicPartition(topic_name, 0))
    finally:
        await check.stop()
    assert committed == 3
