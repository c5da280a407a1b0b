"""The cluster's service processes, detached (they outlive `planwatch cluster up`) and found
again through the cluster's state file: spawn, liveness, readiness, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from planwatch.demo.supervisor import READY_PATH, ServiceSpec, ServiceStartError, log_tail
from planwatch.infra.processes import pid_alive, spawn_detached, wait_dead

# Every process of a cluster carries its state directory in this variable: a recorded pid is
# ours only if its environment says so (pids are reused).
MARKER: Final = "PLANWATCH_CLUSTER_DIR"
# Runs "$@" in the background, stdin from /dev/null, output appended to $0; prints its pid.


@dataclass(frozen=True)
class Member:
    """One running (or recorded) service process of the cluster."""

    name: str  # ingest, scoring-2, ...
    service: str  # ingest | scoring | notify
    client_id: str  # its Kafka client id
    pid: int
    port: int
    management_port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"


def service_of(spec: ServiceSpec) -> str:
    return spec.module.split(".")[1]  # services.<name>.main


def spawn(spec: ServiceSpec, state_dir: Path) -> Member:
    """Starts the service detached in its own session, log appended to `<name>.log`."""
    log = state_dir / f"{spec.name}.log"
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} cluster up: {spec.name}\n")
    env = {**os.environ, **spec.env, MARKER: str(state_dir)}
    try:
        pid = spawn_detached([sys.executable, "-m", spec.module], log, env=env)
    except ValueError as exc:
        raise ServiceStartError(f"could not start {spec.name}: {exc}") from None
    service = service_of(spec)
    return Member(
        name=spec.name,
        service=service,
        client_id=spec.env.get("KAFKA_CLIENT_ID", "planwatch"),
        pid=pid,
        port=spec.port,
        management_port=spec.management_port,
        log=log,
    )


def running(member: Member, state_dir: Path) -> bool:
    """The recorded process runs, and is this cluster's (not a reused pid)."""
    if not pid_alive(member.pid):
        return False
    try:
        environ = Path(f"/proc/{member.pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{MARKER}={state_dir}".encode() in environ.split(b"\0")


async def ready(member: Member, timeout_s: float = 2.0) -> bool:
    """`/readyz` on its management port answers 200."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(member.management_url + READY_PATH)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def wait_ready(member: Member, state_dir: Path, timeout_s: float) -> None:
    """Until `/readyz` answers 200; fails, quoting its log, if it exits or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not running(member, state_dir):
            raise ServiceStartError(
                f"{member.name} exited; the end of {member.log}:\n{log_tail(member.log)}"
            )
        if await ready(member):
            return
        await asyncio.sleep(0.5)
    raise ServiceStartError(
        f"{member.name} not ready on {member.management_url}{READY_PATH} after "
        f"{timeout_s:.0f} s; the end of {member.log}:\n{log_tail(member.log)}"
    )


def stop(members: list[Member], state_dir: Path, timeout_s: float) -> list[str]:
    """SIGTERM to every running member at once (each drains its batch), SIGKILL to those still
    running after `timeout_s`; returns the names of those that were running."""
    alive = [m for m in members if running(m, state_dir)]
    for member in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for member in alive:
        if not wait_dead(member.pid, max(0.0, deadline - time.monotonic())):
            with contextlib.suppress(ProcessLookupError):
                os.kill(member.pid, signal.SIGKILL)
            wait_dead(member.pid, 5.0)
    return [m.name for m in alive]
