"""What a progress report holds, computed with the pure method from the accepted events.

`build_report` gives the plan's state at the end of a day (exactly `score_plan`, the same as
`planwatch score`), each target's effective series (for the charts) and the alert transitions
of the period. Those are found by re-evaluating every target at the end of each day on which a
report arrived and of every `step_days`-th day of the period, comparing its alert states with
the previous evaluation (`alert_transitions`): what a live service receiving the same events and
a clock tick every `step_days` days would have emitted, up to the instants within each day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from shared.domain.catalog import Plan, Target
from shared.domain.method_v1 import (
    AlertRule,
    AlertTransition,
    PlanState,
    SeriesPoint,
    Severity,
    Status,
    alert_states,
    alert_transitions,
    effective_series,
    evaluate_target,
    last_report_at,
    plan_state_to_json,
    score_plan,
)
from shared.domain.method_v1.status import BADNESS
from shared.domain.observation import Observation
from shared.domain.recent_reports import RECENT_REPORTS, known_winners, recent_reports
from shared.domain.timebase import cst_date, end_of_day

DEFAULT_STEP_DAYS = 7
NEEDS_ATTENTION: frozenset[Status] = frozenset(
    {Status.AT_RISK, Status.OFF_TRACK, Status.DETERIORATING, Status.MISSED}
)


class ReportPeriodError(ValueError):
    """The period asked for is empty (it starts after the report's day) or the step is not > 0."""


@dataclass(frozen=True, slots=True)
class PeriodTransition:
    day: date  # the evaluation day at whose end it happened
    transition: AlertTransition


@dataclass(frozen=True, slots=True)
class ReportData:
    plan: Plan
    state: PlanState
    state_json: dict[str, Any]  # plan_state_to_json(state): what `planwatch score` prints
    series: Mapping[str, tuple[SeriesPoint, ...]]  # effective series at the day, per target
    since: date  # first day of the period
    transitions: tuple[PeriodTransition, ...]  # by day, then target, then rule order
    evaluations: int  # evaluation days of the period
    # Each target's most recent reports known at the day, newest first, with their notes and
    # evidence (`shared.domain.recent_reports`: what the read API lists live).
    reports: Mapping[str, tuple[Observation, ...]] = field(default_factory=dict)

    @property
    def day(self) -> date:
        return self.state.day

    def needing_attention(self) -> list[str]:
        """Targets at risk or worse, or stale: worst status first, then lowest score, then id."""
        chosen = [
            tid for tid, r in self.state.targets.items() if r.status in NEEDS_ATTENTION or r.stale
        ]

        def key(tid: str) -> tuple[int, float, str]:
            r = self.state.targets[tid]
            badness = BADNESS.get(r.status, 2)
            return (-badness, r.score if r.score is not None else 0.0, tid)

        return sorted(chosen, key=key)

    def achievements(self) -> list[str]:
        return [tid for tid, r in self.state.targets.items() if r.status is Status.ACHIEVED]


def evaluation_days(
    since: date, day: date, report_days: Iterable[date], step_days: int
) -> list[date]:
    """Days of [since, day] to evaluate at: every step from `since`, report days, and `day`."""
    days = {since + timedelta(days=k) for k in range(0, (day - since).days + 1, step_days)}
    days.update(d for d in report_days if since <= d <= day)
    days.add(day)
    return sorted(days)


def alert_states_at(
    plan: Plan, target: Target, events: Sequence[Observation], day: date
) -> dict[AlertRule, Severity]:
    """The alerts firing for one target at the end of `day`."""
    at = end_of_day(day)
    result = evaluate_target(
        plan, target, effective_series(events, at), last_report_at(events, at), at
    )
    return alert_states(result)


def period_transitions(
    plan: Plan,
    by_target: Mapping[str, Sequence[Observation]],
    days: Sequence[date],
    before: date,
) -> list[PeriodTransition]:
    """Alert transitions between consecutive evaluations, starting from the state at `before`."""
    found: list[PeriodTransition] = []
    for target_id in sorted(plan.targets):
        target = plan.targets[target_id]
        events = by_target.get(target_id, ())
        previous = alert_states_at(plan, target, events, before)
        for d in days:
            current = alert_states_at(plan, target, events, d)
            trigger = f"tick:{end_of_day(d).isoformat()}"
            found.extend(
                PeriodTransition(d, t)
                for t in alert_transitions(plan.id, target_id, previous, current, trigger)
            )
            previous = current
    rule_order = {rule: i for i, rule in enumerate(AlertRule)}
    found.sort(key=lambda p: (p.day, p.transition.target, rule_order[p.transition.rule]))
    return found


def build_report(
    plan: Plan,
    observations: Sequence[Observation],
    day: date,
    since: date | None = None,
    step_days: int = DEFAULT_STEP_DAYS,
    *,
    reports_per_target: int = RECENT_REPORTS,
) -> ReportData:
    """The report's data as known at the end of `day`; the period runs from `since` (default:
    the plan's issue date) to `day`. Observations of targets the plan lacks are an error
    (`UnknownTargetError`, as in `score_plan`)."""
    start = plan.issued if since is None else since
    if start > day:
        raise ReportPeriodError(f"the period starts on {start}, after the report's day {day}")
    if step_days <= 0:
        raise ReportPeriodError(f"step_days must be positive, not {step_days}")
    at = end_of_day(day)
    state = score_plan(plan, observations, at)  # raises on an unknown target
    by_target: dict[str, list[Observation]] = {tid: [] for tid in plan.targets}
    for observation in observations:
        # Breakdowns never enter the headline (v1.1); deliverables and indicators are not
        # targets (they are in `state.tracked`).
        if observation.scope is None and observation.target in by_target:
            by_target[observation.target].append(observation)
    series = {tid: tuple(effective_series(events, at)) for tid, events in by_target.items()}
    report_days = {cst_date(o.reported_at) for o in observations}
    days = evaluation_days(start, day, report_days, step_days)
    transitions = period_transitions(plan, by_target, days, start - timedelta(days=1))
    return ReportData(
        plan=plan,
        state=state,
        state_json=plan_state_to_json(state),
        series=series,
        since=start,
        transitions=tuple(transitions),
        evaluations=len(days),
        reports={
            tid: tuple(recent_reports(known_winners(events, at), reports_per_target))
            for tid, events in by_target.items()
        },
    )
