"""The read API: the plan's live state in the offline CLI's JSON names (`plan_state_to_json`).

Each request reads one plan document (exact `_id`), except a target's series and history.
Statuses in filters are the method's upper-case names; agencies are catalog ids and match the
targets an agency leads or co-owns. Every route needs a bearer token with scope `plans:read`
(`shared.runtime.auth`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from services.scoring import read_models as m
from services.scoring.documents import JSON, fold_winners
from services.scoring.store import ScoringStore
from shared.domain.catalog import Catalog, Plan
from shared.domain.method_v1 import AlertRule, Severity, Status, points_by_date
from shared.domain.recent_reports import (
    RECENT_REPORTS,
    recent_reports,
    report_to_json,
    shown_with,
)
from shared.runtime.auth import PLANS_READ, require

MAX_LIMIT = 10_000
MAX_REPORTS = 200  # recent reports per target


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


class _Reads:
    """What the routes share: the catalog and the store's plan documents."""

    def __init__(self, catalog: Catalog, store: Callable[[], ScoringStore]) -> None:
        self.catalog = catalog
        self.store = store

    def plan_of(self, plan_id: str) -> Plan:
        plan = self.catalog.plans.get(plan_id)
        if plan is None:
            raise _not_found(f"no plan {plan_id!r}")
        return plan

    async def state_of(self, plan_id: str) -> tuple[Plan, JSON]:
        plan = self.plan_of(plan_id)
        doc = await self.store().plan(plan_id)
        if doc is None or doc.get("state") is None:
            raise _not_found(f"plan {plan_id!r} has not been scored yet")
        state: JSON = {**json.loads(doc["state"]), "clock": doc.get("clock")}
        return plan, state

    @staticmethod
    def target_entry(plan: Plan, target_id: str, result: JSON) -> JSON:
        target = plan.targets[target_id]
        return {
            "id": target_id,
            "name_en": target.name_en,
            "metric_zh": target.metric_zh,
            "task": target.task,
            "area": plan.tasks[target.task].area,
            "lead": target.lead,
            "co": sorted(plan.co_owners(target_id)),
            **result,
        }


def make_router(catalog: Catalog, store: Callable[[], ScoringStore]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["scores"], dependencies=[Depends(require(PLANS_READ))])
    reads = _Reads(catalog, store)
    _plan_routes(router, reads)
    _target_routes(router, reads)
    _agency_and_alert_routes(router, reads)
    return router


def _plan_routes(router: APIRouter, reads: _Reads) -> None:
    catalog, store, state_of = reads.catalog, reads.store, reads.state_of

    @router.get("/plans", response_model=list[m.PlanSummary])
    async def plans() -> list[JSON]:
        out = []
        for plan_id in sorted(catalog.plans):
            doc = await store().plan(plan_id)
            plan = catalog.plans[plan_id]
            out.append(
                {
                    "plan": plan_id,
                    "title_zh": plan.title_zh,
                    "title_en": plan.title_en,
                    "clock": doc.get("clock") if doc else None,
                }
            )
        return out

    @router.get("/plans/{plan_id}", response_model=m.PlanState)
    async def plan_state(plan_id: str) -> JSON:
        """The whole state, as `planwatch score` prints it, plus the service clock."""
        return (await state_of(plan_id))[1]

    @router.get("/plans/{plan_id}/areas", response_model=m.Areas)
    async def areas(plan_id: str) -> JSON:
        plan, state = await state_of(plan_id)
        return {
            "plan": plan_id,
            "at": state["at"],
            "areas": {
                area_id: {"name_zh": plan.areas[area_id].name_zh, **rollup}
                for area_id, rollup in state["areas"].items()
            },
        }

    @router.get("/plans/{plan_id}/areas/{area_id}", response_model=m.Area)
    async def area(plan_id: str, area_id: str) -> JSON:
        plan, state = await state_of(plan_id)
        if area_id not in state["areas"]:
            raise _not_found(f"plan {plan_id!r} has no area {area_id!r}")
        tasks = sorted(t for t, task in plan.tasks.items() if task.area == area_id)
        return {
            "plan": plan_id,
            "at": state["at"],
            "area": area_id,
            "name_zh": plan.areas[area_id].name_zh,
            "name_en": plan.areas[area_id].name_en,
            **state["areas"][area_id],
            "tasks": {t: state["tasks"][t] for t in tasks},
        }

    @router.get("/plans/{plan_id}/tasks", response_model=m.Tasks)
    async def tasks(plan_id: str) -> JSON:
        _, state = await state_of(plan_id)
        return {"plan": plan_id, "at": state["at"], "tasks": state["tasks"]}

    @router.get("/plans/{plan_id}/tasks/{task_id}", response_model=m.Task)
    async def task(plan_id: str, task_id: str) -> JSON:
        plan, state = await state_of(plan_id)
        if task_id not in state["tasks"]:
            raise _not_found(f"plan {plan_id!r} has no task {task_id!r}")
        targets = sorted(t.id for t in plan.targets_of_task(task_id))
        return {
            "plan": plan_id,
            "at": state["at"],
            "task": task_id,
            "area": plan.tasks[task_id].area,
            **state["tasks"][task_id],
            "targets": {t: state["targets"][t] for t in targets},
        }


def _target_routes(router: APIRouter, reads: _Reads) -> None:
    store, state_of, plan_of = reads.store, reads.state_of, reads.plan_of
    target_entry = reads.target_entry

    @router.get("/plans/{plan_id}/targets", response_model=m.Targets)
    async def targets(
        plan_id: str,
        status: Annotated[list[Status] | None, Query()] = None,
        agency: Annotated[str | None, Query()] = None,
    ) -> JSON:
        """Targets, optionally only those with one of the statuses and/or of an agency."""
        plan, state = await state_of(plan_id)
        if agency is not None and agency not in plan.agencies:
            raise _not_found(f"plan {plan_id!r} has no agency {agency!r}")
        wanted = {s.value for s in status} if status else None
        selected = [
            target_entry(plan, tid, result)
            for tid, result in state["targets"].items()
            if (wanted is None or result["status"] in wanted)
            and (agency is None or agency in plan.responsible_for(tid))
        ]
        return {"plan": plan_id, "at": state["at"], "targets": selected}

    @router.get("/plans/{plan_id}/targets/{target_id}", response_model=m.TargetDetail)
    async def target(plan_id: str, target_id: str) -> JSON:
        plan, state = await state_of(plan_id)
        if target_id not in plan.targets:
            raise _not_found(f"plan {plan_id!r} has no target {target_id!r}")
        t = plan.targets[target_id]
        return {
            "plan": plan_id,
            "at": state["at"],
            **target_entry(plan, target_id, state["targets"][target_id]),
            "kind": t.kind.value,
            "comparator": t.comparator.value,
            "target": t.target,
            "deadline": t.deadline.isoformat() if t.deadline else None,  # None: no date in the plan
            "cadence": t.cadence.value,
            "alerts": [a for a in state["alerts"] if a["target"] == target_id],
        }

    @router.get(
        "/plans/{plan_id}/targets/{target_id}/series",
        response_model=m.Series,
        response_model_exclude_unset=True,  # `evidence` and `note` only when set
    )
    async def series(
        plan_id: str,
        target_id: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
        reports: Annotated[int, Query(ge=0, le=MAX_REPORTS)] = RECENT_REPORTS,
        before: Annotated[date | None, Query(description="Only points dated before it.")] = None,
    ) -> JSON:
        """The effective series (the last `limit` points by `as_of`, each with its report's
        `evidence`/`note` when set), retracted dates, and the `reports` most recent reports
        (every reporter's, newest first, with their evidence and notes). With `before` only
        what is dated before it: the next page is `before=next_before` (null on the last)."""
        plan = plan_of(plan_id)
        if target_id not in plan.targets:
            raise _not_found(f"plan {plan_id!r} has no target {target_id!r}")
        below = before.isoformat() if before is not None else None
        winners = fold_winners(await store().target_points(plan_id, target_id, below))
        by_date = points_by_date(winners)
        points = []
        for as_of, p in sorted(by_date.items()):
            winner = winners.get((as_of, p.agency))
            shown = shown_with(winner) if winner and winner.event_id == p.event_id else {}
            points.append(
                {
                    "as_of": as_of.isoformat(),
                    "value": p.value,
                    "reported_at": p.reported_at.isoformat(),
                    "event_id": p.event_id,
                    "agency": p.agency,
                    **shown,
                }
            )
        retracted = sorted({as_of for as_of, _agency in winners} - by_date.keys())
        page = points[-limit:]
        return {
            "plan": plan_id,
            "target": target_id,
            "count": len(points),
            "points": page,
            "next_before": page[0]["as_of"] if len(points) > len(page) else None,
            "retracted": [d.isoformat() for d in retracted],
            "recent_reports": [report_to_json(r) for r in recent_reports(winners, reports)],
        }

    @router.get("/plans/{plan_id}/targets/{target_id}/history", response_model=m.History)
    async def history(
        plan_id: str,
        target_id: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        before: Annotated[
            int | None, Query(ge=1, description="Only older changes (`seq`).")
        ] = None,
    ) -> JSON:
        """Changes of the target's result, newest first; the next page is
        `before=next_before` (null on the last)."""
        plan = plan_of(plan_id)
        if target_id not in plan.targets:
            raise _not_found(f"plan {plan_id!r} has no target {target_id!r}")
        records = await store().target_history(plan_id, target_id, limit + 1, before)
        page = records[:limit]
        more = len(records) > limit
        return {
            "plan": plan_id,
            "target": target_id,
            "history": page,
            "next_before": page[-1]["seq"] if more else None,
        }


def _agency_and_alert_routes(router: APIRouter, reads: _Reads) -> None:
    state_of = reads.state_of

    @router.get("/plans/{plan_id}/agencies", response_model=m.Agencies)
    async def agencies(plan_id: str) -> JSON:
        _, state = await state_of(plan_id)
        return {"plan": plan_id, "at": state["at"], "agencies": state["agencies"]}

    @router.get("/plans/{plan_id}/agencies/{agency_id}", response_model=m.AgencyDetail)
    async def agency_card(plan_id: str, agency_id: str) -> JSON:
        plan, state = await state_of(plan_id)
        if agency_id not in state["agencies"]:
            raise _not_found(f"plan {plan_id!r} has no agency {agency_id!r}")
        agency = plan.agencies[agency_id]
        return {
            "plan": plan_id,
            "at": state["at"],
            "agency": agency_id,
            "name_zh": agency.name_zh,
            "name_en": agency.name_en,
            **state["agencies"][agency_id],
            "lead_targets": sorted(t for t, x in plan.targets.items() if x.lead == agency_id),
            "co_targets": sorted(t for t in plan.targets if agency_id in plan.co_owners(t)),
        }

    @router.get("/plans/{plan_id}/alerts", response_model=m.Alerts)
    async def alerts(
        plan_id: str,
        severity: Annotated[Severity | None, Query()] = None,
        rule: Annotated[AlertRule | None, Query()] = None,
        agency: Annotated[str | None, Query()] = None,
    ) -> JSON:
        """Alerts firing at the service clock, optionally filtered."""
        plan, state = await state_of(plan_id)
        selected: list[Any] = [
            {**a, "lead": plan.targets[a["target"]].lead}
            for a in state["alerts"]
            if (severity is None or a["severity"] == severity.value)
            and (rule is None or a["rule"] == rule.value)
            and (agency is None or agency in plan.responsible_for(a["target"]))
        ]
        return {"plan": plan_id, "at": state["at"], "alerts": selected}
