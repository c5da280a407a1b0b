"""The monthly report's path, end to end: `planwatch report --from-mongodb --pdf --send-to R`
renders the running platform's report from the reports ingest stored in MongoDB, and notify
(a process on the real Kafka and FerretDB, with a bearer token of scope reports:send) mails the
PDF through receiver R's e-mail integration, to the recipients of the routing file, at a local
SMTP server; the call is in notify's audit log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from typer.testing import CliRunner, Result

from planwatch.report.pdf import find_chromium
from planwatch.report_cli import report_app
from shared.runtime.auth import REPORTS_SEND
from tests.integration import notify_subprocess
from tests.integration.auth_support import token
from tests.integration.notify_subprocess import NotifyProcesses
from tests.integration.notify_support import Inbox, start_smtp, wait_until, wait_until_true
from tests.integration.test_report_live import DAY, stored_documents

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_chromium() is None, reason="the PDF needs chromium"),
]
notify_process = notify_subprocess.notify_process  # the fixture, for pytest to find here
RECIPIENTS = ["director@qy.example", "deputy@qy.example"]


@pytest.fixture
def smtp(unused_tcp_port_factory: Any) -> Iterator[tuple[int, Inbox]]:
    port = unused_tcp_port_factory()
    controller, inbox = start_smtp(port)
    yield port, inbox
    controller.stop()


def run_report(*args: str, env: dict[str, str]) -> Result:
    return CliRunner(env=env).invoke(report_app, ["--at", DAY.isoformat(), *args])


async def test_the_live_report_is_mailed_as_a_pdf_by_notify(
    mongodb_uri: str,
    db_name: str,
    free_port: int,
    notify_process: NotifyProcesses,
    smtp: tuple[int, Inbox],
    tmp_path: Path,
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    smtp_port, inbox = smtp
    _, documents = stored_documents()
    await mongo_db["reports"].insert_many(documents)
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        f"""
route:
  receiver: leadership-report
receivers:
  - name: leadership-report
    email_configs: [{{to: [{", ".join(RECIPIENTS)}], from: planwatch@qy.example}}]
"""
    )
    notify = notify_process(routing, free_port, smtp_port=smtp_port)
    notify.start()
    try:
        await notify.ready()
        cli_env = {
            "MONGODB_URI": mongodb_uri,
            "MONGODB_DATABASE": db_name,
            "PLANWATCH_TOKEN": token(REPORTS_SEND, sub="planwatch-report"),
        }
        out = tmp_path / "report.html"
        args = ["--from-mongodb", "--since", "month", "--pdf", "--out", str(out)]
        sent = await asyncio.to_thread(
            run_report,
            *args,
            "--send-to",
            "leadership-report",
            "--url",
            notify.url,
            env=cli_env,
        )
        assert sent.exit_code == 0, f"{sent.output}\n{notify.log_tail()}"
        assert f"sent report.pdf to leadership-report: {', '.join(sorted(RECIPIENTS))}" in (
            sent.output
        )
        await wait_until(lambda: len(inbox.messages) == 1)
        envelope, mail = inbox.messages[0]
        assert sorted(envelope.rcpt_tos) == sorted(RECIPIENTS)
        assert mail["From"] == "planwatch@qy.example"
        assert DAY.isoformat() in mail["Subject"] and "进度评估报告" in mail["Subject"]
        [attachment] = list(mail.iter_attachments())
        assert attachment.get_filename() == "report.pdf"
        assert attachment.get_content() == out.with_suffix(".pdf").read_bytes()

        async def audited() -> bool:
            found = await mongo_db["notify_audit"].find_one({"action": "report.mail"})
            return found is not None and found["actor"] == "planwatch-report"

        await wait_until_true(audited, within=10)

        # Without the scope, notify refuses and nothing is mailed.
        refused = await asyncio.to_thread(
            run_report,
            *args,
            "--send-to",
            "leadership-report",
            "--url",
            notify.url,
            env={**cli_env, "PLANWATCH_TOKEN": token("plans:read")},
        )
        assert refused.exit_code == 1 and "notify refused (403)" in refused.output
        assert len(inbox.messages) == 1
    finally:
        notify.stop()
