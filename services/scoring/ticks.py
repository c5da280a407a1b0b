"""Clock ticks: the message `planwatch tick` and the optional built-in scheduler publish, and
the check every tick passes before it moves the clock.

A tick is the CloudEvent `org.planwatch.clock.tick.v1` in Kafka binary mode, signed with the
platform clock's key; its id is its instant, so publishing the same instant twice is a
duplicate the scoring clock ignores.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.contract.codec import encode_kafka_binary
from shared.contract.events import ClockTick, new_tick
from shared.contract.tick_signing import check_tick_signature, clock_keys, sign_tick
from shared.runtime.clock_key import ClockKeyError
from shared.runtime.logging import get_logger
from shared.runtime.publisher import Outbound

log = get_logger("planwatch.scoring.ticks")


TickCheck = Callable[[ClockTick], None]


def tick_message(at: datetime, topic: str, clock_key: Ed25519PrivateKey | None) -> Outbound:
    """The tick of `at`, signed with `clock_key` (None: unsigned, which only a scoring service
    in the local demo's dev mode accepts)."""
    if at.tzinfo is None:
        raise ValueError(f"tick instant {at.isoformat()} needs a time zone")
    tick = new_tick(at=at)
    key, value, headers = encode_kafka_binary(
        sign_tick(tick, clock_key) if clock_key is not None else tick
    )
    return Outbound(topic=topic, value=value, key=key, headers=tuple(headers))


def now_utc() -> datetime:
    return datetime.now(UTC)


def tick_check(public_keys: Sequence[str], *, dev_mode: bool) -> TickCheck:
    """How scoring checks a tick: signed by one of the clock's `public_keys`. Without keys
    only the local demo's dev mode starts, and accepts unsigned ticks; ClockKeyError names
    what is wrong otherwise."""
    try:
        keys = clock_keys(public_keys)
    except ValueError as exc:
        raise ClockKeyError(f"SCORING_CLOCK_PUBLIC_KEYS: {exc}") from None
    if not keys and not dev_mode:
        raise ClockKeyError(
            "SCORING_CLOCK_PUBLIC_KEYS is empty: set it to the clock's public key(s) (JSON list; "
            "`planwatch keys clock` makes a pair), or PLANWATCH_CLOCK_KEY_FILE when this service "
            "publishes the ticks itself; only PLANWATCH_AUTH_MODE=dev, the local demo, accepts "
            "unsigned clock ticks"
        )
    return partial(check_tick_signature, keys=keys, allow_unsigned=dev_mode)


class TickScheduler:
    """Publishes a tick of the wall clock every `interval_s` seconds while running."""

    def __init__(
        self,
        interval_s: float,
        send: Callable[[Outbound], Awaitable[None]],
        topic: str,
        clock_key: Ed25519PrivateKey | None,
        *,
        now: Callable[[], datetime] = now_utc,
        on_sent: Callable[[], None] = lambda: None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the tick interval must be positive")
        self.interval_s = interval_s
        self.send = send
        self.topic = topic
        self.clock_key = clock_key
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
                await self.send(tick_message(self.now(), self.topic, self.clock_key))
                self.on_sent()
            except Exception as exc:  # the next interval tries again; ticks are idempotent
                log.warning("tick not published", error=repr(exc))
            await asyncio.sleep(self.interval_s)
