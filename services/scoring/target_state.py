"""What the engine keeps in memory per owned target, and one batch's folding state."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime

from services.scoring.documents import JSON, AlertStates
from services.scoring.window import SeriesWindow
from shared.accepted import AcceptedEvent
from shared.domain.catalog import Plan, Target
from shared.domain.method_v1 import SeriesPoint, TargetResult, supersedes
from shared.domain.observation import Observation

MAX_SCOPED_DATES = 48  # per scope: four years of monthly breakdowns

# One date's headline winners by agency (method v1.1: each reporter's latest event).
DateWinners = dict[str, Observation]


@dataclass
class TargetState:
    plan: Plan
    target: Target
    key: str
    window: SeriesWindow = field(default_factory=SeriesWindow)
    last_report_at: datetime | None = None
    latest_event_at: datetime | None = None
    stored_result: JSON | None = None
    stored_alerts: AlertStates = field(default_factory=dict)
    result: TargetResult | None = None
    # Every point, kept in memory once the window was not enough (a retraction emptied it, or
    # the regression scan ran past it along a long flat run); kept current from then on.
    full: list[SeriesPoint] | None = None
    history_seq: int = 0  # the number of the target's last history record
    # Method v1.1 breakdowns: each (scope, as_of, agency)'s winner; never in the headline.
    scoped: dict[tuple[str, date, str], Observation] = field(default_factory=dict)

    def fold_scoped(self, observation: Observation) -> bool:
        """Fold a scoped event; returns whether a winner changed. Each scope keeps its latest
        MAX_SCOPED_DATES dates (a bound on the document: older breakdowns are history)."""
        assert observation.scope is not None
        slot = (observation.scope, observation.as_of, observation.agency)
        current = self.scoped.get(slot)
        if current is not None and not supersedes(observation, current):
            return False
        self.scoped[slot] = observation
        dates = sorted({d for scope, d, _ in self.scoped if scope == observation.scope})
        for old in dates[:-MAX_SCOPED_DATES]:
            for stale in [s for s in self.scoped if s[0] == observation.scope and s[1] == old]:
                del self.scoped[stale]
        return True

    def update_full(self, as_of: date, new: SeriesPoint | None) -> None:
        if self.full is None:
            return
        dates = [p.as_of for p in self.full]
        i = bisect.bisect_left(dates, as_of)
        if i < len(dates) and dates[i] == as_of:
            del self.full[i]
        if new is not None:
            self.full.insert(i, new)


@dataclass
class Batch:
    """One batch's folding state: per (target key, as_of), the agencies' winners."""

    initial: dict[tuple[str, date], DateWinners] = field(default_factory=dict)
    winners: dict[tuple[str, date], DateWinners] = field(default_factory=dict)
    last_event: dict[str, AcceptedEvent] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    point_writes: dict[str, list[JSON]] = field(default_factory=dict)
    reload: set[str] = field(default_factory=set)
    tracked: set[str] = field(default_factory=set)  # deliverables and indicators changed

    def overlay(self, key: str) -> dict[tuple[date, str], Observation]:
        return {
            (as_of, agency): winner
            for (k, as_of), winners in self.winners.items()
            if k == key
            for agency, winner in winners.items()
        }
