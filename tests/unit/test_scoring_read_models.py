"""Every route of the read API answers in its declared shape (services/scoring/read_models.py):
on a state with every kind of figure (targets, breakdowns, deliverables, indicators, alerts),
each answer passes its model, which forbids unknown fields, and the whole state is served as
stored; the OpenAPI document names a schema for every answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.scoring.api import make_router
from services.scoring.engine import ScoringEngine
from services.scoring.memory_store import InMemoryScoringStore
from shared.catalog import load_catalog
from shared.runtime.auth import PLANS_READ, install
from tests.token_issuer import LocalIssuer
from tests.unit.scoring_engine_cases import Collector
from tests.unit.scoring_streams import plan_stream, reporters_stream, tracked_stream

CATALOG = load_catalog()
PLAN = CATALOG.plans["qingyuan-digital-economy-2021"]
ISSUER = LocalIssuer()
STORE = InMemoryScoringStore()


def make_app() -> FastAPI:
    app = FastAPI()
    install(app, ISSUER.authenticator())
    app.include_router(make_router(CATALOG, lambda: STORE))
    return app


@pytest.fixture(scope="module")
async def api() -> AsyncIterator[httpx.AsyncClient]:
    engine = ScoringEngine(CATALOG, STORE, Collector(), base_url="http://x")
    stream = [*plan_stream(PLAN, 7), *reporters_stream(PLAN, 7), *tracked_stream(PLAN, 7)]
    await engine.apply(sorted(stream, key=lambda e: (e.reported_at, e.event_id)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app()),
        base_url="http://scoring",
        headers=ISSUER.headers(PLANS_READ),
    ) as client:
        yield client


async def get(api: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await api.get(f"/v1/plans/{PLAN.id}{path}", params=params)
    assert response.status_code == 200, (path, response.text)
    body: dict[str, Any] = response.json()
    return body


async def test_the_whole_state_is_served_as_stored(api: httpx.AsyncClient) -> None:
    doc = await STORE.plan(PLAN.id)
    assert doc is not None
    state = await get(api, "")
    assert state == {**json.loads(doc["state"]), "clock": doc["clock"]}
    assert state["breakdowns"] and state["tracked"] and state["alerts"]  # every kind is there


async def test_every_route_answers_in_its_shape(api: httpx.AsyncClient) -> None:
    state = await get(api, "")
    assert isinstance(state["targets"], dict) and isinstance(state["alerts"], list)
    area = next(iter(PLAN.areas))
    task = next(iter(PLAN.tasks))
    lead = PLAN.targets[next(iter(PLAN.targets))].lead
    for path in ("/areas", f"/areas/{area}", "/tasks", f"/tasks/{task}", "/agencies"):
        await get(api, path)
    await get(api, f"/agencies/{lead}")
    await get(api, "/alerts")
    await get(api, "/alerts", severity="critical", agency=lead)
    listed = await get(api, "/targets", status=["ON_TRACK", "AT_RISK"])
    assert isinstance(listed["targets"], list)
    for target_id in PLAN.targets:
        detail = await get(api, f"/targets/{target_id}")
        assert detail["id"] == target_id
        series = await get(api, f"/targets/{target_id}/series", limit=5)
        for point in series["points"]:
            assert "evidence" not in point or point["evidence"]  # only when set
        await get(api, f"/targets/{target_id}/history", limit=3)
    summaries = (await api.get("/v1/plans")).json()
    assert [s["plan"] for s in summaries] == sorted(CATALOG.plans)


def test_the_openapi_document_names_every_answer_s_schema() -> None:
    paths = make_app().openapi()["paths"]
    for path, item in paths.items():
        if not path.startswith("/v1/"):
            continue
        schema = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in schema or schema.get("items", {}).get("$ref"), (path, schema)
