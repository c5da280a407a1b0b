"""The scoring service's composition root: the one place where it is wired together.

It consumes `planwatch.accepted` in its consumer group, in batches (explicit commits after the
batch's effects are durable), and owns the targets of the partitions Kafka assigns it (loaded
on assignment, forgotten on revocation, fenced by epoch); it reads the clock topics
(`planwatch.clock` and the replicas' sync topic) whole, outside the group. It applies both with
the ScoringEngine, publishes scores and alert transitions, dead-letters poison records, and
serves the read API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, FastAPI
from faststream.kafka.annotations import KafkaMessage

from services.scoring import records as records_module
from services.scoring.api import make_router
from services.scoring.config import ScoringSettings
from services.scoring.dashboard.acks import make_ack_router
from services.scoring.dashboard.problem_downloads import make_problem_downloads_router
from services.scoring.dashboard.router import make_dashboard_router
from services.scoring.engine import ScoringEngine
from services.scoring.metrics import ScoringMetrics
from services.scoring.ownership import EngineDoors
from services.scoring.problem_desk import ProblemDesk
from services.scoring.problem_metrics import ProblemMetrics
from services.scoring.problem_store import MongoProblemStore
from services.scoring.problems_api import make_problems_router
from services.scoring.rollup_timer import RollupTimer
from services.scoring.store import MongoScoringStore
from services.scoring.ticks import TickScheduler, now_utc, tick_check
from shared import topics
from shared.accepted import AcceptedEvent
from shared.catalog import load_catalog
from shared.contract.keys import public_key_text
from shared.kafka_admin import ensure_topics
from shared.runtime.auth import Authenticator, AuthMode
from shared.runtime.clock_key import ClockKeyError, load_clock_key
from shared.runtime.consumer import DurableConsumer
from shared.runtime.dead_letters import DLT_MESSAGE, DLT_OFFSET, DLT_REASON, DLT_TOPIC
from shared.runtime.host import ServiceHost, build_http_app
from shared.runtime.kafka import Record, broadcast_subscriber, key_partition
from shared.runtime.kafka_security import check_access
from shared.runtime.logging import get_logger
from shared.runtime.mongo import database
from shared.runtime.publisher import Outbound

log = get_logger("planwatch.scoring")


@dataclass(frozen=True, slots=True)
class ScoringService:
    host: ServiceHost
    engine: ScoringEngine
    routers: list[APIRouter]


def _text(header: bytes | None) -> str:
    return "" if header is None else header.decode("utf-8", "replace")


def create_app(settings: ScoringSettings) -> FastAPI:
    auth = Authenticator.from_settings(
        settings.auth, listen_host=settings.http.host, service="scoring"
    )
    service = build_service(settings)
    return build_http_app(service.host, service.routers, auth=auth, title="planwatch scoring")


def _tick_scheduler(
    settings: ScoringSettings,
    host: ServiceHost,
    metrics: ScoringMetrics,
    clock_key: Ed25519PrivateKey | None,
    *,
    dev_mode: bool,
) -> TickScheduler:
    """The built-in scheduler, signing with the clock's key (PLANWATCH_CLOCK_KEY_FILE)."""
    if clock_key is None and not dev_mode:
        raise ClockKeyError(
            "SCORING_TICK_INTERVAL_S > 0 publishes clock ticks: set PLANWATCH_CLOCK_KEY_FILE "
            "to the clock's private key (only PLANWATCH_AUTH_MODE=dev sends them unsigned)"
        )

    async def send_tick(message: Outbound) -> None:
        await host.publisher.publish([message])

    return TickScheduler(
        settings.tick_interval_s,
        send_tick,
        settings.clock_topic,
        clock_key,
        on_sent=metrics.ticks_published.inc,
    )


def _add_rollup_timer(host: ServiceHost, doors: EngineDoors, interval_s: float) -> None:
    """Plans are rolled up (and overdue problems escalated) by this timer, at most once per
    interval, rather than every batch; started and stopped with the host."""
    timer = RollupTimer(interval_s, doors.periodic, doors.periodic_due)
    host.on_start.append(timer.start)
    host.on_stop.insert(0, timer.stop)


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
    db = database(host.mongo, settings.mongo)
    store = MongoScoringStore(db, settings.collection_prefix)
    problem_store = MongoProblemStore(db, settings.collection_prefix)
    publish = host.publisher.publish
    input_partitions = topics.PARTITIONS[topics.ACCEPTED]
    dev_mode = settings.auth.mode is AuthMode.DEV
    # A service that publishes the ticks itself (compose) holds the clock's key: it trusts it.
    clock_key = load_clock_key()
    trusted_clock_keys = [
        *settings.clock_public_keys,
        *([public_key_text(clock_key)] if clock_key is not None else []),
    ]
    engine = ScoringEngine(
        catalog,
        store,
        publish,
        base_url=settings.public_url,
        metrics=metrics,
        scores_topic=settings.scores_topic,
        alerts_topic=settings.alerts_topic,
        on_applied=on_applied,
        # The same partition ingest's producer picks for the target's key.
        partition_of=lambda target: key_partition(target.encode("utf-8"), input_partitions),
        sync_topic=settings.sync_topic,
        # Plans are rolled up by the roll-up timer, at most once per interval, not every batch.
        defer_rollups=settings.rollup_interval_s > 0,
    )

    problems = ProblemDesk(
        catalog,
        problem_store,
        publish,
        base_url=settings.public_url,
        alerts_topic=settings.alerts_topic,
        escalate_after=settings.problem_escalate_after,
        owns=engine.owns,
        metrics=ProblemMetrics(metrics, catalog.plans),
    )

    async def dead_letter(dead: Sequence[Outbound], reasons: Sequence[str]) -> None:
        for message in dead:
            log.warning(
                "record dead-lettered",
                topic=_text(message.header(DLT_TOPIC)),
                offset=_text(message.header(DLT_OFFSET)),
                reason=_text(message.header(DLT_REASON)),
                error=_text(message.header(DLT_MESSAGE)),
            )
        await publish(dead)
        for reason in reasons:
            metrics.dead_letters.labels(reason).inc()

    doors = EngineDoors(
        engine,
        input_topic=settings.input_topic,
        clock_topic=settings.clock_topic,
        sync_topic=settings.sync_topic,
        dlt_topic=settings.dlt_topic,
        dead_letter=dead_letter,
        retry=settings.retry,
        wall_clock=now_utc,
        max_tick_skew=timedelta(seconds=settings.max_tick_skew_s),
        check_tick=tick_check(trusted_clock_keys, dev_mode=dev_mode),
        on_tick_refused=lambda reason: metrics.ticks_refused.labels(reason).inc(),
        problems=problems,
        # With the roll-up timer, a clock move's escalation waits for it as the roll-up does.
        defer_escalation=settings.rollup_interval_s > 0,
    )

    async def create_topics() -> None:
        configured = {
            settings.input_topic: input_partitions,
            settings.clock_topic: topics.PARTITIONS[topics.CLOCK],
            settings.sync_topic: topics.PARTITIONS[topics.SCORING_CLOCK],
            settings.scores_topic: topics.PARTITIONS[topics.SCORES],
            settings.alerts_topic: topics.PARTITIONS[topics.ALERTS],
            settings.dlt_topic: topics.PARTITIONS[topics.SCORING_DLT],
        }
        await check_access(settings.kafka)  # credentials and TLS, before anything retries
        await ensure_topics(settings.kafka, {**topics.PARTITIONS, **configured})
        await check_access(
            settings.kafka,
            read_topics=[settings.input_topic, settings.clock_topic, settings.sync_topic],
            write_topics=[
                settings.sync_topic,
                settings.scores_topic,
                settings.alerts_topic,
                settings.dlt_topic,
                *([settings.clock_topic] if settings.tick_interval_s > 0 else []),
            ],
            groups=[settings.group_id],
        )

    # Loading re-sends outboxes: the host's publisher is started before these hooks.
    host.on_start.extend([create_topics, doors.start])

    if settings.rollup_interval_s > 0:
        _add_rollup_timer(host, doors, settings.rollup_interval_s)

    if settings.tick_interval_s > 0:
        scheduler = _tick_scheduler(settings, host, metrics, clock_key, dev_mode=dev_mode)
        host.on_start.append(scheduler.start)
        host.on_stop.insert(0, scheduler.stop)

    async def work(records: Sequence[Record]) -> None:
        outcome = await doors.accepted(records)
        log.debug(
            "batch applied",
            rescored=outcome.rescored,
            written=len(outcome.written),
            transitions=len(outcome.transitions),
        )

    durable.processor.gate.on_revoked = doors.revoked
    durable.processor.gate.on_assigned = doors.assigned

    async def dead_letter_batch(records: Sequence[Record], exc: BaseException) -> None:
        # A batch that fails for a reason no retry cures (a bug): its records go to the DLT
        # (replayable from there once fixed) rather than stalling the partition.
        reason = "processing_failed"
        await dead_letter(
            [
                records_module.dead_letter(r, settings.dlt_topic, reason, exc, at=now_utc())
                for r in records
            ],
            [reason] * len(records),
        )

    durable.processor.on_permanent = dead_letter_batch

    @durable.subscriber(settings.input_topic, group_id=settings.group_id)
    async def consume(msg: KafkaMessage) -> None:
        await durable.consume(msg, work)

    @broadcast_subscriber(broker, settings.clock_topic, settings.sync_topic, kafka=settings.kafka)
    async def consume_clock(msg: KafkaMessage) -> None:
        # Not committed (no group): every replica reads the clock topics whole.
        await doors.clock(msg.raw_message)

    routers = [
        make_router(catalog, lambda: store),
        make_problems_router(
            catalog,
            lambda: problem_store,
            lambda: store,
            escalate_after=settings.problem_escalate_after,
        ),
        make_dashboard_router(catalog, lambda: store),
        make_problem_downloads_router(
            catalog,
            lambda: problem_store,
            lambda: store,
            escalate_after=settings.problem_escalate_after,
        ),
        make_ack_router(catalog, settings.notify_url),
    ]
    return ScoringService(host, engine, routers)
