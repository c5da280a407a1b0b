"""Baseline, achievement and the shares of distance and time (scoring.md, "Shares")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from shared.domain.catalog import Comparator, Kind, Plan, Target

from .series import SeriesPoint

MIN_PACE_DAYS = 28  # R is undefined when t_v - t_b is shorter than this


class BaselineSource(StrEnum):
    CATALOG = "catalog"
    MILESTONE_DEFAULT = "milestone_default"  # stage 0 at the plan's issue date
    FIRST_POINT = "first_point"


@dataclass(frozen=True, slots=True)
class Baseline:
    as_of: date
    value: float
    source: BaselineSource


def baseline_of(plan: Plan, target: Target, series: Sequence[SeriesPoint]) -> Baseline | None:
    """The catalog's baseline, else a milestone's stage 0 at plan issue, else the first point."""
    if target.baseline is not None:
        return Baseline(target.baseline.as_of, target.baseline.value, BaselineSource.CATALOG)
    if target.kind is Kind.MILESTONE:
        return Baseline(plan.issued, 0.0, BaselineSource.MILESTONE_DEFAULT)
    if len(series) == 0:
        return None
    first = series[0]
    return Baseline(first.as_of, first.value, BaselineSource.FIRST_POINT)


def achieved(target: Target, value: float) -> bool:
    """`value >= T`, `value > T` (strict: 超过) or `value <= T`, by the target's comparator."""
    if target.comparator is Comparator.GE:
        return value >= target.target
    if target.comparator is Comparator.GT:
        return value > target.target
    return value <= target.target


def tolerance(target: Target, baseline: Baseline) -> float:
    """Noise allowance: 1% of the distance from baseline to target."""
    return 0.01 * abs(target.target - baseline.value)


def progress_share(target: Target, baseline: Baseline, value: float) -> float | None:
    """p = (v - b) / (T - b); undefined when the baseline equals the target."""
    distance = target.target - baseline.value
    if distance == 0:
        return None
    return (value - baseline.value) / distance


def _clamp01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def expected_share(target: Target, baseline: Baseline, day: date) -> float | None:
    """e(t): the share of the distance expected to be covered by `day`.

    Without interim trajectory points it is the share of time elapsed, clamped to [0, 1] (when the
    baseline is not before the deadline: 0 before the deadline, 1 from it on). With them, the
    expected value is interpolated linearly through (t_b, b), the points strictly between t_b and
    t_d, and (t_d, T), held at b before t_b and at T after t_d; e is its share of the distance
    (undefined when T = b).
    """
    t_b, t_d = baseline.as_of, target.pace_until  # an undated target: the plan's horizon
    knots = [p for p in sorted(target.trajectory, key=lambda p: p.as_of) if t_b < p.as_of < t_d]
    if not knots:
        span = (t_d - t_b).days
        if span <= 0:
            return 1.0 if day >= t_d else 0.0
        return _clamp01((day - t_b).days / span)
    distance = target.target - baseline.value
    if distance == 0:
        return None
    xs = [t_b, *(p.as_of for p in knots), t_d]
    ys = [baseline.value, *(p.value for p in knots), target.target]
    if day <= t_b:
        expected = baseline.value
    elif day >= t_d:
        expected = target.target
    else:
        i = next(k for k in range(1, len(xs)) if day <= xs[k])
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        expected = y0 + (y1 - y0) * (day - x0).days / (x1 - x0).days
    return (expected - baseline.value) / distance


def pace_ratio(
    target: Target, baseline: Baseline, current: SeriesPoint
) -> tuple[float | None, float | None, float | None]:
    """(p, e(t_v), R) where R = p / e(t_v), undefined when t_v - t_b < 28 days or e(t_v) = 0."""
    p = progress_share(target, baseline, current.value)
    e = expected_share(target, baseline, current.as_of)
    if p is None or e is None or e == 0 or (current.as_of - baseline.as_of).days < MIN_PACE_DAYS:
        return p, e, None
    return p, e, p / e
