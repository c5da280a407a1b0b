"""Status rules 1-8, shares, pace ratio and score of scoring method v1, by hand-checked cases."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.catalog import Comparator, Kind, Target
from shared.domain.method_v1 import (
    METHOD_VERSION,
    AlertRule,
    BaselineSource,
    Severity,
    Status,
    alert_states,
    is_worse,
    status_from_score,
)
from shared.domain.method_v1.figures import growth
from shared.domain.method_v1.status import score
from shared.domain.observation import Observation
from tests.unit.method_support import evaluate, make_target, milestone, obs

D = date
MOBILE = make_target("gov.mobile-services", target=80.0, deadline=D(2022, 12, 31))
REPORTS = [
    obs(D(2021, 6, 30), 45, D(2021, 7, 5), target=MOBILE.id),
    obs(D(2021, 12, 31), 58, D(2022, 1, 6), target=MOBILE.id),
    obs(D(2022, 6, 30), 66, D(2022, 7, 4), target=MOBILE.id),
]


def close(a: float | None, b: float, places: int) -> bool:
    return a is not None and round(a, places) == round(b, places)


class TestWorkedExample:
    def test_after_first_report_insufficient_data(self) -> None:
        result = evaluate(MOBILE, REPORTS, D(2021, 7, 5))
        assert result.method == METHOD_VERSION == "v1.1"
        assert result.baseline is not None
        assert (result.baseline.value, result.baseline.as_of) == (45, D(2021, 6, 30))
        assert result.baseline.source is BaselineSource.FIRST_POINT
        assert result.status is Status.INSUFFICIENT_DATA
        assert result.score is None
        assert result.pace_ratio is None

    def test_after_second_report_on_track(self) -> None:
        result = evaluate(MOBILE, REPORTS, D(2022, 1, 6))
        assert result.progress_share == pytest.approx(float(Fraction(13, 35)), abs=1e-15)
        assert result.expected_share == pytest.approx(float(Fraction(184, 549)), abs=1e-15)
        assert close(result.progress_share, 0.3714, 4)
        assert close(result.expected_share, 0.3352, 4)
        assert close(result.pace_ratio, 1.1082, 4)
        assert result.status is Status.ON_TRACK
        assert close(result.score, 3.630, 3)
        assert alert_states(result) == {}

    def test_after_third_report_at_risk_and_status_degraded_warns(self) -> None:
        result = evaluate(MOBILE, REPORTS, D(2022, 7, 4))
        assert result.progress_share == pytest.approx(0.6, abs=1e-15)
        assert result.expected_share == pytest.approx(float(Fraction(365, 549)), abs=1e-15)
        assert close(result.expected_share, 0.6648, 4)
        assert close(result.pace_ratio, 0.9025, 4)
        assert result.status is Status.AT_RISK
        assert close(result.score, 2.161, 3)
        assert result.days_left == 180
        assert alert_states(result)[AlertRule.STATUS_DEGRADED] is Severity.WARNING

    def test_a_report_is_not_known_before_its_reported_at(self) -> None:
        # 2022-01-05: the second report (reported 2022-01-06) is not known yet.
        assert evaluate(MOBILE, REPORTS, D(2022, 1, 5)).status is Status.INSUFFICIENT_DATA


SHARE = make_target("t.share", target=80.0, deadline=D(2022, 12, 31))
FIRST = obs(D(2021, 6, 30), 45, D(2021, 7, 5))


class TestStatusRules:
    def test_no_data(self) -> None:
        result = evaluate(SHARE, [], D(2022, 1, 6))
        assert result.status is Status.NO_DATA
        assert result.score is None and result.current is None and result.baseline is None

    def test_achieved_reaching_the_target(self) -> None:
        result = evaluate(SHARE, [FIRST, obs(D(2021, 12, 31), 80, D(2022, 1, 6))], D(2022, 1, 6))
        assert result.status is Status.ACHIEVED
        assert result.score == 5

    def test_strict_comparator_needs_more_than_the_target(self) -> None:
        strict = make_target("t.share", comparator=Comparator.GT, target=80.0)
        at_target = evaluate(
            strict, [FIRST, obs(D(2021, 12, 31), 80, D(2022, 1, 6))], D(2022, 1, 6)
        )
        assert at_target.status is not Status.ACHIEVED
        # R = (35/35) / (184/549) > 0.95
        assert at_target.status is Status.ON_TRACK
        above = evaluate(strict, [FIRST, obs(D(2021, 12, 31), 80.01, D(2022, 1, 6))], D(2022, 1, 6))
        assert above.status is Status.ACHIEVED

    def test_missed_with_a_report_dated_at_the_deadline(self) -> None:
        reports = [FIRST, obs(D(2022, 12, 31), 70, D(2023, 1, 3))]
        assert evaluate(SHARE, reports, D(2022, 12, 31)).status is not Status.MISSED  # c = t_d
        result = evaluate(SHARE, reports, D(2023, 1, 5))
        assert result.status is Status.MISSED
        assert result.score == -5
        # Before rule 3 the pace says: p = 25/35, e = 1, R = 0.714 -> AT_RISK.
        assert result.pace_status is Status.AT_RISK

    def test_missed_waits_90_days_for_a_report_dated_at_the_deadline(self) -> None:
        reports = [FIRST, obs(D(2022, 9, 30), 70, D(2022, 10, 5))]
        assert evaluate(SHARE, reports, D(2023, 1, 5)).status is not Status.MISSED
        assert evaluate(SHARE, reports, D(2023, 3, 31)).status is not Status.MISSED  # 90 days
        assert evaluate(SHARE, reports, D(2023, 4, 1)).status is Status.MISSED  # 91 days

    def test_achieved_wins_over_missed(self) -> None:
        reports = [FIRST, obs(D(2022, 12, 31), 81, D(2023, 2, 1))]
        assert evaluate(SHARE, reports, D(2023, 6, 1)).status is Status.ACHIEVED

    def test_deteriorating_moving_away(self) -> None:
        result = evaluate(SHARE, [FIRST, obs(D(2021, 12, 31), 44, D(2022, 1, 6))], D(2022, 1, 6))
        assert result.status is Status.DETERIORATING
        r = (-1 / 35) / (184 / 549)
        assert result.pace_ratio == pytest.approx(r)
        assert result.score == pytest.approx(4.1667 * r - 2.5)
        assert close(result.score, -2.8552, 4)

    def test_a_move_away_within_tolerance_is_noise(self) -> None:
        # tol = 0.01 * 35 = 0.35; 45 -> 44.8 is 0.2 away: not DETERIORATING, R < 0.
        result = evaluate(SHARE, [FIRST, obs(D(2021, 12, 31), 44.8, D(2022, 1, 6))], D(2022, 1, 6))
        assert result.status is Status.OFF_TRACK
        assert result.pace_ratio is not None and result.pace_ratio < 0
        assert result.score == pytest.approx(4.1667 * result.pace_ratio - 2.5)

    def test_deteriorating_score_floor(self) -> None:
        # 45 -> 10: R = (-35/35)/(184/549) = -2.98 -> 4.1667 R - 2.5 < -5 -> -5.
        result = evaluate(SHARE, [FIRST, obs(D(2021, 12, 31), 10, D(2022, 1, 6))], D(2022, 1, 6))
        assert result.status is Status.DETERIORATING
        assert result.score == -5

    def test_baseline_that_already_met_the_target(self) -> None:
        met = make_target("t.share", baseline=(D(2021, 6, 30), 85.0))
        result = evaluate(met, [obs(D(2021, 12, 31), 78, D(2022, 1, 6))], D(2022, 1, 6))
        assert result.baseline is not None and result.baseline.source is BaselineSource.CATALOG
        assert result.status is Status.DETERIORATING
        # p = (78 - 85) / (80 - 85) = 1.4 > 0: R is positive, so the score is the floor.
        assert result.progress_share == pytest.approx(1.4)
        assert result.score == -5
        still = evaluate(met, [obs(D(2021, 12, 31), 82, D(2022, 1, 6))], D(2022, 1, 6))
        assert still.status is Status.ACHIEVED

    def test_insufficient_data_under_28_days(self) -> None:
        short = [FIRST, obs(D(2021, 7, 27), 50, D(2021, 7, 28))]  # 27 days after t_b
        assert evaluate(SHARE, short, D(2021, 7, 28)).status is Status.INSUFFICIENT_DATA
        enough = [FIRST, obs(D(2021, 7, 28), 50, D(2021, 7, 29))]  # 28 days
        assert evaluate(SHARE, enough, D(2021, 7, 29)).pace_ratio is not None

    def test_insufficient_data_when_no_time_is_expected_yet(self) -> None:
        # A catalog baseline dated after the point: e(t_v) = 0.
        later = make_target("t.share", baseline=(D(2022, 3, 31), 45.0))
        result = evaluate(later, [obs(D(2022, 2, 28), 50, D(2022, 3, 1))], D(2022, 3, 1))
        assert result.expected_share == 0
        assert result.status is Status.INSUFFICIENT_DATA

    def test_off_track(self) -> None:
        result = evaluate(SHARE, [FIRST, obs(D(2021, 12, 31), 50, D(2022, 1, 6))], D(2022, 1, 6))
        assert result.status is Status.OFF_TRACK
        assert close(result.pace_ratio, 0.4262, 4)
        assert close(result.score, -0.7240, 4)

    @pytest.mark.parametrize(
        ("value", "status", "expected_score"),
        [
            (47.5, Status.ON_TRACK, 7.1429 * 0.95 - 4.2857),
            (30, Status.AT_RISK, 7.1429 * 0.6 - 4.2857),
        ],
    )
    def test_thresholds_are_inclusive(
        self, value: float, status: Status, expected_score: float
    ) -> None:
        # e(t_v) = 100/200 = 0.5 exactly, b = 0, T = 100: R = value / 50.
        target = make_target("t.share", target=100.0, deadline=D(2021, 7, 20))
        reports = [obs(D(2021, 1, 1), 0, D(2021, 1, 2)), obs(D(2021, 4, 11), value, D(2021, 4, 12))]
        result = evaluate(target, reports, D(2021, 4, 12))
        assert result.expected_share == 0.5
        assert result.status is status
        assert result.score == pytest.approx(expected_score)


class TestKinds:
    def test_count(self) -> None:
        count = make_target("t.count", kind=Kind.COUNT, target=100.0)
        reports = [
            obs(D(2021, 6, 30), 20, D(2021, 7, 1), target="t.count"),
            obs(D(2022, 6, 30), 70, D(2022, 7, 1), target="t.count"),
        ]
        result = evaluate(count, reports, D(2022, 7, 1))
        assert result.progress_share == pytest.approx(50 / 80)
        assert result.expected_share == pytest.approx(365 / 549)
        assert close(result.pace_ratio, 0.9401, 4)
        assert result.status is Status.AT_RISK
        assert close(result.score, 2.4291, 4)

    def test_rank_less_is_better(self) -> None:
        rank = make_target("t.rank", kind=Kind.RANK, comparator=Comparator.LE, target=5.0)
        base = obs(D(2021, 6, 30), 12, D(2021, 7, 1), target="t.rank")

        def at_rank(value: float) -> Status:
            later = obs(D(2022, 6, 30), value, D(2022, 7, 1), target="t.rank")
            return evaluate(rank, [base, later], D(2022, 7, 1)).status

        result = evaluate(
            rank, [base, obs(D(2022, 6, 30), 8, D(2022, 7, 1), target="t.rank")], D(2022, 7, 1)
        )
        assert result.progress_share == pytest.approx(4 / 7)  # (8 - 12) / (5 - 12)
        assert close(result.pace_ratio, 0.8595, 4)
        assert result.status is Status.AT_RISK
        assert at_rank(5) is Status.ACHIEVED
        assert at_rank(4) is Status.ACHIEVED
        assert at_rank(13) is Status.DETERIORATING

    def test_milestone_default_baseline_is_stage_zero_at_issue(self) -> None:
        ms = milestone("t.ms", stages=4)  # stages 0..3, T = 3
        none = evaluate(ms, [], D(2021, 9, 30))
        assert none.status is Status.NO_DATA
        assert none.baseline is not None
        assert (none.baseline.as_of, none.baseline.value) == (D(2021, 5, 11), 0)
        assert none.baseline.source is BaselineSource.MILESTONE_DEFAULT

        one = evaluate(ms, [obs(D(2021, 9, 30), 1, D(2021, 10, 1), target="t.ms")], D(2021, 10, 1))
        assert one.progress_share == pytest.approx(1 / 3)
        assert one.expected_share == pytest.approx(142 / 599)
        assert close(one.pace_ratio, 1.4061, 4)
        assert one.status is Status.ON_TRACK
        assert one.score == 5  # min(7.1429 R - 4.2857, 5)

        stalled = evaluate(
            ms, [obs(D(2021, 6, 30), 0, D(2021, 7, 1), target="t.ms")], D(2021, 7, 1)
        )
        assert stalled.pace_ratio == 0
        assert stalled.status is Status.OFF_TRACK
        assert stalled.score == pytest.approx(-2.5)

        done = evaluate(ms, [obs(D(2022, 3, 31), 3, D(2022, 4, 1), target="t.ms")], D(2022, 4, 1))
        assert done.status is Status.ACHIEVED

    def test_interim_trajectory_points_shape_the_expected_share(self) -> None:
        # Expected value through (2021-06-30, 45), (2021-12-31, 50), (2022-12-31, 80).
        shaped = make_target("t.share", trajectory=[(D(2021, 12, 31), 50.0)])
        result = evaluate(shaped, [FIRST, obs(D(2021, 12, 31), 50, D(2022, 1, 6))], D(2022, 1, 6))
        assert result.expected_share == pytest.approx(5 / 35)
        assert result.pace_ratio == pytest.approx(1.0)
        assert result.status is Status.ON_TRACK
        # Half way between the interim point and the deadline (2022-07-01, 182 of 365 days).
        mid = evaluate(shaped, [FIRST, obs(D(2022, 7, 1), 60, D(2022, 7, 2))], D(2022, 7, 2))
        assert mid.expected_share == pytest.approx((5 + 30 * 182 / 365) / 35)


class TestScoreAndOrder:
    def test_score_bands_for_aggregates(self) -> None:
        assert status_from_score(5) is Status.ON_TRACK
        assert status_from_score(2.5) is Status.ON_TRACK
        assert status_from_score(2.4999) is Status.AT_RISK
        assert status_from_score(0) is Status.AT_RISK
        assert status_from_score(-0.0001) is Status.OFF_TRACK
        assert status_from_score(-2.5) is Status.OFF_TRACK
        assert status_from_score(-2.5001) is Status.DETERIORATING
        assert status_from_score(-5) is Status.DETERIORATING

    def test_score_formula_constants(self) -> None:
        assert score(Status.ON_TRACK, 1.3) == 5  # 7.1429 * 1.3 - 4.2857 > 5
        assert score(Status.ON_TRACK, 1.0) == pytest.approx(2.8572)
        assert score(Status.OFF_TRACK, 0.0) == -2.5
        assert score(Status.OFF_TRACK, -0.6) == -5  # 4.1667 * -0.6 - 2.5 = -5.00002 -> -5
        assert score(Status.DETERIORATING, None) == -5
        assert score(Status.DETERIORATING, 0.3) == -5
        assert score(Status.INSUFFICIENT_DATA, None) is None
        assert score(Status.NO_DATA, None) is None

    def test_order_of_badness(self) -> None:
        order = [
            Status.ACHIEVED,
            Status.ON_TRACK,
            Status.INSUFFICIENT_DATA,
            Status.AT_RISK,
            Status.OFF_TRACK,
            Status.DETERIORATING,
            Status.MISSED,
        ]
        for better, worse in itertools.pairwise(order):
            assert is_worse(worse, better) is True
            assert is_worse(better, worse) is False
        assert is_worse(Status.NO_DATA, Status.MISSED) is None


comparators = st.sampled_from([Comparator.GE, Comparator.GT, Comparator.LE])
days = st.integers(min_value=0, max_value=1200)


@dataclass(frozen=True)
class Scenario:
    target: Target
    reports: list[Observation]
    c: date
    delta: float  # how much better the last value becomes


@st.composite
def scenario(draw: st.DrawFn) -> Scenario:
    comparator = draw(comparators)
    target_value = draw(st.floats(min_value=-50, max_value=150, allow_nan=False))
    start = D(2021, 1, 1)
    offsets = sorted(set(draw(st.lists(days, min_size=2, max_size=8))))
    if len(offsets) < 2:
        offsets = [0, 400]
    values = draw(
        st.lists(
            st.floats(min_value=-100, max_value=200, allow_nan=False),
            min_size=len(offsets),
            max_size=len(offsets),
        )
    )
    target = make_target("t.share", comparator=comparator, target=target_value)
    reports = [
        obs(start + timedelta(days=o), v, start + timedelta(days=o + 1))
        for o, v in zip(offsets, values, strict=True)
    ]
    c = start + timedelta(days=offsets[-1] + draw(st.integers(min_value=1, max_value=400)))
    delta = draw(st.floats(min_value=0.001, max_value=100, allow_nan=False))
    return Scenario(target, reports, c, delta)


@given(scenario())
def test_a_better_current_value_never_gives_a_worse_status(case: Scenario) -> None:
    last = case.reports[-1]
    assert last.value is not None
    better_last = replace(last, value=last.value + case.delta * case.target.direction)
    before = evaluate(case.target, case.reports, case.c).status
    after = evaluate(case.target, [*case.reports[:-1], better_last], case.c).status
    assert is_worse(after, before) is not True, (before, after)


@given(scenario())
def test_scores_stay_within_bounds(case: Scenario) -> None:
    result = evaluate(case.target, case.reports, case.c)
    if result.score is not None:
        assert -5 <= result.score <= 5


def test_growth_of_a_tiny_baseline_is_unassessable_not_an_overflow() -> None:
    """Found by Hypothesis: a baseline of 8e-184 over a short span overflowed `ratio ** (1/Δ)`."""
    assert growth(50.0, 8e-184, 0.1) is None
    assert growth(2.0, 1.0, 1.0) == 1.0
