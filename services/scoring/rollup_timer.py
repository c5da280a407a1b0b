"""The scoring service's roll-up timer: runs the plans' due roll-ups at most once per interval,
off the batches' path, and trailing the last batch (a roll-up due runs once the interval has
passed even when no more events come)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from shared.runtime.logging import get_logger

log = get_logger("planwatch.scoring.rollups")

# A roll-up left due at a stop is tried once more, for at most this long.
FINAL_ROLLUP_TIMEOUT_S = 2.0


class RollupTimer:
    """Every `interval_s` seconds, if `due()`, awaits `run()` (the caller serialises it with
    the batches). A failure is logged and the plans stay due: the next interval tries again."""

    def __init__(
        self,
        interval_s: float,
        run: Callable[[], Awaitable[object]],
        due: Callable[[], bool],
        *,
        final_timeout_s: float = FINAL_ROLLUP_TIMEOUT_S,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the roll-up interval must be positive")
        self.interval_s = interval_s
        self.run = run
        self.due = due
        self.final_timeout_s = final_timeout_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="rollup-timer")

    async def stop(self) -> None:
        """Stop the timer, then roll up what is still due, once, within `final_timeout_s` (a
        roll-up left undone is redone by whichever replica next loads the plan's targets)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.due():
            try:
                await asyncio.wait_for(self._once(), self.final_timeout_s)
            except TimeoutError:
                log.warning("final roll-up not done in time", timeout_s=self.final_timeout_s)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if self.due():
                await self._once()

    async def _once(self) -> None:
        try:
            await self.run()
        except Exception as exc:  # MongoDB away: the plans stay due, the next interval retries
            log.warning("roll-up failed; retrying at the next interval", error=repr(exc))
