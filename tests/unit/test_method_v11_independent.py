"""`planwatch score` on generated scenarios with co-agency headline events, scoped figures and
retractions by either agency, against an independent implementation of method v1.1 written
from ../shared/docs/scoring.md alone (sharing no code with the method): statuses, scores and
the plan's roll-up agree.

The target is `gov.mobile-services` (share, >= 80, deadline 2022-12-31, reporter the lead
市政务服务数据管理局); its co-owner 市各政务管理有关单位 may only send scoped figures, so its
headline events are refused line by line (`not_reporter`) and must count for nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planwatch.score_cli import score_app
from shared.contract.codec import encode_structured
from shared.contract.events import new_report, new_retraction
from shared.domain.observation import Observation
from shared.domain.timebase import CST
from tests.unit.test_method_v11 import independent_series

runner = CliRunner()
PLAN = "qingyuan-digital-economy-2021"
TARGET = "gov.mobile-services"
LEAD, CO = "qy.gov-data", "qy.gov-units"
T, DEADLINE, TOL_SHARE = 80.0, date(2022, 12, 31), 0.01
AS_OFS = [date(2021, 6, 30), date(2021, 9, 30), date(2021, 12, 31), date(2022, 3, 31)]
AS_OFS += [date(2022, 6, 30), date(2022, 9, 30), date(2022, 12, 31)]


@dataclass(frozen=True)
class Sent:
    event_id: str
    agency: str
    as_of: date
    reported_at: datetime
    value: float | None  # None: a retraction
    scope: str | None


def line(event: Sent) -> str:
    if event.value is None:
        built = new_retraction(
            agency=event.agency,
            plan=PLAN,
            target=TARGET,
            as_of=event.as_of,
            time=event.reported_at,
            event_id=event.event_id,
            scope=event.scope,
            reason="withdrawn",
        )
        return encode_structured(built).decode()
    report = new_report(
        agency=event.agency,
        plan=PLAN,
        target=TARGET,
        as_of=event.as_of,
        time=event.reported_at,
        event_id=event.event_id,
        scope=event.scope,
        value=event.value,
    )
    return encode_structured(report).decode()


# --- the independent implementation (scoring.md, literally) ---------------------------------


def status_and_score(series: list[tuple[date, float]], c: date) -> tuple[str, float | None]:
    if not series:
        return "NO_DATA", None
    (t_b, b), (t_v, v) = series[0], series[-1]
    if v >= T:
        return "ACHIEVED", 5.0
    if c > DEADLINE and (t_v >= DEADLINE or (c - DEADLINE).days > 90):
        return "MISSED", -5.0
    e = min(max((t_v - t_b).days / (DEADLINE - t_b).days, 0.0), 1.0)
    # p = (v - b) / (T - b) has no value when the baseline sits on the target (rule 4 then)
    r = None if (t_v - t_b).days < 28 or e == 0 or b == T else ((v - b) / (T - b)) / e
    if v - b < -TOL_SHARE * abs(T - b) or T - b <= 0:
        if r is not None and r < 0:
            return "DETERIORATING", max(4.1667 * r - 2.5, -5.0)
        return "DETERIORATING", -5.0
    if r is None:
        return "INSUFFICIENT_DATA", None
    score = min(7.1429 * r - 4.2857, 5.0) if r >= 0.6 else max(4.1667 * r - 2.5, -5.0)
    if r >= 0.95:
        return "ON_TRACK", score
    return ("AT_RISK" if r >= 0.6 else "OFF_TRACK"), score


def headline_events(events: list[Sent]) -> list[Sent]:
    """Only the reporter's unscoped events make the headline (v1.1 reporters)."""
    return [e for e in events if e.agency == LEAD and e.scope is None]


# --- scenarios --------------------------------------------------------------------------------

_sent = st.builds(
    lambda n, agency, as_of, lag, minute, value, scoped: Sent(
        f"ev-{n:04d}",
        agency,
        as_of,
        datetime.combine(as_of + timedelta(days=lag), datetime.min.time(), CST)
        + timedelta(hours=9, minutes=minute),
        value,
        "county.yingde" if scoped else None,
    ),
    st.integers(0, 9999),
    st.sampled_from([LEAD, LEAD, CO]),
    st.sampled_from(AS_OFS),
    st.integers(1, 40),
    st.integers(0, 59),
    st.one_of(st.none(), st.integers(30, 95).map(float)),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(_sent, min_size=1, max_size=12, unique_by=lambda e: e.event_id),
    at=st.sampled_from([date(2022, 2, 1), date(2022, 8, 15), date(2023, 1, 20), date(2023, 6, 1)]),
)
@example(  # the baseline sits on the target (80), then falls: p has no value, rule 4 holds
    events=[
        Sent("ev-0", LEAD, date(2021, 6, 30), datetime(2021, 7, 1, 9, tzinfo=CST), 80.0, None),
        Sent("ev-1", LEAD, date(2021, 9, 30), datetime(2021, 10, 1, 9, tzinfo=CST), 30.0, None),
    ],
    at=date(2022, 2, 1),
)
def test_planwatch_score_agrees_with_an_independent_v1_1(
    events: list[Sent], at: date, tmp_path_factory: pytest.TempPathFactory
) -> None:
    feed = tmp_path_factory.mktemp("v11") / "events.jsonl"
    feed.write_text("".join(line(e) + "\n" for e in events), encoding="utf-8")
    result = runner.invoke(score_app, ["--events", str(feed), "--at", at.isoformat()])
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:  # every line refused: nothing to score (an explicit error)
        assert all(e.agency == CO and e.scope is None for e in events)
        return
    state = json.loads(result.stdout)
    c = datetime.combine(at, datetime.max.time(), CST)
    observed = [
        _as_observation(e)
        for e in headline_events(events)  # the co-owner's headline lines are refused
    ]
    series = independent_series(observed, c)
    status, score = status_and_score(series, at)
    got = state["targets"][TARGET]
    assert got["status"] == status
    if score is None:
        assert got["score"] is None
    else:
        assert got["score"] is not None and abs(got["score"] - score) < 1e-6
    # The plan's roll-up: the only scored target is this one (weight 1).
    assert state["overall"]["score"] == got["score"]
    # Scoped figures are beside the headline, never in it.
    scoped = {e.agency for e in events if e.scope is not None}
    if not scoped:
        assert TARGET not in state["breakdowns"]


def _as_observation(event: Sent) -> Observation:
    return Observation(
        event_id=event.event_id,
        target=TARGET,
        as_of=event.as_of,
        reported_at=event.reported_at,
        value=event.value,
        agency=event.agency,
    )


def test_a_co_owners_headline_counts_for_nothing(tmp_path: Path) -> None:
    """The worked example's first two reports, then the co-owner's citywide 79 (refused as
    not_reporter, so the lead's figure stands) and its county figure (beside the headline)."""
    lead = [
        Sent("w1", LEAD, date(2021, 6, 30), datetime(2021, 7, 5, 10, tzinfo=CST), 45.0, None),
        Sent("w2", LEAD, date(2021, 12, 31), datetime(2022, 1, 6, 10, tzinfo=CST), 58.0, None),
    ]
    co = [
        Sent("c1", CO, date(2022, 3, 31), datetime(2022, 4, 6, 10, tzinfo=CST), 79.0, None),
        Sent(
            "c2", CO, date(2022, 3, 31), datetime(2022, 4, 6, 11, tzinfo=CST), 90.0, "county.yingde"
        ),
    ]
    feed = tmp_path / "events.jsonl"
    feed.write_text("".join(line(e) + "\n" for e in lead + co), encoding="utf-8")
    result = runner.invoke(score_app, ["--events", str(feed), "--at", "2022-04-10"])
    assert result.exit_code == 0, result.output
    assert "not_reporter" in result.stderr
    got = json.loads(result.stdout)["targets"][TARGET]
    c = datetime(2022, 4, 10, 23, 59, tzinfo=CST)
    expected = status_and_score(
        independent_series([_as_observation(e) for e in lead], c), date(2022, 4, 10)
    )
    assert (got["status"], got["current"]["value"]) == (expected[0], 58.0)
    assert got["status"] == "ON_TRACK"  # counting the co-owner's 79 would read otherwise
    breakdown = json.loads(result.stdout)["breakdowns"][TARGET]["county.yingde"]
    assert (breakdown["value"], breakdown["agency"]) == (90.0, CO)
