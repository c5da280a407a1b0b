"""A notification as an e-mail: plain text and HTML alternatives, RFC 2047 subject."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from services.notify.domain.payloads.data import NotificationData
from services.notify.domain.payloads.text import html_text, plain_text
from services.notify.domain.timefmt import require_aware


def email_message(
    data: NotificationData,
    *,
    sender: str,
    to: Sequence[str],
    now: datetime,
    message_id: str,
    html: bool = True,
    title: str = "",
) -> EmailMessage:
    """The message; ``message_id`` (e.g. the notification id) makes ``Message-ID`` stable
    across retries. The SMTP policy encodes non-ASCII headers (RFC 2047) on output."""
    now = require_aware(now)
    message = EmailMessage(policy=SMTP)
    message["Subject"] = data.subject(title)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(now)
    domain = sender.rsplit("@", 1)[-1]
    message["Message-ID"] = f"<{message_id}@{domain}>"
    message.set_content(plain_text(data, title))
    if html:
        message.add_alternative(html_text(data, title), subtype="html")
    return message
