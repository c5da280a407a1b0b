"""The demo scenario: deterministic per seed, realistic (cadence, official workdays, reports
clustering before the 报送 day, office hours), and telling the stories docs/demo.md promises —
checked with ingest's own validation, `chinese_calendar` and the scoring method, not by
restating the generator."""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest

from planwatch.simulate.agencies import demo_keys, registry_lines
from planwatch.simulate.feed import kafka_record
from planwatch.simulate.scenario import (
    FeedItem,
    Outcome,
    RawBytes,
    Role,
    Scenario,
    ScenarioError,
    build_scenario,
    period_ends,
)
from planwatch.simulate.stories import (
    INDICATOR_TRENDS,
    LATECOMER_AGENCY,
    QUARTERS_TO_DEADLINE,
    SILENT_AFTER,
    SILENT_AGENCY,
    STORIES,
    Arc,
    Steps,
)
from planwatch.simulate.workdays import (
    EARLY_WORKDAY_WEIGHTS,
    LATE_WORKDAYS,
    MONTHLY_SUBMISSION_DAY,
    QUARTERLY_SUBMISSION_DAY,
    submission_day,
    workdays_from,
)
from services.ingest.keyring import parse_keys, snapshot
from services.ingest.validation import Accepted, AcceptedProblem, Rejected, validate_kafka
from shared.catalog import load_catalog
from shared.contract.codec import encode_structured
from shared.contract.events import ClockTick, ProgressReported, ProgressRetracted
from shared.contract.observation import to_observation
from shared.contract.reasons import Reason
from shared.domain.catalog import Cadence, Deliverable, Kind, Plan
from shared.domain.method_v1 import AlertRule, Status, score_plan
from shared.domain.timebase import CST

PLAN_ID = "qingyuan-digital-economy-2021"
INTAKE_AT = datetime(2026, 1, 1, tzinfo=UTC)  # ingest's wall clock: after every simulated time


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_catalog().plan(PLAN_ID)


@pytest.fixture(scope="module")
def scenario(plan: Plan) -> Scenario:
    return build_scenario(plan, seed=2021)


def _fingerprint(item: FeedItem) -> tuple[object, ...]:
    payload = item.payload
    body = payload.body if isinstance(payload, RawBytes) else encode_structured(payload)
    return (item.at, item.offset, body, str(item.expected), item.role)


def _reports(scenario: Scenario) -> list[FeedItem]:
    """The accepted reports on the plan's scored targets."""
    return [i for i in _all_reports(scenario) if i.role not in (Role.DELIVERABLE, Role.INDICATOR)]


def _all_reports(scenario: Scenario) -> list[FeedItem]:
    """Every accepted report: on targets, deliverables and indicators."""
    return [
        i
        for i in scenario.items
        if i.expected.outcome is Outcome.ACCEPTED and isinstance(i.payload, ProgressReported)
    ]


def _workdays_between(first: date, last: date) -> int:
    """Workdays after `first` up to and including `last` (negative when `last` is earlier)."""
    if last < first:
        return -_workdays_between(last, first)
    days = (first + timedelta(days=n) for n in range(1, (last - first).days + 1))
    return sum(1 for day in days if chinese_calendar.is_workday(day))


def _values(scenario: Scenario) -> list[float | None]:
    return [
        i.payload.data.value for i in _reports(scenario) if isinstance(i.payload, ProgressReported)
    ]


def _state_at(plan: Plan, scenario: Scenario, day: date):  # type: ignore[no-untyped-def]
    observations = [
        to_observation(i.payload, plan)
        for i in scenario.items
        if i.expected.outcome is Outcome.ACCEPTED
        and isinstance(i.payload, ProgressReported | ProgressRetracted)
    ]
    return score_plan(plan, observations, datetime.combine(day, time(23, 0), CST))


# --- determinism ----------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes(plan: Plan, scenario: Scenario) -> None:
    again = build_scenario(plan, seed=2021)
    assert [_fingerprint(i) for i in again.items] == [_fingerprint(i) for i in scenario.items]


def test_another_seed_gives_other_ids_values_and_keys(plan: Plan, scenario: Scenario) -> None:
    other = build_scenario(plan, seed=7)
    ids = {i.event_id for i in scenario.items if i.role is not Role.TICK} - {None}
    other_ids = {i.event_id for i in other.items if i.role is not Role.TICK} - {None}
    assert ids and ids.isdisjoint(other_ids)
    assert _values(scenario) != _values(other)
    assert other.keys["qy.miit"].key_id != scenario.keys["qy.miit"].key_id


def test_items_are_in_time_order_with_offsets_from_the_start(scenario: Scenario) -> None:
    times = [i.at for i in scenario.items]
    assert times == sorted(times)
    assert scenario.start == datetime(2021, 5, 11, tzinfo=CST)
    assert all(i.offset == i.at - scenario.start for i in scenario.items)
    assert all(scenario.start <= i.at <= scenario.end for i in scenario.items)


# --- what the platform should do with each item: ingest's own validation agrees -------------


def test_every_item_gets_the_verdict_ingest_gives_it(plan: Plan, scenario: Scenario) -> None:
    keys = snapshot(parse_keys(registry_lines(scenario.keys.values())))
    catalog = load_catalog()
    for item in scenario.items:
        if isinstance(item.payload, ClockTick):
            continue
        _, value, headers = kafka_record(item)
        verdict = validate_kafka(value, headers, catalog, keys, INTAKE_AT)
        outcome = item.expected.outcome
        if (
            outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE)
            or item.expected.reason is Reason.CONFLICT
        ):
            # Duplicates and conflicts are valid events; only the store tells them apart.
            # A problem event is accepted as one (it goes to scoring's problem desk).
            wanted = AcceptedProblem if item.role is Role.PROBLEM else Accepted
            assert isinstance(verdict, wanted), (item.label, verdict)
        else:
            assert isinstance(verdict, Rejected), item.label
            assert verdict.reason is item.expected.reason, (item.label, verdict.message)


def test_the_bad_events_cover_every_refusal_the_demo_promises(scenario: Scenario) -> None:
    bad = scenario.of_role(Role.BAD)
    assert sorted(str(i.expected) for i in bad) == sorted(
        [
            "duplicate",
            "rejected:bad_signature",
            "rejected:conflict",
            "rejected:malformed",
            "rejected:not_reporter",
            "rejected:not_responsible",
            "rejected:unknown_key",
            "rejected:unsigned",
            "rejected:value_out_of_range",
        ]
    )
    by_reason = {i.expected.reason: i for i in bad}
    stored = {i.event_id: i for i in scenario.items if i.expected.outcome is Outcome.ACCEPTED}
    resend = next(i for i in bad if i.expected.outcome is Outcome.DUPLICATE)
    original = stored[resend.event_id]
    assert original.at < resend.at
    assert encode_structured(original.payload) == encode_structured(resend.payload)  # type: ignore[arg-type]
    conflict = by_reason[Reason.CONFLICT]
    reused = stored[conflict.event_id]
    assert reused.at < conflict.at
    assert encode_structured(reused.payload) != encode_structured(conflict.payload)  # type: ignore[arg-type]
    assert isinstance(by_reason[Reason.MALFORMED].payload, RawBytes)


def _scope(item: FeedItem) -> str | None:
    payload = item.payload
    assert isinstance(payload, ProgressReported | ProgressRetracted)
    return payload.data.scope


# --- realism --------------------------------------------------------------------------------


def test_every_target_is_reported_on_its_cadence_by_responsible_agencies(
    plan: Plan, scenario: Scenario
) -> None:
    by_target: dict[str, list[FeedItem]] = defaultdict(list)
    for item in _reports(scenario):
        by_target[item.target or ""].append(item)
    assert set(by_target) == set(plan.targets)
    for target_id, items in by_target.items():
        target = plan.targets[target_id]
        ends = set(period_ends(target.cadence, plan.issued, date(2023, 12, 31)))
        assert all(i.as_of in ends for i in items), target_id
        assert {i.agency for i in items} <= plan.responsible_for(target_id)
        leads = [i for i in items if i.agency == target.headline_reporters[0]]
        assert len(leads) >= len(items) / 2, f"{target_id}: the reporter reports most periods"
        # v1.1: anyone else sends only scoped figures (breakdowns), never the headline
        others = [i for i in items if i.agency != target.headline_reporters[0]]
        assert all(i.role is Role.CO_REPORT for i in others), target_id
        assert all(_scope(i) is not None for i in others), target_id
        if target.lead != SILENT_AGENCY:
            # Every period up to the deadline is reported (once, or typo + correction).
            due = {d for d in ends if d <= target.pace_until}
            assert due <= {i.as_of for i in items}, target_id


def test_nothing_is_sent_on_a_day_off_in_china(scenario: Scenario) -> None:
    # Weekends and public holidays are days off; 调休 Saturdays and Sundays are workdays.
    sent = [i for i in scenario.items if i.role is not Role.TICK]
    assert sent
    for item in sent:
        assert chinese_calendar.is_workday(item.at.date()), item.label
        assert time(9, 0) <= item.at.timetz().replace(tzinfo=None) <= time(17, 31), item.label
    days = Counter(i.at.date() for i in sent)
    # The Spring Festival week of 2022 (31 January to 6 February) is quiet ...
    assert not [d for d in days if date(2022, 1, 31) <= d <= date(2022, 2, 6)]
    # ... and the agencies do work on the adjusted Saturdays and Sundays around holidays.
    assert [d for d in days if d.weekday() >= 5], "some reports on 调休 weekend days"


def _due(plan: Plan, item: FeedItem) -> date:
    subject = plan.subject(item.target or "")
    assert subject is not None and item.as_of is not None
    if isinstance(subject, Deliverable):  # reported quarterly at most
        return submission_day(Cadence.QUARTERLY, item.as_of)
    return submission_day(subject.cadence, item.as_of)


_PERIODIC = (Role.REPORT, Role.CO_REPORT, Role.TYPO, Role.WRONG, Role.DELIVERABLE, Role.INDICATOR)


def test_reports_cluster_in_the_last_workdays_before_the_submission_day(
    plan: Plan, scenario: Scenario
) -> None:
    items = scenario.of_role(*_PERIODIC)
    before: list[int] = []
    for item in items:
        due = _due(plan, item)
        ahead = _workdays_between(item.at.date(), due)  # > 0: workdays before the 报送 day
        lag = (item.at.date() - (item.as_of or date.min)).days
        assert 3 <= lag <= 25, (item.label, lag)  # days to a few weeks after the period
        if item.agency == LATECOMER_AGENCY:
            assert -LATE_WORKDAYS[1] <= ahead <= -LATE_WORKDAYS[0], (item.label, ahead)
        else:
            assert 0 <= ahead < len(EARLY_WORKDAY_WEIGHTS[Cadence.QUARTERLY]), (item.label, ahead)
            before.append(ahead)
    # A stated majority: at least 70 % arrive on the 报送 day or in the 3 workdays before it.
    assert sum(1 for n in before if n <= 3) >= 0.7 * len(before)
    # The latecomer is late every time, and it is the only one.
    late = [i for i in items if _workdays_between(i.at.date(), _due(plan, i)) < 0]
    assert late and {i.agency for i in late} == {LATECOMER_AGENCY}


def test_the_submission_day_is_the_10th_or_15th_moved_past_holidays() -> None:
    assert (MONTHLY_SUBMISSION_DAY, QUARTERLY_SUBMISSION_DAY) == (10, 15)
    assert submission_day(Cadence.MONTHLY, date(2022, 8, 31)) == date(2022, 9, 13)  # 中秋
    assert submission_day(Cadence.MONTHLY, date(2022, 9, 30)) == date(2022, 10, 10)
    assert submission_day(Cadence.MONTHLY, date(2022, 1, 31)) == date(2022, 2, 10)
    assert submission_day(Cadence.QUARTERLY, date(2022, 9, 30)) == date(2022, 10, 17)  # Sat
    # Spring Festival 2024 covers the 10th; the next workday is an adjusted Sunday (调休).
    assert submission_day(Cadence.MONTHLY, date(2024, 1, 31)) == date(2024, 2, 18)
    # Counting workdays skips the National Day week but not its adjusted Saturday.
    assert workdays_from(date(2021, 10, 11), -1) == date(2021, 10, 9)  # a working Saturday
    assert workdays_from(date(2021, 10, 11), -3) == date(2021, 9, 30)
    assert workdays_from(date(2021, 10, 8), -1) == date(2021, 9, 30)
    assert workdays_from(date(2021, 9, 30), 1) == date(2021, 10, 8)


def test_reported_values_are_plausible_for_their_kind(plan: Plan, scenario: Scenario) -> None:
    for item in _reports(scenario):
        assert isinstance(item.payload, ProgressReported)
        target = plan.targets[item.payload.data.target]
        value = item.payload.data.value
        if target.kind is Kind.MILESTONE:
            assert item.payload.data.stage in {s.id for s in target.stages}
        elif target.kind is Kind.SHARE:
            assert value is not None and 0 <= value <= 100
        elif target.kind is Kind.RANK:
            assert value is not None and value.is_integer() and 1 <= value <= (target.rank_of or 0)
        else:
            assert value is not None and value.is_integer() and value >= 0


def test_event_times_increase_per_agency_and_target(scenario: Scenario) -> None:
    last: dict[tuple[str | None, str | None], datetime] = {}
    for item in scenario.items:
        if item.role in (Role.TICK, Role.BAD):
            continue
        key = (item.agency, item.target)
        assert key not in last or last[key] < item.at, item.label
        last[key] = item.at


def test_the_clock_ticks_every_day_without_signature(scenario: Scenario) -> None:
    ticks = [i for i in scenario.items if isinstance(i.payload, ClockTick)]
    days = [t.at.date() for t in ticks]
    assert days[0] == date(2021, 5, 11)
    assert days[-1] == scenario.end.date()
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(days))
    assert all(
        isinstance(t.payload, ClockTick) and t.payload.envelope.signature is None for t in ticks
    )
    assert all(t.topic == "planwatch.clock" for t in ticks)


def test_milestone_stages_only_step_back_where_the_story_says(
    plan: Plan, scenario: Scenario
) -> None:
    drops: dict[str, list[date]] = defaultdict(list)
    for story in STORIES:
        target = plan.targets[story.target]
        if target.kind is not Kind.MILESTONE:
            continue
        assert isinstance(story.path, Steps)
        points = sorted(
            (i.as_of, target.stage_index(i.payload.data.stage or ""))  # type: ignore[union-attr]
            for i in _reports(scenario)
            if i.target == target.id
        )
        quarters = period_ends(Cadence.QUARTERLY, plan.issued, date(2023, 12, 31))
        intended = {quarters[p] for p in story.path.intended_drop_at}
        for (_, before), (as_of, after) in itertools.pairwise(points):
            assert before is not None and after is not None
            if after < before and as_of is not None:
                drops[target.id].append(as_of)
                assert as_of in intended, f"{target.id} steps back at {as_of}"
    assert drops == {"industry.data-centre-cluster": [date(2022, 9, 30)]}


def test_quarterly_step_stories_cover_the_quarters_to_the_deadline() -> None:
    for story in STORIES:
        if isinstance(story.path, Steps):
            assert len(story.path.values) == QUARTERS_TO_DEADLINE, story.target


# --- commitments and indicators -------------------------------------------------------------


def test_commitment_leads_report_deliverables_done_with_evidence_and_leave_some_open(
    plan: Plan, scenario: Scenario
) -> None:
    items = scenario.of_role(Role.DELIVERABLE)
    assert {i.target for i in items} == set(plan.deliverables), "every deliverable reported"
    quarters = set(period_ends(Cadence.QUARTERLY, plan.issued, plan.horizon_end))
    per_quarter = Counter((i.target, i.as_of) for i in items)
    assert max(per_quarter.values()) == 1, "a deliverable is reported at most once a quarter"
    stages: dict[str, list[str]] = defaultdict(list)
    for item in items:
        assert isinstance(item.payload, ProgressReported)
        data = item.payload.data
        deliverable = plan.deliverables[data.target]
        lead = plan.commitments[deliverable.commitment].lead
        assert item.agency == lead == deliverable.headline_reporters[0], item.label
        assert data.scope is None and item.as_of in quarters and data.note, item.label
        assert data.stage in ("done", "not-done"), item.label
        if data.stage == "done":
            assert data.evidence is not None, item.label
            assert re.fullmatch(r"https://evidence\.example\.gov\.cn/[\w./-]+", data.evidence)
        else:
            assert data.evidence is None, item.label
        stages[data.target].append(data.stage)
    # Once done, a deliverable stays done.
    assert all(s.index("done") == len(s) - 1 for s in stages.values() if "done" in s)
    tracked = _state_at(plan, scenario, scenario.end.date()).tracked
    assert tracked is not None
    commitments = tracked.commitments.values()
    outcomes = {d.done for c in commitments for d in c.deliverables}
    assert outcomes == {True, False}, "the dashboard shows done and not-done deliverables"
    for commitment in commitments:
        if plan.commitments[commitment.id].lead != SILENT_AGENCY:
            assert commitment.done >= 1, commitment.id
    assert any(c.late for c in commitments), "a dated commitment ends not complete"


def test_indicators_get_quarterly_invented_values_from_their_reporter(
    plan: Plan, scenario: Scenario
) -> None:
    items = scenario.of_role(Role.INDICATOR)
    assert {t.indicator for t in INDICATOR_TRENDS} == set(plan.indicators)
    quarters = period_ends(Cadence.QUARTERLY, plan.issued, plan.horizon_end)
    for indicator in plan.indicators.values():
        mine = [i for i in items if i.target == indicator.id]
        assert {i.agency for i in mine} == {indicator.headline_reporters[0]} == {"qy.statistics"}
        series: list[float] = []
        for item in sorted(mine, key=lambda i: i.as_of or date.min):
            assert isinstance(item.payload, ProgressReported)
            data = item.payload.data
            assert data.scope is None and "simulated" in (data.note or ""), item.label
            assert data.value is not None and data.value > 0, item.label
            if indicator.kind is Kind.COUNT:
                assert data.value.is_integer(), item.label
            series.append(data.value)
        assert set(quarters) <= {i.as_of for i in mine}, indicator.id
        assert series[-1] > 1.1 * series[0], f"{indicator.id}: a rising trend"
        if indicator.kind is Kind.COUNT:  # stocks never shrink
            assert series == sorted(series), indicator.id
    tracked = _state_at(plan, scenario, scenario.end.date()).tracked
    assert tracked is not None
    assert all(s.current is not None for s in tracked.indicators.values())


def test_story_texts_name_no_real_place_or_enterprise_as_doing_something(plan: Plan) -> None:
    # Breakdowns and co-owners are named by their ids; the texts describe simulated series.
    real = {"粤省事", "腾讯", "Tencent", "明普", "Mingpu", "China Tower", "China Telecom"}
    real |= {unit.name_zh for unit in plan.breakdowns.values()}
    real |= {unit.name_en for unit in plan.breakdowns.values()}
    real |= {agency.name_zh for agency in plan.agencies.values()}
    real |= {name[:-1] for name in real if name.endswith(("区", "市", "县"))}  # 英德市 -> 英德
    for text in [s.why for s in STORIES] + [t.why for t in INDICATOR_TRENDS]:
        assert not [name for name in real if name in text], text
    assert all(t.why.startswith("Invented") for t in INDICATOR_TRENDS)


# --- the special stories --------------------------------------------------------------------


def test_the_silent_agency_stops_reporting_and_goes_overdue(plan: Plan, scenario: Scenario) -> None:
    silent = [i for i in _reports(scenario) if i.agency == SILENT_AGENCY]
    assert silent, "it reports before it falls silent"
    assert max(i.as_of for i in silent if i.as_of) == SILENT_AFTER
    state = _state_at(plan, scenario, date(2022, 10, 31))
    overdue = {a.target for a in state.alerts if a.rule is AlertRule.REPORT_OVERDUE}
    its_targets = {t.id for t in plan.targets.values() if t.lead == SILENT_AGENCY}
    assert its_targets <= overdue
    assert overdue <= its_targets, "nobody else is overdue"


def test_a_correction_follows_a_typo_for_the_same_as_of(scenario: Scenario) -> None:
    (typo,) = scenario.of_role(Role.TYPO)
    (fix,) = scenario.of_role(Role.CORRECTION)
    assert (typo.agency, typo.target, typo.as_of) == (fix.agency, fix.target, fix.as_of)
    assert typo.at < fix.at
    assert isinstance(typo.payload, ProgressReported) and isinstance(fix.payload, ProgressReported)
    assert typo.payload.data.value is not None and fix.payload.data.value is not None
    assert typo.payload.data.value == pytest.approx(fix.payload.data.value / 10, abs=0.01)


def test_a_retraction_withdraws_a_wrong_report(plan: Plan, scenario: Scenario) -> None:
    (wrong,) = scenario.of_role(Role.WRONG)
    (retraction,) = scenario.of_role(Role.RETRACTION)
    assert isinstance(retraction.payload, ProgressRetracted)
    assert (wrong.agency, wrong.target, wrong.as_of) == (
        retraction.agency,
        retraction.target,
        retraction.as_of,
    )
    assert wrong.at < retraction.at
    # Achieved on the wrong report, no longer once it is withdrawn.
    target = wrong.target or ""
    assert _state_at(plan, scenario, wrong.at.date()).targets[target].status is Status.ACHIEVED
    after = _state_at(plan, scenario, retraction.at.date()).targets[target]
    assert after.status is not Status.ACHIEVED


def test_the_arcs_show_in_the_scoring_method(plan: Plan, scenario: Scenario) -> None:
    end = _state_at(plan, scenario, scenario.end.date())
    early = _state_at(plan, scenario, date(2022, 10, 31))
    mid = _state_at(plan, scenario, date(2022, 9, 30))
    for story in STORIES:
        final = end.targets[story.target].status
        if story.arc is Arc.ACHIEVED_EARLY:
            assert early.targets[story.target].status is Status.ACHIEVED, story.target
        elif story.arc in (Arc.ON_TRACK, Arc.CATCHES_UP):
            assert final is Status.ACHIEVED, story.target
        elif story.arc in (Arc.LAGGING, Arc.SILENT):
            if plan.targets[story.target].deadline is None:  # no date in the plan: never missed
                assert final in (Status.AT_RISK, Status.OFF_TRACK), story.target
            else:
                assert final is Status.MISSED, story.target
        elif story.arc is Arc.DETERIORATING:
            assert mid.targets[story.target].status is Status.DETERIORATING
            assert final is Status.MISSED


def test_the_stories_hold_for_other_seeds_too(plan: Plan) -> None:
    for seed in (1, 99, 123456):
        other = build_scenario(plan, seed=seed)
        end = _state_at(plan, other, other.end.date())
        achieved = {t for t, r in end.targets.items() if r.status is Status.ACHIEVED}
        expected = {
            s.target for s in STORIES if s.arc in (Arc.ACHIEVED_EARLY, Arc.ON_TRACK, Arc.CATCHES_UP)
        }
        assert achieved == expected, seed


# --- inputs ---------------------------------------------------------------------------------


def test_period_ends_follow_months_and_calendar_quarters() -> None:
    assert period_ends(Cadence.MONTHLY, date(2021, 5, 11), date(2021, 8, 30)) == [
        date(2021, 5, 31),
        date(2021, 6, 30),
        date(2021, 7, 31),
    ]
    assert period_ends(Cadence.QUARTERLY, date(2021, 5, 11), date(2022, 3, 31)) == [
        date(2021, 6, 30),
        date(2021, 9, 30),
        date(2021, 12, 31),
        date(2022, 3, 31),
    ]


def test_stories_must_fit_the_plan(plan: Plan) -> None:
    with pytest.raises(ScenarioError, match=r"targets without a story \['agri\.traceability'\]"):
        build_scenario(plan, stories=[s for s in STORIES if s.target != "agri.traceability"])
    with pytest.raises(ScenarioError, match="tick_every_days"):
        build_scenario(plan, tick_every_days=0)
    with pytest.raises(ScenarioError, match="not after the plan's issue date"):
        build_scenario(plan, until=date(2021, 1, 1))


def test_demo_keys_are_derived_per_seed_and_agency_and_load_in_ingest(plan: Plan) -> None:
    first, again, other = demo_keys(plan, 1), demo_keys(plan, 1), demo_keys(plan, 2)
    assert set(first) == set(plan.agencies)
    assert [k.registry_entry() for k in first.values()] == [
        k.registry_entry() for k in again.values()
    ]
    assert (
        first["qy.miit"].registry_entry().public_key != other["qy.miit"].registry_entry().public_key
    )
    assert len({k.registry_entry().public_key for k in first.values()}) == len(first)
    loaded = parse_keys(registry_lines(first.values()))
    assert {(k.agency, k.key_id) for k in loaded} == {(a, k.key_id) for a, k in first.items()}
