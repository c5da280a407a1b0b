"""notify end to end in-process on the real Kafka and FerretDB, with a manual clock: routing,
grouping and Alertmanager's timers, dedup, inhibition, silences, e-mail and Kafka receivers,
Standard Webhooks signatures checked by the reference library."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from services.notify.api import api_router
from services.notify.domain.payloads.robots import dingtalk_sign
from services.notify.intake import IntakeResult
from services.scoring.alert_payload import alert_events
from shared.catalog import load_catalog
from shared.domain.method_v1 import AlertRule, Severity, alert_transitions, evaluate_target
from shared.runtime.auth import SILENCES_READ, SILENCES_WRITE, install
from tests.integration import notify_harness
from tests.integration.notify_harness import SECRET, T0, Harness, MakeHarness, body, read_topic
from tests.integration.notify_support import HttpReceiver, Reply, alert_event, start_smtp
from tests.token_issuer import LocalIssuer
from tests.webhook_oracle import verify_at

ISSUER = LocalIssuer()

pytestmark = pytest.mark.integration
make_harness = notify_harness.make_harness  # the fixture, for pytest to find here

ROUTING = """
route:
  receiver: default-hook
  group_by: [plan, agency, rule]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - receiver: coordinator
      matchers: ['severity="critical"']
      continue: true
    - receiver: agency-miit
      matchers: ['agency="qy.miit"']
    - receiver: agency-health
      matchers: ['agency="qy.health"']
receivers:
  - name: default-hook
    webhook_configs: [{url: "{http}/default", allow_private: true}]
  - name: coordinator
    webhook_configs: [{url: "{http}/coordinator", allow_private: true}]
  - name: agency-miit
    webhook_configs:
      - {url: "{http}/miit", secret: "env:NOTIFY_TEST_SECRET", allow_private: true}
  - name: agency-health
    webhook_configs: [{url: "{http}/health", allow_private: true, send_resolved: false}]
inhibit_rules:
  - source_matchers: ['alertname="report_overdue"']
    target_matchers: ['alertname=~"status_degraded|deadline_near"']
    equal: [plan, target]
"""


ROLE_ROUTING = """
route:
  receiver: default-hook
  group_by: [plan, agency, alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - receiver: coordinator
      matchers: ['severity="critical"', 'role="lead"']
      continue: true
    - receiver: leads
      matchers: ['role="lead"']
    - receiver: co-owners
      matchers: ['role="co"']
receivers:
  - name: default-hook
    webhook_configs: [{url: "{http}/default", allow_private: true}]
  - name: coordinator
    webhook_configs: [{url: "{http}/coordinator", allow_private: true}]
  - name: leads
    webhook_configs: [{url: "{http}/leads", allow_private: true}]
  - name: co-owners
    webhook_configs: [{url: "{http}/co", allow_private: true}]
"""


def verified(h: Harness, request_body: bytes, headers: dict[str, str]) -> object:
    """The body as the Standard Webhooks reference library verifies it, as of the harness's
    injected clock (notify signed with that clock, not the wall clock)."""
    return verify_at(SECRET, request_body, headers, h.clock.now())


async def test_group_wait_interval_resolve_and_repeat(make_harness: MakeHarness) -> None:
    h = await make_harness(ROUTING)
    a = alert_event(target="t-a", at=T0)
    assert await h.send(a) is IntakeResult.APPLIED
    await h.tick(29)
    assert h.http.at("/miit") == []  # group_wait not over
    await h.tick(1)
    [first] = h.http.at("/miit")
    message = verified(h, first.body, first.headers)
    assert isinstance(message, dict)
    assert message["status"] == "firing" and message["version"] == "4"
    assert [x["labels"]["target"] for x in message["alerts"]] == ["t-a"]
    assert message["groupLabels"] == {
        "agency": "qy.miit",
        "plan": "qy-digital-2025",
        "rule": "status_degraded",
    }
    assert message["groupKey"].startswith('{}/{agency="qy.miit"}:')
    assert message["receiver"] == "agency-miit"

    # A second alert of the same group waits for group_interval (5 m after the first flush).
    b = alert_event(target="t-b", at=T0 + timedelta(seconds=60))
    h.clock.set(T0 + timedelta(seconds=60))
    await h.send(b)
    await h.tick(60 * 4)  # T0 + 5 m: next flush is at T0 + 30 s + 5 m
    assert len(h.http.at("/miit")) == 1
    await h.tick(30)
    second = h.http.at("/miit")[1]
    message = body(second.body)
    assert sorted(x["labels"]["target"] for x in message["alerts"]) == ["t-a", "t-b"]
    assert second.headers["webhook-id"] != first.headers["webhook-id"]

    # Nothing new: the next interval sends nothing.
    await h.tick(300)
    assert len(h.http.at("/miit")) == 2

    # a resolves: sent at the next flush (send_resolved), then it leaves the group.
    resolve_at = h.clock.now() + timedelta(seconds=10)
    h.clock.set(resolve_at)
    await h.send(alert_event(target="t-a", at=resolve_at, starts_at=T0, resolved=True))
    await h.tick(300)
    third = body(h.http.at("/miit")[2].body)
    statuses = {x["labels"]["target"]: x["status"] for x in third["alerts"]}
    assert statuses == {"t-a": "resolved", "t-b": "firing"}
    group = (await h.service.store.groups())[0]
    assert set(group.state.alerts) == {b.fingerprint}

    # After repeat_interval (1 h) with no change, a reminder of what still fires.
    await h.tick(300)
    assert len(h.http.at("/miit")) == 3
    h.clock.advance(3600)
    await h.tick()
    fourth = body(h.http.at("/miit")[3].body)
    assert [x["labels"]["target"] for x in fourth["alerts"]] == ["t-b"]
    attempts = await h.service.store.attempts()
    assert len(attempts) == 4 and all(x["status"] == 200 for x in attempts)


async def test_routing_continue_and_all_resolved(make_harness: MakeHarness) -> None:
    h = await make_harness(ROUTING)
    critical = alert_event(agency="qy.health", severity="critical", at=T0, rule="target_missed")
    other = alert_event(agency="qy.drc", at=T0, rule="deadline_near")
    await h.send(critical)
    await h.send(other)
    await h.tick(30)
    assert len(h.http.at("/coordinator")) == 1  # critical: coordinator (continue) ...
    assert len(h.http.at("/health")) == 1  # ... and its agency
    assert len(h.http.at("/default")) == 1  # no agency route matched: the root
    assert h.http.at("/miit") == []

    # Resolved: the coordinator (send_resolved) is told; the agency hook has send_resolved
    # false, so nothing is sent there but its log is written; both groups are then deleted.
    later = T0 + timedelta(seconds=40)
    h.clock.set(later)
    resolved = alert_event(
        agency="qy.health",
        severity="critical",
        at=later,
        starts_at=T0,
        rule="target_missed",
        resolved=True,
    )
    await h.send(resolved)
    await h.tick(300)
    [_, closing] = h.http.at("/coordinator")
    assert body(closing.body)["status"] == "resolved"
    assert len(h.http.at("/health")) == 1
    health_key = body(h.http.at("/health")[0].body)["groupKey"]
    entry = await h.service.store.log_entry(health_key, "agency-health/webhook/0")
    assert entry is not None and entry.firing == frozenset()
    assert entry.resolved == {resolved.fingerprint}
    groups = {g.state.receiver for g in await h.service.store.groups()}
    assert groups == {"default-hook"}


async def test_severity_change_closes_the_coordinator_group(make_harness: MakeHarness) -> None:
    h = await make_harness(ROUTING)
    await h.send(alert_event(agency="qy.health", severity="critical", at=T0))
    await h.tick(30)
    assert len(h.http.at("/coordinator")) == 1
    later = T0 + timedelta(seconds=60)
    h.clock.set(later)
    await h.send(
        alert_event(
            agency="qy.health",
            severity="warning",
            at=later,
            starts_at=T0,
            transition="severity_changed",
        )
    )
    await h.tick(300)
    [_, closed] = h.http.at("/coordinator")
    assert body(closed.body)["status"] == "resolved"
    assert [body(r.body)["alerts"][0]["labels"]["severity"] for r in h.http.at("/health")] == [
        "critical"
    ]


async def test_duplicate_and_stale_transitions_are_dropped(make_harness: MakeHarness) -> None:
    h = await make_harness(ROUTING)
    event = alert_event(at=T0 + timedelta(seconds=5))
    assert await h.send(event) is IntakeResult.APPLIED
    assert await h.send(event) is IntakeResult.DUPLICATE
    older = alert_event(at=T0, event_id="older")
    assert await h.send(older) is IntakeResult.STALE
    assert h.metric("planwatch_notify_alerts_received_total", {"result": "duplicate"}) == 1
    await h.tick(60)
    assert len(h.http.at("/miit")) == 1


async def test_inhibition_mutes_the_target_alert(make_harness: MakeHarness) -> None:
    h = await make_harness(ROUTING)
    await h.send(alert_event(rule="report_overdue", target="t-x", at=T0))
    await h.send(alert_event(rule="status_degraded", target="t-x", at=T0))
    await h.send(alert_event(rule="status_degraded", target="t-y", at=T0))
    await h.tick(30)
    sent = sorted(
        (m["groupLabels"]["rule"], a["labels"]["target"])
        for m in (body(r.body) for r in h.http.at("/miit"))
        for a in m["alerts"]
    )
    assert sent == [("report_overdue", "t-x"), ("status_degraded", "t-y")]
    assert h.metric("planwatch_notify_alerts_inhibited_total") == 1


async def test_silences_api_mutes_then_expiry_releases(make_harness: MakeHarness) -> None:
    h = await make_harness(ROUTING)
    app = FastAPI()
    install(app, ISSUER.authenticator())
    app.include_router(api_router(h.service.store, h.clock, h.service.metrics))
    transport = httpx.ASGITransport(app=app)
    operator = ISSUER.headers(SILENCES_WRITE, sub="operator-3")
    async with httpx.AsyncClient(
        transport=transport, base_url="http://notify", headers=operator
    ) as api:
        refused = await api.post(
            "/api/v2/silences",
            json={
                "matchers": [{"name": "target", "value": ".*", "isRegex": True}],
                "endsAt": (T0 + timedelta(hours=1)).isoformat(),
                "createdBy": "ops",
            },
        )
        assert refused.status_code == 400 and "empty string" in refused.text
        created = await api.post(
            "/api/v2/silences",
            json={
                "matchers": [{"name": "target", "value": "t-quiet", "isEqual": True}],
                "startsAt": T0.isoformat(),
                "endsAt": (T0 + timedelta(hours=1)).isoformat(),
                "createdBy": "ops@qy",
                "comment": "维护窗口 maintenance",
            },
        )
        assert created.status_code == 200
        sid = created.json()["silenceID"]
        listed = (await api.get("/api/v2/silences")).json()
        # The author is the token's subject, not the body's "ops@qy".
        assert [(s["id"], s["status"]["state"], s["comment"], s["createdBy"]) for s in listed] == [
            (sid, "active", "维护窗口 maintenance", "operator-3")
        ]
        # A reader may list but not change; no token: 401.
        reader = ISSUER.headers(SILENCES_READ, sub="viewer")
        assert (await api.get("/api/v2/silences", headers=reader)).status_code == 200
        assert (await api.delete(f"/api/v2/silence/{sid}", headers=reader)).status_code == 403
        async with httpx.AsyncClient(transport=transport, base_url="http://notify") as anonymous:
            assert (await anonymous.get("/api/v2/silences")).status_code == 401
        await h.send(alert_event(target="t-quiet", at=T0))
        await h.tick(30)
        assert h.http.at("/miit") == []
        assert h.metric("planwatch_notify_alerts_silenced_total") == 1

        expired = await api.delete(f"/api/v2/silence/{sid}")
        assert expired.status_code == 200
        again = await api.delete(f"/api/v2/silence/{sid}")
        assert again.status_code == 409
        assert (await api.get(f"/api/v2/silence/{sid}")).json()["status"]["state"] == "expired"
        assert (await api.delete("/api/v2/silence/nope")).status_code == 404
        audit = (await api.get("/api/v2/audit")).json()
        assert [(e["actor"], e["action"], e["subject"]) for e in reversed(audit)] == [
            ("operator-3", "silence.create", sid),
            ("operator-3", "silence.expire", sid),
        ]
        assert audit[1]["details"]["silence"]["matchers"][0]["value"] == "t-quiet"
    await h.tick(300)
    [sent] = h.http.at("/miit")
    assert body(sent.body)["alerts"][0]["labels"]["target"] == "t-quiet"


async def test_email_and_kafka_receivers(make_harness: MakeHarness, free_port: int) -> None:
    controller, inbox = start_smtp(free_port)
    try:
        h = await make_harness(
            """
route:
  receiver: all
  group_by: [agency]
  group_wait: 10s
receivers:
  - name: all
    email_configs: [{to: [ops@qy.example, lead@qy.example], from: planwatch@qy.example}]
    kafka_configs: [{topic: "{topic}.out"}]
""",
            smtp_port=free_port,
        )
        await h.send(alert_event(target="t-1", at=T0))
        await h.send(alert_event(target="t-2", at=T0))
        await h.tick(10)
        assert len(inbox.messages) == 1
        envelope, mail = inbox.messages[0]
        assert sorted(envelope.rcpt_tos) == ["lead@qy.example", "ops@qy.example"]
        raw_subject = (envelope.original_content or b"").split(b"Subject:", 1)[1].split(b"\n")[0]
        assert b"=?utf-8?" in raw_subject.lower()  # RFC 2047 on the wire
        assert mail["Subject"] == "[FIRING:2] 数字经济规划监测 planwatch qy.miit"
        plain = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert plain is not None and "5G基站建设数量" in plain.get_content()
        assert html is not None and "<table" in html.get_content()
        [(key, value, headers)] = await read_topic(h.bootstrap, f"{h.prefix}.out", 1)
        message = json.loads(value)
        assert key is not None and key.decode() == message["groupKey"]
        assert sorted(a["labels"]["target"] for a in message["alerts"]) == ["t-1", "t-2"]
        assert headers["webhook-id"].decode().startswith("msg_")
        assert (
            h.metric(
                "planwatch_notify_notifications_total", {"receiver": "all", "outcome": "delivered"}
            )
            == 2
        )
    finally:
        await asyncio.to_thread(controller.stop)


async def test_wecom_and_dingtalk_robots(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = HttpReceiver()
    await receiver.start()
    monkeypatch.setenv("NOTIFY_TEST_WECOM_URL", receiver.url("/wecom?key=robot-key"))
    monkeypatch.setenv("NOTIFY_TEST_DING_SECRET", "SEC-ding-secret")
    h = await make_harness(
        """
route:
  receiver: robots
  group_by: [agency]
  group_wait: 5s
receivers:
  - name: robots
    wecom_configs: [{url_ref: "env:NOTIFY_TEST_WECOM_URL", allow_private: true}]
    dingtalk_configs:
      - {url: "{http}/ding", secret: "env:NOTIFY_TEST_DING_SECRET", allow_private: true}
""",
        http=receiver,
    )
    receiver.script("/ding", Reply(200, body=b'{"errcode": 310000, "errmsg": "sign not match"}'))
    await h.send(alert_event(target="t-1", at=T0))
    await h.tick(5)
    [wecom] = receiver.at("/wecom")
    assert wecom.path == "/wecom?key=robot-key"
    content = json.loads(wecom.body)
    assert content["msgtype"] == "markdown"
    assert "5G基站建设数量" in content["markdown"]["content"]
    [ding] = receiver.at("/ding")
    query = parse_qs(urlsplit(ding.path).query)
    timestamp = int(query["timestamp"][0])
    assert timestamp == int(h.clock.now().timestamp() * 1000)  # signed at send time
    assert quote_plus(query["sign"][0]) == dingtalk_sign("SEC-ding-secret", timestamp)
    assert json.loads(ding.body)["markdown"]["title"].startswith("[FIRING:1]")
    # The robot's errcode (not the HTTP status) said no: a permanent failure, dead-lettered.
    [(_, value, _)] = await read_topic(h.bootstrap, h.settings.dlt_topic, 1)
    assert json.loads(value)["reason"] == "permanent failure: robot errcode 310000: sign not match"


async def test_each_co_owner_receives_its_own_copy(make_harness: MakeHarness) -> None:
    """Scoring's copies of one transition (the lead's and one per co-owner) routed by `role`:
    the co-owners' receiver gets one group per co-owner, the coordinator the alert once."""
    h = await make_harness(ROLE_ROUTING)
    plan = load_catalog().plan("qingyuan-digital-economy-2021")
    target_id = "industry.5g-iiot-benchmarks"  # led by qy.miit, four co-owners
    target = plan.targets[target_id]
    co = sorted(plan.co_owners(target_id))
    assert len(co) == 4
    result = evaluate_target(plan, target, [], None, T0)
    firing = {AlertRule.REPORT_OVERDUE: Severity.CRITICAL}
    (fire,) = alert_transitions(plan.id, target_id, {}, firing, "e1")
    copies = alert_events(fire, result, plan, starts_at=T0, base_url="http://svc")
    assert [(c.labels.agency, c.labels.role.value) for c in copies] == [
        (target.lead, "lead"),
        *((agency, "co") for agency in co),
    ]
    assert len({c.fingerprint for c in copies}) == len({c.id for c in copies}) == 5
    for copy in copies:
        assert await h.send(copy) is IntakeResult.APPLIED
    assert await h.send(copies[1]) is IntakeResult.DUPLICATE  # dedup per copy
    await h.tick(30)

    received = [body(r.body) for r in h.http.at("/co")]
    assert sorted(m["groupLabels"]["agency"] for m in received) == co
    for message in received:
        [alert] = message["alerts"]
        assert alert["labels"]["role"] == "co"
        assert alert["labels"]["agency"] == message["groupLabels"]["agency"]
        assert alert["labels"]["target"] == target_id and alert["status"] == "firing"
    [lead] = [body(r.body) for r in h.http.at("/leads")]
    assert [a["labels"]["agency"] for a in lead["alerts"]] == [target.lead]
    assert len(h.http.at("/coordinator")) == 1  # the lead's copy only
    assert h.http.at("/default") == []

    # The resolution reaches every copy's receiver.
    later = T0 + timedelta(seconds=60)
    h.clock.set(later)
    (resolve,) = alert_transitions(plan.id, target_id, firing, {}, "e2")
    ended = evaluate_target(plan, target, [], None, later)
    for copy in alert_events(resolve, ended, plan, starts_at=T0, base_url="http://svc"):
        assert await h.send(copy) is IntakeResult.APPLIED
    await h.tick(300)
    resolved = [body(r.body) for r in h.http.at("/co")[4:]]
    assert sorted(m["groupLabels"]["agency"] for m in resolved) == co
    assert all(m["status"] == "resolved" for m in resolved)
