"""The receivers' adapters: one attempt to deliver one notification, as a domain `Outcome`.

Webhook (Alertmanager v4 JSON, Standard Webhooks signature), e-mail over SMTP (stdlib smtplib
in a thread), a Kafka topic (the webhook JSON), WeCom and DingTalk robots. Payloads are built
at the flush instant (`created_at`), so every retry carries the same body and id; signatures
and robot timestamps are made at send time.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import TypeVar

import httpx

from services.notify.config import SmtpSettings
from services.notify.domain.delivery import (
    Outcome,
    OutcomeKind,
    TransportError,
    classify_error,
    classify_response,
)
from services.notify.domain.payloads.data import NotificationData, notification_data
from services.notify.domain.payloads.mail import email_message
from services.notify.domain.payloads.robots import (
    dingtalk_markdown,
    dingtalk_signed_url,
    wecom_markdown,
    wecom_url,
)
from services.notify.domain.payloads.webhook import (
    SigningError,
    standard_webhooks_headers,
    webhook_body,
)
from services.notify.domain.receivers import (
    DingtalkConfig,
    EmailConfig,
    Integration,
    KafkaConfig,
    WebhookConfig,
    WecomConfig,
)
from services.notify.pinned_http import DestinationRefusedError, PinnedHttp, ResolutionError
from services.notify.records import PendingNotification
from services.notify.secrets import SecretUnavailableError, resolve_secret
from shared.runtime.kafka import TransientError
from shared.runtime.publisher import Outbound, Publisher, text_headers

USER_AGENT = "planwatch-notify/0.1"
# Robot error codes that mean "too many requests, later": WeCom 45009, DingTalk 130101.
_ROBOT_RATE_LIMITED = {45009, 130101}

# In subjects and robot titles, before the group's label values (Chinese first).
TITLE = "数字经济规划监测 planwatch"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt ended with; `status` is the HTTP/SMTP code when there was one."""

    outcome: Outcome
    status: int | None = None


def _failed(reason: str) -> Attempt:
    return Attempt(Outcome(OutcomeKind.FAILED, reason))


class Senders:
    def __init__(
        self,
        http: PinnedHttp,
        publisher: Publisher,
        smtp: SmtpSettings,
        *,
        external_url: str = "",
        clock: Callable[[], datetime],
    ) -> None:
        self.http = http
        self.publisher = publisher
        self.smtp = smtp
        self.external_url = external_url
        self.clock = clock

    async def send(self, integration: Integration, note: PendingNotification) -> Attempt:
        config = integration.config
        try:
            if isinstance(config, WebhookConfig):
                return await self._webhook(config, note)
            if isinstance(config, EmailConfig):
                return await self._email(config, note)
            if isinstance(config, KafkaConfig):
                return await self._kafka(config, note)
            if isinstance(config, WecomConfig):
                return await self._wecom(config, note)
            return await self._dingtalk(config, note)
        except SecretUnavailableError as exc:
            return _failed(str(exc))
        except SigningError as exc:
            return _failed(f"cannot sign: {exc}")
        except DestinationRefusedError as exc:
            return _failed(f"destination refused: {exc}")
        except ResolutionError as exc:
            return Attempt(Outcome(OutcomeKind.RETRY, str(exc)))
        except httpx.TimeoutException:
            return Attempt(classify_error(TransportError.TIMEOUT))
        except httpx.ProxyError as exc:  # the egress proxy's refusal, worth reading in the log
            outcome = classify_error(TransportError.CONNECTION)
            return Attempt(Outcome(outcome.kind, f"{outcome.reason} (proxy: {exc})"))
        except (httpx.TransportError, ConnectionError) as exc:
            outcome = classify_error(TransportError.CONNECTION)
            return Attempt(Outcome(outcome.kind, f"{outcome.reason} ({type(exc).__name__})"))

    # -- formats ------------------------------------------------------------------------------

    def _data(self, note: PendingNotification) -> NotificationData:
        return notification_data(
            note.receiver, note.group_labels, note.alerts, note.created_at, self.external_url
        )

    def _webhook_body(self, note: PendingNotification, max_alerts: int = 0) -> bytes:
        return webhook_body(
            note.receiver,
            note.group_key,
            note.group_labels,
            note.alerts,
            now=note.created_at,
            external_url=self.external_url,
            max_alerts=max_alerts,
        )

    # -- receivers ----------------------------------------------------------------------------

    async def _webhook(self, config: WebhookConfig, note: PendingNotification) -> Attempt:
        url = config.url or resolve_secret(_required(config.url_ref, "url_ref"))
        body = self._webhook_body(note, config.max_alerts)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if config.secret is not None:
            secrets = resolve_secret(config.secret).split()
            timestamp = int(self.clock().timestamp())
            headers |= standard_webhooks_headers(secrets, note.webhook_id, timestamp, body)
        else:
            headers["webhook-id"] = note.webhook_id
        answer = await self.http.post(url, body, headers, allow_private=config.allow_private)
        return Attempt(
            classify_response(answer.status, answer.retry_after, self.clock()), answer.status
        )

    async def _robot(self, url: str, payload: dict[str, object], allow_private: bool) -> Attempt:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        answer = await self.http.post(url, body, headers, allow_private=allow_private)
        outcome = classify_response(answer.status, answer.retry_after, self.clock())
        if outcome.kind is OutcomeKind.SUCCESS:
            outcome = _robot_answer(answer.body) or outcome
        return Attempt(outcome, answer.status)

    async def _wecom(self, config: WecomConfig, note: PendingNotification) -> Attempt:
        if config.url_ref is not None:
            url = resolve_secret(config.url_ref)
        else:
            url = wecom_url(resolve_secret(_required(config.key_ref, "key_ref")))
        return await self._robot(url, wecom_markdown(self._data(note), TITLE), config.allow_private)

    async def _dingtalk(self, config: DingtalkConfig, note: PendingNotification) -> Attempt:
        url = config.url or resolve_secret(_required(config.url_ref, "url_ref"))
        if config.secret is not None:
            timestamp_ms = int(self.clock().timestamp() * 1000)
            url = dingtalk_signed_url(url, resolve_secret(config.secret), timestamp_ms)
        return await self._robot(
            url, dingtalk_markdown(self._data(note), TITLE), config.allow_private
        )

    async def _kafka(self, config: KafkaConfig, note: PendingNotification) -> Attempt:
        message = Outbound(
            topic=config.topic,
            value=self._webhook_body(note),
            key=note.group_key.encode(),
            headers=text_headers(
                {
                    "content-type": "application/json",
                    "webhook-id": note.webhook_id,
                    "receiver": note.receiver,
                }
            ),
        )
        try:
            await self.publisher.publish([message])
        except TransientError as exc:
            return Attempt(Outcome(OutcomeKind.RETRY, f"Kafka: {exc}"))
        return Attempt(Outcome(OutcomeKind.SUCCESS, f"published to {config.topic}"))

    async def _email(self, config: EmailConfig, note: PendingNotification) -> Attempt:
        message = email_message(
            self._data(note),
            sender=config.sender,
            to=config.to,
            now=note.created_at,
            message_id=note.webhook_id,
            html=config.html,
            title=TITLE,
        )
        return await asyncio.to_thread(send_mail, self.smtp, message)


def _required(value: T | None, what: str) -> T:
    if value is None:
        raise SecretUnavailableError(f"the integration has no {what}")
    return value


def _robot_answer(body: bytes) -> Outcome | None:
    """A robot's JSON answer `{"errcode": 0, "errmsg": "ok"}`; a non-zero code fails (or is
    retried when it means rate limiting). None when the body says nothing we understand."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: `[[[…` nested thousands deep
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("errcode"), int):
        return None
    code = answer["errcode"]
    if code == 0:
        return None
    reason = f"robot errcode {code}: {answer.get('errmsg', '')}"
    kind = OutcomeKind.RETRY if code in _ROBOT_RATE_LIMITED else OutcomeKind.FAILED
    return Outcome(kind, reason)


def send_mail(settings: SmtpSettings, message: EmailMessage) -> Attempt:
    """Blocking: one SMTP transaction. 4xx replies and lost connections retry; 5xx fail.
    The password is never sent over a connection without TLS unless explicitly allowed."""
    if settings.username and not settings.encrypted and not settings.allow_plaintext_login:
        return _failed("SMTP login refused: the connection has no TLS (starttls or ssl)")
    password = ""
    if settings.username:
        try:
            password = settings.login_password().get_secret_value()
        except ValueError as exc:  # the password file is unreadable or empty (names no secret)
            return Attempt(Outcome(OutcomeKind.RETRY, str(exc)))
    try:
        smtp: smtplib.SMTP
        if settings.ssl:
            smtp = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with smtp:
            if settings.starttls and not settings.ssl:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, password)
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        kind = OutcomeKind.RETRY if all(400 <= c < 500 for c in codes) else OutcomeKind.FAILED
        return Attempt(Outcome(kind, f"SMTP refused every recipient: {codes}"), codes[0])
    except smtplib.SMTPResponseException as exc:
        code = exc.smtp_code
        kind = OutcomeKind.RETRY if 400 <= code < 500 else OutcomeKind.FAILED
        return Attempt(Outcome(kind, f"SMTP {code}: {_text(exc.smtp_error)}"), code)
    except TimeoutError:
        return Attempt(classify_error(TransportError.TIMEOUT))
    except (smtplib.SMTPException, OSError) as exc:
        outcome = classify_error(TransportError.CONNECTION)
        return Attempt(Outcome(outcome.kind, f"{outcome.reason} ({type(exc).__name__})"))
    if refused:
        return Attempt(
            Outcome(OutcomeKind.SUCCESS, f"SMTP accepted; refused: {sorted(refused)}"), 250
        )
    return Attempt(Outcome(OutcomeKind.SUCCESS, "SMTP 250"), 250)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
