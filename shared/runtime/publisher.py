"""The one way planwatch writes to Kafka, for the three services and the command line alike:
an idempotent aiokafka producer (acks=all) that sends every record of a call, then awaits all
confirmations once, bounded by a timeout that becomes a TransientError (aiokafka can hang while
Kafka is down, issue #1101).

Why not FastStream's `broker.publish`: it takes headers as a `dict[str, str]` and adds headers
of its own, and a dead letter must carry its original headers byte for byte (any bytes,
repeated names). So every record here has byte headers in order, and no header is added.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    UnknownProducerId,
)
from aiokafka.partitioner import DefaultPartitioner, murmur2
from aiokafka.structs import RecordMetadata

from shared.runtime.kafka import TransientError
from shared.runtime.kafka_security import client_options
from shared.runtime.settings import KafkaSettings

Headers = tuple[tuple[str, bytes], ...]
DEFAULT_PARTITIONER: Final = DefaultPartitioner()


def text_headers(headers: Mapping[str, str]) -> Headers:
    return tuple((name, value.encode("utf-8")) for name, value in headers.items())


@dataclass(frozen=True, slots=True)
class Outbound:
    """One record to publish: raw bytes, a partitioning key and byte headers in order."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = ()

    def header(self, name: str) -> bytes | None:
        """The last value of header `name` (None if absent)."""
        found = None
        for header_name, value in self.headers:
            if header_name == name:
                found = value
        return found


class Publisher(Protocol):
    async def publish(self, records: Sequence[Outbound]) -> None:
        """All records are confirmed by Kafka when this returns; TransientError otherwise."""
        ...


@lru_cache(maxsize=4096)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def key_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's DefaultPartitioner (Java's murmur2, so the same partition as any client),
    with the hash of each key remembered: keys are target ids and group ids, a small set, and
    the pure-Python murmur2 costs more than the rest of a send."""
    if key is None:
        return int(DEFAULT_PARTITIONER(key, all_partitions, available))
    return all_partitions[_key_hash(key) % len(all_partitions)]


def make_producer(settings: KafkaSettings, role: str, **options: Any) -> AIOKafkaProducer:
    """The producer every publisher uses: idempotent (implies acks=all), the settings' security,
    `<client id>-<role>` as its client id."""
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=f"{settings.client_id}-{role}",
        enable_idempotence=True,
        request_timeout_ms=int(settings.publish_timeout_s * 1000),
        partitioner=key_partitioner,
        **options,
    )


# The broker no longer accepts this idempotent producer's sequence numbers: a batch it gave up
# on (timed out while the broker restarted) left a gap, and every later send fails the same way.
# Only a new producer (a new producer id, sequences from 0) gets through again.
STALE_PRODUCER_ERRORS: Final = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch)


class KafkaPublisher:
    """Sends through one aiokafka producer, made by `factory` at `start` (a failed start can be
    retried with a fresh producer); `start`/`stop` belong to the owner's life (a service's
    host, or a command's `async with`). A producer the broker refuses for its sequence numbers
    is replaced (STALE_PRODUCER_ERRORS): the publish fails as transient, the retry goes through
    the new one."""

    def __init__(self, factory: Callable[[], AIOKafkaProducer], timeout_s: float) -> None:
        self._factory = factory
        self._producer: AIOKafkaProducer | None = None
        self._timeout_s = timeout_s
        self._replacing = False  # the stale producer is closed, its successor not yet started

    @classmethod
    def for_settings(cls, settings: KafkaSettings, role: str, **options: Any) -> KafkaPublisher:
        return cls(lambda: make_producer(settings, role, **options), settings.publish_timeout_s)

    async def start(self) -> None:
        producer = self._factory()
        try:
            async with asyncio.timeout(self._timeout_s):
                await producer.start()
        except BaseException:
            await self._close(producer)
            raise
        self._producer = producer

    async def _close(self, producer: AIOKafkaProducer) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                await producer.stop()
        except TimeoutError:  # aiokafka #1101: stop can hang while Kafka is down
            pass

    async def stop(self) -> None:
        self._replacing = False
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await self._close(producer)

    async def __aenter__(self) -> KafkaPublisher:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def enqueue(self, record: Outbound) -> asyncio.Future[RecordMetadata]:
        """Hand one record to the producer (records keep the order they are handed in) and
        return its confirmation, to await later: a feed streams records this way."""
        if self._producer is None and self._replacing:
            await self.start()
            self._replacing = False
        producer = self._producer
        if producer is None:
            raise TransientError("the Kafka producer is not started")
        future: asyncio.Future[RecordMetadata] = await producer.send(
            record.topic, record.value, key=record.key, headers=list(record.headers)
        )
        return future

    async def publish(self, records: Sequence[Outbound]) -> None:
        if not records:
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                futures = [await self.enqueue(r) for r in records]
                await asyncio.gather(*futures)
        except TimeoutError as exc:
            raise TransientError(f"Kafka did not confirm {len(records)} records") from exc
        except STALE_PRODUCER_ERRORS as exc:
            await self._replace()
            raise TransientError(f"Kafka refused the producer ({exc!r}); replaced") from exc

    async def _replace(self) -> None:
        """Closes the stale producer; its successor starts now, or at the next send."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            self._replacing = True
            await self._close(producer)
        try:
            await self.start()
            self._replacing = False
        except Exception:  # Kafka still away: the next enqueue tries again
            self._producer = None

    async def deliver_each(self, records: Sequence[Outbound]) -> list[RecordMetadata | Exception]:
        """Like `publish`, but per record: where it landed, or why not (a command's receipt
        lists every row). Records not handed over or confirmed within the timeout get a
        TransientError."""
        outcomes: list[RecordMetadata | Exception] = []
        futures: list[asyncio.Future[RecordMetadata]] = []
        try:
            async with asyncio.timeout(self._timeout_s):
                for record in records:
                    futures.append(await self.enqueue(record))
                for future in futures:
                    try:
                        outcomes.append(await future)
                    except KafkaError as exc:
                        outcomes.append(exc)
        except (TimeoutError, KafkaError) as exc:
            for future in futures[len(outcomes) :]:
                future.cancel()
            reason = exc if isinstance(exc, KafkaError) else TransientError("Kafka timed out")
            outcomes.extend(reason for _ in records[len(outcomes) :])
        return outcomes


class RecordingPublisher:
    """The fake: keeps what was published; `fail_next` simulates Kafka being unavailable."""

    def __init__(self) -> None:
        self.records: list[Outbound] = []
        self.fail_next = 0

    async def publish(self, records: Sequence[Outbound]) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise TransientError("recording publisher: simulated outage")
        self.records.extend(records)

    def on(self, topic: str) -> list[Outbound]:
        return [r for r in self.records if r.topic == topic]
