"""Alertmanager's pipeline as pure steps the service runs against its stores.

1. ``dispatch``: an incoming alert goes into the groups of the routes it matches (created as
   needed); groups holding the same fingerprint that it no longer routes to see it resolved.
2. At a group's flush (``grouping.flush_due``/``grouping.flush``), ``prepare_notifications``
   removes inhibited and silenced alerts and runs dedup for every integration of the
   group's receiver, giving the notifications to deliver.
3. After delivery the service stores each successful notification's log entry and, once all
   integrations succeeded, drops the notified resolved alerts
   (``grouping.remove_notified_resolved``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from services.notify.domain.acks import Acknowledgement, all_acknowledged
from services.notify.domain.alert import Alert
from services.notify.domain.config import RoutingConfig
from services.notify.domain.grouping import (
    GroupState,
    group_id,
    group_labels,
    insert_alert,
    new_group,
    retire_alert,
)
from services.notify.domain.inhibit import inhibited
from services.notify.domain.nflog import LogEntry, NotifyReason, decide
from services.notify.domain.receivers import Integration
from services.notify.domain.routing import Route, match_routes
from services.notify.domain.silences import Silence, silenced
from services.notify.domain.timefmt import require_aware


def target_group_ids(config: RoutingConfig, labels: Mapping[str, str]) -> list[str]:
    """The ids of the groups an alert with ``labels`` belongs to (for the service to load)."""
    return [group_id(r, group_labels(labels, r)) for r in match_routes(config.route, labels)]


def dispatch(
    config: RoutingConfig,
    alert: Alert,
    existing: Mapping[str, GroupState],
    now: datetime,
) -> dict[str, GroupState]:
    """The groups changed by ``alert``, by id, to upsert.

    ``existing`` must hold the stored groups among ``target_group_ids`` and every stored
    group that contains ``alert.fingerprint``.
    """
    now = require_aware(now)
    changed: dict[str, GroupState] = {}
    wanted: set[str] = set()
    for route in match_routes(config.route, alert.labels):
        labels = group_labels(alert.labels, route)
        gid = group_id(route, labels)
        wanted.add(gid)
        group = changed.get(gid) or existing.get(gid) or new_group(route, alert.labels, now)
        changed[gid] = insert_alert(group, alert, route, now)
    for gid, group in existing.items():
        if gid not in wanted and alert.fingerprint in group.alerts:
            retired = retire_alert(group, alert.fingerprint, alert.updated_at)
            if retired is not group:
                changed[gid] = retired
    return changed


class Notification(BaseModel):
    """One delivery to one integration. ``id`` is stable for the flush (use it as the
    Standard Webhooks ``webhook-id`` and across retries); store ``entry`` after success."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str
    group_id: str
    group_key: str
    group_labels: dict[str, str]
    receiver: str
    integration: Integration
    reason: NotifyReason
    alerts: tuple[Alert, ...]
    record_only: bool
    entry: LogEntry
    created_at: datetime


def notification_id(group_key: str, integration: str, now: datetime) -> str:
    raw = f"{integration}|{group_key}|{require_aware(now).isoformat()}"
    return "msg_" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def muted(
    alert: Alert,
    firing_alerts: Iterable[Alert],
    config: RoutingConfig,
    silences: Iterable[Silence],
    now: datetime,
) -> bool:
    """Inhibited by a firing alert or silenced by an active silence at ``now``."""
    return bool(silenced(alert.labels, silences, now)) or inhibited(
        alert, firing_alerts, config.inhibit_rules
    )


def prepare_notifications(
    config: RoutingConfig,
    group: GroupState,
    route: Route,
    snapshot: Sequence[Alert],
    *,
    log_entries: Mapping[str, LogEntry],
    firing_alerts: Sequence[Alert],
    silences: Sequence[Silence],
    now: datetime,
    acks: Sequence[Acknowledgement] = (),
) -> list[Notification]:
    """The notifications of one flush, one per integration that needs one.

    ``snapshot`` is the flush's alerts (``grouping.flush``); ``log_entries`` the stored log
    entries of this group by integration key; ``firing_alerts`` every alert firing now,
    from any group (inhibition sources); ``silences`` the known silences. When every alert
    is muted nothing is sent and the log is left alone, as in Alertmanager.

    Acknowledgements (``acks``): a flush whose only reason is the repeat interval is not sent
    to the receiver when every firing alert it would show is acknowledged for that receiver;
    the log is left alone, so reminders resume at the first flush after an acknowledgement
    ends. New, changed or resolved alerts are notified as usual, acknowledged ones included.
    """
    now = require_aware(now)
    live_sources = [a for a in firing_alerts if not a.resolved_at(now)]
    visible = [a for a in snapshot if not muted(a, live_sources, config, silences, now)]
    if not visible:
        return []
    firing = [a for a in visible if not a.resolved_at(now)]
    quiet = all_acknowledged(firing, route.receiver, acks, now)
    result: list[Notification] = []
    for integration in config.integrations(route.receiver):
        decision = decide(
            group.key,
            integration.key,
            visible,
            log_entries.get(integration.key),
            send_resolved=integration.send_resolved,
            repeat_interval=route.settings.repeat_interval,
            now=now,
        )
        if not decision.notify or decision.entry is None:
            continue
        if quiet and decision.reason is NotifyReason.REPEAT_INTERVAL:
            continue
        result.append(
            Notification(
                id=notification_id(group.key, integration.key, now),
                group_id=group.id,
                group_key=group.key,
                group_labels=group.labels,
                receiver=route.receiver,
                integration=integration,
                reason=decision.reason,
                alerts=decision.send,
                record_only=decision.record_only,
                entry=decision.entry,
                created_at=now,
            )
        )
    return result
