"""A target's series and history are read page by page: each page reads only the target's own
`_id` range below its cursor, and following `next_before` visits everything exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.scoring.api import make_router
from services.scoring.engine import ScoringEngine
from services.scoring.memory_store import InMemoryScoringStore
from shared.catalog import load_catalog
from shared.domain.timebase import CST
from shared.runtime.auth import PLANS_READ
from tests.token_issuer import LocalIssuer
from tests.unit.scoring_engine_cases import Collector
from tests.unit.scoring_streams import event

CATALOG = load_catalog()
PLAN = CATALOG.plans["qingyuan-digital-economy-2021"]
TARGET = "gov.mobile-services"
NEIGHBOUR = "gov.online-services"  # another target of the plan, reported the same days
QUARTERS = [date(2021, 3, 31), date(2021, 6, 30), date(2021, 9, 30), date(2021, 12, 31)]
ISSUER = LocalIssuer()


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    assert NEIGHBOUR in PLAN.targets
    store = InMemoryScoringStore()
    engine = ScoringEngine(CATALOG, store, Collector(), base_url="http://x")
    for n, as_of in enumerate(QUARTERS, start=1):
        reported = datetime(as_of.year, as_of.month, as_of.day, 10, tzinfo=CST) + timedelta(days=5)
        await engine.apply(
            [
                event(PLAN.targets[TARGET], as_of, reported, 40.0 + n, f"m{n}"),
                event(PLAN.targets[NEIGHBOUR], as_of, reported, 10.0 + n, f"o{n}"),
            ]
        )
    async with ISSUER.client(make_router(CATALOG, lambda: store), PLANS_READ) as client:
        yield client


async def pages(api: httpx.AsyncClient, path: str, limit: int) -> list[dict[str, Any]]:
    """Every page of `path`, following `next_before` until it is null (at most 20 pages)."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(20):
        response = await api.get(path, params=params)
        assert response.status_code == 200, response.text
        found.append(response.json())
        if found[-1]["next_before"] is None:
            return found
        params["before"] = found[-1]["next_before"]
    raise AssertionError(f"{path}: more than 20 pages of {limit}")


async def test_series_pages_walk_back_through_the_target_s_own_points(
    api: httpx.AsyncClient,
) -> None:
    path = f"/v1/plans/{PLAN.id}/targets/{TARGET}/series"
    whole = (await api.get(path)).json()
    assert [p["as_of"] for p in whole["points"]] == [q.isoformat() for q in QUARTERS]
    assert whole["next_before"] is None and whole["count"] == 4
    walked = await pages(api, path, limit=3)
    assert [[p["event_id"] for p in page["points"]] for page in walked] == [
        ["m2", "m3", "m4"],
        ["m1"],
    ]
    assert [page["count"] for page in walked] == [4, 1]  # points dated before the cursor
    older = (await api.get(path, params={"before": "2021-07-01"})).json()
    assert [p["event_id"] for p in older["points"]] == ["m1", "m2"]
    assert [r["event_id"] for r in older["recent_reports"]] == ["m2", "m1"]


async def test_history_pages_walk_back_by_seq(api: httpx.AsyncClient) -> None:
    path = f"/v1/plans/{PLAN.id}/targets/{TARGET}/history"
    whole = (await api.get(path)).json()["history"]
    assert {r["target"] for r in whole} == {TARGET}
    seqs = [r["seq"] for r in whole]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) >= 4
    walked = await pages(api, path, limit=2)
    assert [r["seq"] for page in walked for r in page["history"]] == seqs
    assert all(len(page["history"]) == 2 for page in walked[:-1])


async def test_cursors_are_checked(api: httpx.AsyncClient) -> None:
    base = f"/v1/plans/{PLAN.id}/targets/{TARGET}"
    assert (await api.get(f"{base}/series", params={"before": "2021-13-01"})).status_code == 422
    assert (await api.get(f"{base}/history", params={"before": 0})).status_code == 422
