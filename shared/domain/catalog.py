"""The plan catalog as typed, immutable models: plans, agencies, groups, tasks, areas, targets.

Pure data: no I/O. `shared.catalog` reads the YAML files and calls `build_catalog`
(in `shared.domain.catalog_build`), which validates cross references and names the broken entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field


class Kind(StrEnum):
    """What a target measures; it fixes the unit of every reported value."""

    SHARE = "share"  # percent, 0..100
    COUNT = "count"  # a whole number >= 0
    RANK = "rank"  # 1 = best, up to `rank_of`
    MILESTONE = "milestone"  # the index of an ordered stage
    AMOUNT = "amount"  # indicators only: a quantity in the indicator's own unit (e.g. 亿元)


class Comparator(StrEnum):
    GE = ">="
    GT = ">"  # strict: the plan says 超过 (more than)
    LE = "<="  # ranks: 1 is best


class Cadence(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


UNIT_BY_KIND: Mapping[Kind, str] = MappingProxyType(
    {
        Kind.SHARE: "percent",
        Kind.COUNT: "count",
        Kind.RANK: "rank",
        Kind.MILESTONE: "stage",
        Kind.AMOUNT: "amount",
    }
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Agency(_Frozen):
    id: str
    name_zh: str
    name_en: str
    # An agency that stands for several units (qy.gov-units: 市各有关单位); it reports as itself.
    is_group: bool = False
    member_of: str | None = None


class Group(_Frozen):
    """A named set of agencies: naming a group makes every member responsible."""

    id: str
    name_zh: str
    name_en: str
    members: tuple[str, ...]


class Area(_Frozen):
    id: str  # the first two parts of a task id: 2.4.1.1 is in area 2.4; 3.6 is an area of its own
    name_zh: str
    name_en: str


class Task(_Frozen):
    id: str
    area: str
    name_zh: str
    name_en: str
    responsible: tuple[str, ...]  # agency or group ids, as the plan lists its 责任单位


class BreakdownUnit(_Frozen):
    """A unit a figure can be broken down by (method v1.1 `scope`): a county-level division or
    a park. Scoped reports are shown beside the headline and never enter its score."""

    id: str
    name_zh: str
    name_en: str
    kind: str  # "county" or "park"


class Stage(_Frozen):
    id: str
    name_zh: str
    name_en: str


class Point(_Frozen):
    """A dated value: a catalog baseline or an interim trajectory point."""

    as_of: date
    value: float


class _Reported:
    """What every reportable subject (target, deliverable, indicator) answers alike."""

    if TYPE_CHECKING:  # the fields, declared by each pydantic model
        kind: Kind
        lead: str
        reporters: tuple[str, ...]
        stages: tuple[Stage, ...]

    @property
    def unit(self) -> str:
        return UNIT_BY_KIND[self.kind]

    @property
    def headline_reporters(self) -> tuple[str, ...]:
        """Who reports the headline series (v1.1): the named reporters, else the lead."""
        return self.reporters or (self.lead,)

    def stage_index(self, stage_id: str) -> int | None:
        for index, stage in enumerate(self.stages):
            if stage.id == stage_id:
                return index
        return None


class Target(_Frozen, _Reported):
    id: str
    plan: str
    task: str
    kind: Kind
    comparator: Comparator
    # The value to reach. For a milestone it is the index of the last stage (len(stages) - 1).
    target: float
    # None: the plan sets no date for this clause. Such a target is paced against the plan's
    # horizon (`pace_end`) but has no deadline: never MISSED, no `deadline_near`.
    deadline: date | None
    # The date the pace runs to: the deadline, else the plan's horizon (set by the builder).
    pace_end: date | None = None
    lead: str
    co: tuple[str, ...] = ()
    # Method v1.1: the agencies whose reports make the headline series; none named, the lead.
    reporters: tuple[str, ...] = ()
    cadence: Cadence
    name_en: str
    metric_zh: str
    source_zh: str = ""
    interpretation: str = ""
    rank_of: int | None = None  # ranks only: how many ranked (rank N is the worst)
    stages: tuple[Stage, ...] = ()  # milestones only, ordered; stage 0 is "not started"
    baseline: Point | None = None
    trajectory: tuple[Point, ...] = ()
    weight: float = 1.0

    @property
    def pace_until(self) -> date:
        """The end of the expected path: the deadline, or the plan's horizon when undated."""
        end = self.deadline or self.pace_end
        if end is None:
            raise ValueError(f"target {self.id}: no deadline and no pace_end (build the plan)")
        return end

    @property
    def direction(self) -> int:
        """+1 when more is better (>=, >), -1 when less is better (<=)."""
        return -1 if self.comparator is Comparator.LE else 1


DELIVERABLE_STAGES: tuple[Stage, ...] = (
    Stage(id="not-done", name_zh="未完成", name_en="Not done"),
    Stage(id="done", name_zh="已完成", name_en="Done"),
)


class DeliverableEntry(_Frozen):
    """One item of a commitment's checklist, as the catalog file lists it."""

    id: str
    name_zh: str
    name_en: str


class Deliverable(_Frozen, _Reported):
    """A checklist item an agency reports done (stage `done`) or not (`not-done`), with its
    evidence. It carries its commitment's owners and date. Tracked, never scored."""

    id: str
    plan: str
    commitment: str
    task: str
    name_zh: str
    name_en: str
    lead: str
    co: tuple[str, ...] = ()
    reporters: tuple[str, ...] = ()
    deadline: date | None = None
    kind: Kind = Kind.MILESTONE
    stages: tuple[Stage, ...] = DELIVERABLE_STAGES
    rank_of: None = None


class Commitment(_Frozen):
    """A commitment of the plan without a number: a checklist of deliverables, each done or
    not, with evidence. `deadline` None: the plan sets no date ("no date in the plan")."""

    id: str
    plan: str
    task: str
    name_zh: str
    name_en: str
    source_zh: str
    lead: str
    co: tuple[str, ...] = ()
    reporters: tuple[str, ...] = ()
    deadline: date | None
    interpretation: str = ""
    deliverables: tuple[DeliverableEntry, ...]


class Indicator(_Frozen, _Reported):
    """A monitoring indicator without a target (clause 3.6's statistics): its reports are
    shown with their trend, never scored."""

    id: str
    plan: str
    task: str
    kind: Kind  # count or amount
    name_en: str
    metric_zh: str
    unit_zh: str  # how people read the number: 亿元, 个, 家
    unit_en: str
    lead: str
    co: tuple[str, ...] = ()
    reporters: tuple[str, ...] = ()
    cadence: Cadence
    source_zh: str = ""
    interpretation: str = ""
    stages: tuple[Stage, ...] = ()
    rank_of: None = None


# What an agency can report on: a scored target, a deliverable of a commitment, an indicator.
Subject = Target | Deliverable | Indicator


class Plan(_Frozen):
    id: str
    title_zh: str
    title_en: str
    doc_no: str
    issued: date
    horizon_end: date
    coordinator: str
    agencies: Mapping[str, Agency]
    groups: Mapping[str, Group]
    areas: Mapping[str, Area]
    tasks: Mapping[str, Task]
    targets: Mapping[str, Target]
    breakdowns: Mapping[str, BreakdownUnit] = Field(default_factory=dict)
    commitments: Mapping[str, Commitment] = Field(default_factory=dict)
    indicators: Mapping[str, Indicator] = Field(default_factory=dict)
    deliverables: Mapping[str, Deliverable] = Field(default_factory=dict)  # by id, built

    def subject(self, subject_id: str) -> Subject | None:
        """The target, deliverable or indicator an event names (ids are unique across them)."""
        return (
            self.targets.get(subject_id)
            or self.deliverables.get(subject_id)
            or self.indicators.get(subject_id)
        )

    def is_tracked_only(self, subject_id: str) -> bool:
        """A deliverable or an indicator: reported and shown, never scored."""
        return subject_id in self.deliverables or subject_id in self.indicators

    def members(self, party: str) -> frozenset[str]:
        """The agencies that a responsible party (an agency or a group id) stands for."""
        group = self.groups.get(party)
        return frozenset(group.members) if group else frozenset({party})

    def _subject(self, subject_id: str) -> Subject:
        subject = self.subject(subject_id)
        if subject is None:
            raise KeyError(subject_id)
        return subject

    def co_owners(self, target_id: str) -> frozenset[str]:
        """The co-owners of a target, deliverable or indicator (group members expanded)."""
        subject = self._subject(target_id)
        owners: set[str] = set()
        for party in subject.co:
            owners |= self.members(party)
        return frozenset(owners - {subject.lead})

    def responsible_for(self, target_id: str) -> frozenset[str]:
        """Agencies that may report on a subject: the lead, co-owners and their groups' members."""
        return self.co_owners(target_id) | {self._subject(target_id).lead}

    def reports_headline(self, target_id: str, agency: str) -> bool:
        """Whether `agency` is one of the subject's headline reporters (method v1.1)."""
        return agency in self._subject(target_id).headline_reporters

    def targets_of_task(self, task_id: str) -> tuple[Target, ...]:
        return tuple(t for t in self.targets.values() if t.task == task_id)

    def scored_tasks(self) -> tuple[str, ...]:
        """Tasks with at least one scored target, sorted."""
        return tuple(sorted({t.task for t in self.targets.values()}))

    def tracked_tasks(self) -> tuple[str, ...]:
        """Tasks with a target, a commitment or an indicator, sorted."""
        tracked = {t.task for t in self.targets.values()}
        tracked |= {c.task for c in self.commitments.values()}
        tracked |= {i.task for i in self.indicators.values()}
        return tuple(sorted(tracked))

    def untracked_tasks(self) -> tuple[str, ...]:
        """Tasks with nothing to track, sorted: shown with their reason, never dropped."""
        tracked = set(self.tracked_tasks())
        return tuple(sorted(task_id for task_id in self.tasks if task_id not in tracked))


class Catalog(_Frozen):
    plans: Mapping[str, Plan] = Field(default_factory=dict)

    def plan(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise KeyError(f"unknown plan {plan_id!r}") from None
