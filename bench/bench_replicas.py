"""Benchmark: the scoring service as 1, 2 and 3 replicas (processes) in one consumer group.

    python -m bench.bench_replicas [--events 3000] [--replicas 1 2 3]

For each replica count, on its own topics (`planwatch.accepted`'s 6 partitions), group and
database: the replicas start (`planwatch-scoring`, dev mode, on 127.0.0.1), the group settles
(every replica a member, the group Stable), then the events are produced at once and the clock
runs until the points log holds every point the events make (counted beforehand by the same
engine in memory). Rows: events/s, CPU per event (user + system of every replica, from the
first event produced to the last point stored), and the local FerretDB's and Kafka's CPU per
event over the same span (much of the stored work is theirs). Ratios: each row's events/s over the
single replica's, measured in the same run.

On a machine with fewer cores than replicas, more replicas cannot go faster: the replicas
share the cores, and each adds its own fixed costs (fetching, heartbeats, the shared clock
topic). The figure that carries over is the CPU per event; docs/scoring-service.md
("Scaling out") shows how throughput grows with partitions x cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from bench.bench_scoring import load_events, produce
from bench.results_file import RESULTS, write_result
from planwatch.infra.manager import ensure_up
from planwatch.infra.settings import InfraSettings
from services.scoring.engine import ScoringEngine
from services.scoring.memory_store import InMemoryScoringStore
from shared import topics
from shared.accepted import AcceptedEvent
from shared.catalog import load_catalog
from shared.domain.catalog import Catalog
from shared.kafka_admin import ensure_topics
from shared.runtime.kafka_security import client_options
from shared.runtime.settings import KafkaSettings

READY_TIMEOUT_S = 120.0
SETTLE_TIMEOUT_S = 120.0
RUN_TIMEOUT_S = 900.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def expected_points(catalog: Catalog, events: Sequence[AcceptedEvent]) -> int:
    """How many points-log documents the events make: the same engine, in memory."""

    async def publish_nothing(_: Sequence[Any]) -> None:
        return None

    store = InMemoryScoringStore()
    await ScoringEngine(catalog, store, publish_nothing, base_url="http://bench").apply(events)
    return len(store.points)


class Replicas:
    """`count` scoring processes in one group, on one run's topics and database."""

    def __init__(self, count: int, bootstrap: str, uri: str, tag: str, log_dir: Path) -> None:
        self.topics = {
            kind: f"bench.{tag}.{kind}"
            for kind in ("accepted", "clock", "sync", "scores", "alerts", "dlt")
        }
        self.group = f"bench-{tag}"
        self.database = f"bench_{tag}"
        self.count = count
        self.bootstrap = bootstrap
        self.uri = uri
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.management_ports: list[int] = []

    def env(self, n: int, port: int, management: int) -> dict[str, str]:
        t = self.topics
        return {
            **os.environ,
            "PLANWATCH_AUTH_MODE": "dev",  # loopback only; the bench calls no HTTP route
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_CLIENT_ID": f"bench-scoring-{n}",
            "MONGODB_URI": self.uri,
            "MONGODB_DATABASE": self.database,
            "SCORING_GROUP_ID": self.group,
            "SCORING_INPUT_TOPIC": t["accepted"],
            "SCORING_CLOCK_TOPIC": t["clock"],
            "SCORING_SYNC_TOPIC": t["sync"],
            "SCORING_SCORES_TOPIC": t["scores"],
            "SCORING_ALERTS_TOPIC": t["alerts"],
            "SCORING_DLT_TOPIC": t["dlt"],
            "SCORING_HTTP__PORT": str(port),
            "SCORING_MANAGEMENT_PORT": str(management),
            "SCORING_LOG_LEVEL": "WARNING",
        }

    async def start(self) -> None:
        partitions = {
            self.topics["accepted"]: topics.PARTITIONS[topics.ACCEPTED],
            self.topics["clock"]: 1,
            self.topics["sync"]: 1,
            self.topics["scores"]: topics.PARTITIONS[topics.SCORES],
            self.topics["alerts"]: topics.PARTITIONS[topics.ALERTS],
            self.topics["dlt"]: 1,
        }
        await ensure_topics(KafkaSettings(bootstrap_servers=self.bootstrap), partitions)
        for n in range(self.count):
            port, management = _free_port(), _free_port()
            self.processes.append(self._spawn(n, port, management))
            self.management_ports.append(management)
        await self._ready()
        await self._settled()

    def _spawn(self, n: int, port: int, management: int) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"scoring-{self.count}-{n}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "services.scoring.main"],
            env=self.env(n, port, management),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def _ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2.0) as http:
            for process, port in zip(self.processes, self.management_ports, strict=True):
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"a replica exited ({process.returncode}): see logs")
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError("a replica did not become ready")
                    await asyncio.sleep(0.2)

    async def _settled(self) -> None:
        """Every replica a member of the group, and the group Stable: no rebalance mid-run."""
        admin = AIOKafkaAdminClient(
            **client_options(KafkaSettings(bootstrap_servers=self.bootstrap))
        )
        await admin.start()
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        try:
            while True:
                [described] = await admin.describe_consumer_groups([self.group])
                group = described.groups[0]
                state, members = group[2], group[5]
                if state == "Stable" and len(members) == self.count:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"group {self.group}: {state}, {len(members)} member(s)")
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes:
            times = psutil.Process(process.pid).cpu_times()
            total += times.user + times.system
        return total

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def servers_cpu_seconds() -> float:
    """User + system CPU of the local FerretDB and Kafka processes (where the stored work goes;
    0 for servers elsewhere)."""
    total = 0.0
    for process in psutil.process_iter(["name", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if "ferretdb" in command or "kafka.Kafka" in command:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
    return total


async def points_stored(uri: str, database: str) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        return await client[database]["scoring_points"].count_documents({})
    finally:
        await client.close()


async def one_run(
    count: int, events: Sequence[AcceptedEvent], expected: int, endpoints: tuple[str, str]
) -> dict[str, Any]:
    bootstrap, uri = endpoints
    tag = uuid.uuid4().hex[:10]
    log_dir = RESULTS / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    replicas = Replicas(count, bootstrap, uri, tag, log_dir)
    try:
        await replicas.start()
        cpu_before, servers_before = replicas.cpu_seconds(), servers_cpu_seconds()
        started = time.monotonic()
        await produce(bootstrap, replicas.topics["accepted"], events)
        deadline = started + RUN_TIMEOUT_S
        while (stored := await points_stored(uri, replicas.database)) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} replica(s): {stored} of {expected} points stored")
            await asyncio.sleep(0.25)
        seconds = time.monotonic() - started
        cpu = replicas.cpu_seconds() - cpu_before
        servers = servers_cpu_seconds() - servers_before
    finally:
        replicas.stop()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
        await client.drop_database(replicas.database)
        await client.close()
    return {
        "name": f"scoring_x{count}",
        "replicas": count,
        "events": len(events),
        "seconds": round(seconds, 3),
        "events_per_s": round(len(events) / seconds, 1),
        "cpu_ms_per_event": round(1000 * cpu / len(events), 3),
        "servers_cpu_ms_per_event": round(1000 * servers / len(events), 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    endpoints = await ensure_up(InfraSettings(), report=lambda m: print(f"[infra] {m}"))
    catalog = load_catalog()
    plan = next(iter(catalog.plans.values()))
    events = load_events(plan, args.events, f"rep-{uuid.uuid4().hex[:6]}", same_day=True)
    expected = await expected_points(catalog, events)
    rows = []
    for count in args.replicas:
        row = await one_run(
            count, events, expected, (endpoints.kafka_bootstrap, endpoints.mongodb_uri)
        )
        print(f"[bench] {row}")
        rows.append(row)
    single = rows[0]["events_per_s"]
    return {
        "benchmark": "scoring_replicas",
        "at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "partitions": topics.PARTITIONS[topics.ACCEPTED],
        "rows": rows,
        "ratios": {r["name"]: round(r["events_per_s"] / single, 3) for r in rows},
    }


def table(result: dict[str, Any]) -> str:
    head = f"{'row':<12} {'events':>7} {'s':>8} {'events/s':>9} {'CPU ms/event':>13}"
    lines = [head + f" {'servers CPU ms/event':>21}"]
    for r in result["rows"]:
        lines.append(
            f"{r['name']:<12} {r['events']:>7} {r['seconds']:>8.2f} {r['events_per_s']:>9.1f} "
            f"{r['cpu_ms_per_event']:>13.3f} {r['servers_cpu_ms_per_event']:>21.3f}"
        )
    lines.append(
        f"events/s over one replica: {result['ratios']}  ({result['machine']['cpus']} CPUs)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    if args.replicas[0] != 1:
        parser.error("the first replica count is the baseline: start with 1")
    result = asyncio.run(run(args))
    write_result("replicas", result, table(result))


if __name__ == "__main__":
    main()
