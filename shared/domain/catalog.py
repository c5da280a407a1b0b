"""The plan catalog as typed, immutable models: plans, agencies, groups, tasks, areas, targets.

Pure data: no I/O. `shared.catalog` reads the YAML files and calls `build_catalog`
(in `shared.domain.catalog_build`), which validates cross references and names the broken entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field


class Kind(StrEnum):
    """What a target measures; it fixes the unit of every reported value."""

    SHARE = "share"  # percent, 0..100
    COUNT = "count"  # a whole number >= 0
    RANK = "rank"  # 1 = best, up to `rank_of`
    MILESTONE = "milestone"  # the index of an ordered stage


class Comparator(StrEnum):
    GE = ">="
    GT = ">"  # strict: the plan says 超过 (more than)
    LE = "<="  # ranks: 1 is best


class Cadence(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


UNIT_BY_KIND: Mapping[Kind, str] = MappingProxyType(
    {Kind.SHARE: "percent", Kind.COUNT: "count", Kind.RANK: "rank", Kind.MILESTONE: "stage"}
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


class Target(_Frozen):
    id: str
    plan: str
    task: str
    kind: Kind
    comparator: Comparator
    # The value to reach. For a milestone it is the index of the last stage (len(stages) - 1).
    target: float
    deadline: date
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
    def unit(self) -> str:
        return UNIT_BY_KIND[self.kind]

    @property
    def headline_reporters(self) -> tuple[str, ...]:
        """Who reports the headline series (v1.1): the named reporters, else the lead."""
        return self.reporters or (self.lead,)

    @property
    def direction(self) -> int:
        """+1 when more is better (>=, >), -1 when less is better (<=)."""
        return -1 if self.comparator is Comparator.LE else 1

    def stage_index(self, stage_id: str) -> int | None:
        for index, stage in enumerate(self.stages):
            if stage.id == stage_id:
                return index
        return None


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

    def members(self, party: str) -> frozenset[str]:
        """The agencies that a responsible party (an agency or a group id) stands for."""
        group = self.groups.get(party)
        return frozenset(group.members) if group else frozenset({party})

    def co_owners(self, target_id: str) -> frozenset[str]:
        target = self.targets[target_id]
        owners: set[str] = set()
        for party in target.co:
            owners |= self.members(party)
        return frozenset(owners - {target.lead})

    def responsible_for(self, target_id: str) -> frozenset[str]:
        """Agencies that may report on a target: the lead, co-owners and their groups' members."""
        return self.co_owners(target_id) | {self.targets[target_id].lead}

    def reports_headline(self, target_id: str, agency: str) -> bool:
        """Whether `agency` is one of the target's headline reporters (method v1.1)."""
        return agency in self.targets[target_id].headline_reporters

    def targets_of_task(self, task_id: str) -> tuple[Target, ...]:
        return tuple(t for t in self.targets.values() if t.task == task_id)

    def untracked_tasks(self) -> tuple[str, ...]:
        """Tasks with no target at all, sorted: commitments shown, never silently dropped."""
        tracked = {t.task for t in self.targets.values()}
        return tuple(sorted(task_id for task_id in self.tasks if task_id not in tracked))


class Catalog(_Frozen):
    plans: Mapping[str, Plan] = Field(default_factory=dict)

    def plan(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise KeyError(f"unknown plan {plan_id!r}") from None
