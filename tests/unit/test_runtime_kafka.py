"""The durable batch processor: commit only after the work succeeds, retry transient failures."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from aiokafka import TopicPartition
from pymongo.errors import ServerSelectionTimeoutError

from shared.runtime.backoff import backoff_delay
from shared.runtime.kafka import (
    DurableBatchProcessor,
    Record,
    TransientError,
    first_offsets,
    is_transient,
    next_offsets,
)
from shared.runtime.settings import RetrySettings


@dataclass(frozen=True)
class FakeRecord:
    topic: str
    partition: int
    offset: int
    timestamp: int = 0
    key: bytes | None = None
    value: bytes | None = b"{}"
    headers: Sequence[tuple[str, bytes]] = ()


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
