"""Exactly once through the intake (in-memory store, recording publisher): in batches of
valid signed events, hostile records and re-sent copies, every distinct valid event is stored
exactly once, its copies are duplicates, nothing else is stored, and a redelivery of the
whole batch stores nothing new. The HTTP door's accepted events are taken through the Kafka
door (the progress topic) to the store, as in production."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.http_door import request_items
from services.ingest.intake import EventResult, Status
from services.ingest.store import report_key
from shared.contract.codec import BATCH_CONTENT_TYPE
from tests.fuzz.doors import kafka_cases, source_events
from tests.fuzz.support import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    SIGNED,
    KafkaInput,
    WireEvent,
    fuzz_settings,
    http_batch,
    kafka_binary,
    kafka_structured,
    valid_events,
)
from tests.unit.ingest_support import TOPICS, FakeRecord, Harness

pytestmark = pytest.mark.fuzz

EXAMPLES = 1_000

distinct_valid = st.lists(valid_events, min_size=1, max_size=4, unique_by=lambda w: w.original)


def _key(wire: WireEvent) -> str:
    agency = wire.attributes["source"].rsplit(":", 1)[1]
    return report_key(agency, wire.attributes["id"])


def _check_results(results: list[EventResult]) -> None:
    for result in results:
        if result.status is Status.REJECTED:
            assert result.reason is not None and result.message.strip()
            assert "internal" not in result.message, result.message


def _check_store(harness: Harness, valid: list[WireEvent], accepted: int) -> None:
    docs = harness.store.docs
    assert len(docs) == accepted, "an event was stored without being accepted, or twice"
    for doc in docs.values():
        assert doc["content_hash"] in SIGNED
    for wire in valid:
        assert docs[_key(wire)]["content_hash"] == wire.original


@fuzz_settings(EXAMPLES)
@given(
    valid=distinct_valid,
    hostile=st.lists(st.booleans().flatmap(lambda s: kafka_cases(structured=s)), max_size=4),
    copies=st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=3),
    seed=st.integers(0, 2**16),
)
def test_kafka_door_stores_each_valid_event_once(
    valid: list[WireEvent],
    hostile: list[tuple[KafkaInput, WireEvent | None]],
    copies: list[tuple[int, bool]],
    seed: int,
) -> None:
    shuffler = random.Random(seed)
    first = [(kafka_structured if shuffler.random() < 0.5 else kafka_binary)(w) for w in valid]
    shuffler.shuffle(first)
    rest = [case for case, _ in hostile]
    rest += [
        (kafka_structured if structured else kafka_binary)(valid[index % len(valid)])
        for index, structured in copies
    ]
    shuffler.shuffle(rest)
    records = [
        FakeRecord(value=value, headers=headers, offset=offset)
        for offset, (value, headers) in enumerate([*first, *rest])
    ]
    harness = Harness()
    intake = harness.intake()

    results = asyncio.run(intake.kafka_batch(records))
    assert len(results) == len(records)
    _check_results(results)
    for result in results[: len(valid)]:
        assert result.status is Status.ACCEPTED, result
    accepted = [r for r in results if r.status is Status.ACCEPTED]
    _check_store(harness, valid, len(accepted))

    again = asyncio.run(intake.kafka_batch(records))  # redelivered after a crash
    assert not [r for r in again if r.status is Status.ACCEPTED]
    assert [r.status for r in again][: len(valid)] == [Status.DUPLICATE] * len(valid)
    _check_store(harness, valid, len(accepted))


@fuzz_settings(EXAMPLES)
@given(
    valid=distinct_valid,
    hostile=st.lists(source_events(), max_size=4),
    copies=st.lists(st.integers(0, 3), max_size=3),
    seed=st.integers(0, 2**16),
)
def test_http_door_then_kafka_door_store_each_valid_event_once(
    valid: list[WireEvent], hostile: list[WireEvent], copies: list[int], seed: int
) -> None:
    shuffler = random.Random(seed)
    first = list(valid)
    shuffler.shuffle(first)
    rest = hostile + [valid[index % len(valid)] for index in copies]
    shuffler.shuffle(rest)
    headers, body = http_batch([*first, *rest])
    assert headers["Content-Type"] == BATCH_CONTENT_TYPE
    harness = Harness()
    intake = harness.intake()

    def send() -> list[EventResult]:
        items = request_items(
            headers, body, max_event_bytes=MAX_EVENT_BYTES, max_batch_bytes=MAX_BATCH_BYTES
        )
        return asyncio.run(intake.http_events(items))

    results = send()
    _check_results(results)
    if len(results) == 1 and len(first) + len(rest) > 1:  # refused whole (bytes not UTF-8)
        assert results[0].status is Status.REJECTED
        return
    assert len(results) == len(first) + len(rest)
    for result in results[: len(valid)]:
        assert result.status is Status.ACCEPTED, result
    accepted = [r for r in results if r.status is Status.ACCEPTED]
    progress = harness.publisher.on(TOPICS.progress)
    assert len(progress) == len(accepted)

    records = [
        FakeRecord(value=r.value, headers=r.headers, key=r.key, offset=offset)
        for offset, r in enumerate(progress)
    ]
    stored = asyncio.run(intake.kafka_batch(records))
    assert all(r.status is Status.ACCEPTED for r in stored), stored
    _check_store(harness, valid, len(accepted))

    again = send()  # the sender sends the same request again
    assert not [r for r in again if r.status is Status.ACCEPTED]
    assert [r.status for r in again][: len(valid)] == [Status.DUPLICATE] * len(valid)
    _check_store(harness, valid, len(accepted))
