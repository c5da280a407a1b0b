"""A target's trajectory chart as an inline SVG string: pure, no library.

What it draws (the dashboard's script draws the same, from the read API):
- the expected path: from the baseline to the target value at the deadline, through the
  catalog's interim trajectory points (the path `expected_share` measures against);
- the reported points of the effective series, joined in date order;
- the least-squares projection: the method's line through the last 6 points, from the first
  of them to its value at the deadline;
- the evaluation day as a vertical rule.

Geometry lives in `Frame` (dates and values to pixels) so tests can check where things are.
For a "less is better" target (ranks) the value axis is flipped: up is always better.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from shared.domain.catalog import Kind, Target
from shared.domain.method_v1 import (
    Baseline,
    Projection,
    SeriesPoint,
    Status,
    TargetResult,
)
from shared.domain.method_v1.figures import PROJECTION_WINDOW
from shared.vocabulary import STATUS_COLOUR, Lang, word

EXPECTED_COLOUR = "#6e7781"
GOAL_COLOUR = "#0969da"
GRID_COLOUR = "#d8dee4"
TEXT_COLOUR = "#57606a"


@dataclass(frozen=True, slots=True)
class DatedValue:
    day: date
    value: float


@dataclass(frozen=True, slots=True)
class ChartData:
    """Everything a chart shows, in dates and the target's unit."""

    goal: DatedValue  # (deadline, target value)
    expected: tuple[DatedValue, ...]  # baseline .. goal; empty without a baseline
    points: tuple[DatedValue, ...]  # the effective series, by date
    projection: tuple[DatedValue, DatedValue] | None  # start of the fit window .. deadline
    day: date  # the evaluation day
    status: Status
    better_up: bool = True  # False: less is better (the value axis is flipped)
    stage_names: tuple[str, ...] = ()  # milestones: the label of each stage index


def expected_path(target: Target, baseline: Baseline) -> tuple[DatedValue, ...]:
    """Baseline, the interim trajectory points strictly between it and the deadline, goal."""
    knots = sorted(
        (p for p in target.trajectory if baseline.as_of < p.as_of < target.pace_until),
        key=lambda p: p.as_of,
    )
    return (
        DatedValue(baseline.as_of, baseline.value),
        *(DatedValue(p.as_of, p.value) for p in knots),
        DatedValue(target.pace_until, target.target),
    )


def projection_segment(
    target: Target, series: Sequence[SeriesPoint], projection: Projection | None
) -> tuple[DatedValue, DatedValue] | None:
    """The fitted line from the first point of the fit window to its value at the deadline."""
    if projection is None or not series:
        return None
    start = series[max(0, len(series) - PROJECTION_WINDOW)].as_of
    start_value = projection.value - projection.slope_per_day * (target.pace_until - start).days
    return DatedValue(start, start_value), DatedValue(target.pace_until, projection.value)


def chart_data(
    target: Target, result: TargetResult, series: Sequence[SeriesPoint], lang: Lang
) -> ChartData:
    """The chart of one target's result and the effective series it was computed from."""
    stage_names: tuple[str, ...] = ()
    if target.kind is Kind.MILESTONE:
        stage_names = tuple(s.name_zh if lang is Lang.ZH else s.name_en for s in target.stages)
    return ChartData(
        goal=DatedValue(target.pace_until, target.target),
        expected=expected_path(target, result.baseline) if result.baseline is not None else (),
        points=tuple(DatedValue(p.as_of, p.value) for p in series),
        projection=projection_segment(target, series, result.projection),
        day=result.day,
        status=result.status,
        better_up=target.direction > 0,
        stage_names=stage_names,
    )


# --- geometry ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """Maps dates (x) and values (y) into the plot area of a width x height picture."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    first: date
    last: date
    low: float
    high: float
    better_up: bool = True

    def x(self, day: date) -> float:
        span = (self.last - self.first).days
        plot = self.width - self.left - self.right
        return self.left + plot * (day - self.first).days / span

    def y(self, value: float) -> float:
        plot = self.height - self.top - self.bottom
        share = (value - self.low) / (self.high - self.low)
        if not self.better_up:
            share = 1.0 - share
        return self.top + plot * (1.0 - share)


def frame_for(data: ChartData, width: float = 640, height: float = 260) -> Frame:
    """A frame holding every date and value of the chart, values padded by 8% of their range."""
    dated = [data.goal, *data.expected, *data.points, *(data.projection or ())]
    days = [d.day for d in dated] + [data.day]
    first, last = min(days), max(days)
    if last <= first:
        last = first + timedelta(days=1)
    if data.stage_names:
        low, high = 0.0, float(max(len(data.stage_names) - 1, 1))
        values = [d.value for d in dated]
        low, high = min(low, *values), max(high, *values)
    else:
        values = [d.value for d in dated]
        low, high = min(values), max(values)
    pad = (high - low) * 0.08 if high > low else max(abs(high) * 0.1, 1.0)
    left = 150.0 if data.stage_names else 52.0
    return Frame(
        width, height, left, 16.0, 14.0, 44.0, first, last, low - pad, high + pad, data.better_up
    )


def _nice_step(span: float, most: int) -> float:
    raw = span / most
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def value_ticks(frame: Frame, most: int = 5) -> list[float]:
    step = _nice_step(frame.high - frame.low, most)
    first = math.ceil(frame.low / step) * step
    ticks: list[float] = []
    value = first
    while value <= frame.high + 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def month_ticks(first: date, last: date, most: int = 7) -> list[date]:
    """First days of months inside [first, last], every 1, 2, 3, 6 or 12 months."""
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    every = next((m for m in (1, 2, 3, 6, 12) if months / m <= most), 12 * math.ceil(months / 84))
    ticks: list[date] = []
    year, month = first.year, first.month
    if first.day != 1:
        month += 1
    while True:
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        tick = date(year, month, 1)
        if tick > last:
            return ticks
        if (month - 1) % every == 0:
            ticks.append(tick)
        month += 1


# --- SVG --------------------------------------------------------------------------------------


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _path(frame: Frame, points: Sequence[DatedValue]) -> str:
    return " ".join(
        f"{'M' if i == 0 else 'L'}{_n(frame.x(p.day))} {_n(frame.y(p.value))}"
        for i, p in enumerate(points)
    )


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def render_chart(data: ChartData, lang: Lang, width: float = 640, height: float = 260) -> str:
    """The chart as an `<svg>` element (no external references)."""
    f = frame_for(data, width, height)
    colour = STATUS_COLOUR[data.status]
    bottom = f.height - f.bottom
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {_n(width)} '
        f'{_n(height)}" width="{_n(width)}" height="{_n(height)}" role="img" '
        f'font-family="sans-serif" font-size="11">'
    ]
    # Grid and axes.
    if data.stage_names:
        y_ticks = [(float(i), name) for i, name in enumerate(data.stage_names)]
    else:
        y_ticks = [(v, _label(v)) for v in value_ticks(f)]
    for value, text in y_ticks:
        y = _n(f.y(value))
        parts.append(
            f'<line class="grid" x1="{_n(f.left)}" x2="{_n(f.width - f.right)}" y1="{y}" '
            f'y2="{y}" stroke="{GRID_COLOUR}" stroke-width="1"/>'
            f'<text x="{_n(f.left - 6)}" y="{y}" text-anchor="end" dominant-baseline="middle" '
            f'fill="{TEXT_COLOUR}">{escape(text[:14])}</text>'
        )
    for tick in month_ticks(f.first, f.last):
        tx = _n(f.x(tick))
        parts.append(
            f'<line class="grid" x1="{tx}" x2="{tx}" y1="{_n(f.top)}" y2="{_n(bottom)}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
            f'<text x="{tx}" y="{_n(bottom + 14)}" text-anchor="middle" '
            f'fill="{TEXT_COLOUR}">{tick.year}-{tick.month:02d}</text>'
        )
    day_x = _n(f.x(data.day))
    parts.append(
        f'<line class="today" x1="{day_x}" x2="{day_x}" y1="{_n(f.top)}" y2="{_n(bottom)}" '
        f'stroke="{TEXT_COLOUR}" stroke-width="1" stroke-dasharray="2 2"/>'
    )
    # Expected path, goal, reported points, projection.
    if data.expected:
        parts.append(
            f'<path class="expected" d="{_path(f, data.expected)}" fill="none" '
            f'stroke="{EXPECTED_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
    parts.append(
        f'<circle class="goal" cx="{_n(f.x(data.goal.day))}" cy="{_n(f.y(data.goal.value))}" '
        f'r="5" fill="none" stroke="{GOAL_COLOUR}" stroke-width="2"/>'
    )
    if data.projection is not None:
        start, end = data.projection
        parts.append(
            f'<path class="projection" d="{_path(f, (start, end))}" fill="none" '
            f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="2 3"/>'
            f'<circle class="projected" cx="{_n(f.x(end.day))}" cy="{_n(f.y(end.value))}" '
            f'r="3.5" fill="#fff" stroke="{colour}" stroke-width="1.5"/>'
        )
    if data.points:
        parts.append(
            f'<path class="reported" d="{_path(f, data.points)}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.extend(
            f'<circle class="point" cx="{_n(f.x(p.day))}" cy="{_n(f.y(p.value))}" r="3" '
            f'fill="{colour}"><title>{p.day.isoformat()}: {_label(p.value)}</title></circle>'
            for p in data.points
        )
    # Legend, under the axis labels.
    legend_y = _n(f.height - 8)
    items = [
        ("chart_expected", EXPECTED_COLOUR, "6 4"),
        ("chart_reported", colour, ""),
        ("chart_projection", colour, "2 3"),
    ]
    x = f.left
    for key, stroke, dash in items:
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{_n(x)}" x2="{_n(x + 22)}" y1="{legend_y}" y2="{legend_y}" '
            f'stroke="{stroke}" stroke-width="2"{dash_attr}/>'
            f'<text x="{_n(x + 27)}" y="{legend_y}" dominant-baseline="middle" '
            f'fill="{TEXT_COLOUR}">{escape(word(key, lang))}</text>'
        )
        x += 120
    parts.append(
        f'<circle cx="{_n(x + 6)}" cy="{legend_y}" r="5" fill="none" stroke="{GOAL_COLOUR}" '
        f'stroke-width="2"/><text x="{_n(x + 16)}" y="{legend_y}" dominant-baseline="middle" '
        f'fill="{TEXT_COLOUR}">{escape(word("goal", lang))}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
