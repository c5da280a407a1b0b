"""Fuzzing decode + validate: arbitrary bytes and mutated valid events never crash it, every
refusal names a reason, and nothing but the signed content is ever accepted."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.validation import Accepted, Rejected, Verdict, validate_kafka
from shared.contract.codec import encode_kafka_binary, encode_kafka_structured
from shared.contract.reasons import Reason
from tests.unit.ingest_support import NOW, catalog, key_snapshot, report

KEYS = key_snapshot()
VALID = report(note="掌上办 Q1")
BINARY = encode_kafka_binary(VALID)
STRUCTURED = encode_kafka_structured(VALID)


def run(value: bytes | None, headers: list[tuple[str, bytes]]) -> Verdict:
    verdict = validate_kafka(value, headers, catalog(), KEYS, NOW)
    assert isinstance(verdict, Accepted | Rejected)
    if isinstance(verdict, Rejected):
        assert isinstance(verdict.reason, Reason)
        assert verdict.message
    return verdict


def original_hash() -> str:
    verdict = run(BINARY[1], list(BINARY[2]))
    assert isinstance(verdict, Accepted)
    return verdict.event.content_hash


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER_NAMES = [
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "ce_specversion",
    "ce_sigkeyid",
    "ce_signature",
    "content-type",
    "ce_traceparent",
    "CE_ID",
    "x-other",
    "ce_",
]
header_names = st.sampled_from(HEADER_NAMES)


@FUZZ
@given(
    value=st.one_of(st.none(), st.binary(max_size=300)),
    headers=st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=60)), max_size=8),
)
def test_arbitrary_bytes_are_refused_with_a_reason(
    value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    assert isinstance(run(value, headers), Rejected)


@FUZZ
@given(data=st.data())
def test_flipped_bytes_in_the_value(data: st.DataObject) -> None:
    _, value, headers = data.draw(st.sampled_from([BINARY, STRUCTURED]))
    mutable = bytearray(value)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutable) - 1))
        mutable[position] = data.draw(st.integers(0, 255))
    verdict = run(bytes(mutable), list(headers))
    if isinstance(verdict, Accepted):  # only if the flips left the signed content as it was
        assert verdict.event.content_hash == original_hash()


@FUZZ
@given(data=st.data())
def test_dropped_altered_and_added_attributes(data: st.DataObject) -> None:
    headers = list(BINARY[2])
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["drop", "alter", "add", "duplicate"]))
        if action == "drop" and headers:
            headers.pop(data.draw(st.integers(0, len(headers) - 1)))
        elif action == "alter" and headers:
            index = data.draw(st.integers(0, len(headers) - 1))
            headers[index] = (headers[index][0], data.draw(st.binary(max_size=80)))
        elif action == "add":
            headers.append((data.draw(header_names), data.draw(st.binary(max_size=40))))
        elif action == "duplicate" and headers:
            headers.append(headers[data.draw(st.integers(0, len(headers) - 1))])
    verdict = run(BINARY[1], headers)
    if isinstance(verdict, Accepted):
        assert verdict.event.content_hash == original_hash()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


@FUZZ
@given(
    field=st.sampled_from(["plan", "target", "as_of", "value", "stage", "unit", "note", "extra"]),
    replacement=json_values,
)
def test_changed_data_values(field: str, replacement: object) -> None:
    data = json.loads(BINARY[1])
    data[field] = replacement
    try:
        body = json.dumps(data, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return
    verdict = run(body, list(BINARY[2]))
    if isinstance(verdict, Accepted):  # the signature covers the data: only no-op changes pass
        assert verdict.event.content_hash == original_hash()


@FUZZ
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "specversion",
                "id",
                "source",
                "type",
                "time",
                "subject",
                "datacontenttype",
                "sigkeyid",
                "signature",
                "data",
                "data_base64",
                "x",
            ]
        ),
        json_values,
        max_size=10,
    )
)
def test_structured_objects_of_any_shape(body: dict[str, object]) -> None:
    try:
        value = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return
    headers = [("content-type", b"application/cloudevents+json")]
    assert isinstance(run(value, headers), Rejected)
