"""The scoring metrics a plan dashboard filters on carry the plan: targets by status, stale
targets by agency and alert transitions each have a `plan` label, and the per-plan target
counts add up to the targets the engine holds."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry

from services.scoring.engine import ScoringEngine
from services.scoring.memory_store import InMemoryScoringStore
from services.scoring.metrics import ScoringMetrics
from shared.catalog import load_catalog
from shared.domain.method_v1 import Status
from shared.domain.timebase import CST
from tests.unit.scoring_engine_cases import Collector
from tests.unit.scoring_streams import plan_stream


def _samples(registry: CollectorRegistry, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (dict(sample.labels), sample.value)
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name
    ]


async def test_per_plan_metrics_carry_the_plan_label() -> None:
    catalog = load_catalog()
    plan = next(iter(catalog.plans.values()))
    registry = CollectorRegistry()
    engine = ScoringEngine(
        catalog,
        InMemoryScoringStore(),
        Collector(),
        base_url="http://x",
        metrics=ScoringMetrics(registry),
    )
    events = plan_stream(plan, seed=3, until=datetime(2022, 3, 31).date())
    for i in range(0, len(events), 50):
        await engine.apply(events[i : i + 50])
    deadline = min(t.pace_until for t in plan.targets.values()) + timedelta(days=100)
    await engine.apply([], [datetime(deadline.year, deadline.month, deadline.day, 9, tzinfo=CST)])

    targets = _samples(registry, "planwatch_scoring_targets")
    assert {labels["plan"] for labels, _ in targets} == set(catalog.plans)
    assert {labels["status"] for labels, _ in targets} == {s.value for s in Status}
    scored = sum(1 for state in engine.states.values() if state.result is not None)
    assert scored and sum(value for _, value in targets) == scored

    stale = _samples(registry, "planwatch_scoring_agency_stale_targets")
    assert stale and {labels["plan"] for labels, _ in stale} == {plan.id}
    assert sum(value for _, value in stale) > 0  # 100 days past a deadline: reports overdue

    transitions = _samples(registry, "planwatch_scoring_alert_transitions_total")
    assert transitions and {labels["plan"] for labels, _ in transitions} == {plan.id}
