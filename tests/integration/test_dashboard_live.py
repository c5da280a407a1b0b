"""The live dashboard end to end: the scoring service (a subprocess) over the real Kafka and
FerretDB, fed accepted events, its page loaded in headless Chromium (Debian's, driven by
Playwright): the page shows the read API's statuses, draws the charts, follows a new event by
polling, switches language; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.accepted import AcceptedEvent
from shared.catalog import load_catalog
from shared.domain.catalog import Kind, Plan
from shared.domain.method_v1 import plan_state_to_json, score_plan
from shared.runtime.auth import PLANS_READ
from tests.integration import scoring_support
from tests.integration.auth_support import headers
from tests.integration.scoring_support import Topics
from tests.integration.service_process import ServiceProcess
from tests.unit.scoring_streams import event, plan_stream

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INSTALL_CHROMIUM = ROOT / "services" / "scoring" / "dashboard" / "install-chromium.sh"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, installed by the project's script when missing (needs root)."""
    done = subprocess.run(
        ["bash", str(INSTALL_CHROMIUM)], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0 or not Path(CHROMIUM).is_file():
        pytest.skip(f"chromium unavailable: {done.stderr.strip()[-300:]}")
    return CHROMIUM


scoring_service = scoring_support.scoring_service  # the fixture, for pytest to find here


async def produce(bootstrap: str, topic: str, events: Sequence[AcceptedEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topic, e.to_json(), key=e.target.encode())
    finally:
        await producer.stop()


def offline(plan: Plan, events: Sequence[AcceptedEvent], at: datetime) -> dict[str, Any]:
    return plan_state_to_json(score_plan(plan, [e.to_observation() for e in events], at))


async def api_state_after(
    client: httpx.AsyncClient, plan: Plan, events: Sequence[AcceptedEvent], timeout_s: float = 120
) -> dict[str, Any]:
    """The read API's state once the service has consumed every event (its clock is then the
    latest `reported_at`); checked equal to the offline method's at that instant."""
    last = max(e.reported_at for e in events)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            response = await client.get(f"/v1/plans/{plan.id}")
        except httpx.TransportError:  # not listening yet
            await asyncio.sleep(0.5)
            continue
        if response.status_code == 200:
            state: dict[str, Any] = response.json()
            clock = state.pop("clock", None)
            caught_up = clock is not None and datetime.fromisoformat(clock) == last
            if caught_up and state == offline(plan, events, last):
                return state
        await asyncio.sleep(0.5)
    raise AssertionError(f"the service did not reach the state of {len(events)} events")


async def test_dashboard_shows_the_live_state(
    scoring_service: tuple[ServiceProcess, Topics], kafka_bootstrap: str, chromium: str
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    service, topics = scoring_service
    accepted_topic = topics.accepted
    service.start()
    plan = next(iter(load_catalog().plans.values()))
    events = plan_stream(plan, seed=5, until=date(2022, 6, 30))
    events += breakdowns(plan, events)
    await produce(kafka_bootstrap, accepted_topic, events)
    ARTIFACTS.mkdir(exist_ok=True)

    reader = headers(PLANS_READ, sub="dashboard-viewer")
    async with httpx.AsyncClient(base_url=service.url, timeout=10, headers=reader) as client:
        state = await api_state_after(client, plan, events)
        root = await client.get("/", follow_redirects=False)
        assert root.status_code == 307 and root.headers["location"] == "/dashboard/"
        assert (await client.get("/dashboard/static/router.py")).status_code == 404

        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                # The header oauth2-proxy adds in front of the dashboard (the page never
                # handles a token itself).
                page = await browser.new_page(
                    viewport={"width": 1280, "height": 1600}, extra_http_headers=reader
                )
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                requests: list[str] = []
                page.on("request", lambda req: requests.append(req.url))
                await page.goto(f"{service.url}/dashboard/")
                await page.wait_for_function(
                    f"document.querySelectorAll('article.card').length === {len(plan.targets)}"
                    " && document.body.dataset.at !== ''"
                )
                await page.wait_for_timeout(500)  # the series requests of the first poll
                await check_page_matches(page, state)
                await page.screenshot(path=str(ARTIFACTS / "dashboard-zh.png"), full_page=True)

                # A new report arrives: the page follows by polling, without a reload.
                target = plan.targets[sorted(plan.targets)[0]]
                newest = max(e.reported_at for e in events) + timedelta(days=5)
                note = '<img src=x onerror="alert(1)"> 已核实 & 上报'
                evidence = "https://qy.example.gov.cn/proof?id=7&v=2"
                extra = event(target, newest.date() - timedelta(days=1), newest,
                              target.target, "dashboard-live-extra",
                              note=note, evidence=evidence)  # fmt: skip
                events.append(extra)
                await produce(kafka_bootstrap, accepted_topic, [extra])
                state = await api_state_after(client, plan, events)
                await page.wait_for_function(
                    f"document.body.dataset.at === {state['at']!r}", timeout=30_000
                )
                await page.wait_for_timeout(500)
                await check_page_matches(page, state)

                # The card lists the target's reports newest first, the new one with its note
                # (as text) and its evidence (a link without opener or referrer).
                card = f'article.card[data-target="{target.id}"]'
                await page.wait_for_selector(f'{card} li.report[data-event="{extra.event_id}"]')
                listed = await page.eval_on_selector_all(
                    f"{card} li.report",
                    """els => els.map(e => ({id: e.dataset.event,
                        note: (e.querySelector('.note') || {}).textContent || null,
                        href: (e.querySelector('a.evidence') || {href: null}).href,
                        rel: (e.querySelector('a.evidence') || {rel: null}).rel,
                        images: e.querySelectorAll('img').length}))""",
                )
                assert listed[0] == {
                    "id": extra.event_id,
                    "note": note,
                    "href": evidence,
                    "rel": "noopener noreferrer",
                    "images": 0,
                }
                own = sorted(
                    (e for e in events if e.target == target.id and e.scope is None),
                    key=lambda e: (e.reported_at, e.event_id),
                    reverse=True,
                )
                assert len(listed) <= 10 and listed[0]["id"] == own[0].event_id

                # English.
                await page.click("#lang")
                await page.wait_for_function("document.documentElement.lang === 'en'")
                name = await page.inner_text(f'article.card[data-target="{target.id}"] .name')
                assert name == target.name_en
                assert await page.inner_text("#title") == plan.title_en
                await page.screenshot(path=str(ARTIFACTS / "dashboard-en.png"), full_page=True)
                assert errors == []
                # Everything the page loaded came from the service itself.
                assert requests and all(u.startswith(service.url) for u in requests)
            finally:
                await browser.close()


def breakdowns(plan: Plan, events: Sequence[AcceptedEvent]) -> list[AcceptedEvent]:
    """Method v1.1 scoped figures from co-owners (shown on the cards, never in the headline)."""
    last = max(e.reported_at for e in events)
    shared = [t for t in sorted(plan.targets) if plan.co_owners(t)][:3]
    scoped = []
    for n, target_id in enumerate(shared):
        target = plan.targets[target_id]
        agency = sorted(plan.co_owners(target_id))[0]
        scope = sorted(plan.breakdowns)[n]
        at = last - timedelta(days=3 + n)
        value = target.target if target.kind is not Kind.MILESTONE else 1.0
        scoped.append(
            event(
                target,
                at.date() - timedelta(days=20),
                at,
                value,
                f"scoped-{n}",
                agency=agency,
                scope=scope,
            )
        )
    return scoped


async def check_page_matches(page: Any, state: dict[str, Any]) -> None:
    """Statuses, counts, alerts and charts on the page are those of the read API's state."""
    cards = await page.eval_on_selector_all(
        "article.card",
        """els => els.map(e => ({
            id: e.dataset.target, status: e.dataset.status,
            reported: (e.querySelector('path.reported') || {getAttribute: () => null})
                .getAttribute('d'),
            expected: (e.querySelector('path.expected') || {getAttribute: () => null})
                .getAttribute('d'),
            projection: !!e.querySelector('path.projection'),
            points: e.querySelectorAll('circle.point').length }))""",
    )
    assert {c["id"]: c["status"] for c in cards} == {
        tid: r["status"] for tid, r in state["targets"].items()
    }
    for card in cards:
        result = state["targets"][card["id"]]
        assert card["points"] == result["points"], card["id"]
        if result["points"]:
            assert card["reported"], card["id"]  # a drawn line with a non-empty `d`
        assert bool(card["expected"]) == (result["baseline"] is not None), card["id"]
        assert card["projection"] == (result["projected"] is not None), card["id"]
    assert any(c["reported"] for c in cards)
    overall = await page.get_attribute("#overall", "data-status")
    assert overall == (state["overall"]["status"] or "")
    areas = await page.eval_on_selector_all(
        "tr.area", "els => els.map(e => [e.dataset.area, e.dataset.status])"
    )
    assert dict(areas) == {a: r["status"] or "" for a, r in state["areas"].items()}
    alerts = await page.eval_on_selector_all(
        "tr.alert", "els => els.map(e => e.dataset.fingerprint)"
    )
    assert sorted(alerts) == sorted(a["fingerprint"] for a in state["alerts"])
    counts = await page.eval_on_selector_all(
        "#counts span", "els => els.map(e => [e.dataset.status, Number(e.dataset.count)])"
    )
    assert dict(counts) == {s: n for s, n in state["overall"]["counts"].items() if n}
    # v1.1: coverage beside the headline, unscored tasks named, breakdowns on the cards.
    coverage = await page.inner_text("#coverage .v")
    assert coverage == f"{100 * state['overall']['coverage']:.1f}%"
    unscored = await page.eval_on_selector_all(
        "tr.task.unscored", "els => els.map(e => e.dataset.task)"
    )
    assert sorted(unscored) == state["overall"]["unscored"]
    tasks = state["tracked"]["tasks"]
    scored_text = await page.inner_text("#tasks-scored")
    assert scored_text.startswith(f"{len(tasks['scored'])} / {tasks['total']}")
    tracked_text = await page.inner_text("#tasks-tracked")
    assert tracked_text.startswith(f"{len(tasks['tracked'])} / {tasks['total']}")
    # Every commitment's checklist and every indicator, as the read API states them.
    done = await page.eval_on_selector_all(
        "li.deliverable", "els => els.map(e => [e.dataset.deliverable, e.dataset.done])"
    )
    expected_done = {
        d: str(item["done"]).lower()
        for c in state["tracked"]["commitments"].values()
        for d, item in c["deliverables"].items()
    }
    assert dict(done) == expected_done
    indicators = await page.eval_on_selector_all(
        "tr.indicator", "els => els.map(e => e.dataset.indicator)"
    )
    assert sorted(indicators) == sorted(state["tracked"]["indicators"])
    scopes = await page.eval_on_selector_all(
        "article.card .breakdowns li",
        "els => els.map(e => [e.closest('article').dataset.target, e.dataset.scope])",
    )
    assert state["breakdowns"]
    assert sorted(map(tuple, scopes)) == sorted(
        (t, scope) for t, figures in state["breakdowns"].items() for scope in figures
    )
