"""Pure parts of the scoring service: alert events, the digest, the record router, ticks."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from functools import partial

import pytest

from services.scoring.alert_payload import alert_event, alert_events, responsible
from services.scoring.digest import digest_of, digest_payload
from services.scoring.documents import result_json, result_signature
from services.scoring.engine import check_known
from services.scoring.records import parse_records
from services.scoring.ticks import TickScheduler, tick_message
from shared.catalog import load_catalog
from shared.contract.alert_event import (
    AlertEvent,
    AlertRole,
    copy_fingerprint,
    copy_id,
    decode_alert_event,
    encode_alert_event,
)
from shared.domain.method_v1 import (
    AlertRule,
    Severity,
    TargetResult,
    alert_states,
    alert_transitions,
    effective_series,
    evaluate_target,
    last_report_at,
)
from shared.domain.observation import Observation
from shared.domain.timebase import CST
from shared.runtime.dead_letters import DLT_MESSAGE, DLT_OFFSET, DLT_TOPIC
from shared.runtime.publisher import Outbound
from tests.clock_identity import CHECK_TICK, CLOCK_KEY
from tests.unit.fake_records import FakeRecord
from tests.unit.scoring_streams import plan_stream

DEAD_AT = datetime(2026, 1, 1, tzinfo=CST)  # when parse_records dead-letters

PLAN = next(iter(load_catalog().plans.values()))
TARGET = "gov.mobile-services"


def worked_example(upto: int) -> TargetResult:
    """scoring.md's worked example after its first `upto` reports."""
    rows = [
        (datetime(2021, 7, 5, 10, tzinfo=CST), date(2021, 6, 30), 45.0),
        (datetime(2022, 1, 6, 10, tzinfo=CST), date(2021, 12, 31), 58.0),
        (datetime(2022, 7, 4, 10, tzinfo=CST), date(2022, 6, 30), 66.0),
    ][:upto]
    events = [Observation(f"e{i}", TARGET, a, r, v) for i, (r, a, v) in enumerate(rows)]
    at = rows[-1][0]
    return evaluate_target(
        PLAN, PLAN.targets[TARGET], effective_series(events, at), last_report_at(events, at), at
    )


def test_the_worked_example_fires_status_degraded_with_its_figures() -> None:
    before, after = worked_example(2), worked_example(3)
    (transition,) = [
        t
        for t in alert_transitions(PLAN.id, TARGET, alert_states(before), alert_states(after), "e2")
        if t.rule is AlertRule.STATUS_DEGRADED
    ]
    event = alert_event(transition, after, PLAN, starts_at=after.at, base_url="http://svc/")
    assert event.id == transition.id and event.fingerprint == transition.fingerprint
    assert (event.status.value, event.transition.value) == ("firing", "firing")
    assert event.labels.severity.value == "warning"
    assert event.labels.model_dump(exclude_none=True) == {
        "alertname": "status_degraded",
        "rule": "status_degraded",
        "plan": PLAN.id,
        "area": "2.1",
        "task": "2.1.2",
        "target": TARGET,
        "agency": "qy.gov-data",
        "severity": "warning",
        "role": "lead",
    }
    assert event.endsAt is None and event.startsAt == after.at == event.at
    assert event.generatorURL == f"http://svc/v1/plans/{PLAN.id}/targets/{TARGET}"
    for figure in ("60.0%", "66.5%", "0.90", "AT_RISK"):
        assert figure in event.annotations.description_en
    for figure in ("60.0%", "66.5%", "0.90", "有风险"):
        assert figure in event.annotations.description_zh
    # The wire form round-trips and uses the names notify reads.
    wire = json.loads(encode_alert_event(event))
    assert set(wire) == {
        "id", "fingerprint", "status", "transition", "labels", "annotations",
        "startsAt", "endsAt", "generatorURL", "method", "at",
    }  # fmt: skip
    assert decode_alert_event(encode_alert_event(event)) == event


def test_every_responsible_agency_gets_its_own_copy() -> None:
    target_id = "industry.5g-iiot-benchmarks"  # led by qy.miit with four co-owners
    co = sorted(PLAN.co_owners(target_id))
    assert len(co) == 4 and PLAN.targets[target_id].lead not in co
    assert responsible(PLAN, target_id) == [
        ("qy.miit", AlertRole.LEAD),
        *((agency, AlertRole.CO) for agency in co),
    ]
    result = worked_example(3)
    (transition,) = alert_transitions(
        PLAN.id, target_id, {}, {AlertRule.REPORT_OVERDUE: Severity.WARNING}, "e9"
    )
    copies = alert_events(transition, result, PLAN, starts_at=result.at, base_url="http://svc")
    lead, *others = copies
    # The lead's copy is the alert as before: the method's fingerprint and id.
    assert (lead.id, lead.fingerprint) == (transition.id, transition.fingerprint)
    assert (lead.labels.agency, lead.labels.role) == ("qy.miit", AlertRole.LEAD)
    assert [(c.labels.agency, c.labels.role) for c in others] == [(a, AlertRole.CO) for a in co]
    for copy in others:
        assert copy.fingerprint == copy_fingerprint(
            transition.fingerprint, copy.labels.agency, AlertRole.CO
        )
        assert copy.id == copy_id(transition.id, copy.labels.agency, AlertRole.CO)
        # Everything but the addressee is the lead's copy's.
        assert copy.annotations == lead.annotations and copy.startsAt == lead.startsAt
        assert copy.labels.model_dump(exclude={"agency", "role"}) == lead.labels.model_dump(
            exclude={"agency", "role"}
        )
    assert len({c.fingerprint for c in copies}) == len({c.id for c in copies}) == 5
    # Copies are stable (replays give the same ids) and differ per transition.
    again = alert_events(transition, result, PLAN, starts_at=result.at, base_url="http://svc")
    assert [c.id for c in again] == [c.id for c in copies]
    # A target without co-owners gets the lead's copy only.
    solo = next(t for t in sorted(PLAN.targets) if not PLAN.co_owners(t))
    assert [role for _, role in responsible(PLAN, solo)] == [AlertRole.LEAD]


def test_an_event_without_a_role_is_the_leads_copy() -> None:
    result = worked_example(3)
    (transition,) = alert_transitions(
        PLAN.id, TARGET, {}, {AlertRule.REPORT_OVERDUE: Severity.WARNING}, "e9"
    )
    wire = json.loads(
        encode_alert_event(alert_event(transition, result, PLAN, starts_at=result.at, base_url="x"))
    )
    del wire["labels"]["role"]
    assert decode_alert_event(json.dumps(wire).encode()).labels.role is AlertRole.LEAD


def test_a_resolution_ends_at_the_evaluation_instant() -> None:
    firing = worked_example(3)
    previous = {AlertRule.STATUS_DEGRADED: Severity.WARNING}
    (transition,) = alert_transitions(PLAN.id, TARGET, previous, {}, "tick:x")
    started = datetime(2022, 7, 4, 10, tzinfo=CST)
    event = alert_event(transition, firing, PLAN, starts_at=started, base_url="http://svc")
    assert (event.status.value, event.transition.value) == ("resolved", "resolved")
    assert event.startsAt == started and event.endsAt == firing.at
    with pytest.raises(ValueError, match="endsAt"):
        AlertEvent.model_validate({**event.model_dump(), "endsAt": None})


def test_result_signature_ignores_only_the_clock_figures() -> None:
    result = result_json(worked_example(3))
    moved = {**result, "days_left": 1, "days_since_report": 99, "required_per_month": 7.0}
    assert result_signature(moved) == result_signature(result)
    assert result_signature({**result, "status": "ON_TRACK"}) != result_signature(result)


def test_digest_is_canonical_and_ignores_alert_start_times() -> None:
    state = {"targets": {"b": 1, "a": 2}, "alerts": []}
    meta = {"_id": "clock", "at": "2022-01-01T00:00:00+08:00", "last_tick": "x"}
    target = {
        "_id": "p:t",
        "alerts": {"regression": {"severity": "warning", "since": "2021-01-01"}},
        "window": {"count": 3},
        "result": {"status": "AT_RISK"},
        "outbox": {"messages": [1]},
    }
    reordered = json.dumps(dict(reversed(list(state.items()))))
    one = digest_payload(meta, [{"_id": "p", "state": json.dumps(state)}], [target])
    two = digest_payload(
        {**meta, "last_tick": "y"},
        [{"_id": "p", "state": reordered}],
        [{**target, "alerts": {"regression": {"severity": "warning", "since": "2022"}}}],
    )
    assert digest_of(one) == digest_of(two)
    changed = {**target, "alerts": {"regression": {"severity": "critical", "since": "x"}}}
    three = digest_payload(meta, [{"_id": "p", "state": json.dumps(state)}], [changed])
    assert digest_of(three) != digest_of(one)


def test_records_are_routed_and_poison_is_dead_lettered() -> None:
    good = plan_stream(PLAN, seed=1)[0]
    unknown = good.model_copy(update={"target": "no.such-target"})
    tick_key, tick_value, tick_headers = (
        (m := tick_message(datetime(2022, 1, 1, tzinfo=CST), "clock", CLOCK_KEY)).key,
        m.value,
        m.headers,
    )
    records = [
        FakeRecord("acc", 0, 1, good.to_json(), b"k"),
        FakeRecord("acc", 0, 2, b"{oops", b"k"),
        FakeRecord("acc", 1, 3, None),
        FakeRecord("acc", 1, 4, unknown.to_json()),
        FakeRecord("clock", 0, 5, tick_value, tick_key, headers=tick_headers),
        FakeRecord("clock", 0, 6, b"not a tick"),
    ]
    parsed = parse_records(
        records,
        accepted_topic="acc",
        clock_topic="clock",
        dlt_topic="dlt",
        check=partial(check_known, load_catalog()),
        check_tick=CHECK_TICK,
        at=DEAD_AT,
    )
    assert parsed.events == [good]
    assert parsed.ticks == [datetime(2022, 1, 1, tzinfo=CST)]
    assert [d.header(DLT_OFFSET) for d in parsed.dead] == [b"2", b"3", b"4", b"6"]
    assert parsed.reasons[:3] == ["malformed", "malformed", "unknown_target"]
    dead = parsed.dead[0]
    assert dead.topic == "dlt" and dead.value == b"{oops" and dead.key == b"k"
    assert dead.header(DLT_TOPIC) == b"acc" and dead.header(DLT_MESSAGE)


def test_a_deeply_nested_tick_is_dead_lettered_not_a_stalled_consumer() -> None:
    # Was a RecursionError out of the decoder: the batch failed and was retried for good.
    m = tick_message(datetime(2022, 1, 1, tzinfo=CST), "clock", CLOCK_KEY)
    nested = b"[" * 5_000 + b"]" * 5_000
    parsed = parse_records(
        [FakeRecord("clock", 0, 9, nested, m.key, headers=_headers(m))],
        accepted_topic="acc",
        clock_topic="clock",
        dlt_topic="dlt",
        check=partial(check_known, load_catalog()),
        check_tick=CHECK_TICK,
        at=DEAD_AT,
    )
    assert parsed.ticks == [] and parsed.reasons == ["malformed"]
    assert parsed.dead[0].header(DLT_OFFSET) == b"9"


def test_a_tick_needs_a_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        tick_message(datetime(2022, 1, 1), "clock", CLOCK_KEY)


async def test_the_scheduler_publishes_ticks_until_stopped() -> None:
    sent: list[Outbound] = []
    three = asyncio.Event()
    instants = iter(datetime(2022, 1, 1, 0, 0, s, tzinfo=CST) for s in range(60))

    async def send(message: Outbound) -> None:
        sent.append(message)
        if len(sent) == 3:
            three.set()

    scheduler = TickScheduler(0.01, send, "clock", CLOCK_KEY, now=lambda: next(instants))
    await scheduler.start()
    await asyncio.wait_for(three.wait(), timeout=10)
    await scheduler.stop()
    count = len(sent)
    await asyncio.sleep(0.05)
    assert len(sent) == count  # stopped
    parsed = parse_records(
        [
            FakeRecord("clock", 0, i, m.value, m.key, headers=_headers(m))
            for i, m in enumerate(sent)
        ],
        accepted_topic="acc",
        clock_topic="clock",
        dlt_topic="dlt",
        check=partial(check_known, load_catalog()),
        check_tick=CHECK_TICK,
        at=DEAD_AT,
    )
    assert parsed.ticks == [datetime(2022, 1, 1, 0, 0, s, tzinfo=CST) for s in range(count)]
    with pytest.raises(ValueError, match="positive"):
        TickScheduler(0, send, "clock", CLOCK_KEY)


def _headers(message: Outbound) -> tuple[tuple[str, bytes], ...]:
    return message.headers
