"""`planwatch cluster up | status | down`: the demo's platform without its feed or receivers,
N processes of each service (the demo's service specs: ports from `base_port`, one consumer
group per service), detached, with its state in `<infra state dir>/cluster/cluster.json`.

`up` is idempotent as `planwatch infra up` is: members already running are left alone, those
that exited are started again; a cluster of another shape must be brought down first.
Notify routes every alert to the notifications topic only (no local receivers outlive `up`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from planwatch.cluster import members as kafka_members
from planwatch.cluster.processes import Member, ready, running, spawn, stop, wait_ready
from planwatch.cluster.state import ClusterError, ClusterState
from planwatch.demo.run import DEFAULT_PLAN, DemoConfig, DemoError
from planwatch.demo.run import consumer_groups as demo_groups
from planwatch.demo.run import service_specs as demo_specs
from planwatch.demo.supervisor import (
    DEFAULT_READY_TIMEOUT_S,
    DEFAULT_STOP_TIMEOUT_S,
    ServiceSpec,
    ServiceStartError,
)
from planwatch.infra.manager import Endpoints, ensure_up
from planwatch.infra.processes import port_open
from planwatch.infra.settings import LOOPBACK, InfraSettings
from planwatch.simulate.agencies import demo_keys, write_keys_file
from planwatch.simulate.keys import DEMO_DATABASE_PREFIX
from planwatch.simulate.scenario import DEFAULT_SEED
from services.notify.domain.config import RoutingConfigError
from services.notify.routing_file import load_routing_file
from shared import topics
from shared.catalog import load_catalog
from shared.contract.keys import (
    generate_private_key,
    private_key_from_pem,
    private_key_pem,
    public_key_text,
)
from shared.kafka_admin import ensure_topics
from shared.runtime.settings import KafkaSettings

Reporter = Callable[[str], None]

ROUTING: Final = """\
# `planwatch cluster`: every alert to the notifications topic (a detached cluster runs no
# local receivers); timers in seconds, as the demo's, for feeds in compressed time.
route:
  receiver: kafka
  group_by: [plan, agency, alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: kafka
    kafka_configs:
      - topic: {topic}
"""


@dataclass(frozen=True)
class ClusterConfig:
    replicas: int = 2
    base_port: int = 8001  # ingest; scoring +1, notify +2; the other replicas after them
    database: str = DEMO_DATABASE_PREFIX
    state_dir: Path | None = None  # default: <infra state dir>/cluster
    namespace: str = ""  # "" for the platform's own topics and groups; tests isolate with one
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    # notify's routing file (NOTIFY_ROUTING_FILE); None: every alert to the notifications topic
    routing: Path | None = None

    def demo(self) -> DemoConfig:
        """The demo's view of this cluster (its specs and groups), without the feed."""
        try:
            return DemoConfig(
                seed=DEFAULT_SEED,
                speed=0.0,
                feed=False,
                keep_running=True,
                base_port=self.base_port,
                database=self.database,
                namespace=self.namespace,
                replicas=self.replicas,
            )
        except DemoError as exc:
            raise ClusterError(str(exc)) from None


def state_dir(config: ClusterConfig, infra: InfraSettings) -> Path:
    return config.state_dir or infra.state_dir / "cluster"


def _clock_key(folder: Path) -> tuple[Path, str]:
    """The cluster's clock key file (made once, 0600) and its public key, which the scoring
    replicas trust: `PLANWATCH_CLOCK_KEY_FILE=<file> planwatch simulate` signs its ticks."""
    path = folder / "clock-key.pem"
    if not path.is_file():
        path.touch(mode=0o600)
        path.write_bytes(private_key_pem(generate_private_key()))
    return path, public_key_text(private_key_from_pem(path.read_bytes()))


def _specs(config: ClusterConfig, endpoints: Endpoints, folder: Path) -> list[ServiceSpec]:
    demo = config.demo()
    plan = load_catalog().plan(DEFAULT_PLAN)
    keys_file = write_keys_file(folder / "agency-keys.jsonl", demo_keys(plan, DEFAULT_SEED))
    if config.routing is not None:
        routing_file = config.routing.resolve()
        try:  # refused here, with its lines, rather than by every notify replica at start
            load_routing_file(routing_file)
        except RoutingConfigError as exc:
            raise ClusterError(str(exc)) from None
    else:
        routing_file = folder / "routing.yaml"
        routing_file.write_text(ROUTING.format(topic=demo.topic(topics.NOTIFICATIONS)), "utf-8")
    _, clock_public = _clock_key(folder)
    return demo_specs(
        demo,
        endpoints,
        keys_file=keys_file,
        routing_file=routing_file,
        clock_public_key=clock_public,
        webhook=None,
        smtp=None,
    )


def _running_state(folder: Path, config: ClusterConfig) -> ClusterState | None:
    """The recorded cluster if any member still runs; refuses one of another shape."""
    state = ClusterState.load(folder)
    if state is None or not any(running(m, folder) for m in state.members):
        return None
    if (state.replicas, state.base_port, state.database) != (
        config.replicas,
        config.base_port,
        config.database,
    ):
        raise ClusterError(
            f"a cluster of {state.replicas} replicas (base port {state.base_port}, database "
            f"{state.database}) runs from {folder}; `planwatch cluster down` first"
        )
    return state


def _check_ports(specs: list[ServiceSpec]) -> None:
    taken = [
        port
        for spec in specs
        for port in (spec.port, spec.management_port)
        if port_open(LOOPBACK, port)
    ]
    if taken:
        raise ClusterError(
            f"port(s) {', '.join(map(str, taken))} on {LOOPBACK} are in use (`planwatch demo` "
            "running?); stop that, or choose another --base-port"
        )


async def up(
    config: ClusterConfig, report: Reporter, infra: InfraSettings | None = None
) -> ClusterState:
    """Infrastructure, topics, then every member not already running, each ready on return."""
    infra = infra or InfraSettings()
    folder = state_dir(config, infra)
    folder.mkdir(parents=True, exist_ok=True)
    existing = _running_state(folder, config)
    endpoints = await ensure_up(infra, report=report)
    demo = config.demo()
    names = {demo.topic(name): count for name, count in topics.PARTITIONS.items()}
    configs = {demo.topic(name): c for name, c in topics.CONFIGS.items()}
    kafka = KafkaSettings(bootstrap_servers=endpoints.kafka_bootstrap)
    await ensure_topics(kafka, names, configs=configs)
    specs = _specs(config, endpoints, folder)
    kept = {m.name: m for m in existing.members if running(m, folder)} if existing else {}
    missing = [spec for spec in specs if spec.name not in kept]
    _check_ports(missing)
    for name, member in kept.items():
        report(f"{name}: already running (pid {member.pid})")
    started = [spawn(spec, folder) for spec in missing]
    try:
        for member in started:
            report(f"{member.name}: starting on {member.url} (log {member.log})")
        await asyncio.gather(*(wait_ready(m, folder, config.ready_timeout_s) for m in started))
    except ServiceStartError as exc:
        await asyncio.to_thread(stop, started, folder, DEFAULT_STOP_TIMEOUT_S)
        raise ClusterError(str(exc)) from None
    by_name = {**kept, **{m.name: m for m in started}}
    state = ClusterState(
        replicas=config.replicas,
        base_port=config.base_port,
        database=config.database,
        kafka_bootstrap=endpoints.kafka_bootstrap,
        groups={group: sorted(topics_) for group, topics_ in demo_groups(demo).items()},
        members=[by_name[spec.name] for spec in specs],
        clock_key_file=str(_clock_key(folder)[0]),
    )
    state.save(folder)
    return state


@dataclass(frozen=True)
class MemberStatus:
    member: Member
    running: bool
    ready: bool
    group: str | None  # the consumer group the broker lists it in
    partitions: dict[str, list[int]]  # topic -> partitions it holds


async def status(
    config: ClusterConfig, infra: InfraSettings | None = None
) -> tuple[ClusterState | None, list[MemberStatus], str | None]:
    """The recorded members: running, ready, group and partitions; and the broker's error,
    if it could not be asked."""
    folder = state_dir(config, infra or InfraSettings())
    state = ClusterState.load(folder)
    if state is None:
        return None, [], None
    error = None
    held: dict[str, tuple[str, dict[str, list[int]]]] = {}
    try:
        async with asyncio.timeout(15):
            kafka = KafkaSettings(bootstrap_servers=state.kafka_bootstrap)
            groups = await kafka_members.describe(kafka, list(state.groups))
        held = kafka_members.by_client(groups)
    except Exception as exc:  # the broker down: the processes are still worth listing
        error = repr(exc)
    alive = [running(m, folder) for m in state.members]
    answers = await asyncio.gather(
        *(ready(m) if up_ else _false() for m, up_ in zip(state.members, alive, strict=True))
    )
    rows = []
    for member, up_, ok in zip(state.members, alive, answers, strict=True):
        group, partitions = held.get(member.client_id, (None, {})) if up_ else (None, {})
        rows.append(MemberStatus(member, up_, ok, group, partitions))
    return state, rows, error


async def _false() -> bool:
    return False


def down(config: ClusterConfig, infra: InfraSettings | None = None) -> list[str]:
    """Stops every recorded member (SIGTERM, SIGKILL after 15 s); returns those that ran."""
    folder = state_dir(config, infra or InfraSettings())
    state = ClusterState.load(folder)
    if state is None:
        return []
    stopped = stop(state.members, folder, DEFAULT_STOP_TIMEOUT_S)
    ClusterState.forget(folder)
    return stopped
