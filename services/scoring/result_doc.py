"""A target's result in full, as stored on its document: lossless, so any replica can rebuild
the `TargetResult` another replica computed and roll the plan up from stored documents alone.
Pure. (The `result` field beside it is the CLI's JSON view, which drops what roll-ups and alert
rules still need: the pace status, the staleness allowance, the regression point.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from shared.domain.method_v1 import (
    Baseline,
    BaselineSource,
    Projection,
    SeriesPoint,
    Staleness,
    Status,
    TargetResult,
)

from .documents import point_from_doc, point_to_doc

JSON = dict[str, Any]


def _instant(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise ValueError(f"stored instant {text!r} has no offset")
    return instant


def _point_doc(point: SeriesPoint | None) -> JSON | None:
    return None if point is None else point_to_doc(point)


def _point(doc: Mapping[str, Any] | None) -> SeriesPoint | None:
    return None if doc is None else point_from_doc(doc)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def result_to_doc(result: TargetResult) -> JSON:
    baseline = result.baseline
    proj = result.projection
    stale = result.staleness
    return {
        "method": result.method,
        "plan": result.plan,
        "target": result.target,
        "at": result.at.isoformat(),
        "day": result.day.isoformat(),
        "status": result.status.value,
        "pace_status": result.pace_status.value,
        "score": result.score,
        "baseline": None
        if baseline is None
        else {
            "as_of": baseline.as_of.isoformat(),
            "value": baseline.value,
            "source": baseline.source.value,
        },
        "current": _point_doc(result.current),
        "points": result.points,
        "progress_share": result.progress_share,
        "expected_share": result.expected_share,
        "pace_ratio": result.pace_ratio,
        "cagr_ratio": result.cagr_ratio,
        "projection": None
        if proj is None
        else {
            "value": proj.value,
            "slope_per_day": proj.slope_per_day,
            "share": proj.share,
            "likely": proj.likely,
        },
        "observed_per_month": result.observed_per_month,
        "required_per_month": result.required_per_month,
        "days_left": result.days_left,
        "staleness": {
            "days_since_report": stale.days_since_report,
            "allowance_days": stale.allowance_days,
            "stale": stale.stale,
            "critical": stale.critical,
        },
        "regression_at": _point_doc(result.regression_at),
    }


def result_from_doc(doc: Mapping[str, Any]) -> TargetResult:
    """The inverse of `result_to_doc` (equal results, floats bit for bit)."""
    baseline = doc["baseline"]
    proj = doc["projection"]
    stale = doc["staleness"]
    return TargetResult(
        method=str(doc["method"]),
        plan=str(doc["plan"]),
        target=str(doc["target"]),
        at=_instant(doc["at"]),
        day=date.fromisoformat(doc["day"]),
        status=Status(doc["status"]),
        pace_status=Status(doc["pace_status"]),
        score=_optional_float(doc["score"]),
        baseline=None
        if baseline is None
        else Baseline(
            as_of=date.fromisoformat(baseline["as_of"]),
            value=float(baseline["value"]),
            source=BaselineSource(baseline["source"]),
        ),
        current=_point(doc["current"]),
        points=int(doc["points"]),
        progress_share=_optional_float(doc["progress_share"]),
        expected_share=_optional_float(doc["expected_share"]),
        pace_ratio=_optional_float(doc["pace_ratio"]),
        cagr_ratio=_optional_float(doc["cagr_ratio"]),
        projection=None
        if proj is None
        else Projection(
            value=float(proj["value"]),
            slope_per_day=float(proj["slope_per_day"]),
            share=_optional_float(proj["share"]),
            likely=bool(proj["likely"]),
        ),
        observed_per_month=_optional_float(doc["observed_per_month"]),
        required_per_month=_optional_float(doc["required_per_month"]),
        days_left=None if doc["days_left"] is None else int(doc["days_left"]),
        staleness=Staleness(
            days_since_report=None
            if stale["days_since_report"] is None
            else int(stale["days_since_report"]),
            allowance_days=int(stale["allowance_days"]),
            stale=bool(stale["stale"]),
            critical=bool(stale["critical"]),
        ),
        regression_at=_point(doc["regression_at"]),
    )
