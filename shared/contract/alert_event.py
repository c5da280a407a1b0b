"""The alert transition event: what scoring publishes to `planwatch.alerts` and notify consumes.

One JSON object per Kafka record, keyed by the target id (one target's transitions stay in
order). Names follow Prometheus Alertmanager's alert (labels, annotations, startsAt, endsAt,
generatorURL) plus `id` (the method's deterministic transition id: drop an id already seen),
`transition`, `method` and `at` (the evaluation instant).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, model_validator

CONTENT_TYPE: Final = "application/json"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertTransitionKind(StrEnum):
    FIRING = "firing"
    SEVERITY_CHANGED = "severity_changed"
    RESOLVED = "resolved"


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertEventError(ValueError):
    """A record on the alerts topic is not an alert event."""


class AlertLabels(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    alertname: str  # the rule, as Alertmanager names it
    rule: str
    plan: str
    area: str
    task: str
    target: str
    agency: str  # the target's lead agency
    severity: AlertSeverity


class AlertAnnotations(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    summary_zh: str
    summary_en: str
    description_zh: str
    description_en: str


class AlertEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    fingerprint: str
    status: AlertStatus
    transition: AlertTransitionKind
    labels: AlertLabels
    annotations: AlertAnnotations
    startsAt: AwareDatetime  # noqa: N815 - Alertmanager's name
    endsAt: AwareDatetime | None  # noqa: N815
    generatorURL: str  # noqa: N815
    method: Literal["v1", "v1.1"]  # the scoring method that judged it (v1 from older replicas)
    at: AwareDatetime

    @model_validator(mode="after")
    def _status_fits(self) -> AlertEvent:
        resolved = self.transition is AlertTransitionKind.RESOLVED
        if resolved != (self.status is AlertStatus.RESOLVED):
            raise ValueError("status is resolved exactly when the transition is resolved")
        if resolved != (self.endsAt is not None):
            raise ValueError("endsAt is set exactly when the alert is resolved")
        return self

    @property
    def starts_at(self) -> datetime:
        return self.startsAt


def encode_alert_event(event: AlertEvent) -> bytes:
    return event.model_dump_json().encode("utf-8")


def decode_alert_event(raw: bytes | None) -> AlertEvent:
    if not raw:
        raise AlertEventError("empty record: an alert event is a JSON object")
    try:
        return AlertEvent.model_validate_json(raw)
    except ValidationError as exc:
        raise AlertEventError(f"not an alert event: {exc}") from None
