"""What Alertmanager's API v2 tells of an alert at query time: its status (active or
suppressed, by which silences and which inhibiting alert) and whether a query's flags, label
matchers and receiver regex admit it. Pure: the caller passes the alerts, silences, rules and
``now``."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.notify.domain.alert import Alert
from services.notify.domain.inhibit import InhibitRule, inhibition
from services.notify.domain.matchers import Matcher, matches_all
from services.notify.domain.silences import Silence, silenced


class MarkState(StrEnum):
    """Alertmanager's ``alertStatus.state``. notify routes an alert before it stores it, so
    none it shows is ``unprocessed``."""

    UNPROCESSED = "unprocessed"
    ACTIVE = "active"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True, slots=True)
class AlertMark:
    state: MarkState
    silenced_by: tuple[str, ...] = ()  # silence ids
    inhibited_by: tuple[str, ...] = ()  # the inhibiting alert's fingerprint


def mark(
    alert: Alert,
    firing: Iterable[Alert],
    rules: Iterable[InhibitRule],
    silences: Iterable[Silence],
    now: datetime,
) -> AlertMark:
    """The alert's status at ``now``, as a flush at ``now`` would mute it. ``firing``: every
    alert firing at ``now`` (inhibition sources)."""
    by_silences = tuple(silenced(alert.labels, silences, now))
    found = inhibition(alert.labels, firing, rules, alert.fingerprint)
    by_alert = () if found is None else (found[1].fingerprint,)
    state = MarkState.SUPPRESSED if by_silences or by_alert else MarkState.ACTIVE
    return AlertMark(state, by_silences, by_alert)


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """The query of ``GET /api/v2/alerts`` and ``/alerts/groups`` (every flag defaults to
    true, as in Alertmanager). ``receiver`` is the anchored receiver regex."""

    active: bool = True
    silenced: bool = True
    inhibited: bool = True
    unprocessed: bool = True
    matchers: tuple[Matcher, ...] = ()
    receiver: Matcher | None = None

    def admits_receiver(self, receiver: str) -> bool:
        return self.receiver is None or self.receiver.matches(receiver)

    def admits(self, alert: Alert, status: AlertMark, now: datetime) -> bool:
        """Alertmanager's ``alertFilter``: not resolved, the label matchers match, and the
        state flags allow its status."""
        if alert.resolved_at(now):
            return False
        if not matches_all(self.matchers, alert.labels):
            return False
        if not self.active and status.state is MarkState.ACTIVE:
            return False
        if not self.unprocessed and status.state is MarkState.UNPROCESSED:
            return False
        if not self.silenced and status.silenced_by:
            return False
        return self.inhibited or not status.inhibited_by


def _before(left: Mapping[str, str], right: Mapping[str, str]) -> bool:
    """Prometheus' ``LabelSet.Before``: fewer labels first; then, at the first name of the
    sorted union where the sets differ, the set lacking that name first, else the lower
    value first."""
    if len(left) != len(right):
        return len(left) < len(right)
    for name in sorted({*left, *right}):
        if name not in left:
            return True
        if name not in right:
            return False
        if left[name] != right[name]:
            return left[name] < right[name]
    return False


def _compare(left: Mapping[str, str], right: Mapping[str, str]) -> int:
    return -1 if _before(left, right) else 1 if _before(right, left) else 0


# A sort key giving Alertmanager's order of label sets (alert groups: labels, then receiver).
labelset_key = functools.cmp_to_key(_compare)
