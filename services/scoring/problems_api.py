"""The read API of problems raised and followed (docs/scoring-service.md, "Problems").

- `GET /v1/plans/{plan}/problems`: the plan's problems, oldest raise first, filtered by
  `state` (repeatable: open, acknowledged, resolved, closed), `agency` (raised by),
  `asked` (named in `from_agencies`), `target` (the subject: a target, deliverable,
  indicator or task id) and `task` (every problem on the task or on one of its subjects);
  the coordinator's "open problems" list is `?state=open&state=acknowledged`.
- `GET /v1/plans/{plan}/problems/{problem_id}`: one problem with its whole history, every
  event applied or refused (with the refusal's name), in (time, event id) order.

Ages are measured at `at` (RFC 3339) when given, else at the service clock (the instant the
escalation is judged at), or, before the service has a clock, at the problem's last step.
`overdue` says whether the problem is open and older than SCORING_PROBLEM_ESCALATE_AFTER at
that instant; `escalated_at` when its `problem_overdue` alert went out. Every route needs a
bearer token with scope `plans:read`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from services.scoring.problem_documents import problem_json, problem_key, problem_of
from services.scoring.problem_store import ProblemQuery, ProblemStore
from services.scoring.store import ScoringStore
from shared.contract.events import ID_PATTERN, parse_rfc3339
from shared.domain.catalog import Catalog, Plan
from shared.domain.problems import Problem, ProblemState
from shared.runtime.auth import PLANS_READ, require

MAX_PROBLEMS = 1000
OptionalId = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HistoryStep(_Shape):
    event_id: str
    action: str = Field(description="raised, acknowledged, commented, resolved or closed")
    agency: str
    at: str
    note: str | None
    state: str | None = Field(description="The problem's state after this step")
    refused: str | None = Field(
        description="Why the step changed nothing (not_raised, already_raised, "
        "already_acknowledged, finished, not_raiser, subject_mismatch); null when applied"
    )


class ProblemSummary(_Shape):
    plan: str
    problem_id: str
    state: ProblemState
    subject: str = Field(description="The target, deliverable, indicator or task id")
    subject_kind: str = Field(description="target, deliverable, indicator or task")
    task: str
    area: str | None
    raised_by: str
    raised_at: str
    summary: str | None = Field(description="What blocks the subject")
    needs: str | None
    from_agencies: list[str]
    note: str | None
    evidence: str | None
    acknowledged_at: str | None
    finished_at: str | None = Field(description="When it was resolved or closed")
    finished_by: str | None
    comments: int
    updated_at: str = Field(description="The last applied step's time")
    at: str = Field(description="The instant `age_days` and `overdue` are measured at")
    age_days: float = Field(description="Days open at `at` (to its end, once it ended)")
    overdue: bool
    escalated_at: str | None


class ProblemDetail(ProblemSummary):
    history: list[HistoryStep]


class Problems(_Shape):
    plan: str
    at: str | None = Field(description="The instant ages are measured at (null: each its own)")
    escalate_after_days: float
    count: int
    problems: list[ProblemSummary]


def _not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


def make_problems_router(
    catalog: Catalog,
    problems: Callable[[], ProblemStore],
    scoring: Callable[[], ScoringStore],
    *,
    escalate_after: timedelta,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["problems"], dependencies=[Depends(require(PLANS_READ))])

    def plan_of(plan_id: str) -> Plan:
        plan = catalog.plans.get(plan_id)
        if plan is None:
            raise _not_found(f"no plan {plan_id!r}")
        return plan

    async def instant(at: str | None) -> datetime | None:
        if at is not None:
            try:
                return parse_rfc3339(at)
            except ValueError as exc:
                raise HTTPException(status_code=422, detail=str(exc)) from None
        meta = await scoring().load_meta()
        clock = meta.get("at") if meta else None
        return datetime.fromisoformat(clock) if isinstance(clock, str) else None

    def render(
        problem: Problem, plan: Plan, at: datetime | None, doc: dict[str, Any], history: bool
    ) -> dict[str, Any]:
        return problem_json(
            problem,
            plan,
            at=at or problem.updated_at,
            escalate_after=escalate_after,
            escalated_at=doc.get("escalated_at"),
            with_history=history,
        )

    @router.get("/plans/{plan_id}/problems", response_model=Problems)
    async def list_problems(
        plan_id: str,
        *,
        state: Annotated[list[ProblemState] | None, Query(max_length=4)] = None,
        agency: OptionalId = None,
        asked: OptionalId = None,
        target: OptionalId = None,
        task: OptionalId = None,
        at: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PROBLEMS)] = MAX_PROBLEMS,
    ) -> dict[str, Any]:
        """The plan's problems, oldest raise first (filters combine; see the module doc)."""
        plan = plan_of(plan_id)
        when = await instant(at)
        query = ProblemQuery(
            plan=plan_id,
            states=tuple(s.value for s in state) if state else None,
            raised_by=agency,
            asked=asked,
            subject=target,
            task=task,
        )
        found: list[tuple[Problem, dict[str, Any]]] = []
        for doc in await problems().problems(query):
            problem = problem_of(doc)
            if problem is not None:
                found.append((problem, doc))
        found.sort(key=lambda pair: (pair[0].raised_at, pair[0].problem_id))
        shown = [render(p, plan, when, doc, False) for p, doc in found[:limit]]
        return {
            "plan": plan_id,
            "at": when.isoformat() if when is not None else None,
            "escalate_after_days": escalate_after.total_seconds() / 86_400,
            "count": len(found),
            "problems": shown,
        }

    @router.get("/plans/{plan_id}/problems/{problem_id}", response_model=ProblemDetail)
    async def one_problem(
        plan_id: str,
        problem_id: Annotated[str, Path(max_length=128)],
        at: Annotated[str | None, Query(max_length=40)] = None,
    ) -> dict[str, Any]:
        """One problem and its whole history."""
        plan = plan_of(plan_id)
        doc = await problems().problem(problem_key(plan_id, problem_id))
        problem = problem_of(doc) if doc is not None else None
        if doc is None or problem is None:
            raise _not_found(f"plan {plan_id!r} has no problem {problem_id!r}")
        return render(problem, plan, await instant(at), doc, True)

    return router
