"""The durable batch processor: commit only after the work succeeds, retry transient failures."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker
from pymongo.errors import ServerSelectionTimeoutError

from shared.runtime.backoff import backoff_delay
from shared.runtime.kafka import (
    BatchGate,
    DurableBatchProcessor,
    Record,
    TransientError,
    batch_positions,
    batch_subscriber,
    first_offsets,
    is_transient,
    next_offsets,
)
from shared.runtime.settings import KafkaSettings, RetrySettings
from tests.unit.fake_records import FakeRecord


@dataclass
class FakeConsumer:
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)
    assigned: set[TopicPartition] = field(
        default_factory=lambda: {TopicPartition("t", 0), TopicPartition("t", 1)}
    )

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


RECORDS: list[Record] = [
    FakeRecord("t", 0, 10),
    FakeRecord("t", 1, 3),
    FakeRecord("t", 0, 11),
    FakeRecord("t", 1, 4),
]


def test_offsets_per_partition() -> None:
    assert next_offsets(RECORDS) == {TopicPartition("t", 0): 12, TopicPartition("t", 1): 5}
    assert first_offsets(RECORDS) == {TopicPartition("t", 0): 10, TopicPartition("t", 1): 3}


def test_backoff_is_bounded_and_grows() -> None:
    rng = random.Random(7)
    ceilings = [min(10.0, 0.2 * 2 ** (n - 1)) for n in range(1, 10)]
    for attempt, ceiling in enumerate(ceilings, start=1):
        assert 0 <= backoff_delay(attempt, 0.2, 10.0, rng) <= ceiling


def test_transient_classification() -> None:
    assert is_transient(ServerSelectionTimeoutError("no server"))
    assert is_transient(TransientError("kafka"))
    assert is_transient(TimeoutError())
    assert not is_transient(ValueError("bug"))


async def _no_sleep(_: float) -> None:
    return None


async def test_commits_after_success() -> None:
    consumer = FakeConsumer()
    seen: list[int] = []

    async def work(records: Sequence[Record]) -> None:
        seen.extend(r.offset for r in records)

    processor = DurableBatchProcessor(retry=RetrySettings(), sleep=_no_sleep)
    assert await processor.process(consumer, RECORDS, work)
    assert seen == [10, 3, 11, 4]
    assert consumer.commits == [{TopicPartition("t", 0): 12, TopicPartition("t", 1): 5}]


async def test_transient_failure_retries_then_commits_once() -> None:
    consumer = FakeConsumer()
    calls = 0
    retried: list[BaseException] = []

    async def work(records: Sequence[Record]) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ServerSelectionTimeoutError("mongo down")

    processor = DurableBatchProcessor(
        retry=RetrySettings(), sleep=_no_sleep, on_retry=retried.append
    )
    assert await processor.process(consumer, RECORDS, work)
    assert calls == 3
    assert len(retried) == 2
    assert len(consumer.commits) == 1


async def test_gives_up_by_rewinding_without_commit() -> None:
    consumer = FakeConsumer()

    async def work(records: Sequence[Record]) -> None:
        raise ServerSelectionTimeoutError("mongo down for good")

    processor = DurableBatchProcessor(
        retry=RetrySettings(give_up_after_s=0.001, initial_s=0.001), sleep=_no_sleep
    )

    async def slow_sleep(_: float) -> None:
        await asyncio.sleep(0.002)

    processor.sleep = slow_sleep
    assert not await processor.process(consumer, RECORDS, work)
    assert consumer.commits == []
    assert sorted(consumer.seeks) == sorted(
        [(TopicPartition("t", 0), 10), (TopicPartition("t", 1), 3)]
    )


async def test_empty_batch_commits_nothing() -> None:
    consumer = FakeConsumer()

    async def work(records: Sequence[Record]) -> None:
        pytest.fail("no work for an empty batch")

    processor = DurableBatchProcessor(retry=RetrySettings(), sleep=_no_sleep)
    assert await processor.process(consumer, [], work)
    assert consumer.commits == []


async def test_a_bug_is_not_retried_for_ever_it_goes_to_the_dead_letter_route() -> None:
    # Before: every exception was retried with backoff, then rewound and fetched again: a
    # deterministic bug stalled the partition for good, visible only as a metric label.
    consumer = FakeConsumer()
    calls = 0
    routed: list[tuple[list[int], str]] = []

    async def work(records: Sequence[Record]) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug")

    async def dead_letter(records: Sequence[Record], exc: BaseException) -> None:
        routed.append(([r.offset for r in records], repr(exc)))

    processor = DurableBatchProcessor(
        retry=RetrySettings(), sleep=_no_sleep, on_permanent=dead_letter
    )
    assert await processor.process(consumer, RECORDS, work)
    assert calls == processor.max_unexpected_attempts == 3
    assert routed == [([10, 3, 11, 4], "ValueError('a bug')")]
    assert len(consumer.commits) == 1  # the partition goes on


async def test_a_bug_without_a_dead_letter_route_is_rewound_loudly_and_soon() -> None:
    consumer = FakeConsumer()

    async def work(records: Sequence[Record]) -> None:
        raise ValueError("a bug")

    processor = DurableBatchProcessor(retry=RetrySettings(), sleep=_no_sleep)
    assert not await processor.process(consumer, RECORDS, work)  # after 3 tries, not 120 s
    assert consumer.commits == []
    assert len(consumer.seeks) == 2


async def test_a_failing_dead_letter_route_keeps_the_batch() -> None:
    consumer = FakeConsumer()
    attempts = 0

    async def work(records: Sequence[Record]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 5:
            raise ValueError("a bug that goes away")

    async def route_down(records: Sequence[Record], exc: BaseException) -> None:
        raise TransientError("kafka away")

    processor = DurableBatchProcessor(
        retry=RetrySettings(), sleep=_no_sleep, on_permanent=route_down
    )
    # The route failed at the third attempt, so nothing was lost: the work ran again.
    assert await processor.process(consumer, RECORDS, work)
    assert attempts == 5 and len(consumer.commits) == 1


def test_batch_positions_name_each_partition_span() -> None:
    assert batch_positions(RECORDS) == "t[0]:10-11 t[1]:3-4"


def test_a_rebalance_waits_for_the_batch_in_hand_not_just_a_session() -> None:
    """The gate holds a rebalance until the batch is committed: the broker must wait longer
    than a batch may take (it is rewound after give_up_after_s), not aiokafka's default, the
    session timeout, which expelled members of slow batches again and again (chaos suite)."""
    options: dict[str, Any] = {}

    class Broker:
        def subscriber(self, *topics: str, **kwargs: Any) -> None:
            options.update(kwargs)

    batch_subscriber(
        cast(KafkaBroker, Broker()), "t", group_id="g", kafka=KafkaSettings(), gate=BatchGate()
    )
    assert options["rebalance_timeout_ms"] == options["max_poll_interval_ms"]
    assert options["rebalance_timeout_ms"] > RetrySettings().give_up_after_s * 1000
    assert options["rebalance_timeout_ms"] > options["session_timeout_ms"]


async def test_the_assigned_partitions_are_handled_beside_the_join_and_before_the_next_batch() -> (
    None
):
    """aiokafka heartbeats only once `on_partitions_assigned` returns: a service's slow
    `on_assigned` (loading state) runs in a task, which the next batch and the next revocation
    wait for."""
    gate = BatchGate()
    loaded = asyncio.Event()
    release = asyncio.Event()
    seen: list[str] = []

    async def assigned(partitions: frozenset[TopicPartition]) -> None:
        await release.wait()
        seen.append("assigned")
        loaded.set()

    async def revoked(partitions: frozenset[TopicPartition]) -> None:
        seen.append("revoked")

    gate.on_assigned, gate.on_revoked = assigned, revoked
    tp = TopicPartition("t", 0)
    await asyncio.wait_for(gate.on_partitions_assigned({tp}), 1)  # returns at once
    assert not loaded.is_set()
    consumer = FakeConsumer()
    processor = DurableBatchProcessor(retry=RetrySettings(), gate=gate)

    async def work(records: Sequence[Record]) -> None:
        seen.append("batch")

    records: list[Record] = [FakeRecord("t", 0, 5)]
    batch = asyncio.create_task(processor.process(consumer, records, work))
    revoke = asyncio.create_task(gate.on_partitions_revoked({tp}))
    await asyncio.sleep(0.05)
    assert seen == []  # both wait for the assignment
    release.set()
    await asyncio.wait_for(asyncio.gather(batch, revoke), 1)
    assert seen == ["assigned", "batch", "revoked"]


async def test_assigned_partitions_are_handled_again_after_a_transient_failure() -> None:
    """Notify takes its epochs on assignment: MongoDB away then must not leave the partitions
    unowned (their groups never flushed); the handler is tried again, the batch waits."""
    gate = BatchGate(RetrySettings(initial_s=0.01, max_s=0.01))
    calls: list[int] = []

    async def assigned(partitions: frozenset[TopicPartition]) -> None:
        calls.append(len(partitions))
        if len(calls) < 3:
            raise ServerSelectionTimeoutError("MongoDB away")

    gate.on_assigned = assigned
    await gate.on_partitions_assigned({TopicPartition("t", 0)})
    await asyncio.wait_for(gate.assignment_settled(), 2)
    assert calls == [1, 1, 1]

    async def broken(partitions: frozenset[TopicPartition]) -> None:
        calls.append(0)
        raise ValueError("a bug")

    gate.on_assigned = broken
    await gate.on_partitions_assigned({TopicPartition("t", 0)})
    await asyncio.wait_for(gate.assignment_settled(), 2)  # logged, not retried, not raised
    assert calls == [1, 1, 1, 0]
