"""A whole plan's state at an instant: every target, the roll-ups, agencies, firing alerts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from shared.domain.catalog import Plan
from shared.domain.observation import Observation
from shared.domain.timebase import cst_date

from .alerts import FiringAlert, firing_alerts
from .breakdowns import ScopedFigure, breakdowns_of
from .evaluate import METHOD_VERSION, TargetResult, evaluate_target
from .rollup import AgencyScorecard, Rollup, agency_scorecards, roll_up
from .series import effective_series, last_report_at
from .tracked import Tracked, tracked_state


class UnknownTargetError(ValueError):
    """An observation names a target the plan does not have."""


@dataclass(frozen=True, slots=True)
class PlanState:
    method: str
    plan: str
    at: datetime
    day: date  # CST date of `at`
    targets: Mapping[str, TargetResult]  # every target of the plan, sorted by id
    tasks: Mapping[str, Rollup]
    areas: Mapping[str, Rollup]
    total: Rollup  # the plan level
    agencies: Mapping[str, AgencyScorecard]
    alerts: tuple[FiringAlert, ...]  # firing at `at`, sorted by (target, rule order)
    # v1.1: per target (only those with any), its scoped figures by scope; never scored.
    breakdowns: Mapping[str, Mapping[str, ScopedFigure]] = field(default_factory=dict)
    # Commitments and indicators (never scored) and the tasks scored / tracked / untracked.
    tracked: Tracked | None = None


def assemble_plan_state(
    plan: Plan,
    results: Mapping[str, TargetResult],
    at: datetime,
    breakdowns: Mapping[str, Mapping[str, ScopedFigure]] | None = None,
    tracked: Tracked | None = None,
) -> PlanState:
    """Roll up already evaluated target results (the live service's path: it keeps one result
    per target and rescores only the target an event touched)."""
    missing = plan.targets.keys() - results.keys()
    if missing:
        raise ValueError(f"plan {plan.id}: no result for targets {sorted(missing)}")
    ordered = {target_id: results[target_id] for target_id in sorted(plan.targets)}
    rollups = roll_up(plan, ordered)
    return PlanState(
        method=METHOD_VERSION,
        plan=plan.id,
        at=at,
        day=cst_date(at),
        targets=ordered,
        tasks=rollups.tasks,
        areas=rollups.areas,
        total=rollups.plan,
        agencies=agency_scorecards(plan, ordered),
        alerts=tuple(alert for result in ordered.values() for alert in firing_alerts(result)),
        breakdowns={t: figures for t, figures in sorted((breakdowns or {}).items()) if figures},
        tracked=tracked if tracked is not None else tracked_state(plan, {}, at),
    )


def score_plan(plan: Plan, observations: Iterable[Observation], at: datetime) -> PlanState:
    """The plan's state as known at `at` (an aware instant) from all accepted events.

    Events after `at` (by `reported_at`, or with `as_of` after its CST date) are ignored; an event
    for a target (or deliverable, or indicator) the plan does not have is an error.
    """
    cst_date(at)  # a naive instant is a ValueError here, before any comparison
    by_target: dict[str, list[Observation]] = {target_id: [] for target_id in plan.targets}
    scoped: dict[str, list[Observation]] = {target_id: [] for target_id in plan.targets}
    tracked: dict[str, list[Observation]] = {
        subject_id: [] for subject_id in [*plan.deliverables, *plan.indicators]
    }
    for observation in observations:
        if observation.target in tracked:
            tracked[observation.target].append(observation)
            continue
        bucket = (scoped if observation.scope is not None else by_target).get(observation.target)
        if bucket is None:
            raise UnknownTargetError(
                f"event {observation.event_id} names target {observation.target!r}, "
                f"which plan {plan.id} does not have"
            )
        bucket.append(observation)
    results = {
        target_id: evaluate_target(
            plan,
            plan.targets[target_id],
            effective_series(events, at),
            last_report_at(events, at),
            at,
        )
        for target_id, events in by_target.items()
    }
    breakdowns = {
        target_id: breakdowns_of(plan.targets[target_id], events, at)
        for target_id, events in scoped.items()
        if events
    }
    return assemble_plan_state(plan, results, at, breakdowns, tracked_state(plan, tracked, at))
