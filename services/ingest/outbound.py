"""What ingest writes to Kafka: accepted events for scoring, HTTP intake onto the progress
topic, and dead letters from its HTTP door (the Kafka door's are `shared.runtime.dead_letters`).
Everything goes out through `shared.runtime.publisher`, the one publisher of every service.
"""

from __future__ import annotations

from datetime import datetime

from shared.accepted import ACCEPTED_CONTENT_TYPE, AcceptedEvent
from shared.accepted_problem import AnyAccepted
from shared.contract.codec import encode_kafka_binary
from shared.contract.parsing import RawEvent
from shared.contract.reasons import Reason
from shared.runtime.dead_letters import (
    DLT_AT,
    DLT_DOOR,
    DLT_EVENT_ID,
    DLT_MESSAGE,
    DLT_REASON,
    bounded_dead_letter,
    text_header,
)
from shared.runtime.publisher import Outbound


def accepted_record(topic: str, event: AnyAccepted) -> Outbound:
    """An accepted event for scoring: keyed by target id, so a target's events stay in order
    (a problem event by its subject, the target or task: one problem's events stay in order)."""
    key = event.target if isinstance(event, AcceptedEvent) else event.key
    return Outbound(
        topic=topic,
        value=event.to_json(),
        key=key.encode("utf-8"),
        headers=(
            ("content-type", ACCEPTED_CONTENT_TYPE.encode("ascii")),
            ("event-id", event.event_id.encode("utf-8")),
        ),
    )


def progress_record(topic: str, raw: RawEvent) -> Outbound:
    """An event taken over HTTP, onto the progress topic in Kafka binary mode, bytes unchanged."""
    key, value, headers = encode_kafka_binary(raw)
    return Outbound(topic=topic, value=value, key=key, headers=tuple(headers))


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
) -> Outbound:
    """A rejected HTTP event: the body it came in (the batch item for a batch), its content
    type as `content-type`, plus why; no topic/partition/offset (it never was on Kafka)."""
    context = [
        (DLT_REASON, reason.value.encode("ascii")),
        (DLT_MESSAGE, text_header(message)),
        (DLT_DOOR, b"http"),
        (DLT_AT, at.isoformat().encode("ascii")),
    ]
    if event_id is not None:
        context.append((DLT_EVENT_ID, text_header(event_id)))
    original = (("content-type", text_header(content_type)),)
    return bounded_dead_letter(topic, key, body, original, context)
