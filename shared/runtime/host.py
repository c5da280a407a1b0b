"""One service process: its Kafka broker, MongoDB client, metrics registry and HTTP endpoints.

Every service builds a `ServiceHost` in its `app.py` (its single composition root) and serves
`build_http_app(host, routers)`: `/metrics`, `/livez` (the process answers), `/readyz` (Kafka and
MongoDB answer and start-up finished), plus the service's own routes. Start-up hooks (topics,
indexes) run with backoff until the servers answer; SIGTERM stops consuming, lets the batch in
hand finish and commit (FastStream's graceful timeout), then closes the clients.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from faststream.kafka import KafkaBroker
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from pymongo import AsyncMongoClient

from shared.runtime.backoff import backoff_delay
from shared.runtime.kafka import is_transient, make_broker
from shared.runtime.logging import get_logger
from shared.runtime.mongo import Document, make_client, ping
from shared.runtime.settings import HttpSettings, ServiceSettings

log = get_logger("planwatch.host")

Hook = Callable[[], Awaitable[None]]


def new_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


@dataclass
class ServiceHost:
    name: str
    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document]
    registry: CollectorRegistry
    # Run in order before the broker starts (create topics, indexes, load keys ...).
    on_start: list[Hook] = field(default_factory=list)
    # Run in order before the broker stops (background loops that still publish).
    on_stopping: list[Hook] = field(default_factory=list)
    # Run in order after the broker stopped (flush, close receivers ...).
    on_stop: list[Hook] = field(default_factory=list)
    # Start-up gives up after this long without the servers answering.
    start_timeout_s: float = 120.0
    started: bool = False

    @classmethod
    def create(cls, name: str, settings: ServiceSettings) -> ServiceHost:
        """A host with its broker (manual commits, idempotent producer), MongoDB client and a
        fresh metrics registry, all from the settings."""
        return cls(
            name=name,
            settings=settings,
            broker=make_broker(settings.kafka, graceful_timeout_s=settings.graceful_timeout_s),
            mongo=make_client(settings.mongo),
            registry=new_registry(),
        )

    async def ready(self) -> dict[str, str]:
        checks: dict[str, str] = {"startup": "ok" if self.started else "pending"}
        try:
            checks["kafka"] = "ok" if await self.broker.ping(timeout=2.0) else "unavailable"
        except Exception as exc:
            checks["kafka"] = f"unavailable: {exc!r}"
        try:
            async with asyncio.timeout(2.0):
                await ping(self.mongo)
            checks["mongodb"] = "ok"
        except Exception as exc:
            checks["mongodb"] = f"unavailable: {exc!r}"
        return checks

    async def start(self) -> None:
        rng = random.Random()
        deadline = time.monotonic() + self.start_timeout_s
        attempt = 0
        pending = [*self.on_start, self.broker.start]
        while pending:
            hook = pending[0]
            try:
                await hook()
                pending.pop(0)
            except Exception as exc:
                attempt += 1
                if not is_transient(exc) or time.monotonic() > deadline:
                    raise
                log.warning("start-up step failed; retrying", step=_name(hook), error=repr(exc))
                retry = self.settings.retry
                await asyncio.sleep(backoff_delay(attempt, retry.initial_s, retry.max_s, rng))
        self.started = True
        log.info("service started", service=self.name)

    async def stop(self) -> None:
        self.started = False
        log.info("service stopping", service=self.name)
        await _run_all(self.on_stopping)
        await self.broker.stop()  # waits for the batch in hand (graceful timeout)
        await _run_all(self.on_stop)
        await self.mongo.close()
        log.info("service stopped", service=self.name)


async def _run_all(hooks: Sequence[Hook]) -> None:
    for hook in hooks:
        try:
            await hook()
        except Exception as exc:
            log.error("stop step failed", step=_name(hook), error=repr(exc))


def _name(hook: Hook) -> str:
    return getattr(hook, "__qualname__", repr(hook))


def build_http_app(
    host: ServiceHost, routers: Sequence[APIRouter] = (), *, title: str = ""
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await host.start()
        try:
            yield
        finally:
            await host.stop()

    app = FastAPI(title=title or f"planwatch {host.name}", lifespan=lifespan)

    @app.get("/livez", include_in_schema=False)
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(response: Response) -> dict[str, str]:
        checks = await host.ready()
        if any(value != "ok" for value in checks.values()):
            response.status_code = 503
        return checks

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(host.registry), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app


def serve(app: FastAPI, http: HttpSettings) -> None:
    """Run the app with uvicorn until SIGTERM or SIGINT; logging stays ours (JSON)."""
    config = uvicorn.Config(
        app, host=http.host, port=http.port, log_config=None, access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run()
