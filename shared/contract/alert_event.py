"""The alert transition event: what scoring publishes to `planwatch.alerts` and notify consumes.

One JSON object per Kafka record, keyed by the target id (one target's transitions stay in
order). Names follow Prometheus Alertmanager's alert (labels, annotations, startsAt, endsAt,
generatorURL) plus `id` (the method's deterministic transition id: drop an id already seen),
`transition`, `method` and `at` (the evaluation instant).

Every responsible agency is told: a transition is published as one alert per responsible
agency, the lead's copy (`role=lead`) and one per co-owner (`role=co`), each with
`agency=<that agency>`. As in Alertmanager, where an alert is its label set, each copy is an
alert of its own: the lead's copy keeps the method's fingerprint and transition id, a
co-owner's copy derives both from them and the agency (`copy_fingerprint`, `copy_id`), so
grouping, dedup and the fold of the stream work per copy unchanged.

Problems raised and followed (`problem_raised`, `problem_overdue`) are alerts too, keyed by
their subject: one copy, for the plan's coordinator (`role=coordinator`), with the labels
`problem` (its id) and `raised_by` (the raising agency), which other alerts leave out.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, model_validator

CONTENT_TYPE: Final = "application/json"
_PROBLEM_LABELS: Final = ("problem", "raised_by")


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


class AlertRole(StrEnum):
    """The addressed agency's role on the target: its lead or one of its co-owners; or the
    plan's coordinator, addressed by the problems agencies raise."""

    LEAD = "lead"
    CO = "co"
    COORDINATOR = "coordinator"


def _digest(*parts: str) -> str:
    """sha256 over the parts joined by U+001F, first 16 bytes as hex (the method's form)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def copy_fingerprint(fingerprint: str, agency: str, role: AlertRole) -> str:
    """The fingerprint of one agency's copy: the lead's is the method's own."""
    return fingerprint if role is AlertRole.LEAD else _digest(fingerprint, role.value, agency)


def copy_id(transition_id: str, agency: str, role: AlertRole) -> str:
    """The event id of one agency's copy of a transition: the lead's is the method's own."""
    return transition_id if role is AlertRole.LEAD else _digest(transition_id, role.value, agency)


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
    agency: str  # the agency this copy is for: the target's lead, or a co-owner
    severity: AlertSeverity
    # `agency`'s role on the target; events from before co-owner copies are the lead's.
    role: AlertRole = AlertRole.LEAD
    # Problem alerts only (left out of the JSON, and so of the label set, when unset).
    problem: str | None = None
    raised_by: str | None = None

    def label_set(self) -> dict[str, str]:
        """The labels as Alertmanager's string map: the unset ones left out."""
        return {k: str(v) for k, v in self.model_dump(mode="json", exclude_none=True).items()}


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
    """The JSON of an event; unset problem labels are left out, so that every other alert is
    byte for byte what it was before they existed."""
    unset = {name for name in _PROBLEM_LABELS if getattr(event.labels, name) is None}
    return event.model_dump_json(exclude={"labels": unset}).encode("utf-8")


def decode_alert_event(raw: bytes | None) -> AlertEvent:
    if not raw:
        raise AlertEventError("empty record: an alert event is a JSON object")
    try:
        return AlertEvent.model_validate_json(raw)
    except ValidationError as exc:
        raise AlertEventError(f"not an alert event: {exc}") from None
