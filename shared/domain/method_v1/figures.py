"""Figures reported beside the status: cagr_ratio, projection, rates, days, staleness, regression.

Every function here reads at most the first point, the last 6 points and (for the regression
walk) a backward scan that stops at the last decisive step, so its cost does not grow with the
length of the series in the common case.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType

from shared.domain.catalog import Cadence, Plan, Target
from shared.domain.timebase import cst_date

from .series import SeriesPoint
from .shares import Baseline, achieved, progress_share, tolerance

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = 30.44
ZERO_REPLACEMENT = 0.001  # Eurostat / Open SDG: zeros are replaced before taking growth rates
PROJECTION_MIN_POINTS = 3
PROJECTION_WINDOW = 6

# (period, grace) in days per reporting cadence.
REPORTING_ALLOWANCE: Mapping[Cadence, tuple[int, int]] = MappingProxyType(
    {Cadence.MONTHLY: (31, 10), Cadence.QUARTERLY: (92, 20)}
)


def growth(v1: float, v0: float, years: float) -> float | None:
    """Compound annual growth `(v1 / v0)^(1/years) - 1`, zeros replaced by 0.001.

    None when the two values have opposite signs (Open SDG: "unable to assess"), and when the
    rate overflows a float (a baseline near zero, e.g. 1e-183, with a short span): no finite
    rate to compare.
    """
    v1 = v1 if v1 != 0 else ZERO_REPLACEMENT
    v0 = v0 if v0 != 0 else ZERO_REPLACEMENT
    ratio = v1 / v0
    if ratio < 0 or not math.isfinite(ratio):
        return None
    try:
        rate = float(ratio ** (1.0 / years) - 1.0)
    except OverflowError:
        return None
    return rate if math.isfinite(rate) else None


def cagr_ratio(target: Target, baseline: Baseline, current: SeriesPoint) -> float | None:
    """Eurostat's `sign * d * g(v, b, t_v - t_b) / |g(T, b, t_d - t_b)|`.

    Defined when `t_v - t_b >= 1 year`, a span in years being `days / 365.25` (so 365 days
    are not yet a year); none when the required rate is 0, when the deadline is not after the
    baseline, or when a growth rate crosses zero.
    """
    if (current.as_of - baseline.as_of).days / DAYS_PER_YEAR < 1:
        return None
    required_years = (target.pace_until - baseline.as_of).days / DAYS_PER_YEAR
    if required_years <= 0:
        return None
    observed = growth(
        current.value, baseline.value, (current.as_of - baseline.as_of).days / DAYS_PER_YEAR
    )
    required = growth(target.target, baseline.value, required_years)
    if observed is None or required is None or required == 0:
        return None
    sign = -1 if baseline.value < 0 else 1
    return sign * target.direction * observed / abs(required)


@dataclass(frozen=True, slots=True)
class Projection:
    value: float  # the least-squares line read at the deadline (undated: the plan's horizon)
    slope_per_day: float
    share: float | None  # its progress share; None when T = b
    likely: bool  # achieved(value)


def projection(
    target: Target, baseline: Baseline | None, series: Sequence[SeriesPoint]
) -> Projection | None:
    """Least squares of value on time (days) through the last 6 points, with at least 3."""
    n = len(series)
    if n < PROJECTION_MIN_POINTS:
        return None
    tail = series[max(0, n - PROJECTION_WINDOW) : n]
    origin = tail[-1].as_of  # days counted from the last point keep the numbers small
    xs = [float((p.as_of - origin).days) for p in tail]
    ys = [p.value for p in tail]
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx  # as_of dates are distinct, so sxx > 0
    value = mean_y + slope * ((target.pace_until - origin).days - mean_x)
    share = progress_share(target, baseline, value) if baseline is not None else None
    return Projection(value, slope, share, achieved(target, value))


def months_left(target: Target, day: date) -> float | None:
    """Months to the deadline; None for an undated target (no rate is required of it)."""
    if target.deadline is None:
        return None
    return (target.deadline - day).days / DAYS_PER_MONTH


def required_per_month(target: Target, current: SeriesPoint | None, day: date) -> float | None:
    """(T - v) / months_left, while months_left > 0."""
    left = months_left(target, day)
    if current is None or left is None or left <= 0:
        return None
    return (target.target - current.value) / left


@dataclass(frozen=True, slots=True)
class Staleness:
    days_since_report: int | None  # None: no report yet
    allowance_days: int  # period + grace
    stale: bool
    critical: bool  # past twice the allowance


def allowance_days(cadence: Cadence) -> int:
    period, grace = REPORTING_ALLOWANCE[cadence]
    return period + grace


def staleness(plan: Plan, target: Target, last_report: datetime | None, day: date) -> Staleness:
    """Stale once the days since the last report (or, with none, since plan issue) exceed the
    cadence's allowance; critical past twice it."""
    allowance = allowance_days(target.cadence)
    since = (day - cst_date(last_report)).days if last_report is not None else None
    elapsed = since if since is not None else (day - plan.issued).days
    return Staleness(since, allowance, elapsed > allowance, elapsed > 2 * allowance)


def regression_point(
    target: Target, baseline: Baseline | None, series: Sequence[SeriesPoint]
) -> SeriesPoint | None:
    """Where the `regression` walk ends: the point that ended the step which set it firing, or
    None when it is not firing.

    Walking forward, a step away from the target by more than tol sets it, any step toward the
    target resets it, other steps leave it. So its final state is decided by the last step that
    is either; scanning backward and stopping there gives the same answer.
    """
    if baseline is None:
        return None
    d = target.direction
    tol = tolerance(target, baseline)
    i = len(series) - 1
    while i >= 1:
        step = d * (series[i].value - series[i - 1].value)
        if step > 0:
            return None
        if step < -tol:
            return series[i]
        i -= 1
    return None
