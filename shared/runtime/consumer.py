"""A service's durable consumption of its input topics: the subscription, the batch processor
(commit only after the work is durable) and the runtime metrics around it, in one object."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber

from shared.runtime.host import ServiceHost
from shared.runtime.kafka import (
    DurableBatchProcessor,
    Work,
    batch_subscriber,
    consumer_lag,
    failure_kind,
)
from shared.runtime.metrics import RuntimeMetrics


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
