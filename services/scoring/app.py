"""The scoring service's composition root: the one place where it is wired together.

It consumes `planwatch.accepted` and `planwatch.clock` in batches (explicit commits after the
batch's effects are durable), applies them with the ScoringEngine, publishes scores and alert
transitions, dead-letters poison records, and serves the read API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from faststream.kafka.annotations import KafkaMessage

from services.scoring.api import make_router
from services.scoring.config import ScoringSettings
from services.scoring.dashboard.router import make_dashboard_router
from services.scoring.engine import ScoringEngine
from services.scoring.metrics import ScoringMetrics
from services.scoring.records import parse_records
from services.scoring.store import ScoringStore
from services.scoring.ticks import TickScheduler
from shared import topics
from shared.accepted import AcceptedEvent
from shared.catalog import load_catalog
from shared.kafka_admin import ensure_topics
from shared.runtime.consumer import DurableConsumer
from shared.runtime.host import ServiceHost, build_http_app
from shared.runtime.kafka import (
    Outbound,
    Record,
    publish_all,
)
from shared.runtime.logging import bound, get_logger
from shared.runtime.mongo import database

log = get_logger("planwatch.scoring")


@dataclass(frozen=True, slots=True)
class ScoringService:
    host: ServiceHost
    engine: ScoringEngine
    routers: list[APIRouter]


def create_app(settings: ScoringSettings) -> FastAPI:
    service = build_service(settings)
    return build_http_app(service.host, service.routers, title="planwatch scoring")


def build_service(
    settings: ScoringSettings,
    *,
    on_applied: Callable[[Sequence[AcceptedEvent], float], None] | None = None,
) -> ScoringService:
    """Everything but the HTTP app: the host (broker with its subscriber, MongoDB client,
    metrics), the engine and the HTTP routers. `host.start()` runs it."""
    catalog = load_catalog(settings.catalog_dir)
    host = ServiceHost.create("scoring", settings)
    broker = host.broker
    durable = DurableConsumer(host)
    metrics = ScoringMetrics(host.registry)
    store = ScoringStore(database(host.mongo, settings.mongo), settings.collection_prefix)
    timeout_s = settings.kafka.publish_timeout_s

    async def publish(messages: Sequence[Outbound]) -> None:
        await publish_all(broker, messages, timeout_s)

    engine = ScoringEngine(
        catalog,
        store,
        publish,
        base_url=settings.public_url,
        metrics=metrics,
        scores_topic=settings.scores_topic,
        alerts_topic=settings.alerts_topic,
        on_applied=on_applied,
    )

    async def create_topics() -> None:
        configured = {
            settings.input_topic: topics.PARTITIONS[topics.ACCEPTED],
            settings.clock_topic: topics.PARTITIONS[topics.CLOCK],
            settings.scores_topic: topics.PARTITIONS[topics.SCORES],
            settings.alerts_topic: topics.PARTITIONS[topics.ALERTS],
            settings.dlt_topic: topics.PARTITIONS[topics.SCORING_DLT],
        }
        await ensure_topics(settings.kafka.bootstrap_servers, {**topics.PARTITIONS, **configured})

    async def load_state() -> None:
        # Loading re-sends the outboxes of the last writes: the producer must be up (connect
        # is idempotent; the consumers start afterwards with the broker).
        await broker.connect()
        await engine.load()

    host.on_start.extend([create_topics, load_state])

    if settings.tick_interval_s > 0:

        async def send_tick(message: Outbound) -> None:
            await publish_all(broker, [message], timeout_s)

        scheduler = TickScheduler(
            settings.tick_interval_s,
            send_tick,
            settings.clock_topic,
            on_sent=metrics.ticks_published.inc,
        )

        async def start_scheduler() -> None:
            await scheduler.start()

        host.on_start.append(start_scheduler)
        host.on_stop.insert(0, scheduler.stop)

    async def work(records: Sequence[Record]) -> None:
        parsed = parse_records(
            records,
            accepted_topic=settings.input_topic,
            clock_topic=settings.clock_topic,
            dlt_topic=settings.dlt_topic,
            check=engine.check,
        )
        for message in parsed.dead:
            log.warning(
                "record dead-lettered",
                topic=message.headers["x-orig-topic"],
                offset=message.headers["x-orig-offset"],
                reason=message.headers["x-reason"],
                error=message.headers["x-error-msg"],
            )
        await publish(parsed.dead)
        for reason in parsed.reasons:
            metrics.dead_letters.labels(reason).inc()
        first = parsed.events[0].event_id if parsed.events else None
        with bound(event_id=first, batch=len(records)):
            outcome = await engine.apply(parsed.events, parsed.ticks)
        log.debug(
            "batch applied",
            events=len(parsed.events),
            ticks=len(parsed.ticks),
            rescored=outcome.rescored,
            written=len(outcome.written),
            transitions=len(outcome.transitions),
        )

    @durable.subscriber(
        settings.input_topic,
        settings.clock_topic,
        group_id=settings.group_id,
    )
    async def consume(msg: KafkaMessage) -> None:
        await durable.consume(msg, work)

    routers = [make_router(catalog, lambda: store), make_dashboard_router(catalog)]
    return ScoringService(host, engine, routers)
