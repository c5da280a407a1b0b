"""The dashboard's problems download: `GET /dashboard/api/plans/{plan}/problems.{csv,xlsx}`,
every problem of the plan as the read API lists it (ages and overdue at the service clock), as
a CSV (UTF-8 with a BOM) or an Excel workbook (problem_table.py, export.py). Needs `plans:read`
like every `/dashboard/api` call."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response

from services.scoring.dashboard.export import MEDIA_TYPES, encode
from services.scoring.dashboard.problem_table import problems_table
from services.scoring.problem_documents import problem_json, problem_of
from services.scoring.problem_store import ProblemQuery, ProblemStore
from services.scoring.store import ScoringStore
from shared.domain.catalog import Catalog
from shared.runtime.auth import PLANS_READ, require
from shared.vocabulary import Lang


def make_problem_downloads_router(
    catalog: Catalog,
    problems: Callable[[], ProblemStore],
    scoring: Callable[[], ScoringStore],
    *,
    escalate_after: timedelta,
) -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=[Depends(require(PLANS_READ))])

    @router.get("/dashboard/api/plans/{plan_id}/problems.{fmt}")
    async def problems_file(plan_id: str, fmt: str, lang: Lang = Lang.ZH) -> Response:
        plan = catalog.plans.get(plan_id)
        if plan is None or fmt not in MEDIA_TYPES:
            raise HTTPException(status_code=404, detail=f"no table {plan_id}/problems.{fmt}")
        meta = await scoring().load_meta()
        clock = meta.get("at") if meta else None
        at = datetime.fromisoformat(clock) if isinstance(clock, str) else None
        found = []
        for doc in await problems().problems(ProblemQuery(plan=plan_id)):
            problem = problem_of(doc)
            if problem is not None:
                when = at or problem.updated_at
                found.append(problem_json(problem, plan, at=when, escalate_after=escalate_after,
                                          escalated_at=doc.get("escalated_at")))  # fmt: skip
        body = encode(problems_table(plan, found, lang), fmt)
        day = at.date().isoformat() if at is not None else "none"
        headers = {
            "Content-Disposition": f'attachment; filename="{plan_id}-problems-{day}.{fmt}"',
            "Cache-Control": "no-store",
        }
        return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)

    return router
