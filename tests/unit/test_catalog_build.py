"""build_plan / build_catalog: each broken document raises a CatalogError naming plan and entry."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from shared.domain.catalog import Kind
from shared.domain.catalog_build import CatalogError, area_of, build_catalog, build_plan

PID = "test-plan"
Doc = dict[str, Any]


def _stages(n: int) -> list[dict[str, str]]:
    return [{"id": f"s{i}", "name_zh": f"阶段{i}", "name_en": f"Stage {i}"} for i in range(n)]


def valid_document() -> Doc:
    """A small plan with one target of every kind, a group and a group-agency."""
    common = {"deadline": date(2022, 12, 31), "lead": "a.lead", "cadence": "quarterly"}
    return {
        "plan": {
            "id": PID,
            "title_zh": "测试方案",
            "title_en": "Test plan",
            "doc_no": "T〔2021〕1号",
            "issued": date(2021, 5, 11),
            "horizon_end": date(2022, 12, 31),
            "coordinator": "a.lead",
        },
        "agencies": [
            {"id": "a.lead", "name_zh": "牵头", "name_en": "Lead"},
            {"id": "a.units", "name_zh": "各单位", "name_en": "Units", "is_group": True},
            {"id": "m.one", "name_zh": "甲", "name_en": "One", "member_of": "g"},
            {"id": "m.two", "name_zh": "乙", "name_en": "Two"},  # member_of filled from the group
        ],
        "groups": [{"id": "g", "name_zh": "组", "name_en": "Group", "members": ["m.one", "m.two"]}],
        "areas": [
            {"id": "1.2", "name_zh": "目标", "name_en": "Goals"},
            {"id": "2.1", "name_zh": "任务", "name_en": "Tasks"},
        ],
        "tasks": [
            {"id": "1.2", "name_zh": "目标", "name_en": "Goals", "responsible": ["a.lead"]},
            {
                "id": "2.1.1",
                "name_zh": "任务",
                "name_en": "Task",
                "responsible": ["a.lead", "g", "a.units"],
            },
        ],
        "targets": [
            {
                "id": "t.share",
                "task": "2.1.1",
                "kind": "share",
                "comparator": ">",
                "target": 70,
                "co": ["g", "a.units"],
                "name_en": "Share",
                "metric_zh": "比例",
                **common,
                "cadence": "monthly",
            },
            {
                "id": "t.count",
                "task": "1.2",
                "kind": "count",
                "comparator": ">=",
                "target": 3,
                "name_en": "Count",
                "metric_zh": "数量",
                **common,
            },
            {
                "id": "t.rank",
                "task": "2.1.1",
                "kind": "rank",
                "comparator": "<=",
                "target": 3,
                "rank_of": 12,
                "name_en": "Rank",
                "metric_zh": "排名",
                **common,
            },
            {
                "id": "t.milestone",
                "task": "2.1.1",
                "kind": "milestone",
                "comparator": ">=",
                "target": 3,
                "stages": _stages(4),
                "name_en": "Milestone",
                "metric_zh": "里程碑",
                **common,
            },
        ],
    }


def _target(doc: Doc, target_id: str) -> dict[str, Any]:
    return next(t for t in doc["targets"] if t["id"] == target_id)


def _task(doc: Doc, task_id: str) -> dict[str, Any]:
    return next(t for t in doc["tasks"] if t["id"] == task_id)


def test_valid_document_builds() -> None:
    plan = build_plan(valid_document())
    assert plan.id == PID
    assert set(plan.targets) == {"t.share", "t.count", "t.rank", "t.milestone"}
    assert plan.agencies["m.two"].member_of == "g"  # derived from the group's member list
    assert plan.tasks["2.1.1"].area == "2.1"  # derived from the id
    assert plan.responsible_for("t.share") == {"a.lead", "m.one", "m.two", "a.units"}
    assert plan.targets["t.milestone"].kind is Kind.MILESTONE
    assert all(t.plan == PID for t in plan.targets.values())


def test_area_of() -> None:
    assert area_of("2.4.1.1") == "2.4"
    assert area_of("3.6") == "3.6"
    assert area_of("1.2") == "1.2"


def test_baseline_and_trajectory_accepted_in_order() -> None:
    doc = valid_document()
    share = _target(doc, "t.share")
    share["baseline"] = {"as_of": date(2021, 6, 30), "value": 40}
    share["trajectory"] = [
        {"as_of": date(2021, 12, 31), "value": 55},
        {"as_of": date(2022, 12, 31), "value": 71},
    ]
    share["weight"] = 2
    target = build_plan(doc).targets["t.share"]
    assert target.baseline is not None and target.baseline.value == 40
    assert [p.value for p in target.trajectory] == [55, 71]
    assert target.weight == 2


Mutation = Callable[[Doc], None]


def _set(path: Callable[[Doc], dict[str, Any]], key: str, value: Any) -> Mutation:
    def mutate(doc: Doc) -> None:
        path(doc)[key] = value

    return mutate


def _share(doc: Doc) -> dict[str, Any]:
    return _target(doc, "t.share")


def _rank(doc: Doc) -> dict[str, Any]:
    return _target(doc, "t.rank")


def _count(doc: Doc) -> dict[str, Any]:
    return _target(doc, "t.count")


def _milestone(doc: Doc) -> dict[str, Any]:
    return _target(doc, "t.milestone")


def _dup_last(section: str) -> Mutation:
    def mutate(doc: Doc) -> None:
        doc[section].append(copy.deepcopy(doc[section][-1]))

    return mutate


def _remove_area(doc: Doc) -> None:
    doc["areas"] = [a for a in doc["areas"] if a["id"] != "2.1"]


def _remove_task(doc: Doc) -> None:
    doc["tasks"] = [t for t in doc["tasks"] if t["id"] != "1.2"]


def _dup_stage(doc: Doc) -> None:
    stages = _milestone(doc)["stages"]
    stages[2] = dict(stages[1])


BROKEN: list[tuple[str, Mutation, str]] = [
    # unknown agency or group
    (
        "unknown-responsible",
        lambda d: _task(d, "2.1.1")["responsible"].append("nobody"),
        r"task 2\.1\.1: responsible: unknown agency or group 'nobody'",
    ),
    ("unknown-lead", _set(_share, "lead", "nobody"), r"target t\.share: lead: unknown agency"),
    ("group-lead", _set(_share, "lead", "g"), r"target t\.share: lead 'g' is a group"),
    ("unknown-co", _set(_share, "co", ["ghost"]), r"target t\.share: co: unknown agency or group"),
    (
        "co-not-responsible",
        _set(_count, "co", ["g"]),
        r"target t\.count: co g is not among the responsible of task 1\.2",
    ),
    (
        "unknown-member",
        lambda d: d["groups"][0]["members"].append("ghost"),
        r"group g: member: unknown agency 'ghost'",
    ),
    (
        "unknown-member-of",
        lambda d: d["agencies"][0].update(member_of="nogroup"),
        r"agency a\.lead: member_of: unknown group 'nogroup'",
    ),
    (
        "member-of-unlisted",
        lambda d: d["groups"][0]["members"].remove("m.one"),
        r"agency m\.one: member_of is g but group g does not list it",
    ),
    (
        "unknown-coordinator",
        lambda d: d["plan"].update(coordinator="ghost"),
        r"plan: coordinator: unknown agency 'ghost'",
    ),
    # duplicates
    ("dup-agency", _dup_last("agencies"), r"agency m\.two: duplicate agency id"),
    ("dup-group", _dup_last("groups"), r"group g: duplicate group id"),
    ("dup-area", _dup_last("areas"), r"area 2\.1: duplicate area id"),
    ("dup-task", _dup_last("tasks"), r"task 2\.1\.1: duplicate task id"),
    ("dup-target", _dup_last("targets"), r"target t\.milestone: duplicate target id"),
    ("dup-stage", _dup_stage, r"target t\.milestone: duplicate stage id 's1'"),
    # missing references
    ("missing-task", _remove_task, r"target t\.count: task '1\.2' is not listed under tasks"),
    ("missing-area", _remove_area, r"task 2\.1\.1: area '2\.1' is not listed under areas"),
    # comparator vs kind
    ("rank-ge", _set(_rank, "comparator", ">="), r"target t\.rank: comparator '>=' does not fit"),
    ("share-le", _set(_share, "comparator", "<="), r"target t\.share: comparator '<='"),
    ("count-le", _set(_count, "comparator", "<="), r"target t\.count: comparator '<='"),
    ("milestone-gt", _set(_milestone, "comparator", ">"), r"target t\.milestone: comparator '>'"),
    # value ranges
    ("share-over-100", _set(_share, "target", 101), r"target t\.share: target 101 is outside 0"),
    ("share-negative", _set(_share, "target", -1), r"target t\.share: target -1 is outside 0"),
    ("rank-zero", _set(_rank, "target", 0), r"target t\.rank: target 0 is not a whole rank"),
    ("rank-beyond", _set(_rank, "target", 13), r"target t\.rank: target 13 .*1\.\.12"),
    ("rank-no-rank-of", _set(_rank, "rank_of", None), r"target t\.rank: a rank target needs"),
    ("rank-of-on-share", _set(_share, "rank_of", 5), r"target t\.share: rank_of is for rank"),
    ("count-fraction", _set(_count, "target", 2.5), r"target t\.count: target 2\.5 is not a whole"),
    # milestones
    (
        "milestone-one-stage",
        lambda d: _milestone(d).update(stages=_stages(1), target=0),
        r"target t\.milestone: a milestone needs at least 2 stages",
    ),
    (
        "milestone-not-last",
        _set(_milestone, "target", 2),
        r"target t\.milestone: target must be the index of the last stage \(3\), got 2",
    ),
    ("stages-on-count", _set(_count, "stages", _stages(3)), r"target t\.count: stages are for"),
    # dates
    (
        "deadline-before-issue",
        _set(_count, "deadline", date(2021, 1, 1)),
        r"target t\.count: deadline 2021-01-01 is before the plan's issue date 2021-05-11",
    ),
    (
        "trajectory-out-of-order",
        _set(
            _share,
            "trajectory",
            [{"as_of": date(2022, 6, 30), "value": 60}, {"as_of": date(2022, 3, 31), "value": 50}],
        ),
        r"target t\.share: trajectory #1: as_of 2022-03-31 is not after 2022-06-30",
    ),
    (
        "trajectory-before-baseline",
        lambda d: _share(d).update(
            baseline={"as_of": date(2021, 12, 31), "value": 40},
            trajectory=[{"as_of": date(2021, 9, 30), "value": 45}],
        ),
        r"target t\.share: trajectory #0: as_of 2021-09-30 is outside 2021-12-31\.\.2022-12-31",
    ),
    (
        "trajectory-after-deadline",
        _set(_share, "trajectory", [{"as_of": date(2023, 3, 31), "value": 80}]),
        r"target t\.share: trajectory #0: as_of 2023-03-31 is outside 2021-05-11\.\.2022-12-31",
    ),
    (
        "trajectory-value-out-of-range",
        _set(_share, "trajectory", [{"as_of": date(2022, 3, 31), "value": 120}]),
        r"target t\.share: trajectory #0: value 120 is outside 0\.\.100",
    ),
    # weights
    ("target-weight-zero", _set(_share, "weight", 0), r"target t\.share: weight must be > 0"),
    # v1.1 weighs every level by its targets: a task or area weight would mislead
    (
        "task-weight",
        lambda d: _task(d, "1.2").update(weight=2),
        r"task 1\.2: field weight: Extra inputs are not permitted",
    ),
    (
        "area-weight",
        lambda d: d["areas"][0].update(weight=2),
        r"area 1\.2: field weight: Extra inputs are not permitted",
    ),
    # v1.1 reporters and breakdown units
    (
        "reporter-not-an-owner",
        _set(_share, "reporters", ["ag.nobody"]),
        r"target t\.share: reporter 'ag\.nobody' is neither the lead nor a co-owner",
    ),
    (
        "reporter-twice",
        lambda d: _share(d).update(reporters=[_share(d)["lead"], _share(d)["lead"]]),
        r"target t\.share: reporters names an agency twice",
    ),
    (
        "breakdown-kind",
        lambda d: d.update(
            breakdowns=[{"id": "x", "kind": "town", "name_zh": "x", "name_en": "x"}]
        ),
        r"breakdown x: kind must be one of county, park",
    ),
    (
        "breakdown-twice",
        lambda d: d.update(
            breakdowns=[{"id": "x", "kind": "park", "name_zh": "x", "name_en": "x"}] * 2
        ),
        r"breakdown x: duplicate breakdown id",
    ),
    # pydantic errors, re-raised naming the entry and field
    (
        "bad-cadence",
        _set(_share, "cadence", "weekly"),
        r"target t\.share: field cadence: Input should be 'monthly' or 'quarterly'",
    ),
    ("bad-kind", _set(_count, "kind", "ratio"), r"target t\.count: field kind: Input should be"),
    ("extra-field", _set(_count, "colour", "red"), r"target t\.count: field colour: Extra inputs"),
    (
        "missing-name-en",
        lambda d: d["agencies"][1].pop("name_en"),
        r"agency a\.units: field name_en: Field required",
    ),
    (
        "bad-issue-date",
        lambda d: d["plan"].update(issued="someday"),
        r"plan: field issued: Input should be a valid date",
    ),
    (
        "target-for-other-plan",
        _set(_count, "plan", "other"),
        r"target t\.count: plan is 'other', not this plan",
    ),
    ("unknown-section", lambda d: d.update(extras=[]), r"unknown section\(s\) extras"),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [pytest.param(m, msg, id=name) for name, m, msg in BROKEN]
)
def test_broken_document_names_plan_and_entry(mutate: Mutation, message: str) -> None:
    doc = valid_document()
    mutate(doc)
    with pytest.raises(CatalogError) as caught:
        build_plan(doc)
    text = str(caught.value)
    assert text.startswith(f"plan {PID}: "), text
    assert re.search(message, text), text


def test_catalog_error_is_a_value_error() -> None:
    assert issubclass(CatalogError, ValueError)


def test_build_catalog_rejects_duplicate_plan_but_scopes_ids_by_plan() -> None:
    with pytest.raises(CatalogError, match=rf"^plan {PID}: duplicate plan id"):
        build_catalog([valid_document(), valid_document()])
    other = valid_document()
    other["plan"]["id"] = "other-plan"
    _share(other)["target"] = 90
    catalog = build_catalog([valid_document(), other])
    assert catalog.plan(PID).targets["t.share"].target == 70
    assert catalog.plan("other-plan").targets["t.share"].target == 90
    assert catalog.plan("other-plan").targets["t.share"].plan == "other-plan"


def test_non_mapping_document_is_rejected() -> None:
    with pytest.raises(CatalogError, match="must be a mapping"):
        build_plan([])  # type: ignore[arg-type]
