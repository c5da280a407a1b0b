"""The effective series of a target "as known at c", offline and incrementally (method v1.1).

Times count by their CST date (scoring.md, "Times are calendar dates in China Standard Time"):
only events with `reported_at <= c` and `as_of <= c`, both as CST dates, count. For each
`as_of` and each reporting agency, the agency's event with the greatest `(reported_at, event_id)`
wins (its *winner*), `reported_at` again by its date, so two events of one day tie and the
greater event id wins: a report gives that agency's value for the date, a retraction removes
it. The point of the series at `as_of` is, among the agencies' remaining reports, the one with
the greatest `(reported_at, event_id)`; none left, no point. With one reporter this is exactly
version 1.

Which events belong to one series is the caller's choice: the headline takes the target's
reporters' unscoped events, a breakdown one scope's events (see `plan_state`). Since each
winner is the maximum of a total order, folding the same events in any order gives the same
winners, so the live service's series equals the offline one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from shared.domain.observation import Observation
from shared.domain.timebase import cst_date

# A winner's place: one per (as_of, agency).
Slot = tuple[date, str]


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of the effective series, with the event that gave it (for traceability)."""

    as_of: date
    value: float
    reported_at: datetime
    event_id: str
    agency: str = ""


class SeriesError(ValueError):
    """An effective series was asked for in a way that cannot be answered correctly."""


def report_day(observation: Observation) -> date:
    """The CST date of `reported_at`: what scoring.md compares."""
    return cst_date(observation.reported_at)


def supersedes(new: Observation, old: Observation) -> bool:
    """Whether `new` wins over `old`: a later `reported_at` date, ties (the same day) by the
    greater event id; ids are unique per agency only, so equal ids fall to the agency (a total
    order: any folding order gives the same winner)."""
    return (report_day(new), new.event_id, new.agency) > (report_day(old), old.event_id, old.agency)


def slot_of(observation: Observation) -> Slot:
    return (observation.as_of, observation.agency)


def is_known_at(observation: Observation, at: datetime) -> bool:
    """`reported_at <= at` and `as_of <= at`, as CST dates."""
    day = cst_date(at)
    return report_day(observation) <= day and observation.as_of <= day


def as_point(observation: Observation | None) -> SeriesPoint | None:
    """The point a winner gives: a report's value; a retraction or nothing gives none."""
    if observation is None or observation.value is None:
        return None
    return SeriesPoint(
        observation.as_of,
        observation.value,
        observation.reported_at,
        observation.event_id,
        observation.agency,
    )


def date_point(winners: Iterable[Observation]) -> SeriesPoint | None:
    """The point of one `as_of` from its agencies' winners: the latest remaining report."""
    best: Observation | None = None
    for winner in winners:
        if winner.value is not None and (best is None or supersedes(winner, best)):
            best = winner
    return as_point(best)


def fold_observation(
    winners: Mapping[Slot, Observation], observation: Observation
) -> Mapping[Slot, Observation]:
    """Fold one event into a per-(as_of, agency) winners mapping; returns the new mapping.

    Pure: `winners` is not changed; when the event loses, the same mapping object is returned
    (so a caller can detect "no change" by identity). Retractions are kept as winners, because a
    retraction must still beat an earlier report of its agency and date that arrives later.
    """
    slot = slot_of(observation)
    current = winners.get(slot)
    if current is not None and not supersedes(observation, current):
        return winners
    updated = dict(winners)
    updated[slot] = observation
    return updated


def points_by_date(winners: Mapping[Slot, Observation]) -> dict[date, SeriesPoint]:
    """Each date's point from the winners (dates with no remaining report left out)."""
    by_date: dict[date, list[Observation]] = {}
    for (as_of, _agency), winner in winners.items():
        by_date.setdefault(as_of, []).append(winner)
    points: dict[date, SeriesPoint] = {}
    for as_of, date_winners in by_date.items():
        point = date_point(date_winners)
        if point is not None:
            points[as_of] = point
    return points


def series_from_winners(winners: Mapping[Slot, Observation], at: datetime) -> list[SeriesPoint]:
    """The effective series at `at` from a winners mapping, sorted by `as_of`.

    The mapping must hold only events with `reported_at <= at` (the live service's clock is the
    greatest `reported_at` it consumed, so this holds there); an event reported after `at` could
    have hidden the earlier winner of its slot, so it is an error.
    """
    day = cst_date(at)
    for winner in winners.values():
        if report_day(winner) > day:
            raise SeriesError(
                f"event {winner.event_id} reported at {winner.reported_at.isoformat()} is after "
                f"the evaluation instant {at.isoformat()}: fold only events known at it"
            )
    points = points_by_date(winners)
    return [points[as_of] for as_of in sorted(points) if as_of <= day]


def effective_series(observations: Iterable[Observation], at: datetime) -> list[SeriesPoint]:
    """The effective series of one series' events as known at `at`, sorted by `as_of`."""
    winners: dict[Slot, Observation] = {}
    for observation in observations:
        if not is_known_at(observation, at):
            continue
        slot = slot_of(observation)
        current = winners.get(slot)
        if current is None or supersedes(observation, current):
            winners[slot] = observation
    return series_from_winners(winners, at)


def last_report_at(observations: Iterable[Observation], at: datetime) -> datetime | None:
    """The greatest `reported_at` known at `at` (by date) among reports (not retractions),
    whatever their `as_of`.

    This is what "a new report arrives" means for staleness: any report, even a correction of an
    old date, shows the agency is reporting; a retraction alone does not.
    """
    latest: datetime | None = None
    for observation in observations:
        if observation.value is None or report_day(observation) > cst_date(at):
            continue
        if latest is None or observation.reported_at > latest:
            latest = observation.reported_at
    return latest


class IncrementalSeries:
    """One series kept live: winners, each date's point, dates sorted, last report.

    `add` costs O(log n) comparisons plus the date's agencies (a list insert for a new date);
    `series` returns the effective series without sorting. Results equal `effective_series` /
    `last_report_at` over the same events, whatever the order they were added in, at any `at`
    not on a CST date before the greatest `reported_at` added.
    """

    __slots__ = ("_by_date", "_dates", "_last_report_at", "_latest_event_at", "_points")

    def __init__(self) -> None:
        self._by_date: dict[date, dict[str, Observation]] = {}  # as_of -> agency -> winner
        self._dates: list[date] = []  # as_of dates that have a point, sorted
        self._points: list[SeriesPoint] = []  # parallel to _dates
        self._last_report_at: datetime | None = None
        self._latest_event_at: datetime | None = None

    @property
    def winners(self) -> Mapping[Slot, Observation]:
        return {(d, a): w for d, agencies in self._by_date.items() for a, w in agencies.items()}

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
        agencies = self._by_date.setdefault(observation.as_of, {})
        current = agencies.get(observation.agency)
        if current is not None and not supersedes(observation, current):
            return False
        agencies[observation.agency] = observation
        point = date_point(agencies.values())
        index = bisect.bisect_left(self._dates, observation.as_of)
        present = index < len(self._dates) and self._dates[index] == observation.as_of
        if point is None:
            if present:
                del self._dates[index]
                del self._points[index]
            return present
        if present:
            changed = self._points[index] != point
            self._points[index] = point
            return changed
        self._dates.insert(index, observation.as_of)
        self._points.insert(index, point)
        return True

    def series(self, at: datetime) -> Sequence[SeriesPoint]:
        """The effective series at `at`, cut at `as_of <= ` the CST date of `at`.

        Usually the kept list itself (no copy): read it before the next `add`, don't change it.
        """
        latest = self._latest_event_at
        if latest is not None and cst_date(at) < cst_date(latest):
            raise SeriesError(
                f"state holds events up to {latest.isoformat()}; it cannot be read "
                f"at the earlier instant {at.isoformat()}"
            )
        end = bisect.bisect_right(self._dates, cst_date(at))
        return self._points if end == len(self._points) else self._points[:end]
