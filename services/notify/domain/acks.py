"""Acknowledgements: a person says "seen, on it" for one alert and one receiver.

An acknowledgement is per alert (fingerprint), per receiver and per person (`by`); it is active
from `at` until `until` (or for good without one). While one is active for a receiver, repeat
reminders of that alert stop for it (`all_acknowledged`, used at the flush), and the alert's
escalation chain stops (`domain/escalation.py`). Silences are untouched: they mute by matcher
for everyone; an acknowledgement only quiets reminders and escalation.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.notify.domain.alert import Alert
from services.notify.domain.timefmt import UtcDatetime, require_aware

MAX_NOTE = 2000


class AckError(ValueError):
    """An acknowledgement that must not be stored."""


class Acknowledgement(BaseModel):
    model_config = ConfigDict(frozen=True)

    fingerprint: str = Field(min_length=1)
    receiver: str = Field(min_length=1)
    by: str = Field(min_length=1)  # the token's subject
    note: str = ""
    at: UtcDatetime
    until: UtcDatetime | None = None  # None: until withdrawn, or the episode ends
    # The firing episode acknowledged (the alert's `starts_at` then): an alert that resolves
    # and fires again is a new episode, not covered. None: every episode.
    starts_at: UtcDatetime | None = None

    @property
    def id(self) -> str:
        return ack_id(self.fingerprint, self.receiver, self.by)

    def active(self, now: datetime) -> bool:
        """Active in `[at, until)`, or from `at` on without `until`."""
        now = require_aware(now)
        return self.at <= now and (self.until is None or now < self.until)

    def covers(self, alert: Alert, receivers: Container[str], now: datetime) -> bool:
        """Active at `now` for this episode of `alert` and one of `receivers`."""
        return (
            self.fingerprint == alert.fingerprint
            and self.receiver in receivers
            and (self.starts_at is None or self.starts_at == alert.starts_at)
            and self.active(now)
        )


def ack_id(fingerprint: str, receiver: str, by: str) -> str:
    """One acknowledgement per alert, receiver and person: acknowledging again replaces it."""
    return f"{fingerprint}|{receiver}|{by}"


def validate_ack(ack: Acknowledgement, now: datetime) -> Acknowledgement:
    if ack.until is not None and ack.until <= max(ack.at, require_aware(now)):
        raise AckError("'until' must be in the future")
    if len(ack.note) > MAX_NOTE:
        raise AckError(f"a note has at most {MAX_NOTE} characters")
    return ack


def acknowledged(
    alert: Alert, receivers: Iterable[str], acks: Iterable[Acknowledgement], now: datetime
) -> bool:
    """Someone's acknowledgement of this alert for one of `receivers` is active at `now`."""
    wanted = set(receivers)
    return any(a.covers(alert, wanted, now) for a in acks)


def all_acknowledged(
    alerts: Sequence[Alert], receiver: str, acks: Sequence[Acknowledgement], now: datetime
) -> bool:
    """Every one of `alerts` (at least one) is acknowledged for `receiver` at `now`."""
    return bool(alerts) and all(acknowledged(a, [receiver], acks, now) for a in alerts)
