"""What notify forgets, and when. As Alertmanager's `--data.retention` (120 h by default): a
notification log entry not renewed for that long goes, and so does a silence expired for that
long. The delivery log (every attempt) and refused input are kept for a retention of their own.
Alert fingerprints are not forgotten: there is one per (target, rule), a set the plan bounds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notify.domain.durations import format_duration
from services.notify.domain.nflog import LogEntry
from services.notify.domain.routing import Route
from services.notify.domain.silences import Silence
from services.notify.domain.timefmt import require_aware


@dataclass(frozen=True, slots=True)
class Retention:
    data: timedelta = timedelta(hours=120)  # log entries, expired silences
    delivery_log: timedelta = timedelta(days=30)  # attempts, refused input


def log_entry_expired(entry: LogEntry, now: datetime, retention: Retention) -> bool:
    return entry.timestamp <= require_aware(now) - retention.data


def silence_forgotten(silence: Silence, now: datetime, retention: Retention) -> bool:
    return silence.ends_at <= require_aware(now) - retention.data


def delivery_log_cutoff(now: datetime, retention: Retention) -> datetime:
    """Attempts and refused input recorded before this instant go."""
    return require_aware(now) - retention.delivery_log


def repeat_beyond_retention(routes: Iterable[Route], retention: Retention) -> list[str]:
    """Routes whose repeat_interval is longer than the data retention: their log entries
    expire first, so their reminders come sooner than configured (Alertmanager warns too)."""
    return [
        f"line {route.line}: repeat_interval {format_duration(route.settings.repeat_interval)}"
        f" > retention {format_duration(retention.data)}"
        for route in routes
        if route.settings.repeat_interval > retention.data
    ]
