"""What ingest writes to Kafka: accepted events, dead letters, and HTTP intake onto the
progress topic; and the publisher that sends them and waits for every confirmation.

Ingest sends through its own idempotent aiokafka producer rather than FastStream's
`broker.publish` (which `shared.runtime.kafka.publish_all` uses) for one reason: a dead letter
must carry the original headers byte for byte (any bytes, repeated names), and FastStream takes
headers as a `dict[str, str]` and adds `content-type`/`correlation_id` of its own. The
semantics are those of `publish_all`: send everything, then await all confirmations once,
bounded by a timeout that becomes a TransientError (aiokafka can hang while Kafka is down).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2

from shared.accepted import ACCEPTED_CONTENT_TYPE, AcceptedEvent
from shared.contract.codec import encode_kafka_binary
from shared.contract.parsing import RawEvent
from shared.contract.reasons import Reason
from shared.runtime.kafka import Record, TransientError
from shared.runtime.kafka_security import client_options
from shared.runtime.settings import KafkaSettings

Headers = tuple[tuple[str, bytes], ...]
DEFAULT_PARTITIONER: Final = DefaultPartitioner()

# Dead-letter headers (beside the original ones, which come first and unchanged).
DLT_REASON: Final = "x-dlt-reason"
DLT_MESSAGE: Final = "x-dlt-message"
DLT_TOPIC: Final = "x-dlt-topic"
DLT_PARTITION: Final = "x-dlt-partition"
DLT_OFFSET: Final = "x-dlt-offset"
DLT_DOOR: Final = "x-dlt-door"
DLT_EVENT_ID: Final = "x-dlt-event-id"
DLT_AT: Final = "x-dlt-at"
DLT_TRUNCATED: Final = "x-dlt-truncated-from"
DLT_KEY_DIGEST: Final = "x-dlt-key-sha256"  # the key was too long to keep: its digest
DLT_HEADERS_DIGEST: Final = "x-dlt-headers-sha256"  # the original headers were dropped
DLT_STRIPPED: Final = "x-dlt-stripped-headers"  # originals that looked like ours, dropped
MAX_MESSAGE_CHARS: Final = 2000
# Kafka refuses records above ~1 MiB (aiokafka's max_request_size, 1,048,576 bytes, counts key,
# value and headers): a dead letter is bounded as a whole well below it, so it can always be
# sent and never blocks its partition. Within that budget the original key and headers are
# kept up to these sizes (else replaced by their SHA-256), and the value is cut to what is left.
MAX_DLT_RECORD_BYTES: Final = 900 * 1024
MAX_DLT_KEY_BYTES: Final = 1024
MAX_DLT_HEADERS_BYTES: Final = 16 * 1024
# A sender's headers that look like the dead-letter ones must not pass for them.
_RESERVED_HEADER_PREFIXES: Final = ("x-dlt-", "x-orig-", "x-reason", "x-error-")


@dataclass(frozen=True, slots=True)
class OutRecord:
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
    async def publish(self, records: Sequence[OutRecord]) -> None:
        """All records are confirmed by Kafka when this returns; TransientError otherwise."""
        ...


def accepted_record(topic: str, event: AcceptedEvent) -> OutRecord:
    """An accepted event for scoring: keyed by target id, so a target's events stay in order."""
    return OutRecord(
        topic=topic,
        value=event.to_json(),
        key=event.target.encode("utf-8"),
        headers=(
            ("content-type", ACCEPTED_CONTENT_TYPE.encode("ascii")),
            ("event-id", event.event_id.encode("utf-8")),
        ),
    )


def progress_record(topic: str, raw: RawEvent) -> OutRecord:
    """An event taken over HTTP, onto the progress topic in Kafka binary mode, bytes unchanged."""
    key, value, headers = encode_kafka_binary(raw)
    return OutRecord(topic=topic, value=value, key=key, headers=tuple(headers))


def _text(value: str) -> bytes:
    return value[:MAX_MESSAGE_CHARS].encode("utf-8", errors="replace")


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode("ascii")


def _headers_size(headers: Headers) -> int:
    return sum(len(name.encode("utf-8")) + len(value) for name, value in headers)


def _dead_letter(
    topic: str,
    key: bytes | None,
    value: bytes,
    original_headers: Headers,
    context: list[tuple[str, bytes]],
) -> OutRecord:
    """The dead letter, bounded as a whole (MAX_DLT_RECORD_BYTES): an oversized key or header
    set is replaced by its digest, the value cut to what is left; headers a sender named like
    ours are dropped (counted), so no reason can be spoofed."""
    kept = tuple(
        (name, header)
        for name, header in original_headers
        if not name.lower().startswith(_RESERVED_HEADER_PREFIXES)
    )
    if len(kept) != len(original_headers):
        context.append((DLT_STRIPPED, str(len(original_headers) - len(kept)).encode("ascii")))
    if key is not None and len(key) > MAX_DLT_KEY_BYTES:
        context.append((DLT_KEY_DIGEST, _digest(key)))
        key = None
    if _headers_size(kept) > MAX_DLT_HEADERS_BYTES:
        flat = b"".join(name.encode("utf-8") + b"\x00" + header + b"\x00" for name, header in kept)
        context.append((DLT_HEADERS_DIGEST, _digest(flat)))
        kept = ()
    # Room for the value: the budget less the key, the headers and the truncation note itself.
    room = MAX_DLT_RECORD_BYTES - len(key or b"") - _headers_size((*kept, *context)) - 64
    if len(value) > room:
        context.append((DLT_TRUNCATED, str(len(value)).encode("ascii")))
        value = value[: max(room, 0)]
    return OutRecord(topic=topic, value=value, key=key, headers=(*kept, *context))


def dead_letter_record(
    topic: str,
    record: Record,
    reason: Reason,
    message: str,
    *,
    at: datetime,
    event_id: str | None = None,
) -> OutRecord:
    """A rejected Kafka record: its original key, value and headers, plus why and where from."""
    context = [
        (DLT_REASON, reason.value.encode("ascii")),
        (DLT_MESSAGE, _text(message)),
        (DLT_TOPIC, record.topic.encode("utf-8")),
        (DLT_PARTITION, str(record.partition).encode("ascii")),
        (DLT_OFFSET, str(record.offset).encode("ascii")),
        (DLT_DOOR, b"kafka"),
        (DLT_AT, at.isoformat().encode("ascii")),
    ]
    if event_id is not None:
        context.append((DLT_EVENT_ID, _text(event_id)))
    original = tuple((name, value or b"") for name, value in record.headers)
    return _dead_letter(topic, record.key, record.value or b"", original, context)


def http_dead_letter_record(
    topic: str,
    body: bytes,
    content_type: str,
    reason: Reason,
    message: str,
    *,
    at: datetime,
    event_id: str | None = None,
    key: bytes | None = None,
) -> OutRecord:
    """A rejected HTTP event: the body it came in (the batch item for a batch), its content
    type as `content-type`, plus why; no topic/partition/offset (it never was on Kafka)."""
    context = [
        (DLT_REASON, reason.value.encode("ascii")),
        (DLT_MESSAGE, _text(message)),
        (DLT_DOOR, b"http"),
        (DLT_AT, at.isoformat().encode("ascii")),
    ]
    if event_id is not None:
        context.append((DLT_EVENT_ID, _text(event_id)))
    original = (("content-type", _text(content_type)),)
    return _dead_letter(topic, key, body, original, context)


@lru_cache(maxsize=4096)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def key_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's DefaultPartitioner (Java's murmur2, so the same partition as any client),
    with the hash of each key remembered: keys are target ids, a small set, and the pure-Python
    murmur2 costs more than the rest of a send."""
    if key is None:
        return int(DEFAULT_PARTITIONER(key, all_partitions, available))
    return all_partitions[_key_hash(key) % len(all_partitions)]


def make_producer(settings: KafkaSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=f"{settings.client_id}-ingest",
        enable_idempotence=True,  # implies acks=all
        request_timeout_ms=int(settings.publish_timeout_s * 1000),
        linger_ms=2,
        partitioner=key_partitioner,
    )


class KafkaPublisher:
    """Sends through one aiokafka producer, made by `factory` at `start` (a failed start can be
    retried with a fresh producer); `start`/`stop` belong to the service's life."""

    def __init__(self, factory: Callable[[], AIOKafkaProducer], timeout_s: float) -> None:
        self._factory = factory
        self._producer: AIOKafkaProducer | None = None
        self._timeout_s = timeout_s

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
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await self._close(producer)

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if not records:
            return
        producer = self._producer
        if producer is None:
            raise TransientError("the Kafka producer is not started")
        try:
            async with asyncio.timeout(self._timeout_s):
                futures = [
                    await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                    for r in records
                ]
                await asyncio.gather(*futures)
        except TimeoutError as exc:
            raise TransientError(f"Kafka did not confirm {len(records)} records") from exc


class RecordingPublisher:
    """The fake: keeps what was published; `fail_next` simulates Kafka being unavailable."""

    def __init__(self) -> None:
        self.records: list[OutRecord] = []
        self.fail_next = 0

    async def publish(self, records: Sequence[OutRecord]) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise TransientError("recording publisher: simulated outage")
        self.records.extend(records)

    def on(self, topic: str) -> list[OutRecord]:
        return [r for r in self.records if r.topic == topic]
