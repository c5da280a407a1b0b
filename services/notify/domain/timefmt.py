"""UTC normalisation and Go's RFC 3339 time format, as Alertmanager writes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator

# Go's zero time.Time, which Alertmanager writes as the endsAt of an alert still firing.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def to_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken as UTC (MongoDB returns naive UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _coerce_utc(value: object) -> object:
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp {value!r} has no time zone offset")
        return to_utc(parsed)
    return value


# A timestamp stored and compared in UTC. Strings must carry an offset; naive datetime
# objects (read back from MongoDB without tz_aware) are taken as UTC.
UtcDatetime = Annotated[datetime, BeforeValidator(_coerce_utc)]


def require_aware(value: datetime, what: str = "now") -> datetime:
    """Refuse a naive datetime where an instant is meant; return it in UTC."""
    if value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def go_rfc3339(value: datetime | None) -> str:
    """Format like Go's time.Time JSON encoding (RFC 3339 with trimmed nanoseconds), in UTC.

    ``None`` gives Go's zero time, which is what Alertmanager sends as ``endsAt`` for an
    alert that is still firing.
    """
    if value is None:
        return GO_ZERO_TIME
    utc = to_utc(value)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"
