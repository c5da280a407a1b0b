"""Hands a batch subscriber its records untouched, whatever their bytes.

FastStream's batch parser decodes every header value as UTF-8 and its default decoder parses
JSON bodies by `content-type`. A record with a non-UTF-8 header or a body that is not JSON
would make the batch fail before the handler runs; with manual commits nothing is committed,
but the consumer has moved on and the next batch's commit skips the failed one. Every
service judges raw bytes itself (and dead-letters what it cannot read), so every subscriber
uses this parser (header copies made safe for FastStream's own use, the original records
kept as `raw_message`) and a decoder that does not decode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

Records = tuple[ConsumerRecord[bytes, bytes], ...]


def _text_safe(record: ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    try:
        for _, value in record.headers:
            (value or b"").decode("utf-8")
    except UnicodeDecodeError:
        headers = tuple(
            (name, (value or b"").decode("utf-8", "replace").encode("utf-8"))
            for name, value in record.headers
        )
        return dataclasses.replace(record, headers=headers)
    return record


async def tolerant_parser(
    records: Records, original: Callable[[Records], Awaitable[KafkaMessage]]
) -> KafkaMessage:
    message = await original(tuple(_text_safe(r) for r in records))
    message.raw_message = records
    return message


async def raw_decoder(message: StreamMessage[Any]) -> Any:
    return message.body
