"""Prometheus-style durations: ``30s``, ``5m``, ``4h``, ``1d``, ``1h30m``, ``0``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS: tuple[tuple[str, timedelta], ...] = (
    ("y", timedelta(days=365)),
    ("w", timedelta(weeks=1)),
    ("d", timedelta(days=1)),
    ("h", timedelta(hours=1)),
    ("m", timedelta(minutes=1)),
    ("s", timedelta(seconds=1)),
    ("ms", timedelta(milliseconds=1)),
)
_DURATION = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)


# More digits than this in one unit's count is beyond any timedelta (and int() of thousands of
# digits is refused by Python itself): refused as too large, never an OverflowError.
_MAX_DIGITS = 12


class DurationError(ValueError):
    """A duration string that is not ``<n>y<n>w<n>d<n>h<n>m<n>s<n>ms`` (units in this order)."""


def parse_duration(text: str) -> timedelta:
    if text == "0":
        return timedelta(0)
    match = _DURATION.match(text)
    if not text or match is None or not any(match.groupdict().values()):
        raise DurationError(
            f"bad duration {text!r}: expected e.g. 30s, 5m, 4h, 1d, 1h30m (units y w d h m s ms)"
        )
    total = timedelta(0)
    for unit, size in _UNITS:
        count = match.group(unit)
        if count is not None:
            try:
                if len(count) > _MAX_DIGITS:
                    raise OverflowError
                total += int(count) * size
            except OverflowError:
                raise DurationError(f"bad duration {text[:40]!r}: too large") from None
    return total


def format_duration(value: timedelta) -> str:
    """The shortest Prometheus spelling of a non-negative duration (``0s`` for zero)."""
    if value < timedelta(0):
        raise DurationError(f"negative duration {value}")
    remaining = value
    parts: list[str] = []
    for unit, size in _UNITS:
        count = remaining // size
        if count:
            parts.append(f"{count}{unit}")
            remaining -= count * size
    return "".join(parts) or "0s"
