"""The scoring engine's behaviour, run against any ScoringStore: the in-memory fake (unit,
tests/unit/test_scoring_engine.py: milliseconds) and FerretDB (integration,
tests/integration/test_scoring_engine.py: the adapter under the same cases). The stored state
equals the offline method's output in any batching, order and crash.

Subclass `EngineCases` and provide a `stores` fixture: `stores(prefix)` gives the store of that
prefix, the same one for the same prefix (a restarted engine finds its state).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.scoring.engine import ScoringEngine
from services.scoring.store import ScoringStore
from shared.accepted import AcceptedEvent
from shared.catalog import load_catalog
from shared.contract.alert_event import decode_alert_event
from shared.domain.catalog import Catalog, Plan
from shared.domain.method_v1 import plan_state_to_json, score_plan
from shared.domain.timebase import CST
from shared.runtime.kafka import TransientError
from shared.runtime.publisher import Outbound
from tests.unit.scoring_streams import (
    firing_copies,
    plan_stream,
    reporters_stream,
    tracked_stream,
    with_two_reporters,
)

Stores = Callable[..., ScoringStore]


class Collector:
    def __init__(self) -> None:
        self.messages: list[Outbound] = []

    async def __call__(self, messages: Sequence[Outbound]) -> None:
        self.messages.extend(messages)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def plan(catalog: Catalog) -> Plan:
    return next(iter(catalog.plans.values()))


def engine_for(catalog: Catalog, store: ScoringStore) -> tuple[ScoringEngine, Collector]:
    collector = Collector()
    engine = ScoringEngine(catalog, store, collector, base_url="http://x")
    return engine, collector


def message_id(message: Outbound) -> str:
    value: str = json.loads(message.value)["id"]
    return value


async def feed(engine: ScoringEngine, events: Sequence[AcceptedEvent], batch: int) -> None:
    for i in range(0, len(events), batch):
        await engine.apply(events[i : i + batch])


def offline(plan: Plan, events: Sequence[AcceptedEvent], at: datetime) -> dict[str, Any]:
    return plan_state_to_json(score_plan(plan, [e.to_observation() for e in events], at))


async def stored_state(store: ScoringStore, plan: Plan) -> dict[str, Any]:
    doc = await store.plan(plan.id)
    assert doc is not None
    state: dict[str, Any] = json.loads(doc["state"])
    return state


class FlakyPublisher(Collector):
    """Fails every `every`-th call after the state was written (as a crash there would)."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = every
        self.calls = 0

    async def __call__(self, messages: Sequence[Outbound]) -> None:
        self.calls += 1
        if self.calls % self.every == 0:
            raise TransientError("Kafka did not confirm")
        await super().__call__(messages)


class EngineCases:
    async def test_stream_equals_offline_score(
        self, catalog: Catalog, plan: Plan, stores: Stores
    ) -> None:
        events = plan_stream(plan, seed=1)
        engine, collector = engine_for(catalog, stores())
        await feed(engine, events, batch=17)
        clock = max(e.reported_at for e in events)
        assert engine.clock == clock
        state = await stored_state(stores(), plan)
        expected = offline(plan, events, clock)
        assert state == expected
        # Something happened worth checking: several statuses, alerts, messages on both topics.
        assert len({t["status"] for t in expected["targets"].values()}) >= 3
        assert expected["alerts"]
        assert {m.topic for m in collector.messages} == {"planwatch.scores", "planwatch.alerts"}

        # A fresh engine on the same database reloads the same state and changes nothing.
        # Reloading re-sends the last outboxes: only duplicates of messages already sent.
        again, resent = engine_for(catalog, stores())
        outcome = await again.apply(events[:50])
        assert outcome.written == () and outcome.transitions == ()
        assert await stored_state(stores(), plan) == expected
        assert resent.messages
        assert {message_id(m) for m in resent.messages} <= {
            message_id(m) for m in collector.messages
        }

    async def test_shuffled_duplicated_twice_gives_the_same_state(
        self, catalog: Catalog, plan: Plan, stores: Stores
    ) -> None:
        events = plan_stream(plan, seed=2)
        clock = max(e.reported_at for e in events)
        engine, _ = engine_for(catalog, stores("a_"))
        await feed(engine, events, batch=40)

        rng = random.Random(5)
        messy = list(events) + rng.sample(events, len(events) // 3)
        rng.shuffle(messy)
        other, _ = engine_for(catalog, stores("b_"))
        await feed(other, messy, batch=23)
        await feed(other, messy, batch=64)  # delivered twice

        expected = offline(plan, events, clock)
        assert await stored_state(stores("a_"), plan) == expected
        assert await stored_state(stores("b_"), plan) == expected

    async def test_ticks_move_the_clock_to_stale_deadline_near_and_missed(
        self, catalog: Catalog, plan: Plan, stores: Stores
    ) -> None:
        events = plan_stream(plan, seed=3, until=datetime(2022, 3, 31).date())
        engine, _ = engine_for(catalog, stores())
        await feed(engine, events, batch=50)
        deadline = min(t.pace_until for t in plan.targets.values())
        for day in (deadline - timedelta(days=60), deadline + timedelta(days=100)):
            at = datetime(day.year, day.month, day.day, 9, tzinfo=CST)
            await engine.apply([], [at])
            await engine.apply([], [at])  # a duplicate tick is harmless
            state = await stored_state(stores(), plan)
            assert state == offline(plan, events, at)
        rules = {a["rule"] for a in state["alerts"]}
        assert {"report_overdue", "target_missed"} <= rules

    async def test_a_tiny_window_falls_back_to_all_points_and_agrees(
        self, catalog: Catalog, plan: Plan, stores: Stores
    ) -> None:
        """With a tail of 2 points, retractions and long regression scans need the full series."""
        events = plan_stream(plan, seed=4)
        collector = Collector()
        engine = ScoringEngine(catalog, stores(), collector, base_url="http://x", tail_size=2)
        fallbacks = 0
        for i in range(0, len(events), 9):
            fallbacks += (await engine.apply(events[i : i + 9])).fallbacks
        assert fallbacks > 0
        clock = max(e.reported_at for e in events)
        assert await stored_state(stores(), plan) == offline(plan, events, clock)

    @pytest.mark.parametrize("tail_size", [64, 2])
    async def test_two_reporters_and_breakdowns_equal_offline_v1_1(
        self, plan: Plan, stores: Stores, tail_size: int
    ) -> None:
        """Method v1.1 live: targets with two reporters (each retracting only its own figure) and
        scoped breakdowns from co-owners; in any batching, the stored plan state (statuses,
        roll-ups, coverage, breakdowns) equals the offline method's. A tail of 2 forces the
        fallbacks to the full series."""
        two = with_two_reporters(plan)
        catalog = Catalog(plans={two.id: two})
        events = reporters_stream(two, seed=11)
        assert any(e.scope for e in events) and any(e.value is None for e in events)
        engine = ScoringEngine(
            catalog, stores(), Collector(), base_url="http://x", tail_size=tail_size
        )
        rng = random.Random(tail_size)
        shuffled = rng.sample(events, len(events))  # order-free: any arrival order
        await feed(engine, shuffled, batch=13)
        clock = max(e.reported_at for e in events)
        state = await stored_state(stores(), two)
        expected = offline(two, events, clock)
        assert state == expected
        assert expected["breakdowns"]
        # Where the reporters disagree, the latest remaining figure of the date counts; a
        # retraction by one reporter leaves the other's figure standing.
        assert any(
            len({e.agency for e in events if e.target == t and not e.scope}) > 1
            for t in expected["targets"]
        )

    @pytest.mark.parametrize("batch", [1, 17])
    async def test_commitments_and_indicators_equal_offline(
        self, catalog: Catalog, plan: Plan, stores: Stores, batch: int
    ) -> None:
        """Deliverables and indicators (tracked, never scored) in any arrival order and batching:
        the stored plan state's `tracked` section equals the offline method's, and the scores do
        not move because of them."""
        targets = plan_stream(plan, seed=5, until=datetime(2023, 3, 31).date())
        tracked = tracked_stream(plan, seed=5)
        assert any(e.value is None for e in tracked) and any(e.evidence for e in tracked)
        events = random.Random(batch).sample([*targets, *tracked], len(targets) + len(tracked))
        engine, _ = engine_for(catalog, stores())
        await feed(engine, events, batch=batch)
        clock = max(e.reported_at for e in events)
        state = await stored_state(stores(), plan)
        expected = offline(plan, [*targets, *tracked], clock)
        assert state == expected
        assert state["overall"] == offline(plan, targets, clock)["overall"]
        commitments = state["tracked"]["commitments"]
        assert any(c["done"] for c in commitments.values())
        assert any(c["done"] < c["total"] for c in commitments.values())
        assert all(i["current"] for i in state["tracked"]["indicators"].values())

    async def test_a_restart_on_a_lagging_stored_clock_never_goes_back_in_time(
        self, catalog: Catalog, plan: Plan, stores: Stores
    ) -> None:
        events = plan_stream(plan, seed=7)
        first, sent = engine_for(catalog, stores())
        await feed(first, events, batch=13)
        latest = max(e.reported_at for e in events)
        # A crash after the target documents were written but before the clock was: the stored
        # clock is a year behind them.
        behind = latest - timedelta(days=365)
        await stores().write_meta({"at": behind.isoformat(), "at_us": 0})
        again, resent = engine_for(catalog, stores())
        await again.apply(events[:5])  # old events: a restart reads the state first
        assert again.clock == latest
        # Nothing it sends is judged at an earlier instant than what was sent before it.
        last_at = {
            alert.fingerprint: alert.at
            for alert in map(
                decode_alert_event,
                (m.value for m in sent.messages if m.topic == "planwatch.alerts"),
            )
        }
        for message in resent.messages:
            if message.topic == "planwatch.alerts":
                alert = decode_alert_event(message.value)
                assert alert.at >= last_at.get(alert.fingerprint, alert.at), alert.fingerprint
        assert await stored_state(stores(), plan) == offline(plan, events, latest)

    async def test_events_of_a_target_held_by_a_newer_owner_are_left_to_it(
        self, catalog: Catalog, plan: Plan, stores: Stores
    ) -> None:
        # A batch retried across a rebalance can hold events of a target whose document a newer
        # owner claimed meanwhile: they are left to it (it reads them again from the committed
        # offset), not a failed batch that would be dead-lettered.
        events = plan_stream(plan, seed=8)
        taken = events[0].target
        store = stores()
        await store.claim_targets({f"{plan.id}:{taken}": 99})  # a newer owner's epoch
        engine = ScoringEngine(
            catalog, store, Collector(), base_url="http://x", partition_of=lambda _: 0
        )
        engine.set_ownership({0})
        await feed(engine, events, batch=25)
        assert f"{plan.id}:{taken}" not in engine.states
        [doc] = await store.load_targets([f"{plan.id}:{taken}"])
        assert doc.get("result") is None  # nothing written for it here
        others = [e for e in events if e.target != taken]
        assert engine.results(plan.id)  # the rest was applied
        assert len(others) < len(events)

    async def test_publish_failures_and_restarts_lose_no_alert_transition(
        self, catalog: Catalog, plan: Plan, stores: Stores
    ) -> None:
        events = plan_stream(plan, seed=6)
        publisher = FlakyPublisher(every=4)
        engine = ScoringEngine(catalog, stores(), publisher, base_url="http://x")
        failures = 0
        for i in range(0, len(events), 11):
            while True:
                try:
                    await engine.apply(events[i : i + 11])
                    break
                except TransientError:
                    failures += 1
                    if failures % 2:  # half the time a "restart": a new engine, same database
                        engine = ScoringEngine(catalog, stores(), publisher, base_url="http://x")
        assert failures > 3
        clock = max(e.reported_at for e in events)
        expected = offline(plan, events, clock)
        assert await stored_state(stores(), plan) == expected
        # The alert messages actually sent, duplicates dropped by id, fold to the firing set.
        seen: dict[str, bytes] = {}
        firing: dict[str, str] = {}
        for message in publisher.messages:
            if message.topic != "planwatch.alerts":
                continue
            alert = decode_alert_event(message.value)
            if alert.id in seen:
                assert seen[alert.id] == message.value
                continue
            seen[alert.id] = message.value
            if alert.status.value == "resolved":
                firing.pop(alert.fingerprint, None)
            else:
                firing[alert.fingerprint] = alert.labels.severity.value
        assert firing == firing_copies(plan, expected["alerts"])
        assert len(firing) > len(expected["alerts"]), "co-owners get copies of their own"
