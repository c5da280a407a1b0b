"""CloudEvents wire forms of the contract, on raw bytes and headers (no SDK at runtime).

Kafka: binary mode (`ce_` headers, `content-type`, body = the data JSON, key = the target id)
and structured mode (`content-type: application/cloudevents+json`, body = the whole event).
HTTP: binary (`ce-` headers, percent-encoded values), structured, and batch
(`application/cloudevents-batch+json`, a JSON array of structured events).

Decoders return `RawEvent`s (validated envelope + the data bytes the signature covers);
`shared.contract.parsing.parse_event` then validates the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote, unquote

from shared.contract import jcs
from shared.contract.events import AgencyEvent, Envelope
from shared.contract.parsing import (
    DEFAULT_MAX_BYTES,
    RawEvent,
    check_size,
    envelope_from_attributes,
    parse_event,
)
from shared.contract.reasons import ContractError, Reason

STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json"
BATCH_CONTENT_TYPE: Final = "application/cloudevents-batch+json"
DEFAULT_MAX_BATCH_BYTES: Final = 1024 * 1024
KAFKA_PREFIX: Final = "ce_"
HTTP_PREFIX: Final = "ce-"
CONTENT_TYPE: Final = "content-type"

KafkaHeaders = list[tuple[str, bytes]]
# What a header value may hold unencoded in HTTP binary mode: printable ASCII but '"' and '%'.
_HTTP_SAFE: Final = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')


def _parts(event: AgencyEvent | RawEvent) -> tuple[Envelope, bytes]:
    if isinstance(event, RawEvent):
        return event.envelope, event.data
    return event.envelope, data_bytes(event)


def data_bytes(event: AgencyEvent) -> bytes:
    """The data as this library sends it: its RFC 8785 canonical JSON."""
    return jcs.canonicalize(event.data.model_dump(mode="json", exclude_none=True))


def kafka_key(envelope: Envelope) -> bytes | None:
    """Kafka partitions by target, so one target's events stay in order; ticks have no key."""
    return envelope.subject.encode("utf-8") if envelope.subject is not None else None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


# --- structured mode (shared by Kafka and HTTP) ---------------------------------------------


def _structured_object(envelope: Envelope, data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = dict(envelope.attributes())
    obj["data"] = jcs.loads(data)
    return obj


def encode_structured(event: AgencyEvent | RawEvent) -> bytes:
    """The whole event as one JSON object (canonical JSON), `data` nested."""
    envelope, data = _parts(event)
    return jcs.canonicalize(_structured_object(envelope, data))


def _attribute_text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    # JSON-format extensions may be booleans or integers; their CloudEvents string forms.
    if name not in {"specversion", "id", "source", "type", "subject", "time", "datacontenttype"}:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
    raise ContractError(Reason.MALFORMED, f"attribute {name!r} must be a string")


def _from_structured_value(obj: Any) -> RawEvent:
    if not isinstance(obj, dict):
        raise ContractError(Reason.MALFORMED, "a structured event must be a JSON object")
    if "data_base64" in obj:
        raise ContractError(Reason.MALFORMED, "data_base64 is not allowed: data is JSON")
    if "data" not in obj:
        raise ContractError(Reason.MALFORMED, "missing data")
    attributes = {k: _attribute_text(k, v) for k, v in obj.items() if k != "data"}
    envelope = envelope_from_attributes(attributes)
    return RawEvent(envelope, jcs.canonicalize(obj["data"]))


def decode_structured(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> RawEvent:
    """One event in JSON structured mode."""
    check_size(len(body), max_bytes)
    return _from_structured_value(jcs.loads(body))


# --- Kafka ----------------------------------------------------------------------------------


def encode_kafka_binary(event: AgencyEvent | RawEvent) -> tuple[bytes | None, bytes, KafkaHeaders]:
    """(key, value, headers) for Kafka binary mode."""
    envelope, data = _parts(event)
    headers: KafkaHeaders = []
    for name, value in envelope.attributes().items():
        if name == "datacontenttype":
            continue
        headers.append((KAFKA_PREFIX + name, value.encode("utf-8")))
    headers.append((CONTENT_TYPE, envelope.datacontenttype.encode("utf-8")))
    return kafka_key(envelope), data, headers


def encode_kafka_structured(
    event: AgencyEvent | RawEvent,
) -> tuple[bytes | None, bytes, KafkaHeaders]:
    """(key, value, headers) for Kafka structured mode."""
    envelope, _ = _parts(event)
    return (
        kafka_key(envelope),
        encode_structured(event),
        [(CONTENT_TYPE, STRUCTURED_CONTENT_TYPE.encode("utf-8"))],
    )


def decode_kafka(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> RawEvent:
    """A Kafka record in binary or structured mode (told apart by `content-type`)."""
    body = value or b""
    check_size(len(body) + sum(len(n) + len(v or b"") for n, v in headers), max_bytes)
    texts: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if name in texts:
            raise ContractError(Reason.MALFORMED, f"header {raw_name!r} appears twice")
        try:
            texts[name] = (raw_value or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise ContractError(Reason.MALFORMED, f"header {raw_name!r} is not UTF-8") from None
    media_type = _media_type(texts.get(CONTENT_TYPE))
    if media_type == BATCH_CONTENT_TYPE:
        raise ContractError(Reason.MALFORMED, "batch mode is not defined for Kafka")
    if media_type.startswith("application/cloudevents"):
        if media_type != STRUCTURED_CONTENT_TYPE:
            raise ContractError(Reason.MALFORMED, f"unsupported event format {media_type!r}")
        return _from_structured_value(jcs.loads(body))
    attributes = {
        name[len(KAFKA_PREFIX) :]: text
        for name, text in texts.items()
        if name.startswith(KAFKA_PREFIX)
    }
    if CONTENT_TYPE in texts:
        attributes["datacontenttype"] = texts[CONTENT_TYPE]
    return RawEvent(envelope_from_attributes(attributes), body)


def decode_kafka_event(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> AgencyEvent:
    """`decode_kafka` then `parse_event` (signature not checked)."""
    return parse_event(decode_kafka(value, headers, max_bytes=max_bytes))


# --- HTTP -----------------------------------------------------------------------------------


def encode_http_binary(event: AgencyEvent | RawEvent) -> tuple[dict[str, str], bytes]:
    envelope, data = _parts(event)
    headers: dict[str, str] = {}
    for name, value in envelope.attributes().items():
        if name == "datacontenttype":
            headers["Content-Type"] = value
        else:
            headers[HTTP_PREFIX + name] = quote(value, safe=_HTTP_SAFE)
    return headers, data


def encode_http_structured(event: AgencyEvent | RawEvent) -> tuple[dict[str, str], bytes]:
    return {"Content-Type": STRUCTURED_CONTENT_TYPE}, encode_structured(event)


def encode_http_batch(events: Sequence[AgencyEvent | RawEvent]) -> tuple[dict[str, str], bytes]:
    objects = [_structured_object(*_parts(event)) for event in events]
    return {"Content-Type": BATCH_CONTENT_TYPE}, jcs.canonicalize(objects)


def decode_http(
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
) -> list[RawEvent]:
    """An HTTP request in binary, structured or batch mode; a batch fails as a whole."""
    lowered = {name.lower(): value for name, value in headers.items()}
    media_type = _media_type(lowered.get(CONTENT_TYPE))
    if media_type == BATCH_CONTENT_TYPE:
        check_size(len(body), max_batch_bytes)
        items = jcs.loads(body)
        if not isinstance(items, list):
            raise ContractError(Reason.MALFORMED, "a batch must be a JSON array")
        events = []
        for index, item in enumerate(items):
            try:
                events.append(_from_structured_value(item))
            except ContractError as exc:
                raise ContractError(exc.reason, f"batch item {index}: {exc.message}") from None
        return events
    if media_type.startswith("application/cloudevents"):
        if media_type != STRUCTURED_CONTENT_TYPE:
            raise ContractError(Reason.MALFORMED, f"unsupported event format {media_type!r}")
        return [decode_structured(body, max_bytes=max_bytes)]
    event_headers = {n: v for n, v in lowered.items() if n.startswith(HTTP_PREFIX)}
    check_size(len(body) + sum(len(n) + len(v) for n, v in event_headers.items()), max_bytes)
    attributes: dict[str, str] = {}
    for name, value in event_headers.items():
        try:
            attributes[name[len(HTTP_PREFIX) :]] = unquote(value, errors="strict")
        except UnicodeDecodeError:
            raise ContractError(
                Reason.MALFORMED, f"header {name!r} is not percent-encoded UTF-8"
            ) from None
    if CONTENT_TYPE in lowered:
        attributes["datacontenttype"] = lowered[CONTENT_TYPE]
    return [RawEvent(envelope_from_attributes(attributes), body)]
