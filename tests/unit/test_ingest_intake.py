"""The intake pipeline over the in-memory store and a recording publisher (both doors)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ingest.intake import HttpItem, Status
from services.ingest.validation import content_hash
from shared.accepted import AcceptedEvent
from shared.contract.codec import decode_kafka, decode_structured, encode_structured
from shared.contract.reasons import ContractError, Reason
from shared.runtime.dead_letters import (
    DLT_DOOR,
    DLT_EVENT_ID,
    DLT_MESSAGE,
    DLT_OFFSET,
    DLT_PARTITION,
    DLT_REASON,
    DLT_TOPIC,
)
from shared.runtime.kafka import TransientError
from tests.unit.ingest_store_contract import key
from tests.unit.ingest_support import (
    TOPICS,
    FakeRecord,
    Harness,
    agency_key,
    kafka_record,
    raw_of,
    report,
)


def accepted_ids(h: Harness) -> list[str]:
    return [AcceptedEvent.from_json(r.value).event_id for r in h.publisher.on(TOPICS.accepted)]


async def test_a_batch_with_a_poison_record_in_the_middle() -> None:
    h = Harness()
    records = [
        kafka_record(report(event_id="a"), 0),
        FakeRecord(value=b"\xff not json", headers=[("ce_id", b"x")], key=b"k", offset=1),
        kafka_record(report(event_id="c", value=80), 2, structured=True),
    ]
    results = await h.intake().kafka_batch(records)

    assert [r.status for r in results] == [Status.ACCEPTED, Status.REJECTED, Status.ACCEPTED]
    assert results[1].reason is Reason.MALFORMED
    assert sorted(h.store.docs) == [key("a"), key("c")]
    assert accepted_ids(h) == ["a", "c"]
    [dead] = h.publisher.on(TOPICS.dead_letter)
    assert (dead.key, dead.value) == (b"k", b"\xff not json")
    assert dead.headers[0] == ("ce_id", b"x")  # the original headers come first, unchanged
    assert dead.header(DLT_REASON) == b"malformed"
    assert dead.header(DLT_MESSAGE)
    assert dead.header(DLT_TOPIC) == TOPICS.progress.encode()
    assert dead.header(DLT_PARTITION) == b"0"
    assert dead.header(DLT_OFFSET) == b"1"
    assert dead.header(DLT_DOOR) == b"kafka"


async def test_accepted_records_are_keyed_by_target_and_normalized() -> None:
    h = Harness()
    await h.intake().kafka_batch([kafka_record(report(event_id="a", value=72.5))])
    [out] = h.publisher.on(TOPICS.accepted)
    assert out.key == b"gov.mobile-services"
    event = AcceptedEvent.from_json(out.value)
    assert (event.event_id, event.value, event.unit, event.received_at) == (
        "a",
        72.5,
        "percent",
        h.now,
    )
    stored = await h.store.get(key("a"))
    assert stored is not None and stored.event == event
    # The stored signed event decodes back to the same signed content (hash and signature).
    again = decode_structured(stored.signed_event.encode())
    assert content_hash(again) == event.content_hash
    assert again.envelope == raw_of(report(event_id="a")).envelope


async def test_a_redelivered_event_is_a_duplicate_stored_once_and_republished() -> None:
    h = Harness()
    intake = h.intake()
    await intake.kafka_batch([kafka_record(report(event_id="a"), 0)])
    first_received = h.now
    h.later(60)
    results = await intake.kafka_batch([kafka_record(report(event_id="a"), 0)])
    assert [r.status for r in results] == [Status.DUPLICATE]
    assert len(h.store.docs) == 1
    # Republished as first stored: scoring sees the same event (same received_at) twice.
    outs = [AcceptedEvent.from_json(r.value) for r in h.publisher.on(TOPICS.accepted)]
    assert [o.event_id for o in outs] == ["a", "a"]
    assert outs[0] == outs[1] and outs[1].received_at == first_received
    assert h.publisher.on(TOPICS.dead_letter) == []


async def test_a_reused_event_id_with_other_content_is_a_conflict() -> None:
    h = Harness()
    intake = h.intake()
    await intake.kafka_batch([kafka_record(report(event_id="a", value=10))])
    results = await intake.kafka_batch([kafka_record(report(event_id="a", value=11), 7)])
    assert results[0].status is Status.REJECTED and results[0].reason is Reason.CONFLICT
    stored = await h.store.get(key("a"))
    assert stored is not None and isinstance(stored.event, AcceptedEvent)
    assert stored.event.value == 10
    [dead] = h.publisher.on(TOPICS.dead_letter)
    assert dead.header(DLT_REASON) == b"conflict"
    assert dead.header(DLT_EVENT_ID) == b"a"
    assert dead.header(DLT_OFFSET) == b"7"


async def test_another_agency_cannot_take_an_id_first() -> None:
    # qy.miit sends "gov-data-0002" before qy.gov-data does: it used to be stored under the
    # bare id, and the owner's genuine, correctly signed event was refused as a conflict.
    h = Harness()
    intake = h.intake()
    squatter = report(event_id="gov-data-0002", agency="qy.miit", target="infra.5g-coverage")
    owner = report(event_id="gov-data-0002", value=10)
    first = await intake.kafka_batch([kafka_record(squatter)])
    second = await intake.kafka_batch([kafka_record(owner, 1)])
    assert [r.status for r in (*first, *second)] == [Status.ACCEPTED, Status.ACCEPTED]
    stored = await h.store.get(key("gov-data-0002"))
    assert stored is not None and stored.event.agency == "qy.gov-data"
    assert h.publisher.on(TOPICS.dead_letter) == []


async def test_repeats_within_one_batch() -> None:
    h = Harness()
    records = [
        kafka_record(report(event_id="a", value=10), 0),
        kafka_record(report(event_id="a", value=10), 1, structured=True),
        kafka_record(report(event_id="a", value=12), 2),
    ]
    results = await h.intake().kafka_batch(records)
    assert [r.status for r in results] == [Status.ACCEPTED, Status.DUPLICATE, Status.REJECTED]
    assert results[2].reason is Reason.CONFLICT
    assert h.store.insert_calls == 1 and list(h.store.docs) == [key("a")]
    assert accepted_ids(h) == ["a"]


async def test_a_transient_store_failure_publishes_nothing_and_the_retry_is_clean() -> None:
    h = Harness()
    intake = h.intake()
    records = [kafka_record(report(event_id="a")), FakeRecord(value=b"junk", offset=1)]
    h.store.fail_next = 1
    with pytest.raises(TransientError):
        await intake.kafka_batch(records)
    assert h.publisher.records == []  # not even the dead letter: the batch is not done
    results = await intake.kafka_batch(records)
    assert [r.status for r in results] == [Status.ACCEPTED, Status.REJECTED]
    assert len(h.publisher.on(TOPICS.dead_letter)) == 1


async def test_a_publish_failure_after_storing_is_retried_as_a_duplicate() -> None:
    h = Harness()
    intake = h.intake()
    records = [kafka_record(report(event_id="a"))]
    h.publisher.fail_next = 1
    with pytest.raises(TransientError):
        await intake.kafka_batch(records)
    assert list(h.store.docs) == [key("a")]  # stored, not yet passed on
    results = await intake.kafka_batch(records)
    assert results[0].status is Status.DUPLICATE
    assert accepted_ids(h) == ["a"]  # published now, after the retry


async def test_a_key_revoked_after_storing_does_not_turn_a_redelivery_into_a_rejection() -> None:
    h = Harness()
    intake = h.intake()
    await intake.kafka_batch([kafka_record(report(event_id="a"))])
    key = agency_key("qy.gov-data")
    h.keys[("qy.gov-data", "k1")] = key.revoke(datetime(2022, 4, 6, 12, 1, tzinfo=UTC))
    redelivered = await intake.kafka_batch([kafka_record(report(event_id="a"))])
    fresh = await intake.kafka_batch([kafka_record(report(event_id="b"))])
    assert redelivered[0].status is Status.DUPLICATE
    assert fresh[0].status is Status.REJECTED and fresh[0].reason is Reason.REVOKED_KEY


async def test_a_document_the_database_refuses_is_dead_lettered() -> None:
    h = Harness()
    h.store.refuse["a"] = "2: unsupported value"
    results = await h.intake().kafka_batch([kafka_record(report(event_id="a"))])
    assert results[0].status is Status.REJECTED and results[0].reason is Reason.MALFORMED
    assert "refused" in results[0].message
    assert h.publisher.on(TOPICS.accepted) == []


# --- HTTP door ---------------------------------------------------------------------------


def http_item(event: object) -> HttpItem:
    raw = raw_of(event)  # type: ignore[arg-type]
    body = encode_structured(raw)
    return HttpItem(body, "application/cloudevents+json", raw)


async def test_http_accepted_events_go_to_the_progress_topic_unchanged() -> None:
    h = Harness()
    event = report(event_id="h1")
    results = await h.intake().http_events([http_item(event)])
    assert [r.status for r in results] == [Status.ACCEPTED]
    [out] = h.publisher.on(TOPICS.progress)
    assert out.key == b"gov.mobile-services"
    assert decode_kafka(out.value, list(out.headers)) == raw_of(event)
    assert h.store.docs == {}  # the Kafka door stores it


async def test_http_duplicate_conflict_and_rejection() -> None:
    h = Harness()
    await h.intake().kafka_batch([kafka_record(report(event_id="s", value=5))])
    items = [
        http_item(report(event_id="s", value=5)),  # stored, same content
        http_item(report(event_id="s", value=6)),  # stored, other content
        http_item(report(event_id="n", agency="qy.health")),  # not responsible
        HttpItem(b"{", "application/cloudevents+json", ContractError(Reason.MALFORMED, "bad")),
        http_item(report(event_id="m", value=7)),
        http_item(report(event_id="m", value=7)),  # a repeat inside the request
    ]
    results = await h.intake().http_events(items)
    assert [(r.status, r.reason) for r in results] == [
        (Status.DUPLICATE, None),
        (Status.REJECTED, Reason.CONFLICT),
        (Status.REJECTED, Reason.NOT_RESPONSIBLE),
        (Status.REJECTED, Reason.MALFORMED),
        (Status.ACCEPTED, None),
        (Status.DUPLICATE, None),
    ]
    assert [o.key for o in h.publisher.on(TOPICS.progress)] == [b"gov.mobile-services"]
    dead = h.publisher.on(TOPICS.dead_letter)
    assert [d.header(DLT_REASON) for d in dead] == [b"conflict", b"not_responsible", b"malformed"]
    assert all(d.header(DLT_DOOR) == b"http" for d in dead)
    assert dead[2].value == b"{"
