"""The notify service's composition root: the one place where it is wired together.

Kafka `planwatch.alerts` → `AlertIntake` stage 1 (routed; one record per group on the internal
`planwatch.notify.groups`, keyed by group id; then the offset is committed) → stage 2 on the
replica that owns the group's partition (the alert stored into the group) → MongoDB →
`FlushLoop` (a host background task: flush this replica's due groups, deliver their due
notifications through `Senders` after a fencing check, retry, dead-letter) → webhooks, SMTP,
Kafka, robots.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry

from services.notify.ack_api import ack_router
from services.notify.alertmanager_api import ALERTMANAGER_ERROR_PATHS, alertmanager_router
from services.notify.api import api_router
from services.notify.clock import Clock, WallClock
from services.notify.config import NotifySettings
from services.notify.deliveries import DeliveryWorker
from services.notify.domain.config import RoutingConfig, RoutingConfigError
from services.notify.domain.receivers import KafkaConfig
from services.notify.domain.retention import repeat_beyond_retention
from services.notify.egress import delivery_client, egress_proxy
from services.notify.escalating import Escalator
from services.notify.flushing import Flusher
from services.notify.group_locks import KeyedLocks
from services.notify.intake import AlertIntake, Forward
from services.notify.loop import FlushLoop
from services.notify.metrics import NotifyMetrics
from services.notify.mongo_store import MongoNotifyStore
from services.notify.ownership import GroupOwnership, OwnershipListener
from services.notify.pinned_http import PinnedHttp, Resolver, resolve_host
from services.notify.pruning import Pruner
from services.notify.report_mail_api import report_mail_router
from services.notify.routing_file import load_routing_file
from services.notify.secrets import unresolved_secrets
from services.notify.senders import Senders
from services.notify.store import NotifyStore
from shared import topics
from shared.contract.alert_event import AlertEvent, AlertEventError, decode_alert_event
from shared.kafka_admin import ensure_topics
from shared.runtime.auth import Authenticator
from shared.runtime.consumer import DurableConsumer
from shared.runtime.host import ServiceHost, build_http_app
from shared.runtime.kafka import Record
from shared.runtime.kafka_security import check_access
from shared.runtime.logging import get_logger
from shared.runtime.mongo import database
from shared.runtime.publisher import Outbound, Publisher, text_headers

log = get_logger("planwatch.notify")
ALERT_HEADERS = text_headers({"content-type": "application/json"})


@dataclass
class NotifyService:
    """Everything but the Kafka subscription and HTTP: what tests drive step by step."""

    config: RoutingConfig
    store: NotifyStore
    clock: Clock
    metrics: NotifyMetrics
    intake: AlertIntake
    flusher: Flusher
    worker: DeliveryWorker
    escalator: Escalator
    pruner: Pruner
    loop: FlushLoop
    http_client: httpx.AsyncClient
    ownership: GroupOwnership


def build_service(
    settings: NotifySettings,
    config: RoutingConfig,
    *,
    store: NotifyStore,
    publisher: Publisher,
    registry: CollectorRegistry,
    clock: Clock | None = None,
    resolver: Resolver = resolve_host,
    rng: random.Random | None = None,
    ownership: GroupOwnership | None = None,
    forward: Forward | None = None,
) -> NotifyService:
    """`ownership` None owns every group and `forward` None applies routed alerts to their
    groups here: one process alone (the tests' harness). `create_app` passes both."""
    clock = clock or WallClock()
    ownership = ownership or GroupOwnership(topics.PARTITIONS[topics.NOTIFY_GROUPS])
    metrics = NotifyMetrics(registry)
    locks = KeyedLocks()  # per group: intake, its flush and its deliveries' endings
    delivery = settings.delivery
    http_client = delivery_client(
        timeout_s=delivery.http_timeout_s,
        max_connections=delivery.concurrency * 2,
        proxy=egress_proxy(delivery),
    )
    senders = Senders(
        PinnedHttp(http_client, resolver, connect_by_name=delivery.egress_proxy_connect == "name"),
        publisher,
        settings.smtp,
        external_url=settings.external_url,
        clock=clock.now,
    )
    flusher = Flusher(config, store, clock, locks, metrics, ownership=ownership)
    worker = DeliveryWorker(
        config,
        store,
        senders,
        flusher,
        publisher,
        clock,
        metrics,
        policy=delivery.policy(),
        notifications_topic=settings.notifications_topic,
        dlt_topic=settings.dlt_topic,
        concurrency=delivery.concurrency,
        rng=rng,
        ownership=ownership,
    )
    retention = settings.retention()
    for warning in repeat_beyond_retention(config.route.walk(), retention):
        log.warning("reminders will come early: the log entry expires first", route=warning)
    pruner = Pruner(store, retention, metrics)
    escalator = Escalator(config, store, locks, ownership=ownership)
    return NotifyService(
        config=config,
        store=store,
        clock=clock,
        metrics=metrics,
        intake=AlertIntake(config, store, clock, locks, metrics, forward=forward),
        flusher=flusher,
        worker=worker,
        escalator=escalator,
        pruner=pruner,
        loop=FlushLoop(
            flusher,
            worker,
            pruner,
            clock,
            settings.tick_s,
            escalator=escalator,
            on_step=metrics.loop_steps.inc,
        ),
        http_client=http_client,
        ownership=ownership,
    )


def topics_needed(settings: NotifySettings, config: RoutingConfig) -> dict[str, int]:
    """The platform's topics plus the ones this configuration names."""
    wanted = dict(topics.PARTITIONS)
    wanted.setdefault(settings.input_topic, topics.PARTITIONS[topics.ALERTS])
    wanted.setdefault(settings.groups_topic, topics.PARTITIONS[topics.NOTIFY_GROUPS])
    wanted.setdefault(settings.notifications_topic, topics.PARTITIONS[topics.NOTIFICATIONS])
    wanted.setdefault(settings.dlt_topic, topics.PARTITIONS[topics.NOTIFICATIONS_DLT])
    for receiver in config.receivers.values():
        for integration in receiver.integrations:
            if isinstance(integration.config, KafkaConfig):
                wanted.setdefault(integration.config.topic, topics.PARTITIONS[topics.NOTIFICATIONS])
    return wanted


def written_topics(settings: NotifySettings, config: RoutingConfig) -> list[str]:
    """What notify publishes to: checked for WRITE at start."""
    kafka_receivers = [
        integration.config.topic
        for receiver in config.receivers.values()
        for integration in receiver.integrations
        if isinstance(integration.config, KafkaConfig)
    ]
    return [
        settings.groups_topic,
        settings.notifications_topic,
        settings.dlt_topic,
        *kafka_receivers,
    ]


def checked_routing(settings: NotifySettings, routing: RoutingConfig | None) -> RoutingConfig:
    """`routing`, or the file `settings.routing_file`, whose every secret reference resolves:
    RoutingConfigError (`file:line: reason`) otherwise, refused at start rather than
    dead-lettered at each send."""
    config = routing if routing is not None else load_routing_file(settings.routing_file)
    if issues := unresolved_secrets(config):
        raise RoutingConfigError(config.source, issues)
    return config


def create_app(
    settings: NotifySettings,
    *,
    routing: RoutingConfig | None = None,
    clock: Clock | None = None,
    resolver: Resolver = resolve_host,
) -> FastAPI:
    """The service. Without `routing` the file `settings.routing_file` is read; a bad file
    raises RoutingConfigError (`file:line: reason`) before anything starts."""
    config = checked_routing(settings, routing)
    auth = Authenticator.from_settings(
        settings.auth, listen_host=settings.http.host, service="notify"
    )
    host = ServiceHost.create("notify", settings)
    durable = DurableConsumer(host)

    async def forward(event: AlertEvent, raw: bytes, group_ids: Sequence[str]) -> None:
        # Re-keyed by group: the owner of each group's partition applies it (stage 2).
        messages = [
            Outbound(settings.groups_topic, raw, key=gid.encode("utf-8"), headers=ALERT_HEADERS)
            for gid in group_ids
        ]
        await host.publisher.publish(messages)

    # Nothing is owned until Kafka assigns the groups topic's partitions.
    ownership = GroupOwnership(topics.PARTITIONS[topics.NOTIFY_GROUPS], owned=frozenset())
    service = build_service(
        settings,
        config,
        store=MongoNotifyStore(database(host.mongo, settings.mongo)),
        publisher=host.publisher,
        registry=host.registry,
        clock=clock,
        resolver=resolver,
        ownership=ownership,
        forward=forward,
    )
    store = service.store

    listener = OwnershipListener(
        ownership, store, settings.groups_topic, service.metrics.partitions_owned.set
    )
    durable.processor.gate.on_assigned = listener.assigned
    durable.processor.gate.on_revoked = listener.revoked

    async def create_topics() -> None:
        await check_access(settings.kafka)  # credentials and TLS, before anything retries
        await ensure_topics(settings.kafka, topics_needed(settings, config))
        await check_access(
            settings.kafka,
            read_topics=[settings.input_topic, settings.groups_topic],
            write_topics=written_topics(settings, config),
            groups=[settings.group_id, f"{settings.group_id}.groups"],
        )

    async def start_loop() -> None:
        # Dead letters and Kafka notifications go out through the host's publisher, which the
        # host starts before these hooks.
        service.metrics.receivers_disabled.set(len(await service.store.disabled()))
        await service.loop.start()

    async def stop_loop() -> None:
        await service.loop.stop()
        await service.http_client.aclose()

    host.on_start.extend([create_topics, start_loop])

    async def route(records: Sequence[Record]) -> None:
        await service.intake.apply_records(records)

    async def apply_to_groups(records: Sequence[Record]) -> None:
        for record in records:
            try:
                event = decode_alert_event(record.value or b"")
            except AlertEventError as exc:  # only intake writes the topic: log, never stall
                log.error("group record skipped", offset=record.offset, error=str(exc))
                continue
            await service.intake.apply_to_group(event, (record.key or b"").decode("utf-8"))

    async def reject_batch(records: Sequence[Record], exc: BaseException) -> None:
        # A batch that fails for a reason no retry cures (a bug): kept as refused input
        # (`notify_rejected_alerts`, with the error) rather than stalling the partition.
        for record in records:
            rid = f"{record.topic}:{record.partition}:{record.offset}"
            reason = f"processing failed: {exc!r}"[:500]
            await store.record_rejected(rid, record.value or b"", reason, service.clock.now())

    durable.processor.on_permanent = reject_batch

    @durable.subscriber(settings.input_topic, group_id=settings.group_id)
    async def consume(msg: KafkaMessage) -> None:
        await durable.consume(msg, route)

    @durable.subscriber(settings.groups_topic, group_id=f"{settings.group_id}.groups")
    async def consume_groups(msg: KafkaMessage) -> None:
        await durable.consume(msg, apply_to_groups)

    # The flush loop stops before the broker (and the publisher): deliveries in flight finish
    # and may still publish dead letters.
    host.on_stopping.append(stop_loop)
    app = build_http_app(
        host,
        [
            api_router(service.store, service.clock, service.metrics),
            ack_router(config, service.store, service.clock),
            alertmanager_router(config, service.store, service.clock, started=service.clock.now()),
            report_mail_router(config, service.store, service.clock, settings.smtp),
        ],
        auth=auth,
        plain_error_prefixes=ALERTMANAGER_ERROR_PATHS,
    )
    app.state.notify = service
    return app
