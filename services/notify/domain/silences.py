"""Silences: matchers muting alerts for a time window (logic only; storage is the service's)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.notify.domain.matchers import LABEL_NAME, Matcher, matches_all
from services.notify.domain.timefmt import UtcDatetime, require_aware

MAX_ANNOTATIONS = 64


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class SilenceError(ValueError):
    """A silence that must not be stored."""


class Silence(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    matchers: tuple[Matcher, ...]
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    created_by: str = Field(min_length=1)
    comment: str = ""
    # Alertmanager >= 0.34's silence annotations (name -> value); shown, never matched.
    annotations: dict[str, str] = Field(default_factory=dict)

    def state(self, now: datetime) -> SilenceState:
        """Pending before ``starts_at``, active in ``[starts_at, ends_at)``, then expired."""
        now = require_aware(now)
        if now < self.starts_at:
            return SilenceState.PENDING
        if now < self.ends_at:
            return SilenceState.ACTIVE
        return SilenceState.EXPIRED

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.state(now) is SilenceState.ACTIVE and matches_all(self.matchers, labels)

    def has_matchers(self, wanted: Iterable[Matcher]) -> bool:
        """Alertmanager's silence ``filter``: every wanted matcher is one of this silence's
        matchers (same name, operator and value), not a match against labels."""
        return all(m in self.matchers for m in wanted)


def validate_silence(silence: Silence) -> Silence:
    """Refuse what Alertmanager refuses: no matchers, an end not after the start, or matchers
    that all match the empty string (such a silence would mute nearly everything)."""
    if not silence.matchers:
        raise SilenceError("a silence needs at least one matcher")
    if silence.ends_at <= silence.starts_at:
        raise SilenceError("a silence must end after it starts")
    if all(m.matches("") for m in silence.matchers):
        raise SilenceError("at least one matcher must not match the empty string")
    if len(silence.annotations) > MAX_ANNOTATIONS:
        raise SilenceError(f"a silence has at most {MAX_ANNOTATIONS} annotations")
    for name in silence.annotations:
        if not LABEL_NAME.match(name):
            raise SilenceError(f"bad annotation name {name!r}")
    return silence


def silenced(labels: Mapping[str, str], silences: Iterable[Silence], now: datetime) -> list[str]:
    """The ids of the active silences muting an alert with ``labels``, sorted."""
    return sorted(s.id for s in silences if s.mutes(labels, now))
