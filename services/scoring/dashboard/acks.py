"""The dashboard's acknowledgements: what notify knows of the plan's firing alerts (who
acknowledged them, for which receiver, with which note, until when; which receivers they go
to), and the "acknowledge" button, forwarded to notify's API with the caller's own token.

The page talks to the scoring service only (same origin, behind the same sign-in proxy); these
routes relay to notify (`SCORING_NOTIFY_URL`, e.g. `http://planwatch-notify:8003`):

- `GET /dashboard/api/plans/{plan}/acks` reads notify's `GET /api/v2/alerts?filter=plan="…"`
  and `GET /api/v1/acks?active=true` and answers `{"alerts": {fingerprint: {"startsAt",
  "receivers", "acks"}}}` (`ack_state`: only the acknowledgements of each alert's current
  firing episode);
- `POST /dashboard/api/alerts/{fingerprint}/ack` forwards the JSON body (`receiver`, `note`,
  `until`) to notify's `POST /api/v1/alerts/{fingerprint}/ack` and relays its answer.

notify decides: the caller's bearer token (from `Authorization` or the proxy's
`X-Forwarded-Access-Token`) is forwarded as is, so notify enforces `alerts:ack` (to
acknowledge) and its read scopes, and records the token's subject as `by`; scoring itself only
asks `plans:read`, as for every `/dashboard/api` call. Without `SCORING_NOTIFY_URL` both routes
answer 404 and the page shows no acknowledgements. A POST must be `application/json` (a
cross-site form cannot send that without the browser's CORS preflight, which scoring never
grants), and at most 16 KiB.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from shared.domain.catalog import Catalog
from shared.runtime.auth import PLANS_READ, bearer_token, require

MAX_BODY: Final = 16 * 1024
TIMEOUT_S: Final = 10.0
_RELAYED: Final = ("application/json", "application/problem+json")


def ack_state(alerts: list[dict[str, Any]], acks: list[dict[str, Any]]) -> dict[str, Any]:
    """notify's alerts (Alertmanager's `GET /api/v2/alerts` shape) and active
    acknowledgements (`GET /api/v1/acks`) as the page needs them: per fingerprint, the alert's
    episode, its receivers in routing order and the acknowledgements of that episode, newest
    first (as notify lists them)."""
    state: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        state[alert["fingerprint"]] = {
            "startsAt": alert.get("startsAt"),
            "receivers": [r["name"] for r in alert.get("receivers", [])],
            "acks": [],
        }
    for ack in acks:
        entry = state.get(ack.get("fingerprint", ""))
        episode = ack.get("startsAt")
        if entry is None or not ack.get("active", False):
            continue
        if episode is not None and episode != entry["startsAt"]:
            continue  # an earlier firing episode's: it covers nothing now
        entry["acks"].append(
            {k: ack.get(k) for k in ("receiver", "by", "note", "at", "until", "startsAt")}
        )
    return {"alerts": state}


def plan_filter(plan_id: str) -> str:
    escaped = plan_id.replace("\\", "\\\\").replace('"', '\\"')
    return f'plan="{escaped}"'


class NotifyRelay:
    """Calls notify with the caller's token; `transport` replaces the network in tests."""

    def __init__(self, base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport

    async def call(
        self,
        method: str,
        path: str,
        request: Request,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        token = bearer_token(request.headers)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url,
                transport=self.transport,
                timeout=TIMEOUT_S,
                follow_redirects=False,
                trust_env=False,
            ) as client:
                return await client.request(
                    method, path, params=params, content=body, headers=headers
                )
        except httpx.HTTPError as exc:
            raise HTTPException(502, f"notify did not answer: {type(exc).__name__}") from None


def relayed(answer: httpx.Response) -> Response:
    """notify's answer as it is: status, JSON or problem details."""
    media_type = answer.headers.get("content-type", "").split(";")[0].strip()
    if media_type not in _RELAYED:
        raise HTTPException(502, f"notify answered {answer.status_code} without JSON")
    return Response(answer.content, status_code=answer.status_code, media_type=media_type)


def make_ack_router(
    catalog: Catalog, notify_url: str | None, transport: httpx.AsyncBaseTransport | None = None
) -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=[Depends(require(PLANS_READ))])
    relay = None if not notify_url else NotifyRelay(notify_url, transport)

    def configured() -> NotifyRelay:
        if relay is None:
            raise HTTPException(404, "acknowledgements need notify (SCORING_NOTIFY_URL is unset)")
        return relay

    @router.get("/dashboard/api/plans/{plan_id}/acks")
    async def plan_acks(plan_id: str, request: Request) -> Response:
        notify = configured()
        if plan_id not in catalog.plans:
            raise HTTPException(404, f"no plan {plan_id!r}")
        query = {"filter": plan_filter(plan_id)}
        alerts = await notify.call("GET", "/api/v2/alerts", request, params=query)
        if alerts.status_code != 200:
            return relayed(alerts)
        acks = await notify.call("GET", "/api/v1/acks", request, params={"active": "true"})
        if acks.status_code != 200:
            return relayed(acks)
        try:
            return JSONResponse(ack_state(alerts.json(), acks.json()), headers=_NO_STORE)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise HTTPException(502, "notify's answer is not what its API says") from None

    @router.post("/dashboard/api/alerts/{fingerprint}/ack")
    async def acknowledge(fingerprint: str, request: Request) -> Response:
        notify = configured()
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise HTTPException(415, "send the acknowledgement as application/json")
        body = await _bounded_body(request)
        try:
            json.loads(body)
        except ValueError:
            raise HTTPException(400, "the body is not JSON") from None
        path = f"/api/v1/alerts/{quote(fingerprint, safe='')}/ack"
        return relayed(await notify.call("POST", path, request, body=body))

    return router


_NO_STORE: Final = {"Cache-Control": "no-store"}


async def _bounded_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"an acknowledgement has at most {MAX_BODY} bytes")
    return body
