"""Statuses, their order of badness, the status rules 1-8 and the -5..+5 score."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from shared.domain.catalog import Target

from .series import SeriesPoint
from .shares import Baseline, achieved, tolerance

MISSED_GRACE_DAYS = 90  # after the deadline, wait this long for a report dated at the deadline
ON_TRACK_R = 0.95
AT_RISK_R = 0.60
SCORE_MAX = 5.0
SCORE_MIN = -5.0


class Status(StrEnum):
    NO_DATA = "NO_DATA"
    ACHIEVED = "ACHIEVED"
    MISSED = "MISSED"
    DETERIORATING = "DETERIORATING"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    OFF_TRACK = "OFF_TRACK"


# ACHIEVED < ON_TRACK < INSUFFICIENT_DATA < AT_RISK < OFF_TRACK < DETERIORATING < MISSED;
# NO_DATA stands apart (absent here).
BADNESS: Mapping[Status, int] = MappingProxyType(
    {
        Status.ACHIEVED: 0,
        Status.ON_TRACK: 1,
        Status.INSUFFICIENT_DATA: 2,
        Status.AT_RISK: 3,
        Status.OFF_TRACK: 4,
        Status.DETERIORATING: 5,
        Status.MISSED: 6,
    }
)


def is_worse(a: Status, b: Status) -> bool | None:
    """Whether `a` is worse than `b`; None when either is NO_DATA (not comparable)."""
    if a is Status.NO_DATA or b is Status.NO_DATA:
        return None
    return BADNESS[a] > BADNESS[b]


def is_missed(target: Target, current: SeriesPoint, day: date) -> bool:
    """Rule 3: `c > t_d` and (`t_v >= t_d` or `c > t_d + 90 days`), on CST dates. An undated
    target (no date in the plan) is never missed."""
    t_d = target.deadline
    if t_d is None:
        return False
    return day > t_d and (current.as_of >= t_d or (day - t_d).days > MISSED_GRACE_DAYS)


def is_deteriorating(target: Target, baseline: Baseline, current: SeriesPoint) -> bool:
    """Rule 4: moved away by more than tol, or the baseline met the target (and v does not)."""
    d = target.direction
    tol = tolerance(target, baseline)
    return d * (current.value - baseline.value) < -tol or d * (target.target - baseline.value) <= 0


def classify(
    target: Target,
    baseline: Baseline | None,
    current: SeriesPoint | None,
    pace: float | None,
    day: date,
    *,
    deadline_rule: bool = True,
) -> Status:
    """The first of the rules 1-8 that holds. `deadline_rule=False` skips rule 3 (MISSED)."""
    if current is None or baseline is None:
        return Status.NO_DATA
    if achieved(target, current.value):
        return Status.ACHIEVED
    if deadline_rule and is_missed(target, current, day):
        return Status.MISSED
    if is_deteriorating(target, baseline, current):
        return Status.DETERIORATING
    if pace is None:
        return Status.INSUFFICIENT_DATA
    if pace >= ON_TRACK_R:
        return Status.ON_TRACK
    if pace >= AT_RISK_R:
        return Status.AT_RISK
    return Status.OFF_TRACK


def _score_from_pace(pace: float) -> float:
    if pace >= AT_RISK_R:
        return min(7.1429 * pace - 4.2857, SCORE_MAX)
    return max(4.1667 * pace - 2.5, SCORE_MIN)


def score(status: Status, pace: float | None) -> float | None:
    """The -5..+5 score of a target (Open SDG's constants); None leaves it out of averages."""
    if status is Status.ACHIEVED:
        return SCORE_MAX
    if status is Status.MISSED:
        return SCORE_MIN
    if status in (Status.NO_DATA, Status.INSUFFICIENT_DATA):
        return None
    if status is Status.DETERIORATING:
        if pace is not None and pace < 0:
            return max(4.1667 * pace - 2.5, SCORE_MIN)
        return SCORE_MIN
    if pace is None:  # ON_TRACK, AT_RISK, OFF_TRACK always come with a pace ratio
        raise ValueError(f"status {status} needs a pace ratio")
    return _score_from_pace(pace)


def status_from_score(value: float) -> Status:
    """An aggregate's status band: [2.5, 5] on track, [0, 2.5) at risk, [-2.5, 0) off track,
    [-5, -2.5) deteriorating."""
    if value >= 2.5:
        return Status.ON_TRACK
    if value >= 0:
        return Status.AT_RISK
    if value >= -2.5:
        return Status.OFF_TRACK
    return Status.DETERIORATING
