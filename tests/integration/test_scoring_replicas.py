"""Two scoring replicas in one consumer group over the real Kafka and FerretDB: each owns the
targets of its partitions, the plan's state equals the offline method's (and one replica's
replay), and a replica stopped with SIGSTOP past its session and then resumed neither
overwrites the new owner's state nor adds to the alert stream what one replica would not."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from planwatch.infra.ports import free_port
from services.scoring.store import MongoScoringStore
from shared.catalog import load_catalog
from shared.kafka_admin import ensure_topics
from tests.integration.scoring_support import Topics, scoring_env
from tests.integration.service_process import ServiceProcess
from tests.integration.test_scoring_service import (
    fold_alerts,
    offline,
    produce,
    read_topic,
    wait_for_state,
    wait_until,
)
from tests.unit.scoring_streams import firing_copies, plan_stream

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
SESSION_TIMEOUT_MS = 6000  # short, so a stopped replica loses its partitions quickly


def _port() -> int:
    return free_port()


def gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def owned(service: ServiceProcess) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{service.management_url}/metrics")).text
    return gauge(text, "planwatch_scoring_partitions_owned")


@pytest_asyncio.fixture
async def replicas(
    kafka_bootstrap: str,
    mongodb_uri: str,
    db_name: str,
    group_id: str,
    unique_id: str,
    tmp_path: Path,
) -> AsyncIterator[tuple[list[ServiceProcess], Topics]]:
    topics = Topics(unique_id)
    await ensure_topics(kafka_bootstrap, topics.partitions())
    services = []
    for n in range(2):
        port = _port()
        env = scoring_env(
            kafka=kafka_bootstrap,
            mongodb=mongodb_uri,
            database=db_name,
            group_id=group_id,
            topics=topics,
            port=port,
        )
        env |= {
            "KAFKA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "KAFKA_MAX_BATCH_RECORDS": "9",
            "KAFKA_CLIENT_ID": f"scoring-{n}",
        }
        services.append(ServiceProcess("scoring", env, tmp_path / f"scoring-{n}.log", port))
    try:
        yield services, topics
    finally:
        for service in services:
            if service.proc is not None and service.proc.poll() is None:
                os.kill(service.proc.pid, signal.SIGCONT)
            service.stop()


async def test_two_replicas_equal_one_and_a_stopped_one_is_fenced(
    replicas: tuple[list[ServiceProcess], Topics],
    kafka_bootstrap: str,
    mongo_db: AsyncDatabase[Doc],
) -> None:
    (a, b), names = replicas
    plan = next(iter(load_catalog().plans.values()))
    events = plan_stream(plan, seed=17)
    half = len(events) // 2
    records = [(names.accepted, e.target.encode(), e.to_json()) for e in events]
    for service in (a, b):
        service.start()
    for service in (a, b):
        await service.ready()

    async def split_between_both() -> bool:
        mine = [await owned(a), await owned(b)]
        return sum(mine) == 6 and min(mine) > 0

    await wait_until(split_between_both, timeout_s=120)
    await produce(kafka_bootstrap, records[:half])
    await wait_for_state(mongo_db, plan, offline(plan, events[:half], events[half - 1].reported_at))

    # A is stopped past its session: B takes every partition and goes on alone.
    assert a.proc is not None
    os.kill(a.proc.pid, signal.SIGSTOP)

    async def b_owns_all() -> bool:
        return await owned(b) == 6

    await wait_until(b_owns_all, timeout_s=120)
    await produce(kafka_bootstrap, records[half:])
    expected = offline(plan, events, events[-1].reported_at)
    await wait_for_state(mongo_db, plan, expected)

    # A resumes: it rejoins, the partitions are shared again, and the state stays the method's.
    os.kill(a.proc.pid, signal.SIGCONT)
    await wait_until(split_between_both, timeout_s=120)
    await wait_for_state(mongo_db, plan, expected)
    store = MongoScoringStore(mongo_db)
    meta = await store.load_meta()
    assert meta is not None and meta["at"] == events[-1].reported_at.isoformat()

    # The alert stream, duplicates dropped by id, rebuilds exactly what is firing.
    firing = firing_copies(plan, expected["alerts"])

    async def alerts_caught_up() -> bool:
        return fold_alerts(await read_topic(kafka_bootstrap, names.alerts)) == firing

    await wait_until(alerts_caught_up, timeout_s=60)
    # Every target's (and deliverable's and indicator's) document carries the epoch of its
    # current owner's claim.
    docs = await store.load_targets()
    subjects = [*plan.targets, *plan.deliverables, *plan.indicators]
    assert sorted(d["_id"] for d in docs) == sorted(f"{plan.id}:{s}" for s in subjects)
    assert all(isinstance(d.get("epoch"), int) for d in docs)
