"""The service's one source of "now": the wall clock in production, a settable clock in tests.

The pure domain never reads the clock; the adapter reads it here and passes `now` in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests: group_wait, repeat and retry timing)."""

    def __init__(self, start: datetime | None = None) -> None:
        instant = start if start is not None else datetime.now(UTC)
        if instant.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = instant.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("ManualClock.set needs a timezone-aware instant")
        self._now = instant.astimezone(UTC)
