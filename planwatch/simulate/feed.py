"""Sends a scenario: paces the items in wall time and hands them to Kafka or ingest's HTTP door.

Time is compressed through the events' own times (each event's `time` is its simulated
instant); the services' clocks are never touched. `speed` is simulated days per wall-clock
second: the item at offset `o` is sent `o / speed` seconds after the feed starts.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

import httpx
from aiokafka.structs import RecordMetadata
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from planwatch.http_token import auth_headers
from planwatch.simulate.scenario import FeedItem, Outcome, RawBytes, Scenario
from shared.contract.codec import (
    CONTENT_TYPE,
    encode_http_binary,
    encode_kafka_binary,
    encode_structured,
)
from shared.contract.events import ClockTick
from shared.contract.tick_signing import sign_tick
from shared.runtime.publisher import KafkaPublisher, Outbound
from shared.runtime.settings import KafkaSettings

SECONDS_PER_DAY: Final = 86_400.0
#: Simulated days per wall second: the default feed (about 705 days) takes about two minutes.
DEFAULT_SPEED: Final = 6.0
EVENTS_PATH: Final = "/v1/events"


class FeedError(RuntimeError):
    """The feed could not be sent (Kafka or the HTTP door unreachable, or refusing)."""


def wall_seconds(item: FeedItem, speed: float) -> float:
    """When to send `item`, in seconds after the feed starts (0 for speed <= 0: no pacing)."""
    if speed <= 0:
        return 0.0
    return item.offset.total_seconds() / SECONDS_PER_DAY / speed


def kafka_record(item: FeedItem) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers): events in binary mode, raw bytes as they are."""
    payload = item.payload
    if isinstance(payload, RawBytes):
        return None, payload.body, [(CONTENT_TYPE, payload.content_type.encode())]
    return encode_kafka_binary(payload)


class Transport(Protocol):
    async def start(self) -> None: ...

    async def send(self, item: FeedItem) -> str | None:
        """Send one item; the outcome the receiver answered, if it answers one (HTTP)."""
        ...

    async def flush(self) -> None:
        """Wait until everything sent so far is confirmed."""
        ...

    async def stop(self) -> None: ...


class KafkaTransport:
    """Progress events to `planwatch.progress` (binary mode, keyed by target), ticks to
    `planwatch.clock`; idempotent producer, so a retry never duplicates a record."""

    def __init__(
        self,
        kafka: KafkaSettings,
        client_id: str = "planwatch-simulate",
        topic_names: Mapping[str, str] | None = None,
        clock_key: Ed25519PrivateKey | None = None,
    ) -> None:
        """`topic_names` renames the standard topics (an isolated demo or test run); ticks are
        signed with `clock_key` (the platform clock's), unsigned without it."""
        self._names = dict(topic_names or {})
        self._clock_key = clock_key
        self._publisher = KafkaPublisher.for_settings(kafka, client_id, linger_ms=5)
        self._pending: list[asyncio.Future[RecordMetadata]] = []

    async def start(self) -> None:
        try:
            await self._publisher.start()
        except Exception as exc:
            raise FeedError(f"cannot connect to Kafka: {exc!r}") from exc

    async def send(self, item: FeedItem) -> str | None:
        if isinstance(item.payload, ClockTick) and self._clock_key is not None:
            item = replace(item, payload=sign_tick(item.payload, self._clock_key))
        key, value, headers = kafka_record(item)
        topic = self._names.get(item.topic, item.topic)
        future = await self._publisher.enqueue(Outbound(topic, value, key, tuple(headers)))
        self._pending.append(future)
        return None

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        try:
            await asyncio.gather(*pending)
        except Exception as exc:
            raise FeedError(f"Kafka did not confirm a record: {exc!r}") from exc

    async def stop(self) -> None:
        await self._publisher.stop()


class HttpTransport:
    """Progress events (and raw bytes) to ingest's `POST /v1/events` in binary mode; ticks
    still go to Kafka (`planwatch.clock`: the HTTP door takes agency events only)."""

    def __init__(self, base_url: str, ticks: KafkaTransport, timeout_s: float = 15.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout_s, headers=auth_headers()
        )
        self._ticks = ticks

    async def start(self) -> None:
        await self._ticks.start()

    async def send(self, item: FeedItem) -> str | None:
        payload = item.payload
        if isinstance(payload, ClockTick):
            return await self._ticks.send(item)
        if isinstance(payload, RawBytes):
            headers, body = {"Content-Type": payload.content_type}, payload.body
        else:
            headers, body = encode_http_binary(payload)
        try:
            response = await self._client.post(EVENTS_PATH, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise FeedError(f"POST {EVENTS_PATH} failed: {exc!r}") from exc
        if response.status_code == 503 or response.status_code >= 500:
            raise FeedError(f"POST {EVENTS_PATH}: {response.status_code} {response.text[:200]}")
        try:
            result = response.json()["results"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            return f"http-{response.status_code}"
        reason = result.get("reason")
        return f"{result.get('status')}:{reason}" if reason else str(result.get("status"))

    async def flush(self) -> None:
        await self._ticks.flush()

    async def stop(self) -> None:
        await self._client.aclose()
        await self._ticks.stop()


class DryRunTransport:
    """Sends nothing; keeps what would have been sent (for --dry-run and tests)."""

    def __init__(self) -> None:
        self.sent: list[FeedItem] = []

    async def start(self) -> None:
        return None

    async def send(self, item: FeedItem) -> str | None:
        self.sent.append(item)
        return None

    async def flush(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@dataclass
class FeedProgress:
    """What the feed has done so far (read by the live view)."""

    total: int
    sent: int = 0
    sim_at: datetime | None = None
    expected: Counter[str] = field(default_factory=Counter)  # by Expected, as str
    answered: Counter[str] = field(default_factory=Counter)  # HTTP answers, if any
    mismatches: list[str] = field(default_factory=list)  # HTTP answers unlike the expectation
    last: str = ""
    done: bool = False

    @property
    def reports(self) -> int:
        return self.sent - self.expected[Outcome.TICK.value]


def _answer_matches(expected: str, answered: str) -> bool:
    if expected == Outcome.TICK.value:
        return True
    return expected == answered


async def run_feed(
    items: Sequence[FeedItem],
    transport: Transport,
    *,
    speed: float = DEFAULT_SPEED,
    progress: FeedProgress | None = None,
    on_item: Callable[[FeedProgress, FeedItem], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> FeedProgress:
    """Send `items` in order, each at its paced wall time; flush whenever the feed waits.
    The transport must be started; it is not stopped here."""
    state = progress or FeedProgress(total=len(items))
    started = clock()
    for item in items:
        delay = started + wall_seconds(item, speed) - clock()
        if delay > 0:
            await transport.flush()
            await sleep(max(0.0, started + wall_seconds(item, speed) - clock()))
        answered = await transport.send(item)
        expected = str(item.expected)
        state.sent += 1
        state.sim_at = item.at
        state.expected[expected] += 1
        if item.expected.outcome is not Outcome.TICK:
            state.last = item.label
        if answered is not None:
            state.answered[answered] += 1
            if not _answer_matches(expected, answered):
                state.mismatches.append(f"{item.label}: expected {expected}, got {answered}")
        if on_item is not None:
            on_item(state, item)
    await transport.flush()
    state.done = True
    return state


def structured_lines(scenario: Scenario, *, include_ticks: bool = False) -> Iterable[bytes]:
    """The agency events the platform should accept, one JSON structured-mode event per line
    (for `planwatch score --events FILE`); bad events are left out (offline scoring does not
    check signatures), ticks too unless asked."""
    for item in scenario.items:
        payload = item.payload
        if isinstance(payload, RawBytes):
            continue
        wanted = item.expected.outcome is Outcome.ACCEPTED or (
            include_ticks and item.expected.outcome is Outcome.TICK
        )
        if wanted:
            yield encode_structured(payload) + b"\n"


def write_jsonl(path: Path, scenario: Scenario, *, include_ticks: bool = False) -> int:
    """Write `structured_lines` to `path`; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as handle:
        for line in structured_lines(scenario, include_ticks=include_ticks):
            handle.write(line)
            count += 1
    return count
