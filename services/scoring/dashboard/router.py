"""The live dashboard: static files served by the scoring service, plus the catalog as JSON.

`/dashboard/` is one page (static/index.html, app.js, morph.js, style.css: no library, no CDN)
that polls the read API (`/v1/plans/...`) every few seconds and draws the plan, its areas, tasks,
targets (with SVG trajectory charts), agencies and firing alerts, in Chinese or English, updating
the page in place (morph.js) so focus survives a refresh. What the read API does not carry
(names, deadlines, target values, stages, interim trajectory) comes from
`/dashboard/api/catalog`. `/` redirects to the dashboard. Each of the page's tables downloads as
CSV or Excel from `/dashboard/api/plans/{plan}/tables/{table}.{csv,xlsx}` (tables.py, export.py).

The page and its static files hold no data and are public; `/dashboard/api/...` and the read
API need a bearer token with `plans:read`. In compose and Kubernetes the dashboard is
reached through oauth2-proxy (or an ingress with OIDC), which signs the user in and forwards
the access token (`Authorization: Bearer`, or `X-Forwarded-Access-Token`) with every call the
page makes; the page itself never handles a token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

from services.scoring.dashboard.export import MEDIA_TYPES, encode
from services.scoring.dashboard.tables import TABLES, build_table
from services.scoring.store import ScoringStore
from shared.domain.catalog import Catalog, Plan, Target
from shared.runtime.auth import PLANS_READ, require
from shared.vocabulary import Lang, vocabulary_json

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
# The only files served, with their media types: nothing else under the folder is reachable.
STATIC_FILES: Final = {
    "app.js": "text/javascript; charset=utf-8",
    "morph.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "problems.js": "text/javascript; charset=utf-8",  # problems raised and followed
    "problems.css": "text/css; charset=utf-8",
}
NO_CACHE: Final = {"Cache-Control": "no-cache"}


def _names(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def _target_json(plan: Plan, target: Target) -> dict[str, Any]:
    return {
        "id": target.id,
        "task": target.task,
        "area": plan.tasks[target.task].area,
        "name": _names(target.metric_zh, target.name_en),
        "kind": target.kind.value,
        "comparator": target.comparator.value,
        "direction": target.direction,
        "target": target.target,
        "deadline": target.deadline.isoformat() if target.deadline else None,
        "pace_end": target.pace_until.isoformat(),
        "cadence": target.cadence.value,
        "lead": target.lead,
        "co": sorted(plan.co_owners(target.id)),
        "rank_of": target.rank_of,
        "stages": [_names(s.name_zh, s.name_en) for s in target.stages],
        "baseline": (
            {"as_of": target.baseline.as_of.isoformat(), "value": target.baseline.value}
            if target.baseline is not None
            else None
        ),
        "trajectory": [
            {"as_of": p.as_of.isoformat(), "value": p.value}
            for p in sorted(target.trajectory, key=lambda p: p.as_of)
        ],
        "source_zh": target.source_zh,
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    """What the dashboard needs of one plan that the read API does not say."""
    return {
        "id": plan.id,
        "title": _names(plan.title_zh, plan.title_en),
        "doc_no": plan.doc_no,
        "issued": plan.issued.isoformat(),
        "horizon_end": plan.horizon_end.isoformat(),
        "areas": [
            {"id": a.id, "name": _names(a.name_zh, a.name_en)}
            for a in sorted(plan.areas.values(), key=lambda a: a.id)
        ],
        "tasks": [
            {"id": t.id, "area": t.area, "name": _names(t.name_zh, t.name_en)}
            for t in sorted(plan.tasks.values(), key=lambda t: t.id)
        ],
        "targets": [_target_json(plan, plan.targets[tid]) for tid in sorted(plan.targets)],
        "commitments": [
            {
                "id": c.id,
                "task": c.task,
                "name": _names(c.name_zh, c.name_en),
                "lead": c.lead,
                "deadline": c.deadline.isoformat() if c.deadline else None,
                "source_zh": c.source_zh,
                "deliverables": [
                    {"id": d.id, "name": _names(d.name_zh, d.name_en)} for d in c.deliverables
                ],
            }
            for c in sorted(plan.commitments.values(), key=lambda c: (c.task, c.id))
        ],
        "indicators": [
            {
                "id": i.id,
                "task": i.task,
                "name": _names(i.metric_zh, i.name_en),
                "unit": _names(i.unit_zh, i.unit_en),
                "lead": i.lead,
                "reporters": list(i.headline_reporters),
            }
            for i in sorted(plan.indicators.values(), key=lambda i: i.id)
        ],
        "agencies": [
            {"id": g.id, "name": _names(g.name_zh, g.name_en)}
            for g in sorted(plan.agencies.values(), key=lambda g: g.id)
        ],
        "breakdowns": [
            {"id": u.id, "kind": u.kind, "name": _names(u.name_zh, u.name_en)}
            for u in sorted(plan.breakdowns.values(), key=lambda u: u.id)
        ],
    }


def catalog_json(catalog: Catalog) -> dict[str, Any]:
    return {
        "plans": [plan_json(catalog.plans[pid]) for pid in sorted(catalog.plans)],
        "vocabulary": {lang.value: vocabulary_json(lang) for lang in Lang},
    }


def make_dashboard_router(catalog: Catalog, store: Callable[[], ScoringStore]) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    catalog_doc = catalog_json(catalog)  # the catalog is fixed for the process's life

    @router.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/dashboard/", status_code=307)

    @router.get("/dashboard")
    async def dashboard_bare() -> RedirectResponse:
        return RedirectResponse("/dashboard/", status_code=307)

    @router.get("/dashboard/")
    async def dashboard() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=NO_CACHE
        )

    @router.get("/dashboard/static/{name}")
    async def static(name: str) -> FileResponse:
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            raise HTTPException(status_code=404, detail=f"no dashboard file {name!r}")
        return FileResponse(STATIC_DIR / name, media_type=media_type, headers=NO_CACHE)

    # Public: the page and its static files (no data). Everything else needs a token.
    @router.get("/dashboard/api/catalog", dependencies=[Depends(require(PLANS_READ))])
    async def catalog_endpoint() -> dict[str, Any]:
        return catalog_doc

    @router.get(
        "/dashboard/api/plans/{plan_id}/tables/{table}.{fmt}",
        dependencies=[Depends(require(PLANS_READ))],
    )
    async def table_file(plan_id: str, table: str, fmt: str, lang: Lang = Lang.ZH) -> Response:
        """One of the page's tables as a download, from the stored state (as the read API)."""
        plan = catalog.plans.get(plan_id)
        if plan is None or table not in TABLES or fmt not in MEDIA_TYPES:
            raise HTTPException(status_code=404, detail=f"no table {plan_id}/{table}.{fmt}")
        doc = await store().plan(plan_id)
        if doc is None or doc.get("state") is None:
            raise HTTPException(status_code=404, detail=f"plan {plan_id!r} not scored yet")
        state = json.loads(doc["state"])
        body = encode(build_table(table, plan, state, lang), fmt)
        name = f"{plan_id}-{table}-{state['at']}.{fmt}"  # catalog ids and a date: ASCII
        headers = {
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        }
        return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)

    return router
