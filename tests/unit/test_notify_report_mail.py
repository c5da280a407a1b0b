"""Mailing a report through notify (`POST /api/v1/reports/mail`, scope reports:send): the file
attached to each e-mail integration of the receiver, its recipients as the routing file says,
a stable Message-ID, the audit log, and the refusals."""

from __future__ import annotations

import asyncio
import base64
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.notify.clock import ManualClock
from services.notify.config import SmtpSettings
from services.notify.domain.config import load_routing
from services.notify.domain.delivery import Outcome, OutcomeKind
from services.notify.domain.payloads.report_mail import (
    ReportAttachment,
    ReportMailError,
    report_email,
)
from services.notify.memory_store import InMemoryNotifyStore
from services.notify.report_mail_api import MAX_REPORT_BYTES, report_mail_router
from services.notify.senders import Attempt
from shared.runtime.auth import ALERTS_ACK, REPORTS_SEND, Authenticator, install
from shared.runtime.problems import install_problem_handlers
from tests.token_issuer import LocalIssuer
from tests.unit.notify_fixtures import T0

ISSUER = LocalIssuer()
PDF = b"%PDF-1.7\n% a report\n%%EOF\n"
ROUTING = """
route:
  receiver: ops
receivers:
  - name: ops
    webhook_configs: [{url: "https://hooks.example.org/x"}]
  - name: leadership-report
    email_configs:
      - {to: [director@qy.example, deputy@qy.example], from: planwatch@qy.example}
      - {to: [archive@qy.example], from: reports@qy.example, html: false}
"""


class Relay:
    """Stands in for notify's SMTP relay: keeps each message, answers as told."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.answers: list[Attempt] = []

    def __call__(self, settings: SmtpSettings, message: EmailMessage) -> Attempt:
        parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        if self.answers:
            return self.answers.pop(0)
        return Attempt(Outcome(OutcomeKind.SUCCESS, "SMTP 250"), 250)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[TestClient, InMemoryNotifyStore, Relay]:
    store, relay = InMemoryNotifyStore(), Relay()
    app = FastAPI()
    settings = ISSUER.settings(ISSUER.write_jwks(tmp_path / "jwks.json"))
    install(app, Authenticator.from_settings(settings, listen_host="127.0.0.1", service="notify"))
    install_problem_handlers(app)
    router = report_mail_router(
        load_routing(ROUTING), store, ManualClock(T0), SmtpSettings(), mailer=relay
    )
    app.include_router(router)
    return TestClient(app), store, relay


def body(**changes: Any) -> dict[str, Any]:
    return {
        "receiver": "leadership-report",
        "subject": "数字经济发展规划 · 进度评估报告 · 2022-03-31",
        "text": "见附件 report.pdf。",
        "filename": "report.pdf",
        "content_type": "application/pdf",
        "content": base64.b64encode(PDF).decode(),
        **changes,
    }


def post(client: TestClient, payload: dict[str, Any], *scopes: str) -> Any:
    headers = ISSUER.headers(*(scopes or (REPORTS_SEND,)), sub="report-job")
    return client.post("/api/v1/reports/mail", json=payload, headers=headers)


def test_the_report_goes_to_every_email_integration_of_the_receiver(
    setup: tuple[TestClient, InMemoryNotifyStore, Relay],
) -> None:
    client, store, relay = setup
    answer = post(client, body())
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert [s["to"] for s in view["sent"]] == [
        ["director@qy.example", "deputy@qy.example"],
        ["archive@qy.example"],
    ]
    assert {s["outcome"] for s in view["sent"]} == {"success"}
    assert view["bytes"] == len(PDF)
    first, second = relay.messages
    assert first["To"] == "director@qy.example, deputy@qy.example"
    assert first["From"] == "planwatch@qy.example" and second["From"] == "reports@qy.example"
    assert first["Subject"] == body()["subject"]
    [attachment] = list(first.iter_attachments())
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF
    note = first.get_body(("plain",))
    assert note is not None and "report.pdf" in note.get_content()
    # Audited, with the file's fingerprint and the outcomes, never its content.
    [entry] = asyncio.run(store.entries())
    assert (entry["actor"], entry["action"], entry["subject"]) == (
        "report-job",
        "report.mail",
        "leadership-report",
    )
    assert entry["details"]["sha256"] == view["sha256"]
    assert body()["content"] not in str(entry)


def test_a_resent_report_keeps_its_message_id(
    setup: tuple[TestClient, InMemoryNotifyStore, Relay],
) -> None:
    client, _, relay = setup
    for _ in range(2):
        assert post(client, body()).status_code == 200
    ids = [m["Message-ID"] for m in relay.messages]
    assert ids[0] == ids[2] and ids[1] == ids[3] and ids[0] != ids[1]
    assert post(client, body(key="another")).status_code == 200
    assert relay.messages[-2]["Message-ID"] != ids[0]


def test_a_relay_refusal_is_502_and_names_the_integration(
    setup: tuple[TestClient, InMemoryNotifyStore, Relay],
) -> None:
    client, store, relay = setup
    relay.answers = [
        Attempt(Outcome(OutcomeKind.SUCCESS, "SMTP 250"), 250),
        Attempt(Outcome(OutcomeKind.FAILED, "SMTP 550: no such user"), 550),
    ]
    answer = post(client, body())
    assert answer.status_code == 502, answer.text
    assert "leadership-report/email/1: failed: SMTP 550" in answer.json()["detail"]
    [entry] = asyncio.run(store.entries())
    assert [s["outcome"] for s in entry["details"]["sent"]] == ["success", "failed"]


@pytest.mark.parametrize(
    ("changes", "status", "detail"),
    [
        ({"receiver": "nobody"}, 400, "unknown receiver"),
        ({"receiver": "ops"}, 400, "no e-mail integration"),
        ({"filename": "../etc/report.pdf"}, 400, "bad file name"),
        ({"filename": "report.html"}, 400, "bad file name"),
        ({"content_type": "application/zip"}, 422, ""),
        ({"subject": "a\r\nBcc: x@y.example"}, 422, ""),
    ],
)
def test_refusals(
    setup: tuple[TestClient, InMemoryNotifyStore, Relay],
    changes: dict[str, Any],
    status: int,
    detail: str,
) -> None:
    client, store, relay = setup
    answer = post(client, body(**changes))
    assert answer.status_code == status, answer.text
    assert detail in str(answer.json().get("detail"))
    assert relay.messages == [] and asyncio.run(store.entries()) == []


def test_too_large_a_report_is_413(
    setup: tuple[TestClient, InMemoryNotifyStore, Relay], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, relay = setup
    monkeypatch.setattr("services.notify.report_mail_api.MAX_REPORT_BYTES", 10)
    assert MAX_REPORT_BYTES > 10
    assert post(client, body()).status_code == 413
    assert relay.messages == []


def test_it_needs_the_reports_send_scope(
    setup: tuple[TestClient, InMemoryNotifyStore, Relay],
) -> None:
    client, _, relay = setup
    assert client.post("/api/v1/reports/mail", json=body()).status_code == 401
    assert post(client, body(), ALERTS_ACK).status_code == 403
    assert relay.messages == []


def test_the_message_alone() -> None:
    html = ReportAttachment("report-2022-03.html", "text/html", b"<html></html>")
    message = report_email(
        html, subject="月报", text="附件", sender="a@b.example", to=["c@d.example"], now=T0,
        message_id="m1",
    )  # fmt: skip
    assert message["Message-ID"] == "<m1@b.example>"
    assert "=?utf-8?" in message.as_string()  # the subject, RFC 2047 encoded
    with pytest.raises(ReportMailError):
        ReportAttachment("report.pdf", "text/html", b"")
