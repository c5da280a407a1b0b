"""FerretDB v1 (MongoDB wire protocol, SQLite backend) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

from pymongo import AsyncMongoClient

from planwatch.infra.build import FERRETDB_BIN
from planwatch.infra.errors import StartupError, UnreachableError
from planwatch.infra.processes import ManagedProcess
from planwatch.infra.settings import LOOPBACK, InfraSettings


def process(settings: InfraSettings) -> ManagedProcess:
    return ManagedProcess("ferretdb", settings.state_dir)


def start(settings: InfraSettings) -> int:
    """Starts FerretDB with its SQLite files under the state dir; returns its pid."""
    home = settings.state_dir / "ferretdb"
    data_dir = home / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(FERRETDB_BIN),
        "--listen-addr",
        f"{LOOPBACK}:{settings.mongo_port}",
        "--data-dir",
        str(data_dir),
    ]
    return process(settings).spawn(argv, cwd=home)


async def answers(uri: str, timeout_s: float = 3.0) -> bool:
    """True if the server at `uri` answers `ping`."""
    ms = max(500, int(timeout_s * 1000))
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        async with asyncio.timeout(timeout_s + 1):
            reply = await client.admin.command("ping")
        return bool(reply.get("ok"))
    except Exception:  # any failure means "not (yet) answering"
        return False
    finally:
        await client.close()


async def wait_ready(settings: InfraSettings, pid: int | None) -> None:
    """Polls until FerretDB answers; fails early if our process exited."""
    deadline = time.monotonic() + settings.mongo_start_timeout_s
    proc = process(settings)
    while time.monotonic() < deadline:
        if await answers(settings.mongo_uri, timeout_s=2.0):
            return
        if pid is not None and proc.running_pid() != pid:
            raise StartupError(f"ferretdb exited while starting; log tail:\n{proc.log_tail()}")
        await asyncio.sleep(0.2)
    raise StartupError(
        f"ferretdb at {settings.mongo_uri} not ready after {settings.mongo_start_timeout_s:.0f}"
        f" s; log tail ({proc.log_file}):\n{proc.log_tail()}"
    )


async def check_external(settings: InfraSettings) -> None:
    deadline = time.monotonic() + settings.external_timeout_s
    while time.monotonic() < deadline:
        if await answers(settings.mongo_uri, timeout_s=3.0):
            return
        await asyncio.sleep(0.5)
    raise UnreachableError(
        f"MONGODB_URI={settings.mongo_uri} does not answer"
        f" after {settings.external_timeout_s:.0f} s"
    )
