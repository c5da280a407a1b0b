"""Faults with a history check: ingest killed with SIGKILL mid-stream and restarted; MongoDB
(a private FerretDB) stopped for 20 s under load. Every id sent must be stored exactly once
and be on the accepted topic at least once; nothing valid may be dead-lettered."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from shared.accepted import AcceptedEvent
from shared.contract.codec import encode_kafka_binary
from tests.integration.ingest_support import (
    PrivateFerretDB,
    Setup,
    drain,
    free_tcp_port,
    produce,
    wait_for_count,
    write_keys_file,
)
from tests.integration.service_process import ServiceProcess
from tests.unit.ingest_support import report

pytestmark = pytest.mark.integration

MongoDoc = dict[str, Any]
Triple = tuple[bytes | None, bytes, list[Any]]


def valid_events(prefix: str, count: int) -> list[Triple]:
    """Valid reports spread over two targets (so over partitions), unique ids."""
    triples: list[Triple] = []
    for i in range(count):
        if i % 2:
            event = report(event_id=f"{prefix}-{i}", value=float(i % 101))
        else:
            event = report(
                event_id=f"{prefix}-{i}",
                agency="qy.miit",
                target="industry.digital-bases",
                value=float(i),
                as_of=date(2022, 3, 31) - timedelta(days=i % 300),
            )
        key, value, headers = encode_kafka_binary(event)
        triples.append((key, value, list(headers)))
    return triples


async def stored_ids(client: AsyncMongoClient[MongoDoc], database: str) -> list[str]:
    return [doc["event_id"] async for doc in client[database]["reports"].find({}, {"event_id": 1})]


async def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


def failed_batches(service: ServiceProcess) -> int:
    """How many times the service has logged a failed batch so far."""
    if not service.log.exists():
        return 0
    return service.log.read_text(encoding="utf-8", errors="replace").count("batch failed")


async def check_history(
    setup: Setup, client: AsyncMongoClient[MongoDoc], sent: list[str]
) -> dict[str, int]:
    """Stored exactly once, published at least once, nothing dead-lettered."""
    ids = await stored_ids(client, setup.database)
    assert len(ids) == len(set(ids))
    missing = set(sent) - set(ids)
    assert missing == set(), f"{len(missing)} sent but not stored, e.g. {sorted(missing)[:5]}"
    assert set(ids) == set(sent)
    accepted = await drain(setup.bootstrap, setup.accepted_topic, want=len(sent), idle_s=2.0)
    published = [AcceptedEvent.from_json(r.value).event_id for r in accepted]
    unpublished = set(sent) - set(published)
    assert unpublished == set(), f"{len(unpublished)} stored but never published"
    dead = await drain(setup.bootstrap, setup.dlt_topic, idle_s=1.0, timeout_s=5.0)
    assert dead == []
    return {
        "sent": len(sent),
        "published": len(published),
        "republished": len(published) - len(sent),
    }


async def test_sigkill_mid_stream_then_restart_stores_every_event_exactly_once(
    tmp_path: Path, kafka_bootstrap: str, mongodb_uri: str, unique_id: str
) -> None:
    setup = Setup(
        kafka_bootstrap, mongodb_uri, unique_id, write_keys_file(tmp_path / "k"), free_tcp_port()
    )
    await setup.create_topics()
    events = valid_events("kill", 12_000)
    sent = [f"kill-{i}" for i in range(len(events))]
    await produce(setup.bootstrap, setup.input_topic, events)
    client: AsyncMongoClient[MongoDoc] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    ingest = ServiceProcess("ingest", setup.environment(), tmp_path / "ingest.log")
    try:
        kills = []
        rng = random.Random(unique_id)
        for _ in range(4):  # killed at random moments once it consumes: any step of a batch
            ingest.start()
            before = await client[setup.database]["reports"].count_documents({})
            await wait_for_count(client, setup.database, before + 1, timeout_s=120, poll_s=0.0)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            ingest.kill()
            kills.append(await client[setup.database]["reports"].count_documents({}))
        assert kills[-1] < len(sent), "the kills came too late to interrupt anything"
        ingest.start()
        count = await wait_for_count(client, setup.database, len(sent), timeout_s=180)
        assert count == len(sent), ingest.log_tail()
        history = await check_history(setup, client, sent)  # drains until all are published
        print(f"killed at {kills} stored; {history}")
    finally:
        ingest.stop()
        await client.drop_database(setup.database)
        await client.close()


async def test_mongodb_down_for_20_seconds_under_load_loses_and_dead_letters_nothing(
    tmp_path: Path, kafka_bootstrap: str, unique_id: str
) -> None:
    ferret = PrivateFerretDB(tmp_path / "ferretdb" / "data")
    await ferret.start()
    setup = Setup(
        kafka_bootstrap, ferret.uri, unique_id, write_keys_file(tmp_path / "k"), free_tcp_port()
    )
    await setup.create_topics()
    client: AsyncMongoClient[MongoDoc] = AsyncMongoClient(
        ferret.uri, tz_aware=True, serverSelectionTimeoutMS=2000
    )
    ingest = ServiceProcess("ingest", setup.environment(), tmp_path / "ingest.log")
    events = valid_events("down", 1500)
    sent: list[str] = []

    async def load() -> None:
        """About 40 events/s for ~37 s, before, during and after the outage."""
        for start in range(0, len(events), 10):
            await produce(setup.bootstrap, setup.input_topic, events[start : start + 10])
            sent.extend(f"down-{i}" for i in range(start, min(start + 10, len(events))))
            await asyncio.sleep(0.25)

    try:
        ingest.start()
        producer = asyncio.create_task(load())
        assert await wait_for_count(client, setup.database, 100, timeout_s=90) >= 100
        failed_before = failed_batches(ingest)
        ferret.stop()
        down_at = time.monotonic()
        # A batch in flight when MongoDB stopped has failed once that is in the log: from then
        # on nothing can commit until MongoDB is back (a condition, not a guess of 7 s).
        async with asyncio.timeout(120):
            while failed_batches(ingest) <= failed_before:  # noqa: ASYNC110 - its log
                await asyncio.sleep(0.1)
        during = await committed(setup.bootstrap, setup.group, setup.input_topic)
        sent_mid = len(sent)
        await asyncio.sleep(max(0.0, 20 - (time.monotonic() - down_at)))  # the outage's length
        end = await committed(setup.bootstrap, setup.group, setup.input_topic)
        # Nothing was committed while MongoDB was down, though events kept coming.
        assert end == during
        assert len(sent) > sent_mid
        await ferret.start()
        await producer
        count = await wait_for_count(client, setup.database, len(sent), timeout_s=180)
        assert count == len(sent), ingest.log_tail()
        history = await check_history(setup, client, sent)
        final = await committed(setup.bootstrap, setup.group, setup.input_topic)
        assert sum(final.values()) == len(sent)  # and now everything is committed
        print(f"outage: committed held at {sum(end.values())}; {history}")
    finally:
        ingest.stop()
        await client.close()
        ferret.stop()
