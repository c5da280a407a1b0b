"""Kafka doors (binary and structured mode) under 10,000 hostile records each: no exception,
every refusal with a named reason, nothing unsigned accepted, every valid event accepted,
memory per record bounded (see tests/fuzz/support.py)."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz.doors import judge_kafka, kafka_cases
from tests.fuzz.support import KafkaInput, WireEvent, fuzz_settings

pytestmark = pytest.mark.fuzz

EXAMPLES = 10_000


@fuzz_settings(EXAMPLES)
@given(case=kafka_cases(structured=False))
def test_kafka_binary_door(case: tuple[KafkaInput, WireEvent | None]) -> None:
    judge_kafka(*case)


@fuzz_settings(EXAMPLES)
@given(case=kafka_cases(structured=True))
def test_kafka_structured_door(case: tuple[KafkaInput, WireEvent | None]) -> None:
    judge_kafka(*case)
