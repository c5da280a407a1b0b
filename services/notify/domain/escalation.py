"""Escalation: an alert left unacknowledged climbs its route's chain (lead agency →
coordinator → leadership), one notification per step.

Step n of a route (`escalation[n-1]`: `after`, `receiver`) is due for an alert of one of the
route's groups when the alert is firing and not muted, `now >= starts_at + after`, and no one
has an active acknowledgement of it for a receiver of the chain (the route's own or any step's).
Each step is sent once per firing episode (an episode is identified by `starts_at`): its key
(`escalation_key`) is recorded once the notification is stored.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.notify.domain.acks import Acknowledgement, acknowledged
from services.notify.domain.alert import Alert
from services.notify.domain.nflog import LogEntry
from services.notify.domain.routing import Route
from services.notify.domain.timefmt import require_aware


@dataclass(frozen=True, slots=True)
class EscalationDue:
    alert: Alert
    step: int  # 1-based
    receiver: str
    at: datetime  # when it fell due: starts_at + after (the notification's instant)
    key: str  # escalation_key(...): recorded once sent

    def group_key(self, group_key: str) -> str:
        """The webhook's `groupKey` (and the log entry's key): one per group, step, alert."""
        return f"{group_key}/escalation/{self.step}/{self.alert.fingerprint}"

    def entry(self, group_key: str, integration: str) -> LogEntry:
        return LogEntry(
            group_key=self.group_key(group_key),
            integration=integration,
            firing=frozenset({self.alert.fingerprint}),
            resolved=frozenset(),
            timestamp=self.at,
        )


def escalation_key(route_id: str, fingerprint: str, starts_at: datetime, step: int) -> str:
    return f"{route_id}|{fingerprint}|{require_aware(starts_at).isoformat()}|{step}"


def escalation_episode(key: str) -> tuple[str, datetime] | None:
    """The alert's fingerprint and episode (`starts_at`) of an `escalation_key`; None for a key
    not of that form. A route id may hold `|` (a regex matcher), the other parts never do."""
    parts = key.rsplit("|", 3)
    if len(parts) != 4 or not parts[1]:  # route, fingerprint, start, step
        return None
    try:
        starts_at = datetime.fromisoformat(parts[2])
    except ValueError:
        return None
    if starts_at.tzinfo is None:
        return None
    return parts[1], starts_at


def chain(route: Route) -> list[str]:
    """The receivers whose acknowledgement stops the escalation: the route's and each step's."""
    return [route.receiver, *(s.receiver for s in route.settings.escalation)]


def due_escalations(
    route: Route,
    alerts: Sequence[Alert],
    *,
    acks: Iterable[Acknowledgement],
    sent: Container[str],
    now: datetime,
) -> list[EscalationDue]:
    """The steps due at `now` and not yet sent for `alerts` (the route's group's alerts, muted
    ones already left out by the caller)."""
    now = require_aware(now)
    acks = list(acks)
    receivers = chain(route)
    due: list[EscalationDue] = []
    for alert in alerts:
        if alert.resolved_at(now) or acknowledged(alert, receivers, acks, now):
            continue
        for number, step in enumerate(route.settings.escalation, start=1):
            at = alert.starts_at + step.after
            if at > now:
                break  # `after` increases: the later steps are not due either
            key = escalation_key(route.id, alert.fingerprint, alert.starts_at, number)
            if key not in sent:
                due.append(EscalationDue(alert, number, step.receiver, at, key))
    return due
