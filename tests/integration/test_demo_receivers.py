"""The demo's local receivers over real loopback sockets: a signed webhook POST (as notify
sends it, via httpx) and an e-mail through the SMTP sink (smtplib)."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from planwatch.demo.receivers import SmtpSink, WebhookReceiver, new_webhook_secret

pytestmark = pytest.mark.integration


def test_the_webhook_receiver_answers_204_when_signed_and_401_when_not() -> None:
    secret = new_webhook_secret()
    receiver = WebhookReceiver(secret)
    receiver.start()
    try:
        body = json.dumps({"receiver": "demo-webhook", "status": "firing", "alerts": []})
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": "msg_7",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign("msg_7", now, body),
        }
        with httpx.Client() as client:
            good = client.post(receiver.url, content=body, headers=headers)
            bad = client.post(receiver.url, content=body + " ", headers=headers)
        assert (good.status_code, bad.status_code) == (204, 401)
        assert [p.verified for p in receiver.snapshot()] == [True, False]
    finally:
        receiver.stop()


def test_the_smtp_sink_keeps_what_it_receives() -> None:
    sink = SmtpSink()
    sink.start()
    try:
        message = EmailMessage()
        message["From"] = "planwatch-demo@demo.invalid"
        message["To"] = "coordinator@qy-miit.demo.invalid"
        message["Subject"] = "[严重] industry.eit-rank"
        message.set_content("deteriorating")
        with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
            smtp.send_message(message)
        (mail,) = sink.snapshot()
        assert mail.sender == "planwatch-demo@demo.invalid"
        assert mail.recipients == ("coordinator@qy-miit.demo.invalid",)
        assert mail.subject == "[严重] industry.eit-rank"
    finally:
        sink.stop()
