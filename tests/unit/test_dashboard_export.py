"""The dashboard's table downloads, without servers: every table of a scored plan as CSV (UTF-8
with a BOM) and Excel, in both languages, equal to the state they come from; text that a
spreadsheet would run as a formula stays text; unknown plans, tables and formats are 404.
(Their auth: tests/unit/test_http_routes_auth.py, which enumerates every route.)"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from services.scoring.dashboard.export import to_csv, to_xlsx
from services.scoring.dashboard.router import make_dashboard_router
from services.scoring.dashboard.tables import TABLES, Table, build_table
from services.scoring.memory_store import InMemoryScoringStore
from shared.catalog import load_catalog
from shared.domain.catalog import Plan
from shared.domain.method_v1 import Status, plan_state_to_json, score_plan
from shared.runtime.auth import Authenticator, install
from shared.vocabulary import STATUS_LABEL, Lang
from tests.unit.scoring_streams import plan_stream


@pytest.fixture(scope="module")
def scored() -> tuple[Plan, dict[str, Any]]:
    plan = next(iter(load_catalog().plans.values()))
    events = plan_stream(plan, seed=5, until=date(2022, 6, 30))
    at = max(e.reported_at for e in events)
    return plan, plan_state_to_json(score_plan(plan, [e.to_observation() for e in events], at))


@pytest.fixture(scope="module")
def client(scored: tuple[Plan, dict[str, Any]]) -> TestClient:
    plan, state = scored
    store = InMemoryScoringStore()
    store.plans[plan.id] = {"_id": plan.id, "state": json.dumps(state), "clock": "x"}
    app = FastAPI()
    install(app, Authenticator.development())
    app.include_router(make_dashboard_router(load_catalog(), lambda: store))
    return TestClient(app)


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx(body: bytes) -> list[tuple[Any, ...]]:
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("lang", list(Lang))
def test_every_table_downloads_as_csv_and_excel(
    client: TestClient, scored: tuple[Plan, dict[str, Any]], table: str, lang: Lang
) -> None:
    plan, state = scored
    expected = build_table(table, plan, state, lang)
    assert expected.rows and all(len(r) == len(expected.header) for r in expected.rows)
    base = f"/dashboard/api/plans/{plan.id}/tables/{table}"

    response = client.get(f"{base}.csv", params={"lang": lang.value})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = f'attachment; filename="{plan.id}-{table}-{state["at"]}.csv"'
    assert response.headers["content-disposition"] == disposition
    rows = _csv(response.content)
    text = [["" if v is None else str(v) for v in row] for row in expected.rows]
    assert rows == [list(expected.header), *text]

    response = client.get(f"{base}.xlsx", params={"lang": lang.value})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = _xlsx(response.content)
    assert book[0] == expected.header
    assert len(book) == len(expected.rows) + 1
    for got, want in zip(book[1:], expected.rows, strict=True):
        assert got == pytest.approx(want)  # Excel keeps 15 significant digits


def test_the_tables_say_what_the_state_says(scored: tuple[Plan, dict[str, Any]]) -> None:
    plan, state = scored
    zh = STATUS_LABEL[Lang.ZH]
    targets = build_table("targets", plan, state, Lang.ZH)
    assert {r[0]: (r[1], r[6], r[7]) for r in targets.rows} == {
        t: (plan.targets[t].metric_zh, zh[Status(r["status"])], r["score"])
        for t, r in state["targets"].items()
    }
    areas = build_table("areas", plan, state, Lang.EN)
    assert {r[1] for r in areas.rows if r[0] == "Area"} == set(state["areas"])
    alerts = build_table("alerts", plan, state, Lang.ZH)
    assert sorted(str(r[5]) for r in alerts.rows) == sorted(
        a["fingerprint"] for a in state["alerts"]
    )
    agencies = build_table("agencies", plan, state, Lang.ZH)
    assert all(isinstance(r[3], int) and isinstance(r[6], int) for r in agencies.rows)


def test_text_that_looks_like_a_formula_stays_text() -> None:
    hostile = ('=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "清远", -4.5, None)
    table = Table("t", tuple(f"c{i}" for i in range(len(hostile))), (hostile,))
    rows = _csv(to_csv(table))
    assert rows[1] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx",
                       "清远", "-4.5", ""]  # fmt: skip
    sheet = load_workbook(io.BytesIO(to_xlsx(table))).active
    assert sheet is not None
    cells = next(sheet.iter_rows(min_row=2, max_row=2))
    assert [c.value for c in cells] == list(hostile)
    assert [c.data_type for c in cells[:6]] == ["s"] * 6  # strings, never formulas
    assert cells[6].data_type == "n"


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/api/plans/no-such-plan/tables/areas.csv",
        "/dashboard/api/plans/{plan}/tables/secrets.csv",
        "/dashboard/api/plans/{plan}/tables/areas.json",
        "/dashboard/api/plans/{plan}/tables/areas.xlsx.csv",
    ],
)
def test_unknown_plans_tables_and_formats_are_404(
    client: TestClient, scored: tuple[Plan, dict[str, Any]], path: str
) -> None:
    assert client.get(path.format(plan=scored[0].id)).status_code == 404


def test_a_plan_not_scored_yet_is_404() -> None:
    app = FastAPI()
    install(app, Authenticator.development())
    store = InMemoryScoringStore()
    app.include_router(make_dashboard_router(load_catalog(), lambda: store))
    plan_id = next(iter(load_catalog().plans))
    response = TestClient(app).get(f"/dashboard/api/plans/{plan_id}/tables/areas.csv")
    assert response.status_code == 404
