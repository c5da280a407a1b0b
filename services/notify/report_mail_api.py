"""Mailing a progress report over HTTP (`planwatch report --send-to R`; RFC 9457 problem
details on errors):

- `POST /api/v1/reports/mail` `{"receiver", "subject", "text", "filename", "content_type",
  "content" (base64), "key"}`: mails the report, attached, to every e-mail integration of
  receiver R in the routing file (its `email_configs`: `to`, `from`), through notify's SMTP
  relay (`NOTIFY_SMTP__*`) at once, and answers what each integration did.

Needs `reports:send`. 200 when the relay took the message of every integration; 502 when it
did not take one (the others may have gone: the detail names each); 400 for an unknown
receiver, one without e-mail, or a bad attachment; 413 for a report over MAX_REPORT_BYTES.
Every call is kept in the audit log (`report.mail`: the file's name, size and sha256 and the
outcomes, never its content). Nothing is queued or retried here: the caller (the monthly Job)
retries the whole call, and a resent report keeps its Message-ID (from `key`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email.message import EmailMessage
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import Base64Bytes, BaseModel, ConfigDict, Field

from services.notify.clock import Clock
from services.notify.config import SmtpSettings
from services.notify.domain.config import RoutingConfig
from services.notify.domain.delivery import OutcomeKind
from services.notify.domain.payloads.report_mail import (
    ReportAttachment,
    ReportMailError,
    report_email,
    report_message_id,
)
from services.notify.domain.receivers import EmailConfig, Integration
from services.notify.senders import Attempt, send_mail
from services.notify.store import NotifyStore
from shared.runtime.auth import REPORTS_SEND, Principal, require

MAX_REPORT_BYTES: Final = 20 * 1024 * 1024
Sender = Annotated[Principal, Depends(require(REPORTS_SEND))]
Mailer = Callable[[SmtpSettings, EmailMessage], Attempt]


class PostableReportMail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receiver: str = Field(min_length=1, description="A receiver of the routing file")
    subject: str = Field(min_length=1, max_length=300, pattern=r"^[^\r\n]+$")
    text: str = Field(default="", max_length=10_000, description="The covering note")
    filename: str = Field(min_length=1, max_length=121, description="e.g. report.pdf")
    content_type: Literal["application/pdf", "text/html"]
    content: Base64Bytes = Field(description="The report file, base64")
    key: str = Field(
        default="",
        max_length=128,
        description="Names this report (default: its sha256): a resend keeps its Message-ID",
    )


class MailedView(BaseModel):
    integration: str  # receiver/email/index
    to: list[str]
    outcome: str  # success, retry (a temporary refusal) or failed
    reason: str
    status: int | None  # the SMTP reply code, when there was one


class ReportMailView(BaseModel):
    receiver: str
    filename: str
    bytes: int
    sha256: str
    sent: list[MailedView]


def _email_integrations(config: RoutingConfig, receiver: str) -> list[Integration]:
    if receiver not in config.receivers:
        raise HTTPException(400, f"unknown receiver {receiver!r}")
    found = [
        i for i in config.receivers[receiver].integrations if isinstance(i.config, EmailConfig)
    ]
    if not found:
        raise HTTPException(400, f"receiver {receiver!r} has no e-mail integration")
    return found


def report_mail_router(
    config: RoutingConfig,
    store: NotifyStore,
    clock: Clock,
    smtp: SmtpSettings,
    *,
    mailer: Mailer = send_mail,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["reports"])

    @router.post("/reports/mail")
    async def mail_report(body: PostableReportMail, principal: Sender) -> ReportMailView:
        integrations = _email_integrations(config, body.receiver)
        if len(body.content) > MAX_REPORT_BYTES:
            raise HTTPException(413, f"the report is over {MAX_REPORT_BYTES} bytes")
        try:
            attachment = ReportAttachment(body.filename, body.content_type, body.content)
        except ReportMailError as exc:
            raise HTTPException(400, str(exc)) from None
        now = clock.now()
        key = body.key or attachment.sha256
        sent: list[MailedView] = []
        for integration in integrations:
            email = integration.config
            assert isinstance(email, EmailConfig)
            message = report_email(
                attachment,
                subject=body.subject,
                text=body.text,
                sender=email.sender,
                to=email.to,
                now=now,
                message_id=report_message_id(body.receiver, integration.key, key),
            )
            attempt = await asyncio.to_thread(mailer, smtp, message)
            sent.append(
                MailedView(
                    integration=integration.key,
                    to=list(email.to),
                    outcome=attempt.outcome.kind.value,
                    reason=attempt.outcome.reason,
                    status=attempt.status,
                )
            )
        view = ReportMailView(
            receiver=body.receiver,
            filename=attachment.filename,
            bytes=len(attachment.content),
            sha256=attachment.sha256,
            sent=sent,
        )
        details = {"subject": body.subject, "key": key, **view.model_dump(mode="json")}
        await store.record(principal.subject, "report.mail", body.receiver, details, now)
        failed = [m for m in sent if m.outcome != OutcomeKind.SUCCESS.value]
        if failed:
            reasons = "; ".join(f"{m.integration}: {m.outcome}: {m.reason}" for m in failed)
            raise HTTPException(502, f"not mailed by {len(failed)} of {len(sent)}: {reasons}")
        return view

    return router
