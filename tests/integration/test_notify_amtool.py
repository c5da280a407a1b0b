"""Alertmanager's own command line, `amtool` (built from the Go module proxy), against notify
running as a process on the real Kafka and FerretDB: it lists the alerts that went through
notify, and adds, queries and expires a silence that really mutes. notify's answers are also
checked against Alertmanager's OpenAPI document (the same module's)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from shared.runtime.auth import SILENCES_READ, SILENCES_WRITE
from tests.integration import notify_subprocess
from tests.integration.amtool_support import Amtool, amtool_binary, check_shape, http_config
from tests.integration.auth_support import headers, token
from tests.integration.notify_subprocess import NotifyProcesses, service_env
from tests.integration.notify_support import HttpReceiver, alert_event, encoded, wait_until
from tests.integration.service_process import ServiceProcess
from tests.integration.test_notify_service import metric_value, publish, stopped_cleanly

pytestmark = pytest.mark.integration
notify_process = notify_subprocess.notify_process  # the fixture, for pytest to find here


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    server = HttpReceiver()
    await server.start()
    yield server
    await server.stop()


def targets(alerts: list[dict[str, Any]]) -> list[str]:
    return sorted(a["labels"]["target"] for a in alerts)


async def test_amtool_lists_alerts_and_adds_queries_expires_a_silence_that_mutes(
    kafka_bootstrap: str,
    topic_name: str,
    free_port: int,
    notify_process: NotifyProcesses,
    receiver: HttpReceiver,
    tmp_path: Path,
) -> None:
    amtool_binary()  # built (or skipped, with the reason) before notify starts
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        f"""
route:
  receiver: ops
  group_by: [plan, agency, target]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: ops
    webhook_configs:
      - url: {receiver.url("/hook")}
        secret: env:NOTIFY_TEST_SECRET
        allow_private: true
"""
    )
    service = notify_process(routing, free_port)
    service.start()
    await service.ready()
    operator = Amtool(
        service.url,
        http_config(tmp_path / "http.yml", token(SILENCES_READ, SILENCES_WRITE, sub="ops-1")),
    )
    try:
        # A firing alert goes through notify (Kafka, routing, a group, the webhook) ...
        await publish(
            kafka_bootstrap,
            f"{topic_name}.alerts",
            encoded(alert_event(target="t-1", at=datetime.now(UTC))),
        )
        [first] = await receiver.wait_for("/hook", 1)
        assert targets(json.loads(first.body)["alerts"]) == ["t-1"]

        # ... and amtool lists it: with its receiver, active, as Alertmanager shows alerts.
        [listed] = operator.json("alert", "query")
        assert listed["labels"]["target"] == "t-1"
        assert listed["receivers"] == [{"name": "ops"}]
        assert listed["status"] == {
            "state": "active",
            "silencedBy": [],
            "inhibitedBy": [],
            "mutedBy": [],
        }
        table = operator.ok("alert", "query", 'target="t-1"').splitlines()  # the simple format
        assert len(table) == 2 and table[1].split()[0] == "status_degraded"
        assert table[1].split()[-1] == "active"
        assert operator.json("alert", "query", 'target="t-9"') == []

        # A silence added with amtool: its id printed, the author the token's subject.
        sid = operator.ok(
            "silence", "add", 'target="t-2"', "--comment=检修 maintenance", "--duration=1h"
        ).strip()
        assert sid
        assert operator.ok("silence", "query", "--quiet").split() == [sid]
        [silence] = operator.json("silence", "query", 'target="t-2"')
        assert silence["id"] == sid and silence["createdBy"] == "ops-1"
        assert silence["status"]["state"] == "active"
        assert operator.json("silence", "query", 'target="t-1"') == []

        # It mutes: t-2's alert is stored and counted as silenced, not sent; amtool shows it
        # among the silenced alerts only.
        await publish(
            kafka_bootstrap,
            f"{topic_name}.alerts",
            encoded(alert_event(target="t-2", at=datetime.now(UTC))),
        )
        await wait_until(
            lambda: metric_value(service.metrics(), "planwatch_notify_alerts_silenced_total") >= 1
        )
        assert all(targets(json.loads(r.body)["alerts"]) == ["t-1"] for r in receiver.at("/hook"))
        assert targets(operator.json("alert", "query")) == ["t-1"]
        [muted] = operator.json("alert", "query", "--silenced")
        assert muted["labels"]["target"] == "t-2"
        assert muted["status"]["state"] == "suppressed" and muted["status"]["silencedBy"] == [sid]
        assert targets(operator.json("alert", "query", "--active", "--silenced")) == ["t-1", "t-2"]

        # Answers as Alertmanager's OpenAPI document describes them.
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
            reader = headers(SILENCES_READ)
            for path, definition in [
                ("/api/v2/alerts", "gettableAlerts"),
                ("/api/v2/alerts/groups", "alertGroups"),
                ("/api/v2/silences", "gettableSilences"),
                (f"/api/v2/silence/{sid}", "gettableSilence"),
                ("/api/v2/receivers", "receiver"),
                ("/api/v2/status", "alertmanagerStatus"),
            ]:
                answer = await client.get(path, headers=reader)
                assert answer.status_code == 200, (path, answer.text)
                body = answer.json()
                for item in body if definition == "receiver" else [body]:
                    check_shape(item, definition)
            groups = (await client.get("/api/v2/alerts/groups", headers=reader)).json()
            assert [g["labels"]["target"] for g in groups] == ["t-1", "t-2"]
            assert all(g["receiver"] == {"name": "ops"} for g in groups)

        # Expired with amtool: the silence is over, and t-2 is delivered at last.
        operator.ok("silence", "expire", sid)
        assert operator.ok("silence", "query", "--quiet").split() == []
        assert operator.ok("silence", "query", "--expired", "--quiet").split() == [sid]
        await wait_until(
            lambda: any(
                "t-2" in targets(json.loads(r.body)["alerts"]) for r in receiver.at("/hook")
            )
        )
        assert targets(operator.json("alert", "query")) == ["t-1", "t-2"]

        # The routing file as `amtool config show` prints it: the webhook URL masked.
        shown = operator.ok("config", "show")
        assert "receiver: ops" in shown and receiver.url("/hook") not in shown

        # Without a token, or with one lacking the scope, notify refuses amtool.
        anonymous = Amtool(service.url, None).run("alert", "query")
        assert anonymous.returncode != 0 and "401" in anonymous.stderr + anonymous.stdout
        reader_only = Amtool(
            service.url, http_config(tmp_path / "reader.yml", token(SILENCES_READ))
        ).run("silence", "add", 'target="t-3"', "--comment=x")
        assert reader_only.returncode != 0 and "403" in reader_only.stderr + reader_only.stdout
    finally:
        assert stopped_cleanly(service)


def test_notify_does_not_start_with_an_unset_webhook_secret(tmp_path: Path, free_port: int) -> None:
    """A route whose webhook URL or secret is not set is refused at start, with its line."""
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "route:\n  receiver: ops\nreceivers:\n  - name: ops\n    webhook_configs:\n"
        "      - url_ref: env:PLANWATCH_TEST_UNSET_URL\n        secret: env:NOTIFY_TEST_SECRET\n"
    )
    env = {
        **service_env(
            kafka="127.0.0.1:1",
            mongodb="mongodb://127.0.0.1:1/",
            db="unused",
            prefix="unused",
            group="unused",
            routing=routing,
            http_port=free_port,
        )
    }
    env.pop("NOTIFY_TEST_SECRET")
    env.pop("PLANWATCH_TEST_UNSET_URL", None)
    service = ServiceProcess("notify", env, tmp_path / "notify.log", free_port)
    service.start()
    assert service.proc is not None
    assert service.proc.wait(timeout=60) == 2
    log = service.log.read_text()
    assert f"{routing}:6: ops/webhook/0: url_ref: secret env:PLANWATCH_TEST_UNSET_URL" in log
    assert f"{routing}:6: ops/webhook/0: secret: secret env:NOTIFY_TEST_SECRET" in log
