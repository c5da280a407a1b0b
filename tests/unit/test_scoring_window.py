"""The bounded window of a target's series: updates agree with rebuilding it from all points,
and the method evaluated on the window equals the method on the whole series (or asks for it)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest

from services.scoring.window import (
    NeedsReloadError,
    SeriesWindow,
    WindowedSeries,
    WindowMissError,
    apply_change,
    window_from_series,
)
from shared.domain.method_v1 import SeriesPoint, evaluate_target
from shared.domain.timebase import CST
from tests.unit.method_support import make_plan, make_target

START = date(2021, 6, 30)


def point(day: int, value: float, version: int = 0) -> SeriesPoint:
    as_of = START + timedelta(days=day)
    reported = datetime(2021, 7, 1, 12, tzinfo=CST) + timedelta(days=day, minutes=version)
    return SeriesPoint(as_of, value, reported, f"e{day}.{version}")


def series_of(points: dict[date, SeriesPoint]) -> list[SeriesPoint]:
    return [points[d] for d in sorted(points)]


@pytest.mark.parametrize("seed", range(40))
def test_updates_agree_with_a_rebuild(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([2, 3, 6])
    truth: dict[date, SeriesPoint] = {}
    max_as_of: date | None = None
    window = SeriesWindow()
    for step in range(120):
        day = rng.randrange(0, 60) if rng.random() < 0.4 else 60 + step
        as_of = START + timedelta(days=day)
        old = truth.get(as_of)
        new = None if rng.random() < 0.25 else point(day, rng.uniform(0, 100), step)
        if new is None:
            truth.pop(as_of, None)
        else:
            truth[as_of] = new
        max_as_of = as_of if max_as_of is None or as_of > max_as_of else max_as_of
        try:
            window = apply_change(window, as_of, old, new, size)
        except NeedsReloadError:
            window = window_from_series(series_of(truth), max_as_of, size)
        assert window == window_from_series(series_of(truth), max_as_of, size)
    assert window.count == len(truth)


def test_a_retraction_in_a_full_tail_needs_a_reload() -> None:
    points = [point(i * 30, float(i)) for i in range(5)]
    window = window_from_series(points, points[-1].as_of, size=3)
    with pytest.raises(NeedsReloadError):
        apply_change(window, points[-1].as_of, points[-1], None, size=3)
    with pytest.raises(NeedsReloadError):  # the first point, outside the tail
        apply_change(window, points[0].as_of, points[0], None, size=3)
    # A point added before the tail changes neither the tail nor, if later than it, the first.
    extra = point(45, 9.0)
    after = apply_change(window, extra.as_of, None, extra, size=3)
    assert after.tail == window.tail and after.first == points[0] and after.count == 6


def test_known_point_tells_what_the_window_knows() -> None:
    points = [point(i * 30, float(i)) for i in range(6)]
    window = window_from_series(points, points[-1].as_of, size=2)
    assert window.known_point(points[0].as_of) == points[0]
    assert window.known_point(points[-1].as_of) == points[-1]
    assert window.known_point(points[-1].as_of + timedelta(days=1)) is None
    assert isinstance(window.known_point(points[2].as_of), WindowMissError)


def test_windowed_series_reads_like_the_list_or_misses() -> None:
    points = [point(i * 30, float(i)) for i in range(10)]
    view = WindowedSeries(window_from_series(points, points[-1].as_of, size=4), date(2030, 1, 1))
    assert len(view) == 10
    assert view[0] == points[0] and view[-1] == points[-1]
    assert view[6:10] == points[6:10]
    with pytest.raises(WindowMissError):
        view[3]
    with pytest.raises(IndexError):
        view[10]


def test_points_after_the_day_are_cut_off() -> None:
    points = [point(i * 30, float(i)) for i in range(6)]
    day = points[3].as_of
    view = WindowedSeries(window_from_series(points, points[-1].as_of, size=4), day)
    assert len(view) == 4 and view[-1] == points[3]
    with pytest.raises(WindowMissError):  # every tail point is in the future
        WindowedSeries(window_from_series(points, points[-1].as_of, size=2), day)


@pytest.mark.parametrize("seed", range(30))
def test_the_method_on_the_window_equals_the_method_on_the_series(seed: int) -> None:
    rng = random.Random(seed)
    target = make_target(target=80.0, deadline=date(2023, 12, 31))
    plan = make_plan([target])
    n = rng.randrange(1, 40)
    values = [40.0]
    for _ in range(n - 1):  # flat runs and small steps make the regression scan walk far
        values.append(values[-1] + rng.choice([0.0, 0.0, 0.1, -0.1, 2.0, -3.0]))
    series = [point(i * 20, v) for i, v in enumerate(values)]
    at = (
        datetime(2024, 2, 1, tzinfo=CST) if rng.random() < 0.3 else datetime(2023, 3, 1, tzinfo=CST)
    )
    known = [p for p in series if p.as_of <= at.date()]
    expected = evaluate_target(plan, target, known, known[-1].reported_at if known else None, at)
    window = window_from_series(series, series[-1].as_of, size=rng.choice([2, 6, 64]))
    try:
        view = WindowedSeries(window, at.date())
        got = evaluate_target(plan, target, view, known[-1].reported_at if known else None, at)
    except WindowMissError:
        assert window.count > len(window.tail)  # only a partial window can miss
        return
    assert got == expected
