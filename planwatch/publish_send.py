"""Sending a sheet's signed reports, and what each row got back.

`--via http`: CloudEvents batches (at most `MAX_BATCH_EVENTS` events and `MAX_BATCH_BYTES`
bytes each) to ingest's `POST /v1/events`, which answers each event: accepted, duplicate, or
rejected with a reason. A 429 or 503 is waited out (its `Retry-After`, at most
`MAX_WAIT_S`) and the batch sent again, at most `MAX_RETRIES` times in a row; a lost connection
is retried `MAX_TRANSPORT_RETRIES` times. Re-sending is safe: a repeat is a duplicate.

`--via kafka`: one record per row to the progress topic. The broker acknowledges the record but
ingest judges it later, so a row's status is only `sent`; refusals go to ingest's dead-letter
topic. Send with `--via http` to get a verdict per row.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
from aiokafka.errors import KafkaError

from planwatch.http_token import auth_headers
from planwatch.messages import Msg, msg
from planwatch.receipt import ReceiptLine, RowStatus
from shared.contract.codec import (
    encode_http_batch,
    encode_kafka_binary,
    encode_kafka_structured,
    encode_structured,
)
from shared.contract.events import ProgressReported
from shared.runtime.kafka_security import KafkaAccessError, check_access
from shared.runtime.publisher import KafkaPublisher, Outbound, make_producer
from shared.runtime.settings import KafkaSettings

MAX_BATCH_EVENTS: Final = 100  # ingest's limit per request (docs/contract.md)
MAX_BATCH_BYTES: Final = 512 * 1024  # half of ingest's default 1 MiB
MAX_RETRIES: Final = 30
MAX_TRANSPORT_RETRIES: Final = 3
MAX_WAIT_S: Final = 60.0

Progress = Callable[[int], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SignedRow:
    row: int
    event: ProgressReported


class SendError(Exception):
    """The request could not be sent or was refused as a whole; its rows are unsent."""


def _line(
    row: SignedRow,
    status: RowStatus,
    reason: str | None = None,
    message: str = "",
    text: Msg | None = None,
) -> ReceiptLine:
    data = row.event.data
    return ReceiptLine(
        row.row,
        status,
        event_id=row.event.id,
        target=data.target,
        as_of=data.as_of.isoformat(),
        reason=reason,
        message=message,
        text=text,
    )


def unsent(rows: Sequence[SignedRow], message: str) -> list[ReceiptLine]:
    return [_line(row, RowStatus.UNSENT, message=message) for row in rows]


def batches(
    rows: Sequence[SignedRow],
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[list[SignedRow]]:
    """Consecutive rows in batches within both limits (an event alone may exceed max_bytes)."""
    result: list[list[SignedRow]] = []
    current: list[SignedRow] = []
    size = 2  # the array's brackets
    for row in rows:
        length = len(encode_structured(row.event)) + 1  # and its comma
        if current and (len(current) == max_events or size + length > max_bytes):
            result.append(current)
            current, size = [], 2
        current.append(row)
        size += length
    if current:
        result.append(current)
    return result


# --- HTTP -------------------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("retry-after", "1"))
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.1), MAX_WAIT_S)


def _answers(batch: Sequence[SignedRow], response: httpx.Response) -> list[ReceiptLine]:
    code = response.status_code
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    results = body.get("results") if isinstance(body, dict) else None
    if code not in {202, 207, 400, 413} or not isinstance(results, list):
        raise SendError(f"HTTP {code}: {response.text[:300]}")
    if len(results) == 1 and len(batch) > 1 and results[0].get("status") == "rejected":
        results = results * len(batch)  # the request was refused as a whole
    if len(results) != len(batch):
        raise SendError(f"HTTP {code}: {len(results)} results for {len(batch)} events")
    lines = []
    for row, result in zip(batch, results, strict=True):
        try:
            status = RowStatus(result.get("status"))
        except ValueError:
            raise SendError(f"HTTP {code}: unexpected result {result!r}") from None
        lines.append(_line(row, status, result.get("reason"), str(result.get("message", ""))))
    return lines


async def _post_batch(
    client: httpx.AsyncClient, url: str, batch: Sequence[SignedRow], sleep: Sleep
) -> list[ReceiptLine]:
    headers, body = encode_http_batch([row.event for row in batch])
    waits = failures = 0
    while True:
        try:
            response = await client.post(url, headers=headers, content=body)
        except httpx.TransportError as exc:
            failures += 1
            if failures > MAX_TRANSPORT_RETRIES:
                raise SendError(f"{url}: {exc!r}") from None
            await sleep(float(2**failures))
            continue
        if response.status_code in {429, 503}:
            waits += 1
            if waits > MAX_RETRIES:
                raise SendError(f"HTTP {response.status_code} {MAX_RETRIES} times in a row")
            await sleep(_retry_after(response))
            continue
        return _answers(batch, response)


async def send_http(
    rows: Sequence[SignedRow],
    url: str,
    *,
    timeout_s: float,
    progress: Progress,
    sleep: Sleep = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[ReceiptLine]:
    """Each row's answer from ingest; after a batch that could not be sent, the rest unsent."""
    lines: list[ReceiptLine] = []
    pending = batches(rows)
    headers = auth_headers()  # the agency's token (PLANWATCH_TOKEN_FILE), if any
    async with httpx.AsyncClient(timeout=timeout_s, transport=transport, headers=headers) as client:
        for index, batch in enumerate(pending):
            try:
                lines.extend(await _post_batch(client, url, batch, sleep))
            except SendError as exc:
                for rest in pending[index:]:
                    lines.extend(unsent(rest, str(exc)))
                break
            progress(len(batch))
    return lines


# --- Kafka ------------------------------------------------------------------------------------


async def send_kafka(
    rows: Sequence[SignedRow],
    kafka: KafkaSettings,
    topic: str,
    *,
    structured: bool,
    timeout_s: float,
    progress: Progress,
) -> list[ReceiptLine]:
    """`sent` for each row the broker acknowledged; SendError if Kafka cannot be reached."""
    encode = encode_kafka_structured if structured else encode_kafka_binary
    bootstrap = kafka.bootstrap_servers
    try:
        await check_access(kafka, timeout_s=timeout_s)
    except KafkaAccessError as exc:
        raise SendError(str(exc)) from None
    except (TimeoutError, OSError, KafkaError) as exc:
        raise SendError(f"Kafka at {bootstrap}: {exc!r}") from None
    publisher = KafkaPublisher(lambda: make_producer(kafka, "publish"), timeout_s)
    try:
        await publisher.start()
    except (TimeoutError, OSError, KafkaError) as exc:
        raise SendError(f"Kafka at {bootstrap}: {exc!r}") from None
    records = [
        Outbound(topic, value, key, tuple(headers))
        for key, value, headers in map(encode, (r.event for r in rows))
    ]
    try:
        outcomes = await publisher.deliver_each(records)
    finally:
        await publisher.stop()
    lines: list[ReceiptLine] = []
    for row, outcome in zip(rows, outcomes, strict=True):
        if isinstance(outcome, Exception):
            lines.append(_line(row, RowStatus.UNSENT, message=f"Kafka: {outcome!r}"))
        else:
            where = msg(
                "receipt.sent_where",
                topic=topic,
                partition=outcome.partition,
                offset=outcome.offset,
            )
            lines.append(_line(row, RowStatus.SENT, message=str(where), text=where))
        progress(1)
    lines.sort(key=lambda line: line.row)
    return lines
