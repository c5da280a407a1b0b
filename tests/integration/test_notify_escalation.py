"""Acknowledgement and escalation on the real Kafka and FerretDB with a local webhook receiver
(issue 17: "an alert is acknowledged and stops repeating while another one escalates to the
next level on time"): the acknowledgement goes through the HTTP API, the loop's ticks are
driven by a manual clock, and every escalation step is in the delivery log."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from services.notify.ack_api import ack_router
from shared.runtime.auth import ALERTS_ACK, install
from shared.runtime.problems import install_problem_handlers
from tests.integration import notify_harness
from tests.integration.notify_harness import T0, Harness, MakeHarness, body
from tests.integration.notify_support import alert_event
from tests.token_issuer import LocalIssuer

pytestmark = pytest.mark.integration
make_harness = notify_harness.make_harness  # the fixture, for pytest to find here
ISSUER = LocalIssuer()

ROUTING = """
route:
  receiver: lead
  group_by: [target]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  escalation:
    - {after: 2h, receiver: coordinator}
receivers:
  - name: lead
    webhook_configs: [{url: "{http}/lead", allow_private: true}]
  - name: coordinator
    webhook_configs: [{url: "{http}/coordinator", allow_private: true}]
"""


async def tick(h: Harness, to: timedelta) -> None:
    """The loop's step at T0 + `to`, then wait for the deliveries it started."""
    h.clock.advance(T0 + to - h.clock.now())
    await h.service.loop.step()
    await h.service.worker.drain()


def targets(h: Harness, path: str) -> list[str]:
    return [a["labels"]["target"] for r in h.http.at(path) for a in body(r.body)["alerts"]]


async def test_acknowledged_alert_stops_repeating_while_another_escalates(
    make_harness: MakeHarness,
) -> None:
    h = await make_harness(ROUTING)
    acked, other = alert_event(target="t-acked", at=T0), alert_event(target="t-other", at=T0)
    await h.send(acked)
    await h.send(other)
    await tick(h, timedelta(seconds=30))
    assert sorted(targets(h, "/lead")) == ["t-acked", "t-other"]

    app = FastAPI()
    install(app, ISSUER.authenticator())
    install_problem_handlers(app)
    app.include_router(ack_router(h.service.config, h.service.store, h.clock))
    clerk = ISSUER.headers(ALERTS_ACK, sub="clerk-qy-miit")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://notify", headers=clerk
    ) as api:
        answer = await api.post(
            f"/api/v1/alerts/{acked.fingerprint}/ack",
            json={"receiver": "lead", "note": "已安排现场核查"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["by"] == "clerk-qy-miit"

    h.http.requests.clear()
    await tick(h, timedelta(hours=1, minutes=6))  # the first flush past repeat_interval
    assert targets(h, "/lead") == ["t-other"]  # the acknowledged alert stays quiet
    await tick(h, timedelta(hours=2) - timedelta(seconds=1))
    assert h.http.at("/coordinator") == []
    await tick(h, timedelta(hours=2))  # on time
    assert targets(h, "/coordinator") == ["t-other"]
    (sent,) = h.http.at("/coordinator")
    message = body(sent.body)
    assert message["receiver"] == "coordinator"
    assert message["groupKey"].endswith(f"/escalation/1/{other.fingerprint}")
    await tick(h, timedelta(hours=2, minutes=5))  # once per step
    assert len(h.http.at("/coordinator")) == 1
    log = [a for a in await h.service.store.attempts() if a.get("escalation")]
    assert [(a["receiver"], a["escalation"], a["status"]) for a in log] == [("coordinator", 1, 200)]
    assert await h.service.store.escalated([]) == set()
    assert len(await h.db["notify_escalations"].find({}).to_list()) == 1
