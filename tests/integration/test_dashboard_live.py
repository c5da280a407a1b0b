"""The live dashboard end to end: the scoring service (a subprocess) over the real Kafka and
FerretDB, fed accepted events, its page loaded in headless Chromium (Debian's, driven by
Playwright, a fresh profile): the page shows the read API's statuses, draws the charts, follows
a new event by polling and updates in place (the focused control keeps focus), switches
language; Tab reaches every control in order; axe-core finds no serious or critical violation
at 1280 and 375 px; nothing runs off a phone's screen; each table downloads as CSV (with a BOM)
and Excel by keyboard. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import shutil
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
from shared.accepted_problem import AcceptedProblemEvent, AnyAccepted
from shared.catalog import load_catalog
from shared.domain.catalog import Kind, Plan
from shared.domain.method_v1 import Status, plan_state_to_json, score_plan
from shared.runtime.auth import PLANS_READ
from shared.vocabulary import STATUS_LABEL, Lang
from tests.integration import scoring_support
from tests.integration.auth_support import headers
from tests.integration.dashboard_checks import (
    DESKTOP,
    axe_violations,
    check_accessible,
    check_phone_layout,
    check_tab_order,
    download_by_keyboard,
    read_csv,
    read_xlsx,
    screenshot,
)
from tests.integration.dashboard_problems import (
    check_problems_download,
    check_problems_on_page,
    open_history_by_keyboard,
    problem_records,
    problems_folded,
)
from tests.integration.scoring_support import Topics
from tests.integration.service_process import ServiceProcess
from tests.integration.token_proxy import token_proxy
from tests.unit.scoring_streams import event, plan_stream

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
INSTALL_CHROMIUM = ROOT / "services" / "scoring" / "dashboard" / "install-chromium.sh"
INSTALL_AXE = ROOT / "services" / "scoring" / "dashboard" / "install-axe.sh"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
# The flags every Chromium run here gets (Playwright adds --headless and --no-sandbox too); the
# profile is a fresh directory per run (launch_persistent_context on tmp_path).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
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


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's axe.min.js, installed from the npm registry by the project's script (pinned
    version and hash) when missing."""
    if shutil.which("npm") is None and not (ROOT / "tools" / "axe-core").is_dir():
        pytest.skip("no npm on PATH: axe-core comes from the npm registry")
    done = subprocess.run(
        ["bash", str(INSTALL_AXE)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"install-axe.sh failed:\n{done.stderr[-4000:]}"
    return Path(done.stdout.strip().splitlines()[-1]).read_text(encoding="utf-8")


scoring_service = scoring_support.scoring_service  # the fixture, for pytest to find here


async def produce(bootstrap: str, topic: str, events: Sequence[AnyAccepted]) -> None:
    """Accepted records as ingest passes them on: keyed by target (a problem's by subject)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            key = e.key if isinstance(e, AcceptedProblemEvent) else e.target
            await producer.send_and_wait(topic, e.to_json(), key=key.encode())
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


async def next_poll(page: Any) -> None:
    """Wait for the page's next complete poll (state, series, render)."""
    polls = int(await page.evaluate("() => document.body.dataset.polls || '0'"))
    await page.wait_for_function(
        f"Number(document.body.dataset.polls || 0) > {polls}", timeout=30_000
    )


async def test_dashboard_shows_the_live_state(
    scoring_service: tuple[ServiceProcess, Topics],
    kafka_bootstrap: str,
    chromium: str,
    axe_source: str,
    tmp_path: Path,
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    service, topics = scoring_service
    accepted_topic = topics.accepted
    service.start()
    plan = next(iter(load_catalog().plans.values()))
    events = plan_stream(plan, seed=5, until=date(2022, 6, 30))
    events += breakdowns(plan, events)
    await produce(kafka_bootstrap, accepted_topic, events)
    # Problems raised and followed, as ingest passes them on (before the service clock).
    problems, expected_problems = problem_records(plan, max(e.reported_at for e in events))
    await produce(kafka_bootstrap, accepted_topic, problems)
    ARTIFACTS.mkdir(exist_ok=True)

    reader = headers(PLANS_READ, sub="dashboard-viewer")
    async with httpx.AsyncClient(base_url=service.url, timeout=10, headers=reader) as client:
        state = await api_state_after(client, plan, events)
        await problems_folded(client, plan, expected_problems)
        await check_problems_download(client, plan)
        root = await client.get("/", follow_redirects=False)
        assert root.status_code == 307 and root.headers["location"] == "/dashboard/"
        assert (await client.get("/dashboard/static/router.py")).status_code == 404

        # The browser reaches the service through a stand-in for oauth2-proxy, which adds
        # the viewer's token to every request (the page never handles a token itself).
        async with (
            token_proxy(service.url, reader) as url,
            playwright_api.async_playwright() as pw,
        ):
            context = await pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"),  # a fresh profile
                executable_path=chromium,
                args=CHROMIUM_ARGS,
                viewport=DESKTOP,
                accept_downloads=True,
            )
            try:
                page = context.pages[0] if context.pages else await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                requests: list[str] = []
                page.on("request", lambda req: requests.append(req.url))
                await page.goto(f"{url}/dashboard/")
                await page.wait_for_function(
                    f"document.querySelectorAll('article.card').length === {len(plan.targets)}"
                    " && document.body.dataset.at !== ''"
                )
                await check_page_matches(page, state)
                await check_problems_on_page(page, expected_problems)

                # Keyboard: from the top, Tab visits every control in document order.
                stops = await check_tab_order(page)
                print(f"tab stops: {stops}")
                # A problem's history opens by keyboard (and is checked by axe-core, open).
                await open_history_by_keyboard(page, expected_problems)
                await check_accessible(page, axe_source, "zh, 1280 px")
                await screenshot(page, ARTIFACTS / "dashboard-zh-1280.png")
                await check_keyboard_controls(page, plan)

                # A new report arrives: the page follows by polling, in place: the focused
                # control keeps focus, the card and rows are the same nodes, updated.
                target = plan.targets[sorted(plan.targets)[0]]
                area = plan.tasks[target.task].area
                await page.focus(f'button.toggle[data-area="{area}"]')
                await page.evaluate(
                    f"""() => {{ window.__kept = {{
                        focus: document.activeElement,
                        card: document.querySelector('article.card[data-target="{target.id}"]'),
                        row: document.querySelector('tr.area[data-area="{area}"]') }}; }}"""
                )
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
                await check_page_matches(page, state)
                kept = await page.evaluate(
                    f"""() => ({{
                        focus: document.activeElement === window.__kept.focus
                               && window.__kept.focus.isConnected,
                        card: document.querySelector('article.card[data-target="{target.id}"]')
                              === window.__kept.card,
                        row: document.querySelector('tr.area[data-area="{area}"]')
                             === window.__kept.row,
                        status: window.__kept.card.dataset.status }})"""
                )
                assert kept == {
                    "focus": True,
                    "card": True,
                    "row": True,
                    "status": state["targets"][target.id]["status"],
                }

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

                await check_downloads(page, plan, state, tmp_path)

                # A phone: one column, tables scroll in their region, still accessible.
                await check_phone_layout(page)
                await check_accessible(page, axe_source, "zh, 375 px")
                await screenshot(page, ARTIFACTS / "dashboard-zh-375.png")
                await page.set_viewport_size(DESKTOP)

                # English.
                await page.click("#lang")
                await page.wait_for_function("document.documentElement.lang === 'en'")
                name = await page.inner_text(f'article.card[data-target="{target.id}"] .name')
                assert name == target.name_en
                assert await page.inner_text("#title") == plan.title_en
                await check_accessible(page, axe_source, "en, 1280 px")
                await screenshot(page, ARTIFACTS / "dashboard-en-1280.png")
                # The checker is not blind: a badge in the old NO_DATA grey (2.01:1) is caught.
                await page.evaluate(
                    """() => document.body.insertAdjacentHTML('beforeend', '<span id="probe"'
                        + ' class="badge" style="background:#afb8c1">No data</span>')"""
                )
                caught = await axe_violations(page, axe_source)
                assert any(
                    v["id"] == "color-contrast" and v["impact"] == "serious"
                    and [n["target"] for n in v["nodes"]] == ["#probe"]
                    for v in caught
                ), caught  # fmt: skip
                assert errors == []
                # Everything the page loaded came from the service itself (via the proxy).
                assert requests and all(u.startswith(url) for u in requests)
            finally:
                await context.close()


async def check_keyboard_controls(page: Any, plan: Plan) -> None:
    """Enter opens an area, Space filters the cards; the control keeps focus through the
    re-render and through the next poll."""
    area = sorted(plan.areas)[0]
    toggle = f'button.toggle[data-area="{area}"]'
    await page.focus(toggle)
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        f"""() => document.querySelector('{toggle}').getAttribute('aria-expanded') === 'true'
            && [...document.querySelectorAll('tr.task')].some(
                r => r.getClientRects().length > 0)"""
    )
    assert await page.evaluate(f"() => document.activeElement.matches('{toggle}')")

    status = await page.eval_on_selector("button[data-filter]:not([data-filter=''])",
                                         "e => e.dataset.filter")  # fmt: skip
    chosen = f'button[data-filter="{status}"]'
    await page.focus(chosen)
    await page.evaluate("() => { window.__filter = document.activeElement; }")
    await page.keyboard.press("Space")
    await page.wait_for_function(
        f"""() => document.querySelector('{chosen}').getAttribute('aria-pressed') === 'true'
            && [...document.querySelectorAll('article.card')].every(
                c => c.dataset.status === '{status}')"""
    )
    await next_poll(page)
    assert await page.evaluate("() => document.activeElement === window.__filter")
    await page.focus('button[data-filter=""]')
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        f"document.querySelectorAll('article.card').length === {len(plan.targets)}"
    )


def number(cell: str) -> float | None:
    return None if cell == "" else float(cell)


async def check_downloads(page: Any, plan: Plan, state: dict[str, Any], folder: Path) -> None:
    """Every table downloads (by keyboard) as CSV and Excel; the areas' CSV and the targets'
    workbook say what the read API says, in the page's language."""
    zh = STATUS_LABEL[Lang.ZH]
    label: dict[str | None, str] = {None: "", **{s.value: zh[s] for s in Status}}
    tables = ("alerts", "areas", "commitments", "indicators", "targets", "agencies")
    csvs = {t: read_csv(await download_by_keyboard(page, t, "csv", folder)) for t in tables}
    # Chromium drops an 11th download started in quick succession from one document (seen:
    # every 11th, whatever the page): the workbooks from the page loaded again.
    await page.reload()
    await page.wait_for_function(
        f"document.querySelectorAll('article.card').length === {len(plan.targets)}"
        f" && document.body.dataset.at === {state['at']!r}"
    )
    books = {t: read_xlsx(await download_by_keyboard(page, t, "xlsx", folder)) for t in tables}
    for table in tables:
        rows, book = csvs[table], books[table]
        assert rows[0] == list(book[0]) and len(rows) == len(book), table
        if table == "areas":
            areas = {r[1]: r[3] for r in rows[1:] if r[0] == "领域"}
            assert areas == {a: label[r["status"]] for a, r in state["areas"].items()}
        if table == "targets":  # the CSV holds every digit, the workbook Excel's 15
            results = state["targets"]
            assert {r[0]: (r[6], number(r[7])) for r in rows[1:]} == {
                t: (label[r["status"]], r["score"]) for t, r in results.items()
            }
            assert {r[0]: (r[1], r[6]) for r in book[1:]} == {
                t: (plan.targets[t].metric_zh, label[r["status"]]) for t, r in results.items()
            }
            assert [r[7] for r in book[1:]] == pytest.approx([number(r[7]) for r in rows[1:]])
        if table == "alerts":
            assert sorted(r[5] for r in rows[1:]) == sorted(
                a["fingerprint"] for a in state["alerts"]
            )


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
