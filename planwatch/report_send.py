"""Sending a written report through notify's e-mail receiver (`planwatch report --send-to R`).

The report goes to notify's `POST /api/v1/reports/mail` (scope `reports:send`), which mails it
as an attachment to the recipients of receiver R's `email_configs` in the routing file, over
notify's own SMTP relay: the mail credentials stay with notify. The token is the command-line
tools' (PLANWATCH_TOKEN_FILE or PLANWATCH_TOKEN, `planwatch.http_token`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from planwatch.http_refusal import refusal_message
from planwatch.http_token import TokenError, auth_headers

REPORTS_MAIL_PATH: Final = "/api/v1/reports/mail"
CONTENT_TYPES: Final = {".pdf": "application/pdf", ".html": "text/html"}
SEND_TIMEOUT_S: Final = 120.0  # notify answers once its relay took (or refused) every message


class ReportSendError(RuntimeError):
    """The report was not sent (the message says why; it never quotes the token)."""


@dataclass(frozen=True, slots=True)
class ReportMail:
    receiver: str
    subject: str
    text: str  # the covering note, plain text
    attachment: Path  # a .pdf or .html file


def mail_body(mail: ReportMail) -> dict[str, Any]:
    """The request's JSON: the file base64-encoded, and a key naming this exact report so
    that notify gives a resent one the same Message-ID."""
    content_type = CONTENT_TYPES.get(mail.attachment.suffix.lower())
    if content_type is None:
        raise ReportSendError(f"{mail.attachment}: only a .pdf or .html report can be sent")
    try:
        content = mail.attachment.read_bytes()
    except OSError as exc:
        raise ReportSendError(f"{mail.attachment}: cannot read: {exc.strerror}") from None
    return {
        "receiver": mail.receiver,
        "subject": mail.subject,
        "text": mail.text,
        "filename": mail.attachment.name,
        "content_type": content_type,
        "content": base64.b64encode(content).decode("ascii"),
        "key": hashlib.sha256(content).hexdigest(),
    }


def reports_mail_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}{REPORTS_MAIL_PATH}"


def send_report(
    base_url: str,
    mail: ReportMail,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Post the report to notify; its answer (what each e-mail integration did), or
    ReportSendError when notify refused, failed to mail it, or could not be reached."""
    try:
        headers = auth_headers(environ)
    except TokenError as exc:
        raise ReportSendError(str(exc)) from None
    url = reports_mail_url(base_url)
    try:
        with httpx.Client(timeout=SEND_TIMEOUT_S, transport=transport) as client:
            response = client.post(url, json=mail_body(mail), headers=headers)
    except httpx.HTTPError as exc:
        raise ReportSendError(f"cannot reach notify at {url}: {exc}") from None
    if response.status_code >= 400:
        raise ReportSendError(refusal_message("notify", response))
    answer: dict[str, Any] = response.json()
    return answer
