"""Ingest takes problem events like reports: validated against the catalog, authorised (raise
and close: an agency responsible for the target or task; acknowledge, comment, resolve: the
plan's coordinator), stored once and published to the accepted topic keyed by the subject."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from services.ingest.intake import HttpItem, Status
from services.ingest.validation import AcceptedProblem, Limits, Rejected, Verdict, validate
from shared.accepted_problem import accepted_from_json
from shared.contract.events import (
    EventType,
    ProblemEvent,
    new_problem_raised,
    new_problem_step,
)
from shared.contract.reasons import Reason
from shared.contract.signing import sign
from shared.domain.problems import ProblemAction, SubjectKind
from tests.unit.ingest_support import (
    NOW,
    PLAN,
    TOPICS,
    Harness,
    catalog,
    kafka_record,
    key_snapshot,
    private_key,
    raw_of,
)

TIME = "2022-04-06T09:30:00+08:00"


def raised(
    *, agency: str = "qy.gov-data", subject: str = "gov.mobile-services", **changes: Any
) -> ProblemEvent:
    fields: dict[str, Any] = {
        "plan": PLAN,
        "problem_id": "p-1",
        "summary": "approvals stalled",
        "needs": "a decision",
        "from_agencies": ["qy.natural-resources", "carriers"],
        "time": TIME,
        "event_id": "pr-1",
    }
    fields.update(changes)
    event = new_problem_raised(agency=agency, subject=subject, **fields)
    return sign(event, private_key(agency), "k1")


def step(
    event_type: EventType, *, agency: str = "qy.miit", subject: str = "gov.mobile-services"
) -> ProblemEvent:
    event = new_problem_step(
        event_type,
        agency=agency,
        plan=PLAN,
        subject=subject,
        problem_id="p-1",
        time=TIME,
        note="noted",
        event_id=f"st-{event_type.name}",
    )
    return sign(event, private_key(agency), "k1")


def judge(event: ProblemEvent) -> Verdict:
    return validate(raw_of(event), catalog(), key_snapshot(), NOW, Limits())


def reason_of(verdict: Verdict) -> Reason:
    assert isinstance(verdict, Rejected), verdict
    return verdict.reason


def test_a_raise_by_the_lead_is_accepted_and_normalized() -> None:
    verdict = judge(raised())
    assert isinstance(verdict, AcceptedProblem), verdict
    accepted = verdict.event
    assert accepted.action is ProblemAction.RAISED
    assert (accepted.subject, accepted.subject_kind, accepted.task) == (
        "gov.mobile-services",
        SubjectKind.TARGET,
        "2.1.2",
    )
    assert accepted.from_agencies == ("qy.natural-resources", "carriers")
    assert accepted.agency == "qy.gov-data" and accepted.received_at == NOW


def test_a_problem_on_a_task_by_a_member_of_a_responsible_group() -> None:
    verdict = judge(raised(agency="carrier.china-mobile", subject="2.2.1"))
    assert isinstance(verdict, AcceptedProblem), verdict
    assert (verdict.event.subject_kind, verdict.event.task) == (SubjectKind.TASK, "2.2.1")


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (lambda: raised(agency="qy.health"), Reason.NOT_RESPONSIBLE),
        (lambda: raised(agency="qy.health", subject="2.2.1"), Reason.NOT_RESPONSIBLE),
        (lambda: raised(subject="no.such-target"), Reason.UNKNOWN_TARGET),
        (lambda: raised(plan="no-plan"), Reason.UNKNOWN_PLAN),
        (lambda: raised(from_agencies=["qy.nowhere"]), Reason.UNKNOWN_AGENCY),
        (lambda: raised(agency="qy.nobody"), Reason.UNKNOWN_AGENCY),
        (lambda: raised(time="2022-04-07T09:30:00+08:00"), Reason.TIME_IN_FUTURE),
        (
            lambda: step(EventType.PROBLEM_ACKNOWLEDGED, agency="qy.gov-data"),
            Reason.NOT_COORDINATOR,
        ),
        (lambda: step(EventType.PROBLEM_COMMENTED, agency="qy.health"), Reason.NOT_COORDINATOR),
        (lambda: step(EventType.PROBLEM_RESOLVED, agency="qy.gov-data"), Reason.NOT_COORDINATOR),
        (lambda: step(EventType.PROBLEM_CLOSED, agency="qy.health"), Reason.NOT_RESPONSIBLE),
    ],
    ids=lambda v: v.value if isinstance(v, Reason) else "",
)
def test_refusals_are_named(event: Any, reason: Reason) -> None:
    assert reason_of(judge(event())) is reason


@pytest.mark.parametrize(
    ("event_type", "agency"),
    [
        (EventType.PROBLEM_ACKNOWLEDGED, "qy.miit"),
        (EventType.PROBLEM_COMMENTED, "qy.miit"),
        (EventType.PROBLEM_RESOLVED, "qy.miit"),
        (EventType.PROBLEM_CLOSED, "qy.gov-data"),  # responsible: whether it raised is scoring's
    ],
)
def test_the_steps_from_who_may_send_them(event_type: EventType, agency: str) -> None:
    verdict = judge(step(event_type, agency=agency))
    assert isinstance(verdict, AcceptedProblem), verdict
    assert verdict.event.note == "noted"


def test_a_bad_signature_is_refused_before_the_catalog() -> None:
    event = raised()
    forged = event.model_copy(
        update={"envelope": event.envelope.model_copy(update={"subject": "gov.online-services"})}
    )
    assert reason_of(judge(forged)) is Reason.BAD_SIGNATURE


async def test_stored_once_and_published_keyed_by_the_subject() -> None:
    h = Harness()
    intake = h.intake()
    event = raised()
    first = await intake.kafka_batch([kafka_record(event)])
    assert [r.status for r in first] == [Status.ACCEPTED]
    again = await intake.kafka_batch([kafka_record(event, 1)])
    assert [r.status for r in again] == [Status.DUPLICATE]
    assert len(h.store.docs) == 1
    [doc] = h.store.docs.values()
    assert doc["schema"] == "planwatch.problem.v1" and doc["_id"] == "qy.gov-data|pr-1"
    published = h.publisher.on(TOPICS.accepted)
    assert [m.key for m in published] == [b"gov.mobile-services"] * 2
    record = accepted_from_json(published[0].value)
    assert record.event_id == "pr-1" and json.loads(published[0].value)["problem_id"] == "p-1"


async def test_a_refused_step_is_dead_lettered_with_its_reason() -> None:
    h = Harness()
    results = await h.intake().kafka_batch(
        [kafka_record(step(EventType.PROBLEM_RESOLVED, agency="qy.gov-data"))]
    )
    assert results[0].reason is Reason.NOT_COORDINATOR
    [dead] = h.publisher.on(TOPICS.dead_letter)
    assert dict(dead.headers)["x-dlt-reason"] == b"not_coordinator"


async def test_the_http_door_takes_them_too() -> None:
    h = Harness()
    h.later(timedelta(seconds=1).total_seconds())
    event = step(EventType.PROBLEM_ACKNOWLEDGED)
    item = HttpItem(b"{}", "application/cloudevents+json", raw_of(event))
    [result] = await h.intake().http_events([item])
    assert result.status is Status.ACCEPTED
    assert [m.key for m in h.publisher.on(TOPICS.progress)] == [b"gov.mobile-services"]
