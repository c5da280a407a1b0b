"""The demo's local alert receivers on 127.0.0.1: a webhook endpoint that verifies Standard
Webhooks signatures on Alertmanager-format posts, and an SMTP sink (aiosmtpd).

Both keep what they received in memory for the live view and the summary; both run in their
own threads, so they answer while the demo's event loop is busy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

SECRET_PREFIX: Final = "whsec_"
TIMESTAMP_TOLERANCE_S: Final = 300  # Standard Webhooks' recommended replay window
MAX_BODY_BYTES: Final = 4 * 1024 * 1024


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def verify_standard_webhook(
    secret: str, headers: dict[str, str], body: bytes, now: float
) -> str | None:
    """None if the signature checks out, else why not. `headers` with lower-case names."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not timestamp or not signatures:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TIMESTAMP_TOLERANCE_S:
        return f"timestamp {timestamp!r} is not within {TIMESTAMP_TOLERANCE_S} s of now"
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return "the receiver's secret is not whsec_<base64>"
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return None
    return "no v1 signature matches"


@dataclass(frozen=True)
class ReceivedAlert:
    status: str  # firing | resolved
    alertname: str
    target: str
    severity: str
    summary: str


@dataclass(frozen=True)
class WebhookPost:
    received_at: float
    verified: bool
    problem: str | None
    receiver: str
    status: str
    alerts: tuple[ReceivedAlert, ...]
    body: bytes = field(repr=False)
    headers: dict[str, str] = field(repr=False)


def _alerts_of(message: dict[str, Any]) -> tuple[ReceivedAlert, ...]:
    alerts = []
    for alert in message.get("alerts") or ():
        labels = alert.get("labels") or {}
        annotations = alert.get("annotations") or {}
        alerts.append(
            ReceivedAlert(
                status=str(alert.get("status", "")),
                alertname=str(labels.get("alertname", "")),
                target=str(labels.get("target", "")),
                severity=str(labels.get("severity", "")),
                summary=str(annotations.get("summary_en") or annotations.get("summary") or ""),
            )
        )
    return tuple(alerts)


class WebhookReceiver:
    """`POST /` (any path) on 127.0.0.1: 204 when signed with the shared secret, 401 if not
    (notify then retries, as it would with a real receiver)."""

    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.secret = secret
        self.posts: list[WebhookPost] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY_BYTES:
                    self.send_response(413)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                code = receiver.record(headers, body)
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None  # quiet: the live view shows what arrives

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-webhook", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
        self._server.server_close()

    def record(self, headers: dict[str, str], body: bytes) -> int:
        problem = verify_standard_webhook(self.secret, headers, body, time.time())
        try:
            message = json.loads(body)
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            problem = problem or f"body is not an Alertmanager message: {exc}"
            message = {}
        post = WebhookPost(
            received_at=time.time(),
            verified=problem is None,
            problem=problem,
            receiver=str(message.get("receiver", "")),
            status=str(message.get("status", "")),
            alerts=_alerts_of(message),
            body=body,
            headers=headers,
        )
        with self._lock:
            self.posts.append(post)
        return 204 if problem is None else 401

    def snapshot(self) -> list[WebhookPost]:
        with self._lock:
            return list(self.posts)


@dataclass(frozen=True)
class ReceivedMail:
    received_at: float
    sender: str
    recipients: tuple[str, ...]
    subject: str
    raw: bytes = field(repr=False)


class _MailHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = bytes(envelope.original_content or envelope.content or b"")
        subject = str(make_header(decode_header(message_from_bytes(raw).get("Subject", ""))))
        self._sink.add(
            ReceivedMail(
                time.time(), str(envelope.mail_from), tuple(envelope.rcpt_tos), subject, raw
            )
        )
        return "250 Message accepted for delivery"


class MissingExtraError(RuntimeError):
    """An optional dependency is not installed: the message names the extra to install."""


class SmtpSink:
    """An SMTP server on 127.0.0.1 that accepts every message and keeps it (aiosmtpd)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        # aiosmtpd comes with the `demo` extra: imported only when a sink is made.
        try:
            from aiosmtpd.controller import Controller  # noqa: PLC0415
        except ModuleNotFoundError:
            raise MissingExtraError(
                "the demo's SMTP sink needs aiosmtpd, in the demo extra: "
                "pip install 'planwatch[demo]' (make install has it)"
            ) from None

        self.mails: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self.host = host
        self.port = port or _free_port(host)
        self._controller = Controller(_MailHandler(self), hostname=host, port=self.port)
        self._started = False

    def start(self) -> None:
        self._controller.start()
        self._started = True

    def stop(self) -> None:
        if self._started:
            self._controller.stop()
            self._started = False

    def add(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.mails.append(mail)

    def snapshot(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self.mails)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port
