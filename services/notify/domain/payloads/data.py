"""The data every format renders: Alertmanager's template ``Data`` for one notification."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.notify.domain.alert import Alert, AlertStatus

_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def quote_meta(text: str) -> str:
    """Go's ``regexp.QuoteMeta``: Alertmanager writes the receiver name through it."""
    return _REGEX_META.sub(r"\\\1", text)


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for other in maps[1:]:
        common = {k: v for k, v in common.items() if other.get(k) == v}
    return common


@dataclass(frozen=True, slots=True)
class NotificationData:
    receiver: str
    status: AlertStatus
    alerts: tuple[Alert, ...]
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    now: datetime

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if not a.resolved_at(self.now)]

    @property
    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.resolved_at(self.now)]

    def subject(self, title: str = "") -> str:
        """Alertmanager's default subject: ``[FIRING:2] <title> <group label values>``."""
        head = self.status.value.upper()
        if self.status is AlertStatus.FIRING:
            head += f":{len(self.firing)}"
        values = [self.group_labels[k] for k in _alertname_first(self.group_labels)]
        return " ".join(p for p in (f"[{head}]", title, *values) if p)


def _alertname_first(labels: Mapping[str, str]) -> list[str]:
    names = sorted(labels)
    if "alertname" in labels:
        names.remove("alertname")
        names.insert(0, "alertname")
    return names


def notification_data(
    receiver: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[Alert],
    now: datetime,
    external_url: str = "",
) -> NotificationData:
    firing = any(not a.resolved_at(now) for a in alerts)
    return NotificationData(
        receiver=receiver,
        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
        alerts=tuple(alerts),
        group_labels=dict(group_labels),
        common_labels=_common([a.labels for a in alerts]),
        common_annotations=_common([a.annotations for a in alerts]),
        external_url=external_url,
        now=now,
    )
