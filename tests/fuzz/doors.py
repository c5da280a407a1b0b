"""Hostile inputs per door, and each door's judgement with the fuzz properties checked.

A case is what a sender puts on the wire and, when it came from a signed event, that event
(`WireEvent.original`; `valid` when unchanged). The mix: valid signed events, the grammar's
events, mutations of valid events (members, attributes, headers, bytes), and garbage.
"""

from __future__ import annotations

from typing import Final

from hypothesis import strategies as st

from services.ingest.http_door import MAX_BATCH_ITEMS, request_items
from services.ingest.validation import Rejected, Verdict, validate, validate_kafka
from shared.contract.codec import BATCH_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE
from shared.contract.reasons import ContractError
from tests.fuzz.support import (
    KEYS,
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    HttpInput,
    KafkaInput,
    WireEvent,
    any_texts,
    bounded,
    check_verdict,
    flip_bytes,
    grammar_events,
    http_batch,
    http_binary,
    http_structured,
    input_size_http,
    input_size_kafka,
    json_values,
    kafka_binary,
    kafka_structured,
    member_mutation,
    nest,
    valid_events,
    write_json,
)
from tests.unit.ingest_support import NOW, catalog

KAFKA_HEADER_NAMES: Final = (
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "ce_specversion",
    "ce_sigkeyid",
    "ce_signature",
    "content-type",
    "Content-Type",
    "ce_traceparent",
    "CE_ID",
    "ce_",
    "ce_data",
    "ce_datacontenttype",
    "x-dlt-reason",
    "x-reason",
    "x-orig-topic",
)
HTTP_HEADER_NAMES: Final = tuple(
    n.replace("ce_", "ce-").replace("CE_", "CE-") for n in KAFKA_HEADER_NAMES
)
CONTENT_TYPES: Final = (
    "application/json",
    STRUCTURED_CONTENT_TYPE,
    BATCH_CONTENT_TYPE,
    "application/cloudevents+json; charset=utf-8",
    "application/cloudevents+xml",
    "APPLICATION/CLOUDEVENTS+JSON",
    "text/plain",
    "",
)

# --- sources of events ----------------------------------------------------------------------


@st.composite
def source_events(draw: st.DrawFn) -> WireEvent:
    """A valid event (unchanged), a grammar event, or a member mutation of a valid one."""
    kind = draw(st.integers(0, 9))
    if kind < 3:
        return draw(valid_events)
    if kind < 6:
        return draw(grammar_events())
    return draw(member_mutation(draw(valid_events)))


garbage_bodies: st.SearchStrategy[bytes] = (
    st.binary(max_size=300)
    | st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b"{}",
            b"\xef\xbb\xbf{}",
            b'{"a":1,"a":2}',
            b"NaN",
            b'"\\ud800"',
            b"1e999",
        ]
    )
    | st.sampled_from([10, 31, 33, 1000, 100_000]).map(lambda d: nest(d).encode())
    | st.sampled_from([10, 33, 1000, 100_000]).map(lambda d: ('{"a":' * d + "1" + "}" * d).encode())
    | st.sampled_from([MAX_EVENT_BYTES - 1, MAX_EVENT_BYTES, MAX_EVENT_BYTES + 1]).map(
        lambda n: b'"' + b"x" * (n - 2) + b'"'
    )
    | json_values.map(lambda v: write_json(v).encode("utf-8", "surrogatepass"))
)

# --- Kafka ------------------------------------------------------------------------------------


@st.composite
def kafka_headers_mutation(
    draw: st.DrawFn, headers: list[tuple[str, bytes]]
) -> list[tuple[str, bytes]]:
    headers = list(headers)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "alter", "add", "duplicate", "rename", "none"]))
        if action == "drop" and headers:
            headers.pop(draw(st.integers(0, len(headers) - 1)))
        elif action == "alter" and headers:
            index = draw(st.integers(0, len(headers) - 1))
            value = draw(
                st.binary(max_size=80)
                | any_texts.map(lambda t: t.encode("utf-8", "surrogatepass"))
                | st.just(headers[index][1] + b"x")
                | st.just(headers[index][1].upper())
            )
            headers[index] = (headers[index][0], value)
        elif action == "add":
            headers.append(
                (draw(st.sampled_from(KAFKA_HEADER_NAMES)), draw(st.binary(max_size=40)))
            )
        elif action == "duplicate" and headers:
            headers.append(headers[draw(st.integers(0, len(headers) - 1))])
        elif action == "rename" and headers:
            index = draw(st.integers(0, len(headers) - 1))
            headers[index] = (
                draw(st.sampled_from(KAFKA_HEADER_NAMES) | st.text(max_size=8)),
                headers[index][1],
            )
    return headers


@st.composite
def kafka_cases(draw: st.DrawFn, structured: bool) -> tuple[KafkaInput, WireEvent | None]:
    """One Kafka record (value, headers) for the binary or the structured door."""
    encode = kafka_structured if structured else kafka_binary
    kind = draw(st.integers(0, 9))
    if kind < 6:
        wire = draw(source_events())
        return encode(wire), wire
    if kind < 9:  # a valid event, changed on the wire
        wire = draw(valid_events)
        value, headers = encode(wire)
        mutated = WireEvent(wire.attributes, wire.data, wire.original)
        if draw(st.booleans()):
            assert value is not None
            value = flip_bytes(draw, value)
        if not structured or draw(st.booleans()):
            headers = draw(kafka_headers_mutation(headers))
        return (value, headers), mutated
    content_type = draw(st.sampled_from(CONTENT_TYPES)).encode()
    value_or_none = draw(st.none() | garbage_bodies)
    headers = [("content-type", content_type)] if draw(st.booleans()) else []
    headers += draw(
        st.lists(
            st.tuples(
                st.sampled_from(KAFKA_HEADER_NAMES) | st.text(max_size=20), st.binary(max_size=60)
            ),
            max_size=6,
        )
    )
    return (value_or_none, headers), None


def judge_kafka(case: KafkaInput, wire: WireEvent | None) -> Verdict:
    value, headers = case

    def judge() -> Verdict:
        return validate_kafka(value, headers, catalog(), KEYS, NOW)

    verdict = bounded(judge, input_size_kafka(value, headers))
    check_verdict(verdict, wire)
    return verdict


# --- HTTP -------------------------------------------------------------------------------------


@st.composite
def http_headers_mutation(draw: st.DrawFn, headers: dict[str, str]) -> dict[str, str]:
    headers = dict(headers)
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "alter", "add", "case", "percent"]))
        names = sorted(headers)
        if action == "drop" and names:
            del headers[draw(st.sampled_from(names))]
        elif action == "alter" and names:
            name = draw(st.sampled_from(names))
            headers[name] = draw(any_texts | st.just(headers[name] + "x") | st.just("%ff%fe"))
        elif action == "add":
            headers[draw(st.sampled_from(HTTP_HEADER_NAMES))] = draw(any_texts)
        elif action == "case" and names:  # the same name again, in other case
            name = draw(st.sampled_from(names))
            headers[name.upper()] = headers[name]
        elif action == "percent" and names:
            name = draw(st.sampled_from(names))
            headers[name] = draw(st.sampled_from(["%", "%g0", "%C0%80", "%ED%A0%80", "%00", "%0A"]))
    return headers


@st.composite
def http_cases(draw: st.DrawFn, structured: bool) -> tuple[HttpInput, WireEvent | None]:
    """One request of the binary or the structured door."""
    encode = http_structured if structured else http_binary
    kind = draw(st.integers(0, 9))
    if kind < 6:
        wire = draw(source_events())
        return encode(wire), wire
    if kind < 9:
        wire = draw(valid_events)
        headers, body = encode(wire)
        mutated = WireEvent(wire.attributes, wire.data, wire.original)
        if draw(st.booleans()):
            body = flip_bytes(draw, body)
        if not structured or draw(st.booleans()):
            headers = draw(http_headers_mutation(headers))
        return (headers, body), mutated
    headers = {"Content-Type": draw(st.sampled_from(CONTENT_TYPES))}
    headers.update(
        draw(
            st.dictionaries(
                st.sampled_from(HTTP_HEADER_NAMES) | st.text(max_size=12), any_texts, max_size=4
            )
        )
    )
    return (headers, draw(garbage_bodies)), None


@st.composite
def batch_cases(draw: st.DrawFn) -> tuple[HttpInput, list[WireEvent] | None]:
    """A batch request: items from every source, or a whole-body mutation (then no item is
    known to be valid)."""
    wires = draw(st.lists(source_events(), max_size=4))
    headers, body = http_batch(wires)
    kind = draw(st.integers(0, 99))
    if kind < 70:
        return (headers, body), wires
    if kind < 80:
        return (headers, flip_bytes(draw, body)), None
    if kind < 82:  # over the item cap, or a deep/odd array (rare: large and slow to trace)
        body = draw(
            st.sampled_from(
                [
                    b"[" + b",".join([b"1"] * (MAX_BATCH_ITEMS + 1)) + b"]",
                    b"[" + b",".join([b"{}"] * MAX_BATCH_ITEMS) + b"]",
                    nest(10_000).encode(),
                    b"[" + nest(40).encode() + b"]",
                    b"[" + b"1," * 400_000 + b"1]",
                    b" " * (MAX_BATCH_BYTES + 1),
                ]
            )
        )
        return (headers, body), None
    if kind < 90:
        headers = draw(
            st.fixed_dictionaries(
                {
                    "content-type": st.sampled_from(
                        [
                            BATCH_CONTENT_TYPE,
                            BATCH_CONTENT_TYPE.upper() + "; charset=utf-8",
                            " " + BATCH_CONTENT_TYPE,
                        ]
                    )
                }
            )
        )
        return (headers, body), wires
    return (headers, draw(garbage_bodies)), None


def judge_http(case: HttpInput, wires: list[WireEvent] | None) -> list[Verdict]:
    """`request_items`, then `validate` for each decoded item, as the HTTP door does."""
    headers, body = case

    def judge() -> list[Verdict]:
        verdicts: list[Verdict] = []
        for item in request_items(
            headers, body, max_event_bytes=MAX_EVENT_BYTES, max_batch_bytes=MAX_BATCH_BYTES
        ):
            if isinstance(item.decoded, ContractError):
                verdicts.append(Rejected(item.decoded.reason, item.decoded.message))
            else:
                verdicts.append(validate(item.decoded, catalog(), KEYS, NOW))
        return verdicts

    verdicts = bounded(judge, input_size_http(headers, body))
    assert len(verdicts) <= MAX_BATCH_ITEMS
    if wires is None:  # garbage, or a whole-body mutation: any item may survive it
        for verdict in verdicts:
            check_verdict(verdict, None)
    elif len(verdicts) == len(wires):
        for verdict, wire in zip(verdicts, wires, strict=True):
            check_verdict(verdict, wire)
    else:  # the body as a whole was refused (e.g. one item's bytes are not UTF-8)
        assert len(verdicts) == 1 and isinstance(verdicts[0], Rejected), verdicts
        check_verdict(verdicts[0], None)
    return verdicts
