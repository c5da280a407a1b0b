"""Scoring's problem desk and read API over the in-memory store: events folded into the
`problems` collection, `problem_raised` for the coordinator while a problem is open and
resolved with it, `problem_overdue` once it is open longer than the configured age on the
service clock, the same state whatever the order and repetition of the events, and the list
and detail routes."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.scoring.memory_store import InMemoryScoringStore
from services.scoring.problem_alerts import PROBLEM_OVERDUE, PROBLEM_RAISED
from services.scoring.problem_desk import ProblemDesk
from services.scoring.problem_memory_store import InMemoryProblemStore
from services.scoring.problems_api import make_problems_router
from shared import topics
from shared.accepted_problem import AcceptedProblemEvent
from shared.catalog import load_catalog
from shared.contract.alert_event import AlertEvent, decode_alert_event
from shared.domain.problems import MAX_ENTRIES, ProblemAction, SubjectKind
from shared.runtime.auth import PLANS_READ
from shared.runtime.publisher import Outbound
from tests.token_issuer import LocalIssuer

CATALOG = load_catalog()
PLAN = "qingyuan-digital-economy-2021"
T0 = datetime(2022, 4, 6, 1, 30, tzinfo=UTC)
AFTER = timedelta(days=14)
ISSUER = LocalIssuer()
TASKS = CATALOG.plans[PLAN].tasks


def event(
    event_id: str,
    action: ProblemAction,
    hours: float,
    *,
    agency: str = "qy.miit",
    problem_id: str = "p-1",
    subject: str = "gov.mobile-services",
) -> AcceptedProblemEvent:
    raised = action is ProblemAction.RAISED
    return AcceptedProblemEvent(
        event_id=event_id,
        action=action,
        plan=PLAN,
        problem_id=problem_id,
        subject=subject,
        subject_kind=SubjectKind.TASK if subject in TASKS else SubjectKind.TARGET,
        task=subject if subject in TASKS else CATALOG.plans[PLAN].targets[subject].task,
        agency="qy.gov-data" if raised and agency == "qy.miit" else agency,
        reported_at=T0 + timedelta(hours=hours),
        summary="approvals stalled" if raised else None,
        needs="a decision" if raised else None,
        from_agencies=("qy.natural-resources",) if raised else None,
        note=None if raised else "noted",
        received_at=T0,
        key_id="k1",
        content_hash="0" * 64,
    )


RAISE = event("e1", ProblemAction.RAISED, 0)
ACK = event("e2", ProblemAction.ACKNOWLEDGED, 1)
COMMENT = event("e3", ProblemAction.COMMENTED, 2)
RESOLVE = event("e4", ProblemAction.RESOLVED, 24 * 20)


class Sent:
    def __init__(self) -> None:
        self.messages: list[Outbound] = []

    async def __call__(self, messages: Sequence[Outbound]) -> None:
        self.messages.extend(messages)

    def alerts(self) -> list[AlertEvent]:
        assert all(m.topic == topics.ALERTS for m in self.messages)
        return [decode_alert_event(m.value) for m in self.messages]

    def last_by_name(self) -> dict[str, str]:
        """The alert stream folded: alertname -> its last status."""
        return {a.labels.alertname: a.status.value for a in self.alerts()}


def desk(
    store: InMemoryProblemStore | None = None,
) -> tuple[ProblemDesk, InMemoryProblemStore, Sent]:
    store = store or InMemoryProblemStore()
    sent = Sent()
    made = ProblemDesk(CATALOG, store, sent, base_url="http://svc/", escalate_after=AFTER)
    return made, store, sent


async def test_a_raise_alerts_the_coordinator_and_resolving_resolves_it() -> None:
    problems, store, sent = desk()
    await problems.apply([RAISE], None)
    [firing] = sent.alerts()
    assert firing.status.value == "firing" and firing.labels.alertname == PROBLEM_RAISED
    labels = firing.labels.label_set()
    assert {k: labels[k] for k in ("agency", "role", "problem", "raised_by", "target", "task")} == {
        "agency": "qy.miit",
        "role": "coordinator",
        "problem": "p-1",
        "raised_by": "qy.gov-data",
        "target": "gov.mobile-services",
        "task": "2.1.2",
    }
    assert firing.generatorURL == f"http://svc/v1/plans/{PLAN}/problems/p-1"
    assert m_key(sent.messages[0]) == "gov.mobile-services"
    doc = await store.problem(f"{PLAN}:p-1")
    assert doc is not None and doc["state"] == "open"

    await problems.apply([ACK, COMMENT, RESOLVE], None)
    [resolved] = [
        a
        for a in sent.alerts()
        if a.status.value == "resolved" and a.labels.alertname == PROBLEM_RAISED
    ]
    assert resolved.status.value == "resolved" and resolved.endsAt == RESOLVE.reported_at
    assert resolved.fingerprint == firing.fingerprint and resolved.id != firing.id
    doc = await store.problem(f"{PLAN}:p-1")
    assert doc is not None and doc["state"] == "resolved" and doc["comments"] == 1


def m_key(message: Outbound) -> str:
    assert message.key is not None
    return message.key.decode()


async def test_an_open_problem_escalates_once_when_older_than_the_configured_age() -> None:
    problems, store, sent = desk()
    await problems.apply([RAISE, ACK], None)
    before = len(sent.messages)
    assert (await problems.escalate(T0 + AFTER - timedelta(minutes=1))).alerts == ()
    outcome = await problems.escalate(T0 + AFTER)
    [overdue] = outcome.alerts
    assert overdue.labels.alertname == PROBLEM_OVERDUE and overdue.status.value == "firing"
    assert overdue.labels.severity.value == "critical" and overdue.startsAt == T0 + AFTER
    assert (await problems.escalate(T0 + AFTER + timedelta(days=1))).alerts == ()  # once
    assert len(sent.messages) == before + 1
    doc = await store.problem(f"{PLAN}:p-1")
    assert doc is not None and doc["escalated_at"] == (T0 + AFTER).isoformat()
    await problems.apply([RESOLVE], T0 + AFTER + timedelta(days=1))
    assert sent.last_by_name() == {PROBLEM_RAISED: "resolved", PROBLEM_OVERDUE: "resolved"}
    ends = {a.labels.alertname: a.at for a in sent.alerts()[-2:]}
    assert ends[PROBLEM_OVERDUE] >= overdue.at  # never older than the firing it ends


async def test_a_problem_ended_before_its_due_time_never_escalates_when_folded_late() -> None:
    """Scoring lagging the feed folds a raise and a resolution with its clock already past
    the escalation age: only `problem_raised` firing then resolved, no `problem_overdue`."""
    problems, _, sent = desk()
    early_end = event("e9", ProblemAction.RESOLVED, 24 * 3)
    await problems.apply([RAISE, early_end], T0 + AFTER + timedelta(days=30))
    assert {a.labels.alertname for a in sent.alerts()} == {PROBLEM_RAISED}
    assert sent.last_by_name() == {PROBLEM_RAISED: "resolved"}


async def test_only_owned_subjects_escalate() -> None:
    store = InMemoryProblemStore()
    sent = Sent()
    problems = ProblemDesk(
        CATALOG, store, sent, base_url="http://svc/", escalate_after=AFTER, owns=lambda s: False
    )
    await problems.apply([RAISE], None)
    assert (await problems.escalate(T0 + 2 * AFTER)).alerts == ()


async def test_any_order_and_repetition_gives_the_same_problem_and_the_same_last_alert() -> None:
    closed_by_other = event("e5", ProblemAction.CLOSED, 3, agency="qy.health")
    events = [RAISE, ACK, COMMENT, closed_by_other, RESOLVE]
    reference_desk, reference_store, reference_sent = desk()
    await reference_desk.apply(events, None)
    want = await reference_store.problem(f"{PLAN}:p-1")
    assert want is not None and want["state"] == "resolved"
    rng = random.Random(3)
    for _ in range(20):
        shuffled = events * 2
        rng.shuffle(shuffled)
        # Two "replicas" on one store, each applying events one by one.
        shared = InMemoryProblemStore()
        left, _, left_sent = desk(shared)
        right, _, right_sent = desk(shared)
        for n, item in enumerate(shuffled):
            await (left if n % 2 else right).apply([item], None)
        got = await shared.problem(f"{PLAN}:p-1")
        assert got is not None
        assert {k: got[k] for k in want if k != "_id"} == {k: want[k] for k in want if k != "_id"}
        resolutions = [
            a for a in left_sent.alerts() + right_sent.alerts() if a.status.value == "resolved"
        ]
        assert resolutions and {a.id for a in resolutions} == {
            a.id for a in reference_sent.alerts() if a.status.value == "resolved"
        }


async def test_a_step_before_its_raise_waits_for_it() -> None:
    problems, store, sent = desk()
    await problems.apply([ACK], None)
    assert sent.messages == []
    doc = await store.problem(f"{PLAN}:p-1")
    assert doc is not None and doc["state"] is None
    await problems.apply([RAISE], None)
    doc = await store.problem(f"{PLAN}:p-1")
    assert doc is not None and doc["state"] == "acknowledged"
    assert sent.last_by_name() == {PROBLEM_RAISED: "firing"}


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    problems, store, _ = desk()
    other = event("f1", ProblemAction.RAISED, 5, problem_id="p-2", subject="2.2.1")
    wrong_close = event(
        "f2", ProblemAction.CLOSED, 6, agency="qy.health", problem_id="p-2", subject="2.2.1"
    )
    await problems.apply([RAISE, ACK, other, wrong_close], None)
    await problems.escalate(T0 + AFTER)
    scoring = InMemoryScoringStore()
    await scoring.advance_clock((T0 + timedelta(days=20)).isoformat(), 0)
    router = make_problems_router(CATALOG, lambda: store, lambda: scoring, escalate_after=AFTER)
    async with ISSUER.client(router, PLANS_READ) as client:
        yield client


async def test_the_list_filters_and_measures_age_at_the_service_clock(
    api: httpx.AsyncClient,
) -> None:
    path = f"/v1/plans/{PLAN}/problems"
    every = (await api.get(path)).json()
    assert every["count"] == 2 and every["escalate_after_days"] == 14
    assert [p["problem_id"] for p in every["problems"]] == ["p-1", "p-2"]
    first = every["problems"][0]
    assert first["state"] == "acknowledged" and first["age_days"] == 20.0
    assert first["overdue"] and first["escalated_at"] is not None
    assert first["area"] == "2.1" and first["from_agencies"] == ["qy.natural-resources"]

    async def ids(**params: Any) -> list[str]:
        answer = await api.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return [p["problem_id"] for p in answer.json()["problems"]]

    assert await ids(state=["open"]) == ["p-2"]
    assert await ids(state=["open", "acknowledged"], agency="qy.gov-data") == ["p-1", "p-2"]
    assert await ids(target="2.2.1") == ["p-2"]
    assert await ids(task="2.1.2") == ["p-1"]
    assert await ids(asked="qy.natural-resources") == ["p-1", "p-2"]
    assert await ids(state=["resolved"]) == []
    at = (await api.get(path, params={"at": "2022-04-07T01:30:00Z"})).json()
    assert at["problems"][0]["age_days"] == 1.0 and not at["problems"][0]["overdue"]
    assert (await api.get(path, params={"at": "yesterday"})).status_code == 422
    assert (await api.get(path, params={"agency": "not an id"})).status_code == 422
    assert (await api.get("/v1/plans/nope/problems")).status_code == 404


async def test_one_problem_with_its_history_and_refusals(api: httpx.AsyncClient) -> None:
    detail = (await api.get(f"/v1/plans/{PLAN}/problems/p-2")).json()
    assert detail["state"] == "open" and detail["subject"] == "2.2.1"
    assert [(h["action"], h["refused"]) for h in detail["history"]] == [
        ("raised", None),
        ("closed", "not_raiser"),
    ]
    assert (await api.get(f"/v1/plans/{PLAN}/problems/none")).status_code == 404
    unauthenticated = await api.get(f"/v1/plans/{PLAN}/problems", headers={"authorization": ""})
    assert unauthenticated.status_code == 401


async def test_a_full_history_takes_no_more_entries_but_repeats_still_apply() -> None:
    problems, store, _ = desk()
    comments = [
        event(f"c{i}", ProblemAction.COMMENTED, 1 + i / 100) for i in range(MAX_ENTRIES - 1)
    ]
    await problems.apply([RAISE, *comments], None)
    doc = await store.problem(f"{PLAN}:p-1")
    assert doc is not None and len(doc["history"]) == MAX_ENTRIES
    await problems.apply([event("late", ProblemAction.COMMENTED, 30), RESOLVE, RAISE], None)
    doc = await store.problem(f"{PLAN}:p-1")
    assert doc is not None and len(doc["history"]) == MAX_ENTRIES
    assert doc["state"] == "open" and doc["comments"] == MAX_ENTRIES - 1
