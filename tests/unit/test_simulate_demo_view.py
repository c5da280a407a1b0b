"""The demo's pieces that need no server: Standard Webhooks verification (against the
reference library's signatures), what the webhook receiver records, and the view."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime

from rich.console import Console
from standardwebhooks.webhooks import Webhook

from planwatch.demo.observe import ScoringSnapshot
from planwatch.demo.receivers import WebhookReceiver, new_webhook_secret, verify_standard_webhook
from planwatch.demo.run import demo_routing
from planwatch.demo.view import DemoView, plain_line, render
from planwatch.simulate.feed import FeedProgress
from services.notify.domain.config import load_routing
from services.notify.domain.receivers import KafkaConfig
from services.notify.domain.routing import match_routes

MESSAGE = {
    "receiver": "demo-webhook",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "report_overdue",
                "target": "tourism.online-booking",
                "severity": "warning",
            },
            "annotations": {"summary_en": "no report for 120 days"},
        }
    ],
    "version": "4",
}


def _signed(secret: str, body: bytes, msg_id: str = "msg_1") -> dict[str, str]:
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def test_a_reference_signature_verifies_and_tampering_does_not() -> None:
    secret = new_webhook_secret()
    body = json.dumps(MESSAGE).encode()
    headers = _signed(secret, body)
    assert verify_standard_webhook(secret, headers, body, time.time()) is None
    assert verify_standard_webhook(secret, headers, body + b" ", time.time()) is not None
    other = new_webhook_secret()
    assert "no v1 signature" in (verify_standard_webhook(other, headers, body, time.time()) or "")
    stale = verify_standard_webhook(secret, headers, body, time.time() + 3600)
    assert stale is not None and "timestamp" in stale
    # Rotation: several signatures, one of them valid.
    rotated = {**headers, "webhook-signature": "v1,AAAA " + headers["webhook-signature"]}
    assert verify_standard_webhook(secret, rotated, body, time.time()) is None
    unsigned = {k: v for k, v in headers.items() if k != "webhook-signature"}
    assert "missing" in (verify_standard_webhook(secret, unsigned, body, time.time()) or "")


def test_the_receiver_records_alerts_and_refuses_bad_signatures() -> None:
    secret = new_webhook_secret()
    receiver = WebhookReceiver(secret, port=0)
    try:
        body = json.dumps(MESSAGE).encode()
        assert receiver.record(_signed(secret, body), body) == 204
        assert receiver.record(_signed(new_webhook_secret(), body), body) == 401
        first, second = receiver.snapshot()
        assert first.verified and not second.verified
        (alert,) = first.alerts
        assert (alert.status, alert.alertname, alert.target, alert.severity) == (
            "firing",
            "report_overdue",
            "tourism.online-booking",
            "warning",
        )
        assert alert.summary == "no report for 120 days"
    finally:
        receiver.stop()


def test_the_view_shows_progress_statuses_alerts_and_dead_letters() -> None:
    secret = new_webhook_secret()
    receiver = WebhookReceiver(secret, port=0)
    body = json.dumps(MESSAGE).encode()
    receiver.record(_signed(secret, body), body)
    receiver.stop()
    progress = FeedProgress(total=10, sent=4, sim_at=datetime(2022, 3, 1, tzinfo=UTC))
    progress.expected["tick"] = 3
    view = DemoView(
        phase="feeding",
        progress=progress,
        scoring=ScoringSnapshot(
            "2022-03-01T00:00:00Z", {"a.one": "ACHIEVED", "b.two": "AT_RISK", "c.three": "AT_RISK"}
        ),
        posts=receiver.snapshot(),
        dead_letters=Counter({"unsigned": 1}),
    )
    line = plain_line(view)
    assert "day 2022-03-01" in line and "sent 4/10" in line
    assert "ACHIEVED=1 AT_RISK=2" in line
    assert "alerts 1 in 1 posts" in line and "dead letters 1" in line
    console = Console(record=True, width=140)
    console.print(render(view))
    text = console.export_text()
    assert "report_overdue" in text and "tourism.online-booking" in text and " ok" in text
    assert "b.two, c.three" in text
    assert "unsigned 1" in text


def test_the_demo_routing_publishes_to_the_runs_notifications_topic() -> None:
    config = load_routing(demo_routing("planwatch.notifications.t42"), "routing.yaml")
    [kafka] = config.integrations("demo-kafka")
    assert isinstance(kafka.config, KafkaConfig)
    assert kafka.config.topic == "planwatch.notifications.t42"
    assert {"demo-kafka", "demo-webhook", "demo-email"} <= set(config.receivers)


def test_the_demo_routing_gives_co_owners_their_own_copy() -> None:
    config = load_routing(demo_routing("planwatch.notifications.t42"), "routing.yaml")
    base = {"alertname": "report_overdue", "plan": "p", "target": "t", "severity": "critical"}
    lead = {**base, "agency": "qy.miit", "role": "lead"}
    co = {**base, "agency": "qy.hitech-zone", "role": "co"}
    assert [r.receiver for r in match_routes(config.route, lead)] == [
        "demo-kafka",
        "demo-webhook",
        "demo-email",
    ]
    assert [r.receiver for r in match_routes(config.route, co)] == [
        "demo-kafka",
        "demo-co-owners",
    ]


def test_the_demo_routing_escalates_critical_lead_copies() -> None:
    config = load_routing(demo_routing("planwatch.notifications.t42"), "routing.yaml")
    base = {"alertname": "report_overdue", "plan": "p", "target": "t", "agency": "qy.miit"}
    critical = match_routes(config.route, {**base, "severity": "critical", "role": "lead"})
    lead = next(r for r in critical if r.receiver == "demo-webhook")
    assert [s.receiver for s in lead.settings.escalation] == ["demo-coordinator", "demo-leadership"]
    for labels in ({**base, "severity": "warning", "role": "lead"},
                   {**base, "severity": "critical", "role": "co"}):  # fmt: skip
        assert all(not r.settings.escalation for r in match_routes(config.route, labels))
