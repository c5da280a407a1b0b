"""What one applied batch, and one roll-up, tell the scoring metrics."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime

from services.scoring.metrics import ScoringMetrics
from services.scoring.target_state import Batch, TargetState
from shared.accepted import AcceptedEvent
from shared.domain.method_v1 import AlertTransition, PlanState, Status


def observe_batch(
    metrics: ScoringMetrics,
    *,
    events: Sequence[AcceptedEvent],
    ticks: Sequence[datetime],
    keys: Sequence[str],
    batch: Batch,
    transitions: Sequence[AlertTransition],
    plans: Iterable[str],
    states: Iterable[TargetState],
    clock: datetime | None,
    started: float,
    now: float,
) -> None:
    """`started`: the batch's perf_counter start; `now`: the wall clock, in seconds; `plans`:
    every plan of the catalog (a plan whose targets this replica no longer holds counts 0)."""
    metrics.rescore_duration.observe(time.perf_counter() - started)
    for key in keys:
        event = batch.last_event.get(key)
        trigger = "tick" if event is None else event.kind.value
        metrics.rescores.labels(trigger).inc()
    for event in events:
        metrics.event_to_score.observe(max(0.0, now - event.received_at.timestamp()))
    for transition in transitions:
        metrics.alert_transitions.labels(
            transition.plan, transition.rule.value, transition.severity.value, transition.kind.value
        ).inc()
    counts = {(plan, status): 0 for plan in plans for status in Status}
    for state in states:
        if state.result is not None:
            slot = (state.plan.id, state.result.status)
            counts[slot] = counts.get(slot, 0) + 1
    for (plan, status), n in counts.items():
        metrics.targets.labels(plan, status.value).set(n)
    if clock is not None:
        metrics.clock.set(clock.timestamp())
    if ticks:
        metrics.last_tick.set(now)


def observe_plans(metrics: ScoringMetrics, plan_states: Sequence[PlanState]) -> None:
    """What a roll-up tells the scoring metrics: the plans' scores and stale targets."""
    for plan_state in plan_states:
        if plan_state.total.score is not None:
            metrics.plan_score.labels(plan_state.plan).set(plan_state.total.score)
        for area_id, rollup in plan_state.areas.items():
            if rollup.score is not None:
                metrics.area_score.labels(plan_state.plan, area_id).set(rollup.score)
        for agency_id, card in plan_state.agencies.items():
            metrics.agency_stale_targets.labels(plan_state.plan, agency_id).set(card.stale)
