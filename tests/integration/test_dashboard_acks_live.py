"""The dashboard's acknowledge button end to end: the scoring service (a subprocess over the real
Kafka and FerretDB, `SCORING_NOTIFY_URL` set) relays to notify's real acknowledgement and
alerts API (served in this process over an in-memory store holding the plan's firing alerts,
trusting the same token issuer). Headless Chromium, through the oauth2-proxy stand-in that adds
the signed-in officer's token, shows each firing alert's acknowledgements and acknowledges one
by keyboard, with a note and an end; notify records the token's subject as `by`; the page
stays accessible (axe-core) with the form open; a viewer whose token lacks the read scopes
notify asks sees no acknowledgement controls.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.notify.ack_api import ack_router
from services.notify.alertmanager_api import ALERTMANAGER_ERROR_PATHS, alertmanager_router
from services.notify.clock import WallClock
from services.notify.domain.alert import Alert
from services.notify.domain.config import load_routing
from services.notify.domain.grouping import GroupState
from services.notify.domain.pipeline import dispatch
from services.notify.memory_store import InMemoryNotifyStore
from shared.catalog import load_catalog
from shared.runtime.auth import ALERTS_ACK, PLANS_READ, Authenticator, install
from shared.runtime.problems import install_problem_handlers
from tests.integration import scoring_support
from tests.integration.asgi_serving import serving
from tests.integration.auth_support import auth_settings, headers
from tests.integration.dashboard_checks import DESKTOP, check_accessible
from tests.integration.scoring_support import Topics
from tests.integration.service_process import ServiceProcess
from tests.integration.test_dashboard_live import (
    CHROMIUM_ARGS,
    api_state_after,
    axe_source,
    chromium,
    produce,
)
from tests.integration.token_proxy import token_proxy
from tests.unit.scoring_streams import plan_stream

pytestmark = pytest.mark.integration

scoring_service = scoring_support.scoring_service  # the fixtures, for pytest to find here
__all__ = ["axe_source", "chromium", "scoring_service"]

ROUTING = """\
route:
  receiver: lead-agency
  group_by: [plan, agency, rule]
  routes:
    - receiver: coordinator
      matchers: ['severity="critical"']
      continue: true
    - receiver: lead-agency
      matchers: ['role="lead"']
      escalation:
        - {after: 1d, receiver: coordinator}
receivers:
  - name: lead-agency
    webhook_configs: [{url: "https://lead.example/hook"}]
  - name: coordinator
    webhook_configs: [{url: "https://coordinator.example/hook"}]
"""


def notify_api(store: InMemoryNotifyStore) -> FastAPI:
    """notify's acknowledgement and alerts API over `store`, trusting the tests' issuer."""
    config = load_routing(ROUTING, "routing.yaml")
    auth = Authenticator.from_settings(auth_settings(), listen_host="127.0.0.1", service="notify")
    app = FastAPI()
    install(app, auth)
    install_problem_handlers(app, plain_prefixes=ALERTMANAGER_ERROR_PATHS)
    clock = WallClock()
    app.include_router(ack_router(config, store, clock))
    app.include_router(alertmanager_router(config, store, clock, started=clock.now()))
    return app


async def hold(store: InMemoryNotifyStore, alerts: list[dict[str, Any]], plan: str) -> None:
    """The lead's copy of each of scoring's firing alerts (same fingerprint) in `store`, as
    notify's intake would have stored it."""
    config = load_routing(ROUTING, "routing.yaml")
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    groups: dict[str, GroupState] = {}
    for a in alerts:
        alert = Alert(
            fingerprint=a["fingerprint"],
            labels={
                "alertname": a["rule"],
                "rule": a["rule"],
                "plan": plan,
                "target": a["target"],
                "severity": a["severity"],
                "agency": "lead",
                "role": "lead",
            },
            annotations={},
            starts_at=started,
            updated_at=started,
        )
        changed = dispatch(config, alert, groups, started)
        groups.update(changed)
        for state in changed.values():
            await store.save_alert_state(state, alert.fingerprint, started)


async def test_an_officer_acknowledges_an_alert_from_the_dashboard(
    scoring_service: tuple[ServiceProcess, Topics],
    kafka_bootstrap: str,
    chromium: str,
    axe_source: str,
    tmp_path: Path,
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    service, topics = scoring_service
    plan = next(iter(load_catalog().plans.values()))
    events = plan_stream(plan, seed=5, until=date(2022, 6, 30))
    officer = headers(PLANS_READ, ALERTS_ACK, sub="lead-officer")
    viewer = headers(PLANS_READ, sub="viewer")
    async with httpx.AsyncClient(base_url=service.url, timeout=10, headers=officer) as client:
        # notify first; its alerts are scoring's, known once the service scored the feed
        store = InMemoryNotifyStore()
        async with serving(notify_api(store), "notify") as notify_url:
            service.env["SCORING_NOTIFY_URL"] = notify_url
            service.start()
            await produce(kafka_bootstrap, topics.accepted, events)
            state = await api_state_after(client, plan, events)
            assert state["alerts"], "the feed fires no alert"
            await hold(store, state["alerts"], plan.id)
            first = sorted(a["fingerprint"] for a in state["alerts"])[0]
            acks = await client.get(f"/dashboard/api/plans/{plan.id}/acks")
            assert acks.status_code == 200, acks.text
            assert set(acks.json()["alerts"]) == {a["fingerprint"] for a in state["alerts"]}

            async with playwright_api.async_playwright() as pw:
                context = await pw.chromium.launch_persistent_context(
                    str(tmp_path / "profile"),
                    executable_path=chromium,
                    args=CHROMIUM_ARGS,
                    viewport=DESKTOP,
                    timezone_id="Asia/Shanghai",
                )
                try:
                    page = context.pages[0] if context.pages else await context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    async with token_proxy(service.url, officer) as url:
                        await acknowledge_by_keyboard(page, url, first, axe_source)
                    assert errors == []
                    # A viewer without a scope notify reads with: no acknowledgement controls.
                    async with token_proxy(service.url, viewer) as url:
                        await page.goto(f"{url}/dashboard/")
                        await page.wait_for_function(
                            "Number(document.body.dataset.polls || 0) >= 1"
                            " && document.querySelectorAll('tr.alert').length > 0"
                        )
                        assert await page.locator("button.ack-open").count() == 0
                finally:
                    await context.close()

            [ack] = await store.acks()
            assert (ack.fingerprint, ack.by, ack.receiver) == (first, "lead-officer", "lead-agency")
            assert ack.note == "已联系牵头单位 <b>核实</b>"
            assert ack.until == datetime(2030, 1, 2, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
            [entry] = await store.entries()
            assert (entry["actor"], entry["action"]) == ("lead-officer", "ack.create")


async def acknowledge_by_keyboard(page: Any, url: str, fingerprint: str, axe_source: str) -> None:
    """Open the alert's form with Enter, fill it, send it with Enter; the row then shows the
    acknowledgement and focus is back on the row's button."""
    row = f'tr.alert[data-fingerprint="{fingerprint}"]'
    await page.goto(f"{url}/dashboard/")
    await page.wait_for_selector(f"{row} button.ack-open")
    assert await page.inner_text(f"{row} td.ack-cell") != ""
    await page.focus(f"{row} button.ack-open")
    await page.keyboard.press("Enter")
    form = f"form#ackform-{fingerprint}"
    await page.wait_for_function(
        f"document.activeElement && document.activeElement.matches('{form} select')"
    )
    assert await page.get_attribute(f"{row} button.ack-open", "aria-expanded") == "true"
    assert await page.eval_on_selector(f"{form} select", "e => e.value") == "lead-agency"
    await page.keyboard.press("Tab")  # to the note
    await page.keyboard.type("已联系牵头单位 <b>核实</b>")
    await page.fill(f"{form} input[name=until]", "2030-01-02T09:30")
    # The form survives the polls (the typed note is kept) and is accessible.
    polls = int(await page.evaluate("() => document.body.dataset.polls || '0'"))
    await page.wait_for_function(f"Number(document.body.dataset.polls || 0) > {polls}")
    assert await page.input_value(f"{form} input[name=note]") == "已联系牵头单位 <b>核实</b>"
    await check_accessible(page, axe_source, "zh, 1280 px, acknowledge form open")
    await page.focus(f"{form} button.ack-submit")
    await page.keyboard.press("Enter")
    ack = f'{row} li.ack[data-by="lead-officer"]'
    await page.wait_for_selector(ack)
    assert await page.get_attribute(ack, "data-receiver") == "lead-agency"
    assert await page.get_attribute(ack, "data-until") == "2030-01-02T01:30:00Z"
    assert await page.inner_text(f"{ack} .note") == "已联系牵头单位 <b>核实</b>"  # as text
    assert await page.locator(f"{row} b").count() == 1  # the name only: the note is not markup
    assert await page.locator(form).count() == 0
    await page.wait_for_function(
        f"document.activeElement && document.activeElement.matches('{row} button.ack-open')"
    )
    assert "已确认" in await page.inner_text("#ack-message")
    await check_accessible(page, axe_source, "zh, 1280 px, acknowledged")
