"""`/docs` renders in Chromium on a closed network: Swagger UI, served by the service itself,
loads the OpenAPI document and shows every operation with its problem-details errors, and the
page asks nothing of any other origin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, HTTPException, Query

from shared.runtime.api_docs import install_api_docs
from shared.runtime.problems import PROBLEM_RESPONSES, install_problem_handlers
from tests.integration.test_dashboard_live import CHROMIUM_ARGS, chromium

pytestmark = pytest.mark.integration

__all__ = ["chromium"]  # the fixture, for pytest to find here


def docs_app() -> FastAPI:
    app = FastAPI(title="planwatch docs check", docs_url=None, redoc_url=None, openapi_url=None)
    install_problem_handlers(app)
    install_api_docs(app)
    router = APIRouter(prefix="/v1", tags=["things"])

    @router.get("/things/{thing_id}")
    async def thing(thing_id: str, limit: Annotated[int, Query(le=10)] = 1) -> dict[str, str]:
        raise HTTPException(404, f"no thing {thing_id}")

    app.include_router(router, responses=PROBLEM_RESPONSES)
    return app


@pytest.fixture
async def served(free_port: int) -> AsyncIterator[str]:
    config = uvicorn.Config(docs_app(), host="127.0.0.1", port=free_port, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # bounded: until uvicorn says it listens
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{free_port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=30)


async def test_swagger_ui_renders_offline_from_the_service(served: str, chromium: str) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{served}/docs")
            await page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths = await page.locator(".opblock-summary-path").all_inner_texts()
            assert [p.replace("\u200b", "") for p in paths] == ["/v1/things/{thing_id}"]
            await page.locator(".opblock-summary").first.click()
            problem = "option[value='application/problem+json']"
            await page.wait_for_selector(problem, state="attached", timeout=30_000)
            statuses = await page.locator(".response-col_status").all_inner_texts()
            assert {"4XX", "5XX"} <= {s.strip() for s in statuses}, statuses
        finally:
            await browser.close()
    assert errors == []
    assert requests and all(url.startswith(served) for url in requests), requests
