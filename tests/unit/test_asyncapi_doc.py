"""docs/asyncapi.yaml is in step with the code: it equals what `planwatch asyncapi` generates,
its header names are the services' own, and the records the services really write validate
against its payload schemas (the contract's files resolved through their relative `$ref`)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from planwatch import asyncapi
from services.notify.domain.payloads.webhook import webhook_body
from services.scoring.clock_sync import clock_sync_message
from services.scoring.memory_store import InMemoryScoringStore
from services.scoring.records import dead_letter
from shared import topics
from shared.catalog import load_catalog
from shared.contract.codec import encode_kafka_binary, encode_structured
from shared.contract.signing import sign
from shared.runtime import dead_letters
from tests.unit.contract_fixtures import KEY_ID, private_key, report, retraction
from tests.unit.fake_records import FakeRecord
from tests.unit.notify_fixtures import T0, make_alert
from tests.unit.scoring_engine_cases import engine_for, feed
from tests.unit.scoring_streams import plan_stream

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "asyncapi.yaml"
DOC_URI = DOC_PATH.as_uri()


def test_the_committed_document_is_what_the_code_generates() -> None:
    assert DOC_PATH.read_text("utf-8") == asyncapi.render(), (
        "docs/asyncapi.yaml is stale: run `planwatch asyncapi`"
    )


def test_every_topic_is_described_once_with_its_partitions() -> None:
    channels = asyncapi.document()["channels"]
    described = Counter(c["address"] for c in channels.values())
    assert described == Counter(topics.PARTITIONS.keys()), "every topic, once"
    for channel in channels.values():
        assert channel["bindings"]["kafka"]["partitions"] == topics.PARTITIONS[channel["address"]]


def test_every_channel_has_a_publisher_and_a_subscriber() -> None:
    operations = asyncapi.document()["operations"].values()
    for channel in asyncapi.CHANNELS:
        actions = {op["action"] for op in operations if op["channel"]["$ref"].endswith(channel.id)}
        assert actions == {"send", "receive"}, channel.topic


def test_the_dead_letter_headers_are_every_services_own() -> None:
    names = {
        value
        for name, value in vars(dead_letters).items()
        if name.startswith("DLT_") and isinstance(value, str) and value.startswith("x-dlt-")
    }
    assert names == set(dead_letters.DLT_HEADERS)
    record = FakeRecord(topic="planwatch.accepted", partition=0, offset=1, key=b"k", value=b"{")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    made = dead_letter(record, topics.SCORING_DLT, "malformed", ValueError("x"), at=at)
    assert {name for name, _ in made.headers} <= set(dead_letters.DLT_HEADERS)
    assert set(dead_letters.ALWAYS_SET) <= {name for name, _ in made.headers}


def _load_file(uri: str) -> Resource[Any]:
    assert uri.startswith("file://"), uri
    return DRAFT202012.create_resource(json.loads(Path(uri.removeprefix("file://")).read_text()))


@pytest.fixture(scope="module")
def validator_for() -> Any:
    doc = yaml.safe_load(DOC_PATH.read_text("utf-8"))
    registry: Registry[Any] = Registry(retrieve=_load_file).with_resource(  # type: ignore[call-arg]
        DOC_URI, DRAFT202012.create_resource(doc)
    )

    def make(message: str) -> Draft202012Validator:
        schema = {"$ref": f"{DOC_URI}#/components/messages/{message}/payload"}
        return Draft202012Validator(schema, registry=registry)

    return make


def _valid(validator_for: Any, message: str, payload: Any) -> None:
    errors = [e.message for e in validator_for(message).iter_errors(payload)]
    assert errors == [], f"{message}: {errors[:3]}"


def test_progress_events_in_both_modes_validate(validator_for: Any) -> None:
    reported = sign(report(), private_key(), KEY_ID)
    retracted = sign(retraction(), private_key(), KEY_ID)
    for event, binary_message in (
        (reported, "progressReportedBinary"),
        (retracted, "progressRetractedBinary"),
    ):
        _, value, headers = encode_kafka_binary(event)
        _valid(validator_for, binary_message, json.loads(value))
        names = {name for name, _ in headers}
        doc_headers = asyncapi.document()["components"]["messages"][binary_message]["headers"]
        assert names <= set(doc_headers["properties"]), names - set(doc_headers["properties"])
        assert set(doc_headers["required"]) <= names
        _valid(validator_for, "progressStructured", json.loads(encode_structured(event)))
    with pytest.raises(AssertionError):  # the oracle refuses what the contract refuses
        _valid(validator_for, "progressReportedBinary", {"plan": "p"})


async def test_the_scoring_engines_records_validate(validator_for: Any) -> None:
    catalog = load_catalog()
    plan = next(iter(catalog.plans.values()))
    engine, collector = engine_for(catalog, InMemoryScoringStore())
    events = plan_stream(plan, seed=7)[:400]
    for event in events[:50]:
        _valid(validator_for, "accepted", json.loads(event.to_json()))
    await feed(engine, events, batch=50)
    by_topic: dict[str, int] = Counter()
    message_of = {topics.SCORES: "scoreUpdate", topics.ALERTS: "alert"}
    for message in collector.messages:
        _valid(validator_for, message_of[message.topic], json.loads(message.value))
        by_topic[message.topic] += 1
    assert by_topic[topics.SCORES] > 0 and by_topic[topics.ALERTS] > 0, by_topic
    sync = clock_sync_message(datetime(2022, 6, 1, tzinfo=UTC), topics.SCORING_CLOCK)
    _valid(validator_for, "clockSync", json.loads(sync.value))


def test_webhook_notifications_validate(validator_for: Any) -> None:
    alerts = [make_alert(), make_alert("gov.mobile-services", ends=T0)]
    body = webhook_body("ops", '{}:{plan="p"}', {"plan": "p"}, alerts, now=T0)
    _valid(validator_for, "notification", json.loads(body))
