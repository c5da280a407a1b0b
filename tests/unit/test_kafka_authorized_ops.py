"""Reading Metadata v8's authorised-operations bit field (the broker's answer, as aiokafka
decodes it: error_code, topic, is_internal, partitions, topic_authorized_operations)."""

from shared.runtime.kafka_authorized_ops import topic_write_refusals

READ, WRITE, DESCRIBE = 1 << 3, 1 << 4, 1 << 8


def test_a_topic_with_the_write_bit_is_writable() -> None:
    assert topic_write_refusals([(0, "planwatch.alerts", False, [], WRITE | DESCRIBE)]) == {}


def test_each_refusal_is_named() -> None:
    answer: list[tuple[int, str, bool, list[object], int]] = [
        (0, "readable", False, [], READ | DESCRIBE),
        (29, "hidden", False, [], -2147483648),
        (3, "missing", False, [], -2147483648),
        (0, "writable", False, [], WRITE | DESCRIBE),
    ]
    assert topic_write_refusals(answer) == {
        "readable": "WRITE not granted",
        "hidden": "not visible to it (no DESCRIBE)",
        "missing": "does not exist",
    }


def test_an_omitted_field_is_not_taken_for_permission() -> None:
    # A broker that was not asked, or cannot tell, sends INT32_MIN (-2^31): not a bit field,
    # and never read as permission.
    assert topic_write_refusals([(0, "t", False, [], -(2**31))]) == {"t": "WRITE not granted"}
