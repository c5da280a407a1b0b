"""Benchmark: each service as 1, 2 and 3 replicas (processes) in one consumer group.

    python -m bench.bench_replicas [--service ingest|scoring|notify|all] [--events N]
                                   [--replicas 1 2 3]

For each service and replica count, on its own topics (6 input partitions), groups and
database: the replicas start (`python -m services.<service>.main`, dev mode, on 127.0.0.1),
every group they join settles (every replica a member, Stable), then the input is produced at
once and the clock runs until the run's end is seen:

- ingest: signed progress events; done when every one is stored and published as accepted;
- scoring: accepted events; done when the points log holds every point they make;
- notify: firing alerts, three per aggregation group; done when a local webhook receiver has
  had one delivery per group (`--events` is rounded down to whole groups).

`--events` defaults per service to a few seconds a row here (DEFAULT_EVENTS).

Rows: events/s, CPU per event (user + system of every replica and its children, from the
first record produced to the end seen), and the local FerretDB's and Kafka's CPU per event
over the same span, also net of their rate just before the run (other clients of the same
servers); the machine's busy cores over the span. Ratios: each row's events/s over the single
replica's, measured in the same run (bench/replica_set.py has the shared machinery).

On a machine with fewer cores than replicas, more replicas cannot go faster: the replicas
share the cores, and each adds its own fixed costs (fetching, heartbeats). The figure that
carries over is the CPU per event; docs/scaling.md shows how throughput grows with
partitions x cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bench.bench_ingest import make_events
from bench.bench_scoring import load_events
from bench.replica_set import ratios, table
from bench.replicas_ingest import ingest_run
from bench.replicas_notify import ALERTS_PER_GROUP, notify_run
from bench.replicas_scoring import points_made, scoring_run
from bench.results_file import write_result
from planwatch.infra.manager import ensure_up
from planwatch.infra.settings import InfraSettings
from shared import topics
from shared.catalog import load_catalog

SERVICES = ("ingest", "scoring", "notify")
# Per service, about the same few seconds a row on 2 cores (ingest is the fastest by far).
DEFAULT_EVENTS = {"ingest": 12_000, "scoring": 3000, "notify": 1500}
INPUT_TOPIC = {"ingest": topics.PROGRESS, "scoring": topics.ACCEPTED, "notify": topics.ALERTS}
Endpoints = tuple[str, str]
RunOne = Callable[[int], Awaitable[dict[str, Any]]]


def ingest_runner(events: int, endpoints: Endpoints) -> RunOne:
    triples, _, keys = make_events(events, f"rep-{uuid.uuid4().hex[:6]}")

    async def one(count: int) -> dict[str, Any]:
        return await ingest_run(count, triples, keys, endpoints)

    return one


async def scoring_runner(events: int, endpoints: Endpoints) -> RunOne:
    catalog = load_catalog()
    plan = next(iter(catalog.plans.values()))
    load = load_events(plan, events, f"rep-{uuid.uuid4().hex[:6]}", same_day=True)
    expected = len(await points_made(catalog, load))

    async def one(count: int) -> dict[str, Any]:
        return await scoring_run(count, load, expected, endpoints)

    return one


def notify_runner(events: int, endpoints: Endpoints) -> RunOne:
    groups = max(1, events // ALERTS_PER_GROUP)

    async def one(count: int) -> dict[str, Any]:
        return await notify_run(count, groups, endpoints)

    return one


async def service_rows(
    service: str, events: int, replicas: list[int], endpoints: Endpoints
) -> dict[str, Any]:
    if service == "ingest":
        one = ingest_runner(events, endpoints)
    elif service == "scoring":
        one = await scoring_runner(events, endpoints)
    else:
        one = notify_runner(events, endpoints)
    rows = []
    for count in replicas:
        rows.append(await one(count))
        print(f"[bench] {rows[-1]}")
    return {
        "input_partitions": topics.PARTITIONS[INPUT_TOPIC[service]],
        "rows": rows,
        "ratios": ratios(rows),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    endpoints = await ensure_up(InfraSettings(), report=lambda m: print(f"[infra] {m}"))
    pair = (endpoints.kafka_bootstrap, endpoints.mongodb_uri)
    chosen = SERVICES if args.service == "all" else (args.service,)
    services = {
        s: await service_rows(s, args.events or DEFAULT_EVENTS[s], args.replicas, pair)
        for s in chosen
    }
    return {
        "benchmark": "replicas",
        "at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "durability": "FerretDB v1.24 SQLite (WAL, default synchronous); Kafka acks=all",
        "services": services,
    }


def result_table(result: dict[str, Any]) -> str:
    lines = []
    for service, part in result["services"].items():
        lines.append(f"{service} ({part['input_partitions']} input partitions)")
        lines.append(table(part["rows"]))
        lines.append(f"events/s over one replica: {part['ratios']}")
    lines.append(f"{result['machine']['cpus']} CPUs; CPU in ms per event")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--service", choices=[*SERVICES, "all"], default="all")
    parser.add_argument(
        "--events", type=int, default=None, help=f"events per row (default: {DEFAULT_EVENTS})"
    )
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    if args.replicas[0] != 1:
        parser.error("the first replica count is the baseline: start with 1")
    result = asyncio.run(run(args))
    write_result("replicas", result, result_table(result))


if __name__ == "__main__":
    main()
