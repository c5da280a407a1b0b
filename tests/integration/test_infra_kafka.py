"""The real Kafka: FastStream manual acknowledgement and redelivery, idempotent topic setup."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import MessageSizeTooLargeError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared import topics
from shared.kafka_admin import TopicSetupError, TopicSpecError, ensure_topics

pytestmark = pytest.mark.integration


async def _consume(bootstrap: str, topic: str, group: str, want: int, *, commit: bool) -> list[str]:
    """Runs a manual-ack subscriber until `want` messages arrived; acks the last one if `commit`.

    The broker is stopped before returning, so without `commit` nothing is committed.
    """
    broker = KafkaBroker(bootstrap)
    received: list[str] = []
    done = asyncio.Event()

    @broker.subscriber(
        topic, group_id=group, auto_offset_reset="earliest", ack_policy=AckPolicy.MANUAL
    )
    async def handle(body: str, msg: KafkaMessage) -> None:
        received.append(body)
        if len(received) == want:
            if commit:
                await msg.ack()  # commits the consumer's position: everything so far
            done.set()

    await broker.start()
    try:
        async with asyncio.timeout(60):
            await done.wait()
    finally:
        await broker.stop()
    return received


async def test_manual_ack_redelivers_until_committed(
    kafka_bootstrap: str, topic_name: str, group_id: str
) -> None:
    await ensure_topics(kafka_bootstrap, {topic_name: 1})
    sent = ["m1", "m2", "m3"]
    async with KafkaBroker(kafka_bootstrap) as publisher:
        for body in sent:
            await publisher.publish(body, topic_name)

    # Received but never acknowledged: the group has no committed offset afterwards.
    first = await _consume(kafka_bootstrap, topic_name, group_id, 3, commit=False)
    assert first == sent

    # Same group again: the uncommitted messages come back; this time they are committed.
    second = await _consume(kafka_bootstrap, topic_name, group_id, 3, commit=True)
    assert second == sent

    # A third start sees only what is new: the first message it gets is the new one.
    async with KafkaBroker(kafka_bootstrap) as publisher:
        await publisher.publish("m4", topic_name)
    third = await _consume(kafka_bootstrap, topic_name, group_id, 1, commit=True)
    assert third == ["m4"]


async def test_ensure_topics_is_idempotent_and_checks_partitions(
    kafka_bootstrap: str, unique_id: str
) -> None:
    topics = {f"test.{unique_id}.a": 3, f"test.{unique_id}.b": 1}
    await ensure_topics(kafka_bootstrap, topics)
    await ensure_topics(kafka_bootstrap, topics)  # second call: no error, nothing changes

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    counts = {t["topic"]: len(t["partitions"]) for t in described}
    assert counts == topics

    with pytest.raises(TopicSetupError, match="exists with 3 partition"):
        await ensure_topics(kafka_bootstrap, {f"test.{unique_id}.a": 2})


@pytest.mark.parametrize("spec", [{"bad name": 1}, {"": 1}, {"ok": 0}, {"..": 1}])
async def test_ensure_topics_rejects_bad_specs(kafka_bootstrap: str, spec: dict[str, int]) -> None:
    with pytest.raises(TopicSpecError):
        await ensure_topics(kafka_bootstrap, spec)


async def test_the_progress_topic_refuses_a_decompression_bomb(
    kafka_bootstrap: str, topic_name: str
) -> None:
    """planwatch.progress as ensure_topics makes it (shared/topics.py: stored uncompressed,
    1 MiB per batch): the broker inflates a gzip batch and refuses one that is too large
    inflated, though it is small compressed; an ordinary compressed batch is taken. (With the
    broker's default `compression.type=producer` the bomb is accepted: checked first.)"""
    plain, bounded = f"{topic_name}.plain", f"{topic_name}.progress"
    await ensure_topics(kafka_bootstrap, {plain: 1})
    await ensure_topics(kafka_bootstrap, {bounded: 1}, configs={bounded: topics.PROGRESS_CONFIG})
    bomb = b"\0" * 4_000_000  # about 4 KB gzipped
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, compression_type="gzip", max_request_size=8_000_000
    )
    await producer.start()
    try:
        await producer.send_and_wait(plain, bomb)  # the default keeps the bomb compressed
        with pytest.raises(MessageSizeTooLargeError):
            await producer.send_and_wait(bounded, bomb)
        await producer.send_and_wait(bounded, b'{"ordinary": "event"}' * 1000)
    finally:
        await producer.stop()
