"""Sending a sheet's rows over HTTP: ingest's door (in memory) answers per row, 429 is waited
out, failures leave rows unsent; batches keep the limits. (Re-sends answered `duplicate`, which
needs ingest's store: tests/integration/test_publish_file.py.)"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
from fastapi import FastAPI

from planwatch.publish_file import RowReport, check_rows
from planwatch.publish_send import MAX_TRANSPORT_RETRIES, SignedRow, batches, send_http
from planwatch.receipt import ReceiptLine, RowStatus, json_lines, totals
from services.ingest.http_door import EVENTS_PATH, build_router
from shared.contract.signing import sign
from shared.runtime.auth import Authenticator, install
from tests.unit.ingest_support import PLAN, TOPICS, Harness, catalog, private_key

AGENCY = "qy.gov-data"
URL = "http://ingest" + EVENTS_PATH


def signed_rows(count: int, *, now: datetime, start: int = 2) -> list[SignedRow]:
    reports = [
        RowReport(
            start + i, "gov.mobile-services", date(2022, 1, 1) + timedelta(days=i), value=i % 100
        )
        for i in range(count)
    ]
    ready, errors = check_rows(
        reports,
        agency=AGENCY,
        plan=catalog().plans[PLAN],
        catalog=catalog(),
        times={},
        default_time=now.isoformat(),
        now=now,
    )
    assert errors == []
    return [SignedRow(r.row, sign(r.event, private_key(AGENCY), "k1")) for r in ready]


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def ingest_transport(h: Harness) -> httpx.ASGITransport:
    app = FastAPI()
    install(app, Authenticator.development())
    app.include_router(
        build_router(h.intake(), max_event_bytes=64 * 1024, max_batch_bytes=1024 * 1024)
    )
    return httpx.ASGITransport(app=app)


async def test_each_row_gets_ingests_answer_in_its_order() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    h = Harness(now=now)
    rows = signed_rows(130, now=now)  # two batches
    forged = sign(rows[5].event, private_key(AGENCY, "k-other"), "k1")
    rows[5] = SignedRow(rows[5].row, forged)
    done: list[int] = []
    first = await send_http(
        rows, URL, timeout_s=10.0, progress=done.append, transport=ingest_transport(h)
    )
    assert sum(done) == 130 and done == [100, 30]
    assert [line.row for line in first] == [row.row for row in rows]
    assert totals(first) == {"accepted": 129, "rejected": 1}
    [bad] = [line for line in first if line.status is RowStatus.REJECTED]
    assert (bad.row, bad.reason) == (7, "bad_signature") and "signature" in bad.message
    assert bad.event_id == rows[5].event.id and bad.target == "gov.mobile-services"
    assert len(h.publisher.on(TOPICS.progress)) == 129  # the door hands events to the topic


async def test_429_is_waited_out_then_the_batch_is_sent_again() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rows = signed_rows(2, now=now)
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(len(json.loads(request.content)))
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "rate_limited"})
        results = [{"id": row.event.id, "status": "accepted"} for row in rows]
        return httpx.Response(202, json={"results": results})

    sleeps = Sleeps()
    lines = await send_http(
        rows,
        URL,
        timeout_s=5.0,
        progress=lambda _: None,
        sleep=sleeps,
        transport=httpx.MockTransport(answer),
    )
    assert calls == [2, 2] and sleeps.waits == [2.0]
    assert [line.status for line in lines] == [RowStatus.ACCEPTED, RowStatus.ACCEPTED]


async def test_rows_are_unsent_when_ingest_cannot_be_reached_or_fails() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rows = signed_rows(3, now=now)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sleeps = Sleeps()
    lines = await send_http(
        rows,
        URL,
        timeout_s=5.0,
        progress=lambda _: None,
        sleep=sleeps,
        transport=httpx.MockTransport(unreachable),
    )
    assert {line.status for line in lines} == {RowStatus.UNSENT}
    assert len(sleeps.waits) == MAX_TRANSPORT_RETRIES
    assert "refused" in lines[0].message

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="internal error")

    lines = await send_http(
        rows,
        URL,
        timeout_s=5.0,
        progress=lambda _: None,
        sleep=Sleeps(),
        transport=httpx.MockTransport(broken),
    )
    assert {line.status for line in lines} == {RowStatus.UNSENT}
    assert lines[0].message == "HTTP 500: internal error"


def test_batches_keep_the_count_and_byte_limits() -> None:
    rows = signed_rows(250, now=datetime.now(UTC))
    assert [len(b) for b in batches(rows)] == [100, 100, 50]
    small = batches(rows, max_bytes=4000)
    assert all(1 < len(b) < 100 for b in small) and sum(len(b) for b in small) == 250
    assert sum(len(b) for b in batches(rows, max_bytes=1)) == 250  # one event each, at least


def test_the_json_receipt_is_one_line_per_row_then_totals() -> None:
    lines = [
        ReceiptLine(2, RowStatus.ACCEPTED, event_id="a", target="t", as_of="2022-03-31"),
        ReceiptLine(3, RowStatus.SKIPPED, target="t", reason="repeated", message="m"),
        ReceiptLine(3, RowStatus.SKIPPED, target="t", reason="malformed", message="n"),
    ]
    decoded = [json.loads(text) for text in json_lines(lines)]
    assert decoded == [
        {"row": 2, "status": "accepted", "event_id": "a", "target": "t", "as_of": "2022-03-31"},
        {"row": 3, "status": "skipped", "target": "t", "reason": "repeated", "message": "m"},
        {"row": 3, "status": "skipped", "target": "t", "reason": "malformed", "message": "n"},
        {"totals": {"accepted": 1, "skipped": 1}},
    ]
