"""The notification log and Alertmanager's dedup decision (``DedupStage.needsUpdate``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from services.notify.domain.alert import Alert
from services.notify.domain.timefmt import UtcDatetime, require_aware


class NotifyReason(StrEnum):
    DO_NOT_NOTIFY = "do not notify"
    FIRST_NOTIFICATION = "first notification"
    NEW_ALERTS = "new alerts added"
    ALL_RESOLVED = "all alerts resolved"
    NEW_RESOLVED = "some alerts resolved"
    REPEAT_INTERVAL = "repeat interval elapsed"


class LogEntry(BaseModel):
    """What one integration was last told about one group (Alertmanager's nflog entry)."""

    model_config = ConfigDict(frozen=True)

    group_key: str
    integration: str
    firing: frozenset[str]  # fingerprints
    resolved: frozenset[str]
    timestamp: UtcDatetime


def needs_update(
    entry: LogEntry | None,
    firing: Collection[str],
    resolved: Collection[str],
    *,
    send_resolved: bool,
    repeat_interval: timedelta,
    now: datetime,
) -> NotifyReason:
    """Whether to notify, and why, exactly as Alertmanager's ``needsUpdate``."""
    now = require_aware(now)
    if entry is None:
        return NotifyReason.FIRST_NOTIFICATION if firing else NotifyReason.DO_NOT_NOTIFY
    if not set(firing) <= entry.firing:
        # After a resolution the log holds no firing alerts: this starts over.
        return NotifyReason.FIRST_NOTIFICATION if not entry.firing else NotifyReason.NEW_ALERTS
    if not firing:
        # Sent even without send_resolved, to clear the log; alerts that fired and resolved
        # within one interval were never told, so nothing is sent for them.
        return NotifyReason.ALL_RESOLVED if entry.firing else NotifyReason.DO_NOT_NOTIFY
    if send_resolved and not set(resolved) <= entry.resolved:
        return NotifyReason.NEW_RESOLVED
    if entry.timestamp < now - repeat_interval:
        return NotifyReason.REPEAT_INTERVAL
    return NotifyReason.DO_NOT_NOTIFY


class DedupDecision(BaseModel):
    """``reason``; ``send``: the alerts to deliver (empty with ``record_only``: nothing to
    deliver but the log must still be written); ``entry``: the log entry to store once the
    delivery succeeded (None when there is nothing to do)."""

    model_config = ConfigDict(frozen=True)

    reason: NotifyReason
    send: tuple[Alert, ...] = ()
    record_only: bool = False
    entry: LogEntry | None = None

    @property
    def notify(self) -> bool:
        return self.reason is not NotifyReason.DO_NOT_NOTIFY


def decide(
    group_key: str,
    integration: str,
    alerts: Sequence[Alert],
    entry: LogEntry | None,
    *,
    send_resolved: bool,
    repeat_interval: timedelta,
    now: datetime,
) -> DedupDecision:
    """The dedup stage plus Alertmanager's send-resolved filtering for one integration.

    Without ``send_resolved`` resolved alerts are left out of what is sent; if nothing
    firing is left, nothing is sent but the log is still written (``record_only``).
    """
    now = require_aware(now)
    firing = [a for a in alerts if not a.resolved_at(now)]
    resolved = [a for a in alerts if a.resolved_at(now)]
    reason = needs_update(
        entry,
        [a.fingerprint for a in firing],
        [a.fingerprint for a in resolved],
        send_resolved=send_resolved,
        repeat_interval=repeat_interval,
        now=now,
    )
    if reason is NotifyReason.DO_NOT_NOTIFY:
        return DedupDecision(reason=reason)
    new_entry = LogEntry(
        group_key=group_key,
        integration=integration,
        firing=frozenset(a.fingerprint for a in firing),
        resolved=frozenset(a.fingerprint for a in resolved),
        timestamp=now,
    )
    send = tuple(alerts) if send_resolved else tuple(firing)
    return DedupDecision(reason=reason, send=send, record_only=not send, entry=new_entry)
