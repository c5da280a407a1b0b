"""A silence body that does not validate gets a 422 naming each problem, never a 500: found
by tests/fuzz/test_notify_fuzz.py (FastAPI's own 422 echoed the input and failed on `NaN` and
on a lone surrogate)."""

from __future__ import annotations

from typing import cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from services.notify.alertmanager_api import ALERTMANAGER_ERROR_PATHS
from services.notify.api import api_router
from services.notify.clock import ManualClock
from services.notify.metrics import NotifyMetrics
from services.notify.store import NotifyStore
from shared.runtime.auth import Authenticator, install
from shared.runtime.problems import install_problem_handlers


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install(app, Authenticator.development())  # the body is what is tested, not the token
    install_problem_handlers(app, plain_prefixes=ALERTMANAGER_ERROR_PATHS)
    store = cast(NotifyStore, object())  # never reached: the body is refused first
    app.include_router(api_router(store, ManualClock(), NotifyMetrics(CollectorRegistry())))
    return TestClient(app)


@pytest.mark.parametrize(
    "body",
    [b'{"matchers": NaN}', b'{"matchers": "\\ud800"}', b'{"\\ud800": 1}', b'{"matchers": 1e999}'],
)
def test_unrepresentable_input_is_a_422_not_a_500(client: TestClient, body: bytes) -> None:
    answer = client.post(
        "/api/v2/silences", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    # Alertmanager's path: the error is a JSON string (as amtool expects), naming the place.
    problem = answer.json()
    assert isinstance(problem, str) and problem.startswith("body"), problem


def test_notify_own_routes_answer_problem_details(client: TestClient) -> None:
    answer = client.post(
        "/api/v2/integrations/enable",
        content=b'{"integration": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["reason"] == "invalid_request" and problem["status"] == 422
    assert problem["instance"] == "/api/v2/integrations/enable"
    assert problem["errors"] and all(e["loc"] and e["msg"] for e in problem["errors"])
