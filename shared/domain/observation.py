"""What the scoring method sees of one accepted event: a report or a retraction of a value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Observation:
    event_id: str
    target: str
    as_of: date
    reported_at: datetime  # timezone-aware; its CST date is what counts
    # The reported value in the target's unit (a milestone's stage index); None for a retraction.
    value: float | None
    # Method v1.1: who sent it (a reporter's retraction withdraws only its own report) and the
    # breakdown unit it is scoped to (None: the headline series).
    agency: str = ""
    scope: str | None = None
    # The report's evidence link and note, shown with it (never scored).
    evidence: str | None = None
    note: str | None = None

    @property
    def is_retraction(self) -> bool:
        return self.value is None
