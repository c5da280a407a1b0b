"""score_plan, the JSON view, replay, and live (incremental) results equal to offline ones."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.catalog import Comparator, Kind
from shared.domain.method_v1 import (
    METHOD_VERSION,
    IncrementalSeries,
    TargetResult,
    UnknownTargetError,
    assemble_plan_state,
    evaluate_target,
    fingerprint,
    plan_state_to_json,
    score_plan,
)
from shared.domain.method_v1.alerts import AlertRule
from shared.domain.observation import Observation
from shared.domain.timebase import CST
from tests.unit.method_support import PLAN_ID, at, make_plan, make_target, milestone, noon, obs

D = date
TARGETS = [
    make_target("gov.mobile-services", task="2.1.2", lead="ag.gov", co=("ag.units",)),
    make_target("net.rank", kind=Kind.RANK, comparator=Comparator.LE, target=5, task="2.2.1"),
    make_target("ind.count", kind=Kind.COUNT, comparator=Comparator.GT, target=100, task="2.3.1"),
    milestone("cloud.stage", stages=5, task="2.3.3", lead="ag.gov"),
]
PLAN = make_plan(TARGETS)
EVENTS = [
    obs(D(2021, 6, 30), 45, D(2021, 7, 5), target="gov.mobile-services", event_id="e01"),
    obs(D(2021, 12, 31), 58, D(2022, 1, 6), target="gov.mobile-services", event_id="e02"),
    obs(D(2022, 6, 30), 66, D(2022, 7, 4), target="gov.mobile-services", event_id="e03"),
    obs(D(2021, 6, 30), 12, D(2021, 7, 2), target="net.rank", event_id="e04"),
    obs(D(2022, 3, 31), 9, D(2022, 4, 3), target="net.rank", event_id="e05"),
    obs(D(2021, 9, 30), 40, D(2021, 10, 2), target="ind.count", event_id="e06"),
    obs(D(2021, 9, 30), None, D(2021, 10, 9), target="ind.count", event_id="e07"),
    obs(D(2021, 9, 30), 41, D(2021, 10, 10), target="ind.count", event_id="e08"),
    obs(D(2022, 5, 31), 100, D(2022, 6, 2), target="ind.count", event_id="e09"),
    obs(D(2021, 11, 30), 1, D(2021, 12, 3), target="cloud.stage", event_id="e10"),
    obs(D(2022, 6, 30), 4, D(2022, 7, 2), target="cloud.stage", event_id="e11"),
]
C = at(D(2022, 7, 4))


def test_json_view_has_the_agreed_shape() -> None:
    view = plan_state_to_json(score_plan(PLAN, EVENTS, C))
    assert json.loads(json.dumps(view)) == view  # plain JSON data
    assert (view["method"], view["plan"], view["at"]) == ("v1.1", PLAN_ID, "2022-07-04")
    assert list(view["targets"]) == sorted(t.id for t in TARGETS)
    mobile = view["targets"]["gov.mobile-services"]
    for key in (
        "status",
        "score",
        "progress_share",
        "expected_share",
        "pace_ratio",
        "cagr_ratio",
        "projected",
        "likely",
        "stale",
        "days_left",
        "current",
        "baseline",
    ):
        assert key in mobile
    assert mobile["status"] == "AT_RISK"
    assert round(mobile["score"], 3) == 2.161
    assert mobile["current"]["as_of"] == "2022-06-30" and mobile["current"]["value"] == 66
    assert mobile["baseline"]["as_of"] == "2021-06-30" and mobile["baseline"]["value"] == 45
    assert mobile["days_left"] == 180  # 2022-07-04 to 2022-12-31
    # Least squares through (0, 45), (184, 58), (365, 66) days from t_b, read at day 549:
    # slope = 3835 / 66614, line through the means (183, 169/3).
    assert mobile["projected"] == pytest.approx(169 / 3 + 3835 / 66614 * (549 - 183))
    assert round(mobile["projected"], 2) == 77.40
    assert mobile["likely"] is False
    assert set(view["tasks"]["2.1.2"]) >= {"score", "status", "counts"}
    assert set(view["areas"]["2.1"]) >= {"score", "status", "counts"}
    assert set(view["overall"]) >= {"score", "status", "counts"}
    agency = view["agencies"]["ag.gov"]
    assert set(agency) >= {"lead", "co", "stale"}
    assert set(agency["lead"]) >= {"score", "counts"}


def test_targets_of_every_kind_are_scored() -> None:
    state = score_plan(PLAN, EVENTS, C)
    assert {t: r.status.value for t, r in state.targets.items()} == {
        "cloud.stage": "ACHIEVED",  # stage 4 of 0..4
        "gov.mobile-services": "AT_RISK",  # the worked example
        "ind.count": "ON_TRACK",
        "net.rank": "AT_RISK",
    }
    # count: 40 retracted, then 41 for the same date; 100 is not more than 100 (strict).
    count = state.targets["ind.count"]
    assert count.baseline is not None and count.baseline.value == 41
    assert count.progress_share == 1.0
    assert count.pace_ratio == pytest.approx(457 / 243)
    assert count.score == 5
    # rank: b = 12 (2021-06-30), v = 9 (2022-03-31): p = 3/7, e = 274/549.
    rank = state.targets["net.rank"]
    assert rank.pace_ratio == pytest.approx((3 / 7) / (274 / 549))


def test_alerts_firing_at_c_are_listed_in_order() -> None:
    view = plan_state_to_json(score_plan(PLAN, EVENTS, C))
    alerts = view["alerts"]
    assert alerts == sorted(
        alerts, key=lambda a: (a["target"], list(AlertRule).index(AlertRule(a["rule"])))
    )
    mobile = [a for a in alerts if a["target"] == "gov.mobile-services"]
    assert {"rule": "status_degraded", "severity": "warning"}.items() <= mobile[0].items()
    assert mobile[0]["fingerprint"] == fingerprint(
        PLAN_ID, "gov.mobile-services", AlertRule.STATUS_DEGRADED
    )
    assert any(a["rule"] == "target_achieved" and a["target"] == "cloud.stage" for a in alerts)


def test_unknown_target_and_naive_instant_are_named_errors() -> None:
    stray = obs(D(2021, 6, 30), 1, D(2021, 7, 1), target="no.such")
    with pytest.raises(UnknownTargetError, match=r"no\.such"):
        score_plan(PLAN, [*EVENTS, stray], C)
    with pytest.raises(ValueError, match="naive"):
        score_plan(PLAN, EVENTS, datetime(2022, 7, 4, 12))


def test_the_instant_of_c_counts_only_by_its_cst_date() -> None:
    # 2022-07-03T16:30Z is 2022-07-04 00:30 CST: that day's report (noon CST) is known already,
    # since times count by their CST date; at 23:59 CST the day before it is not.
    early = score_plan(PLAN, EVENTS, datetime(2022, 7, 3, 16, 30, tzinfo=UTC))
    assert early.day == D(2022, 7, 4)
    assert early.targets["gov.mobile-services"].days_left == 180
    assert early.targets["gov.mobile-services"].status.value == "AT_RISK"
    before = score_plan(PLAN, EVENTS, datetime(2022, 7, 3, 15, 59, tzinfo=UTC))
    assert before.day == D(2022, 7, 3)
    assert before.targets["gov.mobile-services"].status.value == "ON_TRACK"


def test_replaying_the_inputs_reproduces_the_result() -> None:
    first = score_plan(PLAN, EVENTS, C)
    again = score_plan(PLAN, list(reversed(EVENTS)), C)
    assert again == first
    assert plan_state_to_json(again) == plan_state_to_json(first)
    assert json.dumps(plan_state_to_json(again)) == json.dumps(plan_state_to_json(first))
    assert first.method == METHOD_VERSION


def live_state(arrivals: list[Observation], until: int, clock: datetime) -> dict[str, TargetResult]:
    series = {t.id: IncrementalSeries() for t in TARGETS}
    for event in arrivals[:until]:
        series[event.target].add(event)
    return {
        t.id: evaluate_target(
            PLAN, t, series[t.id].series(clock), series[t.id].last_report_at, clock
        )
        for t in TARGETS
    }


def test_live_equals_offline_after_each_event_in_reported_order() -> None:
    ordered = sorted(EVENTS, key=lambda e: (e.reported_at, e.event_id))
    for n in range(1, len(ordered) + 1):
        clock = ordered[n - 1].reported_at  # the service's clock: greatest reported_at consumed
        live = assemble_plan_state(PLAN, live_state(ordered, n, clock), clock)
        assert live == score_plan(PLAN, EVENTS, clock)


event_strategy = st.tuples(
    st.sampled_from([t.id for t in TARGETS]),
    st.integers(min_value=0, max_value=8),  # as_of: one of a few month ends
    st.one_of(st.none(), st.integers(min_value=0, max_value=120).map(float)),
    st.integers(min_value=0, max_value=40),  # reporting delay in days
    st.integers(min_value=0, max_value=23),  # hour
)


@settings(max_examples=60, deadline=None)
@given(st.lists(event_strategy, min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_offline_result(
    raw: list[tuple[str, int, float | None, int, int]], rnd: Random
) -> None:
    events = []
    for i, (target, month, drawn, delay, hour) in enumerate(raw):
        as_of = D(2021, 6, 30) + timedelta(days=61 * month)
        is_stage = target == "cloud.stage" and drawn is not None
        value = float(int(drawn) % 5) if is_stage and drawn is not None else drawn
        reported = datetime.combine(as_of + timedelta(days=delay), datetime.min.time(), CST)
        events.append(
            obs(as_of, value, reported + timedelta(hours=hour), target=target, event_id=f"e{i:03d}")
        )
    arrivals = list(events)
    rnd.shuffle(arrivals)
    clock = max(e.reported_at for e in events)
    live = assemble_plan_state(PLAN, live_state(arrivals, len(arrivals), clock), clock)
    offline = score_plan(PLAN, events, clock)
    assert live == offline
    assert plan_state_to_json(live) == plan_state_to_json(offline)
    later = noon(D(2023, 6, 1))
    assert score_plan(PLAN, arrivals, later) == score_plan(PLAN, events, later)
