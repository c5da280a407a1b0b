"""Ingest in-process against the real Kafka and FerretDB: the dead-letter topic for every
reason code, duplicates, a poison record mid-batch, both doors alike, `planwatch publish`."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from shared.accepted import AcceptedEvent
from shared.contract.codec import (
    encode_http_batch,
    encode_kafka_binary,
    encode_kafka_structured,
)
from shared.contract.events import Unit, new_report
from shared.contract.keys import AgencyKey
from shared.contract.reasons import Reason
from shared.runtime.auth import EVENTS_WRITE, KEYS_ADMIN, AuthMode, AuthSettings
from shared.runtime.dead_letters import (
    DLT_DOOR,
    DLT_EVENT_ID,
    DLT_MESSAGE,
    DLT_OFFSET,
    DLT_PARTITION,
    DLT_REASON,
    DLT_TOPIC,
)
from tests.integration.auth_support import token
from tests.integration.ingest_support import (
    Setup,
    drain,
    free_tcp_port,
    header,
    metric_value,
    planwatch_cli,
    produce,
    running_ingest,
    wait_for_count,
    write_keys_file,
)
from tests.unit.ingest_store_contract import key as report_key
from tests.unit.ingest_support import agency_key, report

pytestmark = pytest.mark.integration

MongoDoc = dict[str, Any]
KafkaTriple = tuple[bytes | None, bytes, list[Any]]
DUPLICATES = "planwatch_ingest_events_duplicate_total"


def binary(event: Any) -> KafkaTriple:
    key, value, headers = encode_kafka_binary(event)
    return key, value, list(headers)


@pytest.fixture
def setup(tmp_path: Path, kafka_bootstrap: str, mongodb_uri: str, unique_id: str) -> Setup:
    revoked = agency_key("qy.miit", "k-old").revoke(datetime(2022, 1, 1, tzinfo=UTC))
    keys_file = write_keys_file(tmp_path / "keys.jsonl", [revoked])
    return Setup(kafka_bootstrap, mongodb_uri, unique_id, keys_file, free_tcp_port())


@pytest.fixture
async def client(mongodb_uri: str, setup: Setup) -> Any:
    mongo: AsyncMongoClient[MongoDoc] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    yield mongo
    await mongo.drop_database(setup.database)
    await mongo.close()


def reason_cases() -> list[tuple[Reason, KafkaTriple]]:
    now = datetime.now(UTC)
    tampered_key, _, tampered_headers = binary(report(event_id="r-badsig", value=10))
    _, other_value, _ = binary(report(event_id="r-badsig", value=11))
    _, _, type_headers = binary(report(event_id="r-type"))
    type_headers = [
        (n, b"org.planwatch.progress.other.v1" if n == "ce_type" else v) for n, v in type_headers
    ]
    unsigned = new_report(
        agency="qy.gov-data",
        plan="qingyuan-digital-economy-2021",
        target="gov.mobile-services",
        as_of=now.date() - timedelta(days=1),
        time=now,
        value=5,
        event_id="r-unsigned",
    )
    _, _, malformed_headers = binary(report(event_id="r-malformed"))
    _, _, big_headers = binary(report(event_id="r-big"))
    return [
        (Reason.MALFORMED, (b"gov.mobile-services", b"not json {", malformed_headers)),
        (Reason.OVERSIZED, (b"gov.mobile-services", b" " * 70_000, big_headers)),
        (Reason.UNKNOWN_TYPE, (b"gov.mobile-services", binary(report())[1], type_headers)),
        (Reason.UNSIGNED, binary(unsigned)),
        (Reason.UNKNOWN_PLAN, binary(report(event_id="r-plan", plan="another-plan"))),
        (Reason.UNKNOWN_TARGET, binary(report(event_id="r-target", target="gov.nothing"))),
        (Reason.UNKNOWN_AGENCY, binary(report(event_id="r-agency", agency="qy.nobody"))),
        (Reason.UNKNOWN_KEY, binary(report(event_id="r-key", key_id="k-none"))),
        (
            Reason.REVOKED_KEY,
            binary(
                report(
                    event_id="r-revoked",
                    agency="qy.miit",
                    key_id="k-old",
                    target="industry.digital-bases",
                    value=3,
                )
            ),
        ),
        (Reason.BAD_SIGNATURE, (tampered_key, other_value, tampered_headers)),
        (Reason.NOT_RESPONSIBLE, binary(report(event_id="r-resp", agency="qy.health"))),
        (Reason.VALUE_OUT_OF_RANGE, binary(report(event_id="r-range", value=101))),
        (Reason.UNIT_MISMATCH, binary(report(event_id="r-unit", unit=Unit.COUNT))),
        (
            Reason.AS_OF_OUT_OF_RANGE,
            binary(report(event_id="r-asof", as_of=datetime(2019, 1, 1).date())),
        ),
        (
            Reason.TIME_IN_FUTURE,
            binary(report(event_id="r-future", time=now + timedelta(days=1), as_of=now.date())),
        ),
    ]


async def test_every_reason_code_ends_in_the_dead_letter_topic(
    setup: Setup, client: AsyncMongoClient[MongoDoc]
) -> None:
    await setup.create_topics()
    cases = reason_cases()
    valid = [binary(report(event_id=f"ok-{i}", value=10 + i)) for i in range(3)]
    conflict_first = binary(report(event_id="r-conflict", value=20))
    conflict_second = binary(report(event_id="r-conflict", value=21))
    sent = [triple for _, triple in cases] + [*valid, conflict_first]
    metas = await produce(setup.bootstrap, setup.input_topic, sent)
    [conflict_meta] = await produce(setup.bootstrap, setup.input_topic, [conflict_second])

    async with running_ingest(setup.settings()):
        assert await wait_for_count(client, setup.database, 4) == 4
        dead = await drain(setup.bootstrap, setup.dlt_topic, want=len(cases) + 1)
        rejected_metric = await metric_value(
            setup.management_url,
            "planwatch_ingest_events_rejected_total",
            {"door": "kafka", "reason": "not_responsible"},
        )

    expected = [
        (reason, triple, meta)
        for (reason, triple), meta in zip(cases, metas[: len(cases)], strict=True)
    ]
    expected.append((Reason.CONFLICT, conflict_second, conflict_meta))
    assert len(dead) == len(expected), [header(d, DLT_REASON) for d in dead]
    by_offset = {
        (int(header(d, DLT_PARTITION) or b"-1"), int(header(d, DLT_OFFSET) or b"-1")): d
        for d in dead
    }
    for reason, (key, value, headers), meta in expected:
        record = by_offset[(meta.partition, meta.offset)]
        assert header(record, DLT_REASON) == reason.value.encode(), reason
        assert (record.key, record.value) == (key, value), reason
        assert list(record.headers[: len(headers)]) == list(headers), reason
        assert header(record, DLT_TOPIC) == setup.input_topic.encode()
        assert header(record, DLT_PARTITION) == str(meta.partition).encode()
        assert header(record, DLT_DOOR) == b"kafka"
        assert header(record, DLT_MESSAGE)
    conflict = by_offset[(conflict_meta.partition, conflict_meta.offset)]
    assert header(conflict, DLT_EVENT_ID) == b"r-conflict"
    assert rejected_metric == 1.0

    reports = client[setup.database]["reports"]
    stored = sorted([d["event_id"] async for d in reports.find({})])
    assert stored == ["ok-0", "ok-1", "ok-2", "r-conflict"]
    first = await reports.find_one({"_id": report_key("r-conflict")})
    assert first is not None and first["value"] == 20.0


async def test_duplicates_are_counted_not_stored_twice_and_republished(
    setup: Setup, client: AsyncMongoClient[MongoDoc]
) -> None:
    await setup.create_topics()
    event = report(event_id="dup-1", value=33)
    first = binary(event)
    structured = encode_kafka_structured(event)
    await produce(setup.bootstrap, setup.input_topic, [first])
    async with running_ingest(setup.settings()):
        assert await wait_for_count(client, setup.database, 1) == 1
        # Later re-sends, in both modes, one batch each: the same signed content.
        resends = [first, (structured[0], structured[1], list(structured[2]))]
        for count, triple in enumerate(resends, 1):
            await produce(setup.bootstrap, setup.input_topic, [triple])
            for _ in range(300):
                if await metric_value(setup.management_url, DUPLICATES, {"door": "kafka"}) >= count:
                    break
                await asyncio.sleep(0.1)
        accepted = await drain(setup.bootstrap, setup.accepted_topic, want=3)
        duplicates = await metric_value(setup.management_url, DUPLICATES, {"door": "kafka"})
    assert await client[setup.database]["reports"].count_documents({}) == 1
    assert duplicates == 2.0
    events = [AcceptedEvent.from_json(r.value) for r in accepted]
    assert [e.event_id for e in events] == ["dup-1"] * 3
    assert len({e.model_dump_json() for e in events}) == 1  # republished exactly as stored
    assert all(r.key == b"gov.mobile-services" for r in accepted)
    assert await drain(setup.bootstrap, setup.dlt_topic, idle_s=1.0, timeout_s=5) == []


async def test_a_poison_record_in_the_middle_of_a_batch(
    setup: Setup, client: AsyncMongoClient[MongoDoc]
) -> None:
    await setup.create_topics()
    key = b"gov.mobile-services"  # one partition: one batch, in this order
    before = [binary(report(event_id=f"p-{i}", value=i)) for i in range(20)]
    poison = (key, b"\x00\xff\xfe garbage", [("ce_id", b"\xff\xff")])
    after = [binary(report(event_id=f"q-{i}", value=i)) for i in range(20)]
    await produce(setup.bootstrap, setup.input_topic, [*before, poison, *after])
    async with running_ingest(setup.settings()):
        assert await wait_for_count(client, setup.database, 40) == 40
        dead = await drain(setup.bootstrap, setup.dlt_topic, want=1, idle_s=3.0)
    assert len(dead) == 1
    assert dead[0].value == poison[1] and dead[0].key == key
    assert header(dead[0], "ce_id") == b"\xff\xff"  # non-UTF-8 header kept byte for byte
    assert header(dead[0], DLT_REASON) == b"malformed"
    accepted = await drain(setup.bootstrap, setup.accepted_topic, want=40)
    assert len({AcceptedEvent.from_json(r.value).event_id for r in accepted}) == 40


async def test_the_http_and_kafka_doors_give_the_same_results(
    setup: Setup, client: AsyncMongoClient[MongoDoc]
) -> None:
    await setup.create_topics()

    def events(prefix: str) -> list[Any]:
        return [
            report(event_id=f"{prefix}-ok", value=50),
            report(event_id=f"{prefix}-resp", agency="qy.health"),
            report(event_id=f"{prefix}-range", value=-3),
            report(event_id=f"{prefix}-key", key_id="k-none"),
            report(event_id=f"{prefix}-asof", as_of=datetime(2019, 1, 1).date()),
            report(
                agency="qy.miit",
                target="industry.mingpu-base",
                stage="planned",
                event_id=f"{prefix}-stage",
            ),
        ]

    # One batch of several agencies' events: the door's checks, not the token's agency (dev).
    dev = AuthSettings(mode=AuthMode.DEV)
    async with running_ingest(setup.settings(auth=dev)) as base_url:
        headers, body = encode_http_batch(events("h"))
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(f"{base_url}/v1/events", headers=headers, content=body)
        assert response.status_code == 207
        http_results = {
            r["id"].split("-", 1)[1]: (r["status"], r.get("reason"))
            for r in response.json()["results"]
        }
        await produce(setup.bootstrap, setup.input_topic, [binary(e) for e in events("k")])
        # Both doors' accepted events end up stored by the Kafka door: h-ok, h-stage, k-*.
        assert await wait_for_count(client, setup.database, 4) == 4
        dead = await drain(setup.bootstrap, setup.dlt_topic, want=8)

    stored = sorted([d["event_id"] async for d in client[setup.database]["reports"].find({})])
    assert stored == ["h-ok", "h-stage", "k-ok", "k-stage"]
    kafka_results: dict[str, tuple[str, str | None]] = {"ok": ("accepted", None)}
    kafka_results["stage"] = ("accepted", None)
    for record in dead:
        if header(record, DLT_DOOR) == b"kafka":
            event_id = (header(record, DLT_EVENT_ID) or b"").decode()
            reason = (header(record, DLT_REASON) or b"").decode()
            kafka_results[event_id.split("-", 1)[1]] = ("rejected", reason)
    assert http_results == kafka_results
    assert sum(1 for d in dead if header(d, DLT_DOOR) == b"http") == 4


async def test_planwatch_publish_reaches_mongodb_and_the_accepted_topic(
    setup: Setup, client: AsyncMongoClient[MongoDoc], tmp_path: Path
) -> None:
    await setup.create_topics()
    env = {**setup.environment(), "PLANWATCH_TOKEN": token(EVENTS_WRITE, agency="qy.gov-data")}
    admin_env = {**env, "PLANWATCH_TOKEN": token(KEYS_ADMIN, sub="key-officer")}
    generated = await planwatch_cli(
        ["keys", "generate", "--agency", "qy.gov-data", "--key-id", "cli1", "--out", str(tmp_path)],
        env,
    )
    assert generated.returncode == 0, generated.stderr
    entry = AgencyKey.model_validate_json(generated.stdout.strip())

    key_file = str(tmp_path / "qy.gov-data.cli1.key.pem")
    common = ["publish", "--agency", "qy.gov-data", "--key-id", "cli1", "--key-file", key_file]
    common += ["--format", "json"]
    common += ["--target", "gov.mobile-services", "--as-of", "2022-03-31"]
    async with running_ingest(setup.settings()) as base_url:
        # The key goes in through ingest's admin API (keys:admin), audit-logged.
        entry_file = str(tmp_path / "qy.gov-data.cli1.pub.json")
        register_args = ["keyring", "register", "--entry", entry_file, "--url", base_url]
        refused = await planwatch_cli(register_args, env)  # an agency's token may not
        assert refused.returncode == 1 and "403" in refused.stderr
        registered = await planwatch_cli(register_args, admin_env)
        assert registered.returncode == 0, registered.stderr
        stored = AgencyKey.model_validate_json(registered.stdout.strip())
        assert stored.public_key == entry.public_key
        http_args = ["--url", base_url, "--mode", "structured"]
        via_kafka = await planwatch_cli(
            [*common, "--value", "61.5", "--event-id", "cli-k", "--topic", setup.input_topic],
            env,
        )
        assert via_kafka.returncode == 0, via_kafka.stderr
        via_http = await planwatch_cli(
            [*common, "--value", "62", "--event-id", "cli-h", "--via", "http", *http_args],
            env,
        )
        assert via_http.returncode == 0, via_http.stderr + via_http.stdout
        assert json.loads(via_http.stdout)["results"] == [{"id": "cli-h", "status": "accepted"}]
        assert await wait_for_count(client, setup.database, 2) == 2
        accepted = await drain(setup.bootstrap, setup.accepted_topic, want=2)
        revoked_keys = ("planwatch_ingest_agency_keys", {"status": "revoked"})
        before = await metric_value(setup.management_url, *revoked_keys)
        revoked = await planwatch_cli(
            ["keyring", "revoke", "--agency", "qy.gov-data", "--key-id", "cli1", "--url", base_url],
            admin_env,
        )
        assert revoked.returncode == 0, revoked.stderr
        audit = await client[setup.database]["key_audit"].find({}).sort("at", 1).to_list()
        assert [(a["actor"], a["action"], a["subject"]) for a in audit] == [
            ("key-officer", "key.register", "qy.gov-data:cli1"),
            ("key-officer", "key.revoke", "qy.gov-data:cli1"),
        ]
        # The revocation is in force once a refresh put it in ingest's snapshot: wait for
        # that (one more revoked key there), not for a guess of the refresh interval.
        for _ in range(1200):
            if await metric_value(setup.management_url, *revoked_keys) > before:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the revocation never reached ingest's key snapshot")
        after_revocation = await planwatch_cli(
            [*common, "--value", "63", "--event-id", "cli-r", "--via", "http", *http_args],
            env,
        )
    values = {e.event_id: e.value for e in (AcceptedEvent.from_json(r.value) for r in accepted)}
    assert values == {"cli-k": 61.5, "cli-h": 62.0}
    doc = await client[setup.database]["reports"].find_one({"_id": report_key("cli-k")})
    assert doc is not None and doc["key_id"] == "cli1" and doc["agency"] == "qy.gov-data"
    assert after_revocation.returncode == 1
    assert json.loads(after_revocation.stdout)["results"][0]["reason"] == "revoked_key"
    assert os.environ.get("INGEST_KEYS_FILE") is None  # the test did not leak settings
