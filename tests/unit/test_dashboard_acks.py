"""The dashboard's acknowledgements (services/scoring/dashboard/acks.py): scoring relays the
page's reads and its "acknowledge" to notify's real API (in process, over an in-memory store
holding a firing alert) with the caller's own token, so notify enforces `alerts:ack` and names
the acknowledger; refusals come back as notify's problem details."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.notify.ack_api import ack_router
from services.notify.alertmanager_api import ALERTMANAGER_ERROR_PATHS, alertmanager_router
from services.notify.clock import ManualClock
from services.notify.domain.config import load_routing
from services.notify.domain.pipeline import dispatch
from services.notify.memory_store import InMemoryNotifyStore
from services.scoring.dashboard.acks import ack_state, make_ack_router, plan_filter
from shared.catalog import load_catalog
from shared.runtime.auth import (
    ALERTS_ACK,
    DEV_SUBJECT,
    FORWARDED_TOKEN_HEADER,
    PLANS_READ,
    Authenticator,
    install,
)
from shared.runtime.problems import install_problem_handlers
from tests.token_issuer import LocalIssuer
from tests.unit.notify_fixtures import T0, at, make_alert
from tests.unit.test_notify_acks_escalation import CONFIG

ISSUER = LocalIssuer()
CATALOG = load_catalog()
PLAN = "qingyuan-digital-economy-2021"
ALERT = make_alert("t1", plan=PLAN)
OTHER_PLAN = make_alert("t2", plan="another-plan")
FP = ALERT.fingerprint


@dataclass
class Setup:
    client: TestClient
    store: InMemoryNotifyStore
    clock: ManualClock


def notify_app(auth: Authenticator, store: InMemoryNotifyStore, clock: ManualClock) -> FastAPI:
    config = load_routing(CONFIG)
    for alert in (ALERT, OTHER_PLAN):
        for state in dispatch(config, alert, {}, T0).values():
            asyncio.run(store.save_alert_state(state, alert.fingerprint, T0))
    app = FastAPI()
    install(app, auth)
    install_problem_handlers(app, plain_prefixes=ALERTMANAGER_ERROR_PATHS)
    app.include_router(ack_router(config, store, clock))
    app.include_router(alertmanager_router(config, store, clock, started=T0))
    return app


def scoring_app(auth: Authenticator, notify: FastAPI | None) -> FastAPI:
    app = FastAPI()
    install(app, auth)
    install_problem_handlers(app)
    transport = None if notify is None else httpx.ASGITransport(app=notify)
    url = None if notify is None else "http://notify.test"
    app.include_router(make_ack_router(CATALOG, url, transport))
    return app


def build(auth: Authenticator, *, with_notify: bool = True) -> Setup:
    store = InMemoryNotifyStore()
    clock = ManualClock(at(60))
    notify = notify_app(auth, store, clock) if with_notify else None
    return Setup(TestClient(scoring_app(auth, notify)), store, clock)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    settings = ISSUER.settings(ISSUER.write_jwks(tmp_path / "jwks.json"))
    auth = Authenticator.from_settings(settings, listen_host="127.0.0.1", service="test")
    yield build(auth)


def acks_of(client: TestClient, headers: dict[str, str]) -> httpx.Response:
    answer: httpx.Response = client.get(f"/dashboard/api/plans/{PLAN}/acks", headers=headers)
    return answer


def test_the_page_reads_receivers_and_acknowledges_with_the_callers_token(setup: Setup) -> None:
    ops = ISSUER.headers(PLANS_READ, ALERTS_ACK, sub="ops-1")
    state = acks_of(setup.client, ops)
    assert state.status_code == 200, state.text
    assert state.headers["cache-control"] == "no-store"
    assert state.json() == {  # this plan's alerts only
        "alerts": {FP: {"startsAt": "2022-06-01T08:00:00Z", "receivers": ["lead"], "acks": []}}
    }
    body = {"receiver": "lead", "note": "已核实，处理中", "until": at(3600).isoformat()}
    answer = setup.client.post(f"/dashboard/api/alerts/{FP}/ack", json=body, headers=ops)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["by"], answer.json()["note"]) == ("ops-1", "已核实，处理中")
    [ack] = acks_of(setup.client, ops).json()["alerts"][FP]["acks"]
    assert ack == {
        "receiver": "lead",
        "by": "ops-1",  # the token's subject, as notify read it
        "note": "已核实，处理中",
        "at": "2022-06-01T08:01:00Z",
        "until": "2022-06-01T09:00:00Z",
        "startsAt": "2022-06-01T08:00:00Z",
    }
    [entry] = asyncio.run(setup.store.entries())
    assert (entry["actor"], entry["action"]) == ("ops-1", "ack.create")
    setup.clock.set(at(3600))  # the acknowledgement ended: no longer shown
    assert acks_of(setup.client, ops).json()["alerts"][FP]["acks"] == []


def test_the_proxys_forwarded_token_is_relayed(setup: Setup) -> None:
    token = ISSUER.mint("viewer-7", (PLANS_READ, ALERTS_ACK))
    headers = {FORWARDED_TOKEN_HEADER: token}
    answer = setup.client.post(
        f"/dashboard/api/alerts/{FP}/ack", json={"receiver": "lead"}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["by"] == "viewer-7"


def test_notify_enforces_alerts_ack_and_its_refusals_come_back(setup: Setup) -> None:
    viewer = ISSUER.headers(PLANS_READ, sub="viewer")
    refused = setup.client.post(
        f"/dashboard/api/alerts/{FP}/ack", json={"receiver": "lead"}, headers=viewer
    )
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert acks_of(setup.client, viewer).status_code == 403  # notify's reads need a scope too
    assert asyncio.run(setup.store.acks()) == []
    ops = ISSUER.headers(PLANS_READ, ALERTS_ACK)
    for fingerprint, body, status, detail in (
        (FP, {"receiver": "nobody"}, 400, "unknown receiver"),
        ("0" * 16, {"receiver": "lead"}, 404, "no firing alert"),
        (FP, {"receiver": "lead", "until": at(10).isoformat()}, 400, "future"),
        (FP, {"receiver": "lead", "by": "someone-else"}, 422, ""),
    ):
        answer = setup.client.post(
            f"/dashboard/api/alerts/{fingerprint}/ack", json=body, headers=ops
        )
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert detail in answer.json().get("detail", "")


def test_scoring_asks_plans_read_and_json_of_bounded_size(setup: Setup) -> None:
    url = f"/dashboard/api/alerts/{FP}/ack"
    assert setup.client.post(url, json={"receiver": "lead"}).status_code == 401
    only_ack = ISSUER.headers(ALERTS_ACK)
    assert setup.client.post(url, json={"receiver": "lead"}, headers=only_ack).status_code == 403
    ops = ISSUER.headers(PLANS_READ, ALERTS_ACK)
    form = {**ops, "Content-Type": "application/x-www-form-urlencoded"}
    assert setup.client.post(url, content=b"receiver=lead", headers=form).status_code == 415
    as_json = {**ops, "Content-Type": "application/json"}
    assert setup.client.post(url, content=b"{", headers=as_json).status_code == 400
    big = b'{"note": "' + b"x" * 20_000 + b'"}'
    assert setup.client.post(url, content=big, headers=as_json).status_code == 413
    assert setup.client.get("/dashboard/api/plans/nope/acks", headers=ops).status_code == 404
    assert asyncio.run(setup.store.acks()) == []


def test_without_notify_there_are_no_acknowledgements(tmp_path: Path) -> None:
    setup = build(Authenticator.development(), with_notify=False)
    assert setup.client.get(f"/dashboard/api/plans/{PLAN}/acks").status_code == 404
    answer = setup.client.post(f"/dashboard/api/alerts/{FP}/ack", json={"receiver": "lead"})
    assert answer.status_code == 404 and "SCORING_NOTIFY_URL" in answer.json()["detail"]


def test_dev_mode_needs_no_token() -> None:
    setup = build(Authenticator.development())
    answer = setup.client.post(f"/dashboard/api/alerts/{FP}/ack", json={"receiver": "lead"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["by"] == DEV_SUBJECT
    assert setup.client.get(f"/dashboard/api/plans/{PLAN}/acks").json()["alerts"][FP]["acks"]


def test_notify_unreachable_is_a_502() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app = FastAPI()
    install(app, Authenticator.development())
    install_problem_handlers(app)
    app.include_router(make_ack_router(CATALOG, "http://notify.test", httpx.MockTransport(refuse)))
    client = TestClient(app)
    answer = client.get(f"/dashboard/api/plans/{PLAN}/acks")
    assert answer.status_code == 502 and "ConnectError" in answer.json()["detail"]


def test_ack_state_keeps_the_current_episodes_active_acknowledgements() -> None:
    alerts: list[dict[str, Any]] = [
        {"fingerprint": "a", "startsAt": "2022-06-01T08:00:00Z", "receivers": [{"name": "k"}]}
    ]
    ack = {"fingerprint": "a", "receiver": "k", "by": "x", "note": "", "at": "t", "until": None}
    acks = [
        {**ack, "startsAt": "2022-06-01T08:00:00Z", "active": True},
        {**ack, "by": "old-episode", "startsAt": "2022-05-01T08:00:00Z", "active": True},
        {**ack, "by": "every-episode", "startsAt": None, "active": True},
        {**ack, "by": "ended", "startsAt": "2022-06-01T08:00:00Z", "active": False},
        {**ack, "fingerprint": "gone", "startsAt": None, "active": True},
    ]
    state = ack_state(alerts, acks)["alerts"]
    assert list(state) == ["a"]
    assert [a["by"] for a in state["a"]["acks"]] == ["x", "every-episode"]
    assert plan_filter('p"\\') == 'plan="p\\"\\\\"'
