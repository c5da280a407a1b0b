"""Roll-ups target -> task -> area -> plan, and agency scorecards (method v1.1: every level
weighs the scored targets under it; coverage and unscored tasks at every level)."""

from __future__ import annotations

from datetime import date

import pytest

from shared.domain.method_v1 import (
    PlanState,
    Status,
    agency_scorecards,
    roll_up,
    score_plan,
)
from shared.domain.method_v1.rollup import weighted_mean
from shared.domain.observation import Observation
from tests.unit.method_support import at, make_plan, make_target, obs

D = date
DAY = D(2022, 1, 6)
WORKED = 7.1429 * ((13 / 35) / (184 / 549)) - 4.2857  # the worked example's ON_TRACK score


def on_track(target: str) -> list[Observation]:
    return [
        obs(D(2021, 6, 30), 45, D(2021, 7, 5), target=target),
        obs(D(2021, 12, 31), 58, D(2022, 1, 6), target=target),
    ]


def achieved(target: str) -> list[Observation]:
    return [obs(D(2021, 12, 31), 85, D(2022, 1, 6), target=target)]


def deteriorating(target: str) -> list[Observation]:
    return [
        obs(D(2021, 6, 30), 45, D(2021, 7, 5), target=target),
        obs(D(2021, 12, 31), 10, D(2022, 1, 6), target=target),  # score -5
    ]


def insufficient(target: str) -> list[Observation]:
    return [obs(D(2021, 12, 31), 50, D(2022, 1, 6), target=target)]


TARGETS = [
    make_target("a.on", task="2.1.1", lead="ag.x", co=("grp",)),
    make_target("a.done", task="2.1.1", lead="ag.y", weight=2.0),
    make_target("b.few", task="2.1.2", lead="ag.x"),
    make_target("c.away", task="2.2.1", lead="ag.y", co=("ag.x",)),
    make_target("d.done", task="2.2.2", lead="ag.z"),
]
PLAN = make_plan(
    TARGETS,
    extra_tasks=["3.6"],
    groups={"grp": ("ag.x", "ag.y", "ag.w")},
)
EVENTS = [
    *on_track("a.on"),
    *achieved("a.done"),
    *insufficient("b.few"),
    *deteriorating("c.away"),
    *achieved("d.done"),
]


@pytest.fixture(scope="module")
def state() -> PlanState:
    return score_plan(PLAN, EVENTS, at(DAY))


def test_target_statuses_are_as_built(state: PlanState) -> None:
    assert {t: r.status for t, r in state.targets.items()} == {
        "a.done": Status.ACHIEVED,
        "a.on": Status.ON_TRACK,
        "b.few": Status.INSUFFICIENT_DATA,
        "c.away": Status.DETERIORATING,
        "d.done": Status.ACHIEVED,
    }


def test_task_is_the_weighted_mean_of_its_targets(state: PlanState) -> None:
    task = state.tasks["2.1.1"]
    assert task.score == pytest.approx((WORKED * 1 + 5 * 2) / 3)
    assert task.status is Status.ON_TRACK
    assert task.counts[Status.ON_TRACK] == 1 and task.counts[Status.ACHIEVED] == 1
    assert sum(task.counts.values()) == 2


def test_a_level_without_a_scored_member_has_no_score_and_no_status(state: PlanState) -> None:
    few = state.tasks["2.1.2"]
    assert (few.score, few.status) == (None, None)
    assert few.counts[Status.INSUFFICIENT_DATA] == 1
    empty = state.tasks["3.6"]
    assert (empty.score, empty.status, empty.targets) == (None, None, 0)
    area = state.areas["3.6"]
    assert (area.score, area.status) == (None, None)


def test_area_weighs_the_scored_targets_under_it(state: PlanState) -> None:
    # Area 2.1: a.on (WORKED, weight 1), a.done (5, weight 2); b.few has no score.
    assert state.areas["2.1"].score == pytest.approx((WORKED + 10) / 3)
    assert state.areas["2.1"].counts[Status.INSUFFICIENT_DATA] == 1
    # Area 2.2: c.away at -5, d.done ACHIEVED at 5 -> 0 -> AT_RISK.
    assert state.areas["2.2"].score == pytest.approx(0)
    assert state.areas["2.2"].status is Status.AT_RISK


def test_plan_weighs_every_scored_target_not_its_areas(state: PlanState) -> None:
    # v1.1: (WORKED*1 + 5*2 + (-5)*1 + 5*1) / 5, not the mean of the two scored areas.
    assert state.total.score == pytest.approx((WORKED + 10) / 5)
    area_mean = ((WORKED + 10) / 3 + 0) / 2  # what version 1 would say
    assert state.total.score != pytest.approx(area_mean)
    assert state.total.status is Status.ON_TRACK  # 2.73 is in [2.5, 5]
    assert state.total.targets == 5
    assert state.total.counts[Status.ACHIEVED] == 2


def test_coverage_is_the_scored_share_of_the_targets_weight(state: PlanState) -> None:
    assert state.total.coverage == pytest.approx(5 / 6)  # b.few (weight 1 of 6) unscored
    assert state.areas["2.1"].coverage == pytest.approx(3 / 4)
    assert state.areas["2.2"].coverage == pytest.approx(1.0)
    assert state.tasks["2.1.2"].coverage == pytest.approx(0.0)
    assert state.tasks["3.6"].coverage is None  # no target at all


def test_unscored_tasks_are_named_at_every_level(state: PlanState) -> None:
    assert state.total.unscored == ("3.6",)
    assert state.areas["3.6"].unscored == ("3.6",)
    assert state.tasks["3.6"].unscored == ("3.6",)
    assert state.areas["2.1"].unscored == ()


def test_achieved_only_when_every_target_below_is_achieved(state: PlanState) -> None:
    assert state.tasks["2.2.2"].status is Status.ACHIEVED
    assert state.tasks["2.1.1"].status is Status.ON_TRACK  # score 4.54 but a.on is not achieved
    assert state.tasks["2.1.1"].score == pytest.approx((WORKED + 10) / 3)
    done = score_plan(PLAN, [*achieved("a.on"), *achieved("a.done")], at(DAY))
    assert done.tasks["2.1.1"].status is Status.ACHIEVED
    assert done.areas["2.1"].status is not Status.ACHIEVED  # b.few has no data


def test_agency_scorecards_split_lead_and_co(state: PlanState) -> None:
    cards = state.agencies
    assert list(cards) == ["ag.w", "ag.x", "ag.y", "ag.z"]
    x = cards["ag.x"]
    assert x.lead.score == pytest.approx(WORKED)  # a.on; b.few has no score
    assert x.lead.targets == 2
    assert x.co.score == pytest.approx(-5)  # c.away; ag.x leads a.on, so not its co-owner
    y = cards["ag.y"]
    assert y.lead.score == pytest.approx((5 * 2 - 5 * 1) / 3)  # a.done (w 2), c.away (w 1)
    assert y.co.score == pytest.approx(WORKED)  # a.on through the group
    w = cards["ag.w"]
    assert (w.lead.score, w.lead.status, w.lead.targets) == (None, None, 0)
    assert w.co.targets == 1


def test_agency_stale_counts_only_led_targets() -> None:
    # At 2022-06-01 every report (2022-01-06 or earlier) is more than 92 + 20 days old.
    late = score_plan(PLAN, EVENTS, at(D(2022, 6, 1)))
    assert late.agencies["ag.x"].stale == 2  # a.on, b.few (not c.away, which it co-owns)
    assert late.agencies["ag.y"].stale == 2  # a.done, c.away
    assert late.agencies["ag.w"].stale == 0
    assert score_plan(PLAN, EVENTS, at(DAY)).agencies["ag.x"].stale == 0
    newer = obs(D(2022, 3, 31), 70, D(2022, 5, 30), target="a.on")
    assert score_plan(PLAN, [*EVENTS, newer], at(D(2022, 6, 1))).agencies["ag.x"].stale == 1


def test_roll_up_functions_agree_with_score_plan(state: PlanState) -> None:
    rollups = roll_up(PLAN, state.targets)
    assert rollups.tasks == state.tasks
    assert rollups.plan == state.total
    assert agency_scorecards(PLAN, state.targets) == state.agencies


def test_weighted_mean() -> None:
    assert weighted_mean([(1.0, 1.0), (None, 9.0), (4.0, 2.0)]) == pytest.approx(3.0)
    assert weighted_mean([(None, 1.0)]) is None
    assert weighted_mean([]) is None
    assert weighted_mean([(1.0, 0.0)]) is None
