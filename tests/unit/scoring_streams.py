"""Deterministic streams of accepted events for the scoring service's tests and benchmark.

Reports for every target of a plan at its cadence, values moving toward (and sometimes away
from) the target, with corrections (a later report for the same `as_of`), retractions, a report
restoring a retracted point, and late reports (an old `as_of` reported much later).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.scoring.alert_payload import responsible
from shared.accepted import AcceptedEvent, AcceptedKind
from shared.contract.alert_event import copy_fingerprint
from shared.domain.catalog import Cadence, Deliverable, Indicator, Kind, Plan, Target
from shared.domain.timebase import CST


def period_ends(start: date, end: date, cadence: Cadence) -> Iterator[date]:
    """Month or quarter ends from `start` to `end`."""
    step = 1 if cadence is Cadence.MONTHLY else 3
    year, month = start.year, start.month
    while True:
        month_end = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        if month_end > end:
            return
        if month_end >= start:
            yield month_end
        month += step
        if month > 12:
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1


def _value(target: Target, rng: random.Random, share: float) -> float:
    if target.kind is Kind.MILESTONE:
        return float(min(len(target.stages) - 1, int(share * len(target.stages))))
    if target.kind is Kind.RANK:
        worst = float(target.rank_of or 20)
        return float(max(1, round(worst - share * (worst - target.target) + rng.uniform(-2, 2))))
    if target.kind is Kind.COUNT:
        return float(max(0, round(share * target.target * rng.uniform(0.8, 1.1))))
    start = max(0.0, target.target * 0.4)
    return round(min(100.0, start + share * (target.target - start) * rng.uniform(0.7, 1.15)), 2)


def _reported(as_of: date, days_after: int, rng: random.Random) -> datetime:
    moment = time(rng.randrange(8, 20), rng.randrange(60), rng.randrange(60), rng.randrange(10**6))
    return datetime.combine(as_of + timedelta(days=days_after), moment, CST)


def event(
    target: Target | Deliverable | Indicator,
    as_of: date,
    reported_at: datetime,
    value: float | None,
    event_id: str,
    *,
    agency: str | None = None,
    scope: str | None = None,
    evidence: str | None = None,
    note: str | None = None,
) -> AcceptedEvent:
    milestone = target.kind is Kind.MILESTONE and value is not None
    stage = target.stages[int(value)].id if milestone and value is not None else None
    return AcceptedEvent(
        event_id=event_id,
        kind=AcceptedKind.REPORT if value is not None else AcceptedKind.RETRACTION,
        plan=target.plan,
        target=target.id,
        agency=agency or target.headline_reporters[0],
        as_of=as_of,
        reported_at=reported_at,
        value=value,
        stage=stage,
        unit=target.unit,
        evidence=evidence,
        note=note,
        received_at=reported_at.astimezone(UTC) + timedelta(milliseconds=250),
        key_id=f"{agency or target.headline_reporters[0]}-k1",
        content_hash=hashlib.sha256(event_id.encode("utf-8")).hexdigest(),
        scope=scope,
    )


def plan_stream(plan: Plan, seed: int, *, until: date = date(2023, 6, 30)) -> list[AcceptedEvent]:
    """Events for every target of `plan` from 2021-06 to `until`, in reported_at order."""
    rng = random.Random(seed)
    events: list[AcceptedEvent] = []
    for target_id in sorted(plan.targets):
        target = plan.targets[target_id]
        dates = list(period_ends(date(2021, 6, 1), min(until, target.pace_until), target.cadence))
        if rng.random() < 0.1:
            continue  # a target nobody reports on
        n = 0
        for i, as_of in enumerate(dates):
            n += 1
            if rng.random() < 0.08:
                continue  # a missed report
            share = (i + 1) / (len(dates) + 2) * rng.uniform(0.6, 1.3)
            if rng.random() < 0.1:
                share *= 0.5  # a regression
            reported = _reported(as_of, rng.randrange(1, 12), rng)
            events.append(
                event(target, as_of, reported, _value(target, rng, share), f"{target_id}-{n}")
            )
            roll = rng.random()
            if roll < 0.1:  # a correction days later
                later = reported + timedelta(days=rng.randrange(1, 20))
                value = _value(target, rng, share * 1.05)
                events.append(event(target, as_of, later, value, f"{target_id}-{n}c"))
            elif roll < 0.15:  # a retraction, sometimes restored
                later = reported + timedelta(days=rng.randrange(1, 20))
                events.append(event(target, as_of, later, None, f"{target_id}-{n}r"))
                if rng.random() < 0.5:
                    restored = later + timedelta(days=3)
                    value = _value(target, rng, share)
                    events.append(event(target, as_of, restored, value, f"{target_id}-{n}s"))
            elif roll < 0.2 and i > 2:  # a late report for an old date
                old = dates[rng.randrange(0, i)]
                late = reported + timedelta(days=rng.randrange(1, 40))
                value = _value(target, rng, share * 0.8)
                events.append(event(target, old, late, value, f"{target_id}-{n}l"))
    events.sort(key=lambda e: (e.reported_at, e.event_id))
    return events


def history_stream(
    plan: Plan, points: int, *, start: date = date(1990, 1, 31), seed: int = 7
) -> list[AcceptedEvent]:
    """`points` daily reports per target, dated from `start` on (to build long histories)."""
    rng = random.Random(seed)
    events: list[AcceptedEvent] = []
    for target_id in sorted(plan.targets):
        target = plan.targets[target_id]
        for i in range(points):
            as_of = start + timedelta(days=i)
            reported = datetime.combine(as_of, time(12), CST)
            share = (i + 1) / (points + 1)
            events.append(
                event(target, as_of, reported, _value(target, rng, share), f"h{target_id}-{i}")
            )
    events.sort(key=lambda e: (e.reported_at, e.event_id))
    return events


def with_two_reporters(plan: Plan) -> Plan:
    """The plan with every target that has a co-owner reported by its lead and that co-owner
    (method v1.1 reporters), to exercise the per-reporter rule."""
    targets = {
        tid: t.model_copy(update={"reporters": (t.lead, sorted(plan.co_owners(tid))[0])})
        if plan.co_owners(tid)
        else t
        for tid, t in plan.targets.items()
    }
    return plan.model_copy(update={"targets": targets})


def reporters_stream(
    plan: Plan, seed: int, *, until: date = date(2023, 6, 30)
) -> list[AcceptedEvent]:
    """Method v1.1 events: each reporter's figures for the same dates, each retracting only its
    own, corrections, and scoped breakdowns (with scoped retractions) from any responsible
    agency; sorted by reported_at."""
    rng = random.Random(seed)
    scopes = sorted(plan.breakdowns)
    events: list[AcceptedEvent] = []
    for target_id in sorted(plan.targets):
        target = plan.targets[target_id]
        reporters = target.headline_reporters
        owners = sorted(plan.responsible_for(target_id))
        dates = list(period_ends(date(2021, 6, 1), min(until, target.pace_until), target.cadence))
        for i, as_of in enumerate(dates):
            share = (i + 1) / (len(dates) + 2) * rng.uniform(0.6, 1.3)
            for who in reporters:
                if rng.random() < 0.3:
                    continue
                n = f"{target_id}-{i}-{who}"
                reported = _reported(as_of, rng.randrange(1, 15), rng)
                value = _value(target, rng, share)
                events.append(event(target, as_of, reported, value, n, agency=who))
                roll = rng.random()
                if roll < 0.2:  # this reporter withdraws its own figure
                    later = reported + timedelta(days=rng.randrange(1, 10))
                    events.append(event(target, as_of, later, None, n + "r", agency=who))
                elif roll < 0.3:  # or corrects it
                    later = reported + timedelta(days=rng.randrange(1, 10))
                    fixed = _value(target, rng, share * 1.05)
                    events.append(event(target, as_of, later, fixed, n + "c", agency=who))
            if scopes and rng.random() < 0.5:
                who = rng.choice(owners)
                scope = rng.choice(scopes[:3])
                n = f"{target_id}-{i}-{who}-{scope}"
                reported = _reported(as_of, rng.randrange(1, 15), rng)
                value = _value(target, rng, share * 0.9)
                events.append(event(target, as_of, reported, value, n, agency=who, scope=scope))
                if rng.random() < 0.2:
                    later = reported + timedelta(days=2)
                    events.append(
                        event(target, as_of, later, None, n + "r", agency=who, scope=scope)
                    )
    events.sort(key=lambda e: (e.reported_at, e.event_id))
    return events


def tracked_stream(plan: Plan, seed: int) -> list[AcceptedEvent]:
    """Reports on deliverables (done or not, with evidence; some retracted, some reopened) and
    on indicators (quarterly values, corrected now and then), in reported_at order."""
    rng = random.Random(seed)
    events: list[AcceptedEvent] = []
    n = 0

    def add(subject: Deliverable | Indicator, as_of: date, value: float | None) -> None:
        nonlocal n
        n += 1
        reported = _reported(as_of, rng.randrange(1, 20), rng)
        base = event(subject, as_of, reported, value, f"trk-{seed}-{n:05d}")
        extra = {}
        if value is not None and isinstance(subject, Deliverable):
            extra = {"evidence": f"https://evidence.example.gov.cn/{subject.id}/{n}", "note": "ok"}
        events.append(base.model_copy(update=extra))

    for deliverable_id in sorted(plan.deliverables):
        deliverable = plan.deliverables[deliverable_id]
        if rng.random() < 0.3:
            continue  # never reported
        quarters = list(period_ends(date(2021, 6, 1), date(2022, 12, 31), Cadence.QUARTERLY))
        done_at = rng.randrange(len(quarters))
        for i, as_of in enumerate(quarters[: done_at + 1]):
            add(deliverable, as_of, 1.0 if i == done_at else 0.0)
        if rng.random() < 0.2:
            add(deliverable, quarters[done_at], None)  # the "done" report retracted
        elif rng.random() < 0.2 and done_at + 1 < len(quarters):
            add(deliverable, quarters[done_at + 1], 0.0)  # reopened
    for indicator_id in sorted(plan.indicators):
        indicator = plan.indicators[indicator_id]
        level = rng.uniform(100, 1000)
        for as_of in period_ends(date(2021, 6, 1), date(2023, 3, 31), indicator.cadence):
            level *= rng.uniform(1.0, 1.08)
            value = float(round(level)) if indicator.kind is Kind.COUNT else round(level, 2)
            add(indicator, as_of, value)
            if rng.random() < 0.15:
                add(indicator, as_of, float(round(level * 1.01)))  # a correction
    events.sort(key=lambda e: (e.reported_at, e.event_id))
    return events


def firing_copies(plan: Plan, alerts: Sequence[dict[str, Any]]) -> dict[str, str]:
    """fingerprint -> severity of every agency's copy of a state's firing alerts (`alerts` as
    in `plan_state_to_json`): the lead's copy keeps the method's fingerprint, each co-owner's
    is derived from it. What the deduplicated alert stream must fold to."""
    return {
        copy_fingerprint(a["fingerprint"], agency, role): a["severity"]
        for a in alerts
        for agency, role in responsible(plan, a["target"])
    }
