"""Figures beside the status: cagr_ratio, projection, rates, days, staleness, regression, cost."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import overload

import pytest

from shared.domain.catalog import Cadence, Comparator, Kind, Target
from shared.domain.method_v1 import SeriesPoint, Status, evaluate_target
from shared.domain.method_v1.figures import growth
from shared.domain.observation import Observation
from tests.unit.method_support import at, evaluate, make_plan, make_target, noon, obs

D = date
SHARE = make_target("t.share", target=80.0, deadline=D(2022, 12, 31))


class TestCagrRatio:
    def test_the_worked_example_is_365_days_so_not_yet_a_year(self) -> None:
        # "when t_v - t_b >= 1 year" with "a span in years is days / 365.25": 365 / 365.25 < 1.
        reports = [obs(D(2021, 6, 30), 45, D(2021, 7, 5)), obs(D(2022, 6, 30), 66, D(2022, 7, 4))]
        assert evaluate(SHARE, reports, D(2022, 7, 4)).cagr_ratio is None

    def test_defined_from_366_days(self) -> None:
        reports = [obs(D(2021, 6, 30), 45, D(2021, 7, 5)), obs(D(2022, 7, 1), 66, D(2022, 7, 4))]
        result = evaluate(SHARE, reports, D(2022, 7, 4))
        observed = (66 / 45) ** (365.25 / 366) - 1
        required = (80 / 45) ** (365.25 / 549) - 1
        assert result.cagr_ratio == pytest.approx(observed / required, rel=1e-12)

    def test_zero_baseline_is_replaced_by_0_001(self) -> None:
        count = make_target("t.count", kind=Kind.COUNT, target=10.0, deadline=D(2022, 12, 31))
        reports = [
            obs(D(2021, 1, 1), 0, D(2021, 1, 2), target="t.count"),
            obs(D(2022, 1, 2), 5, D(2022, 1, 2), target="t.count"),
        ]
        result = evaluate(count, reports, D(2022, 1, 2))
        observed = (5 / 0.001) ** (365.25 / 366) - 1
        required = (10 / 0.001) ** (365.25 / 729) - 1
        assert result.cagr_ratio == pytest.approx(observed / required, rel=1e-12)

    def test_rank_falling_is_progress(self) -> None:
        rank = make_target("t.rank", kind=Kind.RANK, comparator=Comparator.LE, target=5.0)
        reports = [
            obs(D(2021, 1, 1), 12, D(2021, 1, 2), target="t.rank"),
            obs(D(2022, 1, 2), 8, D(2022, 1, 2), target="t.rank"),
        ]
        result = evaluate(rank, reports, D(2022, 1, 2))
        observed = (8 / 12) ** (365.25 / 366) - 1
        required = (5 / 12) ** (365.25 / 729) - 1
        assert result.cagr_ratio == pytest.approx(-observed / abs(required), rel=1e-12)
        assert result.cagr_ratio is not None and result.cagr_ratio > 0

    def test_negative_values_flip_the_sign(self) -> None:
        negative = make_target("t.neg", kind=Kind.COUNT, target=-2.0)
        reports = [
            obs(D(2021, 1, 1), -10, D(2021, 1, 2), target="t.neg"),
            obs(D(2022, 1, 2), -6, D(2022, 1, 2), target="t.neg"),
        ]
        result = evaluate(negative, reports, D(2022, 1, 2))
        assert result.cagr_ratio is not None and result.cagr_ratio > 0  # toward -2 is progress

    def test_none_when_the_sign_changes_or_no_rate_is_required(self) -> None:
        negative = make_target("t.neg", kind=Kind.COUNT, target=20.0)
        crossing = [
            obs(D(2021, 1, 1), -10, D(2021, 1, 2), target="t.neg"),
            obs(D(2022, 1, 2), 5, D(2022, 1, 2), target="t.neg"),
        ]
        assert evaluate(negative, crossing, D(2022, 1, 2)).cagr_ratio is None
        assert growth(-5, 10, 1.0) is None
        flat = make_target("t.flat", kind=Kind.COUNT, target=10.0, baseline=(D(2021, 1, 1), 10.0))
        result = evaluate(
            flat, [obs(D(2022, 1, 2), 9, D(2022, 1, 2), target="t.flat")], D(2022, 1, 2)
        )
        assert result.cagr_ratio is None


def line(start: date, offsets: Sequence[int], values: Sequence[float]) -> list[Observation]:
    return [
        obs(start + timedelta(days=o), v, start + timedelta(days=o + 1))
        for o, v in zip(offsets, values, strict=True)
    ]


class TestProjection:
    START = D(2021, 1, 1)

    def test_needs_three_points(self) -> None:
        reports = line(self.START, [0, 100], [10, 20])
        result = evaluate(make_target("t.share"), reports, self.START + timedelta(days=101))
        assert result.projection is None
        assert result.observed_per_month is None

    def test_line_read_at_the_deadline(self) -> None:
        target = make_target("t.share", target=80.0, deadline=self.START + timedelta(days=400))
        reports = line(self.START, [0, 100, 200], [10, 20, 30])
        result = evaluate(target, reports, self.START + timedelta(days=201))
        assert result.projection is not None
        assert result.projection.value == pytest.approx(50)
        assert result.projection.share == pytest.approx(40 / 70)
        assert result.projection.likely is False
        assert result.observed_per_month == pytest.approx(0.1 * 30.44)
        assert result.required_per_month == pytest.approx((80 - 30) / (199 / 30.44))
        assert result.days_left == 199

        reachable = make_target("t.share", target=50.0, deadline=self.START + timedelta(days=400))
        projection = evaluate(reachable, reports, self.START + timedelta(days=201)).projection
        assert projection is not None and projection.likely is True

    def test_only_the_last_six_points_count(self) -> None:
        target = make_target("t.share", target=80.0, deadline=self.START + timedelta(days=800))
        offsets = [0, 50, 100, 200, 300, 400, 500, 600]
        values = [90, -40, 10, 20, 30, 40, 50, 60]  # the two first points are far off the line
        result = evaluate(
            target, line(self.START, offsets, values), self.START + timedelta(days=601)
        )
        assert result.projection is not None
        assert result.projection.value == pytest.approx(80)
        assert result.projection.likely is True

    def test_no_required_rate_after_the_deadline(self) -> None:
        reports = [obs(D(2022, 12, 31), 70, D(2023, 1, 2))]
        assert evaluate(SHARE, reports, D(2023, 1, 2)).required_per_month is None


class TestStaleness:
    MONTHLY = make_target("t.share", cadence=Cadence.MONTHLY)
    QUARTERLY = make_target("t.share", cadence=Cadence.QUARTERLY)

    def test_monthly_with_a_report(self) -> None:
        reports = [obs(D(2021, 12, 31), 58, D(2022, 1, 6))]
        fresh = evaluate(self.MONTHLY, reports, D(2022, 2, 16))  # 41 days: 31 + 10
        assert (fresh.days_since_report, fresh.stale) == (41, False)
        late = evaluate(self.MONTHLY, reports, D(2022, 2, 17))
        assert (late.days_since_report, late.stale, late.staleness.critical) == (42, True, False)
        very = evaluate(self.MONTHLY, reports, D(2022, 3, 30))  # 83 > 2 * 41
        assert (very.stale, very.staleness.critical) == (True, True)
        assert evaluate(self.MONTHLY, reports, D(2022, 3, 29)).staleness.critical is False

    def test_quarterly_without_reports_counts_from_plan_issue(self) -> None:
        # Plan issued 2021-05-11; 92 + 20 = 112 days later is 2021-08-31.
        fresh = evaluate(self.QUARTERLY, [], D(2021, 8, 31))
        assert (fresh.days_since_report, fresh.stale) == (None, False)
        assert evaluate(self.QUARTERLY, [], D(2021, 9, 1)).stale is True
        assert evaluate(self.QUARTERLY, [], D(2021, 12, 21)).staleness.critical is False
        assert evaluate(self.QUARTERLY, [], D(2021, 12, 22)).staleness.critical is True

    def test_a_retraction_is_not_a_report(self) -> None:
        events = [obs(D(2021, 12, 31), None, D(2022, 1, 6))]
        result = evaluate(self.MONTHLY, events, D(2022, 1, 7))
        assert result.days_since_report is None
        assert result.stale is True  # 241 days since plan issue

    def test_days_since_report_uses_the_cst_date(self) -> None:
        # 2022-01-05T20:00Z is 2022-01-06 04:00 CST.
        late_night = obs(D(2021, 12, 31), 58, datetime(2022, 1, 5, 20, tzinfo=UTC))
        assert evaluate(self.MONTHLY, [late_night], D(2022, 1, 7)).days_since_report == 1


class TestRegression:
    def walk(self, values: list[float], target: Target = SHARE) -> SeriesPoint | None:
        offsets = [30 * i for i in range(len(values))]
        reports = line(D(2021, 1, 1), offsets, values)
        return evaluate(target, reports, D(2021, 1, 2) + timedelta(days=offsets[-1])).regression_at

    def test_a_step_away_beyond_tol_fires_and_a_step_toward_resolves(self) -> None:
        # b = 45, T = 80: tol = 0.35.
        fired = self.walk([45, 50, 48])
        assert fired is not None and fired.value == 48
        assert self.walk([45, 50, 48, 48]) is not None  # flat step: unchanged
        assert self.walk([45, 50, 48, 47.9]) is not None  # away within tol: unchanged
        assert self.walk([45, 50, 48, 48.01]) is None  # any step toward resolves
        assert self.walk([45, 50, 50.1, 49.9]) is None  # small step away after a step toward
        assert self.walk([45, 44.8]) is None

    def test_rank_regression_is_a_rising_rank(self) -> None:
        rank = make_target("t.share", kind=Kind.RANK, comparator=Comparator.LE, target=5.0)
        assert self.walk([12, 10, 12], rank) is not None
        assert self.walk([12, 14, 13], rank) is None


class AccessLog(Sequence[SeriesPoint]):
    """A series that records which indices are read and refuses to be iterated."""

    def __init__(self, points: list[SeriesPoint]) -> None:
        self.points = points
        self.read: set[int] = set()

    def __len__(self) -> int:
        return len(self.points)

    @overload
    def __getitem__(self, index: int) -> SeriesPoint: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[SeriesPoint]: ...
    def __getitem__(self, index: int | slice) -> SeriesPoint | Sequence[SeriesPoint]:
        if isinstance(index, slice):
            positions = range(*index.indices(len(self.points)))
            self.read.update(positions)
            return [self.points[i] for i in positions]
        position = index if index >= 0 else len(self.points) + index
        self.read.add(position)
        return self.points[position]

    def __iter__(self) -> Iterator[SeriesPoint]:
        raise AssertionError("the whole series was iterated")


def long_series(values: list[float]) -> AccessLog:
    start = D(2000, 1, 1)
    return AccessLog(
        [
            SeriesPoint(
                start + timedelta(days=4 * i), v, noon(start + timedelta(days=4 * i)), f"e{i}"
            )
            for i, v in enumerate(values)
        ]
    )


class TestCost:
    @pytest.mark.parametrize("n", [10, 10_000])
    def test_evaluation_reads_the_first_point_and_the_last_six(self, n: int) -> None:
        target = make_target("t.share", target=1e6, deadline=D(2200, 1, 1))
        series = long_series([float(i) for i in range(n)])  # rising: the last step is toward
        result = evaluate_target(make_plan([target]), target, series, None, at(D(2200, 1, 1)))
        assert (result.points, result.status) == (n, Status.OFF_TRACK)
        assert result.baseline is not None and result.baseline.value == 0
        assert result.current is not None and result.current.value == n - 1
        assert result.projection is not None and result.projection.slope_per_day == pytest.approx(
            0.25
        )
        assert series.read <= {0} | set(range(n - 6, n))

    def test_the_regression_scan_stops_at_the_last_decisive_step(self) -> None:
        target = make_target("t.share", target=1e6, deadline=D(2200, 1, 1))
        values = [float(i) for i in range(5000)] + [4999.0] * 20  # 20 flat steps at the end
        series = long_series(values)
        result = evaluate_target(make_plan([target]), target, series, None, at(D(2200, 1, 1)))
        assert result.regression is False
        assert min(series.read - {0}) == len(values) - 22  # the rising step before the flat run
