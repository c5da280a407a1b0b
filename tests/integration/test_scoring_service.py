"""The scoring service as a subprocess over the real Kafka and FerretDB.

SIGKILL in the middle of the stream, restart: the state equals the offline method's, the
alert stream (duplicates dropped by id) rebuilds exactly the firing alerts, poison records are
dead-lettered, `planwatch tick` moves the clock, replay equals live, and the read API serves
the state in the CLI's names.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.digest import state_digest
from services.scoring.store import MongoScoringStore
from shared.accepted import AcceptedEvent
from shared.catalog import load_catalog
from shared.contract.alert_event import decode_alert_event
from shared.domain.catalog import Plan
from shared.domain.method_v1 import plan_state_to_json, score_plan
from shared.domain.timebase import CST
from shared.runtime.auth import PLANS_READ
from tests.integration import scoring_support
from tests.integration.auth_support import headers
from tests.integration.scoring_support import Topics
from tests.integration.service_process import ServiceProcess
from tests.unit.scoring_streams import firing_copies, plan_stream

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
PLANWATCH = str(Path(sys.executable).parent / "planwatch")


scoring_service = scoring_support.scoring_service  # the fixture, for pytest to find here


async def produce(bootstrap: str, records: Sequence[tuple[str, bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(t, value, key=key) for t, key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str) -> list[tuple[int, Any]]:
    """Every record of a topic: (partition, record), in offset order per partition."""
    partitions = [
        TopicPartition(topic, p)
        for p in range(Topics.PARTITIONS[topic.rsplit(".", maxsplit=1)[-1]])
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        out: list[tuple[int, Any]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                out.extend((tp.partition, r) for r in records)
        return out
    finally:
        await consumer.stop()


async def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [PLANWATCH, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def offline(plan: Plan, events: Sequence[AcceptedEvent], at: datetime) -> dict[str, Any]:
    return plan_state_to_json(score_plan(plan, [e.to_observation() for e in events], at))


async def wait_for_state(
    db: AsyncDatabase[Doc], plan: Plan, expected: dict[str, Any], timeout_s: float = 180
) -> None:
    store = MongoScoringStore(db)
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        doc = await store.plan(plan.id)
        state = json.loads(doc["state"]) if doc else None
        if state == expected:
            return
        await asyncio.sleep(0.5)
    where = "; ".join(differences(state, expected)[:8]) if state else "no plan document"
    raise AssertionError(f"state not reached in {timeout_s} s: {where}")


def differences(got: Any, want: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as `path: got != want` (for a failure message)."""
    if isinstance(got, dict) and isinstance(want, dict):
        found: list[str] = []
        for key in sorted(set(got) | set(want), key=str):
            found += differences(got.get(key), want.get(key), f"{path}/{key}")
        return found
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{path}[{i}]")
        ]
    return [] if got == want else [f"{path}: {str(got)[:120]} != {str(want)[:120]}"]


async def wait_until(predicate: Any, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached")


def fold_alerts(records: Sequence[tuple[int, Any]]) -> dict[str, str]:
    """fingerprint -> severity of what is firing after the deduplicated alert stream."""
    seen: dict[str, bytes] = {}
    firing: dict[str, str] = {}
    for _, record in records:
        alert = decode_alert_event(record.value)
        if alert.id in seen:
            assert seen[alert.id] == record.value, "a duplicate id must carry the same payload"
            continue
        seen[alert.id] = record.value
        if alert.status.value == "resolved":
            firing.pop(alert.fingerprint, None)
        else:
            firing[alert.fingerprint] = alert.labels.severity.value
    return firing


async def test_sigkill_restart_tick_replay_and_api(
    scoring_service: tuple[ServiceProcess, Topics],
    kafka_bootstrap: str,
    mongo_db: AsyncDatabase[Doc],
    tmp_path: Path,
) -> None:
    svc, names = scoring_service
    svc.env |= {"KAFKA_MAX_BATCH_RECORDS": "7", "LOG_LEVEL": "INFO"}
    plan = next(iter(load_catalog().plans.values()))
    events = plan_stream(plan, seed=11)
    poison = [(names.accepted, b"t1", b"{not json"), (names.accepted, b"t2", b'{"kind":"x"}')]
    records = [(names.accepted, e.target.encode(), e.to_json()) for e in events]
    # The stream in two parts, so that the kill is mid-stream whatever the machine's speed: the
    # second part is produced only once the service was killed.
    await produce(kafka_bootstrap, records[:150] + poison)

    # Start, let it get going, SIGKILL it mid-stream, start again.
    svc.start()
    store = MongoScoringStore(mongo_db)

    async def some_progress() -> bool:
        meta = await store.load_meta()
        return meta is not None and meta.get("at") is not None

    await wait_until(some_progress)
    svc.kill()
    clock = max(e.reported_at for e in events)
    at_kill = await store.load_meta()
    assert at_kill is not None and at_kill["at"] < clock.isoformat(), "killed mid-stream"
    await produce(kafka_bootstrap, records[150:])
    svc.start()
    expected = offline(plan, events, clock)
    await wait_for_state(mongo_db, plan, expected)

    # A tick from the CLI moves the clock past deadlines; the state follows the method.
    tick_at = datetime(2023, 3, 31, 9, 0, tzinfo=CST)
    env = {**svc.env}
    result = await run_cli(env, "tick", "--at", tick_at.isoformat(), "--topic", names.clock)
    assert result.returncode == 0, result.stderr
    expected = offline(plan, events, tick_at)
    await wait_for_state(mongo_db, plan, expected)

    # The alert stream, duplicates dropped by id, rebuilds exactly what is firing.
    # (The state is written before the messages are published: wait for the last ones.)
    firing = firing_copies(plan, expected["alerts"])
    assert len(firing) > len(expected["alerts"]) > 0, "co-owners get copies"

    async def alerts_caught_up() -> bool:
        return fold_alerts(await read_topic(kafka_bootstrap, names.alerts)) == firing

    await wait_until(alerts_caught_up, timeout_s=60)
    scores = await read_topic(kafka_bootstrap, names.scores)
    assert {json.loads(r.value)["target"] for _, r in scores} <= set(plan.targets)

    # Poison records went to the DLT with their reasons; nothing stalled.
    dead = await read_topic(kafka_bootstrap, names.dlt)
    # (At least once: a batch redelivered after the kill may dead-letter its poison again.)
    assert {r.value for _, r in dead} == {p[2] for p in poison}
    assert all(dict(r.headers)["x-dlt-reason"] == b"malformed" for _, r in dead)

    # The read API serves the same state in the CLI's names.
    async with httpx.AsyncClient(base_url=svc.url, timeout=10, headers=headers(PLANS_READ)) as http:
        whole = (await http.get(f"/v1/plans/{plan.id}")).json()
        assert {k: v for k, v in whole.items() if k != "clock"} == expected
        status = next(iter(t["status"] for t in expected["targets"].values()))
        listed = (await http.get(f"/v1/plans/{plan.id}/targets", params={"status": status})).json()
        assert {t["id"] for t in listed["targets"]} == {
            tid for tid, t in expected["targets"].items() if t["status"] == status
        }
        target_id = next(tid for tid, t in expected["targets"].items() if t["points"] > 1)
        one = (await http.get(f"/v1/plans/{plan.id}/targets/{target_id}")).json()
        assert one["status"] == expected["targets"][target_id]["status"]
        series = (await http.get(f"/v1/plans/{plan.id}/targets/{target_id}/series")).json()
        assert series["count"] == expected["targets"][target_id]["points"]
        history = (await http.get(f"/v1/plans/{plan.id}/targets/{target_id}/history")).json()
        assert history["history"] and history["history"][0]["after"]["status"] == one["status"], [
            (h["seq"], h["at"], h["trigger"], h["after"]["status"]) for h in history["history"]
        ]
        lead = plan.targets[target_id].lead
        card = (await http.get(f"/v1/plans/{plan.id}/agencies/{lead}")).json()
        assert card["lead"] == expected["agencies"][lead]["lead"]
        fired = (await http.get(f"/v1/plans/{plan.id}/alerts")).json()
        assert len(fired["alerts"]) == len(expected["alerts"])
        assert (await http.get(f"/v1/plans/{plan.id}/targets/nope")).status_code == 404
        assert (await http.get("/openapi.json")).status_code == 200

    # Replay from the stored reports into fresh collections equals the live state.
    reports = mongo_db["reports"]
    await reports.insert_many(
        [
            {
                "_id": e.event_id,
                **{k: v for k, v in e.model_dump(mode="json").items() if k != "event_id"},
            }
            for e in events
        ]
    )
    replayed = await run_cli(env, "replay", "--prefix", "replay_")
    assert replayed.returncode == 0, replayed.stderr
    summary = json.loads(replayed.stdout.strip().splitlines()[-1])
    live_digest = await state_digest(store)
    assert (
        summary["digest"]
        == live_digest
        == await state_digest(MongoScoringStore(mongo_db, "replay_"))
    )
    digest_cli = await run_cli(env, "state", "digest")
    assert digest_cli.returncode == 0, digest_cli.stderr
    assert digest_cli.stdout.strip() == live_digest
