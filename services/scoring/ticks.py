"""Clock ticks: the message `planwatch tick` and the optional built-in scheduler publish.

A tick is the CloudEvent `org.planwatch.clock.tick.v1` in Kafka binary mode; its id is its
instant, so publishing the same instant twice is a duplicate the scoring clock ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from shared.contract.codec import encode_kafka_binary
from shared.contract.events import new_tick
from shared.runtime.kafka import Outbound
from shared.runtime.logging import get_logger

log = get_logger("planwatch.scoring.ticks")


def tick_message(at: datetime, topic: str) -> Outbound:
    if at.tzinfo is None:
        raise ValueError(f"tick instant {at.isoformat()} needs a time zone")
    key, value, headers = encode_kafka_binary(new_tick(at=at))
    return Outbound(
        topic=topic, value=value, key=key, headers={n: v.decode("utf-8") for n, v in headers}
    )


def now_utc() -> datetime:
    return datetime.now(UTC)


class TickScheduler:
    """Publishes a tick of the wall clock every `interval_s` seconds while running."""

    def __init__(
        self,
        interval_s: float,
        send: Callable[[Outbound], Awaitable[None]],
        topic: str,
        *,
        now: Callable[[], datetime] = now_utc,
        on_sent: Callable[[], None] = lambda: None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the tick interval must be positive")
        self.interval_s = interval_s
        self.send = send
        self.topic = topic
        self.now = now
        self.on_sent = on_sent
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tick-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.send(tick_message(self.now(), self.topic))
                self.on_sent()
            except Exception as exc:  # the next interval tries again; ticks are idempotent
                log.warning("tick not published", error=repr(exc))
            await asyncio.sleep(self.interval_s)
