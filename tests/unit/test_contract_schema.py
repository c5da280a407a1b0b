"""The committed JSON Schemas are what the code generates, and they agree with the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from shared.contract.codec import encode_structured
from shared.contract.events import AgencyEvent, EventType, new_tick
from shared.contract.schema import event_schema, main, schema_files
from shared.contract.signing import sign
from tests.unit.contract_fixtures import KEY_ID, milestone_report, private_key, report, retraction

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_committed_schemas_match_the_code() -> None:
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    assert committed == schema_files(), "run: python -m shared.contract.schema docs/schemas"


def test_writer(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == set(schema_files())


@pytest.mark.parametrize("event_type", list(EventType))
def test_schemas_are_valid_2020_12(event_type: EventType) -> None:
    Draft202012Validator.check_schema(event_schema(event_type))


EVENTS: list[AgencyEvent] = [
    sign(report(), private_key(), KEY_ID),
    milestone_report(),
    retraction(),
    new_tick(at="2022-04-30T23:59:59+08:00"),
]


def _validator(event_type: EventType) -> Draft202012Validator:
    return Draft202012Validator(
        event_schema(event_type), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.envelope.type.value)
def test_our_events_validate(event: AgencyEvent) -> None:
    _validator(event.envelope.type).validate(json.loads(encode_structured(event)))


def _report_obj() -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(encode_structured(report()))
    return obj


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o["data"].update(stage="done"),  # value and stage
        lambda o: o["data"].pop("value"),  # neither
        lambda o: o["data"].update(extra=1),
        lambda o: o["data"].update(as_of="2022-3-31"),
        lambda o: o.update(time="2022-04-06T09:30:00"),
        lambda o: o.update(specversion="0.3"),
        lambda o: o.pop("subject"),
        lambda o: o.update(source="urn:planwatch:clock"),
        lambda o: o.update(data_base64="AA"),
        lambda o: o.update(Traceparent="x"),
    ],
)
def test_schema_refuses_what_the_parser_refuses(mutate: Any) -> None:
    obj = _report_obj()
    mutate(obj)
    assert not _validator(EventType.PROGRESS_REPORTED).is_valid(obj)
