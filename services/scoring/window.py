"""A target's effective series kept as a bounded window: first point, last K points, count.

The method reads `series[0]` (baseline), `series[-1]`, the last 6 points and a backward
`regression` scan (shared/domain/method_v1/evaluate.py). The service keeps only those in the
target document so the cost of an event does not grow with the target's history; every point
lives in the points collection. `WindowedSeries` shows the window to `evaluate_target` as the
whole series and raises `WindowMissError` when asked for a point it does not hold; the caller then
loads the full series and evaluates again (same function, same answer).

Pure: no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import overload

from shared.domain.method_v1 import SeriesPoint

# The last TAIL_SIZE points are kept: 6 for the projection, the rest a margin for the backward
# `regression` scan (it stops at the last decisive step; a flat run longer than this falls back).
TAIL_SIZE = 64
MIN_TAIL_SIZE = 2  # tests shrink the tail to force the fallbacks; the service keeps TAIL_SIZE


class WindowMissError(LookupError):
    """The method asked for a point outside the window: load the full series."""


class NeedsReloadError(Exception):
    """A change cannot be applied from the window alone (a retraction emptied the tail or
    removed the first point while older points are outside it): rebuild from all points."""


@dataclass(frozen=True, slots=True)
class SeriesWindow:
    """first: series[0]; tail: the last min(count, TAIL_SIZE) points, sorted; count: all points.

    `max_as_of` is the greatest `as_of` of any winner, retractions included: an event dated
    after it has no earlier winner, so it needs no lookup.
    """

    first: SeriesPoint | None = None
    tail: tuple[SeriesPoint, ...] = ()
    count: int = 0
    max_as_of: date | None = None

    def holds_all(self) -> bool:
        return self.count == len(self.tail)

    def known_point(self, as_of: date) -> SeriesPoint | WindowMissError | None:
        """The report winning `as_of` if the window knows it; None when the window proves there
        is none (dated after every winner); WindowMissError when only the points collection
        knows."""
        if self.max_as_of is None or as_of > self.max_as_of:
            return None
        if self.first is not None and self.first.as_of == as_of:
            return self.first
        dates = [p.as_of for p in self.tail]
        i = bisect.bisect_left(dates, as_of)
        if i < len(dates) and dates[i] == as_of:
            return self.tail[i]
        return WindowMissError(as_of)


def window_from_series(
    series: Sequence[SeriesPoint], max_as_of: date | None, size: int = TAIL_SIZE
) -> SeriesWindow:
    """The window of a full effective series (sorted by `as_of`)."""
    if not series:
        return SeriesWindow(max_as_of=max_as_of)
    return SeriesWindow(series[0], tuple(series[-size:]), len(series), max_as_of)


def apply_change(
    window: SeriesWindow,
    as_of: date,
    old: SeriesPoint | None,
    new: SeriesPoint | None,
    size: int = TAIL_SIZE,
) -> SeriesWindow:
    """The window after the point at `as_of` changed from `old` to `new` (None: no point).

    `old` must be the true previous point at `as_of` (from the window or the points collection).
    Raises NeedsReloadError when the result needs points the window does not hold.
    """
    max_as_of = as_of if window.max_as_of is None or as_of > window.max_as_of else window.max_as_of
    if old is None and new is None:
        return replace(window, max_as_of=max_as_of)
    count = window.count + (new is not None) - (old is not None)
    if count == 0:
        return SeriesWindow(max_as_of=max_as_of)
    tail = list(window.tail)
    dates = [p.as_of for p in tail]
    covers = window.holds_all() or (bool(tail) and as_of >= tail[0].as_of)
    if covers:
        i = bisect.bisect_left(dates, as_of)
        if i < len(tail) and dates[i] == as_of:
            del tail[i]
        if new is not None:
            tail.insert(i, new)
        if len(tail) > size:
            tail = tail[len(tail) - size :]
        if len(tail) < min(count, size):
            raise NeedsReloadError(f"the tail lost a point at {as_of}; older points are needed")
    # A change before the tail leaves the last `size` points as they were.
    first = window.first
    if count == len(tail):
        first = tail[0]
    elif new is not None and (first is None or as_of <= first.as_of):
        first = new
    elif first is not None and as_of == first.as_of:  # the first point was removed
        raise NeedsReloadError(f"the first point ({as_of}) was removed; the next one is needed")
    return SeriesWindow(first, tuple(tail), count, max_as_of)


class WindowedSeries(Sequence[SeriesPoint]):
    """The effective series as known on `day` (points with `as_of <= day`), read from a window.

    Points dated after `day` (reported early for a future date) sit at the end of the tail and
    are cut off. Indexing outside the window raises WindowMissError.
    """

    __slots__ = ("_first", "_length", "_offset", "_tail")

    def __init__(self, window: SeriesWindow, day: date) -> None:
        dates = [p.as_of for p in window.tail]
        known = bisect.bisect_right(dates, day)
        future = len(window.tail) - known
        if future and known == 0 and not window.holds_all():
            raise WindowMissError("every point of the tail is dated after the evaluation day")
        self._tail = window.tail[:known]
        self._length = window.count - future
        self._offset = self._length - len(self._tail)
        first = window.first
        self._first = first if first is not None and first.as_of <= day else None

    def __len__(self) -> int:
        return self._length

    def _at(self, index: int) -> SeriesPoint:
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        if index >= self._offset:
            return self._tail[index - self._offset]
        if index == 0 and self._first is not None:
            return self._first
        raise WindowMissError(f"point {index} of {self._length} is outside the window")

    @overload
    def __getitem__(self, index: int) -> SeriesPoint: ...
    @overload
    def __getitem__(self, index: slice) -> list[SeriesPoint]: ...
    def __getitem__(self, index: int | slice) -> SeriesPoint | list[SeriesPoint]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(self._length))]
        return self._at(index)


def points_sorted(points: Iterable[SeriesPoint]) -> list[SeriesPoint]:
    return sorted(points, key=lambda p: p.as_of)
