"""What the replica benchmarks share: service processes in one consumer group, their CPU and
the servers' CPU, the produce step, and the measured span.

A `ReplicaSet` starts `count` processes of one service (`python -m services.<x>.main`, dev
mode, on 127.0.0.1, each with its own HTTP and management ports), waits until every one
answers `/readyz` and every consumer group it joins is Stable with `count` members (no
rebalance mid-run), and stops them at the end. `measure` produces a run's records at once and
polls until the run's own "done" count reaches what is expected, reading CPU before and after:

- the replicas' user + system CPU (their child processes included: ingest verifies
  signatures in a worker process);
- the servers' CPU: the processes listening on the Kafka and MongoDB ports in use (FerretDB
  and Kafka when they run here; 0 when they are elsewhere). Other clients of the same servers
  (other engineers' tests) are counted too, so their rate while the replicas sit idle, just
  before the run, is measured and reported beside it;
- the whole machine's busy CPU over the span (what else ran at the same time).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from bench.results_file import RESULTS
from planwatch.infra.ports import free_port
from shared.runtime.kafka_security import client_options
from shared.runtime.publisher import Outbound, make_producer
from shared.runtime.settings import KafkaSettings

READY_TIMEOUT_S = 120.0
SETTLE_TIMEOUT_S = 120.0
RUN_TIMEOUT_S = 900.0
IDLE_SAMPLE_S = 2.0  # the servers' background rate is sampled this long before each run
LOG_DIR = RESULTS / "logs"
POLL_S = 0.2  # how often a run's progress is read

EnvFor = Callable[[int, int, int], dict[str, str]]  # (replica n, http port, management port)


@dataclass(frozen=True)
class ReplicaSpec:
    """How to start one service's replica: its module, its environment, its groups."""

    service: str  # "ingest", "scoring", "notify"
    env: EnvFor  # the variables set on top of this process's environment
    groups: tuple[str, ...]  # the consumer groups every replica joins
    bootstrap: str

    @property
    def module(self) -> str:
        return f"services.{self.service}.main"


def process_cpu(process: psutil.Process) -> float:
    """User + system CPU seconds of a process and its live children."""
    total = 0.0
    for one in [process, *process.children(recursive=True)]:
        try:
            times = one.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


class ReplicaSet:
    """`count` processes of one service, in its consumer groups."""

    def __init__(self, spec: ReplicaSpec, count: int) -> None:
        self.spec = spec
        self.count = count
        self.processes: list[subprocess.Popen[bytes]] = []
        self.management_ports: list[int] = []

    async def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        for n in range(self.count):
            port, management = free_port(), free_port()
            self.processes.append(self._spawn(n, port, management))
            self.management_ports.append(management)
        await self._ready()
        for group in self.spec.groups:
            await self._settled(group)

    def _spawn(self, n: int, port: int, management: int) -> subprocess.Popen[bytes]:
        log = (LOG_DIR / f"{self.spec.service}-{self.count}-{n}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", self.spec.module],
            env={**os.environ, **self.spec.env(n, port, management)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def _ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2.0) as http:
            for process, port in zip(self.processes, self.management_ports, strict=True):
                while not await _answers_ready(http, port):
                    if process.poll() is not None:
                        raise RuntimeError(
                            f"a {self.spec.service} replica exited ({process.returncode}): "
                            f"see {LOG_DIR}"
                        )
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"a {self.spec.service} replica did not become ready")
                    await asyncio.sleep(0.2)

    async def _settled(self, group_id: str) -> None:
        """Every replica a member of the group, and the group Stable."""
        admin = AIOKafkaAdminClient(
            **client_options(KafkaSettings(bootstrap_servers=self.spec.bootstrap))
        )
        await admin.start()
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        try:
            while True:
                [described] = await admin.describe_consumer_groups([group_id])
                group = described.groups[0]
                state, members = group[2], group[5]
                if state == "Stable" and len(members) == self.count:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"group {group_id}: {state}, {len(members)} member(s)")
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    def cpu_seconds(self) -> float:
        return sum(process_cpu(psutil.Process(p.pid)) for p in self.processes)

    async def metrics(self) -> list[str]:
        """Every replica's `/metrics` text (Prometheus exposition)."""
        async with httpx.AsyncClient(timeout=5.0) as http:
            return [
                (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                for port in self.management_ports
            ]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


async def _answers_ready(http: httpx.AsyncClient, port: int) -> bool:
    try:
        return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


def _port(address: str, default: int) -> int:
    return urlsplit(address if "//" in address else f"//{address}").port or default


def server_processes(bootstrap: str, mongodb_uri: str) -> list[psutil.Process]:
    """The local processes listening on the Kafka bootstrap's and MongoDB URI's ports."""
    ports = {_port(bootstrap.split(",", maxsplit=1)[0], 9092), _port(mongodb_uri, 27017)}
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            listening = {
                c.laddr.port
                for c in process.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN
            }
        except psutil.Error:
            continue
        if listening & ports:
            found.append(process)
    return found


def servers_cpu(servers: Sequence[psutil.Process]) -> float:
    total = 0.0
    for process in servers:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (every core; not idle, not iowait, and not the
    guest times, which Linux counts in user time already)."""
    times = psutil.cpu_times()._asdict()
    idle = ("idle", "iowait", "guest", "guest_nice")
    return float(sum(v for k, v in times.items() if k not in idle))


async def produce(bootstrap: str, records: Sequence[Outbound], chunk: int = 2000) -> None:
    """Every record through the platform's producer (idempotent, acks=all), confirmed."""
    settings = KafkaSettings(bootstrap_servers=bootstrap, client_id="bench")
    producer = make_producer(settings, "producer", linger_ms=5)
    await producer.start()
    try:
        for start in range(0, len(records), chunk):
            futures = [
                await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                for r in records[start : start + chunk]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Measured:
    seconds: float
    replicas_cpu: float
    servers_cpu: float
    servers_idle_cpu_per_s: float  # the servers' rate with the replicas idle, just before
    machine_busy: float


async def measure(
    replicas: ReplicaSet,
    endpoints: tuple[str, str],
    send: Callable[[], Awaitable[None]],
    progress: Callable[[], Awaitable[int]],
    expected: int,
    *,
    poll_s: float = POLL_S,
) -> Measured:
    """Runs `send`, then polls `progress` every `poll_s` until it reaches `expected`; the span
    runs from just before `send` until the poll that saw it done."""
    servers = server_processes(*endpoints)
    idle_before = servers_cpu(servers)
    await asyncio.sleep(IDLE_SAMPLE_S)
    idle_rate = (servers_cpu(servers) - idle_before) / IDLE_SAMPLE_S
    cpu, server, busy = replicas.cpu_seconds(), servers_cpu(servers), machine_busy_seconds()
    started = time.monotonic()
    await send()
    while (done := await progress()) < expected:
        if time.monotonic() > started + RUN_TIMEOUT_S:
            raise TimeoutError(f"{replicas.count} replica(s): {done} of {expected} done")
        await asyncio.sleep(poll_s)
    return Measured(
        seconds=time.monotonic() - started,
        replicas_cpu=replicas.cpu_seconds() - cpu,
        servers_cpu=servers_cpu(servers) - server,
        servers_idle_cpu_per_s=idle_rate,
        machine_busy=machine_busy_seconds() - busy,
    )


def row(service: str, count: int, events: int, m: Measured) -> dict[str, Any]:
    """One table row: rates per second of the span and CPU milliseconds per event."""
    per_event = 1000 / events
    idle_share = m.servers_idle_cpu_per_s * m.seconds
    return {
        "name": f"{service}_x{count}",
        "service": service,
        "replicas": count,
        "events": events,
        "seconds": round(m.seconds, 3),
        "events_per_s": round(events / m.seconds, 1),
        "cpu_ms_per_event": round(m.replicas_cpu * per_event, 3),
        "servers_cpu_ms_per_event": round(m.servers_cpu * per_event, 3),
        # The servers' CPU less their rate just before the run (other clients, and the idle
        # replicas' own fetch polling), per event.
        "servers_net_cpu_ms_per_event": round(max(0.0, m.servers_cpu - idle_share) * per_event, 3),
        "servers_idle_cpu_cores": round(m.servers_idle_cpu_per_s, 3),
        "machine_busy_cores": round(m.machine_busy / m.seconds, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def ratios(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each row's events/s over the first row's (one replica, same run)."""
    single = rows[0]["events_per_s"]
    return {r["name"]: round(r["events_per_s"] / single, 3) for r in rows}


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = (
        f"{'row':<12} {'events':>7} {'s':>7} {'events/s':>9} {'CPU ms/ev':>10} "
        f"{'servers ms/ev':>14} {'net of idle':>12} {'busy cores':>11}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['name']:<12} {r['events']:>7} {r['seconds']:>7.2f} {r['events_per_s']:>9.1f} "
            f"{r['cpu_ms_per_event']:>10.3f} {r['servers_cpu_ms_per_event']:>14.3f} "
            f"{r['servers_net_cpu_ms_per_event']:>12.3f} {r['machine_busy_cores']:>11.2f}"
        )
    return "\n".join(lines)


async def drop_database(uri: str, name: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


class TopicCounter:
    """How many records a topic holds (the sum of its partitions' end offsets: records come
    from idempotent, non-transactional producers, so every offset is one record)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.consumer = AIOKafkaConsumer(
            **client_options(KafkaSettings(bootstrap_servers=bootstrap)), enable_auto_commit=False
        )

    async def start(self) -> None:
        await self.consumer.start()

    async def count(self) -> int:
        ends = await self.consumer.end_offsets(self.partitions)
        return int(sum(ends.values()))

    async def stop(self) -> None:
        await self.consumer.stop()


def histogram(texts: Sequence[str], name: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts (upper bound -> count), summed over replicas."""
    buckets: dict[float, float] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name != name:
                continue
            for sample in family.samples:
                if sample.name == f"{name}_bucket":
                    bound = float(sample.labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return dict(sorted(buckets.items()))


def histogram_sum_count(texts: Sequence[str], name: str) -> tuple[float, float]:
    """A histogram's sum and count, summed over replicas."""
    total, count = 0.0, 0.0
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples if family.name == name else ():
                if sample.name == f"{name}_sum":
                    total += sample.value
                elif sample.name == f"{name}_count":
                    count += sample.value
    return total, count


def counter_total(texts: Sequence[str], name: str) -> float:
    """A counter's total over its labels and the replicas (`name` without `_total`)."""
    return sum(
        sample.value
        for text in texts
        for family in text_string_to_metric_families(text)
        if family.name == name
        for sample in family.samples
        if sample.name == f"{name}_total"
    )
