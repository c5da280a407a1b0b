"""HTTP door (binary, structured and batch mode) under 10,000 hostile requests each:
`request_items` and `validate` as the door runs them; the same properties as the Kafka doors,
and a batch is judged item by item (one result per item) unless refused whole."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz.doors import batch_cases, http_cases, judge_http
from tests.fuzz.support import HttpInput, WireEvent, fuzz_settings

pytestmark = pytest.mark.fuzz

EXAMPLES = 10_000


@fuzz_settings(EXAMPLES)
@given(case=http_cases(structured=False))
def test_http_binary_door(case: tuple[HttpInput, WireEvent | None]) -> None:
    request, wire = case
    judge_http(request, None if wire is None else [wire])


@fuzz_settings(EXAMPLES)
@given(case=http_cases(structured=True))
def test_http_structured_door(case: tuple[HttpInput, WireEvent | None]) -> None:
    request, wire = case
    judge_http(request, None if wire is None else [wire])


@fuzz_settings(EXAMPLES)
@given(case=batch_cases())
def test_http_batch_door(case: tuple[HttpInput, list[WireEvent] | None]) -> None:
    judge_http(*case)
