"""The chaos suite's own servers and feed: a private Kafka (KRaft) and a private FerretDB on
free ports with their own data (the infra manager, pointed at a temporary state directory),
which the suite may restart and stop without touching the shared 9092/27017; a feed that
keeps its load through a broker restart; a steady load of report copies beside it; named,
bounded steps."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Final

from aiokafka.errors import KafkaError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from planwatch.infra import ferretdb, kafka
from planwatch.infra.manager import FERRETDB, KAFKA, down, ensure_up
from planwatch.infra.ports import free_port
from planwatch.infra.settings import InfraSettings
from planwatch.simulate.feed import FeedError, KafkaTransport, wall_seconds
from planwatch.simulate.scenario import FeedItem, Outcome, Role, Scenario
from shared.contract.events import ProgressReported
from shared.contract.signing import sign
from shared.runtime.settings import KafkaSettings

CONFIRM_S: Final = 20.0  # a batch Kafka has not confirmed by then is sent again
SLOW_S: Final = 1.0  # a batch confirmed later than this waited for the broker
RECONNECT_S: Final = 180.0  # how long the feed waits for a restarting broker
COPIED_ROLES: Final = frozenset({Role.REPORT, Role.CO_REPORT, Role.DELIVERABLE, Role.INDICATOR})


def log_step(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 180) -> None:
    """Polls `check` until true; fails naming `what` after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while not await check():  # noqa: ASYNC110 - state of other processes
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"not reached within {within:g} s: {what}") from None


class PrivateInfra:
    """Kafka and FerretDB of the test's own: ports, data, pid files and logs under `home`."""

    def __init__(self, home: Path) -> None:
        self.settings = InfraSettings(
            kafka_bootstrap_servers=None,  # never the environment's servers: ours, local
            mongodb_uri=None,
            infra_dir=home,
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            mongo_port=free_port(),
        )

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    @property
    def mongodb_uri(self) -> str:
        return self.settings.mongo_uri

    async def up(self) -> None:
        """Starts whichever of the two is not running; returns once both answer."""
        await ensure_up(self.settings, report=lambda message: log_step(f"infra: {message}"))

    async def stop(self, component: str) -> None:
        """SIGTERM (SIGKILL after the manager's grace period), and no longer answering."""
        stopped = await asyncio.to_thread(down, self.settings, [component])
        assert stopped == [component], f"{component} was not running"
        answers = kafka.answers if component == KAFKA else ferretdb.answers
        endpoint = self.bootstrap if component == KAFKA else self.mongodb_uri

        async def silent() -> bool:
            return not await answers(endpoint, 1.0)

        await until(silent, f"{component} no longer answers", within=30)

    def down(self) -> None:
        down(self.settings, [KAFKA, FERRETDB])

    def log_tail(self, component: str) -> str:
        process = kafka.process(self.settings) if component == KAFKA else None
        return (process or ferretdb.process(self.settings)).log_tail()


class PatientFeed:
    """The seeded feed, paced as `run_feed` (each item at its wall time at `speed`), over a
    broker that may restart: a batch Kafka has not confirmed within CONFIRM_S is sent again on
    a new producer once the broker answers, and the time spent waiting for the broker moves the
    pacing on, so the load resumes where it stopped rather than in one burst. A resent agency
    event is a duplicate ingest acknowledges (same id, same bytes); a resent tick changes no
    clock."""

    def __init__(
        self,
        items: Sequence[FeedItem],
        bootstrap: str,
        topic_names: Mapping[str, str],
        clock_key: Ed25519PrivateKey,
        speed: float,
    ) -> None:
        self.items = items
        self.bootstrap = bootstrap
        self.topic_names = dict(topic_names)
        self.clock_key = clock_key
        self.speed = speed
        self.sent = 0  # confirmed by Kafka
        self.resent_batches = 0
        self._transport: KafkaTransport | None = None

    @property
    def fraction(self) -> float:
        return self.sent / len(self.items)

    async def _connect(self) -> KafkaTransport:
        async def answers() -> bool:
            return await kafka.answers(self.bootstrap, 2.0)

        await until(answers, "the broker answers the feed", within=RECONNECT_S)
        transport = KafkaTransport(
            KafkaSettings(bootstrap_servers=self.bootstrap),
            topic_names=self.topic_names,
            clock_key=self.clock_key,
        )
        await transport.start()
        return transport

    async def _drop(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await transport.stop()

    async def _deliver(self, batch: list[FeedItem]) -> float:
        """Sends `batch` until Kafka confirms all of it; returns the seconds lost waiting for
        the broker (beyond SLOW_S: the producer may hold a batch until the broker is back, or
        give up on it and have it sent again)."""
        began = time.monotonic()
        for _ in range(10):
            try:
                if self._transport is None:
                    self._transport = await self._connect()
                async with asyncio.timeout(CONFIRM_S):
                    for item in batch:
                        await self._transport.send(item)
                    await self._transport.flush()
            except (FeedError, KafkaError, TimeoutError, OSError) as exc:
                self.resent_batches += 1
                log_step(f"feed: {len(batch)} items unconfirmed ({exc!r}); sending them again")
                await self._drop()
                continue
            self.sent += len(batch)
            return max(0.0, time.monotonic() - began - SLOW_S)
        raise AssertionError("the feed could not deliver a batch in 10 attempts")

    async def run(self) -> int:
        """Sends every item; returns how many Kafka confirmed (all of them)."""
        started = time.monotonic()
        batch: list[FeedItem] = []
        try:
            for item in self.items:
                due = started + wall_seconds(item, self.speed)
                if due > time.monotonic() and batch:
                    started += await self._deliver(batch)
                    batch = []
                    due = started + wall_seconds(item, self.speed)
                await asyncio.sleep(max(0.0, due - time.monotonic()))  # the feed's pace
                batch.append(item)
            if batch:
                await self._deliver(batch)
        finally:
            await self._drop()
        return self.sent


def report_copies(scenario: Scenario, speed: float, per_second: float) -> list[FeedItem]:
    """A steady load beside the scenario's feed (paced at `speed`): `per_second` new events for
    as long as the feed lasts, each a copy of an agency report the feed has sent a second or more
    before (the same report and report time, a new event id, signed again by its agency), taken
    in turn. Each copy is a new event: ingest checks and stores it, scoring folds it (the method's
    fold is order-free, so the state is the offline method's over the scenario's events and the
    copies); it rarely changes an alert."""
    reports = [  # not the reports the scenario later retracts or corrects
        item
        for item in scenario.items
        if isinstance(item.payload, ProgressReported)
        and item.expected.outcome is Outcome.ACCEPTED
        and item.role in COPIED_ROLES
    ]
    sent_at = [wall_seconds(item, speed) for item in reports]
    copies: list[FeedItem] = []
    for n in range(int(wall_seconds(scenario.items[-1], speed) * per_second)):
        wall = n / per_second
        sent = bisect_right(sent_at, wall - 1.0)
        if sent == 0:
            continue
        source = reports[n % sent]
        payload = source.payload
        assert isinstance(payload, ProgressReported) and source.agency is not None
        key = scenario.keys[source.agency]
        envelope = payload.envelope.model_copy(update={"id": f"{payload.envelope.id}~{n}"})
        copy = sign(payload.model_copy(update={"envelope": envelope}), key.private_key, key.key_id)
        offset = timedelta(days=wall * speed)  # wall_seconds: offset in days / speed
        copies.append(replace(source, payload=copy, offset=offset, label=f"copy {n}"))
    return copies
