"""The demo feed as a pure function: (plan, seed) -> the ordered list of what to send, when,
and what the platform should do with it.

Nothing here reads the clock, the network or files: the same plan and seed give the same
items, byte for byte (Ed25519 signatures are deterministic). Times are simulated instants in
China Standard Time; an item's `offset` from the scenario's start is what the sender scales
to wall time. See docs/demo.md for the story each target tells.
"""

from __future__ import annotations

import calendar
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from planwatch.simulate.agencies import DemoKey, demo_key, demo_keys, derived_key
from planwatch.simulate.problems import problem_items
from planwatch.simulate.stories import (
    CORRECTED_AS_OF,
    CORRECTED_TARGET,
    EVIDENCE_BASE,
    INDICATOR_TRENDS,
    LATECOMER_AGENCY,
    OPEN_SHARE_DIVISOR,
    RETRACTED_AS_OF,
    RETRACTED_TARGET,
    RETRACTED_WRONG_VALUE,
    SILENT_AFTER,
    SILENT_AGENCY,
    STORIES,
    CoReport,
    Curve,
    IndicatorTrend,
    Steps,
    Story,
)
from planwatch.simulate.workdays import next_workday, report_day
from shared import topics
from shared.contract.codec import STRUCTURED_CONTENT_TYPE
from shared.contract.events import (
    AgencyEvent,
    ClockTick,
    ProgressReported,
    ProgressRetracted,
    Unit,
    new_report,
    new_retraction,
    new_tick,
)
from shared.contract.reasons import Reason
from shared.contract.signing import sign
from shared.domain.catalog import Cadence, Commitment, Kind, Plan, Subject, Target
from shared.domain.timebase import CST

DEFAULT_SEED: Final = 2021
#: A little past the plan's horizon (2022-12-31): the last reports of 2022 arrive in 2023, and
#: a target still unreported 90 days after its deadline counts as missed (scoring rule 3).
DEFAULT_UNTIL: Final = date(2023, 4, 15)

# When reports are sent: on official workdays (holidays and 调休 from `chinesecalendar`), in the
# last workdays before the demo's 报送 day, or a workday or two after it for the latecomer (see
# planwatch.simulate.workdays). The spread stays inside the grace scoring allows (period + 10
# days monthly, + 20 quarterly), so an agency that keeps reporting never looks stale.
WORKDAY_START: Final = time(9, 0)
WORKDAY_MINUTES: Final = 8 * 60 + 30
CORRECTION_AFTER_DAYS: Final = 3
RETRACTION_AFTER_DAYS: Final = 6


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # stored in `reports`, passed to scoring
    DUPLICATE = "duplicate"  # a resend of a stored event: acknowledged, not stored again
    REJECTED = "rejected"  # dead-lettered with `reason`
    TICK = "tick"  # a clock tick: scoring's clock moves


@dataclass(frozen=True)
class Expected:
    outcome: Outcome
    reason: Reason | None = None

    def __str__(self) -> str:
        return f"{self.outcome.value}:{self.reason.value}" if self.reason else self.outcome.value


class Role(StrEnum):
    REPORT = "report"  # the headline reporter's regular report on a target
    CO_REPORT = "co-report"  # a co-owner's scoped breakdown (its county or park) beside it
    DELIVERABLE = "deliverable"  # a commitment's lead reports a deliverable done or not
    INDICATOR = "indicator"  # the statistics bureau reports an indicator's quarterly value
    TYPO = "typo"  # a report with a misplaced decimal point ...
    CORRECTION = "correction"  # ... and the later report for the same as_of that fixes it
    WRONG = "wrong"  # a report that is later retracted ...
    RETRACTION = "retraction"  # ... and its retraction
    TICK = "tick"
    BAD = "bad"  # an event the platform must refuse (or, for a resend, ignore)
    PROBLEM = "problem"  # a problem raised by an agency, or the coordinator's step on it


@dataclass(frozen=True)
class RawBytes:
    """Bytes that are not an event (sent as they are, with this content type)."""

    body: bytes
    content_type: str = STRUCTURED_CONTENT_TYPE


Payload = AgencyEvent | RawBytes


@dataclass(frozen=True)
class FeedItem:
    at: datetime  # the simulated instant it is sent (an event's `time`), CST
    offset: timedelta  # `at` minus the scenario's start: what the sender scales to wall time
    payload: Payload
    expected: Expected
    role: Role
    label: str  # one line for people: who reports what
    agency: str | None = None
    target: str | None = None
    as_of: date | None = None

    @property
    def topic(self) -> str:
        return topics.CLOCK if isinstance(self.payload, ClockTick) else topics.PROGRESS

    @property
    def event_id(self) -> str | None:
        return None if isinstance(self.payload, RawBytes) else self.payload.envelope.id


@dataclass(frozen=True)
class Scenario:
    plan: str
    seed: int
    start: datetime
    end: datetime
    items: tuple[FeedItem, ...]
    keys: Mapping[str, DemoKey] = field(repr=False)

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def expected_counts(self) -> Counter[str]:
        """How many items end how: `accepted`, `duplicate`, `tick`, `rejected:<reason>`."""
        return Counter(str(item.expected) for item in self.items)

    def of_role(self, *roles: Role) -> list[FeedItem]:
        return [item for item in self.items if item.role in roles]


class ScenarioError(ValueError):
    """The plan does not fit the stories (a target without a story, a story without a target)."""


# --- calendar -------------------------------------------------------------------------------


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def period_ends(cadence: Cadence, first_day: date, last_day: date) -> list[date]:
    """The ends of the reporting periods (months or calendar quarters) from the one containing
    `first_day` up to `last_day`."""
    step = 1 if cadence is Cadence.MONTHLY else 3
    year, month = first_day.year, first_day.month
    if step == 3:
        month = ((month - 1) // 3 + 1) * 3  # the quarter's last month
    ends: list[date] = []
    while (end := _month_end(year, month)) <= last_day:
        ends.append(end)
        month += step
        if month > 12:
            year, month = year + 1, month - 12
    return ends


def _office_instant(day: date, rng: random.Random) -> datetime:
    """An instant in office hours on `day`, or on the next workday if `day` is not one."""
    minutes = rng.randint(0, WORKDAY_MINUTES)
    clock = datetime.combine(next_workday(day), WORKDAY_START, CST)
    return clock + timedelta(minutes=minutes, seconds=rng.randint(0, 59))


# --- values ---------------------------------------------------------------------------------


def path_value(story: Story, period: int, as_of: date, issued: date, deadline: date) -> float:
    """The underlying value of a story at one period end (before noise and rounding)."""
    path = story.path
    if isinstance(path, Steps):
        return path.values[min(period, len(path.values) - 1)]
    elapsed = max(0.0, (as_of - issued).days / (deadline - issued).days)
    progress = min(1.0, elapsed / path.reach) ** path.shape
    return float(path.start + (path.end - path.start) * progress)


def _clean(target: Target, value: float) -> float:
    """A value as an agency would report it for the target's kind."""
    if target.kind is Kind.SHARE:
        return round(min(100.0, max(0.0, value)), 1)
    if target.kind is Kind.RANK:
        return float(min(target.rank_of or 1_000_000, max(1, round(value))))
    return float(max(0, round(value)))


# --- events ---------------------------------------------------------------------------------


class _Ids:
    """Deterministic event ids (UUID form), different for every seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"planwatch-demo-ids:{seed}")

    def next(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def _period_label(cadence: Cadence, as_of: date) -> str:
    if cadence is Cadence.MONTHLY:
        return f"{as_of:%Y-%m}"
    return f"{as_of.year} Q{(as_of.month - 1) // 3 + 1}"


def _report(
    target: Subject,
    key: DemoKey,
    *,
    as_of: date,
    at: datetime,
    value: float,
    event_id: str,
    note: str,
    scope: str | None = None,
    evidence: str | None = None,
) -> ProgressReported:
    if target.kind is Kind.MILESTONE:
        index = round(value)
        event = new_report(
            agency=key.agency,
            plan=target.plan,
            target=target.id,
            as_of=as_of,
            time=at,
            stage=target.stages[index].id,
            unit=Unit.STAGE,
            note=note,
            evidence=evidence,
            scope=scope,
            event_id=event_id,
        )
    else:
        event = new_report(
            agency=key.agency,
            plan=target.plan,
            target=target.id,
            as_of=as_of,
            time=at,
            value=value,
            unit=Unit(target.unit),
            note=note,
            evidence=evidence,
            scope=scope,
            event_id=event_id,
        )
    return sign(event, key.private_key, key.key_id)


@dataclass
class _Draft:
    """Items before offsets are known, with a tie-breaking sequence number."""

    items: list[
        tuple[datetime, int, Payload, Expected, Role, str, str | None, str | None, date | None]
    ]

    def add(
        self,
        at: datetime,
        payload: Payload,
        expected: Expected,
        *,
        role: Role,
        label: str,
        agency: str | None = None,
        target: str | None = None,
        as_of: date | None = None,
    ) -> None:
        self.items.append(
            (at, len(self.items), payload, expected, role, label, agency, target, as_of)
        )


def _story_reports(
    plan: Plan,
    story: Story,
    draft: _Draft,
    *,
    seed: int,
    keys: Mapping[str, DemoKey],
    ids: _Ids,
    until: datetime,
) -> None:
    target = plan.targets[story.target]
    rng = random.Random(f"planwatch-demo:{seed}:{target.id}")
    co_by_period = {p: co for co in story.co_reports for p in co.periods}
    highest = float("-inf")
    last_at: dict[str, datetime] = {}
    agency = target.headline_reporters[0]  # v1.1: the headline's reporter consolidates it
    co_rng = random.Random(f"planwatch-demo:{seed}:{target.id}:breakdowns")  # apart: the
    # headline's draws stay as they were
    for period, as_of in enumerate(period_ends(target.cadence, plan.issued, until.date())):
        underlying = path_value(story, period, as_of, plan.issued, target.pace_until)
        noise = story.path.noise if isinstance(story.path, Curve) else 0.0
        if isinstance(story.path, Curve) and underlying == story.path.end:
            noise = 0.0  # reached and held: a finished build-out reports its exact figure
        value = _clean(target, underlying + rng.gauss(0.0, noise) if noise else underlying)
        if isinstance(story.path, Curve) and story.path.monotone:
            value = max(value, highest)
        highest = max(highest, value)
        day = report_day(target.cadence, as_of, rng, late=agency == LATECOMER_AGENCY)
        at = _office_instant(day, rng)
        if agency in last_at and at <= last_at[agency]:  # one agency's reports go in order
            at = _office_instant(last_at[agency].date() + timedelta(days=1), rng)
        if at > until or (agency == SILENT_AGENCY and as_of > SILENT_AFTER):
            continue
        last_at[agency] = at
        period_text = _period_label(target.cadence, as_of)
        who = f"{agency} reports {target.id} {period_text}"

        def emit(when: datetime, payload: AgencyEvent, role: Role, label: str) -> None:
            draft.add(
                when,
                payload,
                Expected(Outcome.ACCEPTED),
                role=role,
                label=label,
                agency=agency,
                target=target.id,
                as_of=as_of,  # noqa: B023
            )

        def signed(when: datetime, number: float, note: str) -> ProgressReported:
            return _report(
                target,
                keys[agency],
                as_of=as_of,  # noqa: B023
                at=when,
                value=number,
                event_id=ids.next(),
                note=note,
            )

        co = co_by_period.get(period)
        if co is not None:
            _co_report(
                target,
                co,
                as_of=as_of,
                citywide=value,
                rng=co_rng,
                keys=keys,
                ids=ids,
                draft=draft,
                last_at=last_at,
                until=until,
            )

        if target.id == CORRECTED_TARGET and as_of == CORRECTED_AS_OF:
            typo = round(value / 10, 2)
            emit(at, signed(at, typo, period_text), Role.TYPO, f"{who}: {typo:g} (typo)")
            fixed_at = _office_instant(at.date() + timedelta(days=CORRECTION_AFTER_DAYS), rng)
            note = f"{period_text}; corrects the report of {at.date().isoformat()} ({typo:g})"
            emit(fixed_at, signed(fixed_at, value, note), Role.CORRECTION, f"{who}: {value:g}")
            last_at[agency] = fixed_at
        elif target.id == RETRACTED_TARGET and as_of == RETRACTED_AS_OF:
            wrong = RETRACTED_WRONG_VALUE
            emit(at, signed(at, wrong, period_text), Role.WRONG, f"{who}: {wrong:g} (wrong)")
            gone_at = _office_instant(at.date() + timedelta(days=RETRACTION_AFTER_DAYS), rng)
            retraction = new_retraction(
                agency=agency,
                plan=plan.id,
                target=target.id,
                as_of=as_of,
                reason="Counted hospitals whose Internet-hospital licence is still pending; "
                "the figure comes with the next quarterly report.",
                time=gone_at,
                event_id=ids.next(),
            )
            signed_retraction = sign(retraction, keys[agency].private_key, keys[agency].key_id)
            emit(gone_at, signed_retraction, Role.RETRACTION, f"{agency} retracts {period_text}")
            last_at[agency] = gone_at
        else:
            role = Role.REPORT
            shown = (
                target.stages[round(value)].id if target.kind is Kind.MILESTONE else f"{value:g}"
            )
            emit(at, signed(at, value, period_text), role, f"{who}: {shown}")


def _co_report(
    target: Target,
    co: CoReport,
    *,
    as_of: date,
    citywide: float,
    rng: random.Random,
    keys: Mapping[str, DemoKey],
    ids: _Ids,
    draft: _Draft,
    last_at: dict[str, datetime],
    until: datetime,
) -> None:
    """A co-owner's scoped figure for its county or park (method v1.1 breakdowns), sent in
    office hours before the 报送 day like every report, in order with its other reports."""
    day = report_day(target.cadence, as_of, rng, late=co.agency == LATECOMER_AGENCY)
    at = _office_instant(day, rng)
    if at > until or (co.agency in last_at and at <= last_at[co.agency]):
        return
    last_at[co.agency] = at
    part = _scoped_value(target, citywide, rng)
    period_text = _period_label(target.cadence, as_of)
    scoped = _report(
        target,
        keys[co.agency],
        as_of=as_of,
        at=at,
        value=part,
        event_id=ids.next(),
        note=f"{period_text}, {co.scope} only",
        scope=co.scope,
    )
    draft.add(
        at,
        scoped,
        Expected(Outcome.ACCEPTED),
        role=Role.CO_REPORT,
        label=f"{co.agency} reports {target.id} {period_text} for {co.scope}: {part:g}",
        agency=co.agency,
        target=target.id,
        as_of=as_of,
    )


def _scoped_value(target: Target, citywide: float, rng: random.Random) -> float:
    """A county's or park's figure beside the citywide one: a share near it, a part of a
    count, the same stage of a milestone (a project's site reports the project's stage)."""
    if target.kind is Kind.SHARE:
        return _clean(target, min(100.0, max(0.0, citywide + rng.uniform(-6.0, 4.0))))
    if target.kind is Kind.COUNT:
        return float(max(0, round(citywide * rng.uniform(0.2, 0.5))))
    return citywide


# --- commitments and indicators (tracked, never scored) ------------------------------------


def _tracked_report(
    subject: Subject,
    key: DemoKey,
    draft: _Draft,
    *,
    role: Role,
    as_of: date,
    at: datetime,
    value: float,
    ids: _Ids,
    note: str,
    label: str,
    evidence: str | None = None,
) -> None:
    event = _report(
        subject,
        key,
        as_of=as_of,
        at=at,
        value=value,
        event_id=ids.next(),
        note=note,
        evidence=evidence,
    )
    draft.add(
        at,
        event,
        Expected(Outcome.ACCEPTED),
        role=role,
        label=label,
        agency=key.agency,
        target=subject.id,
        as_of=as_of,
    )


def deliverable_steps(
    commitment: Commitment, quarters: int, rng: random.Random
) -> dict[str, tuple[tuple[int, bool], ...]]:
    """Per deliverable of `commitment`, its reports as (quarter index, done): a progress
    report (`not-done`) in one of the first three quarters, then `done` in a later quarter
    — or, for a third of the checklist (rounded down), `not-done` again in the last quarter."""
    entries = [entry.id for entry in commitment.deliverables]
    left_open = set(rng.sample(entries, len(entries) // OPEN_SHARE_DIVISOR))
    last = quarters - 1
    steps: dict[str, tuple[tuple[int, bool], ...]] = {}
    for entry in entries:
        first = rng.randrange(0, min(3, last))
        if entry in left_open:
            steps[entry] = ((first, False), (last, False))
        else:
            steps[entry] = ((first, False), (rng.randint(first + 1, last), True))
    return steps


def _deliverable_reports(
    plan: Plan,
    draft: _Draft,
    *,
    seed: int,
    keys: Mapping[str, DemoKey],
    ids: _Ids,
    until: datetime,
) -> None:
    """Each commitment's lead (its deliverables' headline reporter) reports its checklist at
    most once a quarter per deliverable, up to the plan's horizon: `done` with an evidence
    link and a note, `not-done` with a progress note."""
    quarters = period_ends(Cadence.QUARTERLY, plan.issued, plan.horizon_end)
    if len(quarters) < 2:
        return
    for commitment in sorted(plan.commitments.values(), key=lambda c: c.id):
        rng = random.Random(f"planwatch-demo:{seed}:{commitment.id}")
        steps = deliverable_steps(commitment, len(quarters), rng)
        for entry_id, reports in steps.items():
            deliverable = plan.deliverables[entry_id]
            agency = deliverable.headline_reporters[0]
            last_at: datetime | None = None
            for quarter, done in reports:
                as_of = quarters[quarter]
                if agency == SILENT_AGENCY and as_of > SILENT_AFTER:
                    continue
                day = report_day(Cadence.QUARTERLY, as_of, rng, late=agency == LATECOMER_AGENCY)
                at = _office_instant(day, rng)
                if at > until or (last_at is not None and at <= last_at):
                    continue
                last_at = at
                period_text = _period_label(Cadence.QUARTERLY, as_of)
                if done:
                    quarter_tag = f"{as_of.year}q{(as_of.month - 1) // 3 + 1}"
                    evidence: str | None = f"{EVIDENCE_BASE}/{agency}/{quarter_tag}/{entry_id}"
                    note = f"{period_text}: done; evidence linked (simulated demo report)"
                elif quarter == len(quarters) - 1:
                    evidence = None
                    note = f"{period_text}: not done by the plan's horizon (simulated demo report)"
                else:
                    evidence = None
                    note = f"{period_text}: under way (simulated demo report)"
                stage = "done" if done else "not-done"
                _tracked_report(
                    deliverable,
                    keys[agency],
                    draft,
                    role=Role.DELIVERABLE,
                    as_of=as_of,
                    at=at,
                    value=float(deliverable.stage_index(stage) or 0),
                    ids=ids,
                    note=note,
                    label=f"{agency} reports {entry_id} {period_text}: {stage}",
                    evidence=evidence,
                )


def trend_value(trend: IndicatorTrend, period: int, as_of: date, noise: float) -> float:
    """An indicator's invented value in quarter `period` (0 = the first quarter reported),
    with relative noise `noise` drawn by the caller."""
    seasonal = trend.seasonal[(as_of.month - 1) // 3]
    raw = trend.start * (1.0 + trend.growth) ** period * seasonal * (1.0 + noise)
    return round(max(0.0, raw), trend.decimals) if trend.decimals else float(round(raw))


def _indicator_reports(
    plan: Plan,
    trend: IndicatorTrend,
    draft: _Draft,
    *,
    seed: int,
    keys: Mapping[str, DemoKey],
    ids: _Ids,
    until: datetime,
) -> None:
    """The statistics bureau's quarterly value of a clause 3.6 indicator (invented values)."""
    indicator = plan.indicators[trend.indicator]
    agency = indicator.headline_reporters[0]
    rng = random.Random(f"planwatch-demo:{seed}:{indicator.id}")
    highest = float("-inf")
    for period, as_of in enumerate(period_ends(indicator.cadence, plan.issued, until.date())):
        value = trend_value(trend, period, as_of, rng.gauss(0.0, trend.noise))
        if trend.monotone:
            value = max(value, highest)
        highest = max(highest, value)
        day = report_day(indicator.cadence, as_of, rng, late=agency == LATECOMER_AGENCY)
        at = _office_instant(day, rng)
        if at > until:
            continue
        period_text = _period_label(indicator.cadence, as_of)
        _tracked_report(
            indicator,
            keys[agency],
            draft,
            role=Role.INDICATOR,
            as_of=as_of,
            at=at,
            value=value,
            ids=ids,
            note=f"{period_text} (simulated value)",
            label=f"{agency} reports {indicator.id} {period_text}: {value:g} {indicator.unit_en}",
        )


# --- the events the platform must refuse ---------------------------------------------------

_BadBuilder = Callable[[datetime], tuple[Payload, Expected, str, str | None, str | None]]


def _bad_events(
    plan: Plan,
    seed: int,
    keys: Mapping[str, DemoKey],
    ids: _Ids,
    accepted_reports: Sequence[ProgressReported],
) -> list[tuple[date, _BadBuilder]]:
    """Each: (day it is sent, builder of (payload, expected, label, agency, target))."""
    targets = plan.targets

    def report(
        target: str, key: DemoKey, as_of: date, at: datetime, value: float
    ) -> ProgressReported:
        return _report(
            targets[target], key, as_of=as_of, at=at, value=value, event_id=ids.next(), note=""
        )

    def unsigned(at: datetime) -> tuple[Payload, Expected, str, str | None, str | None]:
        event = new_report(
            agency="qy.gov-data",
            plan=plan.id,
            target="gov.mobile-services",
            as_of=date(2021, 7, 31),
            time=at,
            value=55.0,
            event_id=ids.next(),
        )
        label = "qy.gov-data test system sends a report without a signature"
        return event, Expected(Outcome.REJECTED, Reason.UNSIGNED), label, "qy.gov-data", None

    def unknown_key(at: datetime) -> tuple[Payload, Expected, str, str | None, str | None]:
        rotated = DemoKey("qy.transport", "qy.transport.2021b", derived_key(seed, "rotated"))
        event = report("logistics.digital-park", rotated, date(2021, 6, 30), at, 1)
        label = "qy.transport signs with a new key it has not registered yet"
        return event, Expected(Outcome.REJECTED, Reason.UNKNOWN_KEY), label, "qy.transport", None

    def forged(at: datetime) -> tuple[Payload, Expected, str, str | None, str | None]:
        real = keys["qy.miit"]
        forger = DemoKey("qy.miit", real.key_id, derived_key(seed, "forger"))
        event = report("industry.eit-rank", forger, date(2021, 9, 30), at, 1)
        label = "someone claims qy.miit's key and reports rank 1 (forged signature)"
        return event, Expected(Outcome.REJECTED, Reason.BAD_SIGNATURE), label, "qy.miit", None

    def wrong_agency(at: datetime) -> tuple[Payload, Expected, str, str | None, str | None]:
        event = report("infra.5g-coverage", keys["qy.health"], date(2021, 10, 31), at, 61)
        label = "qy.health reports 5G coverage, which is not its target"
        return event, Expected(Outcome.REJECTED, Reason.NOT_RESPONSIBLE), label, "qy.health", None

    def headline_by_co_owner(
        at: datetime,
    ) -> tuple[Payload, Expected, str, str | None, str | None]:
        event = report("infra.5g-coverage", keys["china-tower.qy"], date(2022, 1, 31), at, 97)
        label = "china-tower.qy sends a citywide 5G figure without a scope (the lead's to give)"
        expected = Expected(Outcome.REJECTED, Reason.NOT_REPORTER)
        return event, expected, label, "china-tower.qy", None

    def impossible(at: datetime) -> tuple[Payload, Expected, str, str | None, str | None]:
        event = report("gov.mobile-services", keys["qy.gov-data"], date(2022, 1, 31), at, 135.0)
        label = "qy.gov-data reports 135 % (growth index instead of a share)"
        return (
            event,
            Expected(Outcome.REJECTED, Reason.VALUE_OUT_OF_RANGE),
            label,
            "qy.gov-data",
            None,
        )

    original = accepted_reports[0]

    def resend(at: datetime) -> tuple[Payload, Expected, str, str | None, str | None]:
        label = f"{original.envelope.agency} resends event {original.id[:8]}… unchanged"
        return original, Expected(Outcome.DUPLICATE), label, original.envelope.agency, None

    reused = next(
        r
        for r in accepted_reports[1:]
        if targets[r.data.target].kind is Kind.SHARE and r.data.value is not None
    )

    def conflict(at: datetime) -> tuple[Payload, Expected, str, str | None, str | None]:
        agency = reused.envelope.agency or ""
        before = reused.data.value or 0.0
        value = before + 5.0 if before <= 95.0 else before - 5.0
        target = targets[reused.data.target]
        event = _report(
            target,
            keys[agency],
            as_of=reused.data.as_of,
            at=at,
            value=value,
            event_id=reused.id,
            note="resent",
        )
        label = f"{agency} reuses event id {reused.id[:8]}… for different content"
        return event, Expected(Outcome.REJECTED, Reason.CONFLICT), label, agency, None

    def malformed(at: datetime) -> tuple[Payload, Expected, str, str | None, str | None]:
        body = b'{"specversion":"1.0","id":"' + ids.next().encode() + b'","source":'
        label = "a truncated structured event (a gateway cut the body)"
        return RawBytes(body), Expected(Outcome.REJECTED, Reason.MALFORMED), label, None, None

    return [
        (date(2021, 8, 16), unsigned),
        (date(2021, 9, 22), unknown_key),
        (date(2021, 10, 19), forged),
        (date(2021, 11, 23), wrong_agency),
        (date(2022, 2, 8), headline_by_co_owner),
        (date(2022, 2, 15), impossible),
        (date(2022, 4, 12), resend),
        (date(2022, 5, 17), conflict),
        (date(2022, 8, 9), malformed),
    ]


# --- the whole feed -------------------------------------------------------------------------


def _days(first: date, last: date, every: int) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=every)


def build_scenario(
    plan: Plan,
    seed: int = DEFAULT_SEED,
    *,
    until: date = DEFAULT_UNTIL,
    tick_every_days: int = 1,
    stories: Sequence[Story] = STORIES,
    indicator_trends: Sequence[IndicatorTrend] = INDICATOR_TRENDS,
) -> Scenario:
    """Every item of the demo feed, in send order. Raises ScenarioError if the stories do not
    fit the plan."""
    if tick_every_days < 1:
        raise ScenarioError(f"tick_every_days must be >= 1, not {tick_every_days}")
    if until <= plan.issued:
        raise ScenarioError(f"until {until} is not after the plan's issue date {plan.issued}")
    by_target = {story.target: story for story in stories}
    unknown = sorted(set(by_target) - set(plan.targets))
    missing = sorted(set(plan.targets) - set(by_target))
    if unknown or missing:
        raise ScenarioError(
            f"plan {plan.id}: stories for unknown targets {unknown}, targets without a story "
            f"{missing}"
        )
    for story in stories:
        for co in story.co_reports:
            if co.agency not in plan.responsible_for(story.target):
                raise ScenarioError(f"{story.target}: {co.agency} is not responsible for it")
            if co.scope not in plan.breakdowns:
                raise ScenarioError(f"{story.target}: the plan has no breakdown {co.scope!r}")
    trends = {trend.indicator: trend for trend in indicator_trends}
    unknown = sorted(set(trends) - set(plan.indicators))
    missing = sorted(set(plan.indicators) - set(trends))
    if unknown or missing:
        raise ScenarioError(
            f"plan {plan.id}: trends for unknown indicators {unknown}, indicators without a "
            f"trend {missing}"
        )

    start = datetime.combine(plan.issued, time(0, 0), CST)
    end = datetime.combine(until, time(23, 59, 59), CST)
    keys = demo_keys(plan, seed)
    ids = _Ids(seed)
    draft = _Draft([])
    for story in sorted(stories, key=lambda s: s.target):
        _story_reports(plan, story, draft, seed=seed, keys=keys, ids=ids, until=end)
    _deliverable_reports(plan, draft, seed=seed, keys=keys, ids=ids, until=end)
    for indicator_id in sorted(trends):
        trend = trends[indicator_id]
        _indicator_reports(plan, trend, draft, seed=seed, keys=keys, ids=ids, until=end)

    for day in _days(plan.issued, until, tick_every_days):
        at = datetime.combine(day, time(0, 0), CST)
        draft.add(at, new_tick(at=at), Expected(Outcome.TICK), role=Role.TICK, label=f"clock {day}")

    regular = sorted(
        (entry for entry in draft.items if entry[4] is Role.REPORT),
        key=lambda entry: (entry[0], entry[1]),
    )
    reports = [entry[2] for entry in regular if isinstance(entry[2], ProgressReported)]
    bad_rng = random.Random(f"planwatch-demo-bad:{seed}")
    for day, builder in _bad_events(plan, seed, keys, ids, reports):
        at = _office_instant(day, bad_rng)
        payload, expected, label, agency, target = builder(at)
        draft.add(at, payload, expected, role=Role.BAD, label=label, agency=agency, target=target)

    for p in problem_items(plan, seed, keys, until=end):
        accepted = Expected(Outcome.ACCEPTED)
        draft.add(p.at, p.event, accepted, role=Role.PROBLEM, label=p.label, agency=p.agency,
                  target=p.subject)  # fmt: skip

    ordered = sorted(draft.items, key=lambda entry: (entry[0], entry[1]))
    items = tuple(
        FeedItem(at, at - start, payload, expected, role, label, agency, target, as_of)
        for at, _, payload, expected, role, label, agency, target, as_of in ordered
    )
    return Scenario(plan.id, seed, start, end, items, keys)


def agency_key(scenario: Scenario, agency: str) -> DemoKey:
    """The registered demo key of an agency (derived again if the plan lacks the agency)."""
    return scenario.keys.get(agency) or demo_key(scenario.seed, agency)


def is_retraction(payload: Payload) -> bool:
    return isinstance(payload, ProgressRetracted)
