"""The delivery of one pending notification (services/notify/domain/delivery_lifecycle.py), in
memory: each event's next phase and actions, table by table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.domain import delivery_lifecycle as lifecycle
from services.notify.domain.delivery import (
    Outcome,
    OutcomeKind,
    RetryPolicy,
    TransportError,
    classify_error,
    classify_response,
)
from services.notify.domain.delivery_lifecycle import (
    Answered,
    Begin,
    CheckOwner,
    Delivery,
    DeliveryEvent,
    DeliveryOutcome,
    DeliveryPhase,
    End,
    FinishFinal,
    LogRead,
    OwnerChecked,
    Post,
    PutLogEntry,
    ReadLogEntry,
    RecordAttempt,
    UpdatePending,
)
from services.notify.domain.flush_records import FINAL_DEAD, FINAL_DISABLED, PendingNotification
from services.notify.domain.nflog import LogEntry
from tests.unit.notify_fixtures import T0, at, make_alert

ALERT = make_alert("t1")
ENTRY = LogEntry(
    group_key="{}:{}",
    integration="ops/webhook/0",
    firing=frozenset({ALERT.fingerprint}),
    resolved=frozenset(),
    timestamp=at(30),
)
ITEM = PendingNotification(
    id="g:0:ops/webhook/0",
    webhook_id="msg_1",
    group_id="g",
    group_key="{}:{}",
    group_labels={},
    receiver="ops",
    integration="ops/webhook/0",
    reason="first notification",
    alerts=[ALERT],
    record_only=False,
    entry=ENTRY,
    created_at=at(30),
    next_attempt_at=at(30),
)
POLICY = RetryPolicy(max_attempts=3)
NOW = at(30)


def begin(*, known: bool = True, first_try: bool = True, disabled: bool = False) -> Begin:
    return Begin(NOW, integration_known=known, first_try=first_try, disabled=disabled)


def answer(outcome: Outcome, status: int | None = None) -> Answered:
    return Answered(outcome, status, at(31), POLICY, 0.5, elapsed_s=0.25)


def run(item: PendingNotification, *events: DeliveryEvent) -> lifecycle.DeliveryTransition:
    """The last transition after `events`, from a pending `item`."""
    first, *rest = events
    transition = lifecycle.step(Delivery(item), first)
    for event in rest:
        transition = lifecycle.step(transition.state, event)
    return transition


TO_SEND = (begin(), OwnerChecked(owner=True))


@pytest.mark.parametrize(
    ("item", "events", "phase", "actions", "outcome"),
    [
        (
            ITEM.model_copy(update={"final": FINAL_DEAD}),
            [begin()],
            DeliveryPhase.ENDED,
            [FinishFinal(ITEM.model_copy(update={"final": FINAL_DEAD})), End(succeeded=False)],
            DeliveryOutcome.FINISHING,
        ),
        (
            ITEM.model_copy(update={"record_only": True}),
            [begin()],
            DeliveryPhase.ENDED,
            [PutLogEntry(ENTRY), End(succeeded=True)],
            DeliveryOutcome.RECORDED,
        ),
        (
            ITEM,
            [begin()],
            DeliveryPhase.CHECKING_OWNER,
            [CheckOwner()],
            DeliveryOutcome.CHECK_OWNER,
        ),
        (
            ITEM,
            [begin(disabled=True)],
            DeliveryPhase.ENDED,
            [RecordAttempt(0, None, "skipped: disabled"), End(succeeded=False)],
            DeliveryOutcome.SKIPPED_DISABLED,
        ),
        (
            ITEM,
            [begin(first_try=False)],
            DeliveryPhase.CHECKING_LOG,
            [ReadLogEntry()],
            DeliveryOutcome.CHECK_LOG,
        ),
        # Sent and logged before a crash (the pending one not yet removed): not sent again.
        (
            ITEM,
            [begin(first_try=False), LogRead(ENTRY)],
            DeliveryPhase.ENDED,
            [End(succeeded=True)],
            DeliveryOutcome.ALREADY_DELIVERED,
        ),
        # Sent but not logged before a crash: sent again (at least once, same webhook-id).
        (
            ITEM,
            [begin(first_try=False), LogRead(None)],
            DeliveryPhase.CHECKING_OWNER,
            [CheckOwner()],
            DeliveryOutcome.CHECK_OWNER,
        ),
        # The log holds an earlier notification of the group: this one was not sent.
        (
            ITEM,
            [begin(first_try=False), LogRead(ENTRY.model_copy(update={"timestamp": T0}))],
            DeliveryPhase.CHECKING_OWNER,
            [CheckOwner()],
            DeliveryOutcome.CHECK_OWNER,
        ),
        (
            ITEM,
            [begin(first_try=False, disabled=True), LogRead(None)],
            DeliveryPhase.ENDED,
            [RecordAttempt(0, None, "skipped: disabled"), End(succeeded=False)],
            DeliveryOutcome.SKIPPED_DISABLED,
        ),
        # Fenced: never sends; stays pending for the group's new owner.
        (
            ITEM,
            [begin(), OwnerChecked(owner=False)],
            DeliveryPhase.PENDING,
            [],
            DeliveryOutcome.FENCED,
        ),
        (ITEM, [*TO_SEND], DeliveryPhase.SENDING, [Post()], DeliveryOutcome.POSTING),
        (
            ITEM,
            [*TO_SEND, answer(classify_response(200, None, NOW), 200)],
            DeliveryPhase.ENDED,
            # The log entry first: a crash after it cannot make the notification go again.
            [PutLogEntry(ENTRY), RecordAttempt(1, 200, "HTTP 200", elapsed_s=0.25), End(True)],
            DeliveryOutcome.DELIVERED,
        ),
    ],
    ids=[
        "final decided before a crash",
        "record only",
        "first try",
        "disabled",
        "after a restart: read the log",
        "already delivered",
        "sent, not logged",
        "an older entry",
        "disabled after a restart",
        "fenced",
        "owner",
        "delivered",
    ],
)
def test_transitions(
    item: PendingNotification,
    events: list[DeliveryEvent],
    phase: DeliveryPhase,
    actions: list[object],
    outcome: DeliveryOutcome,
) -> None:
    result = run(item, *events)
    assert result.state.phase is phase
    assert list(result.actions) == actions
    assert result.outcome is outcome


def test_an_integration_gone_from_the_routing_file_is_dead_lettered_before_any_attempt() -> None:
    result = run(ITEM, begin(known=False))
    final = ITEM.model_copy(
        update={"final": FINAL_DEAD, "final_reason": lifecycle.UNKNOWN_INTEGRATION}
    )
    assert result.actions == (UpdatePending(final), FinishFinal(final), End(succeeded=False))
    assert result.outcome is DeliveryOutcome.UNKNOWN_INTEGRATION


def test_a_retryable_failure_waits_the_backoff_and_keeps_its_budget() -> None:
    result = run(ITEM, *TO_SEND, answer(classify_response(503, None, NOW), 503))
    retry = ITEM.model_copy(
        update={
            "attempts": 1,
            "first_attempt_at": NOW,
            "next_attempt_at": at(31) + timedelta(seconds=2.5),  # 0.5 × 5 s
            "last_reason": "HTTP 503",
        }
    )
    assert result.actions == (
        RecordAttempt(1, 503, "HTTP 503", "retry", elapsed_s=0.25),
        UpdatePending(retry),
    )
    assert result.state == Delivery(retry, DeliveryPhase.PENDING)
    assert result.outcome is DeliveryOutcome.RETRY
    # The next attempt keeps the first attempt's instant (the max_age budget).
    later = run(
        retry, begin(), OwnerChecked(owner=True), answer(classify_error(TransportError.TIMEOUT))
    )
    update = next(a for a in later.actions if isinstance(a, UpdatePending))
    assert update.item.first_attempt_at == NOW and update.item.attempts == 2


@pytest.mark.parametrize(
    ("outcome", "final", "expected", "reason"),
    [
        (
            classify_response(400, None, NOW),
            FINAL_DEAD,
            DeliveryOutcome.DEAD_LETTERED,
            "permanent failure: HTTP 400: the request was refused",
        ),
        (
            classify_response(410, None, NOW),
            FINAL_DISABLED,
            DeliveryOutcome.DISABLED,
            "HTTP 410 Gone: the endpoint is disabled",
        ),
    ],
    ids=["refused", "gone"],
)
def test_a_permanent_ending_is_marked_before_it_is_carried_out(
    outcome: Outcome, final: str, expected: DeliveryOutcome, reason: str
) -> None:
    result = run(ITEM, *TO_SEND, answer(outcome, 400))
    record, mark, finish, end = result.actions
    assert isinstance(record, RecordAttempt) and record.number == 1
    assert isinstance(finish, FinishFinal)
    assert mark == UpdatePending(finish.item)
    assert finish.item.final == final and finish.item.final_reason == reason
    assert finish.item.attempts == 1 and finish.item.first_attempt_at == NOW
    assert end == End(succeeded=False)
    assert result.outcome is expected and result.state.phase is DeliveryPhase.ENDED


def test_a_spent_budget_ends_in_a_dead_letter() -> None:
    tired = ITEM.model_copy(update={"attempts": 2, "first_attempt_at": T0})
    result = run(tired, *TO_SEND, answer(Outcome(OutcomeKind.RETRY, "HTTP 500"), 500))
    finish = next(a for a in result.actions if isinstance(a, FinishFinal))
    assert finish.item.final == FINAL_DEAD
    assert finish.item.final_reason == "gave up after 3 attempts; last: HTTP 500"
    assert result.outcome is DeliveryOutcome.DEAD_LETTERED


@pytest.mark.parametrize(
    ("phase", "event"),
    [
        (DeliveryPhase.PENDING, LogRead(None)),
        (DeliveryPhase.PENDING, OwnerChecked(owner=True)),
        (DeliveryPhase.CHECKING_OWNER, answer(classify_response(200, None, NOW))),
        (DeliveryPhase.SENDING, begin()),
        (DeliveryPhase.ENDED, begin()),
    ],
)
def test_an_event_out_of_its_phase_is_refused(phase: DeliveryPhase, event: DeliveryEvent) -> None:
    with pytest.raises(ValueError, match="phase"):
        lifecycle.step(Delivery(ITEM, phase), event)
