"""Every error a service's main port answers is RFC 9457 problem details (one shape), named by
a `reason`; Alertmanager's own paths keep Alertmanager's JSON string."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import FastAPI, HTTPException, Query
from fastapi.testclient import TestClient

from shared.runtime.problems import (
    PROBLEM_CONTENT_TYPE,
    PROBLEM_RESPONSES,
    install_problem_handlers,
    reason_for,
)


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app, plain_prefixes=("/plain",))

    @app.get("/things/{n}", responses=PROBLEM_RESPONSES)
    async def thing(n: int, limit: Annotated[int, Query(le=10)] = 1) -> dict[str, int]:
        if n == 0:
            raise HTTPException(404, "no thing 0")
        if n == 1:
            raise HTTPException(
                401, {"error": "unauthorized", "message": "no token"}, {"WWW-Authenticate": "B"}
            )
        if n == 2:
            raise RuntimeError("a bug")
        return {"n": n, "limit": limit}

    @app.get("/plain/{n}")
    async def plain(n: int) -> dict[str, int]:
        raise HTTPException(400, f"bad {n}")

    return TestClient(app, raise_server_exceptions=False)


def test_an_http_error_is_problem_details(client: TestClient) -> None:
    answer = client.get("/things/0")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert answer.json() == {
        "type": "urn:planwatch:problem:not_found",
        "title": "Not Found",
        "status": 404,
        "detail": "no thing 0",
        "reason": "not_found",
        "instance": "/things/0",
    }


def test_a_named_error_keeps_its_reason_and_headers(client: TestClient) -> None:
    answer = client.get("/things/1")
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "B"
    problem = answer.json()
    assert problem["reason"] == "unauthorized" and problem["detail"] == "no token"


def test_a_bad_parameter_names_each_error_without_echoing_it(client: TestClient) -> None:
    answer = client.get("/things/x?limit=99")
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["reason"] == "invalid_request"
    assert {tuple(e["loc"]) for e in problem["errors"]} == {("path", "n"), ("query", "limit")}
    assert "input" not in str(problem["errors"])


def test_a_bug_is_a_500_problem_without_internals(client: TestClient) -> None:
    answer = client.get("/things/2")
    assert answer.status_code == 500
    problem = answer.json()
    assert problem["reason"] == "internal" and "a bug" not in answer.text


def test_plain_paths_answer_a_json_string(client: TestClient) -> None:
    answer = client.get("/plain/3")
    assert answer.status_code == 400 and answer.json() == "bad 3"


def test_the_openapi_shows_the_problem_shape(client: TestClient) -> None:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    responses = spec["paths"]["/things/{n}"]["get"]["responses"]
    assert PROBLEM_CONTENT_TYPE in responses["4XX"]["content"]
    assert "Problem" in spec["components"]["schemas"]


@pytest.mark.parametrize(
    ("status", "reason"),
    [(404, "not_found"), (429, "too_many_requests"), (400, "bad_request"), (599, "error")],
)
def test_reasons_default_to_the_status_phrase(status: int, reason: str) -> None:
    assert reason_for(status) == reason
