from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta, timezone
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default as default_policy
from urllib.parse import quote_plus

import pytest
from standardwebhooks.webhooks import Webhook

from services.notify.domain.alert import AlertEvent
from services.notify.domain.payloads.data import notification_data, quote_meta
from services.notify.domain.payloads.mail import email_message
from services.notify.domain.payloads.robots import (
    WECOM_MARKDOWN_LIMIT,
    dingtalk_markdown,
    dingtalk_sign,
    dingtalk_signed_url,
    wecom_markdown,
)
from services.notify.domain.payloads.webhook import (
    SigningError,
    standard_webhooks_headers,
    webhook_body,
    webhook_message,
)
from services.notify.domain.timefmt import go_rfc3339
from tests.unit.notify_fixtures import T0, at, make_alert
from tests.webhook_oracle import verify_at

GROUP = {"plan": "qingyuan-digital-economy-2021", "agency": "qy.miit", "rule": "status_degraded"}


def test_webhook_v4_fields_order_and_times() -> None:
    firing = make_alert("t1", starts=at(0.25))
    resolved = make_alert("t2", ends=at(50))
    msg = webhook_message(
        "agency-qy.miit",
        '{}:{plan="p"}',
        GROUP,
        [firing, resolved],
        now=at(60),
        external_url="http://pw.local",
    )
    assert list(msg) == [
        "receiver",
        "status",
        "alerts",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "version",
        "groupKey",
        "truncatedAlerts",
    ]
    assert msg["version"] == "4" and msg["status"] == "firing"
    assert msg["receiver"] == "agency-qy\\.miit"  # regexp.QuoteMeta, as Alertmanager
    a0, a1 = msg["alerts"]
    assert list(a0) == [
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    ]
    assert a0["status"] == "firing" and a0["startsAt"] == "2022-06-01T08:00:00.25Z"
    assert a0["endsAt"] == "0001-01-01T00:00:00Z"
    assert a1["status"] == "resolved" and a1["endsAt"] == "2022-06-01T08:00:50Z"
    assert msg["commonLabels"]["rule"] == "status_degraded"
    assert "target" not in msg["commonLabels"]
    assert msg["commonAnnotations"] == {
        "summary_en": "5G station build-out is behind",
        "summary_zh": "5G基站建设进度落后",
    }
    assert msg["truncatedAlerts"] == 0


def test_webhook_all_resolved_and_truncation() -> None:
    alerts = [make_alert(f"t{i}", ends=at(10)) for i in range(5)]
    msg = webhook_message("r", "k", GROUP, alerts, now=at(60), max_alerts=2)
    assert msg["status"] == "resolved"
    assert len(msg["alerts"]) == 2 and msg["truncatedAlerts"] == 3


def test_webhook_body_is_go_style_json() -> None:
    alert = make_alert(summary_en="a <b> & c")
    body = webhook_body("r", "k", GROUP, [alert], now=at(1))
    assert body.endswith(b"\n") and b"\\u003cb\\u003e \\u0026 c" in body
    assert "5G基站建设进度落后".encode() in body  # UTF-8, not \u escapes
    assert json.loads(body)["alerts"][0]["annotations"]["summary_en"] == "a <b> & c"


def test_go_time_format() -> None:
    assert go_rfc3339(None) == "0001-01-01T00:00:00Z"
    assert go_rfc3339(at(0.123)) == "2022-06-01T08:00:00.123Z"
    cst = T0.astimezone(timezone(timedelta(hours=8)))
    assert go_rfc3339(cst) == "2022-06-01T08:00:00Z"


SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()


def test_standard_webhooks_signature_verifies_with_reference_library() -> None:
    body = webhook_body("r", "k", GROUP, [make_alert()], now=at(1))
    timestamp = int(T0.timestamp())
    headers = standard_webhooks_headers([SECRET], "msg_1", timestamp, body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).sign("msg_1", T0, body.decode()) == headers["webhook-signature"]
    assert verify_at(SECRET, body, headers, T0) == json.loads(body)


def test_standard_webhooks_rotation_and_bad_secrets() -> None:
    other = "whsec_" + base64.b64encode(b"k" * 24).decode()
    headers = standard_webhooks_headers([SECRET, other], "m", 1, b"{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    for bad in ("abc", "whsec_!!!", "whsec_" + base64.b64encode(b"short").decode()):
        with pytest.raises(SigningError):
            standard_webhooks_headers([bad], "m", 1, b"{}")


def test_wecom_markdown_within_4096_bytes() -> None:
    alerts = [make_alert(f"target-{i}", summary_zh="进度落后" * 20) for i in range(60)]
    data = notification_data("r", GROUP, alerts, at(60))
    msg = wecom_markdown(data, title="清远市数字经济")
    assert msg["msgtype"] == "markdown"
    content = msg["markdown"]["content"]
    assert len(content.encode()) <= WECOM_MARKDOWN_LIMIT
    assert content.startswith(
        "### [FIRING:60] 清远市数字经济 qy.miit qingyuan-digital-economy-2021 status_degraded\n"
    )
    assert "more" in content and "target-0" in content
    small = wecom_markdown(notification_data("r", GROUP, alerts[:1], at(60)))
    assert "5G station build-out is behind" in small["markdown"]["content"]
    assert "http://planwatch.local/targets/target-0" in small["markdown"]["content"]


def test_dingtalk_message_and_signature() -> None:
    data = notification_data("r", GROUP, [make_alert()], at(60))
    msg = dingtalk_markdown(data)
    assert msg["msgtype"] == "markdown"
    assert msg["markdown"]["title"].startswith("[FIRING:1]")
    assert "5G基站建设进度落后" in msg["markdown"]["text"]
    secret, ts = "SEC000000000000000000000", 1654070400000
    expected = quote_plus(
        base64.b64encode(
            hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
    )
    assert dingtalk_sign(secret, ts) == expected
    url = "https://oapi.dingtalk.com/robot/send?access_token=abc"
    assert dingtalk_signed_url(url, secret, ts) == f"{url}&timestamp={ts}&sign={expected}"


def test_email_with_chinese_subject_and_alternatives() -> None:
    alerts = [make_alert("t1"), make_alert("t2")]
    data = notification_data("r", GROUP, alerts, at(60))
    message = email_message(
        data,
        sender="planwatch@qy.example",
        to=["a@qy.example", "b@qy.example"],
        now=at(60),
        message_id="msg_1",
        title="清远市推进数字经济发展实施方案",
    )
    raw = message.as_bytes()
    assert b"=?utf-8?" in raw  # RFC 2047 encoded-word
    assert "清远".encode() not in raw.split(b"\r\n\r\n", 1)[0]  # headers are ASCII
    parsed = message_from_bytes(raw, policy=default_policy)
    subject = str(make_header(decode_header(parsed["Subject"])))
    assert subject == (
        "[FIRING:2] 清远市推进数字经济发展实施方案 "
        "qy.miit qingyuan-digital-economy-2021 status_degraded"
    )
    assert parsed["Message-ID"] == "<msg_1@qy.example>"
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and "5G基站建设进度落后" in plain.get_content()
    assert html is not None and "<table" in html.get_content()
    text_only = email_message(
        data, sender="p@x.example", to=["a@x.example"], now=at(60), message_id="m", html=False
    )
    assert text_only.get_content_type() == "text/plain"


def test_alert_event_parses_scoring_output() -> None:
    event = AlertEvent.model_validate_json(
        json.dumps(
            {
                "id": "tr-1",
                "fingerprint": "ab12",
                "status": "resolved",
                "transition": "resolved",
                "labels": {
                    "alertname": "deadline_near",
                    "rule": "deadline_near",
                    "plan": "p",
                    "area": "2.2",
                    "task": "2.2.1",
                    "target": "t",
                    "agency": "qy.miit",
                    "severity": "critical",
                },
                "annotations": {
                    "summary_zh": "临近截止",
                    "summary_en": "deadline near",
                    "description_zh": "",
                    "description_en": "",
                },
                "startsAt": "2022-06-01T16:00:00+08:00",
                "endsAt": "2022-06-02T16:00:00+08:00",
                "generatorURL": "http://x/t",
                "method": "v1",
                "at": "2022-06-02T16:00:00+08:00",
            }
        )
    )
    alert = event.to_alert()
    assert alert.starts_at == T0 and alert.labels["severity"] == "critical"
    assert alert.resolved_at(at(86400)) and not alert.resolved_at(at(86399))
    with pytest.raises(ValueError, match="endsAt"):
        AlertEvent.model_validate({**event.model_dump(by_alias=True), "endsAt": None})


def test_quote_meta() -> None:
    assert quote_meta("a.b+c(d)") == "a\\.b\\+c\\(d\\)"
    assert quote_meta("agency-qy") == "agency-qy"
