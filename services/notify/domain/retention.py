"""What notify forgets, and when. As Alertmanager's `--data.retention` (120 h by default): a
notification log entry not renewed for that long goes, and so does a silence expired for that
long. The delivery log (every attempt) and refused input are kept for a retention of their own.
Alert fingerprints are not forgotten: there is one per (target, rule), a set the plan bounds.

Acknowledgements and the escalation steps sent are about one firing episode of an alert (its
fingerprint and `starts_at`): while a group still holds that episode they are kept whatever
their age (forgetting a step sent would send it again). Once no group holds it, they go when
older than the data retention; an acknowledgement that ended that long ago goes in any case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notify.domain.acks import Acknowledgement
from services.notify.domain.alert import Alert
from services.notify.domain.durations import format_duration
from services.notify.domain.escalation import escalation_episode
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


Episode = tuple[str, datetime]  # an alert's fingerprint and its `starts_at`


def live_episodes(alerts: Iterable[Alert]) -> frozenset[Episode]:
    """The firing episodes the groups still hold (resolved ones included until they leave)."""
    return frozenset((a.fingerprint, a.starts_at) for a in alerts)


def ack_forgotten(
    ack: Acknowledgement, episodes: frozenset[Episode], now: datetime, retention: Retention
) -> bool:
    """Ended for the retention; or given that long ago for an episode no group holds (an
    acknowledgement of every episode, `starts_at` None, while no group holds the alert)."""
    cutoff = require_aware(now) - retention.data
    if ack.until is not None and ack.until <= cutoff:
        return True
    if ack.at > cutoff:
        return False
    if ack.starts_at is None:
        return all(fingerprint != ack.fingerprint for fingerprint, _ in episodes)
    return (ack.fingerprint, ack.starts_at) not in episodes


def escalation_forgotten(
    key: str, at: datetime, episodes: frozenset[Episode], now: datetime, retention: Retention
) -> bool:
    """A step sent (`key`, due at `at`) goes once its episode left every group and it is older
    than the retention. A key that names no episode is kept (never written so)."""
    episode = escalation_episode(key)
    if episode is None or at > require_aware(now) - retention.data:
        return False
    return episode not in episodes


def repeat_beyond_retention(routes: Iterable[Route], retention: Retention) -> list[str]:
    """Routes whose repeat_interval is longer than the data retention: their log entries
    expire first, so their reminders come sooner than configured (Alertmanager warns too)."""
    return [
        f"line {route.line}: repeat_interval {format_duration(route.settings.repeat_interval)}"
        f" > retention {format_duration(retention.data)}"
        for route in routes
        if route.settings.repeat_interval > retention.data
    ]
