"""Roll-ups: target -> task -> area -> plan, and agency scorecards (method v1.1).

Every level's score is the weighted mean of the scores of the scored targets under it (catalog
target weights, default 1): a task, an area or the plan weighs as much as the weights of the
scored targets under it. (Version 1 averaged each level's children equally, so the plan's
single target of area 3.6 weighed as much as the twelve of area 2.4.) Targets without a score
are left out; a level with no scored target has no score and no status. Each level also gives
its counts of each status, its coverage (the share of its targets' weight that has a score) and
the tasks under it that have no target at all (`unscored`: they may still track
commitments or indicators, which are never scored). A level's status is ACHIEVED when it has targets
and every one is achieved, else the band of its score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
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
    coverage: float | None = None  # share of the targets' weight scored; None without targets
    unscored: tuple[str, ...] = ()  # tasks below this level with no scored target, sorted


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


def rollup_over_targets(
    plan: Plan, results: Sequence[TargetResult], unscored: Iterable[str] = ()
) -> Rollup:
    """The roll-up of a set of targets: weighted mean score, counts, coverage."""
    weights = [(r.score, plan.targets[r.target].weight) for r in results]
    score = weighted_mean(weights)
    total = math.fsum(w for _, w in weights)
    coverage = math.fsum(w for s, w in weights if s is not None) / total if total > 0 else None
    if results and all(r.status is Status.ACHIEVED for r in results):
        status: Status | None = Status.ACHIEVED
    else:
        status = status_from_score(score) if score is not None else None
    counts = count_statuses(r.status for r in results)
    return Rollup(score, status, counts, len(results), coverage, tuple(sorted(unscored)))


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
    unscored = set(plan.tasks) - set(plan.scored_tasks())
    tasks = {
        task_id: rollup_over_targets(plan, rs, {task_id} & unscored)
        for task_id, rs in by_task.items()
    }
    areas: dict[str, Rollup] = {}
    for area_id in sorted(plan.areas):
        task_ids = [t for t in sorted(plan.tasks) if plan.tasks[t].area == area_id]
        below = [r for task_id in task_ids for r in by_task[task_id]]
        areas[area_id] = rollup_over_targets(plan, below, unscored.intersection(task_ids))
    everything = [r for task_id in sorted(plan.tasks) for r in by_task[task_id]]
    return Rollups(tasks, areas, rollup_over_targets(plan, everything, unscored))


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
