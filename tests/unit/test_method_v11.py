"""Method v1.1 (../shared/docs/scoring.md): reporters, breakdowns by scope, and the worked
example under v1.1, checked against an independent reading of the text."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.catalog import BreakdownUnit
from shared.domain.method_v1 import (
    IncrementalSeries,
    Status,
    effective_series,
    plan_state_to_json,
    score_plan,
)
from shared.domain.observation import Observation
from shared.domain.timebase import cst_date
from tests.unit.method_support import at, make_plan, make_target, noon, obs

D = date


def independent_series(events: list[Observation], c: datetime) -> list[tuple[date, float]]:
    """The v1.1 text read literally, sharing no code with the method: "For each as_of date and
    each reporter, take that reporter's event with the latest reported_at (ties: the greater
    event id) ... The point of the series at as_of is the remaining value with the latest
    reported_at (ties: the greater event id) among the reporters", and "a timestamp counts by
    its date there" (CST)."""
    day = cst_date(c)
    known = [e for e in events if cst_date(e.reported_at) <= day and e.as_of <= day]
    by_date: dict[date, dict[str, list[Observation]]] = defaultdict(lambda: defaultdict(list))
    for e in known:
        by_date[e.as_of][e.agency].append(e)
    series = []
    for as_of in sorted(by_date):
        latest = [
            sorted(evs, key=lambda e: (cst_date(e.reported_at), e.event_id))[-1]
            for evs in by_date[as_of].values()
        ]
        remaining = [e for e in latest if e.value is not None]
        if remaining:
            best = sorted(remaining, key=lambda e: (cst_date(e.reported_at), e.event_id))[-1]
            assert best.value is not None
            series.append((as_of, best.value))
    return series


AGENCIES = ("ag.lead", "ag.co")
_event = st.builds(
    lambda as_of, value, day, hour, agency, n: obs(
        D(2022, 1, as_of),
        value,
        datetime(2022, 2, day, hour, tzinfo=noon(D(2022, 2, 1)).tzinfo),
        agency=agency,
        event_id=f"e{n:03d}",
    ),
    st.integers(1, 4),
    st.one_of(st.none(), st.integers(0, 100).map(float)),
    st.integers(1, 5),
    st.integers(8, 10),
    st.sampled_from(AGENCIES),
    st.integers(0, 999),
)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(_event, max_size=14, unique_by=lambda e: e.event_id), day=st.integers(1, 6))
def test_series_agrees_with_an_independent_reading(events: list[Observation], day: int) -> None:
    c = datetime(2022, 2, day, 23, tzinfo=noon(D(2022, 2, 1)).tzinfo)
    expected = independent_series(events, c)
    got = [(p.as_of, p.value) for p in effective_series(events, c)]
    assert got == expected
    live = IncrementalSeries()
    for e in sorted(events, key=lambda e: e.event_id):  # any order
        if e.reported_at <= c:
            live.add(e)
    assert [(p.as_of, p.value) for p in live.series(c)] == expected


def test_a_reporter_retracts_only_its_own_figure() -> None:
    day = D(2022, 3, 31)
    events = [
        obs(day, 60, D(2022, 4, 5), agency="ag.lead"),
        obs(day, 62, D(2022, 4, 6), agency="ag.co"),  # the latest figure counts
        obs(day, None, D(2022, 4, 7), agency="ag.co"),  # ag.co withdraws its own
    ]
    series = effective_series(events, at(D(2022, 4, 30)))
    assert [(p.value, p.agency) for p in series] == [(60, "ag.lead")]
    # A report made after the retraction brings the point back.
    back = [*events, obs(day, 63, D(2022, 4, 9), agency="ag.co")]
    assert [p.value for p in effective_series(back, at(D(2022, 4, 30)))] == [63]


def test_with_one_reporter_it_is_version_1() -> None:
    day = D(2022, 3, 31)
    events = [
        obs(day, 60, D(2022, 4, 5), agency="ag.lead"),
        obs(day, None, D(2022, 4, 6), agency="ag.lead"),
    ]
    assert effective_series(events, at(D(2022, 4, 30))) == []


TARGET = make_target("t.share", task="2.1.1", lead="ag.lead", co=("ag.co",))
PLAN = make_plan([TARGET]).model_copy(
    update={
        "breakdowns": {
            "county.a": BreakdownUnit(id="county.a", name_zh="甲", name_en="A", kind="county"),
            "county.b": BreakdownUnit(id="county.b", name_zh="乙", name_en="B", kind="county"),
        }
    }
)
WORKED = [
    obs(D(2021, 6, 30), 45, D(2021, 7, 5), agency="ag.lead"),
    obs(D(2021, 12, 31), 58, D(2022, 1, 6), agency="ag.lead"),
    obs(D(2022, 6, 30), 66, D(2022, 7, 4), agency="ag.lead"),
]


def test_the_worked_example_under_v1_1_with_breakdowns_beside_it() -> None:
    """The public worked example's figures hold under v1.1; scoped reports (a county far
    ahead, another behind, one withdrawn) change nothing of the headline."""
    scoped = [
        obs(D(2021, 12, 31), 60, D(2022, 1, 3), agency="ag.lead", scope="county.a"),
        obs(D(2022, 6, 30), 99, D(2022, 7, 1), agency="ag.co", scope="county.a"),
        obs(D(2021, 12, 31), 20, D(2022, 1, 2), agency="ag.co", scope="county.b"),
        obs(D(2022, 6, 30), 30, D(2022, 7, 2), agency="ag.co", scope="county.b"),
        obs(D(2022, 6, 30), None, D(2022, 7, 3), agency="ag.co", scope="county.b"),
    ]
    state = score_plan(PLAN, [*WORKED, *scoped], at(D(2022, 7, 4)))
    result = state.targets["t.share"]
    assert result.method == "v1.1"
    assert result.progress_share == pytest.approx(21 / 35)
    assert result.expected_share == pytest.approx(365 / 549)
    assert result.pace_ratio == pytest.approx(0.9025, abs=1e-4)
    assert result.status is Status.AT_RISK
    assert result.score == pytest.approx(2.161, abs=1e-3)
    figures = state.breakdowns["t.share"]
    assert figures["county.a"].current.value == 99
    assert figures["county.a"].current.agency == "ag.co"
    # By the same rules as the headline: its own first point (60) is its baseline.
    assert figures["county.a"].progress_share == pytest.approx((99 - 60) / (80 - 60))
    assert figures["county.a"].points == 2
    # county.b's June figure was withdrawn: its December figure stands (its only point).
    assert (figures["county.b"].current.as_of, figures["county.b"].current.value) == (
        D(2021, 12, 31),
        20,
    )
    assert figures["county.b"].progress_share == 0
    view = plan_state_to_json(state)
    assert view["method"] == "v1.1"
    assert view["breakdowns"]["t.share"]["county.a"]["value"] == 99
    assert view["overall"]["coverage"] == 1.0
