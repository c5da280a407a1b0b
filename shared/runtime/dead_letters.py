"""The one dead-letter convention of every service: a record refused for good goes to the
service's dead-letter topic with its original key, value and headers, plus `x-dlt-*` headers
saying why (reason, message), where from (topic, partition, offset, or the HTTP door) and when,
bounded as a whole so that it can always be sent (a dead letter never blocks its partition).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Final

from shared.runtime.kafka import Record
from shared.runtime.publisher import Headers, Outbound

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
# Every name above, for the AsyncAPI document.
DLT_HEADERS: Final = (
    DLT_REASON,
    DLT_MESSAGE,
    DLT_TOPIC,
    DLT_PARTITION,
    DLT_OFFSET,
    DLT_DOOR,
    DLT_EVENT_ID,
    DLT_AT,
    DLT_TRUNCATED,
    DLT_KEY_DIGEST,
    DLT_HEADERS_DIGEST,
    DLT_STRIPPED,
)
ALWAYS_SET: Final = (DLT_REASON, DLT_DOOR, DLT_AT)
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


def text_header(value: str) -> bytes:
    """A header value from text: cut to MAX_MESSAGE_CHARS, UTF-8 (any text is sendable)."""
    return value[:MAX_MESSAGE_CHARS].encode("utf-8", errors="replace")


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode("ascii")


def _headers_size(headers: Headers) -> int:
    return sum(len(name.encode("utf-8")) + len(value) for name, value in headers)


def bounded_dead_letter(
    topic: str,
    key: bytes | None,
    value: bytes,
    original_headers: Headers,
    context: list[tuple[str, bytes]],
) -> Outbound:
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
    return Outbound(topic=topic, value=value, key=key, headers=(*kept, *context))


def dead_letter_record(
    topic: str,
    record: Record,
    reason: str,
    message: str,
    *,
    at: datetime,
    event_id: str | None = None,
) -> Outbound:
    """A rejected Kafka record: its original key, value and headers, plus why and where from."""
    context = [
        (DLT_REASON, text_header(reason)),
        (DLT_MESSAGE, text_header(message)),
        (DLT_TOPIC, record.topic.encode("utf-8")),
        (DLT_PARTITION, str(record.partition).encode("ascii")),
        (DLT_OFFSET, str(record.offset).encode("ascii")),
        (DLT_DOOR, b"kafka"),
        (DLT_AT, at.isoformat().encode("ascii")),
    ]
    if event_id is not None:
        context.append((DLT_EVENT_ID, text_header(event_id)))
    original = tuple((name, value or b"") for name, value in record.headers)
    return bounded_dead_letter(topic, record.key, record.value or b"", original, context)
