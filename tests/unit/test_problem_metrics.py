"""Scoring's problem metrics: events folded by action, problems open by plan and state (zeros
included, so a resolved problem's count goes back down), escalations counted once."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from services.scoring.metrics import ScoringMetrics
from services.scoring.problem_desk import ProblemDesk
from services.scoring.problem_memory_store import InMemoryProblemStore
from services.scoring.problem_metrics import ProblemMetrics
from shared.domain.problems import ProblemAction
from tests.unit.test_problem_desk import ACK, AFTER, CATALOG, PLAN, RAISE, RESOLVE, T0, Sent, event


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


async def test_the_desk_counts_events_open_problems_and_escalations() -> None:
    registry = CollectorRegistry()
    metrics = ProblemMetrics(ScoringMetrics(registry), CATALOG.plans)
    desk = ProblemDesk(CATALOG, InMemoryProblemStore(), Sent(), base_url="http://svc/",
                       escalate_after=AFTER, metrics=metrics)  # fmt: skip
    other = event("o1", ProblemAction.RAISED, 1, problem_id="p-2")
    await desk.apply([RAISE, ACK, other], T0)
    await desk.escalate(T0 + timedelta(hours=2))
    gauge = "planwatch_scoring_problems_open"
    assert _value(registry, gauge, plan=PLAN, state="open") == 1
    assert _value(registry, gauge, plan=PLAN, state="acknowledged") == 1
    folded = "planwatch_scoring_problem_events_total"
    assert _value(registry, folded, action="raised") == 2
    assert _value(registry, folded, action="acknowledged") == 1

    # Both overdue: escalated once each, however often the clock moves.
    await desk.escalate(T0 + AFTER + timedelta(days=1))
    await desk.escalate(T0 + AFTER + timedelta(days=2))
    assert _value(registry, "planwatch_scoring_problems_escalated_total") == 2

    await desk.apply([RESOLVE], T0 + AFTER + timedelta(days=3))
    await desk.escalate(T0 + AFTER + timedelta(days=3))
    assert _value(registry, gauge, plan=PLAN, state="acknowledged") == 0
    assert _value(registry, gauge, plan=PLAN, state="open") == 1
    assert _value(registry, folded, action="resolved") == 1
