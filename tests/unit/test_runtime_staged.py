"""Staged consumption: a batch is prepared while the previous one settles; settles (and so
commits) stay one at a time and in order; an unsettled batch takes the next one back with it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from aiokafka import TopicPartition
from faststream.kafka.annotations import KafkaMessage

from shared.runtime.consumer import StagedConsumer
from shared.runtime.kafka import Record, Work
from tests.unit.fake_records import FakeRecord
from tests.unit.test_runtime_kafka import FakeConsumer


@dataclass
class FakeMessage:
    raw_message: list[Record]
    consumer: FakeConsumer


def message(records: list[Record], consumer: FakeConsumer) -> KafkaMessage:
    return cast(KafkaMessage, FakeMessage(records, consumer))


@dataclass
class FakeSettler:
    """Runs the work, then "commits" (records the batch) and answers `settled`."""

    settled: bool = True
    commits: list[list[int]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def consume(self, msg: Any, work: Work) -> bool:
        await work(msg.raw_message)
        await self.release.wait()
        self.commits.append([r.offset for r in msg.raw_message])
        return self.settled


def batch(partition: int, *offsets: int) -> list[Record]:
    return [FakeRecord("t", partition, offset) for offset in offsets]


class Trace:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def prepare(self, records: Sequence[Record]) -> int:
        self.events.append(f"prepare {records[0].offset}")
        return records[0].offset

    async def settle(self, first: int) -> None:
        self.events.append(f"settle {first}")


async def test_the_next_batch_is_prepared_while_the_previous_one_settles() -> None:
    trace, settler, consumer = Trace(), FakeSettler(), FakeConsumer()
    staged = StagedConsumer(settler, trace.prepare, trace.settle)

    await staged.consume(message(batch(0, 10, 11), consumer))  # returns: settling goes on
    await asyncio.sleep(0)
    assert trace.events == ["prepare 10", "settle 10"] and settler.commits == []

    second = asyncio.create_task(staged.consume(message(batch(0, 12), consumer)))
    await asyncio.sleep(0)
    assert trace.events[-1] == "prepare 12"  # prepared before the first batch committed
    assert not second.done()  # but it waits for that commit before it settles
    settler.release.set()
    await second
    await staged.drain()
    assert trace.events == ["prepare 10", "settle 10", "prepare 12", "settle 12"]
    assert settler.commits == [[10, 11], [12]]


async def test_an_unsettled_batch_takes_the_next_one_back_with_it() -> None:
    trace, consumer = Trace(), FakeConsumer()
    settler = FakeSettler(settled=False)
    settler.release.set()
    staged = StagedConsumer(settler, trace.prepare, trace.settle)

    await staged.consume(message(batch(0, 10, 11), consumer))
    await staged.consume(message([*batch(0, 12), *batch(1, 5)], consumer))
    await staged.drain()

    assert settler.commits == [[10, 11]]  # the second batch was never settled
    assert sorted(consumer.seeks) == [(TopicPartition("t", 0), 10), (TopicPartition("t", 1), 5)]


async def test_once_draining_each_batch_settles_inside_its_handler() -> None:
    trace, settler, consumer = Trace(), FakeSettler(), FakeConsumer()
    settler.release.set()
    staged = StagedConsumer(settler, trace.prepare, trace.settle)
    await staged.consume(message(batch(0, 10), consumer))
    await staged.drain()
    assert settler.commits == [[10]]

    await staged.consume(message(batch(0, 11), consumer))
    assert settler.commits == [[10], [11]]  # done when the handler returned


async def test_a_partition_revoked_meanwhile_is_not_sought() -> None:
    trace, consumer = Trace(), FakeConsumer()
    consumer.assigned = {TopicPartition("t", 1)}  # partition 0 went to another member
    settler = FakeSettler(settled=False)
    settler.release.set()
    staged = StagedConsumer(settler, trace.prepare, trace.settle)

    await staged.consume(message(batch(0, 10), consumer))
    await staged.consume(message([*batch(0, 11), *batch(1, 5)], consumer))

    assert consumer.seeks == [(TopicPartition("t", 1), 5)]
