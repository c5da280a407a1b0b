"""The demo's problems raised and followed (pure): seeded agencies raise problems on their
targets and the plan's coordinator acknowledges, comments on and resolves them, so that a demo
run shows the coordinator's receiver getting `problem_raised` (and, for the problem left open,
`problem_overdue`), and the dashboard and the report their open problems.

The same plan and seed give the same events, byte for byte (ids and times from the seed, Ed25519
signatures deterministic). A story whose subject or raiser the plan lacks is left out.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

from planwatch.simulate.agencies import DemoKey
from planwatch.simulate.workdays import workdays_from
from shared.contract.events import (
    EventType,
    ProblemEvent,
    new_problem_raised,
    new_problem_step,
)
from shared.contract.problem_checks import responsible_for_subject
from shared.contract.signing import sign
from shared.domain.catalog import Plan
from shared.domain.timebase import CST


@dataclass(frozen=True)
class ProblemStory:
    name: str  # seeds the problem id
    subject: str  # a target (or deliverable, indicator, task) the raiser is responsible for
    raiser: str
    raised_on: date  # the raise goes out on this workday (or the next)
    summary: str
    needs: str
    from_agencies: tuple[str, ...]
    acknowledged_after: int  # workdays after the raise the coordinator acknowledges it
    comment: str | None = None  # the coordinator's, a workday after the acknowledgement
    resolved_after: int | None = None  # workdays after the raise; None: left open
    resolution: str | None = None


PROBLEM_STORIES: Final = (
    ProblemStory(
        name="5g-sites",
        subject="infra.5g-coverage",
        raiser="carrier.china-mobile",
        raised_on=date(2022, 3, 14),
        summary="部分乡镇5G站址审批缓慢，基站无法按期开通",
        needs="协调自然资源部门加快站址审批，开放公共建筑屋顶资源",
        from_agencies=("qy.natural-resources", "qy.miit"),
        acknowledged_after=2,
        comment="已提请市自然资源局专题研究站址审批",
        resolved_after=8,
        resolution="站址审批绿色通道已开通，积压站址已批复",
    ),
    ProblemStory(
        name="agri-parks-5g",
        subject="agri.5g-smart-agri-parks",
        raiser="qy.agriculture",
        raised_on=date(2022, 9, 13),
        summary="部分农业园区5G信号覆盖不足，智慧农业应用无法部署",
        needs="电信运营商加快农业园区5G基站建设",
        from_agencies=("carriers",),
        acknowledged_after=3,
    ),
)


@dataclass(frozen=True)
class ProblemItem:
    at: datetime
    event: ProblemEvent
    label: str
    agency: str
    subject: str


def problem_id(story: ProblemStory, seed: int) -> str:
    digest = hashlib.sha256(f"planwatch-demo-problem:{seed}:{story.name}".encode()).hexdigest()
    return f"{story.raised_on:%Y%m%d}-{digest[:12]}"


def _fits(plan: Plan, story: ProblemStory) -> bool:
    return (
        story.raiser in responsible_for_subject(plan, story.subject)
        and plan.coordinator in plan.agencies
        and all(a in plan.agencies or a in plan.groups for a in story.from_agencies)
    )


def problem_items(
    plan: Plan,
    seed: int,
    keys: Mapping[str, DemoKey],
    *,
    until: datetime,
    stories: Sequence[ProblemStory] = PROBLEM_STORIES,
) -> list[ProblemItem]:
    """The stories' signed events sent before `until`, in time order."""
    rng = random.Random(f"planwatch-demo-problems:{seed}")
    coordinator = plan.coordinator
    items: list[ProblemItem] = []

    def at(day: date, after: int) -> datetime:
        minutes = rng.randint(30, 7 * 60)  # 09:30 to 16:00
        start = datetime.combine(workdays_from(day, after), time(9, 0), CST)
        return start + timedelta(minutes=minutes, seconds=rng.randint(0, 59))

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def add(when: datetime, event: ProblemEvent, agency: str, label: str) -> None:
        key = keys[agency]
        signed = sign(event, key.private_key, key.key_id)
        items.append(ProblemItem(when, signed, label, agency, story.subject))

    for story in stories:
        if not _fits(plan, story):
            continue
        pid = problem_id(story, seed)
        common = {"plan": plan.id, "subject": story.subject, "problem_id": pid}
        raised = at(story.raised_on, 0)
        event: ProblemEvent = new_problem_raised(
            agency=story.raiser,
            summary=story.summary,
            needs=story.needs,
            from_agencies=story.from_agencies,
            time=raised,
            event_id=new_id(),
            **common,
        )
        add(raised, event, story.raiser, f"{story.raiser} raises a problem on {story.subject}")
        steps: list[tuple[EventType, int, str | None]] = [
            (EventType.PROBLEM_ACKNOWLEDGED, story.acknowledged_after, None)
        ]
        if story.comment is not None:
            steps.append((EventType.PROBLEM_COMMENTED, story.acknowledged_after + 1, story.comment))
        if story.resolved_after is not None:
            steps.append((EventType.PROBLEM_RESOLVED, story.resolved_after, story.resolution))
        for kind, after, note in steps:
            when = at(story.raised_on, after)
            step = new_problem_step(
                kind, agency=coordinator, time=when, note=note, event_id=new_id(), **common
            )
            add(when, step, coordinator, f"{coordinator} {kind.value.split('.')[3]} {pid}")
    return sorted((i for i in items if i.at <= until), key=lambda i: (i.at, i.event.envelope.id))
