"""The effective series "as known at c": corrections, retractions, late reports, the fold."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.method_v1 import (
    IncrementalSeries,
    SeriesError,
    Slot,
    effective_series,
    fold_observation,
    last_report_at,
    series_from_winners,
)
from shared.domain.observation import Observation
from shared.domain.timebase import CST
from tests.unit.method_support import at, noon, obs

D = date


def values(observations: list[Observation], when: date | datetime) -> list[tuple[date, float]]:
    instant = when if isinstance(when, datetime) else at(when)
    return [(p.as_of, p.value) for p in effective_series(observations, instant)]


class TestEffectiveSeries:
    def test_sorted_by_as_of_whatever_the_report_order(self) -> None:
        events = [
            obs(D(2021, 12, 31), 58, D(2022, 1, 6)),
            obs(D(2021, 6, 30), 45, D(2021, 7, 5)),
        ]
        assert values(events, D(2022, 1, 6)) == [(D(2021, 6, 30), 45), (D(2021, 12, 31), 58)]

    def test_only_reports_known_at_c(self) -> None:
        events = [obs(D(2021, 6, 30), 45, D(2021, 7, 5)), obs(D(2021, 12, 31), 58, D(2022, 1, 6))]
        assert values(events, D(2022, 1, 5)) == [(D(2021, 6, 30), 45)]
        # Times count by their CST date: a report at noon is known from the start of its day.
        both = [(D(2021, 6, 30), 45), (D(2021, 12, 31), 58)]
        assert values(events, datetime.combine(D(2022, 1, 6), time(0, 0), CST)) == both
        assert values(events, datetime.combine(D(2022, 1, 5), time(23, 59), CST)) == both[:1]

    def test_two_reports_of_one_day_tie_and_the_greater_event_id_wins(self) -> None:
        # "the latest reported_at (ties: the greater event id)", reported_at by its CST date:
        # the afternoon's correction "e-a" loses to the morning's "e-z".
        day = D(2022, 1, 6)
        morning = obs(D(2021, 12, 31), 58, day, event_id="e-z")
        afternoon = obs(D(2021, 12, 31), 40, datetime.combine(day, time(17), CST), event_id="e-a")
        assert values([afternoon, morning], day) == [(D(2021, 12, 31), 58)]

    def test_a_value_dated_after_c_is_not_known(self) -> None:
        early = obs(D(2022, 3, 31), 60, D(2022, 3, 1))  # reported before its as_of
        assert values([early], D(2022, 3, 30)) == []
        assert values([early], D(2022, 3, 31)) == [(D(2022, 3, 31), 60)]

    def test_cst_date_of_c_decides_as_of(self) -> None:
        # 2022-03-30T17:00Z is 2022-03-31 01:00 in CST.
        early = obs(D(2022, 3, 31), 60, D(2022, 3, 1))
        instant = datetime(2022, 3, 30, 17, 0, tzinfo=UTC)
        assert values([early], instant) == [(D(2022, 3, 31), 60)]

    def test_correction_is_a_later_report_for_the_same_as_of(self) -> None:
        events = [obs(D(2021, 12, 31), 58, D(2022, 1, 6)), obs(D(2021, 12, 31), 57, D(2022, 1, 20))]
        assert values(events, D(2022, 1, 10)) == [(D(2021, 12, 31), 58)]
        assert values(events, D(2022, 1, 20)) == [(D(2021, 12, 31), 57)]

    def test_late_report_of_an_old_date_does_not_replace_a_newer_correction(self) -> None:
        newer = obs(D(2021, 12, 31), 57, D(2022, 1, 20))
        older_arriving_late = obs(D(2021, 12, 31), 58, D(2022, 1, 6))
        assert values([newer, older_arriving_late], D(2022, 2, 1)) == [(D(2021, 12, 31), 57)]

    def test_late_report_fills_a_gap(self) -> None:
        events = [
            obs(D(2021, 6, 30), 45, D(2021, 7, 5)),
            obs(D(2022, 6, 30), 66, D(2022, 7, 4)),
            obs(D(2021, 12, 31), 58, D(2022, 8, 1)),  # reported months late
        ]
        assert [v for _, v in values(events, D(2022, 7, 4))] == [45, 66]
        assert [v for _, v in values(events, D(2022, 8, 1))] == [45, 58, 66]

    def test_tie_on_reported_at_goes_to_the_greater_event_id(self) -> None:
        instant = noon(D(2022, 1, 6))
        a = obs(D(2021, 12, 31), 1, instant, event_id="ev-a")
        b = obs(D(2021, 12, 31), 2, instant, event_id="ev-b")
        assert values([a, b], D(2022, 1, 6)) == [(D(2021, 12, 31), 2)]
        assert values([b, a], D(2022, 1, 6)) == [(D(2021, 12, 31), 2)]

    def test_retraction_removes_the_point_and_a_later_report_brings_it_back(self) -> None:
        report = obs(D(2021, 12, 31), 58, D(2022, 1, 6))
        retraction = obs(D(2021, 12, 31), None, D(2022, 1, 10))
        again = obs(D(2021, 12, 31), 59, D(2022, 1, 15))
        assert values([report, retraction], D(2022, 1, 10)) == []
        assert values([report, retraction, again], D(2022, 1, 12)) == []
        assert values([report, retraction, again], D(2022, 1, 15)) == [(D(2021, 12, 31), 59)]

    def test_retraction_arriving_before_the_report_it_retracts(self) -> None:
        report = obs(D(2021, 12, 31), 58, D(2022, 1, 6))
        retraction = obs(D(2021, 12, 31), None, D(2022, 1, 10))
        assert values([retraction, report], D(2022, 1, 10)) == []

    def test_last_report_at_ignores_retractions_and_the_future(self) -> None:
        events = [
            obs(D(2021, 12, 31), 58, D(2022, 1, 6)),
            obs(D(2021, 12, 31), None, D(2022, 1, 10)),
            obs(D(2021, 9, 30), 50, D(2022, 2, 1)),  # a late report of an old date counts
        ]
        assert last_report_at(events, at(D(2022, 1, 31))) == noon(D(2022, 1, 6))
        assert last_report_at(events, at(D(2022, 2, 1))) == noon(D(2022, 2, 1))
        assert last_report_at(events, at(D(2022, 1, 1))) is None


class TestFold:
    def test_fold_is_pure_and_returns_the_same_mapping_when_the_event_loses(self) -> None:
        newer = obs(D(2021, 12, 31), 57, D(2022, 1, 20))
        older = obs(D(2021, 12, 31), 58, D(2022, 1, 6))
        empty: Mapping[Slot, Observation] = {}
        one = fold_observation(empty, newer)
        assert empty == {}
        assert one == {(D(2021, 12, 31), newer.agency): newer}
        assert fold_observation(one, older) is one

    def test_series_from_winners_refuses_events_after_c(self) -> None:
        winners = fold_observation({}, obs(D(2021, 12, 31), 57, D(2022, 1, 20)))
        with pytest.raises(SeriesError, match="after the evaluation instant"):
            series_from_winners(winners, at(D(2022, 1, 10)))

    def test_incremental_series_refuses_an_earlier_instant(self) -> None:
        live = IncrementalSeries()
        live.add(obs(D(2021, 12, 31), 57, D(2022, 1, 20)))
        with pytest.raises(SeriesError, match="cannot be read"):
            live.series(at(D(2022, 1, 10)))

    def test_incremental_series_reports_changes(self) -> None:
        live = IncrementalSeries()
        assert live.add(obs(D(2021, 12, 31), 58, D(2022, 1, 6))) is True
        assert live.add(obs(D(2021, 12, 31), 59, D(2022, 1, 5))) is False  # older: loses
        assert live.add(obs(D(2021, 6, 30), None, D(2022, 1, 7))) is False  # nothing to remove
        assert live.add(obs(D(2021, 12, 31), None, D(2022, 1, 8))) is True
        assert len(live) == 0
        assert live.last_report_at == noon(D(2022, 1, 6))


START = D(2021, 1, 1)
reported_offsets = st.integers(min_value=0, max_value=60)
event = st.tuples(
    st.integers(min_value=0, max_value=5),  # as_of: one of a few dates, so collisions happen
    st.one_of(st.none(), st.integers(min_value=0, max_value=100).map(float)),
    reported_offsets,
)


def build(raw: list[tuple[int, float | None, int]]) -> list[Observation]:
    return [
        obs(
            START + timedelta(days=10 * a),
            v,
            noon(START + timedelta(days=10 * a)) + timedelta(days=r),
            event_id=f"ev-{i:03d}",
        )
        for i, (a, v, r) in enumerate(raw)
    ]


@settings(max_examples=200)
@given(
    st.lists(event, max_size=25),
    st.randoms(use_true_random=False),
    st.integers(min_value=0, max_value=120),
)
def test_arrival_order_does_not_matter_offline_or_live(
    raw: list[tuple[int, float | None, int]], rnd: Random, extra: int
) -> None:
    events = build(raw)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    c = at(START + timedelta(days=extra))  # some events and dates are after c
    expected = effective_series(events, c)
    assert effective_series(shuffled, c) == expected
    assert last_report_at(shuffled, c) == last_report_at(events, c)

    known = [e for e in shuffled if e.reported_at <= c]
    winners: Mapping[Slot, Observation] = {}
    live = IncrementalSeries()
    for e in known:
        winners = fold_observation(winners, e)
        live.add(e)
    assert series_from_winners(winners, c) == expected
    assert list(live.series(c)) == expected
    assert live.last_report_at == last_report_at(events, c)
