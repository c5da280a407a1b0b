"""The scoring replicas' shared clock: the instants to which reports moved a replica's clock,
told to the others on an internal topic that every replica reads whole (outside the consumer
group), so each rescores its own targets at every instant any replica reached. Pure.

A record is `{"at": "<RFC 3339 instant>"}`; only scoring replicas write the topic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Final

from shared.runtime.publisher import Outbound

MAX_RECORD_BYTES: Final = 256
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class ClockSyncError(ValueError):
    """A record on the sync topic is not an instant."""


class TickInFutureError(ValueError):
    """A clock tick ahead of the receiving service's wall clock by more than the allowed skew."""


def tick_too_far_ahead(tick: datetime, latest_allowed: datetime) -> bool:
    """A tick past `latest_allowed` (the wall clock plus the allowed skew) is refused."""
    return tick > latest_allowed


def micros(instant: datetime) -> int:
    """Microseconds since the epoch, exactly (stored beside instants for ordered writes)."""
    return (instant - _EPOCH) // timedelta(microseconds=1)


def clock_sync_message(at: datetime, topic: str) -> Outbound:
    if at.tzinfo is None:
        raise ValueError(f"instant {at.isoformat()} needs a time zone")
    value = json.dumps({"at": at.isoformat()}, separators=(",", ":")).encode("utf-8")
    return Outbound(topic=topic, value=value, headers=(("content-type", b"application/json"),))


def parse_clock_sync(value: bytes | None) -> datetime:
    if not value or len(value) > MAX_RECORD_BYTES:
        raise ClockSyncError("a clock sync record is a small JSON object")
    try:
        data = json.loads(value)
        at = datetime.fromisoformat(data["at"])
    except (ValueError, TypeError, KeyError) as exc:
        raise ClockSyncError(f"not a clock sync record: {exc}") from None
    if at.tzinfo is None:
        raise ClockSyncError("a clock sync instant needs a time zone")
    return at
