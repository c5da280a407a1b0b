"""Every task tracked (#16): commitments (checklists of deliverables) and indicators, reported
like targets and never scored; undated clauses never MISSED; the catalog's checks of them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from services.ingest.validation import Accepted, Limits, Rejected, Verdict, validate
from shared.catalog import load_catalog
from shared.contract.reasons import Reason
from shared.domain.catalog import Cadence, Plan
from shared.domain.catalog_build import CatalogError, build_plan
from shared.domain.method_v1 import (
    AlertRule,
    Severity,
    Status,
    alert_states,
    plan_state_to_json,
    score_plan,
)
from shared.domain.observation import Observation
from tests.unit.ingest_support import agency_key, catalog, raw_of, report, retraction
from tests.unit.method_support import at, evaluate, make_target, noon
from tests.unit.method_support import obs as target_obs

PLAN = load_catalog().plan("qingyuan-digital-economy-2021")
NOW = at(date(2022, 12, 31))
EVIDENCE = "https://evidence.example.gov.cn/talent/1"


def judge(event: Any) -> Verdict:
    keys = {(a, "k1"): agency_key(a) for a in PLAN.agencies}  # every agency of the plan
    return validate(raw_of(event), catalog(), keys, NOW, Limits())


def reason(event: Any) -> Reason:
    verdict = judge(event)
    assert isinstance(verdict, Rejected), verdict
    return verdict.reason


# --- ingest: deliverables and indicators are reported like targets -------------------------


def test_a_deliverable_reported_done_with_evidence_is_accepted() -> None:
    event = report(
        agency="qy.org-dept",
        target="talent.digital-talent.shortage-list",
        stage="done",
        evidence=EVIDENCE,
        note="纳入2022年紧缺人才目录",
    )
    verdict = judge(event)
    assert isinstance(verdict, Accepted), verdict
    accepted = verdict.event
    assert (accepted.value, accepted.stage, accepted.unit) == (1.0, "done", "stage")
    assert accepted.evidence == EVIDENCE and accepted.note == "纳入2022年紧缺人才目录"
    assert b'"evidence"' in accepted.to_json()
    assert accepted.to_observation().evidence == EVIDENCE


def test_a_record_without_evidence_or_note_reads_as_before() -> None:
    verdict = judge(report())
    assert isinstance(verdict, Accepted)
    assert b"evidence" not in verdict.event.to_json() and b"note" not in verdict.event.to_json()


def test_only_the_commitments_reporter_reports_its_deliverables_citywide() -> None:
    co_owner = report(agency="qy.hrss", target="talent.digital-talent.shortage-list", stage="done")
    assert reason(co_owner) is Reason.NOT_REPORTER
    scoped = report(
        agency="qy.org-dept",
        target="talent.digital-talent.shortage-list",
        stage="done",
        scope="county.yingde",
    )
    assert reason(scoped) is Reason.UNKNOWN_SCOPE
    unknown_stage = report(
        agency="qy.org-dept", target="talent.digital-talent.shortage-list", stage="half"
    )
    assert reason(unknown_stage) is Reason.VALUE_OUT_OF_RANGE
    outsider = report(agency="qy.miit", target="talent.digital-talent.shortage-list", stage="done")
    assert reason(outsider) is Reason.NOT_RESPONSIBLE
    withdrawn = retraction(agency="qy.org-dept", target="talent.digital-talent.shortage-list")
    assert isinstance(judge(withdrawn), Accepted)


def test_indicators_take_values_from_their_reporter() -> None:
    amount = report(agency="qy.statistics", target="economy.digital-value-added", value=212.37)
    verdict = judge(amount)
    assert isinstance(verdict, Accepted), verdict
    assert verdict.event.unit == "amount"
    count = report(agency="qy.statistics", target="economy.5g-base-stations", value=4100.5)
    assert reason(count) is Reason.VALUE_OUT_OF_RANGE  # a count is whole
    lead = report(agency="qy.drc", target="economy.5g-base-stations", value=4100)
    assert reason(lead) is Reason.NOT_REPORTER  # the catalog names 统计局 its reporter


def test_broadnet_reports_no_4g_figure() -> None:
    scoped = report(
        agency="carrier.china-broadnet",
        target="infra.4g-coverage-villages",
        value=90,
        scope="county.yingde",
    )
    assert reason(scoped) is Reason.NOT_RESPONSIBLE
    on_5g = report(
        agency="carrier.china-broadnet", target="infra.5g-coverage", value=10, scope="county.yingde"
    )
    assert isinstance(judge(on_5g), Accepted)


def test_the_two_collectives_are_different_parties() -> None:
    creative = report(
        agency="qy.gov-units", target="creative.digital-creative.esports-centre", stage="done"
    )
    assert reason(creative) is Reason.NOT_RESPONSIBLE  # 2.3.5 names 市各有关单位, not it


# --- the pure state: checklists, trends, task coverage --------------------------------------


def obs(subject: str, day: date, value: float | None, n: int, **kw: Any) -> Observation:
    return Observation(
        event_id=f"e{n:03d}",
        target=subject,
        as_of=day,
        reported_at=noon(day + timedelta(days=5)),
        value=value,
        agency=kw.pop("agency", PLAN.subject(subject).lead),  # type: ignore[union-attr]
        **kw,
    )


def test_a_checklist_counts_done_deliverables_and_shows_their_evidence() -> None:
    q = [date(2021, 9, 30), date(2021, 12, 31), date(2022, 3, 31)]
    events = [
        obs("talent.digital-talent.shortage-list", q[0], 0.0, 1),
        obs("talent.digital-talent.shortage-list", q[1], 1.0, 2, evidence=EVIDENCE),
        obs("talent.digital-talent.training-base", q[1], 1.0, 3, evidence="https://e.example/x"),
        obs("talent.digital-talent.training-base", q[1], None, 4),  # withdrawn
        obs("security.cybersecurity.gov-cloud", q[0], 1.0, 5),
        obs("security.cybersecurity.gov-cloud", q[2], 0.0, 6, note="reopened"),  # not done now
    ]
    state = score_plan(PLAN, events, at(date(2023, 2, 1)))
    assert state.tracked is not None
    talent = state.tracked.commitments["talent.digital-talent"]
    assert (talent.done, talent.total, talent.late) == (1, 2, False)  # undated: never late
    items = {item.id: item for item in talent.deliverables}
    assert items["talent.digital-talent.shortage-list"].evidence == EVIDENCE
    assert not items["talent.digital-talent.training-base"].done
    security = state.tracked.commitments["security.cybersecurity"]
    assert security.done == 0
    gov_cloud = {i.id: i for i in security.deliverables}["security.cybersecurity.gov-cloud"]
    assert gov_cloud.note == "reopened"
    software = state.tracked.commitments["industry.software-services"]
    assert software.deadline == date(2022, 12, 31) and software.late  # dated, past, not done
    # None of it moves a score.
    assert state.total == score_plan(PLAN, [], at(date(2023, 2, 1))).total


def test_an_indicator_shows_its_latest_value_change_and_trend() -> None:
    days = [date(2021, 6, 30), date(2021, 9, 30), date(2021, 12, 31)]
    events = [
        obs("economy.5g-base-stations", d, v, i, agency="qy.statistics")
        for i, (d, v) in enumerate(zip(days, [2000.0, 2600.0, 3100.0], strict=True))
    ]
    events.append(obs("economy.5g-base-stations", days[2], 3150.0, 9, agency="qy.statistics"))
    state = score_plan(PLAN, events, at(date(2022, 3, 1)))
    assert state.tracked is not None
    indicator = state.tracked.indicators["economy.5g-base-stations"]
    assert indicator.current is not None and indicator.current.value == 3150.0  # the correction
    assert indicator.change == 550.0
    assert [p.value for p in indicator.trend] == [2000.0, 2600.0, 3150.0]
    view = plan_state_to_json(state)["tracked"]
    assert view["indicators"]["economy.5g-base-stations"]["current"]["value"] == 3150.0
    assert view["indicators"]["economy.digital-value-added"]["current"] is None


def test_every_task_is_scored_or_tracked() -> None:
    view = plan_state_to_json(score_plan(PLAN, [], at(date(2022, 1, 1))))
    tasks = view["tracked"]["tasks"]
    assert tasks["total"] == 27 and len(tasks["scored"]) == 17
    assert len(tasks["tracked"]) == 27 and tasks["untracked"] == []
    assert view["overall"]["unscored"] == sorted(set(PLAN.tasks) - set(tasks["scored"]))


# --- undated clauses ------------------------------------------------------------------------


def test_an_undated_target_is_paced_to_the_horizon_but_never_missed() -> None:
    target = make_target(deadline=None, cadence=Cadence.MONTHLY)
    assert target.pace_until == date(2022, 12, 31)
    points = [(date(2021, 6, 30), 40.0), (date(2022, 6, 30), 50.0), (date(2022, 12, 31), 52.0)]
    series = [target_obs(d, v, d + timedelta(days=5), agency="ag.lead") for d, v in points]
    late = evaluate(target, series, at(date(2024, 6, 30)))
    assert late.status is Status.OFF_TRACK  # a dated target would be MISSED by now
    assert late.days_left is None and late.required_per_month is None
    firing = alert_states(late)
    assert AlertRule.TARGET_MISSED not in firing and AlertRule.DEADLINE_NEAR not in firing
    assert firing[AlertRule.STATUS_DEGRADED] is Severity.WARNING  # no date draws near
    near = evaluate(target, series[:2], at(date(2022, 11, 1)))
    assert AlertRule.DEADLINE_NEAR not in alert_states(near)


def test_the_shipped_undated_clauses_never_read_missed() -> None:
    events = [
        obs("industry.tencent-cloud-base", date(2021, 9, 30), 1.0, 1),
        obs("industry.tencent-cloud-base", date(2022, 9, 30), 2.0, 2),
    ]
    state = score_plan(PLAN, events, at(date(2024, 1, 1)))
    assert state.targets["industry.tencent-cloud-base"].status is not Status.MISSED
    assert plan_state_to_json(state)["targets"]["industry.tencent-cloud-base"]["days_left"] is None


# --- the catalog's checks -------------------------------------------------------------------


def _document(**sections: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "plan": {
            "id": "p",
            "title_zh": "p",
            "title_en": "p",
            "doc_no": "p",
            "issued": date(2021, 5, 11),
            "horizon_end": date(2022, 12, 31),
            "coordinator": "a",
        },
        "agencies": [{"id": "a", "name_zh": "a", "name_en": "a"}],
        "areas": [{"id": "1.1", "name_zh": "x", "name_en": "x"}],
        "tasks": [{"id": "1.1", "name_zh": "x", "name_en": "x", "responsible": ["a"]}],
        "targets": [],
    }
    base.update(sections)
    return base


COMMITMENT = {
    "id": "c",
    "task": "1.1",
    "name_zh": "c",
    "name_en": "c",
    "source_zh": "c",
    "lead": "a",
    "deadline": None,
    "deliverables": [{"id": "c.one", "name_zh": "一", "name_en": "one"}],
}
INDICATOR = {
    "id": "i",
    "task": "1.1",
    "kind": "amount",
    "name_en": "i",
    "metric_zh": "i",
    "unit_zh": "亿元",
    "unit_en": "100 million yuan",
    "lead": "a",
    "cadence": "quarterly",
}


def test_a_plan_with_commitments_and_indicators_builds() -> None:
    plan: Plan = build_plan(_document(commitments=[COMMITMENT], indicators=[INDICATOR]))
    assert plan.subject("c.one") is plan.deliverables["c.one"]
    assert plan.deliverables["c.one"].commitment == "c"
    assert plan.is_tracked_only("i") and not plan.is_tracked_only("c")
    assert plan.scored_tasks() == () and plan.tracked_tasks() == ("1.1",)


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"commitments": [{**COMMITMENT, "deliverables": []}]}, "at least one deliverable"),
        ({"commitments": [COMMITMENT], "indicators": [{**INDICATOR, "id": "c.one"}]}, "already"),
        ({"indicators": [{**INDICATOR, "kind": "share"}]}, "count or amount"),
        ({"commitments": [{**COMMITMENT, "lead": "nobody"}]}, "unknown agency"),
        ({"commitments": [{**COMMITMENT, "task": "9.9"}]}, "not listed under tasks"),
        (
            {
                "targets": [
                    {
                        "id": "t",
                        "task": "1.1",
                        "kind": "amount",
                        "comparator": ">=",
                        "target": 1,
                        "deadline": None,
                        "lead": "a",
                        "cadence": "quarterly",
                        "name_en": "t",
                        "metric_zh": "t",
                    }
                ]
            },
            "indicators only",
        ),
    ],
)
def test_catalog_refuses_broken_commitments_and_indicators(
    sections: dict[str, Any], message: str
) -> None:
    with pytest.raises(CatalogError, match=message):
        build_plan(_document(**sections))
