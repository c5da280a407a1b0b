"""Benchmark: notify's webhook deliveries per second against a raw floor, in one run.

    python -m bench.bench_notify [--count 1000] [--concurrency 32] [--no-store]

One local HTTP receiver on 127.0.0.1 (asyncio, keep-alive, answers 200). Three rows, same
payloads (Alertmanager v4 bodies of 3 alerts), same concurrency:

- `raw_httpx`: plain `httpx.AsyncClient.post` of the signed bodies (the floor);
- `notify_sender`: notify's receiver adapter per notification (build the body, sign it per
  Standard Webhooks, resolve and check the destination, POST to the checked address, classify);
- `notify_durable`: what notify does per delivery, over MongoDB/FerretDB (`MONGODB_URI`). The
  alerts first go in through notify's intake (3 per group, one group per task) and the groups
  are flushed (not timed); then the deliveries are timed: pending notifications read, POST,
  log entry, attempt record, pending removal, and the flush's end (its group read, updated and
  closed under the group's lock).

The goal is `notify_durable` >= half of `raw_httpx` (`notify_sender` with --no-store).
Results: JSON in bench/results/ and a table.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import platform
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient

from bench.results_file import write_result
from services.notify.app import build_service
from services.notify.config import DeliverySettings, NotifySettings
from services.notify.domain.alert import Alert
from services.notify.domain.config import load_routing
from services.notify.domain.nflog import LogEntry
from services.notify.domain.payloads.webhook import standard_webhooks_headers, webhook_body
from services.notify.mongo_store import MongoNotifyStore
from services.notify.pinned_http import PinnedHttp
from services.notify.records import PendingNotification
from services.notify.senders import Senders
from shared.contract.alert_event import (
    AlertAnnotations,
    AlertEvent,
    AlertLabels,
    AlertSeverity,
    AlertStatus,
    AlertTransitionKind,
)
from shared.runtime.logging import configure_logging
from shared.runtime.publisher import RecordingPublisher

SECRET = "whsec_" + base64.b64encode(b"bench-secret-bench-secret-bench!").decode()
NOW = datetime.now(UTC).replace(microsecond=0)


class Receiver:
    """Answers every request 200 with keep-alive; counts requests."""

    def __init__(self) -> None:
        self.count = 0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                self.count += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def notifications(count: int) -> list[PendingNotification]:
    out = []
    for n in range(count):
        alerts = [
            Alert(
                fingerprint=f"{n:08x}{k:08x}",
                labels={
                    "alertname": "status_degraded",
                    "rule": "status_degraded",
                    "plan": "qy-digital-2025",
                    "agency": "qy.miit",
                    "target": f"t-{n}-{k}",
                    "severity": "warning",
                },
                annotations={
                    "summary_zh": "5G基站建设数量：目标进度异常",
                    "summary_en": "degraded",
                },
                starts_at=NOW - timedelta(minutes=5),
                updated_at=NOW - timedelta(minutes=5),
            )
            for k in range(3)
        ]
        key = f'{{}}:{{agency="qy.miit", n="{n}"}}'
        out.append(
            PendingNotification(
                id=f"g{n}:0:hook/webhook/0",
                webhook_id=f"msg_bench_{n}",
                group_id=f"g{n}",
                group_key=key,
                group_labels={"agency": "qy.miit"},
                receiver="hook",
                integration="hook/webhook/0",
                reason="first notification",
                alerts=alerts,
                record_only=False,
                entry=LogEntry(
                    group_key=key,
                    integration="hook/webhook/0",
                    firing=frozenset(a.fingerprint for a in alerts),
                    resolved=frozenset(),
                    timestamp=NOW,
                ),
                created_at=NOW,
                next_attempt_at=NOW,
            )
        )
    return out


async def bounded(
    items: list[Any], concurrency: int, one: Callable[[Any], Awaitable[None]]
) -> float:
    """Run `one` over `items` with at most `concurrency` in flight; returns seconds."""
    queue = list(reversed(items))

    async def lane() -> None:
        while queue:
            await one(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - started


def routing(port: int, group_by: str = "[]") -> str:
    return f"""
route:
  receiver: hook
  group_by: {group_by}
  group_wait: 0s
receivers:
  - name: hook
    webhook_configs:
      - {{url: "http://127.0.0.1:{port}/hook", secret: "env:BENCH_SECRET", allow_private: true}}
"""


async def run(count: int, concurrency: int, with_store: bool, log_path: Path) -> dict[str, Any]:
    os.environ["BENCH_SECRET"] = SECRET
    # notify's own logging (a JSON line per delivery, as it runs), into a file, not the table.
    configure_logging("notify")
    log_file = log_path.open("w", encoding="utf-8")
    logging.getLogger().handlers[0].setStream(log_file)  # type: ignore[attr-defined]
    receiver = Receiver()
    await receiver.start()
    url = f"http://127.0.0.1:{receiver.port}/hook"
    notes = notifications(count)
    rows: dict[str, dict[str, float]] = {}
    limits = httpx.Limits(max_connections=concurrency * 2)

    # Floor: the same signed bodies, posted with plain httpx.
    prepared = []
    for note in notes:
        body = webhook_body(
            note.receiver, note.group_key, note.group_labels, note.alerts, now=note.created_at
        )
        headers = {"Content-Type": "application/json"} | standard_webhooks_headers(
            [SECRET], note.webhook_id, int(time.time()), body
        )
        prepared.append((body, headers))
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

        async def raw(item: tuple[bytes, dict[str, str]]) -> None:
            response = await client.post(url, content=item[0], headers=item[1])
            response.raise_for_status()

        await bounded(prepared[: min(200, count)], concurrency, raw)  # warm-up
        rows["raw_httpx"] = {"seconds": await bounded(prepared, concurrency, raw)}

    # notify's adapter: body, signature, SSRF check, pinned POST, classification.
    config = load_routing(routing(receiver.port), "bench")
    [integration] = config.integrations("hook")
    publisher = RecordingPublisher()  # unused by webhooks
    async with httpx.AsyncClient(limits=limits, trust_env=False, follow_redirects=False) as client:
        senders = Senders(
            PinnedHttp(client), publisher, NotifySettings().smtp, clock=lambda: datetime.now(UTC)
        )

        async def adapter(note: PendingNotification) -> None:
            result = await senders.send(integration, note)
            assert result.status == 200, result

        await bounded(notes[: min(200, count)], concurrency, adapter)
        rows["notify_sender"] = {"seconds": await bounded(notes, concurrency, adapter)}

    if with_store:
        rows["notify_durable"] = await durable(count, concurrency, receiver.port)
    await receiver.stop()
    log_file.close()
    for row in rows.values():
        row["per_second"] = count / row["seconds"]
    floor = rows["raw_httpx"]["per_second"]
    for row in rows.values():
        row["ratio_to_raw"] = row["per_second"] / floor
    judged = "notify_durable" if with_store else "notify_sender"
    return {
        "benchmark": "notify webhook deliveries",
        "at": datetime.now(UTC).isoformat(),
        "count": count,
        "concurrency": concurrency,
        "alerts_per_notification": 3,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "goal": f"{judged} >= 0.5 x raw_httpx",
        "goal_met": rows[judged]["ratio_to_raw"] >= 0.5,
        "rows": rows,
    }


def alert_events(count: int) -> list[AlertEvent]:
    """Three firing alerts for each of `count` tasks (one aggregation group per task)."""
    events = []
    for n in range(count):
        for k in range(3):
            target = f"t-{n}-{k}"
            labels = AlertLabels(
                alertname="status_degraded",
                rule="status_degraded",
                plan="qy-digital-2025",
                area="2.1",
                task=f"task-{n}",
                target=target,
                agency="qy.miit",
                severity=AlertSeverity.WARNING,
            )
            events.append(
                AlertEvent(
                    id=f"{n:08x}{k:08x}:firing",
                    fingerprint=f"{n:08x}{k:08x}",
                    status=AlertStatus.FIRING,
                    transition=AlertTransitionKind.FIRING,
                    labels=labels,
                    annotations=AlertAnnotations(
                        summary_zh="5G基站建设数量：目标进度异常",
                        summary_en="5G base stations: target progress degraded",
                        description_zh="状态：进度滞后。",
                        description_en="Status off_track.",
                    ),
                    startsAt=NOW - timedelta(minutes=5),
                    endsAt=None,
                    generatorURL=f"http://planwatch.example/v1/targets/{target}",
                    method="v1",
                    at=NOW - timedelta(minutes=5),
                )
            )
    return events


async def durable(count: int, concurrency: int, port: int) -> dict[str, float]:
    """The alerts go in through notify's intake and its groups are flushed (not timed); then
    the deliveries are timed with everything each one does: the pending notification read,
    the POST, log entry, attempt record, pending removal, and the flush's bookkeeping and
    closing under the group lock."""
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=3000, tz_aware=True
    )
    name = f"bench_notify_{random.randrange(1 << 30):x}"
    settings = NotifySettings(delivery=DeliverySettings(concurrency=concurrency))
    service = build_service(
        settings,
        load_routing(routing(port, group_by="[task]"), "bench"),
        store=MongoNotifyStore(client[name]),
        publisher=RecordingPublisher(),  # webhooks only: nothing is published
        registry=CollectorRegistry(),
    )
    try:
        for event in alert_events(count):
            await service.intake.apply(event)
        flushed = await service.flusher.flush_due(datetime.now(UTC))
        if flushed != count:
            raise RuntimeError(f"{flushed} notifications flushed, {count} expected")
        started = time.perf_counter()
        await service.worker.run_due(datetime.now(UTC))
        seconds = time.perf_counter() - started
        left = len(await service.store.pending())
        pending = await service.store.pending_ids()
        open_flushes = sum(1 for g in await service.store.groups() if g.flush_open(pending))
        if left or open_flushes:
            raise RuntimeError(f"{left} notifications left, {open_flushes} flushes open")
        return {"seconds": seconds}
    finally:
        await service.http_client.aclose()
        await client.drop_database(name)
        await client.close()


def table(result: dict[str, Any]) -> str:
    lines = [
        f"notify webhook deliveries: {result['count']} notifications, "
        f"concurrency {result['concurrency']}",
        f"{'path':<16}{'seconds':>10}{'per second':>12}{'vs raw':>9}",
    ]
    for name, row in result["rows"].items():
        lines.append(
            f"{name:<16}{row['seconds']:>10.2f}{row['per_second']:>12.0f}"
            f"{row['ratio_to_raw']:>9.2f}"
        )
    lines.append(f"goal ({result['goal']}): {'met' if result['goal_met'] else 'NOT met'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-store", action="store_true", help="skip the MongoDB row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        log_path = Path(scratch) / "notify.log"
        result = asyncio.run(run(args.count, args.concurrency, not args.no_store, log_path))
        with log_path.open(encoding="utf-8") as lines:
            result["log_lines"] = sum(1 for _ in lines)
    write_result("notify", result, table(result))


if __name__ == "__main__":
    main()
