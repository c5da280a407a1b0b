"""The publisher replaces a producer the broker refuses for its sequence numbers (after a batch
was given up on while the broker restarted, every later send of that producer fails)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import OutOfOrderSequenceNumber

from shared.runtime.kafka import TransientError
from shared.runtime.publisher import KafkaPublisher, Outbound


class FakeProducer:
    def __init__(self, stale: bool) -> None:
        self.stale = stale
        self.sent: list[bytes] = []
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.stale:
            future.set_exception(OutOfOrderSequenceNumber())
        else:
            self.sent.append(value)
            future.set_result(object())
        return future


async def test_a_producer_out_of_sequence_is_replaced_and_the_retry_goes_through() -> None:
    made: list[FakeProducer] = []

    def factory() -> AIOKafkaProducer:
        made.append(FakeProducer(stale=not made))  # the first one is stale
        return cast(AIOKafkaProducer, made[-1])

    publisher = KafkaPublisher(factory, timeout_s=5)
    await publisher.start()
    record = Outbound("t", b"v")
    with pytest.raises(TransientError, match="replaced"):
        await publisher.publish([record])
    assert made[0].stopped and made[1].started
    await publisher.publish([record])
    assert made[1].sent == [b"v"] and len(made) == 2
    await publisher.stop()
    assert made[1].stopped
