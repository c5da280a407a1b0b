"""The SVG trajectory chart: expected path, reported points and projection where they belong."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta

import pytest

from planwatch.report.chart import (
    ChartData,
    DatedValue,
    chart_data,
    expected_path,
    frame_for,
    month_ticks,
    projection_segment,
    render_chart,
    value_ticks,
)
from shared.catalog import load_catalog
from shared.domain.catalog import Plan, Point, Target
from shared.domain.method_v1 import (
    Baseline,
    BaselineSource,
    SeriesPoint,
    Status,
    TargetResult,
    effective_series,
    score_plan,
)
from shared.domain.method_v1.shares import expected_share
from shared.domain.observation import Observation
from shared.domain.timebase import CST, end_of_day
from shared.vocabulary import STATUS_COLOUR, Lang

MOBILE = "gov.mobile-services"  # share, >= 80 by 2022-12-31, no catalog baseline
RANK = "industry.eit-rank"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return next(iter(load_catalog().plans.values()))


def observations(target: str, values: list[tuple[date, float]]) -> list[Observation]:
    return [
        Observation(
            event_id=f"{target}-{i}",
            target=target,
            as_of=as_of,
            reported_at=datetime.combine(as_of + timedelta(days=3), datetime.min.time(), CST),
            value=value,
        )
        for i, (as_of, value) in enumerate(values)
    ]


def evaluated(
    plan: Plan, target_id: str, values: list[tuple[date, float]], day: date
) -> tuple[TargetResult, list[SeriesPoint]]:
    obs = observations(target_id, values)
    state = score_plan(plan, obs, end_of_day(day))
    return state.targets[target_id], effective_series(obs, end_of_day(day))


def coords(d: str) -> list[tuple[float, float]]:
    """The points of an SVG path made of M and L commands."""
    pairs = re.findall(r"[ML](-?[\d.]+) (-?[\d.]+)", d)
    assert len(pairs) == d.count("M") + d.count("L")
    return [(float(x), float(y)) for x, y in pairs]


def near(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) <= 0.011 and abs(a[1] - b[1]) <= 0.011


EIGHT_MONTHS = [
    (date(2021, 6, 30), 40.0),
    (date(2021, 7, 31), 42.0),
    (date(2021, 8, 31), 45.0),
    (date(2021, 9, 30), 44.0),
    (date(2021, 10, 31), 49.0),
    (date(2021, 11, 30), 50.0),
    (date(2021, 12, 31), 54.0),
    (date(2022, 1, 31), 55.0),
]


def test_projection_segment_is_the_least_squares_line_of_the_last_six_points(plan: Plan) -> None:
    target = plan.targets[MOBILE]
    result, series = evaluated(plan, MOBILE, EIGHT_MONTHS, date(2022, 2, 10))
    assert result.projection is not None
    segment = projection_segment(target, series, result.projection)
    assert segment is not None
    start, end = segment
    # Starts at the first of the last 6 points and ends at the deadline on the method's value.
    assert start.day == EIGHT_MONTHS[2][0]
    assert end == DatedValue(target.pace_until, result.projection.value)
    # An independent fit through those six points agrees at both ends.
    tail = EIGHT_MONTHS[2:]
    xs = [(d - tail[0][0]).days for d, _ in tail]
    ys = [v for _, v in tail]
    mx, my = sum(xs) / 6, sum(ys) / 6
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    assert start.value == pytest.approx(my - slope * mx, rel=1e-12)
    deadline_x = (target.pace_until - tail[0][0]).days
    assert end.value == pytest.approx(my + slope * (deadline_x - mx), rel=1e-12)


def test_no_projection_below_three_points(plan: Plan) -> None:
    target = plan.targets[MOBILE]
    result, series = evaluated(plan, MOBILE, EIGHT_MONTHS[:2], date(2021, 8, 10))
    assert result.projection is None
    assert projection_segment(target, series, result.projection) is None
    svg = render_chart(chart_data(target, result, series, Lang.EN), Lang.EN)
    assert 'class="projection"' not in svg
    assert svg.count('class="point"') == 2


def test_expected_path_runs_from_baseline_through_trajectory_to_goal(plan: Plan) -> None:
    target: Target = plan.targets[MOBILE].model_copy(
        update={
            "trajectory": (
                Point(as_of=date(2021, 12, 31), value=60.0),
                Point(as_of=date(2020, 1, 1), value=1.0),  # before the baseline: left out
            )
        }
    )
    baseline = Baseline(date(2021, 6, 30), 40.0, BaselineSource.FIRST_POINT)
    path = expected_path(target, baseline)
    assert path == (
        DatedValue(date(2021, 6, 30), 40.0),
        DatedValue(date(2021, 12, 31), 60.0),
        DatedValue(date(2022, 12, 31), 80.0),
    )
    # The path is what the method measures against: at each vertex the expected share is the
    # vertex's share of the distance.
    for vertex in path:
        assert expected_share(target, baseline, vertex.day) == pytest.approx(
            (vertex.value - 40.0) / 40.0
        )


def test_svg_geometry_matches_the_frame(plan: Plan) -> None:
    target = plan.targets[MOBILE]
    result, series = evaluated(plan, MOBILE, EIGHT_MONTHS, date(2022, 2, 10))
    data = chart_data(target, result, series, Lang.ZH)
    svg = render_chart(data, Lang.ZH, width=600, height=250)
    frame = frame_for(data, 600, 250)
    root = ET.fromstring(svg)
    paths = {p.get("class"): p.get("d") or "" for p in root.iter("path")}

    expected = coords(paths["expected"])
    assert near(expected[0], (frame.x(date(2021, 6, 30)), frame.y(40.0)))
    assert near(expected[-1], (frame.x(target.pace_until), frame.y(80.0)))

    reported = coords(paths["reported"])
    assert len(reported) == len(EIGHT_MONTHS)
    for (x, y), (day, value) in zip(reported, EIGHT_MONTHS, strict=True):
        assert near((x, y), (frame.x(day), frame.y(value)))
    circles = [c for c in root.iter("circle") if c.get("class") == "point"]
    assert [(float(c.get("cx", "")), float(c.get("cy", ""))) for c in circles] == reported

    assert result.projection is not None
    projection = coords(paths["projection"])
    assert near(projection[-1], (frame.x(target.pace_until), frame.y(result.projection.value)))
    # Later dates to the right, higher values up (a share: more is better).
    assert reported[-1][0] > reported[0][0]
    assert reported[-1][1] < reported[0][1]
    # Every drawn thing lies inside the picture.
    for x, y in expected + reported + projection:
        assert 0 <= x <= 600 and 0 <= y <= 250
    # The reported line wears the status colour.
    reported_path = next(p for p in root.iter("path") if p.get("class") == "reported")
    assert reported_path.get("stroke") == STATUS_COLOUR[result.status]
    # The evaluation day is marked.
    today = next(e for e in root.iter("line") if e.get("class") == "today")
    assert float(today.get("x1", "")) == pytest.approx(frame.x(date(2022, 2, 10)), abs=0.01)


def test_less_is_better_flips_the_value_axis(plan: Plan) -> None:
    target = plan.targets[RANK]
    assert target.direction == -1
    values = [(date(2021, 6, 30), 12.0), (date(2021, 12, 31), 10.0), (date(2022, 6, 30), 9.0)]
    result, series = evaluated(plan, RANK, values, date(2022, 7, 10))
    data = chart_data(target, result, series, Lang.EN)
    assert data.better_up is False
    frame = frame_for(data)
    # Rank 9 (better) is drawn above rank 12 (worse).
    assert frame.y(9.0) < frame.y(12.0)
    reported = coords(
        next(p for p in ET.fromstring(render_chart(data, Lang.EN)).iter("path") if
             p.get("class") == "reported").get("d") or ""
    )  # fmt: skip
    assert reported[0][1] > reported[-1][1]


def test_a_target_without_data_draws_its_goal_only(plan: Plan) -> None:
    target = plan.targets[MOBILE]
    result, series = evaluated(plan, MOBILE, [], date(2021, 9, 1))
    assert result.status is Status.NO_DATA
    svg = render_chart(chart_data(target, result, series, Lang.ZH), Lang.ZH)
    root = ET.fromstring(svg)
    assert [c.get("class") for c in root.iter("circle") if c.get("class")] == ["goal"]
    assert not [p for p in root.iter("path") if p.get("class") in ("reported", "projection")]


def test_milestone_axis_is_labelled_with_stage_names(plan: Plan) -> None:
    target = plan.targets["economy.evaluation-system"]
    result, series = evaluated(plan, target.id, [(date(2021, 9, 30), 1.0)], date(2021, 10, 9))
    data = chart_data(target, result, series, Lang.ZH)
    assert data.stage_names == tuple(s.name_zh for s in target.stages)
    texts = [t.text for t in ET.fromstring(render_chart(data, Lang.ZH)).iter("text")]
    assert target.stages[0].name_zh in texts
    assert target.stages[-1].name_zh in texts


def test_ticks() -> None:
    # 20 months: every third month, on calendar quarters.
    assert month_ticks(date(2021, 5, 11), date(2022, 12, 31)) == [
        date(2021, 7, 1),
        date(2021, 10, 1),
        date(2022, 1, 1),
        date(2022, 4, 1),
        date(2022, 7, 1),
        date(2022, 10, 1),
    ]
    assert month_ticks(date(2022, 1, 1), date(2022, 3, 15)) == [
        date(2022, 1, 1),
        date(2022, 2, 1),
        date(2022, 3, 1),
    ]
    data = ChartData(
        goal=DatedValue(date(2022, 12, 31), 80.0),
        expected=(DatedValue(date(2021, 6, 30), 40.0), DatedValue(date(2022, 12, 31), 80.0)),
        points=(),
        projection=None,
        day=date(2022, 1, 1),
        status=Status.NO_DATA,
    )
    frame = frame_for(data)
    ticks = value_ticks(frame)
    assert ticks == [40.0, 50.0, 60.0, 70.0, 80.0]
    assert all(frame.low <= t <= frame.high for t in ticks)
