"""The JSON view of a plan state: plain dicts, numbers unrounded, keys in a deterministic order."""

from __future__ import annotations

from typing import Any

from .breakdowns import ScopedFigure
from .evaluate import TargetResult
from .plan_state import PlanState
from .rollup import Rollup
from .series import SeriesPoint
from .shares import Baseline
from .tracked import CommitmentState, IndicatorState, Tracked

JSON = dict[str, Any]


def _point(point: SeriesPoint | Baseline | None) -> JSON | None:
    if point is None:
        return None
    return {"as_of": point.as_of.isoformat(), "value": point.value}


def rollup_to_json(rollup: Rollup) -> JSON:
    return {
        "score": rollup.score,
        "status": rollup.status.value if rollup.status is not None else None,
        "counts": {status.value: n for status, n in rollup.counts.items()},
        "coverage": rollup.coverage,
        "unscored": list(rollup.unscored),
    }


def scoped_to_json(figure: ScopedFigure) -> JSON:
    point = figure.current
    return {
        "as_of": point.as_of.isoformat(),
        "value": point.value,
        "agency": point.agency,
        "event_id": point.event_id,
        "points": figure.points,
        "progress_share": figure.progress_share,
    }


def target_to_json(result: TargetResult) -> JSON:
    proj = result.projection
    current = _point(result.current)
    if current is not None and result.current is not None:
        current["event_id"] = result.current.event_id
        current["agency"] = result.current.agency
    baseline = _point(result.baseline)
    if baseline is not None and result.baseline is not None:
        baseline["source"] = result.baseline.source.value
    return {
        "status": result.status.value,
        "score": result.score,
        "progress_share": result.progress_share,
        "expected_share": result.expected_share,
        "pace_ratio": result.pace_ratio,
        "cagr_ratio": result.cagr_ratio,
        "projected": proj.value if proj is not None else None,
        "projected_share": proj.share if proj is not None else None,
        "likely": proj.likely if proj is not None else None,
        "observed_per_month": result.observed_per_month,
        "required_per_month": result.required_per_month,
        "stale": result.stale,
        "days_left": result.days_left,
        "days_since_report": result.days_since_report,
        "regression": result.regression,
        "points": result.points,
        "current": current,
        "baseline": baseline,
    }


def _reported(point: SeriesPoint | None) -> JSON | None:
    if point is None:
        return None
    return {
        "as_of": point.as_of.isoformat(),
        "value": point.value,
        "agency": point.agency,
        "event_id": point.event_id,
    }


def commitment_to_json(state: CommitmentState) -> JSON:
    return {
        "task": state.task,
        "deadline": state.deadline.isoformat() if state.deadline else None,
        "done": state.done,
        "total": state.total,
        "late": state.late,
        "deliverables": {
            item.id: {
                "done": item.done,
                "current": _reported(item.current),
                "evidence": item.evidence,
                "note": item.note,
            }
            for item in state.deliverables
        },
    }


def indicator_to_json(state: IndicatorState) -> JSON:
    return {
        "task": state.task,
        "current": _reported(state.current),
        "change": state.change,
        "trend": [_point(p) for p in state.trend],
    }


def tracked_to_json(tracked: Tracked) -> JSON:
    tasks = tracked.tasks
    return {
        "tasks": {
            "total": tasks.total,
            "scored": list(tasks.scored),
            "tracked": list(tasks.tracked),
            "untracked": list(tasks.untracked),
        },
        "commitments": {cid: commitment_to_json(c) for cid, c in tracked.commitments.items()},
        "indicators": {iid: indicator_to_json(i) for iid, i in tracked.indicators.items()},
    }


def plan_state_to_json(state: PlanState) -> JSON:
    """The state as JSON-ready data; statuses upper case, dates ISO, floats as computed."""
    return {
        "method": state.method,
        "plan": state.plan,
        "at": state.day.isoformat(),
        "targets": {tid: target_to_json(r) for tid, r in state.targets.items()},
        "tasks": {tid: rollup_to_json(r) for tid, r in state.tasks.items()},
        "areas": {aid: rollup_to_json(r) for aid, r in state.areas.items()},
        # The plan level's roll-up. The brief's shape names both the plan id and this roll-up
        # "plan"; one JSON object cannot hold both, so the id keeps "plan".
        "overall": rollup_to_json(state.total),
        "agencies": {
            aid: {
                "lead": rollup_to_json(card.lead),
                "co": rollup_to_json(card.co),
                "stale": card.stale,
            }
            for aid, card in state.agencies.items()
        },
        "breakdowns": {
            tid: {scope: scoped_to_json(f) for scope, f in figures.items()}
            for tid, figures in state.breakdowns.items()
        },
        "tracked": tracked_to_json(state.tracked) if state.tracked is not None else None,
        "alerts": [
            {
                "fingerprint": alert.fingerprint,
                "rule": alert.rule.value,
                "target": alert.target,
                "severity": alert.severity.value,
            }
            for alert in state.alerts
        ],
    }
