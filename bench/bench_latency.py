"""Benchmark: event-to-score latency with 2 scoring replicas at a fixed offered load.

    python -m bench.bench_latency [--rates 20 200] [--seconds 30] [--replicas 2]

For each offered rate (the first is the baseline, measured in the same run), on its own topics,
group and database: `--replicas` scoring processes start and settle (bench/replica_set.py),
then a paced producer (the platform's producer) offers accepted events at that rate for
`--seconds`, each stamped `received_at` = the wall time it is handed to the producer. Two
readings of the latency, same events:

- observed: this process polls the points log every `POLL_S` for the points the events make
  (known beforehand from the same engine in memory), by `_id` look-ups (a binary search per
  target: its points appear in the order produced); an event's latency is the end of the poll
  that first saw its point minus its produce time (an upper bound, by up to one poll);
- scoring's own: the replicas' `planwatch_scoring_event_to_score_seconds` histogram (from
  `received_at` to the score stored, every event), summed over the replicas: the share of
  events within 500 ms is exact, its percentiles are interpolated within the buckets.

Reported: p50/p95/p99 (observed) and whether p99 < 500 ms, the rate achieved, and CPU per
event for the replicas and for the local Kafka/FerretDB. A figure, not a test: nothing here
fails on a slow run.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from bench.bench_scoring import load_events
from bench.replica_set import (
    ReplicaSet,
    counter_total,
    drop_database,
    histogram,
    histogram_sum_count,
    measure,
    row,
)
from bench.replicas_scoring import ScoringDeployment, points_made
from bench.results_file import write_result
from planwatch.infra.manager import ensure_up
from planwatch.infra.settings import InfraSettings
from shared.accepted import AcceptedEvent
from shared.catalog import load_catalog
from shared.runtime.publisher import make_producer
from shared.runtime.settings import KafkaSettings

POLL_S = 0.05
SCORED_WAIT_S = 30.0
GOAL_P99_MS = 500.0
METRIC = "planwatch_scoring_event_to_score_seconds"
BATCH_METRIC = "planwatch_scoring_rescore_duration_seconds"  # one observation per batch
RESCORES_METRIC = "planwatch_scoring_rescores"  # targets rescored, by trigger


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bucket_percentile(buckets: Mapping[float, float], q: float) -> float:
    """The q-quantile of a cumulative histogram, linear within its bucket (inf: past the
    last finite bound)."""
    total = buckets.get(float("inf"), 0.0)
    lower, below = 0.0, 0.0
    for bound, cumulative in buckets.items():
        if cumulative >= q * total and cumulative > below:
            if bound == float("inf"):
                return bound
            return lower + (bound - lower) * (q * total - below) / (cumulative - below)
        lower, below = bound, cumulative
    return float("nan")


class PacedLoad:
    """Offers the events at `rate` per second; remembers when each was produced, and finds
    when each one's point appears in the points log."""

    def __init__(self, deployment: ScoringDeployment, events: Sequence[AcceptedEvent]) -> None:
        self.deployment = deployment
        self.events = events
        self.produced: dict[str, float] = {}  # event id -> wall time handed to the producer
        self.seen: dict[str, float] = {}  # event id -> wall time its point was first seen
        self.point_of: dict[str, str] = {}  # event id -> its point's _id
        self.task: asyncio.Task[None] | None = None

    async def offer(self, rate: float) -> None:
        settings = KafkaSettings(bootstrap_servers=self.deployment.bootstrap, client_id="bench")
        producer = make_producer(settings, "paced")
        await producer.start()
        started = time.monotonic()
        try:
            for i, event in enumerate(self.events):
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = datetime.now(UTC)
                fresh = event.model_copy(update={"received_at": now})
                record = self.deployment.record(fresh)
                self.produced[event.event_id] = now.timestamp()
                await producer.send(record.topic, record.value, key=record.key)
            await producer.flush()
        finally:
            await producer.stop()

    def start(self, rate: float) -> None:
        self.task = asyncio.create_task(self.offer(rate))

    async def poll(self, points: AsyncCollection[dict[str, Any]]) -> int:
        """One look at the points log for the produced events not yet seen. A target's events
        are all in one partition, applied in the order produced, so the points seen of a target
        are a prefix of its pending ones: a binary search of `_id` look-ups per target finds it.
        (An `$in` of every pending `_id` scans the whole points log on FerretDB: 90–280 ms per
        look at 3,000 points, every 50 ms, most of a core the scoring replicas then lack.)"""
        pending: dict[str, list[str]] = {}  # target -> its pending events, in produced order
        for event in self.events:
            e = event.event_id
            if e in self.produced and e in self.point_of and e not in self.seen:
                pending.setdefault(f"{event.plan}:{event.target}", []).append(e)

        async def stored(event_id: str) -> bool:
            return await points.find_one({"_id": self.point_of[event_id]}, {"_id": 1}) is not None

        async def seen_prefix(events: list[str]) -> list[str]:
            low, high = 0, len(events)  # events[:low] are stored, events[high:] are not
            while low < high:
                mid = (low + high) // 2
                if await stored(events[mid]):
                    low = mid + 1
                else:
                    high = mid
            return events[:low]

        found = await asyncio.gather(*(seen_prefix(events) for events in pending.values()))
        now = time.time()
        for events in found:
            for e in events:
                self.seen[e] = now
        if self.task is not None and self.task.done():
            self.task.result()  # the producer's error, if any
        return len(self.seen)

    def latencies_ms(self) -> list[float]:
        return [1000 * (self.seen[e] - self.produced[e]) for e in self.seen]


async def scored_all(replicas: ReplicaSet, events: int) -> list[str]:
    """The replicas' metrics once their histogram counts every event (events that make no
    point may still be in a batch when the last point is seen), or after `SCORED_WAIT_S`."""
    deadline = time.monotonic() + SCORED_WAIT_S
    while True:
        texts = await replicas.metrics()
        scored = histogram(texts, METRIC).get(float("inf"), 0.0)
        if scored >= events or time.monotonic() > deadline:
            return texts
        await asyncio.sleep(POLL_S)


def _ms(seconds: float) -> float | None:
    """Milliseconds, or None past the histogram's last finite bucket (or with no events)."""
    return round(1000 * seconds, 1) if math.isfinite(seconds) else None


def latency_figures(observed: Sequence[float], buckets: Mapping[float, float]) -> dict[str, Any]:
    total = buckets.get(float("inf"), 0.0)
    p99 = percentile(observed, 0.99)
    return {
        "observed_events": len(observed),
        "p50_ms": round(percentile(observed, 0.5), 1),
        "p95_ms": round(percentile(observed, 0.95), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(max(observed), 1),
        "p99_under_500ms": p99 < GOAL_P99_MS,
        "scoring_histogram": {
            "events": int(total),
            "share_within_500ms": round(buckets.get(0.5, 0.0) / total, 4) if total else None,
            "p50_ms": _ms(bucket_percentile(buckets, 0.5)),
            "p99_ms": _ms(bucket_percentile(buckets, 0.99)),
        },
    }


async def one_rate(
    rate: float, seconds: float, count: int, endpoints: tuple[str, str]
) -> dict[str, Any]:
    bootstrap, uri = endpoints
    catalog = load_catalog()
    plan = next(iter(catalog.plans.values()))
    deployment = ScoringDeployment(bootstrap, uri)
    events = load_events(plan, int(rate * seconds), deployment.database, same_day=True)
    load = PacedLoad(deployment, events)
    load.point_of = {e: p for p, e in (await points_made(catalog, events)).items()}
    await deployment.create_topics()
    replicas = ReplicaSet(deployment.spec(), count)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    points = client[deployment.database]["scoring_points"]

    async def send() -> None:
        load.start(rate)

    async def progress() -> int:
        return await load.poll(points)

    try:
        await replicas.start()
        measured = await measure(
            replicas, endpoints, send, progress, len(load.point_of), poll_s=POLL_S
        )
        texts = await scored_all(replicas, len(events))
    finally:
        if load.task is not None:
            load.task.cancel()
        replicas.stop()
        await client.close()
        await drop_database(uri, deployment.database)
    result = row("scoring", count, len(events), measured)
    result["name"] = f"scoring_x{count}_at_{rate:g}"
    result["offered_per_s"] = rate
    result.update(latency_figures(load.latencies_ms(), histogram(texts, METRIC)))
    spent, batches = histogram_sum_count(texts, BATCH_METRIC)
    result["scoring_batches"] = int(batches)
    result["batch_mean_ms"] = round(1000 * spent / batches, 1) if batches else None
    rescores = counter_total(texts, RESCORES_METRIC)
    result["target_rescores_per_event"] = round(rescores / len(events), 1)
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    endpoints = await ensure_up(InfraSettings(), report=lambda m: print(f"[infra] {m}"))
    pair = (endpoints.kafka_bootstrap, endpoints.mongodb_uri)
    rows = []
    for rate in args.rates:
        rows.append(await one_rate(rate, args.seconds, args.replicas, pair))
        print(f"[bench] {rows[-1]}")
    return {
        "benchmark": "scoring_latency",
        "at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "replicas": args.replicas,
        "seconds_offered": args.seconds,
        "poll_s": POLL_S,
        "goal": f"p99 < {GOAL_P99_MS:g} ms at {args.rates[-1]:g} events/s offered",
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    head = (
        f"{'row':<20} {'offered/s':>9} {'got/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'<500ms (scoring)':>17} {'CPU ms/ev':>10} {'servers ms/ev':>14}"
    )
    lines = [head]
    for r in result["rows"]:
        share = r["scoring_histogram"]["share_within_500ms"]
        lines.append(
            f"{r['name']:<20} {r['offered_per_s']:>9g} {r['events_per_s']:>7.1f} "
            f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} {share:>17} "
            f"{r['cpu_ms_per_event']:>10.3f} {r['servers_cpu_ms_per_event']:>14.3f}"
        )
    verdict = "met" if result["rows"][-1]["p99_under_500ms"] else "NOT met"
    lines.append(f"{result['goal']}: {verdict} (observed by polling every {result['poll_s']} s)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[20.0, 200.0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    write_result("latency", result, table(result))


if __name__ == "__main__":
    main()
