"""A progress report as an e-mail: a short plain-text note with the report (PDF or HTML)
attached, RFC 2047 subject. Pure: the instant and the Message-ID are arguments."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Final

from services.notify.domain.timefmt import require_aware

ATTACHMENT_TYPES: Final = {"application/pdf": ".pdf", "text/html": ".html"}
# A file name that needs no quoting in any mail client: letters, digits, . _ - only.
FILENAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


class ReportMailError(ValueError):
    """The report cannot be mailed as given (its type or file name)."""


@dataclass(frozen=True, slots=True)
class ReportAttachment:
    filename: str
    content_type: str  # one of ATTACHMENT_TYPES
    content: bytes

    def __post_init__(self) -> None:
        suffix = ATTACHMENT_TYPES.get(self.content_type)
        if suffix is None:
            raise ReportMailError(f"a report is a PDF or an HTML file, not {self.content_type}")
        if not FILENAME.match(self.filename) or not self.filename.lower().endswith(suffix):
            raise ReportMailError(
                f"bad file name {self.filename!r}: letters, digits, . _ - and ending {suffix}"
            )

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def report_message_id(receiver: str, integration: str, key: str) -> str:
    """The Message-ID's local part: the same report to the same integration twice (a resend)
    gets the same one, so mail clients and archives can tell."""
    return hashlib.sha256("\x1f".join((receiver, integration, key)).encode()).hexdigest()[:32]


def report_email(
    attachment: ReportAttachment,
    *,
    subject: str,
    text: str,
    sender: str,
    to: Sequence[str],
    now: datetime,
    message_id: str,
) -> EmailMessage:
    now = require_aware(now)
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(now)
    domain = sender.rsplit("@", 1)[-1]
    message["Message-ID"] = f"<{message_id}@{domain}>"
    message.set_content(text)
    maintype, subtype = attachment.content_type.split("/", 1)
    message.add_attachment(
        attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
    )
    return message
