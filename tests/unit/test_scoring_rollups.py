"""Deferred roll-ups: with `defer_rollups` a batch only marks its plans due and the service's
timer rolls them up, at most once per interval and trailing the last batch; the plan document
it writes is the one rolling up after every batch writes."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.scoring.engine import ScoringEngine
from services.scoring.memory_store import InMemoryScoringStore
from services.scoring.metrics import ScoringMetrics
from services.scoring.rollup_timer import RollupTimer
from shared.catalog import load_catalog
from shared.domain.timebase import CST
from shared.runtime.mongo import Document
from tests.unit.scoring_engine_cases import Collector
from tests.unit.scoring_streams import plan_stream

CATALOG = load_catalog()
PLAN = next(iter(CATALOG.plans.values()))
EVENTS = plan_stream(PLAN, seed=5, until=datetime(2022, 3, 31).date())


def _state(doc: Document | None) -> Any:
    assert doc is not None
    return json.loads(doc["state"]), doc["clock"]


async def _run(engine: ScoringEngine) -> None:
    for i in range(0, len(EVENTS), 40):
        await engine.apply(EVENTS[i : i + 40])
    deadline = min(t.pace_until for t in PLAN.targets.values()) + timedelta(days=30)
    await engine.apply([], [datetime(deadline.year, deadline.month, deadline.day, 9, tzinfo=CST)])


async def test_a_deferred_roll_up_writes_what_rolling_up_every_batch_writes() -> None:
    every = InMemoryScoringStore()
    await _run(ScoringEngine(CATALOG, every, Collector(), base_url="http://x"))

    registry = CollectorRegistry()
    store = InMemoryScoringStore()
    engine = ScoringEngine(
        CATALOG,
        store,
        Collector(),
        base_url="http://x",
        metrics=ScoringMetrics(registry),
        defer_rollups=True,
    )
    await _run(engine)
    assert await store.plan(PLAN.id) is None  # the batches wrote no plan document
    assert PLAN.id in engine.rollups_due

    states = await engine.roll_up_due()
    assert [s.plan for s in states] == [PLAN.id]
    assert not engine.rollups_due
    assert _state(await store.plan(PLAN.id)) == _state(await every.plan(PLAN.id))
    assert registry.get_sample_value("planwatch_scoring_rollups_total") == len(CATALOG.plans)
    assert registry.get_sample_value("planwatch_scoring_rollup_duration_seconds_count") == 1
    assert registry.get_sample_value("planwatch_scoring_plan_score", {"plan": PLAN.id}) is not None
    assert await engine.roll_up_due() == []  # nothing due: nothing read


async def test_a_failed_roll_up_leaves_its_plans_due() -> None:
    class Failing(InMemoryScoringStore):
        fail = True

        async def write_plan(self, plan: str, fields: Document, clock_us: int, basis: int) -> bool:
            if self.fail:
                raise ConnectionError("MongoDB away")
            return await super().write_plan(plan, fields, clock_us, basis)

    store = Failing()
    engine = ScoringEngine(CATALOG, store, Collector(), base_url="http://x", defer_rollups=True)
    await engine.apply(EVENTS[:20])
    with pytest.raises(ConnectionError):
        await engine.roll_up_due()
    assert PLAN.id in engine.rollups_due
    store.fail = False
    await engine.roll_up_due()
    assert not engine.rollups_due and await store.plan(PLAN.id) is not None


async def test_the_timer_trails_runs_at_most_once_per_interval_and_retries() -> None:
    due = [False]
    runs: list[float] = []
    failures = [1]

    async def run() -> None:
        runs.append(asyncio.get_running_loop().time())
        if failures[0]:
            failures[0] -= 1
            raise ConnectionError("MongoDB away")
        due[0] = False

    timer = RollupTimer(0.05, run, lambda: due[0])
    await timer.start()
    await asyncio.sleep(0.12)
    assert runs == []  # nothing due, nothing run
    due[0] = True  # a batch marked a plan, and no more events come
    await asyncio.sleep(0.2)
    assert len(runs) == 2 and not due[0]  # failed once (logged), then trailed
    assert runs[1] - runs[0] >= 0.04
    await timer.stop()


async def test_stopping_the_timer_rolls_up_what_is_due_once() -> None:
    due = [True]
    runs = 0

    async def run() -> None:
        nonlocal runs
        runs += 1
        due[0] = False

    timer = RollupTimer(3600, run, lambda: due[0])
    await timer.start()
    await timer.stop()
    assert runs == 1
    await timer.stop()  # stopped: nothing more
    assert runs == 1
    with pytest.raises(ValueError, match="positive"):
        RollupTimer(0, run, lambda: True)
