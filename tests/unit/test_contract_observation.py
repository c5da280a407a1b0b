"""From accepted events to Observations in the target's unit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from shared.contract.events import ProgressReported, Unit, new_report
from shared.contract.observation import to_observation
from shared.contract.reasons import ContractError, Reason
from shared.domain.catalog import Agency, Cadence, Comparator, Kind, Plan, Stage, Target, Task
from tests.unit.contract_fixtures import PLAN, milestone_report, report, retraction


def _target(target_id: str, kind: Kind, stages: tuple[Stage, ...] = ()) -> Target:
    return Target(
        id=target_id,
        plan=PLAN,
        task="2.1.2",
        kind=kind,
        comparator=Comparator.GE,
        target=80 if kind is Kind.SHARE else len(stages) - 1,
        deadline=date(2022, 12, 31),
        lead="qy.gov-data",
        cadence=Cadence.QUARTERLY,
        name_en=target_id,
        metric_zh="指标",
        stages=stages,
    )


def _plan() -> Plan:
    stages = tuple(Stage(id=s, name_zh=s, name_en=s) for s in ("none", "construction", "done"))
    targets = [
        _target("gov.mobile-services", Kind.SHARE),
        _target("industry.tencent-cloud", Kind.MILESTONE, stages),
    ]
    return Plan(
        id=PLAN,
        title_zh="方案",
        title_en="Plan",
        doc_no="清府办〔2021〕16号",
        issued=date(2021, 5, 11),
        horizon_end=date(2022, 12, 31),
        coordinator="qy.miit",
        agencies={"qy.gov-data": Agency(id="qy.gov-data", name_zh="局", name_en="Bureau")},
        groups={},
        areas={},
        tasks={"2.1.2": Task(id="2.1.2", area="2.1", name_zh="t", name_en="t", responsible=())},
        targets={t.id: t for t in targets},
    )


def test_report_of_a_share() -> None:
    observation = to_observation(report(), _plan())
    assert observation.event_id == "3f1c2a9e-0001"
    assert observation.target == "gov.mobile-services"
    assert observation.as_of == date(2022, 3, 31)
    assert observation.reported_at == datetime(
        2022, 4, 6, 9, 30, tzinfo=timezone(timedelta(hours=8))
    )
    assert observation.reported_at.tzinfo is not None
    assert observation.value == 72.5
    assert not observation.is_retraction


def test_milestone_stage_becomes_its_index() -> None:
    observation = to_observation(milestone_report(), _plan())
    assert observation.value == 1.0
    assert observation.reported_at == datetime(2022, 7, 2, 8, tzinfo=UTC)


def test_retraction_has_no_value() -> None:
    observation = to_observation(retraction(), _plan())
    assert observation.is_retraction
    assert observation.value is None


def _report(**changes: object) -> ProgressReported:
    fields: dict[str, object] = {
        "agency": "qy.gov-data",
        "plan": PLAN,
        "target": "gov.mobile-services",
        "as_of": date(2022, 3, 31),
        "time": "2022-04-06T09:30:00+08:00",
        "value": 50.0,
    }
    fields.update(changes)
    return new_report(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event", "reason", "fragment"),
    [
        (_report(plan="other-plan"), Reason.UNKNOWN_PLAN, "'other-plan'"),
        (_report(target="no.such"), Reason.UNKNOWN_TARGET, "no target 'no.such'"),
        (_report(unit=Unit.COUNT), Reason.UNIT_MISMATCH, "'count' differs from 'percent'"),
        (_report(value=None, stage="done"), Reason.UNIT_MISMATCH, "takes a value, not a stage"),
        (
            _report(target="industry.tencent-cloud", value=2.0),
            Reason.UNIT_MISMATCH,
            "takes a stage, not a value",
        ),
        (
            _report(target="industry.tencent-cloud", value=None, stage="planned"),
            Reason.VALUE_OUT_OF_RANGE,
            "no stage 'planned' (stages: none, construction, done)",
        ),
    ],
)
def test_conversion_refusals(event: ProgressReported, reason: Reason, fragment: str) -> None:
    with pytest.raises(ContractError) as caught:
        to_observation(event, _plan())
    assert caught.value.reason is reason
    assert fragment in caught.value.message


def test_matching_unit_is_accepted() -> None:
    assert to_observation(_report(unit=Unit.PERCENT), _plan()).value == 50.0
