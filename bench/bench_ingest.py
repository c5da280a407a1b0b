"""Benchmark: the ingest service over the real Kafka and FerretDB, against a raw floor.

    python -m bench.bench_ingest [--events 20000] [--batch 500]

Both rows consume the same pre-produced, signed CloudEvents (Kafka binary mode) from their
own topic, in batches of at most `--batch` records, on the same machine and servers
(`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`; started locally if absent):

- `raw_floor`: plain aiokafka `getmany` + one `insert_many(ordered=False)` of the same
  documents ingest stores (built beforehand: no decoding, no checks) + an explicit commit;
- `ingest`: the service itself (`create_app`, in this process): decode, verify signatures,
  check against the catalog, one `insert_many`, publish every accepted event, commit.

Throughput runs from the first batch's arrival to the last batch's commit (start-up
excluded). Per-batch latency runs from a batch's arrival at the handler until it is committed
(ingest judges a batch while the previous one is stored and published, so that includes any
wait for it). Goal: ingest >= 0.5 x floor.
Peak RSS is the process's (producer, floor and service share it). Results: JSON in
bench/results/ and a table. Durability: FerretDB v1.24 on SQLite (WAL, default synchronous).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import resource
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from bench.replica_set import produce as produce_records
from bench.results_file import RESULTS, write_result
from planwatch.infra.manager import ensure_up
from planwatch.infra.ports import free_port
from planwatch.infra.settings import InfraSettings
from services.ingest.app import create_app
from services.ingest.config import IngestSettings
from services.ingest.store import StoredReport, signed_event_json
from services.ingest.validation import Accepted, validate
from shared.catalog import load_catalog
from shared.contract.codec import encode_kafka_binary
from shared.contract.events import ProgressReported, new_report
from shared.contract.keys import AgencyKey, private_key_from_seed, public_key_text
from shared.contract.parsing import RawEvent
from shared.contract.signing import sign
from shared.domain.catalog import Kind, Plan
from shared.kafka_admin import ensure_topics
from shared.runtime import kafka as runtime_kafka
from shared.runtime.auth import AuthMode, AuthSettings
from shared.runtime.consumer import StagedConsumer
from shared.runtime.host import Servers
from shared.runtime.kafka_security import client_options
from shared.runtime.publisher import Outbound
from shared.runtime.settings import HttpSettings, KafkaSettings, MongoSettings
from shared.topics import PARTITIONS, PROGRESS

Triple = tuple[bytes | None, bytes, list[tuple[str, bytes]]]


def make_events(n: int, tag: str) -> tuple[list[Triple], list[dict[str, Any]], list[AgencyKey]]:
    """Signed headline reports over every share/count target of the plan, each by the first of
    its headline reporters (the lead unless the catalog names others); their Kafka records,
    the documents ingest would store, and the agencies' keys."""
    catalog = load_catalog()
    plan = next(iter(catalog.plans.values()))
    targets = [t for t in plan.targets.values() if t.kind in {Kind.SHARE, Kind.COUNT}]
    reporters = {t.id: _reporter(plan, t.id, t.lead) for t in targets}
    keys: dict[str, Any] = {}
    entries: list[AgencyKey] = []
    for agency in dict.fromkeys(reporters.values()):
        keys[agency] = private_key_from_seed(agency.encode().ljust(32, b"#")[:32])
        entries.append(
            AgencyKey(
                agency=agency,
                key_id="bench",
                public_key=public_key_text(keys[agency]),
                created=datetime(2021, 1, 1, tzinfo=UTC),
            )
        )
    snapshot = {(k.agency, k.key_id): k for k in entries}
    now = datetime.now(UTC)
    triples: list[Triple] = []
    docs: list[dict[str, Any]] = []
    for i in range(n):
        target = targets[i % len(targets)]
        agency = reporters[target.id]
        event: ProgressReported = new_report(
            agency=agency,
            plan=plan.id,
            target=target.id,
            as_of=date(2022, 3, 31) - timedelta(days=i % 600),
            time="2022-04-06T09:30:00+08:00",
            value=float(i % 100),
            event_id=f"{tag}-{i}",
        )
        signed = sign(event, keys[agency], "bench")
        key, value, headers = encode_kafka_binary(signed)
        triples.append((key, value, list(headers)))
        verdict = validate(RawEvent(signed.envelope, value), catalog, snapshot, now)
        assert isinstance(verdict, Accepted), verdict
        stored = StoredReport(verdict.event, signed_event_json(verdict.raw))
        docs.append(stored.to_document())
    return triples, docs, entries


def _reporter(plan: Plan, target_id: str, lead: str) -> str:
    subject = plan.subject(target_id)
    reporters = subject.headline_reporters if subject is not None else ()
    return reporters[0] if reporters else lead


async def produce(bootstrap: str, topic: str, triples: Sequence[Triple]) -> None:
    """The records through the platform's producer (shared/runtime/publisher.make_producer)."""
    await produce_records(
        bootstrap, [Outbound(topic, v, key=k, headers=tuple(h)) for k, v, h in triples]
    )


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(name: str, events: int, spans: list[tuple[float, float, int]]) -> dict[str, Any]:
    started = min(s for s, _, _ in spans)
    ended = max(e for _, e, _ in spans)
    latencies_ms = [(e - s) * 1000 for s, e, _ in spans]
    return {
        "name": name,
        "events": events,
        "batches": len(spans),
        "seconds": round(ended - started, 3),
        "events_per_s": round(events / (ended - started), 1),
        "batch_p50_ms": round(_percentile(latencies_ms, 0.5), 2),
        "batch_p99_ms": round(_percentile(latencies_ms, 0.99), 2),
        "mean_batch_size": round(statistics.mean(n for _, _, n in spans), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


async def raw_floor(
    bootstrap: str, uri: str, topic: str, docs: list[dict[str, Any]], batch: int
) -> dict[str, Any]:
    by_id = {doc["event_id"]: doc for doc in docs}  # `_id` is "agency|event id"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    collection = client[f"bench_floor_{uuid.uuid4().hex[:8]}"]["reports"]
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(KafkaSettings(bootstrap_servers=bootstrap)),
        group_id=f"bench-floor-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=batch,
    )
    await consumer.start()
    spans: list[tuple[float, float, int]] = []
    done = 0
    try:
        while done < len(docs):
            fetched = await consumer.getmany(timeout_ms=50, max_records=batch)
            records = [r for part in fetched.values() for r in part]
            if not records:
                continue
            started = time.perf_counter()
            # The same documents ingest stores, looked up by the record's event id header.
            batch_docs = [by_id[dict(r.headers)["ce_id"].decode()] for r in records]
            await collection.insert_many(batch_docs, ordered=False)
            offsets: dict[TopicPartition, int] = {}
            for r in records:
                tp = TopicPartition(r.topic, r.partition)
                offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
            await consumer.commit(offsets)
            spans.append((started, time.perf_counter(), len(records)))
            done += len(records)
    finally:
        await consumer.stop()
        await client.drop_database(collection.database.name)
        await client.close()
    return summary("raw_floor", done, spans)


async def ingest(
    bootstrap: str,
    uri: str,
    tag: str,
    keys: list[AgencyKey],
    batch: int,
    triples: Sequence[Triple],
) -> dict[str, Any]:
    keys_file = RESULTS / f".bench-keys-{tag}.jsonl"
    keys_file.write_text("".join(k.model_dump_json() + "\n" for k in keys), encoding="utf-8")
    database = f"bench_ingest_{tag}"
    port, management_port = free_port(), free_port()
    settings = IngestSettings(
        auth=AuthSettings(mode=AuthMode.DEV),  # the Kafka door only; on 127.0.0.1
        management_port=management_port,
        kafka=KafkaSettings(bootstrap_servers=bootstrap, max_batch_records=batch),
        mongo=MongoSettings(uri=SecretStr(uri), database=database),
        http=HttpSettings(port=port),
        group_id=f"bench-ingest-{tag}",
        input_topic=f"bench.{tag}.progress",
        accepted_topic=f"bench.{tag}.accepted",
        dead_letter_topic=f"bench.{tag}.dlt",
        keys_file=keys_file,
    )
    spans: list[tuple[float, float, int]] = []
    finished = asyncio.Event()
    original = runtime_kafka.DurableBatchProcessor.process
    original_consume = StagedConsumer.consume
    arrived: dict[int, float] = {}  # batch (its record list) -> when the handler got it

    async def arriving(self: Any, msg: Any) -> None:
        arrived[id(msg.raw_message)] = time.perf_counter()
        await original_consume(self, msg)

    async def timed(self: Any, consumer: Any, records: Any, work: Any) -> bool:
        # A batch is judged before its durable stage (while the previous one settles), so
        # its span starts when it arrived, not when process() starts.
        started = arrived.pop(id(records), None) or time.perf_counter()
        result = await original(self, consumer, records, work)
        spans.append((started, time.perf_counter(), len(records)))
        if sum(n for _, _, n in spans) >= len(triples):
            finished.set()
        return result

    # Produced before the service starts, as for the floor: the service's rate is not bound by
    # (nor sharing its event loop with) the producer.
    await ensure_topics(bootstrap, {settings.input_topic: PARTITIONS[PROGRESS]})
    await produce(bootstrap, settings.input_topic, triples)
    runtime_kafka.DurableBatchProcessor.process = timed  # type: ignore[method-assign]
    StagedConsumer.consume = arriving  # type: ignore[method-assign]
    servers = Servers(create_app(settings), settings.http, settings.management_http())
    task = asyncio.create_task(servers.serve())
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    ready = await http.get(f"http://127.0.0.1:{management_port}/readyz")
                    if ready.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        await asyncio.wait_for(finished.wait(), 600)
        stored = await client[database]["reports"].count_documents({})
        assert stored == len(triples), f"stored {stored} of {len(triples)}"
    finally:
        servers.request_exit()
        await asyncio.wait_for(task, 60)
        runtime_kafka.DurableBatchProcessor.process = original  # type: ignore[method-assign]
        StagedConsumer.consume = original_consume  # type: ignore[method-assign]
        await client.drop_database(database)
        await client.close()
        keys_file.unlink(missing_ok=True)
    return summary("ingest", len(triples), spans)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    endpoints = await ensure_up(InfraSettings(), report=lambda m: print(f"[infra] {m}"))
    tag = uuid.uuid4().hex[:8]
    prepared = time.perf_counter()
    triples, docs, keys = make_events(args.events, tag)
    # The prepared events are the benchmark's, not the rows': kept out of the collector's way
    # for both rows alike.
    gc.collect()
    gc.freeze()
    print(f"prepared {len(triples)} signed events in {time.perf_counter() - prepared:.1f} s")
    floor_topic = f"bench.{tag}.floor"
    await ensure_topics(endpoints.kafka_bootstrap, {floor_topic: PARTITIONS[PROGRESS]})
    await produce(endpoints.kafka_bootstrap, floor_topic, triples)
    floor = await raw_floor(
        endpoints.kafka_bootstrap, endpoints.mongodb_uri, floor_topic, docs, args.batch
    )
    service = await ingest(
        endpoints.kafka_bootstrap, endpoints.mongodb_uri, tag, keys, args.batch, triples
    )
    return {
        "benchmark": "ingest",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "durability": "FerretDB v1.24 SQLite (WAL, default synchronous); Kafka acks=all",
        "batch_records": args.batch,
        "rows": [floor, service],
        "ratio": round(service["events_per_s"] / floor["events_per_s"], 3),
        "goal_ratio": 0.5,
    }


def table(result: dict[str, Any]) -> str:
    head = f"{'row':<10} {'events':>7} {'events/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'batch':>6}"
    lines = [head, "-" * len(head)]
    for row in result["rows"]:
        lines.append(
            f"{row['name']:<10} {row['events']:>7} {row['events_per_s']:>9.0f} "
            f"{row['batch_p50_ms']:>8.1f} {row['batch_p99_ms']:>8.1f} "
            f"{row['mean_batch_size']:>6.0f}"
        )
    rss = max(row["peak_rss_mb"] for row in result["rows"])
    lines.append(f"ratio ingest/floor = {result['ratio']} (goal >= 0.5); peak RSS {rss} MB")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    write_result("ingest", result, table(result))


if __name__ == "__main__":
    main()
