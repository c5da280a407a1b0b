"""Alerts as the scoring service publishes them (``AlertEvent``) and as notify keeps them
(``Alert``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.notify.domain.timefmt import UtcDatetime, to_utc


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Transition(StrEnum):
    FIRING = "firing"
    SEVERITY_CHANGED = "severity_changed"
    RESOLVED = "resolved"


class AlertLabels(BaseModel):
    """The labels scoring puts on every alert. Extra labels are kept, not refused."""

    model_config = ConfigDict(extra="allow", frozen=True)

    alertname: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    plan: str = Field(min_length=1)
    area: str
    task: str
    target: str = Field(min_length=1)
    agency: str = Field(min_length=1)
    severity: Literal["info", "warning", "critical"]


class AlertAnnotations(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    summary_zh: str = ""
    summary_en: str = ""
    description_zh: str = ""
    description_en: str = ""


class AlertEvent(BaseModel):
    """One alert transition on the alerts topic, as the scoring service publishes it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1, description="deterministic transition id")
    fingerprint: str = Field(pattern=r"^[0-9a-f]+$")
    status: AlertStatus
    transition: Transition
    labels: AlertLabels
    annotations: AlertAnnotations
    starts_at: AwareDatetime = Field(alias="startsAt")
    ends_at: AwareDatetime | None = Field(alias="endsAt")
    generator_url: str = Field(alias="generatorURL")
    method: str
    at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> AlertEvent:
        resolved = self.status is AlertStatus.RESOLVED
        if resolved != (self.transition is Transition.RESOLVED):
            raise ValueError(
                f"status {self.status.value!r} does not fit transition {self.transition.value!r}"
            )
        if resolved and self.ends_at is None:
            raise ValueError("a resolved alert needs endsAt")
        if not resolved and self.ends_at is not None:
            raise ValueError("a firing alert must have endsAt null")
        if self.labels.alertname != self.labels.rule:
            raise ValueError("labels.alertname must equal labels.rule")
        return self

    def to_alert(self) -> Alert:
        return Alert(
            fingerprint=self.fingerprint,
            labels={k: str(v) for k, v in self.labels.model_dump().items()},
            annotations={k: str(v) for k, v in self.annotations.model_dump().items()},
            starts_at=to_utc(self.starts_at),
            ends_at=to_utc(self.ends_at) if self.ends_at is not None else None,
            generator_url=self.generator_url,
            updated_at=to_utc(self.at),
        )


class Alert(BaseModel):
    """An alert as notify holds it: identity (fingerprint, labels), information (annotations)
    and its active interval. ``updated_at`` is the evaluation instant of the last transition;
    it orders updates and tells a stored alert from a newer version of itself."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None = None
    generator_url: str = ""
    updated_at: UtcDatetime

    def resolved_at(self, now: datetime) -> bool:
        """Resolved at ``now``: it has an end and the end is not after ``now`` (Alertmanager's
        ``ResolvedAt``)."""
        return self.ends_at is not None and self.ends_at <= to_utc(now)

    def status_at(self, now: datetime) -> AlertStatus:
        return AlertStatus.RESOLVED if self.resolved_at(now) else AlertStatus.FIRING

    def resolve(self, at: datetime) -> Alert:
        """This alert ended at ``at`` (used when it leaves a group it no longer routes to)."""
        return self.model_copy(update={"ends_at": to_utc(at), "updated_at": to_utc(at)})
