"""Brings the local Kafka and FerretDB up and down, idempotently: the API behind `planwatch infra`.

A component configured through the environment (`KAFKA_BOOTSTRAP_SERVERS`, `MONGODB_URI`) is
external: it is only checked, never started or stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from planwatch.infra import ferretdb, kafka
from planwatch.infra.build import Reporter, ensure_ferretdb_binary, ensure_kafka_libs
from planwatch.infra.errors import PortTakenError
from planwatch.infra.processes import ManagedProcess, port_open
from planwatch.infra.settings import LOOPBACK, InfraSettings

KAFKA = "kafka"
FERRETDB = "ferretdb"
COMPONENTS = (KAFKA, FERRETDB)


@dataclass(frozen=True)
class Endpoints:
    """Where clients connect. `started` names the components this call started itself."""

    kafka_bootstrap: str
    mongodb_uri: str
    started: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    endpoint: str
    external: bool
    pid: int | None  # our live process, if any (None for external components)
    answering: bool

    @property
    def up(self) -> bool:
        return self.answering


@dataclass(frozen=True)
class _Component:
    name: str
    external: bool
    endpoint: str
    ports: tuple[int, ...]
    env_hint: str
    process: ManagedProcess
    build: Callable[[Reporter], Path]
    start: Callable[[InfraSettings], int]
    wait_ready: Callable[[InfraSettings, int | None], Awaitable[None]]
    check_external: Callable[[InfraSettings], Awaitable[None]]
    answers: Callable[[str, float], Awaitable[bool]]


def _components(settings: InfraSettings) -> tuple[_Component, ...]:
    return (
        _Component(
            name=KAFKA,
            external=settings.kafka_is_external,
            endpoint=settings.kafka_bootstrap,
            ports=(settings.kafka_port, settings.kafka_controller_port),
            env_hint="PLANWATCH_KAFKA_PORT / PLANWATCH_KAFKA_CONTROLLER_PORT, or "
            "KAFKA_BOOTSTRAP_SERVERS to use a running Kafka",
            process=kafka.process(settings),
            build=ensure_kafka_libs,
            start=kafka.start,
            wait_ready=kafka.wait_ready,
            check_external=kafka.check_external,
            answers=kafka.answers,
        ),
        _Component(
            name=FERRETDB,
            external=settings.mongo_is_external,
            endpoint=settings.mongo_uri,
            ports=(settings.mongo_port,),
            env_hint="PLANWATCH_MONGO_PORT, or MONGODB_URI to use a running MongoDB",
            process=ferretdb.process(settings),
            build=ensure_ferretdb_binary,
            start=ferretdb.start,
            wait_ready=ferretdb.wait_ready,
            check_external=ferretdb.check_external,
            answers=ferretdb.answers,
        ),
    )


@contextlib.contextmanager
def _state_lock(settings: InfraSettings) -> Iterator[None]:
    """Serialises up/down between processes sharing one state dir (e.g. two pytest runs)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with (settings.state_dir / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.asynccontextmanager
async def _async_state_lock(settings: InfraSettings) -> AsyncIterator[None]:
    lock = _state_lock(settings)
    await asyncio.to_thread(lock.__enter__)
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def _print(message: str) -> None:
    print(message, flush=True)


async def _start_if_needed(
    component: _Component, settings: InfraSettings, report: Reporter
) -> int | None:
    """Returns the pid of a process started now, or None if it was already running."""
    pid = component.process.running_pid()
    if pid is not None:
        report(f"{component.name}: already running (pid {pid}) at {component.endpoint}")
        return None
    taken = [port for port in component.ports if port_open(LOOPBACK, port)]
    if taken:
        raise PortTakenError(
            f"{component.name}: port(s) {', '.join(map(str, taken))} on {LOOPBACK} are in use by"
            f" a process planwatch did not start (no live pid in {component.process.pid_file})."
            f" Stop it, or set {component.env_hint}."
        )
    await asyncio.to_thread(component.build, report)
    report(f"{component.name}: starting on {component.endpoint} (log {component.process.log_file})")
    return await asyncio.to_thread(component.start, settings)


async def ensure_up(settings: InfraSettings, report: Reporter = _print) -> Endpoints:
    """Makes Kafka and FerretDB answer; starts whichever local one is not running.

    Already running and answering: nothing is done. External ones are only checked.
    Raises PortTakenError, StartupError, UnreachableError, BuildError, ToolMissingError.
    """
    components = _components(settings)
    started: list[str] = []
    async with _async_state_lock(settings):
        pids: dict[str, int | None] = {}
        try:
            for component in components:
                if component.external:
                    report(f"{component.name}: external at {component.endpoint}")
                    continue
                pids[component.name] = pid = await _start_if_needed(component, settings, report)
                if pid is not None:
                    started.append(component.name)
            await asyncio.gather(
                *(
                    c.check_external(settings)
                    if c.external
                    else c.wait_ready(settings, pids[c.name])
                    for c in components
                )
            )
        except BaseException:
            # Leave nothing half-started behind us.
            for component in components:
                if component.name in started:
                    await asyncio.to_thread(component.process.stop, settings.stop_timeout_s)
            raise
    for name in started:
        report(f"{name}: ready")
    return Endpoints(settings.kafka_bootstrap, settings.mongo_uri, tuple(started))


def down(settings: InfraSettings, components: Collection[str] | None = None) -> list[str]:
    """Stops our local servers (all, or those named); returns the names actually stopped.

    SIGTERM, then SIGKILL after `settings.stop_timeout_s`. External servers are never touched.
    """
    unknown = set(components or ()) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown component(s) {sorted(unknown)}; known: {COMPONENTS}")
    stopped: list[str] = []
    with _state_lock(settings):
        for component in _components(settings):
            if component.external or (components is not None and component.name not in components):
                continue
            if component.process.stop(settings.stop_timeout_s):
                stopped.append(component.name)
    return stopped


async def status(settings: InfraSettings) -> list[ComponentStatus]:
    """Per component: endpoint, whether external, our live pid, whether it answers now."""

    async def one(component: _Component) -> ComponentStatus:
        pid = None if component.external else component.process.running_pid()
        answering = await component.answers(component.endpoint, 3.0)
        return ComponentStatus(
            component.name, component.endpoint, component.external, pid, answering
        )

    return list(await asyncio.gather(*(one(c) for c in _components(settings))))
