"""One target's result at an instant c, from its effective series.

Cost: reads `series[0]` (only for a baseline taken from the first point), `series[-1]`, the last
6 points (projection) and a backward scan for `regression` that stops at the last step that moved
away by more than tol or toward the target. It never iterates the whole series in the common
case, so 10 or 10,000 points cost the same.

Time: `at` is an aware instant. Only its CST date (`day`) enters day arithmetic (MISSED, days
left, days since report, staleness, months left); the exact instant is only used by the caller to
decide which events are known (`reported_at <= at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from shared.domain.catalog import Plan, Target
from shared.domain.timebase import cst_date

from .figures import (
    DAYS_PER_MONTH,
    Projection,
    Staleness,
    cagr_ratio,
    projection,
    regression_point,
    required_per_month,
    staleness,
)
from .series import SeriesError, SeriesPoint
from .shares import Baseline, baseline_of, pace_ratio
from .status import Status, classify, score

METHOD_VERSION = "v1.1"


@dataclass(frozen=True, slots=True)
class TargetResult:
    method: str
    plan: str
    target: str
    at: datetime
    day: date  # CST date of `at`
    status: Status
    # The status by rules 1, 2, 4-8 (rule 3, MISSED, skipped): what the pace says regardless of
    # the deadline. `status_degraded` uses it while the target is MISSED.
    pace_status: Status
    score: float | None
    baseline: Baseline | None
    current: SeriesPoint | None
    points: int  # length of the effective series
    progress_share: float | None  # p, unclamped
    expected_share: float | None  # e(t_v)
    pace_ratio: float | None  # R
    cagr_ratio: float | None
    projection: Projection | None
    observed_per_month: float | None  # slope of the projection line, per 30.44 days
    required_per_month: float | None
    days_left: int | None  # t_d - c, may be negative; None: no date in the plan
    staleness: Staleness
    regression_at: SeriesPoint | None  # the point ending the step that set `regression` firing

    @property
    def stale(self) -> bool:
        return self.staleness.stale

    @property
    def days_since_report(self) -> int | None:
        return self.staleness.days_since_report

    @property
    def regression(self) -> bool:
        return self.regression_at is not None


def evaluate_target(
    plan: Plan,
    target: Target,
    series: Sequence[SeriesPoint],
    last_report: datetime | None,
    at: datetime,
) -> TargetResult:
    """Score one target at `at` from its effective series as known at `at`, sorted by `as_of`.

    `last_report` is the greatest `reported_at <= at` of the target's reports (see
    `series.last_report_at`). The series is trusted to be sorted and known at `at` (checking
    would cost a pass over it); only its last point is checked.
    """
    day = cst_date(at)
    current = series[-1] if len(series) else None
    if current is not None and current.as_of > day:
        raise SeriesError(
            f"target {target.id}: point as of {current.as_of} is after the evaluation day {day}"
        )
    baseline = baseline_of(plan, target, series)
    p = e = r = None
    if current is not None and baseline is not None:
        p, e, r = pace_ratio(target, baseline, current)
    status = classify(target, baseline, current, r, day)
    pace_status = (
        classify(target, baseline, current, r, day, deadline_rule=False)
        if status is Status.MISSED
        else status
    )
    proj = projection(target, baseline, series)
    return TargetResult(
        method=METHOD_VERSION,
        plan=plan.id,
        target=target.id,
        at=at,
        day=day,
        status=status,
        pace_status=pace_status,
        score=score(status, r),
        baseline=baseline,
        current=current,
        points=len(series),
        progress_share=p,
        expected_share=e,
        pace_ratio=r,
        cagr_ratio=(
            cagr_ratio(target, baseline, current)
            if current is not None and baseline is not None
            else None
        ),
        projection=proj,
        observed_per_month=proj.slope_per_day * DAYS_PER_MONTH if proj is not None else None,
        required_per_month=required_per_month(target, current, day),
        days_left=None if target.deadline is None else (target.deadline - day).days,
        staleness=staleness(plan, target, last_report, day),
        regression_at=regression_point(target, baseline, series),
    )
