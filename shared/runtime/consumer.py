"""A service's durable consumption of its input topics: the subscription, the batch processor
(commit only after the work is durable) and the runtime metrics around it, in one object."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from aiokafka import AIOKafkaConsumer
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from shared.runtime.host import ServiceHost
from shared.runtime.kafka import (
    DurableBatchProcessor,
    Record,
    Work,
    batch_subscriber,
    consumer_lag,
    failure_kind,
    first_offsets,
)
from shared.runtime.logging import get_logger
from shared.runtime.metrics import RuntimeMetrics

log = get_logger("planwatch.consumer")

P = TypeVar("P")


class DurableConsumer:
    def __init__(self, host: ServiceHost) -> None:
        self._host = host
        self.metrics = RuntimeMetrics(host.registry, host.name)
        self.processor = DurableBatchProcessor(
            retry=host.settings.retry,
            on_retry=lambda exc: self.metrics.batch_retries.labels(failure_kind(exc)).inc(),
        )

    def subscriber(self, *topics: str, group_id: str) -> BatchSubscriber:
        return batch_subscriber(
            self._host.broker,
            *topics,
            group_id=group_id,
            kafka=self._host.settings.kafka,
            gate=self.processor.gate,
        )

    async def consume(self, msg: KafkaMessage, work: Work) -> bool:
        """Runs `work` on the batch until it is durable, commits, and updates the lag gauge.
        False when the batch was rewound (retried past its budget) rather than committed."""
        consumer: AIOKafkaConsumer = msg.consumer
        done = await self.processor.process(consumer, msg.raw_message, work)
        if not done:
            self.metrics.batches_rewound.inc()
        for topic, behind in (await consumer_lag(consumer)).items():
            self.metrics.consumer_lag.labels(topic).set(behind)
        return done


class BatchSettler(Protocol):
    """What runs a batch's durable work and commits it (the DurableConsumer)."""

    async def consume(self, msg: KafkaMessage, work: Work) -> bool: ...


class StagedConsumer(Generic[P]):
    """Consumption in two stages, overlapped across batches.

    `prepare` (work that touches nothing outside the process: decoding, checks) runs on a batch
    as soon as it is fetched, while the previous batch's `settle` (its durable effects, then the
    commit, through the DurableConsumer) is still in flight. Settles run one at a time and in
    batch order, so every commit still follows only durable work, and at most one batch is
    settling while the next is prepared. If a batch is not settled (rewound after its retry
    budget, or its commit refused), the batch after it is not settled either: its partitions
    are sought back to the first uncommitted offset of the two, and both are fetched again.
    """

    def __init__(
        self,
        durable: BatchSettler,
        prepare: Callable[[Sequence[Record]], Awaitable[P]],
        settle: Callable[[P], Awaitable[None]],
    ) -> None:
        self._durable = durable
        self._prepare = prepare
        self._settle = settle
        self._in_flight: tuple[Sequence[Record], asyncio.Task[bool]] | None = None
        self._closing = False

    async def consume(self, msg: KafkaMessage) -> None:
        records: Sequence[Record] = msg.raw_message
        prepared = await self._prepare(records)
        previous = await self._previous()
        if previous is not None:
            earlier, settled = previous
            if not settled:
                self._seek_back(msg.consumer, [*earlier, *records])
                return

        async def settle(_: Sequence[Record]) -> None:
            await self._settle(prepared)

        task = asyncio.create_task(self._durable.consume(msg, settle), name="settle batch")
        if self._closing:  # stopping: finish inside the handler, which the broker waits for
            await task
            return
        self._in_flight = (records, task)

    async def _previous(self) -> tuple[Sequence[Record], bool] | None:
        if self._in_flight is None:
            return None
        records, task = self._in_flight
        self._in_flight = None
        return records, await task

    @staticmethod
    def _seek_back(consumer: AIOKafkaConsumer, records: Sequence[Record]) -> None:
        assigned = consumer.assignment()  # a partition revoked meanwhile: its new owner has it
        for tp, offset in first_offsets(records).items():
            if tp in assigned:
                consumer.seek(tp, offset)
        log.warning("batch not settled; the next one is fetched again with it")

    async def drain(self) -> None:
        """On stopping: settle the batch in flight; later batches settle inside the handler."""
        self._closing = True
        await self._previous()
