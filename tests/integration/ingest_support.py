"""Running ingest against the real Kafka and FerretDB: in-process or as a subprocess, with
unique topics, group and database; producing, draining topics, private FerretDB servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import RecordMetadata
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from planwatch.infra.build import FERRETDB_BIN
from planwatch.infra.ports import free_port
from services.ingest.app import create_app
from services.ingest.config import IngestSettings
from shared.contract.keys import AgencyKey
from shared.kafka_admin import ensure_topics
from shared.runtime.host import Servers
from shared.runtime.settings import HttpSettings, KafkaSettings, MongoSettings, RetrySettings
from tests.integration.auth_support import auth_env, auth_settings
from tests.unit.ingest_support import AGENCIES, agency_key

REPO = Path(__file__).resolve().parents[2]


def free_tcp_port() -> int:
    return free_port()


def write_keys_file(path: Path, extra: Sequence[AgencyKey] = ()) -> Path:
    keys = [agency_key(a) for a in AGENCIES] + list(extra)
    path.write_text("".join(k.model_dump_json() + "\n" for k in keys), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Setup:
    """Names one test's ingest uses."""

    bootstrap: str
    mongodb_uri: str
    unique: str
    keys_file: Path
    port: int
    management_port: int = field(default_factory=free_tcp_port)

    @property
    def input_topic(self) -> str:
        return f"test.{self.unique}.progress"

    @property
    def accepted_topic(self) -> str:
        return f"test.{self.unique}.accepted"

    @property
    def dlt_topic(self) -> str:
        return f"test.{self.unique}.dlt"

    @property
    def group(self) -> str:
        return f"test-ingest-{self.unique}"

    @property
    def database(self) -> str:
        return f"test_{self.unique}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def management_url(self) -> str:
        """`/readyz`, `/metrics` (no authentication)."""
        return f"http://127.0.0.1:{self.management_port}"

    def settings(self, **overrides: Any) -> IngestSettings:
        values: dict[str, Any] = {
            "kafka": KafkaSettings(bootstrap_servers=self.bootstrap, max_batch_records=200),
            "mongo": MongoSettings(
                uri=SecretStr(self.mongodb_uri),
                database=self.database,
                server_selection_timeout_ms=2000,
            ),
            "http": HttpSettings(port=self.port),
            "management_port": self.management_port,
            "auth": auth_settings(),
            "retry": RetrySettings(initial_s=0.1, max_s=1.0),
            "group_id": self.group,
            "input_topic": self.input_topic,
            "accepted_topic": self.accepted_topic,
            "dead_letter_topic": self.dlt_topic,
            "keys_file": self.keys_file,
            "keys_refresh_s": 1.0,
            "graceful_timeout_s": 5.0,
        }
        values.update(overrides)
        return IngestSettings(**values)

    def environment(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "MONGODB_URI": self.mongodb_uri,
                "MONGODB_DATABASE": self.database,
                "MONGODB_SERVER_SELECTION_TIMEOUT_MS": "2000",
                "INGEST_GROUP_ID": self.group,
                "INGEST_INPUT_TOPIC": self.input_topic,
                "INGEST_ACCEPTED_TOPIC": self.accepted_topic,
                "INGEST_DEAD_LETTER_TOPIC": self.dlt_topic,
                "INGEST_KEYS_FILE": str(self.keys_file),
                "INGEST_HTTP__PORT": str(self.port),
                "INGEST_MANAGEMENT_PORT": str(self.management_port),
                **auth_env(),
                "INGEST_KAFKA__MAX_BATCH_RECORDS": "200",
                "INGEST_RETRY__INITIAL_S": "0.1",
                "INGEST_RETRY__MAX_S": "1.0",
                "INGEST_LOG_LEVEL": "WARNING",
            }
        )
        env.update(extra)
        return env

    async def create_topics(self) -> None:
        await ensure_topics(
            self.bootstrap, {self.input_topic: 6, self.accepted_topic: 6, self.dlt_topic: 1}
        )


async def wait_ready(management_url: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=3.0) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{management_url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"ingest at {management_url} not ready within {timeout_s} s")


@contextlib.asynccontextmanager
async def running_ingest(settings: IngestSettings) -> AsyncIterator[str]:
    """The service in this process (uvicorn in a task, its management port beside it); yields
    its base URL."""
    servers = Servers(create_app(settings), settings.http, settings.management_http())
    task = asyncio.create_task(servers.serve())
    try:
        await wait_ready(f"http://127.0.0.1:{settings.management_port}")
        yield f"http://127.0.0.1:{settings.http.port}"
    finally:
        servers.request_exit()
        await asyncio.wait_for(task, 60)


async def planwatch_cli(
    args: Sequence[str], env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """`planwatch ARGS` as a subprocess, run in a thread: an in-process service (ingest) keeps
    running meanwhile."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from planwatch.cli import main; main()", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class PrivateFerretDB:
    """A FerretDB of the test's own (free port, temp dir) that it may stop and start."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_tcp_port()
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir.parent / "ferretdb.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(FERRETDB_BIN),
                    "--listen-addr",
                    f"127.0.0.1:{self.port}",
                    "--data-dir",
                    str(self.data_dir),
                ],
                cwd=self.data_dir.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self, timeout_s: float = 60.0) -> None:
        """Start (again, on the same port and data) and wait until it answers."""
        self.spawn()
        deadline = time.monotonic() + timeout_s
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            self.uri, serverSelectionTimeoutMS=1000
        )
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    await client.admin.command("ping")
                    return
                await asyncio.sleep(0.2)
        finally:
            await client.close()
        raise TimeoutError("private FerretDB did not answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.proc = None


async def produce(
    bootstrap: str, topic: str, records: Sequence[tuple[bytes | None, bytes, list[Any]]]
) -> list[RecordMetadata]:
    """Send (key, value, headers) records; returns their metadata, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for key, value, headers in records
        ]
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


async def drain(
    bootstrap: str,
    topic: str,
    *,
    want: int | None = None,
    idle_s: float = 3.0,
    timeout_s: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on `topic` from the beginning: until `want` arrived (then `idle_s` more to
    catch extras), or until nothing arrived for `idle_s` when `want` is None."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        partitions = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + timeout_s
        while not partitions and time.monotonic() < deadline:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic)
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions or ())])
        last = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
                last = time.monotonic()
            done_waiting = want is not None and len(records) >= want
            if (want is None or done_waiting) and time.monotonic() - last > idle_s:
                break
    finally:
        await consumer.stop()
    return records


def header(record: ConsumerRecord[bytes, bytes], name: str) -> bytes | None:
    found = None
    for key, value in record.headers:
        if key == name:
            found = value
    return found


async def wait_for_count(
    client: AsyncMongoClient[dict[str, Any]],
    database: str,
    want: int,
    timeout_s: float = 120.0,
    poll_s: float = 0.3,
) -> int:
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            count = await client[database]["reports"].count_documents({})
            if count >= want:
                return count
        await asyncio.sleep(poll_s)
    return count


async def metric_value(management_url: str, name: str, labels: Mapping[str, str]) -> float:
    async with httpx.AsyncClient(timeout=5.0) as client:
        text = (await client.get(f"{management_url}/metrics")).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name):
            series, _, value = line.rpartition(" ")
            body = series[len(name) :]
            got = body.strip("{}")
            if ",".join(sorted(got.split(","))) == wanted or (not labels and not got):
                return float(value)
    return 0.0
