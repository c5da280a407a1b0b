"""The problem event types of the contract: built by their constructors, signed and verified
like reports, read back from every wire mode, bounded, and valid against their JSON Schemas
(which refuse what the parser refuses)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from shared.accepted_problem import AcceptedProblemEvent, accepted_from_json
from shared.contract.codec import (
    data_bytes,
    decode_kafka,
    encode_kafka_binary,
    encode_structured,
)
from shared.contract.events import (
    MAX_FROM_AGENCIES,
    MAX_SUMMARY_CHARS,
    PROBLEM_TYPES,
    EventType,
    ProblemCommented,
    ProblemEvent,
    ProblemRaised,
    new_problem_id,
    new_problem_raised,
    new_problem_step,
)
from shared.contract.parsing import RawEvent, parse_event
from shared.contract.reasons import ContractError, Reason
from shared.contract.schema import event_schema
from shared.contract.signing import sign, verify
from shared.domain.problems import ProblemAction, SubjectKind
from tests.unit.contract_fixtures import KEY_ID, PLAN, private_key

TIME = "2022-04-06T09:30:00+08:00"


def raised(**changes: Any) -> ProblemRaised:
    fields: dict[str, Any] = {
        "agency": "qy.gov-data",
        "plan": PLAN,
        "subject": "gov.mobile-services",
        "problem_id": "20220406-3f1c2a9e0b7d",
        "summary": "5G site approvals stalled",
        "needs": "land-use approval for 40 sites",
        "from_agencies": ["qy.natural-resources"],
        "time": TIME,
        "note": "since March",
        "evidence": "https://example.gov.cn/5g/sites",
        "event_id": "pr-1",
    }
    fields.update(changes)
    return new_problem_raised(**fields)


def step(event_type: EventType, note: str | None = None) -> ProblemEvent:
    return new_problem_step(
        event_type,
        agency="qy.miit",
        plan=PLAN,
        subject="gov.mobile-services",
        problem_id="20220406-3f1c2a9e0b7d",
        time=TIME,
        note=note,
        event_id=f"st-{event_type.value}",
    )


def every_type() -> list[ProblemEvent]:
    return [
        raised(),
        step(EventType.PROBLEM_ACKNOWLEDGED),
        step(EventType.PROBLEM_COMMENTED, "asked 自然资源局"),
        step(EventType.PROBLEM_RESOLVED, "approved"),
        step(EventType.PROBLEM_CLOSED),
    ]


def test_there_are_five_problem_types_each_with_a_constructor() -> None:
    assert {e.envelope.type for e in every_type()} == PROBLEM_TYPES
    with pytest.raises(ValueError, match="not a step"):
        step(EventType.PROBLEM_RAISED)


@pytest.mark.parametrize("event", every_type(), ids=lambda e: e.envelope.type.value)
def test_signed_like_a_report_and_read_back_from_either_kafka_mode(event: ProblemEvent) -> None:
    signed = sign(event, private_key(), KEY_ID)
    assert verify(signed.envelope, data_bytes(signed), private_key().public_key())
    tampered = signed.envelope.model_copy(update={"subject": "gov.online-services"})
    assert not verify(tampered, data_bytes(signed), private_key().public_key())
    key, value, headers = encode_kafka_binary(signed)
    assert key == b"gov.mobile-services"  # one problem's events stay on one partition
    raw = decode_kafka(value, headers)
    assert parse_event(raw) == signed
    structured = json.loads(encode_structured(signed))
    assert structured["type"] == event.envelope.type.value
    schema = event_schema(event.envelope.type)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        structured
    )


def test_a_comment_needs_its_note() -> None:
    with pytest.raises(ValueError, match="note"):
        step(EventType.PROBLEM_COMMENTED)
    assert isinstance(step(EventType.PROBLEM_COMMENTED, "x"), ProblemCommented)


@pytest.mark.parametrize(
    "changes",
    [
        {"summary": ""},
        {"summary": "x" * (MAX_SUMMARY_CHARS + 1)},
        {"needs": ""},
        {"from_agencies": []},
        {"from_agencies": ["qy.miit", "qy.miit"]},
        {"from_agencies": [f"a{i}" for i in range(MAX_FROM_AGENCIES + 1)]},
        {"from_agencies": ["not an id"]},
        {"problem_id": "has space"},
        {"evidence": "ftp://x"},
    ],
    ids=str,
)
def test_bounds_and_shapes_are_enforced_by_the_model_and_the_schema(
    changes: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        raised(**changes)
    obj = json.loads(encode_structured(raised()))
    obj["data"].update(changes)
    validator = Draft202012Validator(event_schema(EventType.PROBLEM_RAISED))
    assert not validator.is_valid(obj)
    raw = RawEvent(raised().envelope, json.dumps(obj["data"]).encode())
    with pytest.raises(ContractError) as refused:
        parse_event(raw)
    assert refused.value.reason is Reason.MALFORMED


def test_a_problem_event_needs_its_subject() -> None:
    obj = json.loads(encode_structured(raised()))
    obj.pop("subject")
    assert not Draft202012Validator(event_schema(EventType.PROBLEM_RAISED)).is_valid(obj)
    with pytest.raises(ValueError, match="problem event's subject"):
        raised(subject=None)


def test_problem_ids_are_made_from_the_day() -> None:
    made = new_problem_id(TIME)
    assert made.startswith("20220406-") and len(made) == len("20220406-") + 12
    assert made != new_problem_id(TIME)


def test_the_accepted_record_reads_back_by_its_schema() -> None:
    record = AcceptedProblemEvent(
        event_id="pr-1",
        action=ProblemAction.RAISED,
        plan=PLAN,
        problem_id="x",
        subject="2.2.1",
        subject_kind=SubjectKind.TASK,
        task="2.2.1",
        agency="carrier.china-mobile",
        reported_at=datetime(2022, 4, 6, tzinfo=UTC),
        summary="s",
        needs="n",
        from_agencies=("qy.miit",),
        received_at=datetime(2022, 4, 6, tzinfo=UTC),
        key_id="k1",
        content_hash="0" * 64,
    )
    text = record.to_json()
    assert b'"schema":"planwatch.problem.v1"' in text and b'"evidence"' not in text
    assert accepted_from_json(text) == record
    assert record.key == "2.2.1" and record.entry().from_agencies == ("qy.miit",)
