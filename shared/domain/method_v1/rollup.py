"""Roll-ups: target -> task -> area -> plan, and agency scorecards.

Each level's score is the weighted mean (catalog weights) of the scores of the level just below
it (task: its targets; area: its tasks; plan: its areas), members without a score left out; a
level with no scored member (or only zero weights) has no score and no status. Counts are over
all targets below the level, by status. A level's status is ACHIEVED when it has targets and every
one is achieved, else the band of its score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.domain.catalog import Plan

from .evaluate import TargetResult
from .status import Status, status_from_score


@dataclass(frozen=True, slots=True)
class Rollup:
    score: float | None
    status: Status | None
    counts: Mapping[Status, int]  # every status, in Status order; zeros included
    targets: int  # targets below this level


def weighted_mean(members: Iterable[tuple[float | None, float]]) -> float | None:
    """Mean of (score, weight) pairs, unscored members left out; None without positive weight."""
    scored = [(s, w) for s, w in members if s is not None]
    total = math.fsum(w for _, w in scored)
    if not scored or total <= 0:
        return None
    return math.fsum(s * w for s, w in scored) / total


def count_statuses(statuses: Iterable[Status]) -> dict[Status, int]:
    counts = dict.fromkeys(Status, 0)
    for status in statuses:
        counts[status] += 1
    return counts


def make_rollup(score: float | None, results: list[TargetResult]) -> Rollup:
    if results and all(r.status is Status.ACHIEVED for r in results):
        status: Status | None = Status.ACHIEVED
    else:
        status = status_from_score(score) if score is not None else None
    return Rollup(score, status, count_statuses(r.status for r in results), len(results))


def rollup_over_targets(plan: Plan, results: list[TargetResult]) -> Rollup:
    """Weighted mean of target scores (target weights) over the given targets."""
    score = weighted_mean((r.score, plan.targets[r.target].weight) for r in results)
    return make_rollup(score, results)


@dataclass(frozen=True, slots=True)
class Rollups:
    tasks: Mapping[str, Rollup]
    areas: Mapping[str, Rollup]
    plan: Rollup


def roll_up(plan: Plan, results: Mapping[str, TargetResult]) -> Rollups:
    """Every task, area (sorted by id) and the plan, from the results of the plan's targets."""
    by_task: dict[str, list[TargetResult]] = {task_id: [] for task_id in sorted(plan.tasks)}
    for target_id in sorted(results):
        by_task[plan.targets[target_id].task].append(results[target_id])
    tasks = {task_id: rollup_over_targets(plan, rs) for task_id, rs in by_task.items()}

    area_tasks: dict[str, list[str]] = {area_id: [] for area_id in sorted(plan.areas)}
    for task_id in sorted(plan.tasks):
        area_tasks[plan.tasks[task_id].area].append(task_id)
    areas: dict[str, Rollup] = {}
    area_results: dict[str, list[TargetResult]] = {}
    for area_id, task_ids in area_tasks.items():
        below = [r for task_id in task_ids for r in by_task[task_id]]
        score = weighted_mean((tasks[t].score, plan.tasks[t].weight) for t in task_ids)
        areas[area_id] = make_rollup(score, below)
        area_results[area_id] = below

    everything = [r for area_id in area_tasks for r in area_results[area_id]]
    plan_score = weighted_mean((areas[a].score, plan.areas[a].weight) for a in area_tasks)
    return Rollups(tasks, areas, make_rollup(plan_score, everything))


@dataclass(frozen=True, slots=True)
class AgencyScorecard:
    agency: str
    lead: Rollup  # over the targets it leads
    co: Rollup  # over the targets it co-owns (`Plan.co_owners`), never ones it leads
    stale: int  # stale targets among those it leads


def agency_scorecards(
    plan: Plan, results: Mapping[str, TargetResult]
) -> dict[str, AgencyScorecard]:
    """A scorecard for every agency of the plan (sorted by id), led and co-owned separately."""
    led: dict[str, list[TargetResult]] = {a: [] for a in sorted(plan.agencies)}
    co: dict[str, list[TargetResult]] = {a: [] for a in sorted(plan.agencies)}
    for target_id in sorted(results):
        result = results[target_id]
        led.setdefault(plan.targets[target_id].lead, []).append(result)
        for agency in sorted(plan.co_owners(target_id)):
            co.setdefault(agency, []).append(result)
    cards: dict[str, AgencyScorecard] = {}
    for agency in sorted(led.keys() | co.keys()):
        mine = led.get(agency, [])
        cards[agency] = AgencyScorecard(
            agency=agency,
            lead=rollup_over_targets(plan, mine),
            co=rollup_over_targets(plan, co.get(agency, [])),
            stale=sum(1 for r in mine if r.stale),
        )
    return cards
