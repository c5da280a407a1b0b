"""The effective series of a target "as known at c", offline and incrementally.

Only events with `reported_at <= c` (exact instants) and `as_of <= c` (CST date of c) count. For
each `as_of` the event with the greatest `(reported_at, event_id)` wins: a report gives the point's
value, a retraction removes the point. The incremental forms fold one event at a time; since the
winner of an `as_of` is the maximum of a total order, folding the same events in any order gives
the same winners, so the live service's series equals the offline one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from shared.domain.observation import Observation
from shared.domain.timebase import cst_date


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of the effective series, with the event that gave it (for traceability)."""

    as_of: date
    value: float
    reported_at: datetime
    event_id: str


class SeriesError(ValueError):
    """An effective series was asked for in a way that cannot be answered correctly."""


def supersedes(new: Observation, old: Observation) -> bool:
    """Whether `new` wins over `old` for the same `as_of`: later `reported_at`, ties by event id."""
    return (new.reported_at, new.event_id) > (old.reported_at, old.event_id)


def is_known_at(observation: Observation, at: datetime) -> bool:
    """`reported_at <= at` (instants) and `as_of <= ` the CST date of `at`."""
    return observation.reported_at <= at and observation.as_of <= cst_date(at)


def fold_observation(
    winners: Mapping[date, Observation], observation: Observation
) -> Mapping[date, Observation]:
    """Fold one event into a per-`as_of` winners mapping; returns the new mapping.

    Pure: `winners` is not changed; when the event loses, the same mapping object is returned
    (so a caller can detect "no change" by identity). Retractions are kept as winners, because a
    retraction must still beat an earlier report of its `as_of` that arrives later.
    """
    current = winners.get(observation.as_of)
    if current is not None and not supersedes(observation, current):
        return winners
    updated = dict(winners)
    updated[observation.as_of] = observation
    return updated


def series_from_winners(winners: Mapping[date, Observation], at: datetime) -> list[SeriesPoint]:
    """The effective series at `at` from a winners mapping, sorted by `as_of`.

    The mapping must hold only events with `reported_at <= at` (the live service's clock is the
    greatest `reported_at` it consumed, so this holds there); an event reported after `at` could
    have hidden the earlier winner of its `as_of`, so it is an error.
    """
    day = cst_date(at)
    points: list[SeriesPoint] = []
    for as_of in sorted(winners):
        event = winners[as_of]
        if event.reported_at > at:
            raise SeriesError(
                f"event {event.event_id} reported at {event.reported_at.isoformat()} is after "
                f"the evaluation instant {at.isoformat()}: fold only events known at it"
            )
        if as_of <= day and event.value is not None:
            points.append(SeriesPoint(as_of, event.value, event.reported_at, event.event_id))
    return points


def effective_series(observations: Iterable[Observation], at: datetime) -> list[SeriesPoint]:
    """The effective series of one target's events as known at `at`, sorted by `as_of`."""
    winners: dict[date, Observation] = {}
    for observation in observations:
        if not is_known_at(observation, at):
            continue
        current = winners.get(observation.as_of)
        if current is None or supersedes(observation, current):
            winners[observation.as_of] = observation
    return series_from_winners(winners, at)


def last_report_at(observations: Iterable[Observation], at: datetime) -> datetime | None:
    """The greatest `reported_at <= at` among reports (not retractions), whatever their `as_of`.

    This is what "a new report arrives" means for staleness: any report, even a correction of an
    old date, shows the agency is reporting; a retraction alone does not.
    """
    latest: datetime | None = None
    for observation in observations:
        if observation.value is None or observation.reported_at > at:
            continue
        if latest is None or observation.reported_at > latest:
            latest = observation.reported_at
    return latest


class IncrementalSeries:
    """The live service's per-target state: winners, their `as_of` dates sorted, last report.

    `add` costs O(log n) comparisons (plus a list insert for a new date); `series` returns the
    effective series without sorting. Results equal `effective_series`/`last_report_at` over the
    same events, whatever the order they were added in, at any `at` not before the greatest
    `reported_at` added.
    """

    __slots__ = ("_dates", "_last_report_at", "_latest_event_at", "_points", "_winners")

    def __init__(self) -> None:
        self._winners: dict[date, Observation] = {}
        self._dates: list[date] = []  # as_of dates whose winner is a report, sorted
        self._points: list[SeriesPoint] = []  # parallel to _dates
        self._last_report_at: datetime | None = None
        self._latest_event_at: datetime | None = None

    @property
    def winners(self) -> Mapping[date, Observation]:
        return self._winners

    @property
    def last_report_at(self) -> datetime | None:
        return self._last_report_at

    @property
    def latest_event_at(self) -> datetime | None:
        """The greatest `reported_at` added (the earliest instant this state can be read at)."""
        return self._latest_event_at

    def __len__(self) -> int:
        return len(self._points)

    def add(self, observation: Observation) -> bool:
        """Fold one event in; returns whether the effective series (at a late enough c) changed."""
        at = observation.reported_at
        if self._latest_event_at is None or at > self._latest_event_at:
            self._latest_event_at = at
        if observation.value is not None and (
            self._last_report_at is None or at > self._last_report_at
        ):
            self._last_report_at = at
        current = self._winners.get(observation.as_of)
        if current is not None and not supersedes(observation, current):
            return False
        self._winners[observation.as_of] = observation
        index = bisect.bisect_left(self._dates, observation.as_of)
        present = index < len(self._dates) and self._dates[index] == observation.as_of
        if observation.value is None:
            if present:
                del self._dates[index]
                del self._points[index]
            return present
        point = SeriesPoint(
            observation.as_of, observation.value, observation.reported_at, observation.event_id
        )
        if present:
            self._points[index] = point
        else:
            self._dates.insert(index, observation.as_of)
            self._points.insert(index, point)
        return True

    def series(self, at: datetime) -> Sequence[SeriesPoint]:
        """The effective series at `at`, cut at `as_of <= ` the CST date of `at`.

        Usually the kept list itself (no copy): read it before the next `add`, don't change it.
        """
        if self._latest_event_at is not None and at < self._latest_event_at:
            raise SeriesError(
                f"state holds events up to {self._latest_event_at.isoformat()}; it cannot be read "
                f"at the earlier instant {at.isoformat()}"
            )
        end = bisect.bisect_right(self._dates, cst_date(at))
        return self._points if end == len(self._points) else self._points[:end]
