"""Aggregation groups: alerts of one route with equal ``group_by`` values, flushed on
Alertmanager's timers (``group_wait`` once, then every ``group_interval``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.notify.domain.alert import Alert
from services.notify.domain.routing import Route
from services.notify.domain.timefmt import UtcDatetime, require_aware


def group_labels(labels: Mapping[str, str], route: Route) -> dict[str, str]:
    """The labels that define an alert's group under ``route`` (all with ``['...']``).
    Only labels the alert has count, as in Alertmanager."""
    if route.settings.group_by_all:
        return dict(labels)
    return {name: labels[name] for name in route.settings.group_by if name in labels}


def labelset_string(labels: Mapping[str, str]) -> str:
    """Prometheus' ``LabelSet.String()``: ``{a="1", b="2"}`` with names sorted."""
    pairs = (f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(labels.items()))
    return "{" + ", ".join(pairs) + "}"


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """Alertmanager's group key: ``<route key>:<group labels>``, the receiver's dedup key."""
    return f"{route.key}:{labelset_string(labels)}"


def group_id(route: Route, labels: Mapping[str, str]) -> str:
    """A unique, stable storage id for a group (route id, which is unique, plus labels)."""
    raw = f"{route.id}:{labelset_string(labels)}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class GroupState(BaseModel):
    """One aggregation group, plain data so the service can keep it in MongoDB."""

    model_config = ConfigDict(frozen=True)

    id: str
    key: str
    route_id: str
    receiver: str
    labels: dict[str, str]
    alerts: dict[str, Alert] = Field(default_factory=dict)  # by fingerprint
    created_at: UtcDatetime
    next_flush_at: UtcDatetime
    has_flushed: bool = False

    def is_empty(self) -> bool:
        return not self.alerts


def new_group(route: Route, labels: Mapping[str, str], now: datetime) -> GroupState:
    now = require_aware(now)
    grouped = group_labels(labels, route)
    return GroupState(
        id=group_id(route, grouped),
        key=group_key(route, grouped),
        route_id=route.id,
        receiver=route.receiver,
        labels=grouped,
        created_at=now,
        next_flush_at=now + route.settings.group_wait,
    )


def insert_alert(group: GroupState, alert: Alert, route: Route, now: datetime) -> GroupState:
    """The group with ``alert`` set (replacing the same fingerprint unless ``alert`` is older).

    A group that has not flushed yet flushes at once when the alert started more than
    ``group_wait`` ago (Alertmanager's ``insert``): no point waiting for companions of an
    old alert, e.g. after a restart.
    """
    now = require_aware(now)
    current = group.alerts.get(alert.fingerprint)
    if current is not None and current.updated_at > alert.updated_at:
        return group
    alerts = {**group.alerts, alert.fingerprint: alert}
    next_flush_at = group.next_flush_at
    if not group.has_flushed and alert.starts_at + route.settings.group_wait < now:
        next_flush_at = min(next_flush_at, now)
    return group.model_copy(update={"alerts": alerts, "next_flush_at": next_flush_at})


def flush_due(group: GroupState, now: datetime) -> bool:
    return not group.is_empty() and require_aware(now) >= group.next_flush_at


def flush(group: GroupState, route: Route, now: datetime) -> tuple[GroupState, list[Alert]]:
    """Take a flush at ``now``: the next one is ``group_interval`` later; the snapshot is the
    group's alerts in Alertmanager's order (by labels)."""
    now = require_aware(now)
    updated = group.model_copy(
        update={"next_flush_at": now + route.settings.group_interval, "has_flushed": True}
    )
    snapshot = sorted(
        group.alerts.values(), key=lambda a: (sorted(a.labels.items()), a.fingerprint)
    )
    return updated, snapshot


def remove_notified_resolved(group: GroupState, sent: Iterable[Alert], now: datetime) -> GroupState:
    """Drop the resolved alerts of a flush once every integration has been notified, unless
    they changed since the flush (e.g. fired again): Alertmanager's ``DeleteIfNotModified``."""
    now = require_aware(now)
    alerts = dict(group.alerts)
    for alert in sent:
        if not alert.resolved_at(now):
            continue
        stored = alerts.get(alert.fingerprint)
        if stored is not None and stored == alert:
            del alerts[alert.fingerprint]
    return group.model_copy(update={"alerts": alerts})


def retire_alert(group: GroupState, fingerprint: str, at: datetime) -> GroupState:
    """The group with the alert marked resolved at ``at``: used when an alert's new labels
    (say, a lower severity) no longer route it to this group, so the group can close."""
    stored = group.alerts.get(fingerprint)
    if stored is None or stored.resolved_at(require_aware(at)):
        return group
    return group.model_copy(update={"alerts": {**group.alerts, fingerprint: stored.resolve(at)}})
