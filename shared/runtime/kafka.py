"""Kafka wiring shared by the services: the broker, confirmed publishing, durable batch handling.

FastStream's default Kafka ack policy is auto-commit (at-most-once). Every subscriber here uses
`AckPolicy.MANUAL` and `process_durably`, which commits explicit per-partition offsets only after
the batch's effects are durable, and retries transient failures with backoff instead of skipping.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber

from shared.runtime.backoff import backoff_delay
from shared.runtime.kafka_security import ACCESS_ERRORS, faststream_security
from shared.runtime.logging import get_logger
from shared.runtime.mongo import is_transient_mongo
from shared.runtime.raw_records import raw_decoder, tolerant_parser
from shared.runtime.settings import KafkaSettings, RetrySettings

log = get_logger("planwatch.kafka")


class Record(Protocol):
    """What the services read of an aiokafka ConsumerRecord."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class TransientError(Exception):
    """A failure that will pass (a server unavailable): retry, never dead-letter."""


# Kafka errors that no retry cures: the record itself, the client's rights or configuration.
# Retrying them stalls a partition for ever; they are dead-lettered or fail loudly instead.
PERMANENT_KAFKA_ERRORS: tuple[type[KafkaError], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidMessageError,
    kafka_errors.CorruptRecordException,
    kafka_errors.InvalidTopicError,
    kafka_errors.PolicyViolationError,
    # Authorisation and authentication errors: ACCESS_ERRORS (shared.runtime.kafka_security).
    kafka_errors.KafkaConfigurationError,
    kafka_errors.InvalidConfigurationError,
    kafka_errors.UnsupportedVersionError,
    kafka_errors.UnsupportedCodecError,
)


def is_transient(exc: BaseException) -> bool:
    """True for a failure that will pass (a server away, a leader moving, a timeout); False
    for the permanent Kafka errors above, for authentication, TLS and authorisation failures
    (a missing ACL is not cured by waiting) and for anything unexpected (a bug)."""
    if isinstance(exc, PERMANENT_KAFKA_ERRORS + ACCESS_ERRORS):
        return False
    return isinstance(
        exc, (TransientError, KafkaError, TimeoutError, ConnectionError)
    ) or is_transient_mongo(exc)


def failure_kind(exc: BaseException) -> str:
    return "transient" if is_transient(exc) else "unexpected"


def make_broker(settings: KafkaSettings, *, graceful_timeout_s: float) -> KafkaBroker:
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=settings.client_id,
        enable_idempotence=True,  # implies acks=all; aiokafka defaults to acks=1
        ack_policy=AckPolicy.MANUAL,
        graceful_timeout=graceful_timeout_s,
        security=faststream_security(settings),
        request_timeout_ms=int(settings.publish_timeout_s * 1000),
        # FastStream's own logger prints plain text; ours renders JSON like every other line.
        logger=logging.getLogger("planwatch.faststream"),
    )


def next_offsets(records: Sequence[Record]) -> dict[TopicPartition, int]:
    """The offsets to commit after `records`: per partition, the last offset plus one."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


def first_offsets(records: Sequence[Record]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = min(offsets.get(tp, record.offset), record.offset)
    return offsets


Partitions = Callable[[frozenset[TopicPartition]], Awaitable[None]]


class BatchGate(ConsumerRebalanceListener):  # type: ignore[misc]
    """Holds a rebalance until the batch in hand is durable and committed.

    aiokafka calls `on_partitions_revoked` before it rejoins the group; waiting for the lock
    means a partition changes owner only between batches, so commits are not lost to a new
    generation and the next owner starts where this one committed. A service that keeps state
    per partition sets `on_revoked` (told after the batch in hand settled) and `on_assigned`
    (done before the first batch of the new assignment is processed).

    `on_assigned` runs in a task of its own, awaited by the next batch and the next revocation,
    not by aiokafka: aiokafka sends no heartbeat until `on_partitions_assigned` returns, so a
    service loading its state there (scoring claims and rescores its targets, seconds on a slow
    MongoDB) outlived its session and was expelled, its work fenced by the next owner, again at
    every join: a rebalance that never settled (found by the chaos suite, after MongoDB's
    outage). Heartbeats go on while the task runs.
    """

    def __init__(self, retry: RetrySettings | None = None) -> None:
        self.lock = asyncio.Lock()
        self.on_revoked: Partitions | None = None
        self.on_assigned: Partitions | None = None
        # `on_assigned` failing on a transient error (MongoDB away) is tried again with these
        # backoffs, up to give_up_after_s: until it is done the partitions are not really
        # owned (notify took no epoch, so it flushed none of their groups).
        self.retry = retry or RetrySettings()
        self.rng = random.Random()
        self._assigning: asyncio.Task[None] | None = None

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.lock:
            await self.assignment_settled()
            log.info("partitions revoked", partitions=sorted(str(tp) for tp in revoked))
            if self.on_revoked is not None:
                await self.on_revoked(frozenset(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned", partitions=sorted(str(tp) for tp in assigned))
        if self.on_assigned is not None:
            self._assigning = asyncio.create_task(self._assign(frozenset(assigned)))

    async def _assign(self, partitions: frozenset[TopicPartition]) -> None:
        assert self.on_assigned is not None
        deadline = time.monotonic() + self.retry.give_up_after_s
        attempt = 0
        while True:
            try:
                await self.on_assigned(partitions)
                return
            except Exception as exc:
                attempt += 1
                if not is_transient(exc) or time.monotonic() > deadline:
                    # As aiokafka does with a listener's error: logged, not fatal.
                    log.error("handling the assigned partitions failed", error=repr(exc))
                    return
                log.warning(
                    "handling the assigned partitions failed; retrying",
                    attempt=attempt,
                    error=repr(exc),
                )
                retry = self.retry
                await asyncio.sleep(backoff_delay(attempt, retry.initial_s, retry.max_s, self.rng))

    async def assignment_settled(self) -> None:
        """Returns once `on_assigned` of the latest assignment is done."""
        task = self._assigning
        if task is not None:
            await task
            if self._assigning is task:
                self._assigning = None


def key_partition(key: bytes, partitions: int) -> int:
    """The partition a keyed record goes to: aiokafka's DefaultPartitioner (Java's murmur2, so
    every client agrees), for the services that own state by partition."""
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


Work = Callable[[Sequence[Record]], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class DurableBatchProcessor:
    """Runs `work` on a batch until it succeeds, then commits; never commits unfinished work.

    `work` must be idempotent (it may run again after a crash or a retry) and must dead-letter
    poison records itself. Transient failures are retried with backoff and jitter while the
    consumer fetches nothing; past `give_up_after_s` the batch is rewound (seek back, nothing
    committed) so it is fetched again and the consumer stays inside max.poll.interval.
    """

    retry: RetrySettings
    gate: BatchGate = field(default_factory=BatchGate)
    rng: random.Random = field(default_factory=random.Random)
    sleep: Sleep = asyncio.sleep
    on_retry: Callable[[BaseException], None] = lambda exc: None
    # A failure that is not transient (a bug, a permanent Kafka error) is tried this many times;
    # then the batch's records go to `on_permanent` (the service's dead-letter route) and the
    # batch is committed. Without a route it is rewound, logged at critical with its positions.
    max_unexpected_attempts: int = 3
    on_permanent: Callable[[Sequence[Record], BaseException], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        self.gate.retry = self.retry  # the service's backoffs, for its `on_assigned` too

    async def process(
        self, consumer: AIOKafkaConsumer, records: Sequence[Record], work: Work
    ) -> bool:
        """Returns True when the batch was processed and committed, False when rewound."""
        if not records:
            return True
        async with self.gate.lock:
            await self.gate.assignment_settled()
            started = time.monotonic()
            attempt = unexpected = 0
            where = batch_positions(records)
            while True:
                attempt += 1
                try:
                    await work(records)
                    break
                except Exception as exc:
                    self.on_retry(exc)
                    log.warning(
                        "batch failed; retrying",
                        kind=failure_kind(exc),
                        attempt=attempt,
                        error=repr(exc),
                        batch=where,
                    )
                    if not is_transient(exc):
                        unexpected += 1
                        if unexpected >= self.max_unexpected_attempts:
                            if self.on_permanent is None:
                                self._rewind(consumer, records)
                                log.critical(
                                    "batch failed permanently, no dead-letter route; rewound",
                                    error=repr(exc),
                                    batch=where,
                                )
                                return False
                            if await self._route_permanent(records, exc, where):
                                break
                    if time.monotonic() - started > self.retry.give_up_after_s:
                        self._rewind(consumer, records)
                        log.error("batch rewound after retries", attempts=attempt, batch=where)
                        return False
                    await self.sleep(
                        backoff_delay(attempt, self.retry.initial_s, self.retry.max_s, self.rng)
                    )
            try:
                await consumer.commit(next_offsets(records))
            except KafkaError as exc:  # (the positions: where the redelivery starts)
                # The group moved on (e.g. this member was evicted): the next owner reprocesses
                # from the last commit, and the idempotent work makes that harmless.
                log.warning("commit failed; batch will be redelivered", error=repr(exc))
                return False
            return True

    @staticmethod
    def _rewind(consumer: AIOKafkaConsumer, records: Sequence[Record]) -> None:
        for tp, offset in first_offsets(records).items():
            consumer.seek(tp, offset)

    async def _route_permanent(
        self, records: Sequence[Record], exc: BaseException, where: str
    ) -> bool:
        """Hand a permanently failing batch to the dead-letter route; True once it took it."""
        assert self.on_permanent is not None
        try:
            await self.on_permanent(records, exc)
        except Exception as route_error:  # Kafka away: the loop tries the batch again
            log.error("dead-letter route failed", error=repr(route_error), batch=where)
            return False
        log.error("batch failed permanently; dead-lettered", error=repr(exc), batch=where)
        return True


def batch_positions(records: Sequence[Record]) -> str:
    """Where a batch lies, for logs: `topic[partition]:first-last` per partition."""
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for r in records:
        low, high = spans.get((r.topic, r.partition), (r.offset, r.offset))
        spans[(r.topic, r.partition)] = (min(low, r.offset), max(high, r.offset))
    return " ".join(f"{t}[{p}]:{lo}-{hi}" for (t, p), (lo, hi) in sorted(spans.items()))


async def consumer_lag(consumer: AIOKafkaConsumer) -> dict[str, int]:
    """Per topic, the messages behind the partitions' high watermarks last seen by the fetcher."""
    lag: dict[str, int] = {}
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            behind = max(0, highwater - await consumer.position(tp))
            lag[tp.topic] = lag.get(tp.topic, 0) + behind
    return lag


def broadcast_subscriber(
    broker: KafkaBroker, *topics: str, kafka: KafkaSettings
) -> BatchSubscriber:
    """Every partition of the topics, from the beginning, outside any consumer group: for small
    topics every replica must read whole (clock ticks). Nothing is committed."""
    return broker.subscriber(
        *topics,
        group_id=None,
        auto_offset_reset="earliest",
        batch=True,
        max_records=kafka.max_batch_records,
        batch_timeout_ms=kafka.batch_timeout_ms,
        parser=tolerant_parser,
        decoder=raw_decoder,
    )


# How long a batch may keep its consumer from polling, and a rebalance from completing: past
# RetrySettings.give_up_after_s (120 s) a failing batch is rewound, so this bound holds.
MAX_POLL_INTERVAL_MS = 300_000


def batch_subscriber(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    kafka: KafkaSettings,
    gate: BatchGate,
) -> BatchSubscriber:
    """The one way the services subscribe: batches from the earliest uncommitted offset, with
    manual commits (the broker's policy), the rebalance gate, and the raw-record parser (a record
    FastStream cannot decode must reach the service's own dead-lettering, not fail the batch)."""
    return broker.subscriber(
        *topics,
        group_id=group_id,
        auto_offset_reset="earliest",
        batch=True,
        max_records=kafka.max_batch_records,
        batch_timeout_ms=kafka.batch_timeout_ms,
        session_timeout_ms=kafka.session_timeout_ms,
        heartbeat_interval_ms=max(kafka.session_timeout_ms // 3, 300),
        # The gate holds a rebalance until the batch in hand is committed, so the broker must
        # wait that long for the member to rejoin. aiokafka's default rebalance timeout is the
        # session timeout (Java's is max.poll.interval.ms): a batch slower than that (a backlog
        # after a MongoDB or broker outage, on a busy machine) got its member expelled, its
        # commit refused and the batch redelivered, over and over (found by the chaos suite).
        max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        rebalance_timeout_ms=MAX_POLL_INTERVAL_MS,
        listener=gate,
        parser=tolerant_parser,
        decoder=raw_decoder,
    )
