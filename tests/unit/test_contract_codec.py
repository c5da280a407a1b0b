"""Wire forms: round trips in every mode, the official SDK as an oracle, refusals with reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from shared.contract.codec import (
    BATCH_CONTENT_TYPE,
    STRUCTURED_CONTENT_TYPE,
    data_bytes,
    decode_http,
    decode_kafka,
    decode_kafka_event,
    decode_structured,
    encode_http_batch,
    encode_http_binary,
    encode_http_structured,
    encode_kafka_binary,
    encode_kafka_structured,
    encode_structured,
)
from shared.contract.events import AgencyEvent, new_tick
from shared.contract.parsing import RawEvent, parse_event
from shared.contract.reasons import ContractError, Reason
from shared.contract.signing import sign, verify
from tests.unit.contract_fixtures import (
    KEY_ID,
    milestone_report,
    private_key,
    report,
    retraction,
)

EVENTS: list[AgencyEvent] = [
    sign(report(), private_key(), KEY_ID),
    sign(milestone_report(), private_key(), KEY_ID),
    sign(retraction(), private_key(), KEY_ID),
    new_tick(at="2022-04-30T23:59:59+08:00"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.envelope.type.value)
def test_kafka_binary_round_trip(event: AgencyEvent) -> None:
    key, value, headers = encode_kafka_binary(event)
    assert key == (event.envelope.subject.encode() if event.envelope.subject else None)
    assert dict(headers)["content-type"] == b"application/json"
    assert dict(headers)["ce_type"] == event.envelope.type.value.encode()
    assert json.loads(value) == event.data.model_dump(mode="json", exclude_none=True)
    raw = decode_kafka(value, headers)
    assert raw.data == value
    assert parse_event(raw) == event


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.envelope.type.value)
def test_kafka_structured_round_trip(event: AgencyEvent) -> None:
    key, value, headers = encode_kafka_structured(event)
    assert headers == [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
    assert key == (event.envelope.subject.encode() if event.envelope.subject else None)
    assert parse_event(decode_kafka(value, headers)) == event
    assert decode_kafka_event(value, headers) == event


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.envelope.type.value)
def test_http_round_trips(event: AgencyEvent) -> None:
    headers, body = encode_http_binary(event)
    assert [parse_event(r) for r in decode_http(headers, body)] == [event]
    headers, body = encode_http_structured(event)
    assert [parse_event(r) for r in decode_http(headers, body)] == [event]


def test_http_batch_round_trip_and_signatures() -> None:
    headers, body = encode_http_batch(EVENTS)
    assert headers["Content-Type"] == BATCH_CONTENT_TYPE
    raws = decode_http({"content-type": BATCH_CONTENT_TYPE + "; charset=utf-8"}, body)
    assert [parse_event(r) for r in raws] == EVENTS
    public = private_key().public_key()
    assert all(verify(r.envelope, r.data, public) for r in raws[:3])


def test_http_binary_percent_encodes_and_decodes() -> None:
    event = report().model_copy()
    envelope = event.envelope.model_copy(update={"id": 'a "quoted" 100% id é'})
    raw = RawEvent(envelope, data_bytes(event))
    headers, body = encode_http_binary(raw)
    assert headers["ce-id"] == "a%20%22quoted%22%20100%25%20id%20%C3%A9"
    assert decode_http(headers, body)[0].envelope.id == 'a "quoted" 100% id é'


def test_unknown_extensions_are_carried() -> None:
    event = report()
    envelope = event.envelope.model_copy(update={"extensions": {"traceparent": "00-abc-01"}})
    raw = RawEvent(envelope, data_bytes(event))
    _, value, headers = encode_kafka_binary(raw)
    assert ("ce_traceparent", b"00-abc-01") in headers
    assert decode_kafka(value, headers).envelope.extensions == {"traceparent": "00-abc-01"}
    decoded = decode_structured(encode_structured(raw))
    assert decoded.envelope.extensions == {"traceparent": "00-abc-01"}


# --- the official SDK reads what we write, and we read what it writes -------------------------


def _expected_sdk_attributes(event: AgencyEvent) -> dict[str, object]:
    attributes: dict[str, object] = dict(event.envelope.attributes())
    attributes["time"] = event.envelope.instant
    return attributes


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.envelope.type.value)
def test_sdk_reads_kafka_binary(event: AgencyEvent) -> None:
    key, value, headers = encode_kafka_binary(event)
    message = ce_kafka.KafkaMessage(headers=dict(headers), key=key, value=value)
    sdk_event = ce_kafka.from_binary(message, JSONFormat())
    attributes = sdk_event.get_attributes()
    attributes.pop("partitionkey", None)  # the SDK's view of the Kafka key
    assert attributes == _expected_sdk_attributes(event)
    assert sdk_event.get_data() == event.data.model_dump(mode="json", exclude_none=True)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.envelope.type.value)
def test_sdk_reads_structured_and_http(event: AgencyEvent) -> None:
    key, value, headers = encode_kafka_structured(event)
    message = ce_kafka.KafkaMessage(headers=dict(headers), key=key, value=value)
    sdk_event = ce_kafka.from_structured(message, JSONFormat())
    attributes = sdk_event.get_attributes()
    attributes.pop("partitionkey", None)
    assert attributes == _expected_sdk_attributes(event)
    assert sdk_event.get_data() == event.data.model_dump(mode="json", exclude_none=True)
    for http_headers, body in (encode_http_structured(event), encode_http_binary(event)):
        message_http = ce_http.HTTPMessage(headers=http_headers, body=body)
        http_event = ce_http.from_http(message_http, JSONFormat())
        assert http_event.get_attributes() == _expected_sdk_attributes(event)
        assert http_event.get_data() == sdk_event.get_data()


def _sdk_event() -> CloudEvent:
    signed = sign(report(), private_key(), KEY_ID)
    attributes: dict[str, object] = dict(signed.envelope.attributes())
    attributes["time"] = signed.envelope.instant  # the SDK re-renders it with isoformat()
    return CloudEvent(attributes=attributes, data=json.loads(data_bytes(signed)))


def test_we_read_what_the_sdk_writes_in_kafka_binary_and_structured() -> None:
    public = private_key().public_key()
    for message in (
        ce_kafka.to_binary(_sdk_event(), JSONFormat()),
        ce_kafka.to_structured(_sdk_event(), JSONFormat()),
    ):
        raw = decode_kafka(message.value, list(message.headers.items()))
        assert parse_event(raw) == sign(report(), private_key(), KEY_ID)
        assert verify(raw.envelope, raw.data, public)


# --- refusals -------------------------------------------------------------------------------


def _binary(**changes: bytes | None) -> tuple[bytes, list[tuple[str, bytes]]]:
    _, value, headers = encode_kafka_binary(report())
    values = dict(headers)
    for name, new in changes.items():
        if new is None:
            values.pop(name, None)
        else:
            values[name] = new
    return value, list(values.items())


def _refusal(value: bytes, headers: list[tuple[str, bytes]]) -> ContractError:
    with pytest.raises(ContractError) as caught:
        parse_event(decode_kafka(value, headers))
    return caught.value


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"ce_id": None}, "missing attribute(s): id"),
        ({"ce_source": None, "ce_time": None}, "missing attribute(s): source, time"),
        ({"content-type": None}, "missing attribute(s): datacontenttype"),
        ({"ce_specversion": b"0.3"}, "specversion '0.3' is not supported"),
        ({"ce_time": b"2022-04-06T09:30:00"}, "not an RFC 3339 timestamp with an offset"),
        ({"ce_time": b"2022-04-06 09:30:00+08:00"}, "not an RFC 3339 timestamp"),
        ({"ce_source": b"https://agency.example"}, "neither urn:planwatch:agency:<agency id>"),
        ({"ce_source": b"urn:planwatch:clock"}, "source must be urn:planwatch:agency:<id>"),
        ({"ce_subject": None}, "subject (the target id) is required"),
        ({"ce_subject": b"gov.online-services"}, "differs from data.target"),
        ({"ce_id": b"x" * 129}, "id: String should have at most 128 characters"),
        ({"ce_id": b""}, "id: String should have at least 1 character"),
        ({"content-type": b"text/plain"}, "datacontenttype: Input should be 'application/json'"),
        ({"ce_Bad_Name": b"1"}, "not CloudEvents names"),
        ({"ce_averyveryverylongextension": b"1"}, "not CloudEvents names"),
        ({"ce_id": b"\xff"}, "not UTF-8"),
    ],
)
def test_malformed_envelopes(changes: dict[str, bytes | None], fragment: str) -> None:
    error = _refusal(*_binary(**changes))
    assert error.reason is Reason.MALFORMED
    assert fragment in error.message


_DATA = '"plan":"qingyuan-digital-economy-2021","target":"gov.mobile-services","as_of":"2022-03-31"'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "data must be a JSON object"),
        ("{" + _DATA + ',"value":NaN}', "NaN"),
        ("{" + _DATA + ',"value":Infinity}', "Infinity"),
        ("{" + _DATA + ',"value":72,"extra":1}', "data.extra: Extra inputs are not permitted"),
        ("{" + _DATA + ',"value":72,"stage":"done"}', "exactly one of `value`"),
        ("{" + _DATA + "}", "exactly one of `value`"),
        ("{" + _DATA + ',"value":"72"}', "data.value: Input should be a valid number"),
        ("{" + _DATA + ',"value":true}', "data.value"),
        ("{" + _DATA + ',"value":72,"note":null}', "null is not allowed"),
        ("{" + _DATA + ',"value":72,"note":"' + "x" * 1001 + '"}', "data.note"),
        ("{" + _DATA + ',"value":72,"evidence":"ftp://x"}', "not an http(s) URL"),
        ("{" + _DATA + ',"value":72,"unit":"percentage"}', "data.unit"),
        ("{" + _DATA.replace("2022-03-31", "2022-3-31") + ',"value":1}', "YYYY-MM-DD"),
        ("{" + _DATA.replace("2022-03-31", "2022-02-30") + ',"value":1}', "data.as_of"),
        ("{" + _DATA + ',"value":1,"value":2}', "duplicate JSON key 'value'"),
    ],
)
def test_malformed_data(body: str, fragment: str) -> None:
    _, headers = _binary()
    error = _refusal(body.encode(), headers)
    assert error.reason is Reason.MALFORMED
    assert fragment in error.message


def test_unknown_type() -> None:
    error = _refusal(*_binary(ce_type=b"org.planwatch.progress.reported.v2"))
    assert error.reason is Reason.UNKNOWN_TYPE
    assert "org.planwatch.progress.reported.v2" in error.message


def test_oversized_in_every_mode() -> None:
    event = report()
    _, value, headers = encode_kafka_binary(event)
    size = len(value) + sum(len(n) + len(v) for n, v in headers)
    decode_kafka(value, headers, max_bytes=size)
    with pytest.raises(ContractError) as caught:
        decode_kafka(value, headers, max_bytes=size - 1)
    assert caught.value.reason is Reason.OVERSIZED
    with pytest.raises(ContractError) as caught:
        decode_structured(encode_structured(event), max_bytes=100)
    assert caught.value.reason is Reason.OVERSIZED
    headers_http, body = encode_http_batch([event] * 3)
    with pytest.raises(ContractError) as caught:
        decode_http(headers_http, body, max_batch_bytes=len(body) - 1)
    assert caught.value.reason is Reason.OVERSIZED
    big = b"{" + b'"note":"' + b"x" * (64 * 1024) + b'"}'
    with pytest.raises(ContractError) as caught:
        decode_kafka(big, headers)  # default limit: 64 KiB
    assert caught.value.reason is Reason.OVERSIZED


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[]", "a structured event must be a JSON object"),
        (b'{"specversion":"1.0"}', "missing data"),
        (b'{"data_base64":"AA=="}', "data_base64 is not allowed"),
    ],
)
def test_malformed_structured(body: bytes, fragment: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode_structured(body)
    assert caught.value.reason is Reason.MALFORMED
    assert fragment in caught.value.message


def test_structured_attribute_must_be_a_string() -> None:
    obj = json.loads(encode_structured(report()))
    obj["time"] = 1649208600
    with pytest.raises(ContractError, match="attribute 'time' must be a string"):
        decode_structured(json.dumps(obj).encode())


def test_batch_item_errors_name_the_item_and_kafka_has_no_batches() -> None:
    good = json.loads(encode_structured(report()))
    bad = dict(good, type="org.example.other")
    body = json.dumps([good, bad]).encode()
    with pytest.raises(ContractError) as caught:
        decode_http({"Content-Type": BATCH_CONTENT_TYPE}, body)
    assert caught.value.reason is Reason.UNKNOWN_TYPE
    assert caught.value.message.startswith("batch item 1:")
    with pytest.raises(ContractError, match="batch mode is not defined for Kafka"):
        decode_kafka(body, [("content-type", BATCH_CONTENT_TYPE.encode())])


def test_duplicate_kafka_header() -> None:
    value, headers = _binary()
    with pytest.raises(ContractError, match="appears twice"):
        decode_kafka(value, [*headers, ("ce_id", b"other")])


def test_tick_rules() -> None:
    tick = new_tick(at=datetime(2022, 4, 30, 16, tzinfo=UTC))
    assert tick.envelope.source == "urn:planwatch:clock"
    assert tick.envelope.subject is None
    _, value, headers = encode_kafka_binary(tick)
    error = _refusal(value, [*headers, ("ce_subject", b"gov.mobile-services")])
    assert "a clock tick has no subject" in error.message
