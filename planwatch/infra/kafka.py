"""A single-node Apache Kafka (KRaft, broker+controller) on 127.0.0.1, tuned for fast tests."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from planwatch.infra.build import KAFKA_LIBS, require_tool
from planwatch.infra.errors import StartupError, UnreachableError
from planwatch.infra.processes import ManagedProcess, port_open
from planwatch.infra.settings import LOOPBACK, InfraSettings

JVM_OPTIONS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)

LOG4J2_PROPERTIES = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.krs.name = kafka.server.KafkaRaftServer
logger.krs.level = INFO
"""


def process(settings: InfraSettings) -> ManagedProcess:
    return ManagedProcess("kafka", settings.state_dir)


def _home(settings: InfraSettings) -> Path:
    return settings.state_dir / "kafka"


# One node on a small machine: internal topics of one partition and replica, small buffers and
# thread pools (shared by the development broker and the secured one).
SINGLE_NODE_TUNING: dict[str, str] = {
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    # Defaults (50 partitions, 3 s initial rebalance delay) make every first group join slow.
    "offsets.topic.num.partitions": "1",
    "group.initial.rebalance.delay.ms": "0",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    # The 128 MiB default is allocated on the heap up front.
    "log.cleaner.dedupe.buffer.size": "1048577",
    "num.network.threads": "2",
    "num.io.threads": "2",
    "num.recovery.threads.per.data.dir": "1",
}


def render_server_properties(settings: InfraSettings, data_dir: Path) -> str:
    """server.properties of a combined broker+controller bound to 127.0.0.1 (static quorum)."""
    broker = f"{LOOPBACK}:{settings.kafka_port}"
    controller = f"{LOOPBACK}:{settings.kafka_controller_port}"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{controller}",
        "listeners": f"PLAINTEXT://{broker},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{broker}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "auto.create.topics.enable": "true",
        **SINGLE_NODE_TUNING,
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A random KRaft cluster id that cannot be read as an option: like Kafka's own
    `Uuid.randomUuid`, an id whose URL-safe base64 starts with `-` (1 in 64) is drawn again,
    since the storage format command would take it for a flag."""
    while True:
        cid = base64.urlsafe_b64encode(random_bytes()).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _cluster_id(home: Path) -> str:
    """A stable cluster id for this state dir (KRaft storage is formatted with it once). A
    stored id starting with `-` never formatted anything, so it is replaced."""
    path = home / "cluster-id"
    if path.is_file():
        stored = path.read_text(encoding="utf-8").strip()
        if stored and not stored.startswith("-"):
            return stored
    cid = new_cluster_id()
    path.write_text(cid + "\n", encoding="utf-8")
    return cid


def start(settings: InfraSettings) -> int:
    """Renders the config, formats storage if needed, starts the broker; returns its pid."""
    java = require_tool("java")
    home = _home(settings)
    data_dir = home / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(exist_ok=True)
    server_props = home / "server.properties"
    log4j2 = home / "log4j2.properties"
    server_props.write_text(render_server_properties(settings, data_dir), encoding="utf-8")
    log4j2.write_text(LOG4J2_PROPERTIES, encoding="utf-8")
    base = [
        java,
        *JVM_OPTIONS,
        f"-Dkafka.logs.dir={home / 'logs'}",
        f"-Dlog4j2.configurationFile={log4j2}",
        "-cp",
        f"{KAFKA_LIBS}/*",
    ]
    format_args = ["format", "-t", _cluster_id(home), "-c", str(server_props), "--ignore-formatted"]
    fmt = subprocess.run(
        [*base, "kafka.tools.StorageTool", *format_args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        raise StartupError(
            f"kafka storage format failed (exit {fmt.returncode}):\n{fmt.stdout}{fmt.stderr}"
        )
    return process(settings).spawn([*base, "kafka.Kafka", str(server_props)], cwd=home)


def bootstrap_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """host:port pairs of a comma-separated bootstrap string (port 9092 when omitted)."""
    pairs = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host:
            host, port = port, "9092"
        pairs.append((host.strip("[]"), int(port) if port.isdigit() else 9092))
    return pairs


async def answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True if the cluster at `bootstrap` answers a metadata request with at least one broker."""
    # A TCP probe first: it keeps aiokafka from logging a connection error per poll while starting.
    if not any(port_open(host, port) for host, port in bootstrap_addresses(bootstrap)):
        return False
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=max(1000, int(timeout_s * 1000))
    )
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:  # any failure means "not (yet) answering"
        return False
    finally:
        await admin.close()


async def wait_ready(settings: InfraSettings, pid: int | None) -> None:
    """Polls until the broker answers; fails early if our process exited."""
    deadline = time.monotonic() + settings.kafka_start_timeout_s
    proc = process(settings)
    while time.monotonic() < deadline:
        if await answers(settings.kafka_bootstrap, timeout_s=3.0):
            return
        if pid is not None and proc.running_pid() != pid:
            raise StartupError(f"kafka exited while starting; log tail:\n{proc.log_tail()}")
        await asyncio.sleep(0.5)
    raise StartupError(
        f"kafka at {settings.kafka_bootstrap} not ready after {settings.kafka_start_timeout_s:.0f}"
        f" s; log tail ({proc.log_file}):\n{proc.log_tail()}"
    )


async def check_external(settings: InfraSettings) -> None:
    deadline = time.monotonic() + settings.external_timeout_s
    while time.monotonic() < deadline:
        if await answers(settings.kafka_bootstrap, timeout_s=3.0):
            return
        await asyncio.sleep(0.5)
    raise UnreachableError(
        f"KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap} does not answer"
        f" after {settings.external_timeout_s:.0f} s"
    )
