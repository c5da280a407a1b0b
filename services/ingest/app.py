"""The ingest service's composition root: the one place where it is wired together.

Kafka door: a batch subscriber on the progress topic with manual commits through
`DurableBatchProcessor`, whose work is `Intake.kafka_batch`. HTTP door: `POST /v1/events`
(scope `events:write`); key administration: `/v1/admin/...` (scope `keys:admin`, audit-logged).
Start-up (in order, retried while the servers do not answer): topics, the producer, the key
registry (file keys merged into MongoDB, then the first snapshot), the key refresher; then
the broker starts consuming.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from faststream.kafka.annotations import KafkaMessage

from services.ingest.config import IngestSettings
from services.ingest.http_door import build_router
from services.ingest.intake import Intake, JudgedBatch, Topics
from services.ingest.key_admin import key_admin_router
from services.ingest.keyring import KeyRegistry, MongoKeyRepository, load_keys_file
from services.ingest.metrics import IngestMetrics
from services.ingest.rate_limit import TokenBuckets
from services.ingest.store import MongoReportStore
from services.ingest.validation import KeySnapshot, Limits
from services.ingest.verifier import InlineVerifier, ProcessVerifier
from shared import topics
from shared.catalog import load_catalog
from shared.contract.keys import KeyStatus
from shared.kafka_admin import ensure_topics
from shared.runtime.audit import MongoAuditLog
from shared.runtime.auth import Authenticator
from shared.runtime.consumer import DurableConsumer, StagedConsumer
from shared.runtime.host import ServiceHost, build_http_app
from shared.runtime.kafka import (
    Record,
)
from shared.runtime.kafka_security import check_access
from shared.runtime.mongo import database, make_client


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: IngestSettings) -> FastAPI:
    auth = Authenticator.from_settings(
        settings.auth, listen_host=settings.http.host, service="ingest"
    )
    host = ServiceHost.create("ingest", settings, linger_ms=2)
    durable = DurableConsumer(host)
    metrics = IngestMetrics(host.registry)
    # Configuration errors (catalog, key file) fail here, before anything starts.
    catalog = load_catalog(settings.catalog_dir)
    configured_keys = load_keys_file(settings.keys_file) if settings.keys_file else []

    db = database(host.mongo, settings.mongo)

    def keys_changed(snapshot: KeySnapshot) -> None:
        metrics.key_snapshot_at.set_to_current_time()
        for status in KeyStatus:
            count = sum(1 for key in snapshot.values() if key.status is status)
            metrics.agency_keys.labels(status.value).set(count)

    key_repository = MongoKeyRepository(db[settings.keys_collection])
    # The registry's writes (admin API, keys file) go through the key administrator's login
    # when one is configured: the data path's login may only read the registry.
    admin_client = (
        make_client(settings.key_admin_mongo())
        if settings.key_admin_mongodb_uri is not None
        else host.mongo
    )
    admin_db = database(admin_client, settings.mongo)
    key_writer = MongoKeyRepository(admin_db[settings.keys_collection])
    registry = KeyRegistry(
        key_repository,
        configured_keys,
        writer=key_writer,
        on_snapshot=keys_changed,
        on_failure=lambda exc: metrics.key_refresh_failures.inc(),
        on_invalid=metrics.agency_keys_invalid.set,
    )
    verifier = ProcessVerifier() if settings.verify_worker else None
    intake = Intake(
        catalog=catalog,
        keys=lambda: registry.snapshot,
        store=MongoReportStore(db[settings.reports_collection]),
        publisher=host.publisher,
        topics=Topics(
            progress=settings.input_topic,
            accepted=settings.accepted_topic,
            dead_letter=settings.dead_letter_topic,
        ),
        limits=Limits(
            max_event_bytes=settings.max_event_bytes,
            clock_skew=timedelta(seconds=settings.clock_skew_s),
        ),
        clock=_now,
        metrics=metrics,
        verifier=verifier or InlineVerifier(),
    )
    background: list[asyncio.Task[None]] = []

    async def create_topics() -> None:
        await check_access(settings.kafka)  # credentials and TLS, before anything retries
        await ensure_topics(
            settings.kafka,
            {
                settings.input_topic: topics.PARTITIONS[topics.PROGRESS],
                settings.accepted_topic: topics.PARTITIONS[topics.ACCEPTED],
                settings.dead_letter_topic: topics.PARTITIONS[topics.PROGRESS_DLT],
            },
            configs={settings.input_topic: topics.PROGRESS_CONFIG},
        )
        await check_access(
            settings.kafka,
            read_topics=[settings.input_topic],
            # the HTTP door publishes to the input topic
            write_topics=[
                settings.input_topic,
                settings.accepted_topic,
                settings.dead_letter_topic,
            ],
            groups=[settings.group_id],
        )

    async def start_key_refresher() -> None:
        background.append(asyncio.create_task(registry.run_refresher(settings.keys_refresh_s)))

    async def stop_background() -> None:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        background.clear()

    host.on_start += [create_topics, registry.load, start_key_refresher]
    host.on_stop += [stop_background]
    if admin_client is not host.mongo:
        host.on_stop.append(admin_client.close)
    if verifier is not None:
        host.on_start.append(verifier.start)
        host.on_stop.append(verifier.stop)

    async def judge(records: Sequence[Record]) -> tuple[float, JudgedBatch]:
        return time.monotonic(), await intake.judge_kafka(records)

    async def settle(judged: tuple[float, JudgedBatch]) -> None:
        started, batch = judged
        await intake.settle_kafka(batch)
        metrics.batch_duration.observe(time.monotonic() - started)
        metrics.batch_size.observe(len(batch.records))

    # A batch is judged while the one before it is stored, published and committed.
    staged = StagedConsumer(durable, judge, settle)
    host.on_stopping.append(staged.drain)

    @durable.subscriber(
        settings.input_topic,
        group_id=settings.group_id,
    )
    async def consume(msg: KafkaMessage) -> None:
        await staged.consume(msg)

    router = build_router(
        intake,
        max_event_bytes=settings.max_event_bytes,
        max_batch_bytes=settings.max_batch_bytes,
        metrics=metrics,
        limiter=TokenBuckets(settings.http_rate_per_agency, settings.http_burst_per_agency),
    )
    admin = key_admin_router(
        key_writer, MongoAuditLog(admin_db[settings.audit_collection]), _now, registry.refresh
    )
    return build_http_app(host, [router, admin], auth=auth)
