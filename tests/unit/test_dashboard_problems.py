"""The dashboard's problems download: every problem of the plan as the read API lists it, as a
CSV (with a BOM) and an Excel workbook, in Chinese or English; text that a spreadsheet would take
for a formula stays text; `plans:read` needed; 404 for an unknown plan or format."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from openpyxl import load_workbook

from services.scoring.dashboard.problem_downloads import make_problem_downloads_router
from services.scoring.memory_store import InMemoryScoringStore
from services.scoring.problem_desk import ProblemDesk
from services.scoring.problem_memory_store import InMemoryProblemStore
from shared.domain.problems import ProblemAction
from shared.runtime.auth import PLANS_READ
from tests.unit.test_problem_desk import ACK, AFTER, CATALOG, ISSUER, PLAN, RAISE, T0, Sent, event

FORMULA = '=HYPERLINK("http://x")'


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    store = InMemoryProblemStore()
    desk = ProblemDesk(CATALOG, store, Sent(), base_url="http://svc/", escalate_after=AFTER)
    hostile = event("h1", ProblemAction.RAISED, 5, problem_id="p-2", subject="2.2.1")
    hostile = hostile.model_copy(update={"summary": FORMULA})
    await desk.apply([RAISE, ACK, hostile], None)
    scoring = InMemoryScoringStore()
    await scoring.advance_clock((T0 + timedelta(days=20)).isoformat(), 0)
    router = make_problem_downloads_router(
        CATALOG, lambda: store, lambda: scoring, escalate_after=AFTER
    )
    async with ISSUER.client(router, PLANS_READ) as made:
        yield made


async def test_the_problems_download_as_csv_and_excel(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/dashboard/api/plans/{PLAN}/problems.csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].endswith(f'{PLAN}-problems-2022-04-26.csv"')
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content[3:].decode("utf-8"))))
    assert rows[0][:4] == ["问题编号", "状态", "超期未解决", "已持续天数"]
    by_id = {r[0]: r for r in rows[1:]}
    assert set(by_id) == {"p-1", "p-2"}
    assert by_id["p-1"][1:3] == ["已受理", "是"]  # 20 days open at the service clock
    assert by_id["p-2"][7] == "'" + FORMULA  # a formula stays text

    english = await client.get(f"/dashboard/api/plans/{PLAN}/problems.xlsx", params={"lang": "en"})
    assert english.status_code == 200
    sheet = load_workbook(io.BytesIO(english.content), read_only=True).active
    assert sheet is not None
    book = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    assert book[0][:2] == ("Problem", "State") and len(book) == 3
    assert {r[0]: r[1] for r in book[1:]} == {"p-1": "Acknowledged", "p-2": "Open"}


async def test_the_problems_download_needs_a_known_plan_format_and_token(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/dashboard/api/plans/nope/problems.csv")).status_code == 404
    assert (await client.get(f"/dashboard/api/plans/{PLAN}/problems.pdf")).status_code == 404
    anonymous = await client.get(
        f"/dashboard/api/plans/{PLAN}/problems.csv", headers={"authorization": ""}
    )
    assert anonymous.status_code == 401
