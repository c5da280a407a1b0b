"""The acknowledgement API: who (the token's subject), for which receiver, until when;
problem details on refusals; the audit log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from planwatch.ack_cli import ack_app as cli_app
from services.notify.ack_api import ack_router
from services.notify.clock import ManualClock
from services.notify.domain.config import load_routing
from services.notify.domain.pipeline import dispatch
from services.notify.memory_store import InMemoryNotifyStore
from shared.runtime.auth import ALERTS_ACK, SILENCES_READ, Authenticator, install
from shared.runtime.problems import install_problem_handlers
from tests.token_issuer import LocalIssuer
from tests.unit.notify_fixtures import T0, at, make_alert
from tests.unit.test_notify_acks_escalation import CONFIG

ISSUER = LocalIssuer()
ALERT = make_alert("t1")
FP = ALERT.fingerprint


@pytest.fixture
def setup(tmp_path: Path) -> tuple[TestClient, InMemoryNotifyStore, ManualClock]:
    config = load_routing(CONFIG)
    store = InMemoryNotifyStore()
    clock = ManualClock(at(60))
    for state in dispatch(config, ALERT, {}, T0).values():
        asyncio.run(store.save_alert_state(state, FP, T0))
    app = FastAPI()
    settings = ISSUER.settings(ISSUER.write_jwks(tmp_path / "jwks.json"))
    install(app, Authenticator.from_settings(settings, listen_host="127.0.0.1", service="notify"))
    install_problem_handlers(app)
    app.include_router(ack_router(config, store, clock))
    return TestClient(app), store, clock


def test_acknowledge_list_and_withdraw(
    setup: tuple[TestClient, InMemoryNotifyStore, ManualClock],
) -> None:
    client, store, clock = setup
    ops = ISSUER.headers(ALERTS_ACK, sub="ops-1")
    body = {"receiver": "lead", "note": "on it", "until": at(3600).isoformat()}
    answer = client.post(f"/api/v1/alerts/{FP}/ack", json=body, headers=ops)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert (view["by"], view["receiver"], view["note"], view["active"]) == (
        "ops-1",
        "lead",
        "on it",
        True,
    )
    assert view["startsAt"] == "2022-06-01T08:00:00Z"
    # another person acknowledges too: one each
    other = ISSUER.headers(ALERTS_ACK, sub="ops-2")
    assert client.post(
        f"/api/v1/alerts/{FP}/ack", json={"receiver": "lead"}, headers=other
    ).is_success
    reader = ISSUER.headers(SILENCES_READ)
    listed = client.get("/api/v1/acks", params={"fingerprint": FP}, headers=reader).json()
    assert sorted(a["by"] for a in listed) == ["ops-1", "ops-2"]
    clock.set(at(3601))
    active = client.get("/api/v1/acks", params={"active": "true"}, headers=reader).json()
    assert [a["by"] for a in active] == ["ops-2"]
    gone = client.delete(f"/api/v1/alerts/{FP}/ack", params={"receiver": "lead"}, headers=other)
    assert gone.status_code == 200 and not gone.json()["active"]
    assert [a.by for a in asyncio.run(store.acks())] == ["ops-1"]
    actions = [(e["actor"], e["action"], e["subject"]) for e in asyncio.run(store.entries())]
    assert actions[0] == ("ops-2", "ack.withdraw", f"{FP}|lead|ops-2")
    assert sorted(actions[1:]) == [
        ("ops-1", "ack.create", f"{FP}|lead|ops-1"),
        ("ops-2", "ack.create", f"{FP}|lead|ops-2"),
    ]


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        (f"/api/v1/alerts/{FP}/ack", {"receiver": "nobody"}, 400, "unknown receiver"),
        ("/api/v1/alerts/unknown/ack", {"receiver": "lead"}, 404, "no firing alert"),
        (
            f"/api/v1/alerts/{FP}/ack",
            {"receiver": "lead", "until": at(10).isoformat()},
            400,
            "future",
        ),
        (f"/api/v1/alerts/{FP}/ack", {"receiver": "lead", "by": "x"}, 422, ""),
    ],
)
def test_refusals_are_problem_details(
    setup: tuple[TestClient, InMemoryNotifyStore, ManualClock],
    path: str,
    body: dict[str, str],
    status: int,
    detail: str,
) -> None:
    client, _, _ = setup
    answer = client.post(path, json=body, headers=ISSUER.headers(ALERTS_ACK))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json().get("detail", "")


def test_withdrawing_someone_elses_ack_is_a_404(
    setup: tuple[TestClient, InMemoryNotifyStore, ManualClock],
) -> None:
    client, _, _ = setup
    ops = ISSUER.headers(ALERTS_ACK, sub="ops-1")
    assert client.post(
        f"/api/v1/alerts/{FP}/ack", json={"receiver": "lead"}, headers=ops
    ).is_success
    other = ISSUER.headers(ALERTS_ACK, sub="ops-2")
    answer = client.delete(f"/api/v1/alerts/{FP}/ack", params={"receiver": "lead"}, headers=other)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_cli_acknowledges_lists_and_withdraws(
    setup: tuple[TestClient, InMemoryNotifyStore, ManualClock],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    client, _, _ = setup
    monkeypatch.setattr(
        "planwatch.silence_cli.httpx.request",
        lambda method, url, timeout, **kw: client.request(method, url, **kw),
    )
    token = tmp_path / "token"
    token.write_text(ISSUER.mint("clerk-7", [ALERTS_ACK]))
    runner = CliRunner(env={"PLANWATCH_TOKEN_FILE": str(token), "PLANWATCH_TOKEN": None})
    url = ["--url", "http://testserver"]
    added = runner.invoke(cli_app, [FP, "--receiver", "lead", "--note", "处理中", *url])
    assert added.exit_code == 0, added.output
    assert "by clerk-7" in added.output and "处理中" in added.output
    listed = runner.invoke(cli_app, ["list", *url])
    assert listed.exit_code == 0 and FP in listed.output, listed.output
    refused = runner.invoke(cli_app, [FP, "--receiver", "nobody", *url])
    assert refused.exit_code == 1
    assert "notify refused (400): unknown receiver 'nobody'" in refused.output
    bad_until = runner.invoke(cli_app, [FP, "-r", "lead", "--until", "soon", *url])
    assert bad_until.exit_code == 1 and "--until" in bad_until.output
    gone = runner.invoke(cli_app, ["withdraw", FP, "--receiver", "lead", *url])
    assert gone.exit_code == 0, gone.output
    assert runner.invoke(cli_app, ["list", *url]).output == ""
