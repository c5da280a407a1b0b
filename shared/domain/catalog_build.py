"""Build and validate the typed catalog from plain documents (as parsed from YAML).

Pure: the caller reads the files (`shared.catalog.load_catalog`). Every error is a
`CatalogError` whose message starts with the plan and names the broken entry, e.g.
``plan qingyuan-digital-economy-2021: target gov.x: field cadence: Input should be ...``.
The format is described in docs/catalog.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.domain.catalog import (
    Agency,
    Area,
    BreakdownUnit,
    Catalog,
    Commitment,
    Comparator,
    Deliverable,
    Group,
    Indicator,
    Kind,
    Plan,
    Point,
    Target,
    Task,
)

__all__ = ["CatalogError", "build_catalog", "build_plan"]

_SECTIONS = (
    "plan",
    "agencies",
    "groups",
    "areas",
    "tasks",
    "targets",
    "breakdowns",
    "commitments",
    "indicators",
)
_INDICATOR_KINDS = frozenset({Kind.COUNT, Kind.AMOUNT})
_ALLOWED_COMPARATORS: Mapping[Kind, frozenset[Comparator]] = {
    Kind.SHARE: frozenset({Comparator.GE, Comparator.GT}),
    Kind.COUNT: frozenset({Comparator.GE, Comparator.GT}),
    Kind.RANK: frozenset({Comparator.LE}),
    Kind.MILESTONE: frozenset({Comparator.GE}),
    Kind.AMOUNT: frozenset(),  # indicators only: they have no target to compare with
}

_BREAKDOWN_KINDS = ("county", "park")

_M = TypeVar("_M", bound=BaseModel)


class CatalogError(ValueError):
    """A catalog document is malformed or inconsistent; the message names plan and entry."""


def area_of(task_id: str) -> str:
    """The area a task belongs to: the first two parts of its id (2.4.1.1 -> 2.4, 3.6 -> 3.6)."""
    return ".".join(task_id.split(".")[:2])


def build_catalog(documents: Iterable[Mapping[str, Any]]) -> Catalog:
    """Build every plan; plan ids must be unique, other ids are scoped by plan."""
    plans: dict[str, Plan] = {}
    for document in documents:
        plan = build_plan(document)
        if plan.id in plans:
            raise CatalogError(f"plan {plan.id}: duplicate plan id")
        plans[plan.id] = plan
    return Catalog(plans=plans)


def build_plan(document: Mapping[str, Any]) -> Plan:
    """Build one plan from its document, validating every cross reference."""
    return _PlanBuilder(document).build()


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        parts.append(f"field {loc}: {error['msg']}" if loc else str(error["msg"]))
    return "; ".join(parts)


def _is_whole(value: float) -> bool:
    return float(value).is_integer()


class _PlanBuilder:
    def __init__(self, document: Mapping[str, Any]) -> None:
        if not isinstance(document, Mapping):
            raise CatalogError(
                f"plan ?: the document must be a mapping, not {type(document).__name__}"
            )
        self.document = document
        meta = document.get("plan")
        raw_id = meta.get("id") if isinstance(meta, Mapping) else None
        self.plan_id = raw_id if isinstance(raw_id, str) and raw_id else "?"
        # Filled in by build(), section by section, for the checks that follow.
        self.issued = date.min
        self.horizon_end = date.max
        self.agencies: dict[str, Agency] = {}
        self.groups: dict[str, Group] = {}
        self.tasks: dict[str, Task] = {}

    # -- helpers ---------------------------------------------------------------------------

    def error(self, where: str, message: str) -> CatalogError:
        prefix = f"plan {self.plan_id}: " + (f"{where}: " if where else "")
        return CatalogError(prefix + message)

    def entries(self, section: str, *, required: bool = True) -> Sequence[Mapping[str, Any]]:
        raw = self.document.get(section)
        if raw is None:
            if required:
                raise self.error("", f"missing section {section!r}")
            return ()
        if not isinstance(raw, list):
            raise self.error("", f"section {section!r} must be a list")
        for index, entry in enumerate(raw):
            if not isinstance(entry, Mapping):
                raise self.error(f"{section} #{index}", "each entry must be a mapping")
        return raw

    def model(self, cls: type[_M], where: str, data: Mapping[str, Any]) -> _M:
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise self.error(where, _describe(exc)) from None

    @staticmethod
    def label(kind: str, entry: Mapping[str, Any], index: int) -> str:
        entry_id = entry.get("id")
        return f"{kind} {entry_id}" if isinstance(entry_id, str) else f"{kind} #{index}"

    def check_weight(self, where: str, weight: float) -> None:
        if weight <= 0:
            raise self.error(where, f"weight must be > 0, got {weight}")

    # -- sections --------------------------------------------------------------------------

    def build(self) -> Plan:
        unknown = sorted(set(self.document) - set(_SECTIONS))
        if unknown:
            raise self.error("", f"unknown section(s) {', '.join(map(str, unknown))}")
        meta = self.document.get("plan")
        if not isinstance(meta, Mapping):
            raise self.error("", "missing section 'plan' (a mapping with id, title_zh, ...)")
        # Validate the metadata alone first, so its errors are not mixed with the entries'.
        misplaced = sorted(set(meta) & set(_SECTIONS))
        if misplaced:
            raise self.error("plan", f"{', '.join(misplaced)} belong at the top level, not in plan")
        empty: dict[str, Any] = {section: {} for section in _SECTIONS[1:]}
        header = self.model(Plan, "plan", {**meta, **empty})
        if header.horizon_end < header.issued:
            raise self.error("plan", "horizon_end is before the issue date")

        self.issued = header.issued
        self.horizon_end = header.horizon_end
        self.groups, self.agencies = self.build_groups(self.build_agencies())
        if header.coordinator not in self.agencies:
            raise self.error("plan", f"coordinator: unknown agency {header.coordinator!r}")
        areas = self.build_areas()
        self.tasks = self.build_tasks(areas)
        targets = self.build_targets()
        commitments, deliverables = self.build_commitments()
        indicators = self.build_indicators()
        self.check_unique_subjects(targets, deliverables, indicators)
        return header.model_copy(
            update={
                "agencies": self.agencies,
                "groups": self.groups,
                "areas": areas,
                "tasks": self.tasks,
                "targets": targets,
                "breakdowns": self.build_breakdowns(),
                "commitments": commitments,
                "deliverables": deliverables,
                "indicators": indicators,
            }
        )

    def check_unique_subjects(
        self,
        targets: Mapping[str, Target],
        deliverables: Mapping[str, Deliverable],
        indicators: Mapping[str, Indicator],
    ) -> None:
        """A report names its subject by id alone: targets, deliverables and indicators share
        one namespace."""
        seen: dict[str, str] = {}
        for kind, ids in (
            ("target", targets),
            ("deliverable", deliverables),
            ("indicator", indicators),
        ):
            for subject_id in ids:
                if subject_id in seen:
                    raise self.error(
                        f"{kind} {subject_id}", f"id is already a {seen[subject_id]}'s"
                    )
                seen[subject_id] = kind

    def build_commitments(self) -> tuple[dict[str, Commitment], dict[str, Deliverable]]:
        commitments: dict[str, Commitment] = {}
        deliverables: dict[str, Deliverable] = {}
        for index, entry in enumerate(self.entries("commitments", required=False)):
            where = self.label("commitment", entry, index)
            data = dict(entry)
            if data.setdefault("plan", self.plan_id) != self.plan_id:
                raise self.error(where, f"plan is {data['plan']!r}, not this plan")
            commitment = self.model(Commitment, where, data)
            if commitment.id in commitments:
                raise self.error(where, "duplicate commitment id")
            task = self.tasks.get(commitment.task)
            if task is None:
                raise self.error(where, f"task {commitment.task!r} is not listed under tasks")
            self.check_subject_owners(where, commitment, task)
            if commitment.deadline is not None and commitment.deadline < self.issued:
                raise self.error(where, f"deadline {commitment.deadline} is before the issue date")
            if not commitment.deliverables:
                raise self.error(where, "a commitment needs at least one deliverable")
            for item in commitment.deliverables:
                if item.id in deliverables:
                    raise self.error(where, f"duplicate deliverable id {item.id!r}")
                deliverables[item.id] = Deliverable(
                    id=item.id,
                    plan=self.plan_id,
                    commitment=commitment.id,
                    task=commitment.task,
                    name_zh=item.name_zh,
                    name_en=item.name_en,
                    lead=commitment.lead,
                    co=commitment.co,
                    reporters=commitment.reporters,
                    deadline=commitment.deadline,
                )
            commitments[commitment.id] = commitment
        return commitments, deliverables

    def build_indicators(self) -> dict[str, Indicator]:
        indicators: dict[str, Indicator] = {}
        for index, entry in enumerate(self.entries("indicators", required=False)):
            where = self.label("indicator", entry, index)
            data = dict(entry)
            if data.setdefault("plan", self.plan_id) != self.plan_id:
                raise self.error(where, f"plan is {data['plan']!r}, not this plan")
            indicator = self.model(Indicator, where, data)
            if indicator.id in indicators:
                raise self.error(where, "duplicate indicator id")
            if indicator.kind not in _INDICATOR_KINDS:
                raise self.error(where, "an indicator's kind is count or amount")
            task = self.tasks.get(indicator.task)
            if task is None:
                raise self.error(where, f"task {indicator.task!r} is not listed under tasks")
            self.check_subject_owners(where, indicator, task)
            indicators[indicator.id] = indicator
        return indicators

    def build_breakdowns(self) -> dict[str, BreakdownUnit]:
        units: dict[str, BreakdownUnit] = {}
        for index, entry in enumerate(self.entries("breakdowns", required=False)):
            where = self.label("breakdown", entry, index)
            unit = self.model(BreakdownUnit, where, entry)
            if unit.id in units:
                raise self.error(where, "duplicate breakdown id")
            if unit.kind not in _BREAKDOWN_KINDS:
                raise self.error(where, f"kind must be one of {', '.join(_BREAKDOWN_KINDS)}")
            units[unit.id] = unit
        return units

    def build_agencies(self) -> dict[str, Agency]:
        agencies: dict[str, Agency] = {}
        for index, entry in enumerate(self.entries("agencies")):
            where = self.label("agency", entry, index)
            agency = self.model(Agency, where, entry)
            if agency.id in agencies:
                raise self.error(where, "duplicate agency id")
            agencies[agency.id] = agency
        return agencies

    def build_groups(
        self, agencies: dict[str, Agency]
    ) -> tuple[dict[str, Group], dict[str, Agency]]:
        """Groups list their members; each member's `member_of` is filled in (or checked)."""
        groups: dict[str, Group] = {}
        group_of: dict[str, str] = {}
        for index, entry in enumerate(self.entries("groups", required=False)):
            where = self.label("group", entry, index)
            group = self.model(Group, where, entry)
            if group.id in groups:
                raise self.error(where, "duplicate group id")
            if group.id in agencies:
                raise self.error(where, "id is already an agency's")
            if not group.members:
                raise self.error(where, "a group needs at least one member")
            for member in group.members:
                if member not in agencies:
                    raise self.error(where, f"member: unknown agency {member!r}")
                if member in group_of:
                    raise self.error(
                        where, f"member {member} is already in group {group_of[member]}"
                    )
                group_of[member] = group.id
            groups[group.id] = group

        completed: dict[str, Agency] = {}
        for agency in agencies.values():
            listed = group_of.get(agency.id)
            if agency.member_of is not None and agency.member_of not in groups:
                raise self.error(
                    f"agency {agency.id}", f"member_of: unknown group {agency.member_of!r}"
                )
            if agency.member_of is not None and agency.member_of != listed:
                raise self.error(
                    f"agency {agency.id}",
                    f"member_of is {agency.member_of} but group {agency.member_of} "
                    "does not list it as a member",
                )
            completed[agency.id] = (
                agency.model_copy(update={"member_of": listed}) if listed else agency
            )
        return groups, completed

    def build_areas(self) -> dict[str, Area]:
        areas: dict[str, Area] = {}
        for index, entry in enumerate(self.entries("areas")):
            where = self.label("area", entry, index)
            area = self.model(Area, where, entry)
            if area.id in areas:
                raise self.error(where, "duplicate area id")
            areas[area.id] = area
        return areas

    def members(self, party: str) -> tuple[str, ...]:
        group = self.groups.get(party)
        return group.members if group else (party,)

    def check_party(self, where: str, role: str, party: str) -> None:
        if party not in self.agencies and party not in self.groups:
            raise self.error(where, f"{role}: unknown agency or group {party!r}")

    def build_tasks(self, areas: Mapping[str, Area]) -> dict[str, Task]:
        tasks: dict[str, Task] = {}
        for index, entry in enumerate(self.entries("tasks")):
            where = self.label("task", entry, index)
            data = dict(entry)
            if "area" not in data and isinstance(data.get("id"), str):
                data["area"] = area_of(data["id"])
            task = self.model(Task, where, data)
            if task.id in tasks:
                raise self.error(where, "duplicate task id")
            if task.area not in areas:
                raise self.error(where, f"area {task.area!r} is not listed under areas")
            if not task.responsible:
                raise self.error(where, "responsible must name at least one agency or group")
            if len(set(task.responsible)) != len(task.responsible):
                raise self.error(where, "responsible names a party twice")
            for party in task.responsible:
                self.check_party(where, "responsible", party)
            tasks[task.id] = task
        return tasks

    def build_targets(self) -> dict[str, Target]:
        targets: dict[str, Target] = {}
        for index, entry in enumerate(self.entries("targets")):
            where = self.label("target", entry, index)
            data = dict(entry)
            if data.setdefault("plan", self.plan_id) != self.plan_id:
                raise self.error(where, f"plan is {data['plan']!r}, not this plan")
            if "pace_end" in data:
                raise self.error(where, "pace_end is derived (the deadline, else the horizon)")
            target = self.model(Target, where, data)
            target = target.model_copy(update={"pace_end": target.deadline or self.horizon_end})
            if target.id in targets:
                raise self.error(where, "duplicate target id")
            self.check_target(where, target)
            targets[target.id] = target
        return targets

    # -- one target ------------------------------------------------------------------------

    def check_target(self, where: str, target: Target) -> None:
        task = self.tasks.get(target.task)
        if task is None:
            raise self.error(where, f"task {target.task!r} is not listed under tasks")
        self.check_owners(where, target, task)
        if target.kind is Kind.AMOUNT:
            raise self.error(where, "kind amount is for indicators only")
        allowed = _ALLOWED_COMPARATORS[target.kind]
        if target.comparator not in allowed:
            raise self.error(
                where,
                f"comparator {target.comparator.value!r} does not fit kind {target.kind.value} "
                f"(use {' or '.join(sorted(c.value for c in allowed))})",
            )
        self.check_kind(where, target)
        if target.deadline is not None and target.deadline < self.issued:
            raise self.error(
                where, f"deadline {target.deadline} is before the plan's issue date {self.issued}"
            )
        self.check_weight(where, target.weight)
        self.check_series(where, target)

    def check_owners(self, where: str, target: Target, task: Task) -> None:
        self.check_subject_owners(where, target, task)

    def check_subject_owners(
        self, where: str, target: Target | Commitment | Indicator, task: Task
    ) -> None:
        """The lead is one agency; lead and co must be among the task's responsible parties
        (a co-owner may be one member of a responsible group: 4G is not every carrier's)."""
        if target.lead in self.groups:
            raise self.error(where, f"lead {target.lead!r} is a group; the lead must be one agency")
        self.check_party(where, "lead", target.lead)
        if len(set(target.co)) != len(target.co) or target.lead in target.co:
            raise self.error(where, "co names a party twice or repeats the lead")
        for party in target.co:
            self.check_party(where, "co", party)
        within = set(task.responsible) | {
            m for p in task.responsible if p in self.groups for m in self.groups[p].members
        }
        for role, party in [("lead", target.lead), *(("co", p) for p in target.co)]:
            if party not in within:
                raise self.error(
                    where, f"{role} {party} is not among the responsible of task {task.id}"
                )
        owners = {target.lead} | {m for p in target.co for m in self.members(p)}
        if len(set(target.reporters)) != len(target.reporters):
            raise self.error(where, "reporters names an agency twice")
        for reporter in target.reporters:
            if reporter in self.groups:
                raise self.error(where, f"reporter {reporter!r} is a group; name its agencies")
            if reporter not in owners:
                raise self.error(where, f"reporter {reporter!r} is neither the lead nor a co-owner")

    def check_kind(self, where: str, target: Target) -> None:
        if target.kind is not Kind.RANK and target.rank_of is not None:
            raise self.error(where, "rank_of is for rank targets only")
        if target.kind is not Kind.MILESTONE and target.stages:
            raise self.error(where, "stages are for milestone targets only")
        if target.kind is Kind.RANK:
            if target.rank_of is None:
                raise self.error(where, "a rank target needs rank_of")
            if target.rank_of < 1:
                raise self.error(where, f"rank_of must be >= 1, got {target.rank_of}")
        if target.kind is Kind.MILESTONE:
            if len(target.stages) < 2:
                raise self.error(where, "a milestone needs at least 2 stages")
            seen: set[str] = set()
            for stage in target.stages:
                if stage.id in seen:
                    raise self.error(where, f"duplicate stage id {stage.id!r}")
                seen.add(stage.id)
            last = len(target.stages) - 1
            if target.target != last:
                raise self.error(
                    where,
                    f"target must be the index of the last stage ({last}), got {target.target:g}",
                )
        problem = self.value_problem(target, target.target)
        if problem:
            raise self.error(where, f"target {problem}")

    @staticmethod
    def value_problem(target: Target, value: float) -> str | None:
        """Why `value` cannot be a value of this target, or None if it can."""
        if target.kind is Kind.SHARE and not 0 <= value <= 100:
            return f"{value:g} is outside 0..100 (a share is a percent)"
        if target.kind is Kind.COUNT and (value < 0 or not _is_whole(value)):
            return f"{value:g} is not a whole number >= 0"
        if target.kind is Kind.RANK:
            rank_of = target.rank_of or 0
            if not _is_whole(value) or not 1 <= value <= rank_of:
                return f"{value:g} is not a whole rank in 1..{rank_of}"
        if target.kind is Kind.MILESTONE:
            last = len(target.stages) - 1
            if not _is_whole(value) or not 0 <= value <= last:
                return f"{value:g} is not a stage index in 0..{last}"
        return None

    def check_series(self, where: str, target: Target) -> None:
        """Baseline and trajectory: valid values, dated in order within baseline..deadline."""
        start = self.issued
        if target.baseline is not None:
            self.check_point(where, "baseline", target, target.baseline)
            if target.baseline.as_of > target.pace_until:
                raise self.error(where, "baseline: as_of is after the deadline")
            start = target.baseline.as_of
        previous: date | None = None
        for index, point in enumerate(target.trajectory):
            label = f"trajectory #{index}"
            self.check_point(where, label, target, point)
            if previous is not None and point.as_of <= previous:
                raise self.error(where, f"{label}: as_of {point.as_of} is not after {previous}")
            if not start <= point.as_of <= target.pace_until:
                raise self.error(
                    where,
                    f"{label}: as_of {point.as_of} is outside {start}..{target.pace_until} "
                    "(baseline, or the plan's issue date, to the deadline)",
                )
            previous = point.as_of

    def check_point(self, where: str, label: str, target: Target, point: Point) -> None:
        problem = self.value_problem(target, point.value)
        if problem:
            raise self.error(where, f"{label}: value {problem}")
