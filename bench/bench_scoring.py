"""Benchmark: the scoring service over the real Kafka and FerretDB, against a raw floor.

    python -m bench.bench_scoring [--events 6000] [--rate 100] [--seconds 10] [--big 10000]

Rows (one run, same machine, same servers; `KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`, started
locally if absent):

- `raw_floor_upsert`: consume the accepted topic in batches (same batch settings, same durable
  commit) and write one bulk upsert per batch (one document per event, by `_id`): the floor as
  specified. On FerretDB an upsert by `_id` gets slower as the collection grows, so this row
  uses `--floor-upsert-events` (default 2000);
- `raw_floor_insert`: the same with one `insert_many` per batch (what the scoring service's
  per-event write is): the stricter floor;
- `scoring_h10` / `scoring_h<big>`: the scoring service (`build_service`: the real subscriber,
  engine, MongoDB writes, scores/alerts published, commits) at saturation, with 10 and with
  `--big` points of history per target already stored (the events are pre-produced; the time
  runs from start-up done to the last event's score stored);
- `scoring_fixed`: a fixed offered load (`--rate` events/s for `--seconds`), with p50/p99 of
  event-to-score latency (from the event's `received_at`, set when it is produced, to its
  score stored).

Goals: scoring >= half of the floor; h10 and h<big> within 20% of each other. Peak RSS is the
process's (producer, service and floor share it). Results: JSON in bench/results/, a table.
Durability: FerretDB v1.24 on SQLite as started by `planwatch infra` (WAL, default synchronous).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import resource
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from aiokafka import AIOKafkaConsumer
from faststream.kafka.annotations import KafkaMessage
from pymongo import AsyncMongoClient, UpdateOne

from bench.replica_set import produce as produce_records
from bench.results_file import write_result
from planwatch.infra.manager import ensure_up
from planwatch.infra.settings import InfraSettings
from services.scoring.app import build_service
from services.scoring.config import ScoringSettings
from services.scoring.documents import (
    point_id,
    target_key,
    window_to_doc,
)
from services.scoring.engine import BatchOutcome, ScoringEngine
from services.scoring.window import window_from_series
from shared.accepted import AcceptedEvent, AcceptedKind
from shared.catalog import load_catalog
from shared.contract.keys import generate_private_key, public_key_text
from shared.domain.catalog import Kind, Plan, Target
from shared.domain.method_v1 import SeriesPoint
from shared.domain.timebase import CST
from shared.kafka_admin import ensure_topics
from shared.runtime.kafka import DurableBatchProcessor, Record, make_broker
from shared.runtime.mongo import Document
from shared.runtime.publisher import Outbound, make_producer
from shared.runtime.settings import KafkaSettings, MongoSettings, RetrySettings

HISTORY_START = date(1990, 1, 31)
LOAD_START = date(2018, 1, 1)  # after 10,000 daily points from HISTORY_START
BATCH = 500


def _value(target: Target, i: int) -> float:
    """A value creeping toward the target (milestones: a stage index)."""
    if target.kind is Kind.MILESTONE:
        return float(min(len(target.stages) - 1, i // 400))
    if target.kind is Kind.RANK:
        return float(max(1, 20 - i // 500))
    return round(1.0 + (i % 9973) * 0.001, 3)


def accepted(
    target: Target, as_of: date, reported: datetime, value: float, eid: str
) -> AcceptedEvent:
    stage = target.stages[int(value)].id if target.kind is Kind.MILESTONE else None
    now = datetime.now(UTC)
    return AcceptedEvent(
        event_id=eid,
        kind=AcceptedKind.REPORT,
        plan=target.plan,
        target=target.id,
        agency=target.lead,
        as_of=as_of,
        reported_at=reported,
        value=value,
        stage=stage,
        unit=target.unit,
        received_at=now,
        key_id="bench",
        content_hash=hashlib.sha256(eid.encode()).hexdigest(),
    )


def load_events(plan: Plan, n: int, tag: str, *, same_day: bool = False) -> list[AcceptedEvent]:
    """`n` reports round-robin over the targets, one new date per round; 5% correct the latest
    date again, 1% a date three rounds back (corrections inside the window: a correction
    older than the window needs a scan of the target's points and is not measured here).
    `same_day`: all reported within one day (seconds apart), as real reports arrive, so the
    clock's day does not move."""
    targets = [plan.targets[t] for t in sorted(plan.targets)]
    out: list[AcceptedEvent] = []
    base = datetime.combine(LOAD_START + timedelta(days=400), dtime(0, 0), CST)
    for i in range(n):
        target = targets[i % len(targets)]
        rnd = i // len(targets)
        as_of = LOAD_START + timedelta(days=rnd)
        if i % 100 == 7 and rnd > 3:
            as_of = LOAD_START + timedelta(days=rnd - 3)  # an older date, inside the window
        elif i % 20 == 3 and rnd > 0:
            as_of = LOAD_START + timedelta(days=rnd - 1)  # the latest date, corrected
        reported = (
            base + timedelta(seconds=i)
            if same_day
            else datetime.combine(
                as_of if as_of >= LOAD_START else LOAD_START + timedelta(days=rnd),
                dtime(12),
                CST,
            )
            + timedelta(seconds=i)
        )
        out.append(accepted(target, as_of, reported, _value(target, i), f"{tag}-{i}"))
    return out


async def seed_history(db: Any, plan: Plan, points: int) -> None:
    """`points` daily points per target written as the service would have stored them."""
    last = None
    for target_id in sorted(plan.targets):
        target = plan.targets[target_id]
        series = []
        docs = []
        for i in range(points):
            as_of = HISTORY_START + timedelta(days=i)
            reported = datetime.combine(as_of, dtime(12), CST)
            point = SeriesPoint(as_of, _value(target, i), reported, f"h-{target_id}-{i}")
            series.append(point)
            docs.append(
                {
                    "_id": point_id(plan.id, target_id, as_of, "", point.event_id),
                    "plan": plan.id,
                    "target": target_id,
                    "as_of": as_of.isoformat(),
                    "value": point.value,
                    "reported_at": reported.isoformat(),
                    "event_id": point.event_id,
                }
            )
        for k in range(0, len(docs), 2000):
            await db["scoring_points"].insert_many(docs[k : k + 2000], ordered=False)
        last = series[-1].reported_at
        await db["scoring_targets"].insert_one(
            {
                "_id": target_key(plan.id, target_id),
                "plan": plan.id,
                "target": target_id,
                "window": window_to_doc(window_from_series(series, series[-1].as_of)),
                "last_report_at": last.isoformat(),
                "latest_event_at": last.isoformat(),
            }
        )
    assert last is not None
    await db["scoring_meta"].insert_one({"_id": "clock", "at": last.isoformat()})


async def produce(bootstrap: str, topic: str, events: Sequence[AcceptedEvent]) -> None:
    """The events, keyed by target, through the platform's producer (make_producer)."""
    await produce_records(
        bootstrap, [Outbound(topic, e.to_json(), key=e.target.encode()) for e in events]
    )


class Case:
    """One service run with its own topics, group and database."""

    def __init__(self, name: str, bootstrap: str, uri: str) -> None:
        tag = uuid.uuid4().hex[:10]
        self.name = name
        self.bootstrap = bootstrap
        self.uri = uri
        self.db = f"bench_scoring_{tag}"
        self.topics = {
            k: f"bench.{tag}.{k}" for k in ("accepted", "clock", "scores", "alerts", "dlt")
        }
        self.applied = 0
        self.applied_at: list[float] = []
        self.latencies: list[float] = []
        self.done = asyncio.Event()
        self.want = 0

    def settings(self) -> ScoringSettings:
        return ScoringSettings(
            kafka=KafkaSettings(bootstrap_servers=self.bootstrap, max_batch_records=BATCH),
            mongo=MongoSettings(uri=self.uri, database=self.db),
            group_id=f"bench-{self.db}",
            input_topic=self.topics["accepted"],
            clock_topic=self.topics["clock"],
            scores_topic=self.topics["scores"],
            alerts_topic=self.topics["alerts"],
            dlt_topic=self.topics["dlt"],
            # Production's configuration: ticks only from the platform clock (none are sent).
            clock_public_keys=[public_key_text(generate_private_key())],
        )

    def on_applied(self, events: Sequence[AcceptedEvent], wall: float) -> None:
        self.applied += len(events)
        self.latencies.extend(wall - e.received_at.timestamp() for e in events)
        if self.applied >= self.want:
            self.done.set()

    async def create_topics(self) -> None:
        parts = {"accepted": 6, "clock": 1, "scores": 6, "alerts": 6, "dlt": 1}
        await ensure_topics(self.bootstrap, {self.topics[k]: n for k, n in parts.items()})

    async def drop(self) -> None:
        client: AsyncMongoClient[Document] = AsyncMongoClient(self.uri)
        await client.drop_database(self.db)
        await client.close()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def first_batch_timer(engine: ScoringEngine) -> list[float]:
    """Times from the first batch of events handed to the engine (not from the group join,
    which waits for Kafka's initial rebalance delay, nor from a clock-only batch: the replica's
    first roll-up tells the clock it loaded on the sync topic, and reads it back, before Kafka
    has assigned it the input partitions and it has loaded their targets)."""
    first: list[float] = []
    apply = engine.apply

    async def timed(
        events: Sequence[AcceptedEvent],
        ticks: Sequence[datetime] = (),
        *,
        clock_to: datetime | None = None,
    ) -> BatchOutcome:
        if not first and events:
            first.append(time.perf_counter())
        return await apply(events, ticks, clock_to=clock_to)

    engine.apply = timed  # type: ignore[method-assign]
    return first


async def saturation(
    plan: Plan, bootstrap: str, uri: str, events: int, history: int
) -> dict[str, Any]:
    case = Case(f"scoring_h{history}", bootstrap, uri)
    await case.create_topics()
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    seeded = time.perf_counter()
    await seed_history(client[case.db], plan, history)
    seeded = time.perf_counter() - seeded
    await client.close()
    load = load_events(plan, events, case.db)
    await produce(bootstrap, case.topics["accepted"], load)
    case.want = len(load)
    service = build_service(case.settings(), on_applied=case.on_applied)
    first = first_batch_timer(service.engine)
    await service.host.start()
    try:
        await asyncio.wait_for(case.done.wait(), timeout=900)
        elapsed = time.perf_counter() - first[0]
    finally:
        await service.host.stop()
        await case.drop()
    return {
        "name": case.name,
        "events": case.applied,
        "history_points_per_target": history,
        "seconds": round(elapsed, 3),
        "events_per_s": round(case.applied / elapsed, 1),
        "seed_seconds": round(seeded, 1),
    }


async def fixed_load(
    plan: Plan, bootstrap: str, uri: str, rate: float, seconds: float
) -> dict[str, Any]:
    case = Case("scoring_fixed", bootstrap, uri)
    await case.create_topics()
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    await seed_history(client[case.db], plan, 10)
    await client.close()
    n = int(rate * seconds)
    load = load_events(plan, n, case.db, same_day=True)
    case.want = n
    service = build_service(case.settings(), on_applied=case.on_applied)
    await service.host.start()
    producer = make_producer(KafkaSettings(bootstrap_servers=bootstrap, client_id="bench"), "paced")
    await producer.start()
    started = time.perf_counter()
    try:
        for i, event in enumerate(load):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            fresh = event.model_copy(update={"received_at": datetime.now(UTC)})
            await producer.send(case.topics["accepted"], fresh.to_json(), key=event.target.encode())
        await producer.flush()
        await asyncio.wait_for(case.done.wait(), timeout=300)
        elapsed = time.perf_counter() - started
    finally:
        await producer.stop()
        await service.host.stop()
        await case.drop()
    lat = sorted(case.latencies)
    return {
        "name": case.name,
        "events": case.applied,
        "offered_per_s": rate,
        "seconds": round(elapsed, 3),
        "events_per_s": round(case.applied / elapsed, 1),
        "latency_p50_ms": round(1000 * statistics.median(lat), 1),
        "latency_p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
    }


async def raw_floor(
    plan: Plan, bootstrap: str, uri: str, events: int, *, upsert: bool
) -> dict[str, Any]:
    """Consume + one bulk write per batch (upserts by `_id`, or one insert_many) + the same
    durable commit."""
    name = "raw_floor_upsert" if upsert else "raw_floor_insert"
    case = Case(name, bootstrap, uri)
    await case.create_topics()
    load = load_events(plan, events, case.db)
    await produce(bootstrap, case.topics["accepted"], load)
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    collection = client[case.db]["floor"]
    settings = KafkaSettings(bootstrap_servers=bootstrap, max_batch_records=BATCH)
    broker = make_broker(settings, graceful_timeout_s=10)
    processor = DurableBatchProcessor(retry=RetrySettings())
    processed = 0
    started: float | None = None
    done = asyncio.Event()

    async def work(records: Sequence[Record]) -> None:
        nonlocal processed, started
        if started is None:
            started = time.perf_counter()
        docs = [AcceptedEvent.from_json(r.value or b"").model_dump(mode="json") for r in records]
        if upsert:
            ops = [UpdateOne({"_id": d["event_id"]}, {"$set": d}, upsert=True) for d in docs]
            await collection.bulk_write(ops, ordered=False)
        else:
            await collection.insert_many([{"_id": d["event_id"], **d} for d in docs], ordered=False)
        processed += len(records)
        if processed >= events:
            done.set()

    @broker.subscriber(
        case.topics["accepted"],
        group_id=f"bench-{case.db}",
        auto_offset_reset="earliest",
        batch=True,
        max_records=BATCH,
        batch_timeout_ms=settings.batch_timeout_ms,
        listener=processor.gate,
    )
    async def consume(msg: KafkaMessage) -> None:
        consumer: AIOKafkaConsumer = msg.consumer
        await processor.process(consumer, msg.raw_message, work)

    await broker.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
        assert started is not None
        elapsed = time.perf_counter() - started
    finally:
        await broker.stop()
        await client.drop_database(case.db)
        await client.close()
    return {
        "name": name,
        "events": processed,
        "seconds": round(elapsed, 3),
        "events_per_s": round(processed / elapsed, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    endpoints = await ensure_up(InfraSettings(), report=lambda m: print(f"[infra] {m}"))
    bootstrap, uri = endpoints.kafka_bootstrap, endpoints.mongodb_uri
    plan = next(iter(load_catalog().plans.values()))
    rows = [await raw_floor(plan, bootstrap, uri, args.events, upsert=False)]
    rows.append(await raw_floor(plan, bootstrap, uri, args.floor_upsert_events, upsert=True))
    rows.append(await saturation(plan, bootstrap, uri, args.events, 10))
    rows.append(await saturation(plan, bootstrap, uri, args.events, args.big))
    rows.append(await fixed_load(plan, bootstrap, uri, args.rate, args.seconds))
    by = {r["name"]: r for r in rows}
    floor = by["raw_floor_upsert"]["events_per_s"]
    floor_insert = by["raw_floor_insert"]["events_per_s"]
    small, big = by["scoring_h10"]["events_per_s"], by[f"scoring_h{args.big}"]["events_per_s"]
    return {
        "benchmark": "scoring",
        "at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "durability": "FerretDB v1.24.2 SQLite (WAL, default synchronous); Kafka acks=all",
        "batch_records": BATCH,
        "rows": rows,
        "ratios": {
            "scoring_over_floor_upsert": round(small / floor, 3),
            "scoring_over_floor_insert": round(small / floor_insert, 3),
            "history_big_over_small": round(big / small, 3),
        },
        "goals": {
            "scoring_at_least_half_floor_upsert": small >= floor / 2,
            "scoring_at_least_half_floor_insert": small >= floor_insert / 2,
            "history_within_20_percent": abs(big - small) <= 0.2 * max(big, small),
        },
        "peak_rss_mb": round(_rss_mb(), 1),
    }


def table(result: dict[str, Any]) -> str:
    lines = [f"{'row':<16} {'events':>7} {'s':>8} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8}"]
    for r in result["rows"]:
        lines.append(
            f"{r['name']:<16} {r['events']:>7} {r['seconds']:>8.2f} {r['events_per_s']:>9.1f} "
            f"{r.get('latency_p50_ms', ''):>8} {r.get('latency_p99_ms', ''):>8}"
        )
    lines.append(f"ratios: {result['ratios']}  goals: {result['goals']}")
    lines.append(f"peak RSS: {result['peak_rss_mb']} MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--big", type=int, default=10_000)
    # FerretDB upserts slow down as the collection grows: the upsert floor gets fewer events.
    parser.add_argument("--floor-upsert-events", type=int, default=2000)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    write_result("scoring", result, table(result))


if __name__ == "__main__":
    main()
