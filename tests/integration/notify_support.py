"""Local receivers and inputs for the notify tests: a scriptable HTTP server on 127.0.0.1, an
SMTP inbox (aiosmtpd), and alert events shaped exactly as scoring publishes them."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.notify.config import NotifySettings
from services.notify.routing_file import load_routing_file
from services.notify.secrets import secret_references
from shared.contract.alert_event import (
    AlertAnnotations,
    AlertEvent,
    AlertLabels,
    AlertRole,
    AlertSeverity,
    AlertStatus,
    AlertTransitionKind,
    encode_alert_event,
)

# -- HTTP receiver ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one request: a status (and headers), a hang, or a reset."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang_s: float = 0.0  # wait this long before answering (past the client's timeout)
    reset: bool = False  # close the connection with RST instead of answering


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None  # the status answered; None for a reset
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class HttpReceiver:
    """A tiny HTTP/1.1 server: records every request; answers from a per-path script
    (then `default`)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.scripts: dict[str, deque[Reply]] = {}
        self.default = Reply()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Condition()

    def script(self, path: str, *replies: Reply) -> None:
        self.scripts.setdefault(path, deque()).extend(replies)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def firing_fingerprints(self, path: str) -> set[str]:
        """The fingerprints of every alert posted firing to `path` (Alertmanager's webhook
        body) so far."""
        return {
            alert["fingerprint"]
            for received in self.at(path)
            for alert in json.loads(received.body)["alerts"]
            if alert["status"] == "firing"
        }

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def wait_for(self, path: str, count: int, within: float = 30.0) -> list[Received]:
        async with asyncio.timeout(within):
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.at(path)) >= count)
        return self.at(path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                queue = self.scripts.get(path.split("?")[0])
                reply = queue.popleft() if queue else self.default
                answered = None if reply.reset else reply.status
                async with self._arrived:
                    self.requests.append(Received(method, path, headers, body, answered))
                    self._arrived.notify_all()
                if reply.reset:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if reply.hang_s:
                    await asyncio.sleep(reply.hang_s)
                extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
                writer.write(
                    f"HTTP/1.1 {reply.status} X\r\nContent-Length: {len(reply.body)}\r\n"
                    f"{extra}\r\n".encode()
                    + reply.body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


# -- SMTP inbox -------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler keeping every message (it runs in the controller's thread)."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"


def start_smtp(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


async def wait_until(predicate: Any, within: float = 30.0, interval: float = 0.05) -> None:
    """Poll `predicate` (state another thread or process changes) until it holds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the state is not ours to signal
            await asyncio.sleep(interval)


async def wait_until_true(
    check: Callable[[], Awaitable[bool]], within: float = 30.0, interval: float = 0.05
) -> None:
    """Poll an async `check` (e.g. a MongoDB count another process changes) until true."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the state is another process's
            await asyncio.sleep(interval)


# -- alert events -----------------------------------------------------------------------------


def alert_event(
    *,
    rule: str = "status_degraded",
    target: str = "t-5g-stations",
    agency: str = "qy.miit",
    severity: str = "warning",
    plan: str = "qy-digital-2025",
    at: datetime,
    starts_at: datetime | None = None,
    resolved: bool = False,
    transition: str | None = None,
    event_id: str | None = None,
    fingerprint: str | None = None,
    role: AlertRole = AlertRole.LEAD,
) -> AlertEvent:
    """An event as scoring's `alert_payload.alert_event` builds it (same contract model)."""
    kind = AlertTransitionKind(transition or ("resolved" if resolved else "firing"))
    fp = fingerprint or hashlib.sha256(f"{plan}|{target}|{rule}".encode()).hexdigest()[:16]
    return AlertEvent(
        id=event_id or f"{fp}:{kind.value}:{at.isoformat()}",
        fingerprint=fp,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        transition=kind,
        labels=AlertLabels(
            alertname=rule,
            rule=rule,
            plan=plan,
            area="2.1",
            task="2.1.3",
            target=target,
            agency=agency,
            severity=AlertSeverity(severity),
            role=role,
        ),
        annotations=AlertAnnotations(
            summary_zh=f"[警告·触发] 5G基站建设数量：目标进度异常（{target}）",
            summary_en=f"[warning firing] 5G base stations: target progress degraded ({target})",
            description_zh="状态：进度滞后；完成进度 40.0%，应达进度 60.0%。",
            description_en="Status off_track; progress 40.0% of the distance, expected 60.0%.",
        ),
        startsAt=starts_at or at,
        endsAt=at if resolved else None,
        generatorURL=f"http://planwatch.example/v1/plans/{plan}/targets/{target}",
        method="v1",
        at=at,
    )


def encoded(event: AlertEvent) -> bytes:
    return encode_alert_event(event)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def shipped_routing_secrets() -> dict[str, str]:
    """A placeholder value for every `env:` secret the shipped routing file refers to: notify
    refuses to start while one is unset, and tests that run it with that file send nothing."""
    config = load_routing_file(NotifySettings().routing_file)
    return {
        ref.target: f"https://hooks.invalid/{ref.target.lower()}"
        for _, _, ref in secret_references(config)
        if ref.kind == "env"
    }
