"""Hand-built plans and observations for the scoring method tests (not the shipped catalog)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from shared.domain.catalog import (
    Agency,
    Area,
    Cadence,
    Comparator,
    Group,
    Kind,
    Plan,
    Point,
    Stage,
    Target,
    Task,
)
from shared.domain.method_v1 import TargetResult, effective_series, evaluate_target, last_report_at
from shared.domain.observation import Observation
from shared.domain.timebase import CST, end_of_day

PLAN_ID = "test-plan"
ISSUED = date(2021, 5, 11)


def make_target(
    target_id: str = "t.share",
    *,
    kind: Kind = Kind.SHARE,
    comparator: Comparator = Comparator.GE,
    target: float = 80.0,
    deadline: date | None = date(2022, 12, 31),
    cadence: Cadence = Cadence.QUARTERLY,
    task: str = "2.1.1",
    lead: str = "ag.lead",
    co: tuple[str, ...] = (),
    baseline: tuple[date, float] | None = None,
    trajectory: Iterable[tuple[date, float]] = (),
    stages: int = 0,
    weight: float = 1.0,
) -> Target:
    return Target(
        id=target_id,
        plan=PLAN_ID,
        task=task,
        kind=kind,
        comparator=comparator,
        target=target,
        deadline=deadline,
        pace_end=deadline or date(2022, 12, 31),  # the builder's: the plan's horizon if undated
        lead=lead,
        co=co,
        cadence=cadence,
        name_en=target_id,
        metric_zh=target_id,
        rank_of=20 if kind is Kind.RANK else None,
        stages=tuple(Stage(id=f"s{i}", name_zh=f"s{i}", name_en=f"s{i}") for i in range(stages)),
        baseline=Point(as_of=baseline[0], value=baseline[1]) if baseline else None,
        trajectory=tuple(Point(as_of=d, value=v) for d, v in trajectory),
        weight=weight,
    )


def milestone(target_id: str = "t.milestone", *, stages: int = 4, **kw: object) -> Target:
    return make_target(
        target_id,
        kind=Kind.MILESTONE,
        target=float(stages - 1),
        stages=stages,
        **kw,  # type: ignore[arg-type]
    )


def make_plan(
    targets: Iterable[Target],
    *,
    issued: date = ISSUED,
    extra_tasks: Iterable[str] = (),
    groups: dict[str, tuple[str, ...]] | None = None,
) -> Plan:
    targets = list(targets)
    task_ids = sorted({t.task for t in targets} | set(extra_tasks))
    agency_ids = {t.lead for t in targets} | {a for g in (groups or {}).values() for a in g}
    agency_ids |= {c for t in targets for c in t.co if c not in (groups or {})}
    area_of = {tid: ".".join(tid.split(".")[:2]) for tid in task_ids}
    return Plan(
        id=PLAN_ID,
        title_zh="测试",
        title_en="test",
        doc_no="test",
        issued=issued,
        horizon_end=date(2022, 12, 31),
        coordinator=sorted(agency_ids)[0],
        agencies={a: Agency(id=a, name_zh=a, name_en=a) for a in sorted(agency_ids)},
        groups={g: Group(id=g, name_zh=g, name_en=g, members=m) for g, m in (groups or {}).items()},
        areas={a: Area(id=a, name_zh=a, name_en=a) for a in sorted(set(area_of.values()))},
        tasks={
            tid: Task(
                id=tid,
                area=area_of[tid],
                name_zh=tid,
                name_en=tid,
                responsible=("ag.lead",),
            )
            for tid in task_ids
        },
        targets={t.id: t for t in targets},
    )


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), CST)


def at(day: date) -> datetime:
    """The evaluation instant for a day: its end, CST."""
    return end_of_day(day)


_counter = iter(range(1, 10**9))


def obs(
    as_of: date,
    value: float | None,
    reported: date | datetime,
    *,
    target: str = "t.share",
    event_id: str | None = None,
    agency: str = "",
    scope: str | None = None,
) -> Observation:
    reported_at = reported if isinstance(reported, datetime) else noon(reported)
    return Observation(
        event_id=event_id or f"ev-{next(_counter):09d}",
        target=target,
        as_of=as_of,
        reported_at=reported_at,
        value=value,
        agency=agency,
        scope=scope,
    )


def evaluate(
    target: Target,
    observations: Iterable[Observation],
    when: date | datetime,
    *,
    plan: Plan | None = None,
) -> TargetResult:
    """One target's result as known at `when` (a day means its end), through the offline path."""
    instant = when if isinstance(when, datetime) else at(when)
    events = list(observations)
    return evaluate_target(
        plan or make_plan([target]),
        target,
        effective_series(events, instant),
        last_report_at(events, instant),
        instant,
    )
