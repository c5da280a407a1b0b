"""A dead letter (shared.runtime.dead_letters, every service's) can always be sent: bounded as
a whole below Kafka's request limit whatever the sender put in the key and headers, and a
sender cannot spoof the dead-letter headers. Also which Kafka errors are permanent (never
retried as transient)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import errors as kafka_errors

from shared.contract.reasons import Reason
from shared.runtime import dead_letters
from shared.runtime.dead_letters import dead_letter_record
from shared.runtime.kafka import TransientError, is_transient
from shared.runtime.publisher import Outbound
from tests.unit.fake_records import FakeRecord

AT = datetime(2022, 1, 1, tzinfo=UTC)
KAFKA_MAX_REQUEST = 1_048_576  # aiokafka's max_request_size: key, value and headers count


def size(record: Outbound) -> int:
    headers = sum(len(n.encode()) + len(v) for n, v in record.headers)
    return len(record.key or b"") + len(record.value) + headers


def letter(record: FakeRecord) -> Outbound:
    return dead_letter_record("dlt", record, Reason.MALFORMED, "bad", at=AT)


def test_a_record_with_a_huge_header_gives_a_dead_letter_that_fits() -> None:
    # The review's reproduction: 2 bytes of body and one 1,048,300-byte extension header, which
    # the broker accepts; its dead letter (headers copied whole) was 1,048,610 bytes.
    record = FakeRecord("p", 3, 7, b"{}", b"t", (("ce_ext", b"x" * 1_048_300),))
    dead = letter(record)
    assert size(dead) <= dead_letters.MAX_DLT_RECORD_BYTES < KAFKA_MAX_REQUEST
    assert dead.header(dead_letters.DLT_HEADERS_DIGEST) is not None  # dropped, by digest
    assert dead.header("ce_ext") is None and dead.value == b"{}"
    assert dead.header(dead_letters.DLT_REASON) == b"malformed"


def test_a_huge_key_and_value_are_bounded_too() -> None:
    record = FakeRecord("p", 0, 1, b"v" * 1_040_000, b"k" * 600_000, ())
    dead = letter(record)
    assert size(dead) <= dead_letters.MAX_DLT_RECORD_BYTES
    assert dead.key is None and dead.header(dead_letters.DLT_KEY_DIGEST) is not None
    assert dead.header(dead_letters.DLT_TRUNCATED) == b"1040000"


def test_small_records_keep_their_key_headers_and_value() -> None:
    record = FakeRecord("p", 0, 1, b"value", b"key", (("ce_id", b"e1"),))
    dead = letter(record)
    assert (dead.key, dead.value, dead.header("ce_id")) == (b"key", b"value", b"e1")
    assert dead.header(dead_letters.DLT_TRUNCATED) is None


def test_a_sender_cannot_spoof_the_dead_letter_headers() -> None:
    spoofed = (
        ("x-dlt-reason", b"duplicate"),
        ("X-DLT-Message", b"all fine"),
        ("x-orig-topic", b"elsewhere"),
        ("x-reason", b"ok"),
        ("ce_id", b"e1"),
    )
    dead = letter(FakeRecord("p", 0, 1, b"{}", b"k", spoofed))
    names = [n.lower() for n, _ in dead.headers]
    assert names.count("x-dlt-reason") == 1 and dead.header("x-dlt-reason") == b"malformed"
    assert dead.headers[0] == ("ce_id", b"e1")  # the sender's own headers are kept first
    assert not {"x-orig-topic", "x-reason"} & set(names)
    assert dead.header(dead_letters.DLT_STRIPPED) == b"4"


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.MessageSizeTooLargeError(),
        kafka_errors.RecordTooLargeError(),
        kafka_errors.TopicAuthorizationFailedError(),
        kafka_errors.GroupAuthorizationFailedError(),
        kafka_errors.SaslAuthenticationFailed(),
        kafka_errors.InvalidTopicError(),
        ValueError("a bug"),
    ],
)
def test_permanent_errors_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.KafkaConnectionError(),
        kafka_errors.NotLeaderForPartitionError(),
        kafka_errors.KafkaTimeoutError(),
        kafka_errors.RequestTimedOutError(),
        TransientError("away"),
        TimeoutError(),
    ],
)
def test_passing_errors_are_transient(error: BaseException) -> None:
    assert is_transient(error)
