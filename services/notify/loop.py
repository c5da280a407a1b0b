"""The flush loop: a background task that, every tick, flushes due groups, escalates
unacknowledged alerts, starts due deliveries and, now and then, applies the retention. Started
by the host (on_start); on SIGTERM it starts nothing new, lets the deliveries in flight finish,
then returns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from services.notify.clock import Clock
from services.notify.deliveries import DeliveryWorker
from services.notify.escalating import Escalator
from services.notify.flushing import Flusher
from services.notify.pruning import Pruner
from shared.runtime.logging import get_logger

log = get_logger("planwatch.notify.loop")


class FlushLoop:
    def __init__(
        self,
        flusher: Flusher,
        worker: DeliveryWorker,
        pruner: Pruner,
        clock: Clock,
        tick_s: float,
        *,
        escalator: Escalator | None = None,
        on_step: Callable[[], None] = lambda: None,
    ) -> None:
        self.flusher = flusher
        self.escalator = escalator
        self.worker = worker
        self.pruner = pruner
        self.clock = clock
        self.tick_s = tick_s
        self.on_step = on_step
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> None:
        now = self.clock.now()
        await self.flusher.flush_due(now)
        if self.escalator is not None:
            await self.escalator.escalate_due(now)
        await self.worker.start_due(now)
        await self.pruner.prune_due(now)
        self.on_step()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="notify flush loop")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        log.info("flush loop started", tick_s=self.tick_s)
        try:
            while not self._stopping.is_set():
                try:
                    await self.step()
                except Exception as exc:  # MongoDB away: log, try again next tick
                    log.error("flush loop step failed", error=repr(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.tick_s)
        finally:
            in_flight = len(self.worker.running)
            if in_flight:
                log.info("finishing deliveries in flight", count=in_flight)
            await self.worker.drain()
            log.info("flush loop stopped")
