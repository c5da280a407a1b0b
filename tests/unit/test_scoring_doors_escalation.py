"""When the scoring service's doors escalate overdue problems: at the clock move itself, or,
beside the roll-up timer (`defer_escalation`), with the timer's next `periodic` run, so that a
batch never reads every open problem (in memory; the service wires the timer)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from aiokafka import TopicPartition

from services.scoring.engine import ScoringEngine
from services.scoring.memory_store import InMemoryScoringStore
from services.scoring.ownership import EngineDoors
from services.scoring.problem_alerts import PROBLEM_OVERDUE
from services.scoring.problem_desk import ProblemDesk
from services.scoring.problem_memory_store import InMemoryProblemStore
from shared.runtime.publisher import Outbound
from tests.unit.scoring_doors import doors_for_tests, tick_record
from tests.unit.test_problem_desk import AFTER, CATALOG, RAISE, T0, Sent


async def doors_with_a_raised_problem(*, defer: bool) -> tuple[EngineDoors, Sent]:
    async def publish(messages: Sequence[Outbound]) -> None:
        return

    async def dead_letter(dead: Sequence[Outbound], reasons: Sequence[str]) -> None:
        assert list(reasons) == []  # called for every batch, with nothing to send here

    engine = ScoringEngine(
        CATALOG,
        InMemoryScoringStore(),
        publish,
        base_url="http://svc/",
        defer_rollups=defer,
        partition_of=lambda target: 0,  # one partition, assigned below
    )
    sent = Sent()
    desk = ProblemDesk(
        CATALOG, InMemoryProblemStore(), sent, base_url="http://svc/", escalate_after=AFTER
    )
    await desk.apply([RAISE], None)
    doors = doors_for_tests(
        engine, wall=T0 + 3 * AFTER, dead_letter=dead_letter, problems=desk, defer_escalation=defer
    )
    await doors.start()
    await doors.assigned(frozenset({TopicPartition("accepted", 0)}))
    return doors, sent


def overdue(sent: Sent) -> list[str | None]:
    return [a.labels.problem for a in sent.alerts() if a.labels.alertname == PROBLEM_OVERDUE]


async def test_a_clock_move_escalates_at_once_without_the_timer() -> None:
    doors, sent = await doors_with_a_raised_problem(defer=False)
    await doors.clock([tick_record(T0 + 2 * AFTER, 1)])
    assert overdue(sent) == [RAISE.problem_id]
    assert not doors.periodic_due()  # rolled up with the tick, nothing left for a timer


@pytest.mark.parametrize("ticks", [1, 3])
async def test_beside_the_timer_a_clock_move_escalates_with_its_next_run_once(ticks: int) -> None:
    doors, sent = await doors_with_a_raised_problem(defer=True)
    for n in range(ticks):
        await doors.clock([tick_record(T0 + 2 * AFTER + timedelta(hours=n), n)])
    assert overdue(sent) == [] and doors.periodic_due()
    await doors.periodic()
    assert overdue(sent) == [RAISE.problem_id]
    assert not doors.periodic_due()
    await doors.periodic()  # nothing due: nothing sent again
    assert overdue(sent) == [RAISE.problem_id]
    assert doors.engine.clock == T0 + 2 * AFTER + timedelta(hours=ticks - 1)
    meta = await doors.engine.store.load_meta()
    assert meta is not None and meta["at_us"] > 0  # the clock was stored with the roll-up
