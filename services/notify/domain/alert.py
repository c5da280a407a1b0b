"""Alerts as the scoring service publishes them (``AlertEvent``) and as notify keeps them
(``Alert``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.notify.domain.timefmt import UtcDatetime, to_utc
from shared.contract.alert_event import AlertEvent as ContractAlertEvent


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


def alert_from_event(event: ContractAlertEvent) -> Alert:
    """notify's ``Alert`` of a transition; ``at`` becomes ``updated_at``."""
    return Alert(
        fingerprint=event.fingerprint,
        labels=event.labels.label_set(),
        annotations={k: str(v) for k, v in event.annotations.model_dump().items()},
        starts_at=to_utc(event.startsAt),
        ends_at=to_utc(event.endsAt) if event.endsAt is not None else None,
        generator_url=event.generatorURL,
        updated_at=to_utc(event.at),
    )


class AlertEvent(ContractAlertEvent):
    """One alert transition on the alerts topic. The fields are the shared contract's
    (``shared.contract.alert_event``, the one definition scoring publishes); this adds the
    conversion to notify's internal ``Alert``."""

    def to_alert(self) -> Alert:
        return alert_from_event(self)


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
