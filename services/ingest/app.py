"""The ingest service's composition root: the one place where it is wired together.

Skeleton: it consumes its input topic durably (explicit commits) and does nothing else yet.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from faststream.kafka.annotations import KafkaMessage

from services.ingest.config import IngestSettings
from shared import topics
from shared.runtime.host import ServiceHost, build_http_app, new_registry
from shared.runtime.kafka import DurableBatchProcessor, Record, failure_kind, make_broker
from shared.runtime.metrics import RuntimeMetrics
from shared.runtime.mongo import make_client
from shared.kafka_admin import ensure_topics


def create_app(settings: IngestSettings) -> FastAPI:
    broker = make_broker(settings.kafka, graceful_timeout_s=settings.graceful_timeout_s)
    host = ServiceHost(
        name="ingest",
        settings=settings,
        broker=broker,
        mongo=make_client(settings.mongo),
        registry=new_registry(),
    )
    runtime_metrics = RuntimeMetrics(host.registry, "ingest")
    processor = DurableBatchProcessor(
        retry=settings.retry,
        on_retry=lambda exc: runtime_metrics.batch_retries.labels(failure_kind(exc)).inc(),
    )

    async def create_topics() -> None:
        await ensure_topics(settings.kafka.bootstrap_servers, topics.PARTITIONS)

    host.on_start.append(create_topics)

    async def work(records: Sequence[Record]) -> None:
        return None

    @broker.subscriber(
        settings.input_topic,
        group_id=settings.group_id,
        auto_offset_reset="earliest",
        batch=True,
        max_records=settings.kafka.max_batch_records,
        batch_timeout_ms=settings.kafka.batch_timeout_ms,
        listener=processor.gate,
    )
    async def consume(msg: KafkaMessage) -> None:
        consumer: AIOKafkaConsumer = msg.consumer
        await processor.process(consumer, msg.raw_message, work)

    return build_http_app(host)
