"""One service process: its Kafka broker, MongoDB client, metrics registry and HTTP endpoints.

Every service builds a `ServiceHost` in its `app.py` (its single composition root) and serves
`build_http_app(host, routers, auth=...)` on its main port: only the service's own routes, each
behind `shared.runtime.auth.require` (bearer token and scope). On a separate management port
(`build_management_app`, no authentication: the NetworkPolicies admit only the kubelet and
Prometheus) it serves `/metrics`, `/livez` (the process answers) and `/readyz` (Kafka and
MongoDB answer and start-up finished; the body names what is down). Start-up hooks (topics,
indexes) run with backoff until the servers answer; SIGTERM stops consuming, lets the batch in
hand finish and commit (FastStream's graceful timeout), then closes the clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

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

from shared.runtime.api_docs import install_api_docs
from shared.runtime.auth import Authenticator, install
from shared.runtime.backoff import backoff_delay
from shared.runtime.kafka import is_transient, make_broker
from shared.runtime.kafka_security import ACCESS_ERRORS
from shared.runtime.logging import get_logger
from shared.runtime.mongo import Document, make_client, ping
from shared.runtime.problems import PROBLEM_RESPONSES, install_problem_handlers
from shared.runtime.publisher import KafkaPublisher
from shared.runtime.settings import HttpSettings, ServiceSettings

log = get_logger("planwatch.host")

Hook = Callable[[], Awaitable[None]]


class StartupAbortedError(RuntimeError):
    """A stop was requested (SIGTERM, SIGINT) while start-up still waited for the servers."""


def new_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


@dataclass(frozen=True, slots=True)
class Readiness:
    started: bool
    down: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return self.started and not self.down

    def json(self) -> dict[str, object]:
        return {"ready": self.ready, "started": self.started, "down": list(self.down)}


@dataclass
class ServiceHost:
    name: str
    settings: ServiceSettings
    broker: KafkaBroker  # consumption (subscribers, commits, rebalance callbacks)
    publisher: KafkaPublisher  # every write to Kafka, started first and stopped last
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
    _abort: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False, repr=False)
    _abort_requested: bool = field(default=False, init=False, repr=False)

    @classmethod
    def create(cls, name: str, settings: ServiceSettings, **producer_options: Any) -> ServiceHost:
        """A host with its broker (manual commits), its publisher (idempotent producer, with
        `producer_options`), MongoDB client and a fresh metrics registry, all from the
        settings."""
        return cls(
            name=name,
            settings=settings,
            broker=make_broker(settings.kafka, graceful_timeout_s=settings.graceful_timeout_s),
            publisher=KafkaPublisher.for_settings(settings.kafka, name, **producer_options),
            mongo=make_client(settings.mongo),
            registry=new_registry(),
        )

    async def ready(self) -> Readiness:
        """Which dependencies are down (their errors go to the log, never to the answer)."""
        down: list[str] = []
        try:
            if not await self.broker.ping(timeout=2.0):
                down.append("kafka")
        except Exception as exc:
            log.info("readiness: kafka unavailable", error=repr(exc)[:300])
            down.append("kafka")
        try:
            async with asyncio.timeout(2.0):
                await ping(self.mongo)
        except Exception as exc:
            log.info("readiness: mongodb unavailable", error=repr(exc)[:300])
            down.append("mongodb")
        return Readiness(started=self.started, down=tuple(down))

    def request_abort(self) -> None:
        """Stop a start-up still in progress (its step and its backoff are cancelled at once).
        Safe to call from a signal handler: it only schedules the wake-up on the loop."""
        self._abort_requested = True
        if self._loop is not None and not self.started:
            self._loop.call_soon_threadsafe(self._abort.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._abort_requested:  # the signal came before the loop was known
            self._abort.set()
        rng = random.Random()
        deadline = time.monotonic() + self.start_timeout_s
        attempt = 0
        pending = [self.publisher.start, *self.on_start, self.broker.start]
        while pending:
            hook = pending[0]
            try:
                await self._unless_aborted(hook())
                pending.pop(0)
            except StartupAbortedError:
                raise
            except Exception as exc:
                attempt += 1
                if isinstance(exc, ACCESS_ERRORS):
                    # Waiting cures no missing ACL or wrong password: say what, and stop.
                    log.critical(
                        "Kafka refused access; not retrying", step=_name(hook), error=str(exc)
                    )
                    raise
                if not is_transient(exc) or time.monotonic() > deadline:
                    raise
                log.warning("start-up step failed; retrying", step=_name(hook), error=repr(exc))
                retry = self.settings.retry
                delay = backoff_delay(attempt, retry.initial_s, retry.max_s, rng)
                await self._unless_aborted(asyncio.sleep(delay))
        self.started = True
        log.info("service started", service=self.name)

    async def _unless_aborted(self, step: Awaitable[None]) -> None:
        """Awaits `step`, or cancels it and raises StartupAbortedError once an abort is asked."""
        task = asyncio.ensure_future(step)
        if not self._abort.is_set():
            aborted = asyncio.ensure_future(self._abort.wait())
            try:
                await asyncio.wait({task, aborted}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                aborted.cancel()
        if not task.done():  # aborted (before the step even ran, or while it ran)
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            log.info("start-up aborted: stop requested", service=self.name)
            raise StartupAbortedError(f"{self.name}: stop requested during start-up")
        task.result()

    async def stop(self) -> None:
        self.started = False
        log.info("service stopping", service=self.name)
        await _run_all(self.on_stopping)
        await self.broker.stop()  # waits for the batch in hand (graceful timeout)
        await _run_all(self.on_stop)
        await self.publisher.stop()
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
    host: ServiceHost,
    routers: Sequence[APIRouter] = (),
    *,
    auth: Authenticator,
    title: str = "",
    plain_error_prefixes: Sequence[str] = (),
) -> FastAPI:
    """The main port: the service's routes (each with its `require` dependency), its OpenAPI
    document and `/docs` (public: shapes, no data; see shared.runtime.api_docs). Errors are
    RFC 9457 problem details, but under `plain_error_prefixes` (shared.runtime.problems)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await host.start()
        try:
            yield
        finally:
            await host.stop()

    app = FastAPI(
        title=title or f"planwatch {host.name}",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.host = host  # `serve` tells it about SIGTERM during start-up
    install(app, auth)
    install_problem_handlers(app, plain_prefixes=plain_error_prefixes)

    install_api_docs(app)

    for router in routers:
        app.include_router(router, responses=PROBLEM_RESPONSES)
    return app


def build_management_app(host: ServiceHost) -> FastAPI:
    """The management port: `/livez`, `/readyz`, `/metrics`, unauthenticated (no plan data)."""
    app = FastAPI(
        title=f"planwatch {host.name} management",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        readiness = await host.ready()
        if not readiness.ready:
            response.status_code = 503
        return readiness.json()

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(host.registry), media_type=CONTENT_TYPE_LATEST)

    return app


class _Server(uvicorn.Server):
    """uvicorn's server, which also aborts the host's start-up on SIGTERM/SIGINT: uvicorn only
    looks at its exit flag once the lifespan start-up is over, and ours may be retrying
    unreachable servers for minutes."""

    def __init__(self, config: uvicorn.Config, host: ServiceHost | None) -> None:
        super().__init__(config)
        self._host = host

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._host is not None:
            self._host.request_abort()
        super().handle_exit(sig, frame)


class _QuietServer(uvicorn.Server):
    """The management port's server: the main server alone handles signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Servers:
    """The main port's server (with the lifespan: the host starts and stops there) and the
    management port's, in one event loop. The management port listens first, so `/livez`
    answers while the start-up still waits for the servers."""

    def __init__(self, app: FastAPI, http: HttpSettings, management: HttpSettings) -> None:
        host: ServiceHost | None = getattr(app.state, "host", None)
        if host is None:
            raise ValueError("the app has no ServiceHost (build it with build_http_app)")
        main = uvicorn.Config(
            app, host=http.host, port=http.port, log_config=None, access_log=False, lifespan="on"
        )
        side = uvicorn.Config(
            build_management_app(host),
            host=management.host,
            port=management.port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        self.main: uvicorn.Server = _Server(main, host)
        self.management: uvicorn.Server = _QuietServer(side)

    async def serve(self) -> None:
        side = asyncio.create_task(self.management.serve())
        try:
            while not self.management.started:  # bounded: a failed bind ends the task
                if side.done():
                    side.result()  # raises (SystemExit on a port in use)
                    raise RuntimeError("the management server stopped during start-up")
                await asyncio.sleep(0.01)
            await self.main.serve()
        finally:
            self.management.should_exit = True
            with contextlib.suppress(BaseException):
                await side

    def request_exit(self) -> None:
        self.main.should_exit = True


def serve(app: FastAPI, http: HttpSettings, management: HttpSettings) -> None:
    """Run the app (main port) and the management port with uvicorn until SIGTERM or SIGINT;
    logging stays ours (JSON)."""
    asyncio.run(Servers(app, http, management).serve())
