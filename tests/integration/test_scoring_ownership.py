"""Scoring engines sharing one store as replicas do: each owns the targets of its input
partitions, a stale owner is fenced, and roll-ups come from the stored documents whoever wrote
them. Real FerretDB; the engines' publishers collect messages (no Kafka here:
test_scoring_replicas.py runs whole replicas over the real broker)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.digest import state_digest
from services.scoring.engine import ScoringEngine
from services.scoring.store import MongoScoringStore
from shared import topics
from shared.accepted import AcceptedEvent
from shared.catalog import load_catalog
from shared.domain.catalog import Catalog, Plan
from shared.domain.method_v1 import plan_state_to_json, score_plan
from shared.domain.timebase import cst_date
from shared.runtime.dead_letters import DLT_OFFSET, DLT_REASON
from shared.runtime.kafka import key_partition
from shared.runtime.publisher import Outbound
from tests.unit.scoring_doors import doors_for_tests, tick_record
from tests.unit.scoring_streams import plan_stream, tracked_stream

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
PARTITIONS = topics.PARTITIONS[topics.ACCEPTED]


class Collector:
    def __init__(self) -> None:
        self.messages: list[Outbound] = []

    async def __call__(self, messages: Sequence[Outbound]) -> None:
        self.messages.extend(messages)


def partition_of(target: str) -> int:
    return key_partition(target.encode("utf-8"), PARTITIONS)


def replica(
    catalog: Catalog, db: AsyncDatabase[Doc], prefix: str
) -> tuple[ScoringEngine, Collector]:
    collector = Collector()
    engine = ScoringEngine(
        catalog,
        MongoScoringStore(db, prefix),
        collector,
        base_url="http://x",
        partition_of=partition_of,
    )
    return engine, collector


def offline(plan: Plan, events: Sequence[AcceptedEvent]) -> dict[str, Any]:
    at = max(e.reported_at for e in events)
    return plan_state_to_json(score_plan(plan, [e.to_observation() for e in events], at))


async def stored_plan(db: AsyncDatabase[Doc], prefix: str, plan: Plan) -> dict[str, Any] | None:
    doc = await MongoScoringStore(db, prefix).plan(plan.id)
    return json.loads(doc["state"]) if doc else None


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def plan(catalog: Catalog) -> Plan:
    return next(iter(catalog.plans.values()))


async def test_two_owners_roll_up_what_one_engine_computes(
    catalog: Catalog, plan: Plan, mongo_db: AsyncDatabase[Doc]
) -> None:
    # Targets, and deliverables and indicators (owned and fenced by partition like targets).
    both = [*plan_stream(plan, seed=5), *tracked_stream(plan, seed=5)]
    events = sorted(both, key=lambda e: (e.reported_at, e.event_id))
    a, _ = replica(catalog, mongo_db, "two_")
    b, _ = replica(catalog, mongo_db, "two_")
    a.set_ownership(range(0, 3))
    b.set_ownership(range(3, PARTITIONS))
    await a.load()
    await b.load()
    assert set(a.states).isdisjoint(b.states) and len(a.states) + len(b.states) == len(plan.targets)
    clock = max(e.reported_at for e in events)
    for i in range(0, len(events), 25):  # each replica gets its partitions' events
        chunk = events[i : i + 25]
        await a.apply([e for e in chunk if a.owns(e.target)])
        await b.apply([e for e in chunk if b.owns(e.target)])
    # The shared clock reaches both (what the sync topic does between processes).
    await a.apply([], clock_to=clock)
    await b.apply([], clock_to=clock)
    assert await stored_plan(mongo_db, "two_", plan) == offline(plan, events)

    # One engine owning everything, over the same events: the same digest.
    lone = ScoringEngine(
        catalog, MongoScoringStore(mongo_db, "one_"), Collector(), base_url="http://x"
    )
    for i in range(0, len(events), 25):
        await lone.apply(events[i : i + 25])
    assert await state_digest(MongoScoringStore(mongo_db, "one_")) == await state_digest(
        MongoScoringStore(mongo_db, "two_")
    )


async def test_a_stale_owner_writes_and_publishes_nothing(
    catalog: Catalog, plan: Plan, mongo_db: AsyncDatabase[Doc]
) -> None:
    events = plan_stream(plan, seed=9)
    half = len(events) // 2
    old, old_out = replica(catalog, mongo_db, "fence_")
    old.set_ownership(range(PARTITIONS))
    await old.apply(events[:half])  # loads (claims every partition), then applies
    assert old_out.messages
    before = len(old_out.messages)

    # The old owner is paused past its session; Kafka gives every partition to a new one,
    # which claims them (a newer epoch) and goes on with the rest of the stream.
    new, new_out = replica(catalog, mongo_db, "fence_")
    new.set_ownership(range(PARTITIONS))
    await new.apply(events[half:])
    assert await stored_plan(mongo_db, "fence_", plan) == offline(plan, events)
    store = MongoScoringStore(mongo_db, "fence_")
    docs_after_new = {d["_id"]: d for d in await store.load_targets()}

    # The old owner resumes with a batch in hand (events it had already applied, plus a
    # correction it would score from its stale memory): every write is refused, nothing leaves.
    resumed = await old.apply(events[half - 30 : half + 10])
    assert resumed.written == () and resumed.transitions == ()
    assert len(old_out.messages) == before, "a fenced replica published on the new owner's behalf"
    assert old.owned == frozenset() and old.states == {}
    docs_now = {d["_id"]: d for d in await store.load_targets()}
    assert docs_now == docs_after_new
    assert await stored_plan(mongo_db, "fence_", plan) == offline(plan, events)
    assert new_out.messages  # the new owner kept publishing


async def test_a_tick_later_on_the_same_day_moves_the_plan_clock(
    catalog: Catalog, plan: Plan, mongo_db: AsyncDatabase[Doc]
) -> None:
    events = plan_stream(plan, seed=3)
    engine, _ = replica(catalog, mongo_db, "tick_")
    engine.set_ownership(range(PARTITIONS))
    await engine.apply(events)
    store = MongoScoringStore(mongo_db, "tick_")
    first = await store.plan(plan.id)
    assert first is not None
    clock = max(e.reported_at for e in events)
    later = clock + timedelta(seconds=1)
    assert cst_date(later) == cst_date(clock)  # the day-level state cannot change
    await engine.apply([], [later])
    second = await store.plan(plan.id)
    assert second is not None and second["clock"] == later.isoformat()
    assert json.loads(second["state"])["at"] == json.loads(first["state"])["at"]  # same CST day


async def test_a_tick_ahead_of_the_wall_clock_is_refused_not_applied(
    catalog: Catalog, plan: Plan, mongo_db: AsyncDatabase[Doc]
) -> None:
    engine, _ = replica(catalog, mongo_db, "skew_")
    engine.set_ownership(range(PARTITIONS))
    await engine.load()
    refused: list[Outbound] = []
    counted: list[str] = []

    async def dead_letter(dead: Sequence[Outbound], reasons: Sequence[str]) -> None:
        refused.extend(dead)

    wall = datetime(2022, 6, 1, 9, 0, tzinfo=UTC)
    doors = doors_for_tests(
        engine, wall=wall, dead_letter=dead_letter, on_tick_refused=counted.append
    )
    typo = wall.replace(year=2032)  # one digit off: would move scoring ten years ahead
    await doors.clock([tick_record(wall - timedelta(hours=1), 1), tick_record(typo, 2)])
    assert engine.clock == wall - timedelta(hours=1)  # the good tick applied, the typo not
    [dead] = refused
    assert dead.header(DLT_REASON) == b"tick_in_future" and dead.header(DLT_OFFSET) == b"2"
    assert counted == ["tick_in_future"]
    await doors.clock([tick_record(wall + timedelta(minutes=4), 3)])  # within the skew
    assert engine.clock == wall + timedelta(minutes=4)
